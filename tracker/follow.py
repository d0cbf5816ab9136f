"""The digest's sections for what a subscriber follows: one per followed dossier, entity or saved
search that has something new since the subscriber's last digest (`db.follows` decides what is new
and remembers what was reported); a section with nothing new is left out.

- Dossier: a stage change (from the stage the subscriber last saw), new events, new text versions
  (a new document of the dossier, or a new version of one), each linked to the front end.
- Entity: its new mentions, by document, each with its stance and the quoted sentence.
- Saved search: the new documents matching it, with the document's stance.

`follow_sections` also returns the marks to record with the digest's claim (`db.follows.mark`):
everything reported, and every followed dossier's current stage (the baseline of the next digest).
Followed ids are checked when the configuration loads (`tracker.subscriptions`); one the database
does not hold yet (a bill not crawled yet) has no section until it appears, and
`tracker digest subscribers` says so (`missing_follows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlencode

import sqlite_utils

from db import clock, follows
from db.digests import entity_names
from tracker.digest_view import quoted_sentence, web_link
from tracker.subscriptions import Subscriber

MAX_EVENTS = 20
MAX_VERSIONS = 10
CAP = 10_000  # at most this many items of one followed item are reported (and marked) per digest

Mark = tuple[str, str, str]  # (item, kind, ref)


@dataclass
class FollowEntry:
    """One line of a followed item's section (``stance`` and ``quote`` only for documents and mentions)."""

    text: str
    link: str | None = None
    stance: str | None = None
    quote: str | None = None


@dataclass
class FollowSection:
    """What happened to one followed item. ``kind``: dossier, entity or search."""

    kind: str
    item: str
    title: str
    summary: str
    link: str | None
    entries: list[FollowEntry] = field(default_factory=list)
    more: int = 0


def _count(refs: list, word: str) -> str:
    """``3 new events`` for three refs; ``10000+ new events`` when they reached `CAP`."""
    n = len(refs)
    return f"{n}{'+' if n >= CAP else ''} {word}{'' if n == 1 else 's'}"


def _dossier(db: sqlite_utils.Database, email: str, key: str, since: datetime, link_root: str,
             marks: list[Mark]) -> FollowSection | None:
    row = follows.dossier(db, key)
    if row is None:
        return None
    entries = []
    seen, last = follows.last_stage(db, email, key)
    marks.append((key, "stage", row["stage"] or ""))
    changed = seen and (last or None) != (row["stage"] or None)
    if changed:
        entries.append(FollowEntry(f"Stage changed: {last or '(none)'} → {row['stage'] or '(none)'}"))
    events, event_ids = follows.new_events(db, email, key, clock.iso(since)[:10], MAX_EVENTS, CAP)
    marks.extend((key, "event", i) for i in event_ids)
    for e in events:
        what = " — ".join(x for x in (e["kind"], e["description"]) if x)
        entries.append(FollowEntry(f"{e['date'] or '(undated)'}: {what}" + (f" ({e['actor']})" if e["actor"] else ""),
                                   web_link(e["ref_url"])))
    versions, version_refs = follows.new_versions(db, email, key, clock.iso(since), MAX_VERSIONS, CAP)
    marks.extend((key, "version", ref) for ref in version_refs)
    for v in versions:
        entries.append(FollowEntry(f"New text version: {v['title'] or '(untitled)'} (version {v['version']}, {v['source']})",
                                   f"{link_root}/documents/{v['document_id']}"))
    if not entries:
        return None
    counts = [c for c in (_count(event_ids, "new event") if event_ids else "",
                          _count(version_refs, "new text version") if version_refs else "",
                          "stage changed" if changed else "") if c]
    return FollowSection("dossier", key, row["title"] or key, ", ".join(counts),
                         web_link(row["url"]) or f"{link_root}/dossiers?{urlencode({'key': key})}", entries,
                         len(event_ids) - len(events) + len(version_refs) - len(versions))


def _entity(db: sqlite_utils.Database, email: str, entity: str, name: str, since: datetime, shown: int,
            link_root: str, marks: list[Mark]) -> FollowSection | None:
    rows, ids = follows.new_mentions(db, email, entity, clock.iso(since), shown, CAP)
    if not ids:
        return None
    marks.extend((entity, "mention", i) for i in ids)
    entries = []
    for r in rows:
        sentence = quoted_sentence(r["sentence"] or r["text"] or "")
        entries.append(FollowEntry(f"{r['title'] or '(untitled)'} ({r['institution'] or r['source']}, {r['day'] or 'undated'})",
                                   f"{link_root}/mentions/{quote(r['id'], safe='')}", r["stance"] or "unclassified",
                                   sentence))
    documents = len({r["document_id"] for r in rows})
    summary = _count(ids, "new mention") + (f" in {documents} document{'' if documents == 1 else 's'}" if len(rows) == len(ids) else "")
    query = urlencode({"entity_id": entity, "first_seen_at__gte": clock.iso(since), "_sort_desc": "first_seen_at"})
    return FollowSection("entity", entity, name, summary, f"{link_root}/mentions?{query}", entries, len(ids) - len(rows))


def _search(db: sqlite_utils.Database, email: str, query: str, since: datetime, shown: int, link_root: str,
            marks: list[Mark]) -> FollowSection | None:
    rows, ids = follows.new_matches(db, email, query, clock.iso(since), shown, CAP)
    if not ids:
        return None
    marks.extend((query, "document", str(i)) for i in ids)
    entries = [FollowEntry(f"{r['title'] or '(untitled)'} ({r['institution'] or r['source']}, {r['day'] or 'undated'})",
                           f"{link_root}/documents/{r['id']}", r["stance"] or "unclassified") for r in rows]
    return FollowSection("search", query, f"Search: {query}", _count(ids, "new matching document"),
                         f"{link_root}/documents?{urlencode({'_search': query})}", entries, len(ids) - len(rows))


def follow_sections(db: sqlite_utils.Database, sub: Subscriber, since: datetime, max_documents: int,
                    max_mentions: int, link_root: str) -> tuple[list[FollowSection], list[Mark]]:
    """The sections of ``sub``'s followed items with something new since ``since`` (not yet reported
    to them), and the marks to record when the digest is claimed."""
    marks: list[Mark] = []
    sections = [s for key in sub.dossiers if (s := _dossier(db, sub.email, key, since, link_root, marks))]
    names = entity_names(db, set(sub.entities))
    sections += [s for e in sub.entities
                 if (s := _entity(db, sub.email, e, names.get(e, e), since, max_documents * max_mentions, link_root, marks))]
    sections += [s for q in sub.searches if (s := _search(db, sub.email, q, since, max_documents, link_root, marks))]
    return sections, marks


def missing_follows(db: sqlite_utils.Database, sub: Subscriber) -> list[str]:
    """The followed dossier and entity ids this database does not hold (yet)."""
    dossiers, entities = follows.existing_dossiers(db, sub.dossiers), follows.existing_entities(db, sub.entities)
    return [d for d in sub.dossiers if d not in dossiers] + [e for e in sub.entities if e not in entities]
