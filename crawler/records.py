"""Typed records that sources yield, each with mandatory provenance.

A record says where it came from (source id, upstream id, URL, fetch time, parser version); the
orchestrator in `tracker.crawl` turns records into database rows. `content_hash` is derived, never
set by hand, so change detection is the same for every source.
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


@dataclass
class DocumentRecord:
    """One upstream document (one language version / text version) with its provenance."""

    source: str
    source_id: str
    url: str
    title: str
    text: str
    doc_type: str
    jurisdiction: str
    institution: str | None
    language: str | None
    published_at: str | None
    updated_at: str | None
    parser_version: str
    fetched_at: str = field(default_factory=now_iso)
    group_key: str | None = None
    metadata: dict = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text)


@dataclass
class DossierRecord:
    """A bill or a procedure: the thing documents belong to, with its events."""

    key: str
    source: str
    kind: str
    title: str
    url: str
    parser_version: str
    stage: str | None = None
    status: str | None = None
    updated_at: str | None = None
    fetched_at: str = field(default_factory=now_iso)
    metadata: dict = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


Record = DocumentRecord | DossierRecord
