"""News deduplication and story grouping over the database (the pure parts are in `crawler.dedup`).

`store_article` is how the orchestrator stores a ``news_article`` record:

1. exact duplicate: the same normalised text already stored under another URL (another outlet's
   copy of a wire story, the same article found by both `news-rss` and `gdelt`) is not stored
   again; its URL is remembered (``seen_urls``, reason ``duplicate of document N``) and listed
   with its outlet among the story's ``copies``;
2. otherwise the document is upserted, its signature (MinHash, SimHash, names, numbers, title
   words) saved, and a new document joins the story of the most similar article published within
   ``WINDOW_DAYS`` (`crawler.dedup.same_story`), else starts a story of its own;
3. the document's URL and aliases are remembered as ``stored`` so no source fetches them again.

A ``stories`` row carries the story's title (its earliest article's), first publication, document
count, outlets and languages, so a digest shows one story with its outlets, not five copies.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import sqlite_utils

from crawler import dedup
from crawler.articles import DOC_TYPE
from db import clock, writes

WINDOW_DAYS = 7


def is_article(row: dict) -> bool:
    """Whether a document row is a news article (stored through `store_article`)."""
    return row.get("doc_type") == DOC_TYPE


def _story_date(row: dict) -> str:
    return (row.get("published_at") or row.get("fetched_at") or clock.now_iso())[:10]


def _aliases(row: dict) -> list[str]:
    return [row["source_id"], *((row.get("metadata") or {}).get("aliases") or [])]


def store_article(db: sqlite_utils.Database, row: dict) -> str:
    """Store one news article row (a `DocumentRecord` as dict with ``content_hash``); returns
    ``new``, ``updated`` or ``unchanged`` (an exact duplicate of another document counts as unchanged)."""
    signature = dedup.signature(row["title"] or "", row["text"] or "")
    copy_of = db.execute(
        "select d.id, d.story_id from document_signatures s join documents d on d.id = s.document_id "
        "where s.text_hash = ? and not (d.source = ? and d.source_id = ?) order by d.id limit 1",
        [signature.text_hash, row["source"], row["source_id"]],
    ).fetchone()
    if copy_of is not None:
        doc_id, story_id = copy_of
        for url in _aliases(row):
            writes.remember_url(db, url, row["source"], f"duplicate of document {doc_id}")
        if story_id is not None:
            _add_copy(db, story_id, row["source_id"], row.get("institution"))
        return "unchanged"
    outcome, doc_id = writes.upsert_document(db, row)
    stored = db.execute("select 1 from document_signatures where document_id = ?", [doc_id]).fetchone()
    if outcome != "unchanged" or stored is None:
        with writes.transaction(db):
            db.conn.execute(
                "insert or replace into document_signatures (document_id, text_hash, minhash, simhash, names, numbers, "
                "title_words, story_date) values (:document_id, :text_hash, :minhash, :simhash, :names, :numbers, "
                ":title_words, :story_date)",
                {"document_id": doc_id, "story_date": _story_date(row), **signature.to_row()},
            )
        story_id = db.execute("select story_id from documents where id = ?", [doc_id]).fetchone()[0]
        if story_id is None:
            story_id = assign_story(db, doc_id, signature, _story_date(row))
        refresh_story(db, story_id)
    for url in _aliases(row):
        writes.remember_url(db, url, row["source"], "stored")
    return outcome


def best_match(db: sqlite_utils.Database, doc_id: int, signature: dedup.Signature, day: str) -> tuple[int, dict] | None:
    """(story id, scores) of the most similar article in another document published within the window."""
    start = date.fromisoformat(day) - timedelta(days=WINDOW_DAYS)
    end = date.fromisoformat(day) + timedelta(days=WINDOW_DAYS)
    rows = db.execute(
        "select s.document_id, s.text_hash, s.minhash, s.simhash, s.names, s.numbers, s.title_words, d.story_id "
        "from document_signatures s join documents d on d.id = s.document_id "
        "where s.document_id != ? and d.story_id is not null and s.story_date between ? and ?",
        [doc_id, start.isoformat(), end.isoformat()],
    ).fetchall()
    best: tuple[int, dict] | None = None
    for row in rows:
        other = dedup.Signature.from_row(dict(zip(
            ("document_id", "text_hash", "minhash", "simhash", "names", "numbers", "title_words"), row[:7])))
        same, scores = dedup.same_story(signature, other)
        if same and (best is None or scores["score"] > best[1]["score"]):
            best = (row[7], scores)
    return best


def assign_story(db: sqlite_utils.Database, doc_id: int, signature: dedup.Signature, day: str) -> int:
    """Put a document into the story of its best match, or into a new story; returns the story id."""
    match = best_match(db, doc_id, signature, day)
    with writes.transaction(db):
        if match is None:
            story_id = db.conn.execute(
                "insert into stories (first_seen_at, documents, copies) values (?, 0, null)", [clock.now_iso()]
            ).lastrowid
        else:
            story_id = match[0]
        db.conn.execute("update documents set story_id = ? where id = ?", [story_id, doc_id])
    return story_id


def _add_copy(db: sqlite_utils.Database, story_id: int, url: str, outlet: str | None) -> None:
    with writes.transaction(db):
        row = db.execute("select copies from stories where id = ?", [story_id]).fetchone()
        copies = json.loads(row[0]) if row and row[0] else []
        if all(c["url"] != url for c in copies):
            copies.append({"url": url, "outlet": outlet})
            db.conn.execute("update stories set copies = ? where id = ?", [json.dumps(copies, ensure_ascii=False), story_id])
    refresh_story(db, story_id)


def refresh_story(db: sqlite_utils.Database, story_id: int) -> None:
    """Recompute a story's title, dates, document count, outlets and languages from its documents."""
    docs = db.execute(
        "select title, institution, language, published_at, first_seen_at from documents where story_id = ? "
        "order by coalesce(published_at, first_seen_at), id",
        [story_id],
    ).fetchall()
    if not docs:
        return
    copies_raw = db.execute("select copies from stories where id = ?", [story_id]).fetchone()[0]
    copies = json.loads(copies_raw) if copies_raw else []
    outlets = list(dict.fromkeys([d[1] for d in docs if d[1]] + [c["outlet"] for c in copies if c.get("outlet")]))
    languages = sorted({d[2] for d in docs if d[2]})
    with writes.transaction(db):
        db.conn.execute(
            "update stories set title = ?, published_at = ?, first_seen_at = ?, last_seen_at = ?, documents = ?, "
            "outlets = ?, languages = ? where id = ?",
            [docs[0][0], min((d[3] for d in docs if d[3]), default=None), min(d[4] for d in docs if d[4]),
             max(d[4] for d in docs if d[4]), len(docs), json.dumps(outlets, ensure_ascii=False),
             json.dumps(languages), story_id],
        )
