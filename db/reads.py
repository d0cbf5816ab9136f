"""Reads: the queries the CLI, the orchestrator and the digest need."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import sqlite_utils


def known_document(db: sqlite_utils.Database, source: str, source_id: str) -> dict | None:
    """The stored row of a document (without text), or None."""
    row = db.execute(
        "select id, url, title, content_hash, version, updated_at, published_at, metadata from documents where source = ? and source_id = ?",
        [source, source_id],
    ).fetchone()
    if row is None:
        return None
    keys = ("id", "url", "title", "content_hash", "version", "updated_at", "published_at", "metadata")
    result = dict(zip(keys, row))
    result["metadata"] = json.loads(result["metadata"]) if result["metadata"] else {}
    return result


def related_ids(db: sqlite_utils.Database, kind: str) -> list[str]:
    """Distinct document group keys of one kind (``us-bill`` -> ``us-bill:118-hr-1724``, ...), from
    any source: how one source hands what it found to another (GovInfo bills -> congress-gov)."""
    rows = db.execute(
        "select distinct group_key from documents where group_key like ? order by group_key", [kind + ":%"]
    ).fetchall()
    return [row[0] for row in rows]


def known_dossier(db: sqlite_utils.Database, key: str) -> dict | None:
    """The stored row of a dossier (bill, procedure), metadata decoded, or None."""
    row = db.execute("select key, source, title, status, updated_at, metadata from dossiers where key = ?", [key]).fetchone()
    if row is None:
        return None
    result = dict(zip(("key", "source", "title", "status", "updated_at", "metadata"), row))
    result["metadata"] = json.loads(result["metadata"]) if result["metadata"] else {}
    return result


def seen_url(db: sqlite_utils.Database, url: str) -> bool:
    """True when the URL was judged before (stored or remembered as irrelevant)."""
    return db.execute("select 1 from seen_urls where url = ?", [url]).fetchone() is not None


def validators(db: sqlite_utils.Database, url: str) -> dict | None:
    """Stored ETag / Last-Modified of a URL."""
    row = db.execute("select etag, last_modified from http_validators where url = ?", [url]).fetchone()
    return {"etag": row[0], "last_modified": row[1]} if row else None


def pending_annotation(db: sqlite_utils.Database, model_version: str, all_documents: bool = False,
                       batch: int = 500) -> Iterator[dict]:
    """Documents whose NLP is missing or stale (content or model changed), streamed in id order."""
    where = "1 = 1" if all_documents else "(nlp_hash is null or nlp_hash != content_hash or nlp_version is null or nlp_version != ?)"
    params = [] if all_documents else [model_version]
    last_id = 0
    while True:
        rows = db.execute(
            f"select id, text, language, content_hash, version from documents where {where} and id > ? order by id limit ?",
            [*params, last_id, batch],
        ).fetchall()
        if not rows:
            return
        for row in rows:
            yield dict(zip(("id", "text", "language", "content_hash", "version"), row))
        last_id = rows[-1][0]


def fts_query(query: str) -> str:
    """Turn user input into a safe FTS5 query: words and "quoted phrases" are quoted, ``word*`` is a
    prefix search, AND / OR / NOT are kept; no other FTS syntax gets through."""
    phrases = re.findall(r'"([^"]+)"|(\S+)', query)
    tokens = []
    for quoted, word in phrases:
        text = (quoted or word).replace('"', "")
        if text.upper() in ("AND", "OR", "NOT"):
            tokens.append(text.upper())
        elif word and word.endswith("*") and text.strip("*"):
            tokens.append(f'"{text.strip("*")}"*')  # prefix search
        elif text:
            tokens.append(f'"{text}"')
    return " ".join(tokens)


def search(db: sqlite_utils.Database, query: str, entity: str | None = None, since: str | None = None,
           limit: int = 50) -> list[dict]:
    """Full-text search over title and text, optionally limited to documents mentioning ``entity``."""
    sql = """
        select d.id, d.source, d.source_id, d.title, d.url, d.doc_type, d.language, d.published_at,
               snippet(documents_fts, 1, '[', ']', ' … ', 16) as snippet, rank
        from documents_fts join documents d on d.id = documents_fts.rowid
        where documents_fts match :q"""
    params: dict = {"q": fts_query(query), "limit": limit}
    if entity:
        sql += " and exists (select 1 from mentions m where m.document_id = d.id and m.entity_id = :entity)"
        params["entity"] = entity
    if since:
        sql += " and coalesce(d.published_at, d.fetched_at) >= :since"
        params["since"] = since
    sql += " order by rank limit :limit"
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def source_rows(db: sqlite_utils.Database) -> dict[str, dict]:
    """The ``sources`` table keyed by id."""
    if "sources" not in db.table_names():
        return {}
    return {row["id"]: row for row in db["sources"].rows}


def last_runs(db: sqlite_utils.Database, source: str, limit: int = 10) -> list[dict]:
    """The most recent crawl runs of a source, newest first."""
    return list(db["crawl_runs"].rows_where("source = ?", [source], order_by="id desc", limit=limit))
