"""Source health: stale by age, stale by silence (zero results), failing, degraded; `tracker status` exit codes;
the front end's view, `tracker status` and `tracker sources` read one judgement."""

from __future__ import annotations

import datetime as dt
import json

from db import clock, writes
from db import health as health_module
from db.schema import connect, ensure_schema
from tests.test_federal_register import serve_fr
from tracker.config import load_config
from tracker.crawl import source_rows
from tracker.health import source_health

COUNTS = {"fetched": 0, "new": 0, "updated": 0, "unchanged": 0, "errors": 0, "requests": 1}


def setup(env, **fr_keys):
    env.configure({"federal-register": {"interval": "1d", **fr_keys}, "ec-press": {"interval": "6h"}})
    db = connect(env.db_path)
    ensure_schema(db)
    writes.register_sources(db, [{"id": "federal-register", "title": "FR", "interval": "1d", "enabled": 1},
                                 {"id": "ec-press", "title": "EC", "interval": "6h", "enabled": 1}])
    return db, load_config(str(env.config_path))


def run(db, source: str, status: str = "ok", fetched: int = 0, unchanged: int = 0, message: str | None = None) -> None:
    run_id = writes.start_run(db, source)
    writes.finish_run(db, run_id, source, status, {**COUNTS, "fetched": fetched, "unchanged": unchanged}, message, None, {})


def health(db, config, now=None) -> dict[str, dict]:
    return {r["source"]: r for r in source_health(db, config, now)}


def view(db) -> dict[str, dict]:
    return {r["source"]: r for r in db["source_health"].rows}


def test_states_and_reasons(env):
    db, config = setup(env)
    rows = health(db, config)
    assert rows["federal-register"]["health"] == "never" and rows["ec-press"]["health"] == "never"
    assert set(rows) == {"federal-register", "ec-press"}  # disabled sources are not judged

    run(db, "federal-register", fetched=3)
    run(db, "ec-press", "failed", message="HTTP 500 from upstream")
    rows = health(db, config)
    assert rows["federal-register"]["health"] == "ok" and rows["federal-register"]["last_run"]["fetched"] == 3
    assert rows["ec-press"]["health"] == "failing" and "HTTP 500" in rows["ec-press"]["reason"]

    later = clock.now() + dt.timedelta(days=3, hours=1)
    stale = health(db, config, later)["federal-register"]
    assert stale["health"] == "stale" and "no successful run for 3.0 days" in stale["reason"]
    assert health(db, config, clock.now() + dt.timedelta(days=2, hours=23))["federal-register"]["health"] == "ok"

    run(db, "ec-press", "partial", fetched=2, message="1 item(s) failed; first: x: HTTP 404")
    assert health(db, config)["ec-press"]["health"] == "degraded"
    run(db, "ec-press", "blocked", message="challenge page")
    assert health(db, config)["ec-press"]["reason"].startswith("blocked: challenge page")


def test_zero_results_where_results_are_expected(env):
    db, config = setup(env)
    run(db, "federal-register", fetched=0)
    first = health(db, config)["federal-register"]
    assert first["health"] == "stale" and first["reason"] == "no successful run has returned any item"

    run(db, "federal-register", fetched=5)
    run(db, "federal-register", unchanged=2)  # saw known items: not silence
    run(db, "federal-register")
    run(db, "federal-register")
    assert health(db, config)["federal-register"]["health"] == "ok"  # two silent runs are tolerated
    run(db, "federal-register")
    silent = health(db, config)["federal-register"]
    assert silent["health"] == "stale" and silent["reason"] == "the last 3 successful runs returned nothing"
    # the view (analyst front end) applies the same rules
    assert view(db)["federal-register"]["health"] == "stale"
    assert view(db)["federal-register"]["reason"] == "the last 3 successful runs returned nothing"
    assert view(db)["federal-register"]["last_run_fetched"] == 0 and view(db)["federal-register"]["items_ever"] == 7


def test_source_can_opt_out_of_the_zero_rule(env):
    db, config = setup(env, expect_results=False)
    run(db, "federal-register")
    assert health(db, config)["federal-register"]["health"] == "ok"


def test_view_and_python_agree(env):
    """The front end's view, `tracker status` and the Python rows are one judgement, on the product clock,
    expect_results included (the old view ignored it, had no reason for staleness and read SQLite's clock)."""
    env.configure({"federal-register": {"interval": "1d", "expect_results": False}, "ec-press": {"interval": "6h"},
                   "govinfo": {"interval": "1d"}})
    config = load_config(str(env.config_path))
    db = connect(env.db_path)
    ensure_schema(db)
    writes.register_sources(db, source_rows(config))
    run(db, "federal-register")  # nothing returned, but the source says that is normal
    run(db, "ec-press", "failed", message="boom")
    run(db, "govinfo", fetched=2)

    def agree(now=None) -> dict[str, dict]:
        py, sql = health(db, config, now), view(db)
        for sid in ("federal-register", "ec-press", "govinfo"):
            assert (py[sid]["health"], py[sid]["reason"]) == (sql[sid]["health"], sql[sid]["reason"]), sid
            assert py[sid]["last_success_at"] == sql[sid]["last_success_at"]
            assert py[sid]["age_hours"] == sql[sid]["hours_since_success"]
        return py

    rows = agree()
    assert rows["federal-register"]["health"] == "ok" and rows["ec-press"]["health"] == "failing"
    assert rows["govinfo"]["age_hours"] == 0.0 and view(db)["govinfo"]["runs_7d"] == 1
    status = {r["source"]: r for r in json.loads(env.run("status", "--json").output)}
    assert {s: r["health"] for s, r in status.items()} == {s: r["health"] for s, r in rows.items()}

    later = clock.now() + dt.timedelta(days=3, hours=1)
    with clock.frozen(later):
        health_module.refresh(db)  # what every tick does
    rows = agree(later)
    assert rows["govinfo"]["health"] == "stale" and rows["govinfo"]["reason"].startswith("no successful run for 3.0 days")
    assert view(db)["govinfo"]["checked_at"] == clock.iso(later)


def test_status_command_exit_codes(env, replay):
    serve_fr(replay)
    env.configure({"federal-register": {"base_url": replay.url("/api/v1")}},
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]')
    assert env.run("crawl", "federal-register", "--no-nlp").exit_code == 0
    ok = env.run("status")
    assert ok.exit_code == 0, ok.output
    assert "federal-register  ok" in ok.output and "fetched 3, new 3" in ok.output
    stale = env.run("status", "--json", "--now", (clock.now() + dt.timedelta(days=4)).isoformat())
    assert stale.exit_code == 1
    assert json.loads(stale.output)[0]["health"] == "stale"


def test_first_crawl_with_zero_results_is_flagged(env, replay):
    serve_fr(replay)
    env.configure({"federal-register": {"base_url": replay.url("/api/v1")}},
                  extra='[topics.other]\nentities = ["org:none"]\nterms = ["NOTHING-MATCHES"]')
    assert env.run("crawl", "federal-register", "--no-nlp").exit_code == 0  # the crawl itself is fine...
    result = env.run("status")
    assert result.exit_code == 1  # ...but a source that never returns anything is not
    assert "stale" in result.output and "no successful run has returned any item" in result.output


def test_sources_command_shows_the_same_health(env, replay):
    serve_fr(replay)
    env.configure({"federal-register": {"base_url": replay.url("/api/v1")}},
                  extra='[topics.other]\nentities = ["org:none"]\nterms = ["NOTHING-MATCHES"]')
    assert env.run("crawl", "federal-register", "--no-nlp").exit_code == 0
    listed = {r["id"]: r for r in json.loads(env.run("sources", "--json").output)}
    status = {r["source"]: r for r in json.loads(env.run("status", "--json").output)}
    assert listed["federal-register"]["health"] == status["federal-register"]["health"] == "stale"
    assert listed["federal-register"]["last_success_at"] == status["federal-register"]["last_success_at"]
    assert listed["gdelt"]["health"] == "disabled"
