"""Documents: upsert on (source, source_id), versions, links, identity keys (copies of one upstream
document through several sources, `db.identities`), and what a crawl asks about stored ones."""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from db import identities
from db.transaction import from_json, to_json, transaction

DOCUMENT_FIELDS = (
    "source", "source_id", "url", "title", "doc_type", "jurisdiction", "institution", "language",
    "published_at", "updated_at", "fetched_at", "content_hash", "text", "group_key", "parser_version",
    "metadata", "warnings",
)
KNOWN_FIELDS = ("id", "url", "title", "content_hash", "version", "updated_at", "published_at", "metadata")


def upsert_document(db: sqlite_utils.Database, doc: dict) -> tuple[str, int]:
    """Insert or update a document on (source, source_id); returns (outcome, document id).

    outcome is ``new``, ``updated`` (content hash changed: a new row in ``document_versions`` and
    ``version`` + 1) or ``unchanged`` (nothing is written). Metadata-only changes (e.g. a new
    ``updated_at``) refresh the row without a new version. Links are stored with the document, and
    its ``same_as`` identity keys: a document sharing a key with another one is a copy of it, its
    group's representative is re-chosen in the same transaction (`db.identities.attach`).
    A document with empty text is refused (``ValueError``): it never overwrites good data.
    """
    if not (doc.get("text") or "").strip():
        raise ValueError(f"refusing to store an empty document: {doc.get('source')}:{doc.get('source_id')}")
    row = {k: doc.get(k) for k in DOCUMENT_FIELDS}
    row["metadata"] = to_json(doc.get("metadata"))
    row["warnings"] = to_json(doc.get("warnings"))
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
                identities.attach(db, doc_id, doc.get("same_as") or [], changed=old_meta[-1] != row["metadata"])
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
        identities.attach(db, doc_id, doc.get("same_as") or [], changed=True)
    return outcome, doc_id


def _save_links(db: sqlite_utils.Database, doc_id: int, links: Iterable[dict]) -> None:
    for link in links:
        db.conn.execute(
            "insert or ignore into document_links (document_id, relation, target_source, target_source_id) values (?, ?, ?, ?)",
            [doc_id, link["relation"], link["target_source"], link["target_source_id"]],
        )


def known_document(db: sqlite_utils.Database, source: str, source_id: str) -> dict | None:
    """The stored row of a document (without text, metadata decoded), or None."""
    row = db.execute(
        f"select {', '.join(KNOWN_FIELDS)} from documents where source = ? and source_id = ?", [source, source_id],
    ).fetchone()
    if row is None:
        return None
    result = dict(zip(KNOWN_FIELDS, row))
    result["metadata"] = from_json(result["metadata"], {})
    return result


def related_ids(db: sqlite_utils.Database, kind: str) -> list[str]:
    """Distinct document group keys of one kind (``us-bill`` -> ``us-bill:118-hr-1724``, ...), from
    any source: how one source hands what it found to another (GovInfo bills -> congress-gov)."""
    rows = db.execute(
        "select distinct group_key from documents where group_key like ? order by group_key", [kind + ":%"]
    ).fetchall()
    return [row[0] for row in rows]
