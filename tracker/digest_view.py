"""The digest's view model: what one subscriber's digest shows, arranged for the templates.

Mentions are grouped by topic, then entity, then story (news reports sharing ``documents.story_id``)
or document; only the first ``max_documents`` documents per entity and ``max_mentions_per_document``
mentions per document are shown, the rest counted and linked ("and N more") to the front end.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

from markupsafe import Markup

from db.digests import Selection
from tracker.highlight import highlight_html, highlight_text
from tracker.subscriptions import STANCES, Subscriber

MARK_STYLE = "background:#fde68a;padding:0 2px"  # e-mail clients drop <style>: the mark is styled inline


@dataclass
class MentionItem:
    id: str
    stance: str | None
    score: float | None
    sentence_html: Markup
    sentence_text: str
    link: str


@dataclass
class DocumentItem:
    id: int
    title: str
    url: str | None
    source: str
    outlet: str
    date: str | None
    jurisdiction: str | None
    stance: str | None
    link: str
    mentions: list[MentionItem] = field(default_factory=list)
    more_mentions: int = 0


@dataclass
class StoryGroup:
    key: str
    documents: list[DocumentItem] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.documents[0].title


@dataclass
class EntityGroup:
    id: str
    name: str
    total: int
    stances: dict[str, int]
    more_link: str
    stories: list[StoryGroup] = field(default_factory=list)
    shown: int = 0

    @property
    def more(self) -> int:
        return self.total - self.shown


@dataclass
class TopicSection:
    name: str
    label: str
    total: int
    entities: list[EntityGroup] = field(default_factory=list)


@dataclass
class Digest:
    """One subscriber's digest: content, rendered parts, and the exact set of mentions it covers (``selection``)."""

    subscriber: Subscriber
    now: datetime
    period_start: datetime
    selection: Selection
    total: int
    by_stance: dict[str, int]
    by_jurisdiction: dict[str, int]
    sections: list[TopicSection]
    dossiers_new: list[dict]
    dossiers_new_total: int
    dossiers_active: list[dict]
    dossiers_active_total: int
    health: list[dict]
    chart: list[dict]
    chart_png: bytes
    subject: str = ""
    html: str = ""
    text: str = ""
    chart_cid: str = "stance-chart"

    @property
    def empty(self) -> bool:
        return self.total == 0 and self.dossiers_new_total == 0

    def html_for_file(self) -> str:
        """The HTML with the inline chart as a data: URI (for a browser preview; mail uses cid:)."""
        data = "data:image/png;base64," + base64.b64encode(self.chart_png).decode("ascii")
        return self.html.replace(f"cid:{self.chart_cid}", data)


def topic_label(names: list[str]) -> str:
    """``["logink"]`` -> ``LOGINK``; ``["port-cranes"]`` -> ``Port Cranes``."""
    labels = [n.upper() if re.fullmatch(r"[a-z0-9]+", n) and len(n) <= 8 else re.sub(r"[-_]+", " ", n).title() for n in names]
    return ", ".join(labels) if len(labels) <= 3 else f"{', '.join(labels[:3])} +{len(labels) - 3}"


def subject(topics: list[str], total: int, critical: int, dossiers_new: int, week_of: date) -> str:
    """``LOGINK: 3 new mentions (1 critical), 1 new bill/procedure — week of 2026-11-23``."""
    parts = []
    if total:
        parts.append(f"{total} new mention{'s' if total != 1 else ''}" + (f" ({critical} critical)" if critical else ""))
    if dossiers_new:
        s = "s" if dossiers_new != 1 else ""
        parts.append(f"{dossiers_new} new bill{s}/procedure{s}")
    return f"{topic_label(topics)}: {', '.join(parts) or 'nothing new'} — week of {week_of.isoformat()}"


def _host(url: str | None) -> str | None:
    return (urlsplit(url).hostname or "").removeprefix("www.") or None if url else None


def arrange_topic(rows: list[dict], groups: dict[str, EntityGroup], doc_stances: dict[int, str | None],
                  max_documents: int, per_document: int, link_root: str) -> None:
    """Put one topic's newest mention rows (`db.digests.topic_mentions`) into their entity groups, by
    story or document, within the display limits."""
    documents: dict[tuple, DocumentItem] = {}
    shown_docs: Counter = Counter()
    for r in rows:
        group = groups.get(r["entity_id"])
        if group is None:
            continue
        doc = documents.get((r["entity_id"], r["document_id"]))
        if doc is None:
            if shown_docs[r["entity_id"]] >= max_documents:
                continue
            shown_docs[r["entity_id"]] += 1
            stance = doc_stances.get(r["document_id"])
            doc = DocumentItem(r["document_id"], r["title"] or "(untitled)", r["url"], r["source"],
                               r["institution"] or _host(r["url"]) or r["source"], (r["day"] or "")[:10] or None,
                               r["jurisdiction"], stance if stance in STANCES else r["stance"],
                               f"{link_root}/documents/{r['document_id']}")
            documents[(r["entity_id"], r["document_id"])] = doc
            key = f"story:{r['story_id']}" if r["story_id"] is not None else f"doc:{r['document_id']}"
            story_group = next((s for s in group.stories if s.key == key), None)
            if story_group is None:
                story_group = StoryGroup(key)
                group.stories.append(story_group)
            story_group.documents.append(doc)
        group.shown += 1
        if len(doc.mentions) >= per_document:
            doc.more_mentions += 1
            continue
        sentence = r["sentence"] or r["text"] or ""
        doc.mentions.append(MentionItem(
            r["id"], r["stance"], r["stance_score"], highlight_html(sentence, r["text"], r["start"], r["end"], MARK_STYLE),
            highlight_text(sentence, r["text"], r["start"], r["end"]), f"{link_root}/mentions/{r['id']}"))
