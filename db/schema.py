"""Schema, migrations, full-text search and views: declared in one place.

`ensure_schema` is idempotent: each migration runs once and is recorded in ``_migrations``; views
are (re)declared on every call so that changing a view needs no migration. Later schema changes
are appended to `MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from db import clock, follows, frontend, health, identities, optouts
from db.digests import migrate_claims
from db.views import COUNT_INDEX, VIEWS


SQLITE_MAGIC = b"SQLite format 3\x00"


class DatabaseProblem(Exception):
    """The file cannot be used as this version's database (corrupted, or written by a newer schema);
    the message is one line meant for the user."""


class DatabaseCorrupt(DatabaseProblem):
    """The file is damaged (bad header, truncated, or SQLite's integrity check failed)."""


class SchemaTooNew(DatabaseProblem):
    """The database was migrated by a newer policy-tracker (unknown migrations, higher ``user_version``)."""


def check_header(path: str | Path) -> None:
    """Cheap structural check of an existing file's 100-byte SQLite header, without SQLite: magic,
    page size, a whole number of pages, and no fewer pages than the header records (a truncated
    copy). Microseconds on any size; raises `DatabaseCorrupt`. An empty file passes (SQLite makes it)."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise DatabaseCorrupt("not an SQLite database (bad header)")
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise DatabaseCorrupt(f"corrupted: invalid page size {page} in the header")
    if size % page:
        raise DatabaseCorrupt(f"corrupted: {size} bytes is not a whole number of {page}-byte pages (truncated?)")
    recorded = int.from_bytes(header[28:32], "big")
    if header[92:96] == header[24:28] and recorded * page > size:  # the page count is valid for this change counter
        raise DatabaseCorrupt(f"truncated: the header records {recorded} pages, the file holds {size // page}")


# Writers run the quick check on every open up to this size (<= ~0.6 s cached); a larger file is checked
# when its last passed check is older than `INTEGRITY_EVERY_S` (`tracker status` always checks).
INTEGRITY_ALWAYS_BYTES = 1 << 30
INTEGRITY_EVERY_S = 24 * 3600


def integrity_due(db: sqlite_utils.Database, size: int) -> bool:
    """Whether a writer must run `check_integrity` now: always for a file up to 1 GB, else when no check
    passed in the last day (so `tracker run` every 15 minutes on a 6 GB file pays it once a day)."""
    if size <= INTEGRITY_ALWAYS_BYTES or "integrity_checks" not in db.table_names():
        return True
    last = db.execute("select max(checked_at) from integrity_checks").fetchone()[0]
    return last is None or (clock.now() - clock.aware(last)).total_seconds() >= INTEGRITY_EVERY_S


def record_integrity(db: sqlite_utils.Database) -> None:
    """Remember that the quick check passed now (only where the table exists: after migration 0014)."""
    if "integrity_checks" in db.table_names():
        db.execute("insert into integrity_checks (checked_at) values (?)", [clock.now_iso()])
        db.execute("delete from integrity_checks where rowid not in (select rowid from integrity_checks "
                   "order by checked_at desc limit 10)")


def check_integrity(db: sqlite_utils.Database) -> None:
    """SQLite's ``PRAGMA quick_check(1)`` (every page and b-tree, not index contents), stopping at the
    first problem: about 0.6 s per GB with the file in the page cache, ~11 s per GB read cold on the
    development container. Raises `DatabaseCorrupt` naming the first problem."""
    try:
        rows = db.execute("pragma quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        raise DatabaseCorrupt(f"corrupted: {exc}") from None
    if rows != [("ok",)]:
        first = " ".join(line for line in str(rows[0][0]).splitlines() if not line.startswith("***")) if rows else ""
        raise DatabaseCorrupt(f"corrupted: {first or 'the integrity check gave no answer'}")


def connect(path: str | Path, read_only: bool = False) -> sqlite_utils.Database:
    """Open (or create) the database in WAL mode with a busy timeout; the directory must exist.
    ``read_only`` opens an existing file with SQLite's ``mode=ro`` and leaves its journal mode alone;
    in a directory it cannot write (no ``-shm`` can be made) also ``immutable=1``, so a database on a
    read-only location can still be read (quirk: a ``-wal`` left there unmerged is then not seen)."""
    path = Path(path)
    if str(path) != ":memory:" and not path.parent.exists():
        raise FileNotFoundError(f"database directory does not exist: {path.parent}")
    immutable = "&immutable=1" if read_only and not os.access(path.parent, os.W_OK) else ""
    target = f"{path.absolute().as_uri()}?mode=ro{immutable}" if read_only else str(path)
    conn = sqlite3.connect(target, timeout=30, isolation_level=None, check_same_thread=False, uri=read_only)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    if str(path) != ":memory:" and not read_only:
        # WAL is a property of the file: switching again on every open raced a writer ("disk I/O error")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.enable_wal()
        conn.execute("PRAGMA synchronous = NORMAL")
    return db


def _initial(db: sqlite_utils.Database) -> None:
    db["sources"].create(
        {
            "id": str, "title": str, "jurisdiction": str, "kind": str, "base_url": str,
            "enabled": int, "interval": str, "last_run_at": str, "last_success_at": str,
            "last_status": str, "last_error": str, "watermark": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["crawl_runs"].create(
        {
            "id": int, "source": str, "started_at": str, "finished_at": str, "status": str,
            "fetched": int, "new": int, "updated": int, "unchanged": int, "errors": int,
            "requests": int, "message": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "id")],
        if_not_exists=True,
    )
    db["documents"].create(
        {
            "id": int, "source": str, "source_id": str, "url": str, "title": str, "doc_type": str,
            "jurisdiction": str, "institution": str, "language": str, "published_at": str,
            "updated_at": str, "fetched_at": str, "first_seen_at": str, "content_hash": str,
            "text": str, "version": int, "group_key": str, "parser_version": str,
            "metadata": str, "warnings": str, "nlp_hash": str, "nlp_version": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "id")],
        if_not_exists=True,
    )
    db["documents"].create_index(["source", "source_id"], unique=True, if_not_exists=True)
    for column in ("published_at", "group_key", "doc_type", "language", "jurisdiction", "institution"):
        db["documents"].create_index([column], if_not_exists=True)
    db["document_versions"].create(
        {"document_id": int, "version": int, "content_hash": str, "fetched_at": str, "title": str, "text": str},
        pk=("document_id", "version"),
        foreign_keys=[("document_id", "documents", "id")],
        if_not_exists=True,
    )
    db["entities"].create(
        {"id": str, "name": str, "type": str, "country": str, "aliases": str, "external_ids": str, "parent": str},
        pk="id",
        if_not_exists=True,
    )
    db["entities"].create_index(["type"], if_not_exists=True)
    db["mentions"].create(
        {
            "id": str, "document_id": int, "entity_id": str, "topic": str, "text": str,
            "sentence": str, "start": int, "end": int, "stance": str, "stance_score": float,
            "model_version": str, "document_version": int, "first_seen_at": str,
        },
        pk="id",
        foreign_keys=[("document_id", "documents", "id"), ("entity_id", "entities", "id")],
        if_not_exists=True,
    )
    for columns in (["document_id"], ["entity_id"], ["topic", "first_seen_at"], ["first_seen_at"], ["stance"]):
        db["mentions"].create_index(columns, if_not_exists=True)
    db["document_topics"].create(
        {"document_id": int, "topic": str, "stance": str, "score": float, "mentions": int},
        pk=("document_id", "topic"),
        foreign_keys=[("document_id", "documents", "id")],
        if_not_exists=True,
    )
    db["document_topics"].create_index(["topic", "stance"], if_not_exists=True)
    db["dossiers"].create(
        {
            "key": str, "source": str, "kind": str, "title": str, "url": str, "stage": str,
            "status": str, "updated_at": str, "fetched_at": str, "parser_version": str,
            "metadata": str, "latest_event_date": str, "latest_event": str,
        },
        pk="key",
        if_not_exists=True,
    )
    db["events"].create(
        {
            "id": str, "dossier_key": str, "source": str, "date": str, "kind": str,
            "description": str, "actor": str, "ref_url": str, "ref_id": str,
        },
        pk="id",
        foreign_keys=[("dossier_key", "dossiers", "key")],
        if_not_exists=True,
    )
    db["events"].create_index(["dossier_key", "date"], if_not_exists=True)
    db["document_links"].create(
        {"document_id": int, "relation": str, "target_source": str, "target_source_id": str},
        pk=("document_id", "relation", "target_source", "target_source_id"),
        foreign_keys=[("document_id", "documents", "id")],
        if_not_exists=True,
    )
    db["document_links"].create_index(["target_source", "target_source_id"], if_not_exists=True)
    db["digests"].create(
        {
            "id": int, "subscriber": str, "sent_at": str, "message_id": str, "subject": str,
            "items": int, "period_start": str, "period_end": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["digest_items"].create(
        {"digest_id": int, "mention_id": str, "subscriber": str},
        pk=("digest_id", "mention_id"),
        foreign_keys=[("digest_id", "digests", "id"), ("mention_id", "mentions", "id")],
        if_not_exists=True,
    )
    db["digest_items"].create_index(["subscriber", "mention_id"], unique=True, if_not_exists=True)
    db["seen_urls"].create({"url": str, "source": str, "reason": str, "seen_at": str}, pk="url", if_not_exists=True)
    db["http_validators"].create({"url": str, "etag": str, "last_modified": str, "stored_at": str}, pk="url", if_not_exists=True)
    db["documents"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter", replace=True)


def _digest_delivery(db: sqlite_utils.Database) -> None:
    """Digest delivery and the scheduled tick: skipped digests, dossier first-seen, locks, ticks, health indexes.

    ``digest_items.mention_id`` loses its foreign key: re-annotation deletes and re-inserts a document's
    mentions, and a delivered mention must neither block that nor vanish from the delivery history.
    """
    if any(fk.column == "mention_id" for fk in db["digest_items"].foreign_keys):
        db["digest_items"].transform(drop_foreign_keys=["mention_id"])
    db["digest_items"].create_index(["subscriber", "mention_id"], unique=True, if_not_exists=True)
    columns = db["digests"].columns_dict
    for column, kind in (("status", str), ("mentions_total", int), ("snapshot_rowid", int), ("error", str)):
        if column not in columns:
            db["digests"].add_column(column, kind)
    db.execute("update digests set status = 'sent' where status is null")
    db["digests"].create_index(["subscriber", "sent_at"], if_not_exists=True)
    if "first_seen_at" not in db["dossiers"].columns_dict:
        db["dossiers"].add_column("first_seen_at", str)
        db.execute("update dossiers set first_seen_at = fetched_at where first_seen_at is null")
    db.execute(
        "create trigger if not exists dossiers_first_seen after insert on dossiers when new.first_seen_at is null begin "
        "update dossiers set first_seen_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now') where key = new.key; end"
    )
    db["dossiers"].create_index(["first_seen_at"], if_not_exists=True)
    db["dossiers"].create_index(["latest_event_date"], if_not_exists=True)
    db["crawl_runs"].create_index(["source", "status"], if_not_exists=True)
    # The digest aggregates a subscriber's new mentions from this index alone (no table reads); it
    # replaces the (topic, first_seen_at) index, its prefix.
    db["mentions"].create_index(["topic", "first_seen_at", "entity_id", "stance", "document_id"],
                                index_name="idx_mentions_digest", if_not_exists=True)
    db.execute("drop index if exists idx_mentions_topic_first_seen_at")
    db["locks"].create(
        {"name": str, "pid": int, "host": str, "token": str, "acquired_at": str, "heartbeat_at": str},
        pk="name", if_not_exists=True,
    )
    db["ticks"].create(
        {"id": int, "started_at": str, "finished_at": str, "now": str, "status": str, "crawled": str,
         "annotated": int, "digests_sent": int, "digests_failed": int, "message": str},
        pk="id", if_not_exists=True,
    )


def _frontend_indexes(db: sqlite_utils.Database) -> None:
    """Indexes behind the Datasette front end: facets, date facets, sorted lists and canned queries."""
    indexes = {
        "documents": (["first_seen_at"], ["source", "published_at"], ["published_at", "id"]),
        "mentions": (["entity_id", "first_seen_at"], ["document_id", "entity_id", "stance"],
                     ["document_id", "topic", "stance"], ["topic", "stance"]),
        "document_topics": (["stance"],),
        "crawl_runs": (["source", "id"], ["status"]),
        "dossiers": (["kind", "latest_event_date"],),
        "entities": (["name"],),
    }
    for table, column_lists in indexes.items():
        for columns in column_lists:
            db[table].create_index(columns, if_not_exists=True)


def _news_stories(db: sqlite_utils.Database) -> None:
    """News story grouping: ``stories`` (one row per story, its outlets), ``documents.story_id`` and
    the per-article signatures the grouping compares (``document_signatures``)."""
    db["stories"].create(
        {"id": int, "title": str, "published_at": str, "first_seen_at": str, "last_seen_at": str,
         "documents": int, "outlets": str, "languages": str, "copies": str},
        pk="id", if_not_exists=True,
    )
    db["stories"].create_index(["first_seen_at"], if_not_exists=True)
    if "story_id" not in db["documents"].columns_dict:
        db["documents"].add_column("story_id", int)
    db["documents"].create_index(["story_id"], if_not_exists=True)
    db["document_signatures"].create(
        {"document_id": int, "text_hash": str, "minhash": bytes, "simhash": str, "names": str,
         "numbers": str, "title_words": str, "story_date": str},
        pk="document_id", foreign_keys=[("document_id", "documents", "id")], if_not_exists=True,
    )
    db["document_signatures"].create_index(["text_hash"], if_not_exists=True)
    db["document_signatures"].create_index(["story_date"], if_not_exists=True)


def _document_nlp_summary(db: sqlite_utils.Database) -> None:
    """Per-document NLP summary columns, so the documents table facets by stance, entity and topic."""
    columns = set(db["documents"].columns_dict)
    for name in ("stance", "entities", "topics"):
        if name not in columns:
            db["documents"].add_column(name, str)
    db["documents"].create_index(["stance"], if_not_exists=True)
    db.execute("update documents set nlp_hash = null where entities is null and nlp_hash is not null")  # re-annotate to fill them


def _source_health_state(db: sqlite_utils.Database) -> None:
    """Health judged once (db.health): the expectations it needs on ``sources`` (``interval_s``,
    ``expect_results``) and ``source_health_state``, which the ``source_health`` view reads. Dossiers'
    ``first_seen_at`` is stamped by db.dossiers from the product clock, no longer by a trigger reading
    SQLite's."""
    columns = db["sources"].columns_dict
    for column, kind in (("interval_s", float), ("expect_results", int)):
        if column not in columns:
            db["sources"].add_column(column, kind)
    fields = {name: (int if name in _COUNT_FIELDS else float if name == "hours_since_success" else str)
              for name in health.STATE_FIELDS}
    db["source_health_state"].create(fields, pk="source", if_not_exists=True)
    db.execute("drop trigger if exists dossiers_first_seen")
    health.refresh(db)


def _crawl_deferred_items(db: sqlite_utils.Database) -> None:
    """Deferrals ("not ready, retry later" upstream answers): ``deferred_items`` (per source and item:
    first and last deferral, attempts, message), ``crawl_runs.deferred`` and the health state's
    deferral columns."""
    if "deferred" not in db["crawl_runs"].columns_dict:
        db["crawl_runs"].add_column("deferred", int)
    db["deferred_items"].create(
        {"source": str, "item": str, "message": str, "first_deferred_at": str, "last_deferred_at": str, "attempts": int},
        pk=("source", "item"), if_not_exists=True,
    )
    columns = db["source_health_state"].columns_dict
    for name in ("deferred_items", "oldest_deferred_at"):
        if name not in columns:
            db["source_health_state"].add_column(name, int if name in _COUNT_FIELDS else str)
    health.refresh(db)


_COUNT_FIELDS = {"last_run_fetched", "last_run_new", "last_run_updated", "last_run_unchanged", "last_run_errors",
                 "items_ever", "recent_successful_runs", "recent_items", "runs_7d", "failed_runs_7d", "deferred_items"}

def _frontend_facet_index(db: sqlite_utils.Database) -> None:
    """The index behind the search page's facets, built here (at `tracker init` or the first crawl after
    an upgrade) rather than on the first `tracker serve`, where crawler writes would wait for it."""
    frontend.ensure_frontend(db)


def _integrity_checks(db: sqlite_utils.Database) -> None:
    """When the quick check last passed (`integrity_due`)."""
    db["integrity_checks"].create({"checked_at": str}, if_not_exists=True)


def _count_indexes(db: sqlite_utils.Database) -> None:
    """The index behind the count views' join to documents (``canonical_mentions``, ``mentions_by_week``):
    a mention's document is read from it (a few dozen bytes) instead of the documents row, where
    ``canonical_id``, added after the 20 KB text, is only reached by walking the text's overflow pages.
    The planner prefers the rowid for ``d.id = ?``, hence INDEXED BY in the views (db.views)."""
    db.execute(f"create index if not exists {COUNT_INDEX} on documents "
               "(id, canonical_id, source, jurisdiction, published_at, first_seen_at)")


Migration = tuple[str, Callable[[sqlite_utils.Database], None]]

# Append new migrations at the end (name them "NNNN_<area>_<what>"); never edit a shipped one.
MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
    ("0002_digest_delivery", _digest_delivery),
    ("0003_frontend_indexes", _frontend_indexes),
    ("0004_news_stories", _news_stories),
    ("0005_document_nlp_summary", _document_nlp_summary),
    ("0006_source_health_state", _source_health_state),
    ("0007_digest_claims", migrate_claims),
    ("0008_crawl_deferred_items", _crawl_deferred_items),
    ("0009_document_identities", identities.migrate),
    ("0010_follow_marks", follows.migrate),
    ("0011_digest_optouts", optouts.migrate),
    ("0012_frontend_facet_index", _frontend_facet_index),
    ("0013_count_indexes", _count_indexes),
    ("0014_integrity_checks", _integrity_checks),
]


SCHEMA_VERSION = len(MIGRATIONS)  # stored in ``PRAGMA user_version`` by `ensure_schema`


def check_version(db: sqlite_utils.Database) -> None:
    """Refuse a database written by a newer policy-tracker: a migration this version does not know is
    recorded in ``_migrations``, or its ``user_version`` is above `SCHEMA_VERSION`. Raises `SchemaTooNew`."""
    known = {name for name, _ in MIGRATIONS}
    applied = applied_migrations(db)
    unknown = [name for name in applied if name not in known]
    version = db.execute("pragma user_version").fetchone()[0]
    if unknown or version > SCHEMA_VERSION:
        theirs = max(version, len(applied))
        detail = f", with migrations {', '.join(unknown)} unknown here" if unknown else ""
        raise SchemaTooNew(f"written by a newer policy-tracker (schema version {theirs}{detail}; this one has schema "
                           f"version {SCHEMA_VERSION}, up to {MIGRATIONS[-1][0]}): upgrade policy-tracker; nothing was changed")


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    """Names of the migrations recorded in this database."""
    if "_migrations" not in db.table_names():
        return []
    return [row["name"] for row in db["_migrations"].rows_where(order_by="applied_at, name")]


def ensure_schema(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations in order, (re)declare views and record `SCHEMA_VERSION`; returns the
    names that ran. A database from a newer schema is refused before anything is written (`check_version`)."""
    check_version(db)
    db["_migrations"].create({"name": str, "applied_at": str}, pk="name", if_not_exists=True)
    done = set(applied_migrations(db))
    ran = []
    for name, migrate in MIGRATIONS:
        if name in done:
            continue
        migrate(db)  # migrations are written to be re-runnable: a crash mid-way is repaired by the next run
        db.execute("insert or ignore into _migrations (name, applied_at) values (?, ?)", [name, clock.now_iso()])
        ran.append(name)
    for name, sql in VIEWS.items():
        db.create_view(name, sql, replace=True)
    db.execute(f"pragma user_version = {SCHEMA_VERSION}")
    return ran
