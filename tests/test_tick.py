"""The scheduled tick: only what is due runs (time injected, never slept), the lock, the scheduler output."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from db import clock
from db.schema import connect
from tests.test_digest import add_document
from tests.test_federal_register import LISTING, serve_fr
from tracker.tick import TickLock

SUBSCRIBER = '[[digest.subscribers]]\nemail = "analyst@example.org"\ntopics = ["logink"]\n'


def configure(env, replay, smtp_port: int, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp_port}")
    env.configure({"federal-register": {"base_url": replay.url("/api/v1"), "interval": "1d"}}, extra=(
        '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n'
        '[digest]\nschedule = "mon 07:00"\ntimezone = "Europe/Brussels"\nsmtp_url_env = "TEST_SMTP_URL"\n'
        'from = "Tracker <tracker@example.org>"\n' + SUBSCRIBER))


def seed_mention(env, source_id: str, sentence: str) -> None:
    db = env.db()
    from db.schema import ensure_schema

    ensure_schema(db)
    db.execute("insert or ignore into sources (id, title) values ('federal-register', 'Federal Register')")
    db.execute("insert or ignore into entities (id, name, type) values ('platform:logink', 'LOGINK', 'PLATFORM')")
    add_document(db, "federal-register", source_id, f"Seeded {source_id}", [{"sentence": sentence, "stance": "critical"}])


def listing_hits(replay) -> int:
    return sum(1 for r in replay.requests if r.path == LISTING)


def iso(t: dt.datetime) -> str:
    return t.isoformat()


# The tick's clock is injected (`--now`): a fixed Thursday morning, so the suite means the same on any date and
# at any time of day (the digest schedule is "mon 07:00" Europe/Brussels).
T0 = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone.utc)


def test_tick_runs_only_what_is_due(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    configure(env, replay, smtp.port, monkeypatch)
    seed_mention(env, "seed-1", "LOGINK is a risk to port data.")
    t0 = T0

    first = env.run("run", "--no-nlp", "--now", iso(t0))
    assert first.exit_code == 0, first.output
    assert "federal-register: ok (new 3" in first.output
    assert listing_hits(replay) > 0
    assert len(smtp.messages) == 1 and smtp.messages[0]["Subject"].startswith("LOGINK: 1 new mention (1 critical)")

    hits = listing_hits(replay)
    later = env.run("run", "--no-nlp", "--now", iso(t0 + dt.timedelta(hours=1)))
    assert later.exit_code == 0, later.output
    assert "crawl: no source is due" in later.output and "digest: none due" in later.output
    assert listing_hits(replay) == hits and len(smtp.messages) == 1

    next_day = env.run("run", "--no-nlp", "--now", iso(t0 + dt.timedelta(hours=25)))
    assert "federal-register: ok" in next_day.output and listing_hits(replay) > hits
    assert len(smtp.messages) == 1  # Monday has not come yet

    seed_mention(env, "seed-2", "LOGINK again, in a new notice.")
    local = t0.astimezone(dt.timezone(dt.timedelta(hours=1)))  # Brussels is UTC+1 in winter
    monday = (local + dt.timedelta(days=(7 - local.weekday()) % 7 or 7)).replace(hour=7, minute=0, second=0)
    before = env.run("run", "--no-nlp", "--no-digest", "--now", iso(monday - dt.timedelta(minutes=1)))
    assert before.exit_code == 0
    due = env.run("run", "--no-nlp", "--now", iso(monday + dt.timedelta(minutes=1)))
    assert due.exit_code == 0, due.output
    assert len(smtp.messages) == 2
    body = smtp.messages[1].get_body(("plain",)).get_content()
    assert "LOGINK again, in a new notice" in body.replace("»", "").replace("«", "") and "risk to port data" not in body
    again = env.run("run", "--no-nlp", "--now", iso(monday + dt.timedelta(minutes=16)))
    assert "digest: none due" in again.output and len(smtp.messages) == 2
    ticks = list(env.db()["ticks"].rows)
    assert len(ticks) == 6 and all(t["status"] == "ok" and t["finished_at"] for t in ticks)


def test_failed_delivery_is_retried_by_the_next_tick(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    configure(env, replay, smtp.port, monkeypatch)
    seed_mention(env, "seed-1", "LOGINK is a risk to port data.")
    t0 = T0
    smtp.refuse = True
    first = env.run("run", "--no-nlp", "--now", iso(t0))
    assert first.exit_code == 1 and "554" in first.output
    assert [r["status"] for r in env.db()["digests"].rows] == ["failed"]
    smtp.refuse = False
    second = env.run("run", "--no-nlp", "--now", iso(t0 + dt.timedelta(minutes=15)))
    assert second.exit_code == 0, second.output
    assert len(smtp.messages) == 1 and env.db()["digest_items"].count == 1


def test_empty_digest_is_skipped_once_per_slot(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    configure(env, replay, smtp.port, monkeypatch)
    t0 = T0
    env.run("run", "--no-nlp", "--now", iso(t0))
    assert smtp.messages == []
    rows = list(env.db()["digests"].rows)
    assert [r["status"] for r in rows] == ["skipped"]
    out = env.run("run", "--no-nlp", "--now", iso(t0 + dt.timedelta(minutes=15)))
    assert "digest: none due" in out.output


def test_second_tick_exits_cleanly_while_the_lock_is_held(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    configure(env, replay, smtp.port, monkeypatch)
    env.run("init")
    with TickLock(env.db_path) as lock:
        lock.try_acquire()
        result = env.run("run", "--no-nlp")
        assert result.exit_code == 0, result.output
        assert "another tick is running (pid" in result.output and "nothing done" in result.output
    assert listing_hits(replay) == 0 and env.db()["ticks"].count == 0
    assert env.db()["locks"].count == 0  # released


def test_waiting_tick_runs_once_the_holder_finishes(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    configure(env, replay, smtp.port, monkeypatch)
    env.run("init")
    lock = TickLock(env.db_path)
    lock.try_acquire()
    threading.Timer(0.3, lock.release).start()
    result = env.run("run", "--no-nlp", "--wait", "10")
    assert result.exit_code == 0, result.output
    assert "federal-register: ok" in result.output and env.db()["ticks"].count == 1


HOLDER = """
import sys, time
from tracker.tick import TickLock
lock = TickLock(sys.argv[1]); lock.try_acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_held_by_another_process_then_recovered_after_it_dies(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    configure(env, replay, smtp.port, monkeypatch)
    env.run("init")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(env.db_path)], stdout=subprocess.PIPE, text=True,
                              cwd=os.getcwd())
    try:
        assert holder.stdout.readline().strip() == "locked"
        busy = env.run("run", "--no-nlp")
        assert busy.exit_code == 0 and f"pid {holder.pid}" in busy.output and "nothing done" in busy.output
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its lock is stale (dead pid on this host) and is taken over
    assert env.db()["locks"].count == 1
    recovered = env.run("run", "--no-nlp")
    assert recovered.exit_code == 0, recovered.output
    assert f"recovered a stale lock of pid {holder.pid}" in recovered.output and "federal-register: ok" in recovered.output


def test_lock_with_an_old_heartbeat_is_stale(env):
    env.configure({})
    env.run("init")
    db = connect(env.db_path)
    old = (clock.now() - dt.timedelta(hours=1)).replace(microsecond=0).isoformat()
    db["locks"].insert({"name": "tick", "pid": os.getpid(), "host": "elsewhere", "token": "t", "acquired_at": old,
                        "heartbeat_at": old})
    lock = TickLock(env.db_path)
    lock.try_acquire()
    try:
        assert lock.recovered["host"] == "elsewhere"
        assert db["locks"].get("tick")["token"] == lock.token
    finally:
        lock.release()


def test_heartbeat_keeps_the_lock_fresh(env):
    env.configure({})
    env.run("init")
    lock = TickLock(env.db_path, heartbeat=0.05)
    db = connect(env.db_path)
    old = "2000-01-01T00:00:00+00:00"
    lock.try_acquire()
    try:
        db.execute("update locks set heartbeat_at = ? where name = 'tick'", [old])
        deadline = time.monotonic() + 5
        while db["locks"].get("tick")["heartbeat_at"] == old and time.monotonic() < deadline:
            time.sleep(0.02)
        assert db["locks"].get("tick")["heartbeat_at"] != old
    finally:
        lock.release()


def test_loop_runs_several_ticks(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    configure(env, replay, smtp.port, monkeypatch)
    started = time.monotonic()
    result = env.run("run", "--loop", "--every", "15m", "--ticks", "3", "--no-nlp", "--no-digest", "--now", iso(T0))
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60  # with --now the loop's time is simulated, not slept
    ticks = [clock.aware(row["now"]) for row in env.db()["ticks"].rows_where(order_by="id")]
    assert ticks == [T0, T0 + dt.timedelta(minutes=15), T0 + dt.timedelta(minutes=30)]
    assert result.output.count("federal-register: ok") == 1


def test_loop_interval_below_a_minute_is_refused(env):
    env.configure({})
    result = env.run("run", "--loop", "--every", "0s", "--ticks", "2", "--no-nlp", "--no-digest")
    assert result.exit_code == 2 and "--every: at least 1m, got '0s'" in result.output


def test_schedule_cron(env):
    env.configure({})
    result = env.run("--db", str(env.db_path), "schedule", "--cron")
    assert result.exit_code == 0, result.output
    line = [l for l in result.output.splitlines() if not l.startswith("#")][0]
    assert line.startswith("*/15 * * * * ")
    assert f"--config {env.config_path.resolve()}" in line and f"--db {env.db_path.resolve()}" in line and " run >> " in line
    exe = line.split("; ", 1)[1].split()[0]
    assert os.path.isabs(exe) and os.access(exe, os.X_OK)
    assert env.run("schedule", "--cron", "--every", "7m").exit_code == 2


def test_schedule_finds_the_console_script_beside_the_interpreter_when_not_on_path(env, tmp_path):
    # `python -m tracker` (or a venv not on PATH) used to fail: "cannot find the `tracker` executable"
    env.configure({})
    script = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "tracker")
    if not os.access(script, os.X_OK):
        pytest.skip("no tracker console script beside the interpreter")
    result = subprocess.run([sys.executable, "-m", "tracker", "--config", str(env.config_path), "schedule", "--cron"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    line = [l for l in result.stdout.splitlines() if not l.startswith("#")][0]
    assert line.split("; ", 1)[1].split()[0] == script


def test_scheduler_output_escapes_percent_in_paths(env, tmp_path):
    # "%h" in a directory name was left as a systemd specifier (the home directory) in WorkingDirectory=,
    # and as a newline in the crontab line
    env.configure({})
    odd = tmp_path / "data %h"
    odd.mkdir()
    result = env.run("--db", str(odd / "tracker.db"), "schedule", "--systemd")
    assert result.exit_code == 0, result.output
    assert f"WorkingDirectory={odd.resolve()}".replace("%", "%%") + "\n" in result.output
    assert f"EnvironmentFile=-{odd.resolve() / 'tracker.env'}".replace("%", "%%") + "\n" in result.output
    assert "%%h/tracker.db" in next(l for l in result.output.splitlines() if l.startswith("ExecStart="))
    cron = env.run("--db", str(odd / "tracker.db"), "schedule", "--cron").output.splitlines()[-1]
    assert "%" not in cron.replace("\\%", "") and "data \\%h/tracker.db" in cron  # cron turns a bare % into a newline


def test_schedule_systemd_units(env, tmp_path):
    env.configure({})
    out = tmp_path / "units"
    out.mkdir()  # an existing directory: a missing one is refused (tests/test_guards.py)
    result = env.run("schedule", "--systemd", "--write", str(out))
    assert result.exit_code == 0, result.output
    service = (out / "policy-tracker.service").read_text()
    timer = (out / "policy-tracker.timer").read_text()
    assert "[Service]\nType=oneshot\n" in service
    exec_start = next(l for l in service.splitlines() if l.startswith("ExecStart="))
    exe = exec_start.split("=", 1)[1].split()[0]
    assert os.path.isabs(exe) and os.access(exe, os.X_OK)
    assert f"--config {env.config_path.resolve()}" in exec_start and exec_start.endswith(" run")
    assert "[Timer]\nOnCalendar=*:0/15\nPersistent=true\n" in timer and "[Install]\nWantedBy=timers.target" in timer
    printed = env.run("schedule", "--systemd")
    assert "# ---- policy-tracker.service ----" in printed.output and service in printed.output
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed: unit text checked, not verified")
    check = subprocess.run(["systemd-analyze", "verify", str(out / "policy-tracker.service"), str(out / "policy-tracker.timer")],
                           capture_output=True, text=True, timeout=60)
    problems = [l for l in (check.stdout + check.stderr).splitlines() if "policy-tracker" in l]
    assert check.returncode == 0 and not problems, check.stdout + check.stderr


def test_tick_reannotates_after_a_model_upgrade(env):
    """A document annotated by another model version (hash unchanged) is pending for `tracker run` exactly as
    for `tracker reprocess`: one rule (db.annotations). The tick used to look at the content hash only."""
    env.configure({}, extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n')
    seed_mention(env, "seed-1", "LOGINK is a risk to port data.")  # stored as annotated by "test-model"
    db = env.db()
    assert db.execute("select nlp_hash = content_hash, nlp_version from documents").fetchone() == (1, "test-model")

    first = env.run("run", "--no-digest")
    assert first.exit_code == 0, first.output
    assert "nlp: 1 documents annotated" in first.output
    version = env.db().execute("select nlp_version from documents").fetchone()[0]
    assert version != "test-model" and version.startswith("gaz-")
    again = env.run("run", "--no-digest")
    assert "nlp:" not in again.output  # nothing pending any more


# -- recovery (issue 14 item 10): retry back-off, deferrals ------------------------------------------------

def test_failed_source_is_retried_with_backoff_not_after_its_interval(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    down = {"on": True}
    replay.add(LISTING, b"Service Unavailable", status=503, when=lambda _r: down["on"])  # a short outage
    configure(env, replay, smtp.port, monkeypatch)  # interval 1d, retry_backoff the default 15m

    def tick(minutes: float) -> str:
        return env.run("run", "--no-nlp", "--no-digest", "--now", iso(T0 + dt.timedelta(minutes=minutes))).output

    assert "federal-register: failed" in tick(0)
    assert "crawl: no source is due" in tick(10)
    assert "federal-register: failed" in tick(15)  # 15 min after the failed run, not a day
    assert "crawl: no source is due" in tick(15 + 25)  # the second failure doubles the wait: 30 min
    assert "federal-register: failed" in tick(15 + 30)
    assert "crawl: no source is due" in tick(45 + 55)  # 1 h now
    down["on"] = False
    assert "federal-register: ok (new 3" in tick(45 + 60)
    assert "crawl: no source is due" in tick(105 + 16)  # healthy again: back to its interval
    assert "crawl: no source is due" in tick(105 + 23 * 60)
    assert "federal-register: ok" in tick(105 + 24 * 60)


def test_retry_wait_doubles_and_is_capped_at_the_interval():
    from tracker.tick import wait_before_run

    waits = [wait_before_run(7200, 900, failures) for failures in range(6)]
    assert waits == [7200, 900, 1800, 3600, 7200, 7200]
    assert wait_before_run(86400, 600, 40) == 86400


def test_retry_backoff_is_configuration(env, replay, smtp, monkeypatch):
    serve_fr(replay)
    replay.add(LISTING, b"Service Unavailable", status=503)
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    env.configure({"federal-register": {"base_url": replay.url("/api/v1"), "interval": "1d", "retry_backoff": "2h"}})
    assert "federal-register: failed" in env.run("run", "--no-nlp", "--no-digest", "--now", iso(T0)).output
    later = T0 + dt.timedelta(minutes=90)
    assert "crawl: no source is due" in env.run("run", "--no-nlp", "--no-digest", "--now", iso(later)).output
    retry = T0 + dt.timedelta(hours=2)
    assert "federal-register: failed" in env.run("run", "--no-nlp", "--no-digest", "--now", iso(retry)).output


def test_not_ready_item_is_deferred_retried_and_an_alert_only_after_days(env, replay):
    from tests.test_eurlex import CONTENT, configure as configure_eurlex, serve_cellar

    serve_cellar(replay)
    pending = {"on": True}
    replay.add(CONTENT + "32019R0452", b"", status=202, content_type="text/html", when=lambda _r: pending["on"])
    configure_eurlex(env, replay)

    def tick(days: float):
        return env.run("run", "--no-nlp", "--no-digest", "--now", iso(T0 + dt.timedelta(days=days)))

    def health(days: float) -> dict:
        result = env.run("status", "--json", "--now", iso(T0 + dt.timedelta(days=days)))
        return next(r for r in json.loads(result.output) if r["source"] == "eurlex")

    first = tick(0)
    assert first.exit_code == 0, first.output  # a deferral is not a failure
    assert "eurlex: ok (new 3, updated 0, unchanged 0, errors 0, deferred 1): 1 item(s) deferred" in first.output
    db = env.db()
    run = db.execute("select status, deferred, errors from crawl_runs order by id desc limit 1").fetchone()
    assert run == ("ok", 1, 0)
    assert (db["sources"].get("eurlex")["watermark"] or "") < "2024-11-05T17:02:11.004Z"  # not past the deferred work
    (row,) = db["deferred_items"].rows
    assert (row["item"], row["attempts"], clock.aware(row["first_deferred_at"])) == ("32019R0452", 1, T0)
    assert health(1)["health"] == "ok"

    assert "deferred 1" in tick(1).output and "deferred 1" in tick(2).output  # retried on every run
    (row,) = env.db()["deferred_items"].rows
    assert row["attempts"] == 3 and clock.aware(row["first_deferred_at"]) == T0
    assert health(2.9)["health"] == "ok"
    alert = health(3.1)
    assert alert["health"] == "degraded" and alert["reason"] == "1 item(s) not ready upstream for 3.1 days (retried on every run)"

    pending["on"] = False  # the rendition is ready at last
    ready = tick(4)
    summary = next(line for line in ready.output.splitlines() if line.startswith("eurlex: "))
    assert ready.exit_code == 0 and summary.startswith("eurlex: ok (new 1, updated 0") and "deferred" not in summary
    db = env.db()
    assert "Article 4" in next(db["documents"].rows_where("source_id = ?", ["32019R0452"]))["text"]
    assert db["sources"].get("eurlex")["watermark"] == "2024-11-05T17:02:11.004Z"
    assert db["deferred_items"].count == 0 and health(4.1)["health"] == "ok"
