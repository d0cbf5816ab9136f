"""The crawl orchestrator: run sources, store their records, record every run, then annotate.

Each source runs in isolation: whatever it raises is recorded on its crawl run (``failed`` or
``blocked``) and the next source still runs. Records are stored one transaction each; an empty
document is refused (never overwrites good data); a news article is stored with its story in one
transaction (`tracker.stories`). The watermark and the HTTP validators move only
when a run ends ``ok``. An item the upstream has not ready yet (`crawler.errors.NotReady`, e.g.
Cellar's 202) is deferred: the run can still be ``ok`` (its ``deferred`` count says how many), the
watermark stays before the earliest deferred item so the next run reads it again, and
``deferred_items`` remembers since when (health turns ``degraded`` after days, `db.health`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import sqlite_utils

from crawler.base import CrawlContext
from crawler.errors import BlockedError, FetchError
from crawler.http import HttpClient
from crawler.logs import source_log
from crawler.records import DocumentRecord, DossierRecord
from crawler.registry import SOURCES, get_source
from db import documents, dossiers, runs
from tracker import stories
from tracker.annotation import get_annotator
from tracker.config import Config

log = logging.getLogger("tracker.crawl")
PROGRESS_EVERY = 25


@dataclass
class RunResult:
    """The outcome of one source's crawl run."""

    source: str
    run_id: int
    status: str
    counts: dict = field(default_factory=dict)
    message: str | None = None

    def summary(self, requests: bool = False) -> str:
        """``federal-register: ok (new 3, updated 0, unchanged 0, errors 0): message`` (the CLI's line;
        ``deferred N`` appears when items were deferred)."""
        c = {k: self.counts.get(k, 0) for k in ("new", "updated", "unchanged", "errors", "requests", "deferred")}
        return (f"{self.source}: {self.status} (new {c['new']}, updated {c['updated']}, unchanged {c['unchanged']}, "
                f"errors {c['errors']}" + (f", deferred {c['deferred']}" if c["deferred"] else "")
                + (f", requests {c['requests']}" if requests else "") + ")" + (f": {self.message}" if self.message else ""))

    def as_dict(self) -> dict:
        """The ``--json`` shape of a run (docs/reliability.md, "JSON output")."""
        return {"source": self.source, "run_id": self.run_id, "status": self.status,
                "counts": {k: self.counts.get(k, 0) for k in (*runs.COUNTS,)}, "message": self.message}


class _DbValidators:
    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    def get_validators(self, url: str) -> dict | None:
        return runs.validators(self.db, url)


def source_rows(config: Config) -> list[dict]:
    """Rows for the ``sources`` table from the registry and the configuration (with what health is judged by)."""
    return [
        {
            "id": sid, "title": cls.title, "jurisdiction": cls.jurisdiction, "kind": cls.kind,
            "base_url": config.sources[sid].base_url, "enabled": int(config.sources[sid].enabled),
            "interval": config.sources[sid].interval, "interval_s": config.sources[sid].interval_s,
            "expect_results": int(config.sources[sid].expect_results),
        }
        for sid, cls in SOURCES.items()
    ]


def build_context(db: sqlite_utils.Database, config: Config, source_id: str, since: str | None,
                  full: bool, max_docs: int | None, relevance=None, crawl_urls: set[str] | None = None) -> CrawlContext:
    """The context a source runs with: client, settings, topics and the database callbacks;
    ``crawl_urls`` is the set of article URLs fetched in this crawl, shared by its sources."""
    source_config = config.sources[source_id]
    client = HttpClient(config.http, source_id=source_id, validators=_DbValidators(db))
    stored = runs.source_rows(db).get(source_id, {})
    context = CrawlContext(
        source_id=source_id,
        settings=source_config.settings(),
        topics=config.topic_list(),
        client=client,
        since=since or (None if full else stored.get("watermark")),
        full=full,
        max_docs=max_docs,
        log=source_log(f"crawler.{source_id}", source_id),
        known=lambda source_id_, _s=source_id: documents.known_document(db, _s, source_id_),
        seen_url=lambda url: runs.seen_url(db, url),
        remember_url=lambda url, reason, _s=source_id: runs.remember_url(db, url, _s, reason),
        related_ids=lambda kind: documents.related_ids(db, kind),
        known_dossier=lambda key: dossiers.known_dossier(db, key),
        crawl_urls=crawl_urls if crawl_urls is not None else set(),
    )
    context.is_relevant = relevance or (lambda text: get_annotator(config).is_relevant(text))
    return context


def crawl_source(db: sqlite_utils.Database, config: Config, source_id: str, since: str | None = None,
                 full: bool = False, max_docs: int | None = None, relevance=None,
                 crawl_urls: set[str] | None = None) -> RunResult:
    """Crawl one source end to end and record the run; never raises for upstream trouble."""
    run_id = runs.start_run(db, source_id)
    counts = dict.fromkeys(runs.COUNTS, 0)
    ctx = build_context(db, config, source_id, since, full, max_docs, relevance, crawl_urls)
    adapter = ctx.log
    status, message = "ok", None
    try:
        source = get_source(source_id)(ctx)
        for record in source.crawl():
            counts["fetched"] += 1
            try:
                outcome = store_record(db, record)
            except ValueError as exc:  # e.g. an empty document: refused, recorded, others go on
                ctx.item_errors.append((getattr(record, "source_id", getattr(record, "key", "?")), str(exc)))
                continue
            counts[outcome] += 1
            if counts["fetched"] % PROGRESS_EVERY == 0:
                adapter.info("progress", extra=dict(counts))
            if isinstance(record, DocumentRecord):
                ctx.documents_yielded += 1
    except BlockedError as exc:
        status, message = "blocked", str(exc)
    except FetchError as exc:
        status, message = "failed", str(exc)
    except Exception as exc:  # a bug or an unexpected upstream shape: record it, keep other sources running
        adapter.exception("source crashed")
        status, message = "failed", f"{type(exc).__name__}: {exc}"
    counts["unchanged"] += ctx.skipped
    counts["errors"] = len(ctx.item_errors) + (status != "ok")
    counts["requests"] = ctx.client.requests_made
    counts["deferred"] = len(ctx.deferred)
    if status == "ok" and ctx.item_errors:
        status = "partial"
        message = f"{len(ctx.item_errors)} item(s) failed; first: {ctx.item_errors[0][0]}: {ctx.item_errors[0][1]}"
    elif status == "ok" and ctx.deferred:
        message = f"{len(ctx.deferred)} item(s) deferred, retried next run; first: {ctx.deferred[0][0].key}: {ctx.deferred[0][1]}"
    runs.finish_run(db, run_id, source_id, status, counts, message, run_watermark(ctx), ctx.client.pending_validators,
                    [(item.key, text) for item, text in ctx.deferred])
    adapter.info("crawl %s", status, extra={**counts, "error": message})
    return RunResult(source_id, run_id, status, counts, message)


def run_watermark(ctx: CrawlContext) -> str | None:
    """The watermark a run reached: its latest item watermark, but strictly before the earliest deferred
    item's, so that the next run discovers that item again (None: the watermark stays where it was)."""
    marks = ctx.item_watermarks
    waiting = [item.watermark for item, _ in ctx.deferred if item.watermark]
    if waiting:
        marks = [w for w in marks if w < min(waiting)]
    return max(marks) if marks else None


def store_record(db: sqlite_utils.Database, record: DocumentRecord | DossierRecord) -> str:
    """Write one record in one transaction; returns ``new``, ``updated`` or ``unchanged``."""
    if isinstance(record, DossierRecord):
        return dossiers.save_dossier(db, dataclasses.asdict(record))
    row = dataclasses.asdict(record)
    row["content_hash"] = record.content_hash
    if stories.is_article(row):  # news: exact duplicates dropped, story assigned
        return stories.store_article(db, row)
    outcome, _ = documents.upsert_document(db, row)
    return outcome


def crawl(db: sqlite_utils.Database, config: Config, source_ids: list[str], since: str | None = None,
          full: bool = False, max_docs: int | None = None, relevance=None) -> list[RunResult]:
    """Crawl the given sources one after another; one failing never stops the others. An article
    several sources announce (a feed and GDELT) is fetched once: they share one set of URLs."""
    runs.register_sources(db, source_rows(config))
    fetched: set[str] = set()
    return [crawl_source(db, config, sid, since, full, max_docs, relevance, fetched) for sid in source_ids]
