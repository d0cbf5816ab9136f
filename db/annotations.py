"""Annotation state: which documents need NLP (the one "pending" rule), their mentions and topic
stances, and the gazetteer's entities.

A document needs NLP when it was never annotated, its content changed since (``nlp_hash`` is not
its ``content_hash``), or it was annotated by another model (``nlp_version`` is not the current
model version: a gazetteer or stance-model upgrade). `pending_annotation` (what gets annotated)
and `has_pending_annotation` (whether the tick starts NLP at all) share that rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

import sqlite_utils

from db import clock
from db.transaction import to_json, transaction, upsert_row

STALE = "(nlp_hash is null or nlp_hash != content_hash or nlp_version is null or nlp_version != :model_version)"
PENDING_FIELDS = ("id", "text", "language", "content_hash", "version")


def has_pending_annotation(db: sqlite_utils.Database, model_version: str) -> bool:
    """Whether any document needs NLP with this model version."""
    return db.execute(f"select 1 from documents where {STALE} limit 1", {"model_version": model_version}).fetchone() is not None


def pending_annotation(db: sqlite_utils.Database, model_version: str, all_documents: bool = False,
                       batch: int = 500) -> Iterator[dict]:
    """Documents whose NLP is missing or stale (every document with ``all_documents``), streamed in id order."""
    where = "1 = 1" if all_documents else STALE
    last_id = 0
    while True:
        rows = db.execute(
            f"select {', '.join(PENDING_FIELDS)} from documents where {where} and id > :last_id order by id limit :batch",
            {"model_version": model_version, "last_id": last_id, "batch": batch},
        ).fetchall()
        if not rows:
            return
        for row in rows:
            yield dict(zip(PENDING_FIELDS, row))
        last_id = rows[-1][0]


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
    seen_at = clock.now_iso()
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


def save_entities(db: sqlite_utils.Database, rows: Iterable[dict]) -> int:
    """Upsert gazetteer entities (id, name, type, country, aliases, external_ids, parent)."""
    count = 0
    with transaction(db):
        for row in rows:
            upsert_row(db, "entities", {
                "id": row["id"], "name": row["name"], "type": row["type"], "country": row.get("country"),
                "aliases": to_json(row.get("aliases")), "external_ids": to_json(row.get("external_ids")),
                "parent": row.get("parent"),
            }, ("id",))
            count += 1
    return count
