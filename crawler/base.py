"""The source framework: what every source module declares and implements, and what it is given.

A source *declares* what it is (class attributes: id, title, jurisdiction, institution, kind,
default base URL and interval, parser version) and its options (``options``: name -> `Option`,
typed, with defaults); it *implements* discovery (`discover`: what changed since the watermark)
and fetching (`fetch`: through ``ctx.client``, parsing with pure module-level functions from bytes
+ URL to records). The base does the rest, once for every source:

- provenance: every record is stamped with the source id, parser version, fetch time
  (`db.clock`) and, where the parser named none, the source's jurisdiction and institution
  (`crawler.records.stamp`);
- paging: `Source.pages` runs `crawler.paging.paginate` (page cap ``max_pages``, loop detection);
- the run budget: ``run_budget_s`` seconds of wall-clock time per run (monotonic), checked between
  items and pages; when it is spent the run stops cleanly, what was stored stays stored, and the
  run is ``partial`` with a message naming the budget (the watermark does not move);
- per-item isolation: an item that raises `FetchError` is recorded and the crawl goes on.
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit, urlunsplit

from crawler import paging
from crawler.errors import BlockedError, FetchError, NotReady, ParseError
from crawler.http import HttpClient
from crawler.records import Record, stamp

DEFAULT_RUN_BUDGET_S = 900.0
DEFAULT_MAX_PAGES = 100


@dataclass
class Topic:
    """A watched subject: canonical entity ids plus search terms (configuration, not code)."""

    name: str
    entities: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=lambda: ["en"])


@dataclass
class SourceSettings:
    """A ``[sources.<id>]`` section: base URL, API key (read from the environment) and the rest."""

    base_url: str
    api_key: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    """A declared ``[sources.<id>]`` key: its default, type (that of the default unless given),
    bounds and, for lists, the type of the elements. ``None`` as default means "unset"."""

    default: Any
    doc: str = ""
    kind: type | tuple[type, ...] | None = None
    item: type | None = None
    minimum: float | None = None
    maximum: float | None = None

    def read(self, key: str, value: Any) -> Any:
        """``value`` checked against the declaration; a mismatch raises `ValueError` naming ``key``."""
        if value is None:
            return None
        kind = self.kind or type(self.default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ValueError(f"{key}: expected {name}, got {value!r}")
        if isinstance(value, list) and self.item is not None and not all(isinstance(v, self.item) for v in value):
            raise ValueError(f"{key}: expected a list of {self.item.__name__}, got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value) or (self.minimum is not None and value < self.minimum) or (
                    self.maximum is not None and value > self.maximum):
                raise ValueError(f"{key}: {value!r} is outside [{self.minimum}, {self.maximum}]")
        return value


COMMON_OPTIONS: dict[str, Option] = {
    "max_pages": Option(DEFAULT_MAX_PAGES, "pages read per listing and run (then the run is partial)", minimum=1),
    "run_budget_s": Option(DEFAULT_RUN_BUDGET_S, "wall-clock seconds per run (then the run stops, partial)", kind=float,
                           minimum=1),
}


class RunBudgetExceeded(Exception):
    """The run's wall-clock budget is spent (not a `FetchError`: no source may swallow it)."""


@dataclass
class Item:
    """One unit of discovery: something to fetch. ``watermark`` orders items for incremental crawls."""

    key: str
    url: str | None = None
    data: dict = field(default_factory=dict)
    watermark: str | None = None


@dataclass
class CrawlContext:
    """Everything a source may use during one run. ``deadline`` (a `time.monotonic` value) is set
    from ``run_budget_s`` when the source starts unless the caller set it; ``crawl_urls`` is the
    set of canonical article URLs fetched during this ``tracker crawl`` (share one set between the
    contexts of one crawl so that an article several sources announce is fetched once)."""

    source_id: str
    settings: SourceSettings
    topics: list[Topic]
    client: HttpClient
    since: str | None = None
    full: bool = False
    max_docs: int | None = None
    log: logging.LoggerAdapter | None = None
    known: Callable[[str], dict | None] = lambda source_id: None
    is_relevant: Callable[[str], bool] = lambda text: True
    seen_url: Callable[[str], bool] = lambda url: False
    remember_url: Callable[[str, str], None] = lambda url, reason: None
    related_ids: Callable[[str], list[str]] = lambda kind: []
    known_dossier: Callable[[str], dict | None] = lambda key: None
    deadline: float | None = None
    budget_s: float | None = None
    crawl_urls: set[str] = field(default_factory=set)
    item_errors: list[tuple[str, str]] = field(default_factory=list)
    item_watermarks: list[str] = field(default_factory=list)
    deferred: list[tuple[Item, str]] = field(default_factory=list)  # (item, message): fetch raised NotReady, retried next run
    documents_yielded: int = 0
    skipped: int = 0

    def error(self, key: str, exc: Exception) -> None:
        """Record a failure under ``key``; the run becomes ``partial`` and the watermark stays put."""
        self.item_errors.append((key, str(exc)))
        if self.log:
            self.log.warning("item failed: %s", exc, extra={"item": key})

    def item_error(self, item: Item, exc: Exception) -> None:
        """Record a failed item (see `error`)."""
        self.error(item.key, exc)

    def check_budget(self) -> None:
        """Raise `RunBudgetExceeded` once the run's deadline has passed."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise RunBudgetExceeded(f"run budget of {self.budget_s or 0:g} s (run_budget_s) spent; "
                                    "the run stopped, what was stored is kept, the rest comes next run")

    @property
    def terms(self) -> list[str]:
        """Every search term of every topic, deduplicated, in configuration order."""
        return list(dict.fromkeys(t for topic in self.topics for t in topic.terms))

    @property
    def languages(self) -> list[str]:
        """Languages the topics ask for, English first."""
        return list(dict.fromkeys(["en", *(lang for t in self.topics for lang in t.languages)]))


def read_options(source_id: str, specs: dict[str, Option], raw: dict) -> dict[str, Any]:
    """The typed options of a source: each declared key from ``raw`` (else its default), checked;
    a bad value raises `ValueError` whose message starts with ``sources.<id>.<key>``."""
    values = {}
    for key, spec in specs.items():
        values[key] = spec.read(f"sources.{source_id}.{key}", raw.get(key, spec.default))
    return values


class Source(ABC):
    """Base class of every source module; subclasses set the class attributes and two methods."""

    id: ClassVar[str]
    title: ClassVar[str]
    jurisdiction: ClassVar[str]
    institution: ClassVar[str | None] = None
    kind: ClassVar[str] = "api"
    default_base_url: ClassVar[str]
    default_interval: ClassVar[str] = "1d"
    parser_version: ClassVar[str] = "1"
    mirrored_hosts: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Option]] = {}

    def __init__(self, ctx: CrawlContext):
        self.ctx = ctx
        self.base_url = ctx.settings.base_url.rstrip("/")
        try:
            self.opts = read_options(self.id, self.option_specs(), ctx.settings.options)
        except ValueError as exc:
            raise ParseError(str(exc)) from None
        unknown = sorted(set(ctx.settings.options) - set(self.option_specs()))
        if unknown and ctx.log:
            ctx.log.warning("unknown option(s) ignored: %s", ", ".join(f"sources.{self.id}.{k}" for k in unknown))
        if ctx.deadline is None:
            ctx.budget_s = self.opts["run_budget_s"]
            ctx.deadline = time.monotonic() + ctx.budget_s
        ctx.client.rebase = self.resolve  # redirects to the upstream's hosts follow the configured base too

    @classmethod
    def option_specs(cls) -> dict[str, Option]:
        """The options this source reads: the common ones (``max_pages``, ``run_budget_s``) and its own."""
        return {**COMMON_OPTIONS, **cls.options}

    def option(self, key: str) -> Any:
        """The typed value of a declared option."""
        return self.opts[key]

    @classmethod
    def stamp(cls, record: Record) -> Record:
        """``record`` with this source's provenance (see `crawler.records.stamp`)."""
        return stamp(record, cls.id, cls.parser_version, cls.jurisdiction, cls.institution)

    def resolve(self, url: str) -> str:
        """Resolve a link found in a response: relative links against the base URL, and links to the
        default upstream host rebased onto the configured one (so a mirror or a replay server serves
        the whole crawl, not only its first request). Hosts in ``mirrored_hosts`` (the upstream's
        sibling hosts, e.g. a content host beside the API host) are rebased the same way. A configured
        base that puts the upstream's path under a prefix (``http://mirror/fr/api/v1`` for
        ``https://www.federalregister.gov/api/v1``) keeps that prefix on rebased links."""
        absolute = urljoin(self.base_url + "/", url)
        default = urlsplit(self.default_base_url)
        configured = urlsplit(self.base_url)
        parts = urlsplit(absolute)
        if (parts.netloc == default.netloc or parts.netloc in self.mirrored_hosts) and configured.netloc and configured.netloc != default.netloc:
            base_path, default_path = configured.path.rstrip("/"), default.path.rstrip("/")
            prefix = base_path[:len(base_path) - len(default_path)] if base_path.endswith(default_path) else ""
            return urlunsplit((configured.scheme, configured.netloc, prefix + parts.path, parts.query, parts.fragment))
        return absolute

    def pages(self, first: object, fetch_page: paging.FetchPage, what: str) -> Iterator:
        """Every entry of a paged listing (see `crawler.paging.paginate`), capped at ``max_pages``."""
        return paging.paginate(self.ctx, first, fetch_page, what=what, max_pages=self.opts["max_pages"])

    @abstractmethod
    def discover(self) -> Iterator[Item]:
        """Yield the items that changed since ``ctx.since`` (everything when ``ctx.full``)."""

    @abstractmethod
    def fetch(self, item: Item) -> Iterator[Record]:
        """Fetch one item through ``ctx.client`` and yield its parsed records."""

    def crawl(self) -> Iterator[Record]:
        """Discover, then fetch each item; a failing item is recorded and the crawl goes on; every
        record is stamped with its provenance; a spent run budget ends the run as ``partial``."""
        try:
            for item in self.discover():
                if self.ctx.max_docs is not None and self.ctx.documents_yielded >= self.ctx.max_docs:
                    break
                self.ctx.check_budget()
                try:
                    records = list(self.fetch(item))
                except BlockedError:
                    raise
                except NotReady as exc:  # "retry later": deferred, not failed (the caller keeps the watermark before it)
                    self.ctx.deferred.append((item, str(exc)))
                    continue
                except FetchError as exc:
                    self.ctx.item_error(item, exc)
                    continue
                for record in records:
                    yield self.stamp(record)
                if item.watermark:
                    self.ctx.item_watermarks.append(item.watermark)
        except RunBudgetExceeded as exc:
            self.ctx.error("(run budget)", exc)
