"""Full-text search over documents (title, text) with entity and date filters."""

from __future__ import annotations

import re

import sqlite_utils


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
    """Full-text search over title and text, optionally limited to documents mentioning ``entity``
    and published (else fetched) on or after ``since``; best match first."""
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
