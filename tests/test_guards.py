"""Guards (issues 14 and 16): a damaged, newer or read-only database and bad input each give one line
and a non-zero exit with nothing written; every argument is checked; `tracker --help` stays light."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from db import clock
from db.schema import MIGRATIONS, SCHEMA_VERSION
from tests.test_digest import add_document


def error_line(result) -> str:
    """The single line a refused command printed (click's "Error: ..."); fails on a traceback or several lines."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    return lines[0]


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def contents(path: Path) -> str:
    """What the database holds (schema, rows, user_version), whichever file SQLite keeps it in."""
    conn = sqlite3.connect(path)
    try:
        return f"{conn.execute('pragma user_version').fetchone()[0]}\n" + "\n".join(conn.iterdump())
    finally:
        conn.close()


def seeded(env) -> Path:
    """An initialised database with one document mentioning LOGINK, checkpointed into the main file."""
    env.configure({"federal-register": {"base_url": "http://127.0.0.1:9/api/v1"}})
    assert env.run("init").exit_code == 0
    db = env.db()
    db.execute("insert or ignore into entities (id, name, type) values ('platform:logink', 'LOGINK', 'PLATFORM')")
    add_document(db, "federal-register", "doc-1", "LOGINK notice", [{"sentence": "LOGINK is a risk to port data.", "stance": "critical"}])
    db.execute("pragma wal_checkpoint(truncate)")
    db.conn.close()
    return env.db_path


def clobber_page(path: Path, table: str) -> None:
    """Overwrite the root b-tree page of ``table`` with garbage (a disk fault in the middle of the file)."""
    conn = sqlite3.connect(path)
    root, size = conn.execute("select rootpage from sqlite_master where name = ?", [table]).fetchone()[0], \
        conn.execute("pragma page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as handle:
        handle.seek((root - 1) * size)
        handle.write(b"\xfe" * 200)


# -- item 8: corrupted, truncated, newer, read-only ---------------------------------------------------

WRITERS = [("init",), ("crawl", "federal-register", "--no-nlp"), ("run", "--no-nlp", "--no-digest"), ("reprocess",)]


@pytest.mark.parametrize("args", [("status",), *WRITERS], ids=lambda a: a[0])
def test_corrupted_database_is_reported_and_never_written(env, args):
    path = seeded(env)
    clobber_page(path, "crawl_runs")  # a table none of these commands needs before it writes
    before = digest_of(path)
    line = error_line(env.run(*args))
    assert "corrupted" in line and str(path) in line and "nothing was written" in line
    assert digest_of(path) == before


def test_truncated_database_is_refused_by_the_header_check(env):
    path = seeded(env)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in error_line(env.run("status"))
    path.write_bytes(data[: len(data) // 2 + 100])
    assert "not a whole number of 4096-byte pages" in error_line(env.run("search", "LOGINK"))


@pytest.mark.parametrize("table", ["documents", "documents_fts_data"])
def test_search_on_a_corrupted_file_is_one_line(env, table):
    path = seeded(env)
    assert "LOGINK notice" in env.run("search", "LOGINK").output
    clobber_page(path, table)
    line = error_line(env.run("search", "LOGINK"))
    assert line.startswith(f"Error: cannot search {path}: ") and "check it with `tracker status`" in line
    assert "corrupted" in error_line(env.run("status"))


@pytest.mark.parametrize("newer", ["migration", "user_version"])
def test_database_from_a_newer_schema_is_refused_naming_both_versions(env, newer):
    path = seeded(env)
    conn = sqlite3.connect(path)
    if newer == "migration":
        conn.execute("insert into _migrations (name, applied_at) values ('0999_future_thing', '2027-01-01T00:00:00+00:00')")
    else:
        conn.execute(f"pragma user_version = {SCHEMA_VERSION + 3}")
    conn.commit()
    conn.close()
    before = contents(path)
    theirs = SCHEMA_VERSION + (1 if newer == "migration" else 3)
    for args in (("status",), ("search", "LOGINK"), *WRITERS):
        line = error_line(env.run(*args))
        assert f"schema version {theirs}" in line and f"has schema version {SCHEMA_VERSION}" in line, line
        assert MIGRATIONS[-1][0] in line and "upgrade policy-tracker" in line
        if newer == "migration":
            assert "0999_future_thing" in line
    assert contents(path) == before


def test_init_records_the_schema_version(env):
    seeded(env)
    assert env.db().execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION


def _as_unprivileged(args: list[str]) -> list[str]:
    """Run ``args`` as a user without root's override of file permissions (nobody when we are root)."""
    if os.geteuid() != 0:
        return args
    return [shutil.which("setpriv") or "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args]


@pytest.mark.parametrize("what", ["directory", "file"])
def test_read_only_location_is_one_line_for_writers_and_readable(what):
    base = Path(tempfile.mkdtemp(prefix="tracker-ro-"))  # not under pytest's 0700 tmp: the other user must reach it
    try:
        os.chmod(base, 0o755)
        folder = base / "data"
        folder.mkdir()
        db_path = folder / "tracker.db"
        config = base / "tracker.toml"
        config.write_text("".join(f"[sources.{sid}]\nenabled = false\n" for sid in _sources()), encoding="utf-8")
        tracker = [sys.executable, "-m", "tracker", "--config", str(config), "--db", str(db_path)]
        assert subprocess.run([*tracker, "init"], capture_output=True, text=True).returncode == 0
        for leftover in folder.glob("tracker.db-*"):
            leftover.unlink()
        if what == "directory":
            os.chmod(db_path, 0o666)
            os.chmod(folder, 0o555)
        else:
            os.chmod(folder, 0o777)
            os.chmod(db_path, 0o444)
        before = digest_of(db_path)
        for command in (["init"], ["crawl", "--no-nlp"], ["run", "--no-nlp"]):
            proc = subprocess.run(_as_unprivileged([*tracker, *command]), capture_output=True, text=True, cwd=base)
            assert proc.returncode == 2, proc.stderr
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "cannot write database" in lines[0] and "read-only" in lines[0], proc.stderr
            assert what in lines[0]
        for command, expected in ((["status"], "0 stale or failing"), (["search", "LOGINK"], "0 result(s)")):
            proc = subprocess.run(_as_unprivileged([*tracker, *command]), capture_output=True, text=True, cwd=base)
            assert proc.returncode == 0 and expected in proc.stdout, proc.stderr  # reading still works
        assert digest_of(db_path) == before
    finally:
        for path in (base / "data", base):
            os.chmod(path, 0o755)
        shutil.rmtree(base)


def _sources() -> list[str]:
    from crawler.registry import SOURCES

    return list(SOURCES)


# -- item 9: bad configuration and arguments ------------------------------------------------------------

@pytest.mark.parametrize(("text", "key"), [
    ("[http]\nmin_interval_s = nan\n", "http.min_interval_s"),
    ("[sources.gdelt]\nquery_interval_s = nan\n", "sources.gdelt.query_interval_s"),
    ("[sources.federal-register]\nrun_budget_s = inf\n", "sources.federal-register.run_budget_s"),
    ("[sources.federal-register]\noverlap_days = -inf\n", "sources.federal-register.overlap_days"),
    ("[nlp]\nbatch_size = nan\n", "nlp.batch_size"),
    ("[sources.federal-register]\nmax_pages = -3\n", "sources.federal-register.max_pages"),
    ("[sources.federal-register]\nretry_backoff = '10s'\n", "sources.federal-register.retry_backoff"),
])
def test_non_finite_or_out_of_range_numbers_are_refused_naming_the_key(env, text, key):
    env.config_path.write_text(text, encoding="utf-8")
    line = error_line(env.run("sources"))
    assert f"invalid configuration: {key}:" in line


def test_deeply_nested_toml_is_one_line(tmp_path):
    config = tmp_path / "deep.toml"
    config.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), "sources"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"Error: invalid configuration: {config}: invalid TOML: arrays or tables nested too deeply"]


@pytest.mark.parametrize("every", ["0m", "30s", "0.5m"])
def test_run_loop_interval_below_a_minute_is_refused(env, every):
    env.configure({})
    line = error_line(env.run("run", "--loop", "--every", every, "--ticks", "2", "--no-nlp", "--no-digest"))
    assert "--every: at least 1m" in line
    assert not env.db_path.exists()  # refused before anything was opened


@pytest.mark.parametrize("payload", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, os.urandom(4096),
                                     b"LOGINK \x00\x00\x00 binary"], ids=["png", "random", "nul"])
@pytest.mark.parametrize("jsonl", [False, True], ids=["text", "jsonl"])
def test_annotate_a_binary_file_is_one_line(env, tmp_path, payload, jsonl):
    env.configure({})
    path = tmp_path / "image.png"
    path.write_bytes(payload)
    result = env.run("annotate", *(["--jsonl"] if jsonl else []), str(path))
    if jsonl and b"\x00" in payload and payload.isascii():  # valid UTF-8: one error object per bad line, exit 1
        assert result.exit_code == 1 and json.loads(result.stdout.splitlines()[0])["error"]
        return
    assert "not UTF-8 text" in error_line(result) or "contains NUL" in result.output


def test_schedule_write_refuses_a_missing_directory(env, tmp_path):
    env.configure({})
    target = tmp_path / "no" / "such" / "dir"
    line = error_line(env.run("schedule", "--systemd", "--write", str(target)))
    assert "no such directory" in line and str(target) in line
    assert not (tmp_path / "no").exists()
    target.mkdir(parents=True)
    result = env.run("schedule", "--systemd", "--write", str(target))
    assert result.exit_code == 0 and (target / "policy-tracker.timer").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (("annotate", "--lang", "klingon", "-"), "--lang: unknown language code 'klingon'; supported: bg, cs"),
    (("crawl", "--since", ""), "--since: expected a date"),
    (("crawl", "--since", "2024-01-01garbage"), "--since: expected a date"),
    (("crawl", "--since", "2024-02-30"), "--since: expected a date"),
    (("search", "LOGINK", "--since", " "), "--since: expected a date"),
    (("search", "LOGINK", "--entity", "nosuch:thing"), "--entity: unknown entity id 'nosuch:thing'"),
    (("search", "LOGINK", "--entity", "platform:loginkk"), "e.g. platform:logink"),
    (("crawl", "no-such-source", "federal-register"), "unknown source 'no-such-source'"),
])
def test_arguments_are_validated_in_one_line(env, args, expected):
    seeded(env)
    assert expected in error_line(env.run(*args, input=""))


def test_known_entity_from_the_gazetteer_is_accepted_before_any_annotation(env):
    seeded(env)
    result = env.run("search", "LOGINK", "--entity", "platform:neal-net", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_negative_max_docs_is_refused(env):
    env.configure({})
    result = env.run("crawl", "--max-docs", "-1")
    assert result.exit_code == 2 and "--max-docs" in result.output


@pytest.mark.parametrize(("query", "outcome"), [
    ("AND", "AND, OR and NOT go between words"),
    ("LOGINK NOT", "LOGINK notice"),
    ("NOT LOGINK", "only says what to exclude"),
    ('"', "nothing to search for"),
    ('LOGINK "', "LOGINK notice"),
    ('"LOGINK', "LOGINK notice"),
    ("(LOGINK", "LOGINK notice"),
    ("LOGINK)", "LOGINK notice"),
    ("port AND (LOGINK OR", "LOGINK notice"),
    ("OR OR", "nothing to search for"),
    ("LOGINK*", "LOGINK notice"),
])
def test_search_syntax_never_errors(env, query, outcome):
    seeded(env)
    result = env.run("search", query)
    if result.exit_code == 0:
        assert outcome in result.output and "1 result(s)" in result.output, result.output
    else:
        line = error_line(result)
        assert line.startswith("Error: QUERY: ") and outcome in line


def test_serve_on_a_taken_port_is_one_line_before_serving(env):
    seeded(env)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = env.run("serve", "--port", str(port))
    line = error_line(result)
    assert line.startswith(f"Error: cannot serve on 127.0.0.1:{port}: ") and "in use" in line
    assert "serving" not in result.output


# -- issue 16 item 7: a light `--help`, --json everywhere -------------------------------------------------

HEAVY = ("datasette", "uvicorn", "spacy", "sklearn", "numpy", "sqlite_utils", "requests", "urllib3", "jinja2",
         "crawler", "nlp", "tomllib")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["run", "--help"], ["search", "--help"]])
def test_help_imports_no_heavy_module(args):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tracker", *args], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip()
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "tracker" in imported and not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_init_json(env):
    env.configure({})
    first = json.loads(env.run("init", "--json").output)
    assert first == {"database": str(env.db_path), "state": "created", "schema_version": SCHEMA_VERSION,
                     "migrations": [name for name, _ in MIGRATIONS], "applied": [name for name, _ in MIGRATIONS]}
    again = json.loads(env.run("init", "--json").output)
    assert again["state"] == "up to date" and again["applied"] == []


def test_a_large_database_is_quick_checked_by_writers_once_a_day_and_by_status_always(env, monkeypatch):
    import db.schema as schema

    env.configure({})
    assert env.run("init").exit_code == 0
    checks = []
    real = schema.check_integrity
    monkeypatch.setattr(schema, "check_integrity", lambda db: (checks.append(1), real(db))[1])
    monkeypatch.setattr(schema, "INTEGRITY_ALWAYS_BYTES", 0)  # every file counts as large
    assert env.run("init").exit_code == 0 and len(checks) == 1  # no passed check recorded yet: checked
    assert env.run("init").exit_code == 0 and len(checks) == 1  # passed minutes ago: not again
    env.run("status")
    assert len(checks) == 2  # status always checks
    with clock.frozen(clock.now() + dt.timedelta(hours=25)):
        assert env.run("init").exit_code == 0 and len(checks) == 3  # a day later: checked again
    monkeypatch.setattr(schema, "INTEGRITY_ALWAYS_BYTES", 1 << 30)
    assert env.run("init").exit_code == 0 and len(checks) == 4  # a small file: every writer checks
