"""Typed records that sources yield, each with mandatory provenance.

A parser states what only it knows (upstream id, URL, title, text, type, dates, and the upstream
identities in ``same_as``); the provenance every record of a source shares (source id, parser
version, fetch time, and the source's jurisdiction and institution unless the record names its
own) is stamped by `crawler.base.Source` through `stamp`, never restated by parsers. The
orchestrator in `tracker.crawl` turns records into database rows. `content_hash` is derived, never
set by hand, so change detection is the same for every source.

``same_as`` keys say which upstream document a record *is*, whichever source reached it, so copies
can be linked and counted once: ``fr:<FR document number>`` (``fr:2025-03134``),
``bill-version:<congress>-<type>-<number>-<version code>`` (``bill-version:118-hr-1724-ih``),
``celex:<CELEX>`` (``celex:32024R1689``), ``ep:<EP document reference>`` (``ep:A-9-2024-0163``;
answers ``ep:E-9-2021-001464-ASW``; language versions other than English add ``/<lang>``),
``ep-procedure:<reference>``, ``usc:<title>-<section>``, ``url:<canonical URL>`` (news). Keys are
lower-case scheme, then the identifier as upstream spells it (`identity_key`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from db.clock import now_iso

_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFC-normalised text with runs of white space folded to one space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text or "")).strip()


def content_hash(title: str | None, text: str | None) -> str:
    """SHA-256 over the normalised title and text: the document's change detector."""
    payload = normalise_text(title or "") + "\n" + normalise_text(text or "")
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class Link:
    """A typed relation from a document to another upstream object (``answers``, ``procedure``...)."""

    relation: str
    target_source: str
    target_source_id: str


@dataclass
class Event:
    """A dated step of a dossier: a bill action or a procedure event."""

    date: str
    kind: str
    description: str
    actor: str | None = None
    ref_url: str | None = None
    ref_id: str | None = None
    source_system: str | None = None  # who recorded it when that is not the actor (e.g. "Library of Congress")


@dataclass
class DocumentRecord:
    """One upstream document (one language version / text version). ``source``, ``parser_version``
    and ``fetched_at`` are stamped by the source base; ``jurisdiction`` and ``institution`` default to
    the source's when the parser leaves them None."""

    source_id: str
    url: str
    title: str
    text: str
    doc_type: str
    language: str | None = None
    published_at: str | None = None
    updated_at: str | None = None
    institution: str | None = None
    jurisdiction: str | None = None
    group_key: str | None = None
    same_as: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str | None = None
    parser_version: str | None = None
    fetched_at: str | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text)


@dataclass
class DossierRecord:
    """A bill or a procedure: the thing documents belong to, with its events (provenance stamped)."""

    key: str
    kind: str
    title: str
    url: str
    stage: str | None = None
    status: str | None = None
    updated_at: str | None = None
    metadata: dict = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    source: str | None = None
    parser_version: str | None = None
    fetched_at: str | None = None


Record = DocumentRecord | DossierRecord

_SCHEME = re.compile(r"^[a-z][a-z0-9-]*$")


def identity_key(scheme: str, identifier: str) -> str:
    """``scheme:identifier`` (``fr:2025-03134``); a malformed scheme or an empty identifier raises
    `ValueError` (a key nobody can match is worse than none)."""
    identifier = (identifier or "").strip()
    if not _SCHEME.match(scheme) or not identifier or any(ch.isspace() for ch in identifier):
        raise ValueError(f"not an identity key: {scheme!r}:{identifier!r}")
    return f"{scheme}:{identifier}"


def stamp(record: Record, source: str, parser_version: str, jurisdiction: str,
          institution: str | None) -> Record:
    """Provenance of ``record`` from its source: id, parser version, fetch time (`db.clock`), and
    the source's jurisdiction and institution where the record names none. Returns the record."""
    record.source = source
    record.parser_version = parser_version
    record.fetched_at = record.fetched_at or now_iso()
    if isinstance(record, DocumentRecord):
        record.jurisdiction = record.jurisdiction or jurisdiction
        record.institution = record.institution or institution
        record.same_as = list(dict.fromkeys(record.same_as))
    return record
