"""The source framework: what every source module implements and what it is given.

A source separates discovery (`discover`: what changed since the watermark), fetching (through
`ctx.client`, the shared polite client) and parsing (pure module-level functions from bytes + URL
to typed records). `Source.crawl` drives the two and isolates per-item failures.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urljoin, urlsplit, urlunsplit

from crawler.errors import BlockedError, FetchError, ParseError
from crawler.http import HttpClient
from crawler.records import Record


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


@dataclass
class Item:
    """One unit of discovery: something to fetch. ``watermark`` orders items for incremental crawls."""

    key: str
    url: str | None = None
    data: dict = field(default_factory=dict)
    watermark: str | None = None


@dataclass
class CrawlContext:
    """Everything a source may use during one run."""

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
    item_errors: list[tuple[str, str]] = field(default_factory=list)
    item_watermarks: list[str] = field(default_factory=list)
    documents_yielded: int = 0
    skipped: int = 0

    def item_error(self, item: Item, exc: Exception) -> None:
        """Record a failed item; the run becomes ``partial`` and the watermark stays put."""
        self.item_errors.append((item.key, str(exc)))
        if self.log:
            self.log.warning("item failed: %s", exc, extra={"item": item.key})

    @property
    def terms(self) -> list[str]:
        """Every search term of every topic, deduplicated, in configuration order."""
        return list(dict.fromkeys(t for topic in self.topics for t in topic.terms))

    @property
    def languages(self) -> list[str]:
        """Languages the topics ask for, English first."""
        return list(dict.fromkeys(["en", *(lang for t in self.topics for lang in t.languages)]))


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

    def __init__(self, ctx: CrawlContext):
        self.ctx = ctx
        self.base_url = ctx.settings.base_url.rstrip("/")
        ctx.client.rebase = self.resolve  # redirects to the upstream's hosts follow the configured base too

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

    def option(self, key: str, default):
        """A source-specific ``[sources.<id>]`` key, coerced to the type of ``default``."""
        value = self.ctx.settings.options.get(key, default)
        try:
            return type(default)(value)
        except (TypeError, ValueError):
            raise ParseError(f"sources.{self.id}.{key}: expected {type(default).__name__}, got {value!r}") from None

    @classmethod
    def parse_example(cls, path: Path) -> list[Record]:
        """Parse a recorded example (``tests/fixtures/<id>/examples/<case>.<ext>``, with any sibling
        files it needs) with this source's pure parsers; used by the recorded-examples test."""
        raise NotImplementedError(f"{cls.id} has no recorded-example parser")

    @abstractmethod
    def discover(self) -> Iterator[Item]:
        """Yield the items that changed since ``ctx.since`` (everything when ``ctx.full``)."""

    @abstractmethod
    def fetch(self, item: Item) -> Iterator[Record]:
        """Fetch one item through ``ctx.client`` and yield its parsed records."""

    def crawl(self) -> Iterator[Record]:
        """Discover, then fetch each item; a failing item is recorded and the crawl goes on."""
        for item in self.discover():
            if self.ctx.max_docs is not None and self.ctx.documents_yielded >= self.ctx.max_docs:
                break
            try:
                records = list(self.fetch(item))
            except BlockedError:
                raise
            except FetchError as exc:
                self.ctx.item_error(item, exc)
                continue
            yield from records
            if item.watermark:
                self.ctx.item_watermarks.append(item.watermark)
