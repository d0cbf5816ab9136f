"""`tracker demo`: the demonstration database built offline from the packaged recordings through the real
crawl path (a replay server on loopback, the real sources, client and NLP), its refusals, its packaging
and its serving; and the one-line "no network" ending of `tracker crawl` (tracker/offline.py)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.smtpserver import free_port
from tracker.crawl import RunResult
from tracker.demo.build import MARKER_TABLE
from tracker.demo.replay import manifest_files
from tracker.offline import offline_summary

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT / "tracker" / "demo" / "recordings"
LOOPBACK = {"127.0.0.1", "localhost"}


def tracker(*args: str, cwd: Path | None = None):
    from tracker.cli import cli

    previous = Path.cwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(previous)


def offline_resolver(monkeypatch) -> None:
    """Any name but the loopback ones fails to resolve, as on a machine without network."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if str(host) not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One demo build for the module: (working directory, database path, JSON report, seconds)."""
    from db import clock
    from tests.conftest import TEST_NOW

    mp = pytest.MonkeyPatch()
    offline_resolver(mp)
    work = tmp_path_factory.mktemp("demo")
    started = time.monotonic()
    try:
        with clock.frozen(TEST_NOW):  # module scope: before the per-test clock fixture
            result = tracker("demo", "--no-serve", "--json", cwd=work)
    finally:
        mp.undo()
    seconds = time.monotonic() - started
    assert result.exit_code == 0, result.output
    return work, work / "demo.db", json.loads(result.stdout), seconds


def query(path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_demo_builds_every_feature_offline_in_under_a_minute(built):
    work, db, report, seconds = built
    assert seconds < 60, seconds
    assert db.exists() and not (work / "tracker.db").exists()  # ./demo.db by default; ./tracker.db never touched
    assert report["db"] == "demo.db" and report["url"] is None and report["misses"] == []
    first, second = report["passes"]
    assert {s["source"] for s in first["sources"]} >= {"federal-register", "congress-gov", "govinfo", "uscode",
                                                       "ep-open-data", "ep-oeil", "eurlex", "ec-press", "news-rss"}
    assert all(s["status"] == "ok" for s in first["sources"] + second["sources"]), first["sources"] + second["sources"]
    assert first["nlp"]["documents"] == report["totals"]["documents"] and first["nlp"]["new_mentions"] > 0
    # documents from both jurisdictions and at least six sources
    sources = dict(query(db, "select source, count(*) from documents group by source"))
    assert len(sources) >= 6 and all(sources.values())
    assert {j for (j,) in query(db, "select distinct jurisdiction from documents")} >= {"US", "EU"}
    # mentions of the watched topic with a stance, critical ones among them
    stances = dict(query(db, "select stance, count(*) from mentions where stance is not null group by stance"))
    assert stances.get("critical", 0) > 0 and sum(stances.values()) == report["totals"]["mentions_with_stance"]
    assert query(db, "select count(*) from document_topics where topic = 'logink' and stance = 'critical'")[0][0] > 0
    # the statute amended between the passes: two versions, a day apart, the second with the new paragraph
    (doc_id,) = query(db, "select id from documents where source = 'uscode' and version = 2")[0]
    versions = query(db, "select version, fetched_at, text from document_versions where document_id = ? order by version", [doc_id])
    assert [v[0] for v in versions] == [1, 2] and versions[0][1] < versions[1][1]
    assert "(D) any platform designated by the Secretary" in versions[1][2] and "(D) any platform" not in versions[0][2]
    assert second["sources"][[s["source"] for s in second["sources"]].index("uscode")]["updated"] == 1
    # dossiers with their events: US bills and an EP procedure read from two sources
    events = dict(query(db, "select dossier_key, count(*) from events group by dossier_key"))
    assert events.get("us-bill:118-hr-1724", 0) >= 2 and events.get("ep-procedure:2024/2006(REG)", 0) >= 1
    assert report["totals"]["dossiers"] >= 4
    # the second pass was incremental: nothing new anywhere but the amended statute
    assert sum(s["new"] for s in second["sources"]) == 0 and second["nlp"]["documents"] == 1
    assert query(db, f"select count(*) from {MARKER_TABLE}")[0][0] == 1
    assert query(db, "select count(*) from crawl_runs where status = 'ok'")[0][0] == len(first["sources"]) * 2


def test_demo_refuses_to_overwrite_a_database_that_is_not_a_demo(tmp_path):
    from db.schema import connect, ensure_schema

    (tmp_path / "empty").mkdir()
    real = tmp_path / "tracker.db"
    db = connect(real)
    ensure_schema(db)
    db.conn.close()  # checkpointed: the file alone holds the database
    before = real.read_bytes()
    result = tracker("demo", "--db", str(real), "--no-serve")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"Error: refusing to overwrite {real}: it is not a demo database (choose another --db)"]
    assert real.read_bytes() == before
    assert tracker("--db", str(real), "demo", "--no-serve").exit_code == 2  # tracker's own --db: refused the same way
    assert real.read_bytes() == before
    fresh = tracker("demo", "--db", "tracker.db", "--no-serve", cwd=tmp_path / "empty")  # the crawl's default, absent
    assert fresh.exit_code == 2 and "the database `tracker crawl` uses" in fresh.output
    assert not (tmp_path / "empty" / "tracker.db").exists()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    assert tracker("demo", "--db", str(notes), "--no-serve").exit_code == 2 and notes.read_text() == "not a database"


def test_demo_on_a_taken_port_is_one_line_and_builds_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = tracker("demo", "--db", str(tmp_path / "demo.db"), "--port", str(port))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot serve on 127.0.0.1:{port}: ") and "--port" in lines[0]
    assert not (tmp_path / "demo.db").exists()


def test_built_demo_is_served_by_tracker_serve(built):
    from tracker.serve import build_datasette

    _, db, report, _ = built
    ds = build_datasette(db)
    asyncio.run(ds.invoke_startup())
    get = lambda path: asyncio.run(ds.client.get(path))  # noqa: E731
    docs = get("/demo/documents.json?_shape=array&_size=max")
    assert docs.status_code == 200 and len(docs.json()) == report["totals"]["documents"]
    critical = get("/demo/mentions.json?_shape=array&stance=critical")
    assert critical.status_code == 200 and critical.json() and all(m["stance"] == "critical" for m in critical.json())
    page = get("/demo/dossiers")
    assert page.status_code == 200 and "Securing Maritime Data from Communist China Act" in page.text


def test_demo_rebuilds_an_earlier_demo_and_serves_it_over_http(built, tmp_path):
    """The installed command end to end: a second `tracker demo` on the same file rebuilds it, then serves."""
    _, db, report, _ = built
    target = tmp_path / "demo.db"
    target.write_bytes(db.read_bytes())
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "tracker", "demo", "--db", str(target), "--port", str(port)],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        rows = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/demo/documents.json?_shape=array&_size=max", timeout=5) as r:
                    rows = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert rows is not None, process.stdout.read() if process.poll() is not None else "server did not answer"
        assert len(rows) == report["totals"]["documents"]  # rebuilt, not appended to
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}/-/dashboards/mentions" in output and "digest preview" in output
    assert query(target, "select count(*) from document_versions where version = 2")[0][0] == 1


def test_every_recording_is_named_by_the_manifest_and_packaged():
    named = manifest_files(RECORDINGS)
    on_disk = sorted(str(p.relative_to(RECORDINGS)) for p in RECORDINGS.rglob("*") if p.is_file())
    assert set(named) | {"manifest.json", "SOURCES.md"} == set(on_disk)  # no unused recording, none missing
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["tracker"]
    packaged = {str(p.relative_to(ROOT / "tracker")) for g in globs for p in (ROOT / "tracker").glob(g) if p.is_file()}
    missing = [f for f in on_disk if f"demo/recordings/{f}" not in packaged]
    assert not missing, f"not covered by [tool.setuptools.package-data] tracker: {missing}"
    assert sum((RECORDINGS / f).stat().st_size for f in on_disk) < 2_000_000
    sources_md = (RECORDINGS / "SOURCES.md").read_text()
    assert "Source: European Parliament" in sources_md
    for directory in {f.split("/")[0] for f in named}:
        assert f"`{directory}/" in sources_md, f"no provenance for {directory}/"


def test_demo_module_is_cheap_to_import():
    code = "import sys, tracker.demo.cli; print(sorted(m for m in ('datasette', 'spacy', 'sklearn', 'uvicorn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- tracker crawl without network ------------------------------------------------------------------

def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


def configure_unreachable(env, host: str):
    """Three sources (one with two feeds) all on ``host``."""
    env.configure({
        "federal-register": {"base_url": f"http://{host}/api/v1"},
        "uscode": {"base_url": f"http://{host}"},
        "news-rss": {"feeds": [f"http://{host}/feed/a", f"http://{host}/feed/b"]},
    })


def assert_one_offline_line(env, result, sources: int):
    assert result.exit_code == 1
    assert result.stdout == ""  # no per-source lines, no nlp line
    assert result.stderr.strip().splitlines() == [
        f"crawl: no source could be reached (no network?): {sources} of {sources} sources failed to connect; "
        "try `tracker demo` to see the product offline"]
    runs = list(env.db()["crawl_runs"].rows)
    assert len(runs) == sources and all(r["status"] in ("failed", "partial") and r["message"] for r in runs)


def test_crawl_with_every_connection_refused_ends_with_one_line(env):
    configure_unreachable(env, f"127.0.0.1:{closed_port()}")
    result = env.run("crawl")
    assert_one_offline_line(env, result, 3)
    messages = {r["source"]: r["message"] for r in env.db()["crawl_runs"].rows}
    assert "connection failed" in messages["federal-register"] and "connection failed" in messages["news-rss"]
    assert "robots.txt unreachable" in messages["uscode"]  # uscode reads robots.txt first


def test_crawl_with_no_name_resolving_ends_with_one_line_and_logs_at_debug(env, monkeypatch):
    offline_resolver(monkeypatch)
    configure_unreachable(env, "upstream.example")
    # the client's own address check resolves the name first (loopback is not trusted here)
    env.config_path.write_text(env.config_path.read_text().replace("allow_private_addresses = true", "allow_private_addresses = false"))
    result = env.run("crawl")
    assert_one_offline_line(env, result, 3)
    assert all("cannot resolve host" in r["message"] for r in env.db()["crawl_runs"].rows)
    verbose = env.run("-v", "crawl")  # the per-source errors are still in the structured log, at debug
    assert verbose.exit_code == 1 and "level=debug" in verbose.stderr and "cannot resolve host" in verbose.stderr
    assert "level=warning" not in "\n".join(line for line in verbose.stderr.splitlines() if "cannot resolve host" in line)


def test_crawl_with_one_source_reachable_reports_every_source(env, replay, monkeypatch):
    from tests.test_uscode import PAGE, serve

    serve(replay, PAGE.read_bytes())
    env.configure({"uscode": {"base_url": replay.url()},
                   "federal-register": {"base_url": f"http://127.0.0.1:{closed_port()}/api/v1"}})
    result = env.run("crawl", "--no-nlp")
    assert result.exit_code == 1
    assert "uscode: ok (new 1" in result.stdout and "federal-register: failed" in result.stdout
    assert "no source could be reached" not in result.output
    assert "connection failed" in result.stderr  # not offline: the failure is logged as it happens


def test_offline_summary_tells_network_failures_from_upstream_errors():
    run = lambda status, message, fetched=0: RunResult("s", 1, status, {"fetched": fetched}, message)  # noqa: E731
    dns = run("failed", "cannot resolve host: [Errno -2] Name or service not known (https://x.example/)")
    refused = run("partial", "2 item(s) failed; first: a: connection failed: ConnectionError (http://127.0.0.1:9/a)")
    assert offline_summary([dns, refused]).startswith("crawl: no source could be reached (no network?): 2 of 2 sources")
    assert offline_summary([dns, run("failed", "HTTP 500: Internal Server Error (https://x.example/)")]) is None
    assert offline_summary([dns, run("failed", "timed out after 30 s (https://x.example/)")]) is None
    assert offline_summary([dns, run("partial", "1 item(s) failed; first: a: connection failed: X (u)", fetched=3)]) is None
    assert offline_summary([dns, run("ok", None)]) is None and offline_summary([]) is None
