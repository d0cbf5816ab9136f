"""NLP over stored documents (annotate what is new or changed, or everything after a model change),
and the ``tracker annotate --jsonl`` stream.

``annotate_pending(..., workers=N)`` annotates on N processes: the parent reads the pending
documents and writes every result to SQLite in document order (one transaction per document, as
with one process); the workers only annotate. At most ``2 * N`` batches are in flight, so memory
stays bounded on a large backfill; the mentions are the same as with one process.
"""

from __future__ import annotations

import gc
import itertools
import json
import logging
import multiprocessing
from collections import deque
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TextIO

from tqdm import tqdm

if TYPE_CHECKING:  # `tracker annotate` needs neither the database nor the config types (0.2 s of imports)
    import sqlite_utils

    from tracker.config import Config

log = logging.getLogger("tracker.annotation")


@lru_cache(maxsize=4)
def _annotator(topics_key: tuple):
    from nlp import Annotator

    annotator = Annotator(topics={name: {"entities": list(e), "terms": list(t)} for name, e, t in topics_key})
    gc.freeze()  # the gazetteer's ~200,000 long-lived objects: out of the collector's way (~15 % less CPU)
    return annotator


def _topics_key(config: Config) -> tuple:
    return tuple((t.name, tuple(t.entities), tuple(t.terms)) for t in config.topics.values())


def get_annotator(config: Config):
    """The NLP annotator for the configured topics (built once per process)."""
    return _annotator(_topics_key(config))


# --- the annotate --jsonl stream --------------------------------------------------------------------

def annotate_jsonl(annotator, lines: TextIO, lang: str | None, emit: Callable[[str], None],
                   error: Callable[[str], None], chunk: int = 64) -> int:
    """Annotate JSON lines ``{"id", "text", "lang"?}``; ``emit`` gets one output line per input line, in
    order (an error object for a bad line, also reported through ``error``). Lines are read and
    annotated ``chunk`` at a time, so the stance model sees a batch, not one document per call.
    Returns the number of bad lines."""
    failed = 0
    numbered = ((n, line) for n, line in enumerate(lines, 1) if line.strip())
    while block := list(itertools.islice(numbered, chunk)):
        items: list[tuple[int, dict | None, str | None]] = []
        for number, line in block:
            try:
                item = json.loads(line)
                if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                    raise ValueError('expected an object with a "text" string')
                items.append((number, item, None))
            except ValueError as exc:
                items.append((number, None, str(exc)))
        good = [(item.get("id"), item["text"], item.get("lang") or lang) for _, item, _ in items if item is not None]
        results = iter(annotator.annotate_many(good))
        for number, item, problem in items:
            if item is None:
                failed += 1
                error(f"line {number}: {problem}")
                emit(json.dumps({"id": None, "line": number, "error": problem}))
            else:
                result = next(results)
                emit(json.dumps({"id": result.pop("id"), **result}, ensure_ascii=False))
    return failed


# --- stored documents --------------------------------------------------------------------------------

def _work(topics_key: tuple, docs: list[tuple]) -> list[dict]:
    """In a worker: annotate one batch of ``(id, text, lang)``."""
    return list(_annotator(topics_key).annotate_many(docs))


def _batches(docs: Iterator[dict], size: int) -> Iterator[list[dict]]:
    while batch := list(itertools.islice(docs, size)):
        yield batch


def _annotated(batches: Iterable[list[dict]], topics_key: tuple, workers: int) -> Iterator[tuple[dict, dict]]:
    """(document, result) pairs in document order, annotated here or on ``workers`` processes."""
    if workers <= 1:
        annotator = _annotator(topics_key)
        for batch in batches:
            yield from zip(batch, annotator.annotate_many((d["id"], d["text"], d["language"]) for d in batch))
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")  # fork shares the loaded models
    _annotator(topics_key).warm_up()  # loaded once here, not once per worker
    gc.freeze()
    with context.Pool(workers) as pool:
        in_flight: deque = deque()
        for batch in batches:
            inputs = [(d["id"], d["text"], d["language"]) for d in batch]
            in_flight.append((batch, pool.apply_async(_work, (topics_key, inputs))))
            if len(in_flight) >= 2 * workers:  # bounded: the parent waits before reading more
                done, pending = in_flight.popleft()
                yield from zip(done, pending.get())
        while in_flight:
            done, pending = in_flight.popleft()
            yield from zip(done, pending.get())


def annotate_pending(db: sqlite_utils.Database, config: Config, all_documents: bool = False,
                     progress: bool = False, workers: int = 1) -> dict:
    """Annotate documents whose NLP is missing or stale on ``workers`` processes; returns counts.
    Crash-safe: one transaction per document, written by this process only."""
    from db import reads, writes

    topics_key = _topics_key(config)
    annotator = _annotator(topics_key)
    version = annotator.model_version
    docs = reads.pending_annotation(db, version, all_documents=all_documents)
    total = {"documents": 0, "mentions": 0, "new_mentions": 0}
    first = next(docs, None)
    if first is None:
        return total
    writes.save_entities(db, annotator.entity_rows())  # mentions reference them (topic entities included)
    docs = itertools.chain([first], docs)
    batch = int(config.nlp.get("batch_size", 64))
    with tqdm(desc="annotating", unit="doc", disable=not progress, leave=False) as bar:
        for doc, result in _annotated(_batches(docs, batch), topics_key, workers):
            counts = writes.replace_annotations(db, doc["id"], result, doc["content_hash"], version, doc["version"])
            total["documents"] += 1
            total["mentions"] += counts["mentions"]
            total["new_mentions"] += counts["new_mentions"]
            bar.update()
    log.info("annotated %d documents, %d mentions (%d new)", total["documents"], total["mentions"], total["new_mentions"])
    return total
