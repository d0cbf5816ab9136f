"""Full-text search over documents (title, text) with entity and date filters."""

from __future__ import annotations

import sqlite_utils

from db.frontend import fts_query


class QueryError(ValueError):
    """The search text cannot be searched (only operators, only an exclusion, nothing searchable); the
    message says why in one line."""


def match_expression(query: str) -> str:
    """The user's search as one FTS5 MATCH expression, by the front end's parser (`db.frontend.parse_search`:
    words, "phrases", ``word*``, AND / OR / NOT between terms, stray quotes and brackets tolerated),
    so the CLI and the web read a query alike; raises `QueryError`."""
    try:
        return fts_query(query)
    except ValueError as exc:
        raise QueryError(str(exc)) from None


def search(db: sqlite_utils.Database, query: str, entity: str | None = None, since: str | None = None,
           limit: int = 50) -> list[dict]:
    """Full-text search over title and text, optionally limited to documents mentioning ``entity``
    and published (else fetched) on or after ``since``; best match first. Raises `QueryError`.
    One row per upstream document: copies reached through several sources are one result, the
    representative's (`db.identities`), with the best-matching copy's snippet."""
    sql = """
        select c.id, c.source, c.source_id, c.title, c.url, c.doc_type, c.language, c.published_at,
               snippet(documents_fts, 1, '[', ']', ' … ', 16) as snippet, rank
        from documents_fts join documents d on d.id = documents_fts.rowid
        join documents c on c.id = coalesce(d.canonical_id, d.id)
        where documents_fts match :q"""
    params: dict = {"q": match_expression(query), "limit": limit}
    if entity:
        sql += " and exists (select 1 from mentions m where m.document_id = d.id and m.entity_id = :entity)"
        params["entity"] = entity
    if since:
        sql += " and coalesce(d.published_at, d.fetched_at) >= :since"
        params["since"] = since
    sql += " order by rank limit :limit"
    while True:  # copies share a result: read further until ``limit`` documents or the last match
        cursor = db.execute(sql, params)
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
        best: dict = {}
        for row in rows:
            best.setdefault(row[0], row)
        if len(best) >= limit or len(rows) < params["limit"]:
            return [dict(zip(columns, row)) for row in list(best.values())[:limit]]
        params["limit"] *= 4
