"""NLP over stored documents: annotate what is new or changed (or everything after a model change)."""

from __future__ import annotations

import itertools
import logging
from functools import lru_cache

import sqlite_utils
from tqdm import tqdm

from db import reads, writes
from tracker.config import Config

log = logging.getLogger("tracker.annotation")


@lru_cache(maxsize=4)
def _annotator(topics_key: tuple):
    from nlp import Annotator

    return Annotator(topics={name: {"entities": list(e), "terms": list(t)} for name, e, t in topics_key})


def get_annotator(config: Config):
    """The NLP annotator for the configured topics (built once per process)."""
    key = tuple((t.name, tuple(t.entities), tuple(t.terms)) for t in config.topics.values())
    return _annotator(key)


def annotate_pending(db: sqlite_utils.Database, config: Config, all_documents: bool = False,
                     progress: bool = False) -> dict:
    """Annotate documents whose NLP is missing or stale; returns counts. Crash-safe: one transaction per document."""
    annotator = get_annotator(config)
    version = annotator.model_version
    docs = reads.pending_annotation(db, version, all_documents=all_documents)
    total = {"documents": 0, "mentions": 0, "new_mentions": 0}
    first = next(docs, None)
    if first is None:
        return total
    writes.save_entities(db, annotator.entity_rows())  # mentions reference them (topic entities included)
    docs = itertools.chain([first], docs)
    batch = int(config.nlp.get("batch_size", 64))
    pending: list[dict] = []

    def flush() -> None:
        inputs = ((d["id"], d["text"], d["language"]) for d in pending)
        for doc, result in zip(pending, annotator.annotate_many(inputs)):
            counts = writes.replace_annotations(db, doc["id"], result, doc["content_hash"], version, doc["version"])
            total["documents"] += 1
            total["mentions"] += counts["mentions"]
            total["new_mentions"] += counts["new_mentions"]
        pending.clear()

    for doc in tqdm(docs, desc="annotating", unit="doc", disable=not progress, leave=False):
        pending.append(doc)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    log.info("annotated %d documents, %d mentions (%d new)", total["documents"], total["mentions"], total["new_mentions"])
    return total
