"""Sources, crawl runs, ticks, and what a crawl remembers between runs (judged URLs, HTTP validators).

A run of a source is opened ``running`` and closed with its status and counts; a run left
``running`` by a killed process is closed as ``failed`` when the source next starts. The watermark
and the HTTP validators move only when a run ends ``ok`` (a failed run re-reads everything next
time); the source's health (`db.health`) is re-judged whenever a run ends or the sources change.
Items the upstream said were not ready yet (deferred) are kept in ``deferred_items`` with when they
were first deferred, until a complete (``ok``) run no longer defers them.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from db import clock, health
from db.transaction import transaction, upsert_row

COUNTS = ("fetched", "new", "updated", "unchanged", "errors", "requests", "deferred")


def register_sources(db: sqlite_utils.Database, sources: Iterable[dict]) -> None:
    """Upsert the configured sources (title, base URL, enabled, interval, expect_results); run history is kept."""
    with transaction(db):
        for source in sources:
            upsert_row(db, "sources", source, ("id",))
        health.refresh(db)


def source_rows(db: sqlite_utils.Database) -> dict[str, dict]:
    """The ``sources`` table keyed by id (empty before `tracker init`)."""
    if "sources" not in db.table_names():
        return {}
    return {row["id"]: row for row in db["sources"].rows}


def last_run_starts(db: sqlite_utils.Database) -> dict[str, str | None]:
    """When each source's latest run started (``sources.last_run_at``), by source id."""
    return dict(db.execute("select id, last_run_at from sources").fetchall())


def consecutive_failures(db: sqlite_utils.Database) -> dict[str, int]:
    """Per source, its failed or blocked runs since its last successful (``ok`` / ``partial``) one."""
    failing = ", ".join(f"'{s}'" for s in health.FAILING)
    success = ", ".join(f"'{s}'" for s in health.SUCCESS)
    return dict(db.execute(
        f"select source, count(*) from crawl_runs c where status in ({failing}) and id > coalesce("
        f"(select max(id) from crawl_runs s where s.source = c.source and s.status in ({success})), 0) group by source"
    ).fetchall())


def start_run(db: sqlite_utils.Database, source: str) -> int:
    """Open a crawl run; returns its id. Runs of this source left ``running`` by a killed process are closed as failed."""
    now = clock.now_iso()
    with transaction(db):
        db.conn.execute(
            "update crawl_runs set status = 'failed', finished_at = ?, message = 'interrupted (process ended before the run finished)' where source = ? and status = 'running'",
            [now, source],
        )
        cursor = db.conn.execute(
            "insert into crawl_runs (source, started_at, status, fetched, new, updated, unchanged, errors, requests) values (?, ?, 'running', 0, 0, 0, 0, 0, 0)",
            [source, now],
        )
        db.conn.execute("update sources set last_run_at = ? where id = ?", [now, source])
    return cursor.lastrowid


def finish_run(db: sqlite_utils.Database, run_id: int, source: str, status: str, counts: dict,
               message: str | None, watermark: str | None, validators: dict[str, dict],
               deferred: Iterable[tuple[str, str]] = ()) -> None:
    """Close a crawl run and update the source row; validators and watermark only move on ``ok``.
    ``deferred``: (item key, message) of the items the upstream had not ready (`_record_deferrals`)."""
    finished = clock.now_iso()
    with transaction(db):
        _record_deferrals(db, source, list(deferred), finished, complete=status == "ok")
        db.conn.execute(
            f"update crawl_runs set finished_at = ?, status = ?, {', '.join(f'{c} = ?' for c in COUNTS)}, message = ? where id = ?",
            [finished, status, *(counts.get(c, 0) for c in COUNTS), message, run_id],
        )
        if status in health.SUCCESS:
            db.conn.execute("update sources set last_success_at = ? where id = ?", [finished, source])
        if status == "ok":
            db.conn.execute(
                "update sources set last_status = ?, last_error = null, watermark = coalesce(?, watermark) where id = ?",
                [status, watermark, source],
            )
            for url, v in validators.items():
                upsert_row(db, "http_validators", {"url": url, "etag": v.get("etag"), "last_modified": v.get("last_modified"),
                                                   "stored_at": finished}, ("url",))
        else:
            db.conn.execute("update sources set last_status = ?, last_error = ? where id = ?", [status, message, source])
        health.refresh(db)


def _record_deferrals(db: sqlite_utils.Database, source: str, deferred: list[tuple[str, str]], now: str,
                      complete: bool) -> None:
    """Remember this run's deferred items (keeping when each was first deferred); a complete run also
    forgets the source's items it did not defer again (they were read)."""
    for key, message in deferred:
        db.conn.execute(
            "insert into deferred_items (source, item, message, first_deferred_at, last_deferred_at, attempts) "
            "values (?, ?, ?, ?, ?, 1) on conflict (source, item) do update set message = excluded.message, "
            "last_deferred_at = excluded.last_deferred_at, attempts = attempts + 1",
            [source, key, message, now, now],
        )
    if complete:
        keys = [key for key, _ in deferred]
        db.conn.execute(f"delete from deferred_items where source = ? and item not in ({', '.join('?' * len(keys))})",
                        [source, *keys])


def deferred_items(db: sqlite_utils.Database, source: str) -> list[dict]:
    """The items of ``source`` still waiting for the upstream, oldest first."""
    return list(db["deferred_items"].rows_where("source = ?", [source], order_by="first_deferred_at, item"))


def last_runs(db: sqlite_utils.Database, source: str, limit: int = 10) -> list[dict]:
    """The most recent crawl runs of a source, newest first."""
    return list(db["crawl_runs"].rows_where("source = ?", [source], order_by="id desc", limit=limit))


def remember_url(db: sqlite_utils.Database, url: str, source: str, reason: str) -> None:
    """Remember a URL judged once (e.g. an article about nothing we watch) so it is not fetched again."""
    with transaction(db):
        upsert_row(db, "seen_urls", {"url": url, "source": source, "reason": reason, "seen_at": clock.now_iso()}, ("url",))


def seen_url(db: sqlite_utils.Database, url: str) -> bool:
    """True when the URL was judged before (stored or remembered as irrelevant)."""
    return db.execute("select 1 from seen_urls where url = ?", [url]).fetchone() is not None


def validators(db: sqlite_utils.Database, url: str) -> dict | None:
    """Stored ETag / Last-Modified of a URL."""
    row = db.execute("select etag, last_modified from http_validators where url = ?", [url]).fetchone()
    return {"etag": row[0], "last_modified": row[1]} if row else None


def start_tick(db: sqlite_utils.Database, now: str) -> int:
    """Record a tick that starts now (``now``: the instant it acts for, which ``--now`` may set); returns its id."""
    with transaction(db):
        return db.conn.execute("insert into ticks (started_at, now, status) values (?, ?, 'running')",
                               [clock.now_iso(), now]).lastrowid


def finish_tick(db: sqlite_utils.Database, tick_id: int, status: str, crawled: str, annotated: int,
                digests_sent: int, digests_failed: int, message: str | None) -> None:
    """Close a tick with what it did (``crawled``: JSON of source -> run status)."""
    with transaction(db):
        db.conn.execute(
            "update ticks set finished_at = ?, status = ?, crawled = ?, annotated = ?, digests_sent = ?, digests_failed = ?, "
            "message = ? where id = ?",
            [clock.now_iso(), status, crawled, annotated, digests_sent, digests_failed, message, tick_id],
        )
        health.refresh(db)
