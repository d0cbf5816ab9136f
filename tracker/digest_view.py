"""The digest's view model: what one subscriber's digest shows, arranged for the templates.

Mentions are grouped by topic, then entity, then story (news reports sharing ``documents.story_id``)
or document; only the first ``max_documents`` documents per entity and ``max_mentions_per_document``
mentions per document are shown, the rest counted and linked ("and N more") to the front end.

One heading per level (`heading_levels`): the digest's title names the topics and the period, the
summary gives the counts once; a topic heading appears only when the digest has several topics, an
entity heading only when it says something the level above does not (several entities, or a name
other than the topic's), with its counts only when the topic has several entities. Only http(s)
URLs become links (`web_link`); others are shown as text. A quoted sentence is cleaned of document
boilerplate (`quoted_sentence`: GPO bill headers and cover lines). Subject and title share one
period label (`period_label`).
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
    url: str | None  # the original, when it is an http(s) URL (else None and ``raw_url`` shown as text)
    source: str
    outlet: str
    date: str | None
    jurisdiction: str | None
    stance: str | None
    link: str
    mentions: list[MentionItem] = field(default_factory=list)
    more_mentions: int = 0
    raw_url: str | None = None


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
    show_heading: bool = True
    show_counts: bool = True

    @property
    def more(self) -> int:
        return self.total - self.shown


@dataclass
class TopicSection:
    name: str
    label: str
    total: int
    entities: list[EntityGroup] = field(default_factory=list)
    show_heading: bool = True


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
    sources_total: int = 0
    sources_ok: int = 0
    sources_never: list[str] = field(default_factory=list)
    title: str = ""
    subject: str = ""
    html: str = ""
    text: str = ""
    chart_cid: str = "stance-chart"
    follows: list = field(default_factory=list)  # tracker.follow.FollowSection, one per followed item with news
    follow_marks: list = field(default_factory=list)  # what to record as reported with the claim (db.follows.mark)
    changes: list = field(default_factory=list)  # tracker.digest_changes.ChangedDocument: new versions since the last digest
    shifts: list = field(default_factory=list)  # tracker.digest_changes.PositionShift: who changed position
    unsubscribe_url: str = ""
    list_headers: dict[str, str] = field(default_factory=dict)  # List-Unsubscribe, -Post, List-Id (tracker.unsubscribe)

    @property
    def empty(self) -> bool:
        return self.total == 0 and self.dossiers_new_total == 0 and not self.follows and not self.changes and not self.shifts

    @property
    def health_line(self) -> str:
        """The footer's summary of every enabled source's health (`db.health`'s states): "never run" said as such."""
        never = len(self.sources_never)
        if never == self.sources_total:
            return f"no source has run yet ({self.sources_total} enabled, never run)."
        line = ("all" if self.sources_ok == self.sources_total else f"{self.sources_ok} of") + \
            f" {self.sources_total} enabled sources up to date"
        return line + (f"; never run: {', '.join(self.sources_never)}." if never else ".")

    def html_for_file(self) -> str:
        """The HTML with the inline chart as a data: URI (for a browser preview; mail uses cid:)."""
        data = "data:image/png;base64," + base64.b64encode(self.chart_png).decode("ascii")
        return self.html.replace(f"cid:{self.chart_cid}", data)


def topic_label(names: list[str]) -> str:
    """``["logink"]`` -> ``LOGINK``; ``["port-cranes"]`` -> ``Port Cranes``."""
    labels = [n.upper() if re.fullmatch(r"[a-z0-9]+", n) and len(n) <= 8 else re.sub(r"[-_]+", " ", n).title() for n in names]
    return ", ".join(labels) if len(labels) <= 3 else f"{', '.join(labels[:3])} +{len(labels) - 3}"


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def period_label(first: date, last: date) -> str:
    """``29 Nov - 6 Dec 2026``, ``19 - 26 Nov 2026``, ``29 Dec 2026 - 4 Jan 2027``, ``6 Dec 2026``
    (English month names, whatever the locale)."""
    def day(d: date, month: bool, year: bool) -> str:
        return f"{d.day}" + (f" {MONTHS[d.month - 1]}" if month else "") + (f" {d.year}" if year else "")

    if first >= last:
        return day(last, True, True)
    same_year = first.year == last.year
    return f"{day(first, not same_year or first.month != last.month, not same_year)} - {day(last, True, True)}"


def subject(topics: list[str], total: int, critical: int, dossiers_new: int, period: str, followed: int = 0) -> str:
    """``LOGINK: 3 new mentions (1 critical), 1 new bill/procedure, 2 followed items moved — 29 Nov - 6 Dec 2026``."""
    parts = []
    if total:
        parts.append(f"{total} new mention{'s' if total != 1 else ''}" + (f" ({critical} critical)" if critical else ""))
    if dossiers_new:
        s = "s" if dossiers_new != 1 else ""
        parts.append(f"{dossiers_new} new bill{s}/procedure{s}")
    if followed:
        parts.append(f"{followed} followed item{'s' if followed != 1 else ''} moved")
    return f"{topic_label(topics)}: {', '.join(parts) or 'nothing new'} — {period}"


def heading_levels(sections: list[TopicSection]) -> None:
    """Decide which headings the digest shows, so that no level repeats the one above it."""
    for section in sections:
        section.show_heading = len(sections) > 1
        several = len(section.entities) > 1
        for entity in section.entities:
            entity.show_counts = several
            entity.show_heading = several or entity.name.casefold() != section.label.casefold()


def web_link(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL (the only ones the digest links), else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.hostname else None


# Boilerplate of GPO bill texts (Congress.gov, GovInfo), inline or on lines of their own: the
# bracketed headers and <DOC>; after them the cover ("118th CONGRESS 1st Session H. R. 6228"); rules
# of underscores with the chamber and date lines that follow them.
_GPO_HEADER = re.compile(
    r"\[(?:Congressional (?:Bills|Record)[^\]\[]*|From the U\.S\. Government (?:Publishing|Printing) Office|"
    r"[^\]\[]{1,60} (?:Introduced|Reported|Engrossed|Enrolled|Referred|Placed|Received|Agreed)[^\]\[]{0,60})\]|</?DOC>",
    re.I)
_GPO_COVER = re.compile(
    r"^(?:\d+(?:st|nd|rd|th) CONGRESS )?(?:\d+(?:st|nd|rd|th) Session )?"
    r"(?:(?:H\. ?R\.|S\.|H\. ?RES\.|S\. ?RES\.|H\. ?J\. ?RES\.|S\. ?J\. ?RES\.|H\. ?CON\. ?RES\.|S\. ?CON\. ?RES\.) ?\d+ )?")
_RULE = re.compile(r"[_=]{5,}(?: ?(?:IN THE (?:HOUSE OF REPRESENTATIVES|SENATE OF THE UNITED STATES)|[A-Z][a-z]+ \d{1,2}, \d{4}))*")


def quoted_sentence(sentence: str) -> str:
    """The sentence as the digest quotes it: whitespace collapsed, GPO bill boilerplate removed (the
    headers, the cover after them, rules); the collapsed sentence when nothing else would remain."""
    text = " ".join(sentence.split())
    cleaned = _GPO_HEADER.sub(" ", text)
    if cleaned != text:  # a GPO header was there: the cover that follows it is boilerplate too
        cleaned = _GPO_COVER.sub("", " ".join(cleaned.split()))
    cleaned = " ".join(_RULE.sub(" ", cleaned).split())
    return cleaned or text


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
            url = web_link(r["url"])
            doc = DocumentItem(r["document_id"], r["title"] or "(untitled)", url, r["source"],
                               r["institution"] or _host(url) or r["source"], (r["day"] or "")[:10] or None,
                               r["jurisdiction"], stance if stance in STANCES else r["stance"],
                               f"{link_root}/documents/{r['document_id']}", raw_url=None if url else r["url"])
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
        sentence = quoted_sentence(r["sentence"] or r["text"] or "")
        doc.mentions.append(MentionItem(
            r["id"], r["stance"], r["stance_score"], highlight_html(sentence, r["text"], r["start"], r["end"], MARK_STYLE),
            highlight_text(sentence, r["text"], r["start"], r["end"]), f"{link_root}/mentions/{r['id']}"))
