"""The CLI contract: every DESIGN.md command is listed and documented; bad input exits non-zero with one clear line."""

from __future__ import annotations

import json
import subprocess
import sys


from tracker.cli import cli

DESIGN_COMMANDS = ["init", "sources", "crawl", "annotate", "reprocess", "search", "serve", "digest", "run", "schedule", "status"]


def test_help_lists_design_commands_each_with_help():
    out = subprocess.run([sys.executable, "-m", "tracker", "--help"], capture_output=True, text=True, check=True).stdout
    for name in DESIGN_COMMANDS:
        assert f"  {name}" in out
        assert cli.get_command(None, name).help, f"{name} has no help text"
    assert cli.commands["digest"].commands.keys() >= {"preview", "send"}


def test_init_is_idempotent(env):
    env.configure({})
    first = env.run("init")
    assert first.exit_code == 0 and "created" in first.output
    second = env.run("init")
    assert second.exit_code == 0 and "up to date" in second.output
    assert env.db()["_migrations"].count >= 1


def test_sources_lists_ids_and_base_urls(env):
    env.configure({"federal-register": {"base_url": "http://127.0.0.1:1/api/v1"}})
    result = env.run("sources", "--json")
    rows = {r["id"]: r for r in json.loads(result.output)}
    from crawler.registry import SOURCES

    assert set(rows) == set(SOURCES)
    assert rows["federal-register"]["base_url"] == "http://127.0.0.1:1/api/v1" and rows["federal-register"]["enabled"]
    assert rows["gdelt"]["enabled"] is False


def test_unknown_source_id(env):
    env.configure({})
    result = env.run("crawl", "no-such-source")
    assert result.exit_code == 2 and "unknown source 'no-such-source'" in result.output


def test_bad_date(env):
    env.configure({})
    result = env.run("crawl", "federal-register", "--since", "last tuesday")
    assert result.exit_code == 2 and "--since" in result.output


def test_invalid_config_exits_2_with_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\ntimeout_s = 'x'\n")
    proc = subprocess.run([sys.executable, "-m", "tracker", "--config", str(bad), "sources"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith("http.timeout_s: expected a number, got 'x'")


def test_missing_database_directory(env, tmp_path):
    env.configure({})
    result = env.run("--db", str(tmp_path / "nope" / "t.db"), "init")
    assert result.exit_code == 2 and "database directory does not exist" in result.output


def test_commands_needing_a_database_say_so(env):
    env.configure({})
    result = env.run("search", "LOGINK")
    assert result.exit_code == 2 and "tracker init" in result.output


def test_not_a_database(env, tmp_path):
    env.configure({})
    env.db_path.write_bytes(b"this is not sqlite" * 100)
    result = env.run("status")
    assert result.exit_code == 2 and "cannot open database" in result.output


def test_annotate_bad_jsonl_line_is_reported(env):
    env.configure({})
    result = env.run("annotate", "--jsonl", "-", input='{"id": "a", "text": "LOGINK is a platform."}\nnot json\n')
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["id"] == "a" and lines[1]["error"] and lines[1]["line"] == 2


def test_annotate_missing_file(env):
    env.configure({})
    result = env.run("annotate", "/no/such/file.txt")
    assert result.exit_code == 2 and "cannot read" in result.output


def test_crawl_and_run_json_shapes(env, replay):
    from tests.test_federal_register import configure, serve_fr

    serve_fr(replay)
    configure(env, replay)
    crawl = env.run("crawl", "federal-register", "--no-nlp", "--json")
    assert crawl.exit_code == 0, crawl.output
    report = json.loads(crawl.stdout)  # stdout is JSON alone: the summary lines go to stderr
    assert set(report) == {"sources", "offline", "nlp", "ok"} and report["ok"] is True and report["nlp"] is None
    (run,) = report["sources"]
    assert set(run) == {"source", "run_id", "status", "counts", "message"}
    assert (run["source"], run["status"], run["counts"]["new"], run["counts"]["deferred"]) == ("federal-register", "ok", 3, 0)
    assert set(run["counts"]) == {"fetched", "new", "updated", "unchanged", "errors", "requests", "deferred"}

    tick = env.run("run", "--no-nlp", "--no-digest", "--json", "--now", "2026-11-28T09:30:00+00:00")
    assert tick.exit_code == 0, tick.output
    (line,) = tick.stdout.splitlines()  # one JSON object per tick, on one line
    obj = json.loads(line)
    assert set(obj) == {"now", "ran", "lock_held", "sources", "nlp", "digests", "errors", "failed"}
    assert obj["now"] == "2026-11-28T09:30:00+00:00" and obj["ran"] is True and obj["failed"] is False
    assert [s["source"] for s in obj["sources"]] == ["federal-register"] and obj["sources"][0]["counts"]["unchanged"] == 3


def test_status_and_sources_json_on_an_empty_database(env):
    env.configure({"federal-register": {"base_url": "http://127.0.0.1:9/api/v1"}})
    assert json.loads(env.run("init", "--json").output)["state"] == "created"
    (row,) = json.loads(env.run("status", "--json").output)
    assert row["source"] == "federal-register" and row["health"] == "never" and row["last_run"] is None
    assert {r["id"] for r in json.loads(env.run("sources", "--json").output) if r["enabled"]} == {"federal-register"}
