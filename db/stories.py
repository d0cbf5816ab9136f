"""News stories: one article is stored in one transaction with its signature, its story and the URLs
it answers for (see `tracker.stories` for the grouping policy, `crawler.dedup` for the similarity).

`store_article` either records the article as an exact copy of a stored one (same normalised text
under another URL: its URLs are remembered as duplicates and it is listed among the story's
``copies``) or upserts it, saves its signature, puts a new document into the story ``pick_story``
chooses among the signatures of the window (else a new story), refreshes the story's summary, and
remembers its URLs as stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import sqlite_utils

from db import clock, identities
from db.documents import upsert_document
from db.runs import remember_url
from db.transaction import transaction

SIGNATURE_FIELDS = ("document_id", "text_hash", "minhash", "simhash", "names", "numbers", "title_words")


def store_article(db: sqlite_utils.Database, row: dict, signature: dict, story_date: str, aliases: list[str],
                  pick_story: Callable[[list[dict]], int | None], window_days: int) -> str:
    """Store one news article (a document row with ``content_hash``; ``signature``: its signature row
    without ``document_id``); returns ``new``, ``updated`` or ``unchanged`` (an exact copy of another
    document is ``unchanged``). ``pick_story`` gets the signature rows (with ``story_id``) of the
    other articles dated within ``window_days`` of ``story_date`` and returns the story to join, or None."""
    with transaction(db):
        copy_of = db.execute(
            "select d.id, d.story_id from document_signatures s join documents d on d.id = s.document_id "
            "where s.text_hash = ? and not (d.source = ? and d.source_id = ?) order by d.id limit 1",
            [signature["text_hash"], row["source"], row["source_id"]],
        ).fetchone()
        if copy_of is not None:
            doc_id, story_id = copy_of
            # the copy is not stored, but what it is stays known: its keys (its URL) name the stored article
            identities.attach(db, doc_id, row.get("same_as") or [], changed=False)
            for url in aliases:
                remember_url(db, url, row["source"], f"duplicate of document {doc_id}")
            if story_id is not None:
                _add_copy(db, story_id, row["source_id"], row.get("institution"))
                refresh_story(db, story_id)
            return "unchanged"
        outcome, doc_id = upsert_document(db, row)
        stored = db.execute("select 1 from document_signatures where document_id = ?", [doc_id]).fetchone()
        if outcome != "unchanged" or stored is None:
            db.conn.execute(
                "insert or replace into document_signatures (document_id, text_hash, minhash, simhash, names, numbers, "
                "title_words, story_date) values (:document_id, :text_hash, :minhash, :simhash, :names, :numbers, "
                ":title_words, :story_date)",
                {**signature, "document_id": doc_id, "story_date": story_date},
            )
            story_id = db.execute("select story_id from documents where id = ?", [doc_id]).fetchone()[0]
            if story_id is None:
                story_id = pick_story(_candidates(db, doc_id, story_date, window_days))
                if story_id is None:
                    story_id = db.conn.execute("insert into stories (first_seen_at, documents, copies) values (?, 0, null)",
                                               [clock.now_iso()]).lastrowid
                db.conn.execute("update documents set story_id = ? where id = ?", [story_id, doc_id])
            refresh_story(db, story_id)
        for url in aliases:
            remember_url(db, url, row["source"], "stored")
    return outcome


def _candidates(db: sqlite_utils.Database, doc_id: int, day: str, window_days: int) -> list[dict]:
    """Signature rows (with ``story_id``) of the other grouped articles dated within the window around ``day``."""
    start = date.fromisoformat(day) - timedelta(days=window_days)
    end = date.fromisoformat(day) + timedelta(days=window_days)
    rows = db.execute(
        f"select {', '.join('s.' + f for f in SIGNATURE_FIELDS)}, d.story_id "
        "from document_signatures s join documents d on d.id = s.document_id "
        "where s.document_id != ? and d.story_id is not null and s.story_date between ? and ?",
        [doc_id, start.isoformat(), end.isoformat()],
    ).fetchall()
    return [dict(zip((*SIGNATURE_FIELDS, "story_id"), r)) for r in rows]


def _add_copy(db: sqlite_utils.Database, story_id: int, url: str, outlet: str | None) -> None:
    row = db.execute("select copies from stories where id = ?", [story_id]).fetchone()
    copies = json.loads(row[0]) if row and row[0] else []
    if all(c["url"] != url for c in copies):
        copies.append({"url": url, "outlet": outlet})
        db.conn.execute("update stories set copies = ? where id = ?", [json.dumps(copies, ensure_ascii=False), story_id])


def refresh_story(db: sqlite_utils.Database, story_id: int) -> None:
    """Recompute a story's title (its earliest article's), dates, document count, outlets and languages."""
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
    with transaction(db):
        db.conn.execute(
            "update stories set title = ?, published_at = ?, first_seen_at = ?, last_seen_at = ?, documents = ?, "
            "outlets = ?, languages = ? where id = ?",
            [docs[0][0], min((d[3] for d in docs if d[3]), default=None), min(d[4] for d in docs if d[4]),
             max(d[4] for d in docs if d[4]), len(docs), json.dumps(outlets, ensure_ascii=False),
             json.dumps(languages), story_id],
        )
