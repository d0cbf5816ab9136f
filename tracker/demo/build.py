"""Building the demonstration database from the recordings shipped in the package.

Everything real except the upstream: a `ReplayServer` on 127.0.0.1 answers from ``recordings/``; each
demo source's ``base_url`` points at its prefix on that server and only that loopback host is trusted
(``[http] private_hosts``, not ``allow_private_addresses``); the crawl goes through the orchestrator
(`tracker.crawl.crawl`: the real sources, the real `HttpClient`, the real NLP for relevance)
and then `tracker.annotation.annotate_pending`. Two passes: the second is the next day's crawl, when the
upstream of 46 U.S.C. 50309 answers a new ETag and an amended text, so the statute gets a second
version and every other source shows its incremental path (304s, unchanged documents). The first
pass runs on the product clock (`db.clock`) set one day back, so the two versions, the crawl runs and
the first-seen stamps read as yesterday's and today's.

The database is built beside its target (``<name>.building``) and moved into place at the end, so a
failed build leaves the previous demo intact. A ``demo_build`` table marks it as a demonstration:
only such a database is ever replaced.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path

from db import clock

MARKER_TABLE = "demo_build"
KEY_ENV = "TRACKER_DEMO_API_KEY"
# Demo source -> (path prefix on the replay server + the upstream's own base path, extra TOML keys).
SOURCES: dict[str, tuple[str, str]] = {
    "ep-open-data": ("/ep-open-data/api/v2", 'procedures = ["2024/2006(REG)"]'),
    "ep-oeil": ("/ep-oeil/oeil/en", 'procedures = ["2024/2006(REG)"]\nrss = false'),
    "eurlex": ("/eurlex", "window_days = 36500"),
    "ec-press": ("/ec-press/commission/presscorner", ""),
    "congress-gov": ("/congress-gov/v3", f'bills = ["118-hr-1724", "118-s-939", "118-hr-6228"]\napi_key_env = "{KEY_ENV}"'),
    "govinfo": ("/govinfo", f'api_key_env = "{KEY_ENV}"'),
    "federal-register": ("/federal-register/api/v1", ""),
    "uscode": ("/uscode", ""),
}
NEWS_FEEDS = ("/news-rss/hl/feed/", "/news-rss/qr/feed.atom", "/news-rss/alerts/logink")


class DemoError(Exception):
    """The demo cannot be built where asked (one line, for the CLI)."""


@dataclass
class PassResult:
    """One crawl pass: per-source outcomes (dicts as printed) and the NLP totals."""

    sources: list[dict] = field(default_factory=list)
    nlp: dict = field(default_factory=dict)


@dataclass
class DemoResult:
    """What was built: where, how long it took, what each pass did, and what the database holds."""

    db_path: Path
    seconds: float
    passes: list[PassResult]
    totals: dict
    misses: list[str]


def recordings_dir() -> contextlib.AbstractContextManager[Path]:
    """The packaged recordings as a filesystem path (``importlib.resources``: works when installed)."""
    return resources.as_file(resources.files("tracker.demo").joinpath("recordings"))


def is_demo_database(path: Path) -> bool:
    """Whether ``path`` is a database `build_demo` made (it has the ``demo_build`` table)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", [MARKER_TABLE]).fetchone()
            return found is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def check_target(path: Path) -> None:
    """Raise `DemoError` unless ``path`` may be (re)built: absent, or an earlier demo database."""
    if path.is_dir():
        raise DemoError(f"{path} is a directory; give a database file, e.g. --db demo.db")
    if not path.parent.is_dir():
        raise DemoError(f"directory does not exist: {path.parent}")
    if path.exists() and not is_demo_database(path):
        raise DemoError(f"refusing to overwrite {path}: it is not a demo database (choose another --db)")


def config_text(root: str, netloc: str, db_path: Path) -> str:
    """The demo's whole configuration (over the packaged defaults): every demo source on the replay server."""
    from crawler.registry import SOURCES as REGISTRY

    lines = [
        "[database]", f"path = {_quote(str(db_path))}",
        "[http]", f"private_hosts = [{_quote(netloc)}, {_quote(netloc.replace('127.0.0.1', 'localhost'))}]",
        "min_interval_s = 0", "timeout_s = 10", "retries = 1", "backoff_factor = 0.1", "max_retry_after_s = 1",
    ]
    for sid in REGISTRY:
        lines.append(f"[sources.{sid}]")
        if sid in SOURCES:
            prefix, extra = SOURCES[sid]
            lines += ["enabled = true", f"base_url = {_quote(root + prefix)}", extra]
        elif sid == "news-rss":
            lines += ["enabled = true", "feeds = [" + ", ".join(_quote(root + f) for f in NEWS_FEEDS) + "]"]
        else:
            lines.append("enabled = false")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def enabled_sources() -> list[str]:
    """The sources the demo crawls, in registry order."""
    from crawler.registry import SOURCES as REGISTRY

    return [sid for sid in REGISTRY if sid in SOURCES or sid == "news-rss"]


@contextlib.contextmanager
def _placeholder_key() -> Iterator[None]:
    """The replay server needs no API key; a placeholder keeps the sources from warning about DEMO_KEY."""
    previous = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = "replayed-no-key-needed"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = previous


def build_demo(db_path: Path, progress: Callable[[str], None] = lambda line: None) -> DemoResult:
    """Build the demo database at ``db_path`` (replacing an earlier demo); ``progress`` gets one line per step."""
    from tracker.demo.replay import ReplayServer

    db_path = Path(db_path)
    check_target(db_path)
    started = time.monotonic()
    building = db_path.with_name(db_path.name + ".building")
    _remove(building)
    try:
        with (recordings_dir() as recordings, ReplayServer(recordings) as server, tempfile.TemporaryDirectory() as tmp,
              _placeholder_key()):
            config_path = Path(tmp) / "demo.toml"
            config_path.write_text(config_text(server.url(), server.netloc, building), encoding="utf-8")
            passes = _crawl_passes(config_path, server, progress)
            totals = _totals(building)
            misses = list(server.misses)
    except BaseException:  # interrupted or broken: no half-built file left behind
        _remove(building)
        raise
    _remove(db_path)
    os.replace(building, db_path)
    return DemoResult(db_path, time.monotonic() - started, passes, totals, misses)


def _crawl_passes(config_path: Path, server, progress: Callable[[str], None]) -> list[PassResult]:
    from db.schema import connect, ensure_schema
    from tracker.config import load_config

    config = load_config(str(config_path))
    db = connect(config.database_path)
    try:
        ensure_schema(db)
        db[MARKER_TABLE].insert({
            "built_at": clock.now_iso(),
            "note": "A demonstration database built by `tracker demo` from recorded examples shipped in the package "
                    "(replayed on loopback, not live data); see docs/demo.md.",
        })
        today = clock.now()
        passes = []
        for phase, at in ((1, today - timedelta(days=1)), (2, today)):
            server.phase = phase
            if phase == 2:
                progress("second pass, a day later: 46 U.S.C. 50309 was amended upstream; the rest is unchanged")
            with clock.frozen(at):
                passes.append(_crawl_pass(db, config, phase, progress))
        return passes
    finally:
        db.conn.close()


def _crawl_pass(db, config, phase: int, progress: Callable[[str], None]) -> PassResult:
    from tracker.annotation import annotate_pending
    from tracker.crawl import crawl

    result, quiet = PassResult(), []
    for sid in enabled_sources():
        (run,) = crawl(db, config, [sid])  # the orchestrator, one source at a time for the progress lines
        line = {"source": run.source, "status": run.status, **run.counts, "message": run.message}
        result.sources.append(line)
        if phase == 1 or run.status != "ok" or run.counts.get("new") or run.counts.get("updated"):
            progress(run.summary(requests=True))
        else:
            quiet.append(line)
    if quiet:
        progress(f"{len(quiet)} other sources: ok, nothing new ({sum(q['unchanged'] for q in quiet)} unchanged, "
                 f"{sum(q['requests'] for q in quiet)} requests)")
    result.nlp = annotate_pending(db, config)
    progress(f"nlp: {result.nlp['documents']} documents annotated, {result.nlp['new_mentions']} new mentions")
    return result


def _totals(path: Path) -> dict:
    """Counts of what an analyst will find in the built database."""
    conn = sqlite3.connect(path)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "documents": one("select count(*) from documents"),
            "sources": one("select count(distinct source) from documents"),
            "mentions": one("select count(*) from mentions"),
            "mentions_with_stance": one("select count(*) from mentions where stance in ('critical', 'supportive', 'neutral')"),
            "dossiers": one("select count(*) from dossiers"),
            "events": one("select count(*) from events"),
            "documents_with_versions": one("select count(*) from documents where version > 1"),
            "versioned_document_id": one("select min(id) from documents where version > 1"),
        }
    finally:
        conn.close()


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()
