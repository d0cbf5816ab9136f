"""News deduplication and story grouping: the policy (the similarity is `crawler.dedup`, pure; the
storage, one transaction per article, is `db.stories`).

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

import sqlite_utils

from crawler import dedup
from crawler.articles import DOC_TYPE
from db import clock
from db import stories as stored_stories

WINDOW_DAYS = 7


def is_article(row: dict) -> bool:
    """Whether a document row is a news article (stored through `store_article`)."""
    return row.get("doc_type") == DOC_TYPE


def _story_date(row: dict) -> str:
    return (row.get("published_at") or row.get("fetched_at") or clock.now_iso())[:10]


def _aliases(row: dict) -> list[str]:
    return [row["source_id"], *((row.get("metadata") or {}).get("aliases") or [])]


def best_story(signature: dedup.Signature, candidates: list[dict]) -> int | None:
    """The story of the most similar candidate (signature rows with ``story_id``) that reports the same story."""
    best: tuple[int, float] | None = None
    for row in candidates:
        same, scores = dedup.same_story(signature, dedup.Signature.from_row(row))
        if same and (best is None or scores["score"] > best[1]):
            best = (row["story_id"], scores["score"])
    return best[0] if best else None


def store_article(db: sqlite_utils.Database, row: dict) -> str:
    """Store one news article row (a `DocumentRecord` as dict with ``content_hash``) in one transaction;
    returns ``new``, ``updated`` or ``unchanged`` (an exact duplicate of another document counts as unchanged)."""
    signature = dedup.signature(row["title"] or "", row["text"] or "")
    return stored_stories.store_article(
        db, row, signature.to_row(), _story_date(row), _aliases(row),
        lambda candidates: best_story(signature, candidates), WINDOW_DAYS,
    )
