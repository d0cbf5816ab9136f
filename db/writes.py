"""Writes: upserts on natural keys, document versions, crawl-run bookkeeping, NLP results.

Each public function is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), so a crash leaves either
the whole write or none of it. Raw SQL is used inside transactions because sqlite-utils' insert
helpers commit on their own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import sqlite_utils

from db.clock import now_iso as now

DOCUMENT_FIELDS = (
    "source", "source_id", "url", "title", "doc_type", "jurisdiction", "institution", "language",
    "published_at", "updated_at", "fetched_at", "content_hash", "text", "group_key", "parser_version",
    "metadata", "warnings",
)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction; rolled back on any exception."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def _upsert(db: sqlite_utils.Database, table: str, row: dict, pk: tuple[str, ...]) -> None:
    columns = list(row)
    updates = [c for c in columns if c not in pk]
    sql = (
        f"insert into [{table}] ({', '.join(f'[{c}]' for c in columns)}) values ({', '.join('?' for _ in columns)}) "
        f"on conflict ({', '.join(f'[{c}]' for c in pk)}) do "
        + (f"update set {', '.join(f'[{c}] = excluded.[{c}]' for c in updates)}" if updates else "nothing")
    )
    db.conn.execute(sql, [row[c] for c in columns])


def _json(value) -> str | None:
    return None if value in (None, {}, []) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def upsert_document(db: sqlite_utils.Database, doc: dict) -> tuple[str, int]:
    """Insert or update a document on (source, source_id); returns (outcome, document id).

    outcome is ``new``, ``updated`` (content hash changed: a new row in ``document_versions`` and
    ``version`` + 1) or ``unchanged`` (nothing is written). Metadata-only changes (e.g. a new
    ``updated_at``) refresh the row without a new version. Links are stored with the document.
    """
    if not (doc.get("text") or "").strip():
        raise ValueError(f"refusing to store an empty document: {doc.get('source')}:{doc.get('source_id')}")
    row = {k: doc.get(k) for k in DOCUMENT_FIELDS}
    row["metadata"] = _json(doc.get("metadata"))
    row["warnings"] = _json(doc.get("warnings"))
    with transaction(db):
        existing = db.execute(
            "select id, content_hash, version, url, title, updated_at, metadata from documents where source = ? and source_id = ?",
            [row["source"], row["source_id"]],
        ).fetchone()
        if existing is None:
            columns = [*row, "version", "first_seen_at"]
            cursor = db.conn.execute(
                f"insert into documents ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
                [*row.values(), 1, row["fetched_at"]],
            )
            doc_id, outcome, version = cursor.lastrowid, "new", 1
        else:
            doc_id, old_hash, version, *old_meta = existing
            if old_hash == row["content_hash"]:
                if [row["url"], row["title"], row["updated_at"], row["metadata"]] != old_meta:
                    db.conn.execute(
                        "update documents set url = ?, title = ?, updated_at = ?, metadata = ? where id = ?",
                        [row["url"], row["title"], row["updated_at"], row["metadata"], doc_id],
                    )
                _save_links(db, doc_id, doc.get("links") or [])
                return "unchanged", doc_id
            version += 1
            sets = ", ".join(f"{k} = ?" for k in row)
            db.conn.execute(f"update documents set {sets}, version = ? where id = ?", [*row.values(), version, doc_id])
            outcome = "updated"
        db.conn.execute(
            "insert or replace into document_versions (document_id, version, content_hash, fetched_at, title, text) values (?, ?, ?, ?, ?, ?)",
            [doc_id, version, row["content_hash"], row["fetched_at"], row["title"], row["text"]],
        )
        _save_links(db, doc_id, doc.get("links") or [])
    return outcome, doc_id


def _save_links(db: sqlite_utils.Database, doc_id: int, links: Iterable[dict]) -> None:
    for link in links:
        db.conn.execute(
            "insert or ignore into document_links (document_id, relation, target_source, target_source_id) values (?, ?, ?, ?)",
            [doc_id, link["relation"], link["target_source"], link["target_source_id"]],
        )


def event_id(dossier_key: str, event: dict) -> str:
    """Natural key of an event: the same step re-crawled maps to the same row."""
    raw = "|".join(str(event.get(k) or "") for k in ("date", "kind", "description", "ref_id"))
    return hashlib.sha1(f"{dossier_key}|{raw}".encode()).hexdigest()[:20]


def save_dossier(db: sqlite_utils.Database, dossier: dict) -> str:
    """Upsert a bill or procedure with its events; returns ``new``, ``updated`` or ``unchanged``.

    Several sources may describe one dossier (the Parliament's API and the Observatory both know a
    procedure): the first source to store it owns its fields, others only fill fields still empty,
    and every source's events are kept. The latest event is computed over all of them.
    """
    row = {
        "key": dossier["key"], "source": dossier["source"], "kind": dossier["kind"], "title": dossier["title"],
        "url": dossier["url"], "stage": dossier.get("stage"), "status": dossier.get("status"),
        "updated_at": dossier.get("updated_at"), "fetched_at": dossier["fetched_at"],
        "parser_version": dossier.get("parser_version"), "metadata": _json(dossier.get("metadata")),
    }
    compared = ("source", "title", "url", "stage", "status", "updated_at", "metadata", "latest_event_date", "latest_event")
    with transaction(db):
        found = db.execute(f"select {', '.join(compared)} from dossiers where key = ?", [row["key"]]).fetchone()
        existing = dict(zip(compared, found)) if found else None
        if existing and existing["source"] != row["source"]:
            row = {k: (existing[k] if existing.get(k) is not None else v) for k, v in row.items()}
            row["source"] = existing["source"]
        elif existing:  # the owner does not erase what another source filled in (no ping-pong between them)
            row = {k: (existing[k] if v is None and existing.get(k) is not None else v) for k, v in row.items()}
        if existing is None:  # the row must exist before its events (foreign key)
            _upsert(db, "dossiers", row, ("key",))
        new_events = 0
        for event in dossier.get("events") or []:
            new_events += db.conn.execute(
                "insert or ignore into events (id, dossier_key, source, date, kind, description, actor, ref_url, ref_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [event_id(row["key"], event), row["key"], dossier["source"], event.get("date"), event.get("kind"),
                 event.get("description"), event.get("actor"), event.get("ref_url"), event.get("ref_id")],
            ).rowcount
        latest = db.execute(
            "select date, description from events where dossier_key = ? order by date desc, kind desc limit 1", [row["key"]]
        ).fetchone()
        row["latest_event_date"], row["latest_event"] = latest if latest else (None, None)
        changed = existing is None or any(existing[c] != row[c] for c in compared)
        if changed:
            _upsert(db, "dossiers", row, ("key",))
    if existing is None:
        return "new"
    return "updated" if changed or new_events else "unchanged"


def register_sources(db: sqlite_utils.Database, sources: Iterable[dict]) -> None:
    """Upsert the configured sources (title, base URL, enabled, interval); run history is kept."""
    with transaction(db):
        for source in sources:
            _upsert(db, "sources", source, ("id",))


def start_run(db: sqlite_utils.Database, source: str) -> int:
    """Open a crawl run; returns its id. Runs of this source left ``running`` by a killed process are closed as failed."""
    with transaction(db):
        db.conn.execute(
            "update crawl_runs set status = 'failed', finished_at = ?, message = 'interrupted (process ended before the run finished)' where source = ? and status = 'running'",
            [now(), source],
        )
        cursor = db.conn.execute(
            "insert into crawl_runs (source, started_at, status, fetched, new, updated, unchanged, errors, requests) values (?, ?, 'running', 0, 0, 0, 0, 0, 0)",
            [source, now()],
        )
        db.conn.execute("update sources set last_run_at = ? where id = ?", [now(), source])
    return cursor.lastrowid


def finish_run(db: sqlite_utils.Database, run_id: int, source: str, status: str, counts: dict,
               message: str | None, watermark: str | None, validators: dict[str, dict]) -> None:
    """Close a crawl run and update the source row; validators and watermark only move on success."""
    finished = now()
    with transaction(db):
        db.conn.execute(
            "update crawl_runs set finished_at = ?, status = ?, fetched = ?, new = ?, updated = ?, unchanged = ?, errors = ?, requests = ?, message = ? where id = ?",
            [finished, status, counts.get("fetched", 0), counts.get("new", 0), counts.get("updated", 0),
             counts.get("unchanged", 0), counts.get("errors", 0), counts.get("requests", 0), message, run_id],
        )
        if status == "ok":
            db.conn.execute(
                "update sources set last_status = ?, last_success_at = ?, last_error = null, watermark = coalesce(?, watermark) where id = ?",
                [status, finished, watermark, source],
            )
            for url, v in validators.items():
                _upsert(db, "http_validators", {"url": url, "etag": v.get("etag"), "last_modified": v.get("last_modified"), "stored_at": finished}, ("url",))
        else:
            db.conn.execute("update sources set last_status = ?, last_error = ? where id = ?", [status, message, source])


def remember_url(db: sqlite_utils.Database, url: str, source: str, reason: str) -> None:
    """Remember a URL judged once (e.g. an article about nothing we watch) so it is not fetched again."""
    with transaction(db):
        _upsert(db, "seen_urls", {"url": url, "source": source, "reason": reason, "seen_at": now()}, ("url",))


def save_entities(db: sqlite_utils.Database, rows: Iterable[dict]) -> int:
    """Upsert gazetteer entities (id, name, type, country, aliases, external_ids, parent)."""
    count = 0
    with transaction(db):
        for row in rows:
            _upsert(db, "entities", {
                "id": row["id"], "name": row["name"], "type": row["type"], "country": row.get("country"),
                "aliases": _json(row.get("aliases")), "external_ids": _json(row.get("external_ids")),
                "parent": row.get("parent"),
            }, ("id",))
            count += 1
    return count


def mention_key(document_id: int, mention: dict, occurrence: int) -> str:
    """Stable mention id: document, entity, the sentence's text and the occurrence within it.

    Stable across re-annotation and edits elsewhere in the document, so a digest never resends a
    mention because the model or an unrelated paragraph changed.
    """
    sentence = " ".join((mention.get("sentence") or "").split())
    raw = f"{document_id}|{mention['entity']}|{sentence}|{occurrence}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]


def replace_annotations(db: sqlite_utils.Database, document_id: int, annotation: dict, content_hash: str,
                        model_version: str, document_version: int) -> dict:
    """Store one document's mentions and topic stances, keeping ``first_seen_at`` of mentions seen before."""
    seen_at = now()
    with transaction(db):
        previous = dict(db.execute("select id, first_seen_at from mentions where document_id = ?", [document_id]).fetchall())
        db.conn.execute("delete from mentions where document_id = ?", [document_id])
        db.conn.execute("delete from document_topics where document_id = ?", [document_id])
        occurrences: dict[tuple, int] = {}
        new = 0
        for mention in annotation.get("mentions", []):
            sentence_key = (mention["entity"], " ".join((mention.get("sentence") or "").split()))
            occurrences[sentence_key] = occurrences.get(sentence_key, 0) + 1
            key = mention_key(document_id, mention, occurrences[sentence_key])
            new += key not in previous
            db.conn.execute(
                "insert or replace into mentions (id, document_id, entity_id, topic, text, sentence, start, end, stance, stance_score, model_version, document_version, first_seen_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [key, document_id, mention["entity"], mention.get("topic"), mention.get("text"), mention.get("sentence"),
                 mention.get("start"), mention.get("end"), mention.get("stance"), mention.get("stance_score"),
                 model_version, document_version, previous.get(key, seen_at)],
            )
        for topic in annotation.get("topics", []):
            db.conn.execute(
                "insert or replace into document_topics (document_id, topic, stance, score, mentions) values (?, ?, ?, ?, ?)",
                [document_id, topic["topic"], topic.get("stance"), topic.get("score"), topic.get("mentions", 0)],
            )
        entities = sorted({m["entity"] for m in annotation.get("mentions", [])})
        present = [t for t in annotation.get("topics", []) if t.get("mentions")]
        main = max(present, key=lambda t: t["mentions"], default=None)
        db.conn.execute(
            "update documents set nlp_hash = ?, nlp_version = ?, language = coalesce(language, ?), stance = ?, entities = ?, topics = ? where id = ?",
            [content_hash, model_version, annotation.get("lang"), main.get("stance") if main else None,
             json.dumps(entities), json.dumps([t["topic"] for t in present]), document_id],
        )
    return {"mentions": len(annotation.get("mentions", [])), "new_mentions": new}
