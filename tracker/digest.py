"""The weekly digest: what each subscriber gets, built from the database (delivery is tracker.mailer).

For each subscriber the digest holds the mentions not yet delivered to them (``digest_items``) that
were first seen since their last digest, filtered by the subscriber's topics, sources and minimum
relevance, grouped by topic, then entity, then story (news reports sharing ``documents.story_id``)
or document. A summary counts them by stance and jurisdiction, lists new and active bills and
procedures (``dossiers``) and draws a per-week stance chart (a PNG written with zlib + struct,
attached inline as ``cid:``). The footer reports sources that are stale or failing.

Nothing is skipped and nothing is sent twice: the set of mentions a digest covers is fixed when it
is built (a lower bound from the previous digest, the subscriber's filters, "not already delivered",
and an upper bound: the newest ``first_seen_at`` and the largest mentions rowid seen at build time),
and `record_delivery` writes exactly that set into ``digest_items`` once the SMTP server accepted
the message. Only the first ``max_documents`` documents per entity are displayed; the rest are
counted and linked ("and N more") to the analyst front end.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from db import clock
from db.clock import iso

STANCES = ("critical", "supportive", "neutral")
STANCE_COLOURS = {"critical": "#b3261e", "supportive": "#1e7b34", "neutral": "#6b7280", None: "#9ca3af"}
# min_stance: which stances a subscriber receives.
MIN_STANCE = {
    "any": None, "neutral": None,
    "opinionated": ("critical", "supportive"),
    "critical": ("critical",), "supportive": ("supportive",),
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE = re.compile(r"^\s*(daily|\*|(?:mon|tue|wed|thu|fri|sat|sun)(?:\s*,\s*(?:mon|tue|wed|thu|fri|sat|sun))*)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$", re.I)
MARGIN = timedelta(hours=1)  # re-read before the previous digest's end: rows committed late are not skipped
CHART_WEEKS = 8
DEFAULTS = {"max_documents": 10, "max_mentions_per_document": 3, "first_digest_days": 7}


@dataclass(frozen=True)
class Schedule:
    """``mon 07:00``, ``mon,thu 07:00``, ``daily 07:00`` in a time zone."""

    days: tuple[int, ...]
    hour: int
    minute: int

    def last_due(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The most recent scheduled instant at or before ``now`` (aware, UTC)."""
        local = now.astimezone(tz)
        for back in range(8):
            day = local.date() - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            instant = datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=tz)
            if instant <= local:
                return instant.astimezone(timezone.utc)
        raise AssertionError("a schedule always has a day within the last week")


def parse_schedule(text: str) -> Schedule:
    """Parse a digest schedule; raises ValueError with an example of the expected form."""
    match = SCHEDULE.match(text or "")
    if not match:
        raise ValueError(f"expected a schedule like 'mon 07:00', 'mon,thu 07:00' or 'daily 07:00', got {text!r}")
    days_text = match.group(1).lower()
    days = tuple(range(7)) if days_text in ("daily", "*") else tuple(sorted({DAYS.index(d.strip()) for d in days_text.split(",")}))
    return Schedule(days, int(match.group(2)), int(match.group(3)))


@dataclass
class Subscriber:
    """One ``[[digest.subscribers]]`` entry; empty topics / sources mean all."""

    email: str
    topics: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    min_stance: str = "any"
    min_score: float = 0.0
    name: str | None = None

    @classmethod
    def from_config(cls, entry: dict) -> "Subscriber":
        return cls(entry["email"], list(entry.get("topics") or []), list(entry.get("sources") or []),
                   entry.get("min_stance") or "any", float(entry.get("min_score") or 0.0), entry.get("name"))


def subscribers(config) -> list[Subscriber]:
    """The configured subscribers."""
    return [Subscriber.from_config(s) for s in config.digest.get("subscribers", [])]


def find_subscriber(config, email: str) -> Subscriber:
    """The configured subscriber with this address, else an ad-hoc one receiving every topic."""
    for sub in subscribers(config):
        if sub.email.lower() == email.lower():
            return sub
    return Subscriber(email)


# --- the digest -------------------------------------------------------------------------------


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
    """One subscriber's digest: content, rendered parts, and the exact set of mentions it covers."""

    subscriber: Subscriber
    now: datetime
    period_start: datetime
    since: str
    period_end: str
    snapshot_rowid: int
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
    _where: str = ""
    _params: dict = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.total == 0 and self.dossiers_new_total == 0

    def html_for_file(self) -> str:
        """The HTML with the inline chart as a data: URI (for a browser preview; mail uses cid:)."""
        import base64

        data = "data:image/png;base64," + base64.b64encode(self.chart_png).decode("ascii")
        return self.html.replace(f"cid:{self.chart_cid}", data)


def _aware(now: datetime | str | None) -> datetime:
    return clock.now() if now is None else clock.aware(now)


def topic_label(names: list[str]) -> str:
    """``["logink"]`` -> ``LOGINK``; ``["port-cranes"]`` -> ``Port Cranes``."""
    labels = [n.upper() if re.fullmatch(r"[a-z0-9]+", n) and len(n) <= 8 else re.sub(r"[-_]+", " ", n).title() for n in names]
    return ", ".join(labels) if len(labels) <= 3 else f"{', '.join(labels[:3])} +{len(labels) - 3}"


def db_name(db) -> str:
    """The Datasette name of the database: its file name without extension."""
    for row in db.execute("pragma database_list").fetchall():
        if row[1] == "main" and row[2]:
            return Path(row[2]).stem
    return "tracker"


def last_delivery(db, email: str) -> dict | None:
    """The subscriber's latest recorded digest (sent, or skipped because empty; failed attempts do not count)."""
    row = db.execute(
        "select id, sent_at, period_end, status from digests where subscriber = ? and status in ('sent', 'skipped') "
        "order by sent_at desc, id desc limit 1",
        [email],
    ).fetchone()
    return dict(zip(("id", "sent_at", "period_end", "status"), row)) if row else None


def _relevance_clauses(params: dict, sub: Subscriber) -> list[str]:
    """SQL conditions of a subscriber's relevance filter (``min_stance``, ``min_score``) on mentions ``m``."""
    clauses = []
    stances = MIN_STANCE.get(sub.min_stance)
    if stances:
        clauses.append(f"m.stance in ({_in(params, 'stance', stances)})")
    if sub.min_score > 0:
        clauses.append("m.stance_score >= :min_score")
        params["min_score"] = sub.min_score
    return clauses


def _filters(config, sub: Subscriber, since: str, delivered_until: str | None) -> tuple[str, dict]:
    topics = sub.topics or list(config.topics)
    params: dict = {"since": since, "email": sub.email, "delivered_until": delivered_until}
    clauses = ["m.first_seen_at >= :since", f"m.topic in ({_in(params, 'topic', topics)})"]
    if sub.sources:
        clauses.append(f"d.source in ({_in(params, 'source', sub.sources)})")
    clauses.extend(_relevance_clauses(params, sub))
    if delivered_until:  # only mentions first seen before the end of a delivered digest can have been delivered
        clauses.append("(m.first_seen_at > :delivered_until or not exists "
                       "(select 1 from digest_items di where di.subscriber = :email and di.mention_id = m.id))")
    return " and ".join(clauses), params


def _in(params: dict, prefix: str, values) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return ", ".join(names) or "null"


def build_digest(db, config, subscriber: Subscriber | dict | str, now: datetime | str | None = None) -> Digest:
    """Build one subscriber's digest as of ``now`` (content, subject, HTML and text parts)."""
    from tracker.health import source_health, unhealthy

    sub = subscriber if isinstance(subscriber, Subscriber) else (
        Subscriber.from_config(subscriber) if isinstance(subscriber, dict) else find_subscriber(config, subscriber))
    now = _aware(now)
    settings = {**DEFAULTS, **{k: v for k, v in config.digest.items() if k in DEFAULTS}}
    tz = ZoneInfo(config.digest.get("timezone") or "UTC")
    previous = last_delivery(db, sub.email)
    if previous:  # the period shown starts at the last digest; mentions are re-read from a margin before it
        period_start = _aware(previous["sent_at"])
        since = iso(min(period_start, _aware(previous["period_end"] or previous["sent_at"])) - MARGIN)
    else:
        period_start = now - timedelta(days=int(settings["first_digest_days"]))
        since = iso(period_start)
    delivered_until = db.execute("select max(period_end) from digests where subscriber = ? and status = 'sent'",
                                 [sub.email]).fetchone()[0]
    where, params = _filters(config, sub, since, delivered_until)
    # cross join: SQLite must walk the mentions index (topic, first_seen_at, ...) first, then look documents up
    base = f"from mentions m indexed by idx_mentions_digest cross join documents d on d.id = m.document_id where {where}"
    snapshot = db.execute("select coalesce(max(rowid), 0) from mentions").fetchone()[0]
    params["snapshot"] = snapshot

    groups = db.execute(
        f"select m.topic, m.entity_id, m.stance, d.jurisdiction, substr(m.first_seen_at, 1, 10), count(*), "
        f"max(m.first_seen_at) {base} and m.rowid <= :snapshot group by 1, 2, 3, 4, 5", params,
    ).fetchall()
    by_stance: Counter = Counter()
    by_jurisdiction: Counter = Counter()
    by_day: Counter = Counter()
    per_entity: dict[tuple, Counter] = defaultdict(Counter)
    period_end = iso(now)
    newest = ""
    for topic, entity, stance, jurisdiction, day, count, latest in groups:
        by_stance[stance or "unclassified"] += count
        by_jurisdiction[jurisdiction or "unknown"] += count
        per_entity[(topic, entity)][stance or "unclassified"] += count
        by_day[(day, stance)] += count
        newest = max(newest, latest or "")
    if newest:
        period_end = newest
    params["period_end"] = period_end
    total = sum(by_stance.values())

    link_root = f"{str(config.digest.get('base_url') or '').rstrip('/')}/{db_name(db)}"
    names = _entity_names(db, {e for _, e in per_entity})
    sections = []
    topics = sub.topics or list(config.topics)
    for topic in topics:
        entity_keys = sorted((k for k in per_entity if k[0] == topic), key=lambda k: (-sum(per_entity[k].values()), k[1] or ""))
        if not entity_keys:
            continue
        section = TopicSection(topic, topic_label([topic]), sum(sum(per_entity[k].values()) for k in entity_keys))
        entity_groups = {}
        for key in entity_keys:
            query = {"topic": topic, "entity_id": key[1], "first_seen_at__gte": since, "_sort_desc": "first_seen_at"}
            entity_groups[key[1]] = EntityGroup(key[1], names.get(key[1], key[1] or "(unlinked)"), sum(per_entity[key].values()),
                                                dict(per_entity[key]), f"{link_root}/mentions?{urlencode(query)}")
        _fill_topic(db, base, params, topic, entity_groups, settings, link_root)
        section.entities = [entity_groups[k[1]] for k in entity_keys]
        sections.append(section)

    dossiers_new, dossiers_new_total, dossiers_active, dossiers_active_total = _dossiers(db, sub, iso(period_start))
    digest = Digest(
        subscriber=sub, now=now, period_start=period_start, since=since, period_end=period_end, snapshot_rowid=snapshot,
        total=total, by_stance={s: by_stance[s] for s in (*STANCES, "unclassified") if by_stance[s]},
        by_jurisdiction=dict(by_jurisdiction.most_common()), sections=sections,
        dossiers_new=dossiers_new, dossiers_new_total=dossiers_new_total,
        dossiers_active=dossiers_active, dossiers_active_total=dossiers_active_total,
        health=unhealthy(source_health(db, config, now)), chart=[], chart_png=b"",
        _where=where, _params=params,
    )
    digest.chart = _weekly_stances(db, config, sub, now, since, by_day)
    digest.chart_png = stance_chart_png(digest.chart)
    week_of = period_start.astimezone(tz).date()
    week_of -= timedelta(days=week_of.weekday())
    digest.subject = _subject(sub, config, digest, week_of)
    context = {"d": digest, "week_of": week_of, "tz": tz, "link_root": link_root, "colours": STANCE_COLOURS,
               "period_start_local": period_start.astimezone(tz), "now_local": now.astimezone(tz),
               "sources_total": sum(1 for s in config.sources.values() if s.enabled)}
    digest.html = _templates().get_template("digest.html.j2").render(**context)
    digest.text = _templates().get_template("digest.txt.j2").render(**context)
    return digest


def _entity_names(db, ids: set) -> dict[str, str]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    rows = db.execute(f"select id, name from entities where id in ({', '.join('?' for _ in ids)})", ids).fetchall()
    return {i: n for i, n in rows if n}


def _fill_topic(db, base: str, params: dict, topic: str, groups: dict[str, EntityGroup], settings: dict, link_root: str) -> None:
    """Fetch the newest mentions of one topic (bounded) and arrange them by entity, story and document."""
    has_story = "story_id" in db["documents"].columns_dict
    max_docs = int(settings["max_documents"])
    per_doc = int(settings["max_mentions_per_document"])
    limit = max(50, len(groups) * max_docs * per_doc)
    rows = db.execute(
        f"select m.id, m.entity_id, m.text, m.sentence, m.start, m.end, m.stance, m.stance_score, d.id, d.title, d.url, "
        f"d.source, d.institution, d.jurisdiction, coalesce(d.published_at, substr(d.fetched_at, 1, 10)), "
        f"{'d.story_id' if has_story else 'null'} {base} and m.topic = :topic_one and m.rowid <= :snapshot "
        f"and m.first_seen_at <= :period_end order by m.first_seen_at desc, m.id limit :limit",
        {**params, "topic_one": topic, "limit": limit},
    ).fetchall()
    documents: dict[tuple, DocumentItem] = {}
    shown_docs: Counter = Counter()
    doc_stances = _document_stances(db, topic, {r[8] for r in rows})
    for (mid, entity, text, sentence, start, end, stance, score, doc_id, title, url, source, institution,
         jurisdiction, day, story) in rows:
        group = groups.get(entity)
        if group is None:
            continue
        doc = documents.get((entity, doc_id))
        if doc is None:
            if shown_docs[entity] >= max_docs:
                continue
            shown_docs[entity] += 1
            doc = DocumentItem(doc_id, title or "(untitled)", url, source, institution or _host(url) or source,
                               (day or "")[:10] or None, jurisdiction, doc_stances.get(doc_id, stance),
                               f"{link_root}/documents/{doc_id}")
            documents[(entity, doc_id)] = doc
            key = f"story:{story}" if story is not None else f"doc:{doc_id}"
            story_group = next((s for s in group.stories if s.key == key), None)
            if story_group is None:
                story_group = StoryGroup(key)
                group.stories.append(story_group)
            story_group.documents.append(doc)
        group.shown += 1
        if len(doc.mentions) >= per_doc:
            doc.more_mentions += 1
            continue
        doc.mentions.append(MentionItem(mid, stance, score, highlight(sentence or text or "", text, start, end),
                                        highlight_text(sentence or text or "", text, start, end),
                                        f"{link_root}/mentions/{mid}"))


def _document_stances(db, topic: str, ids: set) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    rows = db.execute(
        f"select document_id, stance from document_topics where topic = ? and document_id in ({', '.join('?' for _ in ids)})",
        [topic, *ids],
    ).fetchall()
    return {d: s for d, s in rows if s in STANCES}


def _host(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").removeprefix("www.") or None if url else None


def _span(sentence: str, text: str | None, start: int | None, end: int | None) -> tuple[int, int] | None:
    """Where the mention sits in its sentence: offsets if they point at the text, else the first match."""
    if not text:
        return None
    if start is not None and end is not None and 0 <= start < end <= len(sentence) and sentence[start:end] == text:
        return start, end
    index = sentence.find(text)
    if index < 0:
        index = sentence.lower().find(text.lower())
    return (index, index + len(text)) if index >= 0 else None


def highlight(sentence: str, text: str | None, start: int | None = None, end: int | None = None) -> Markup:
    """The sentence HTML-escaped, the mention wrapped in <mark>."""
    span = _span(sentence, text, start, end)
    if span is None:
        return Markup(escape(sentence))
    a, b = span
    return Markup(f"{escape(sentence[:a])}<mark style=\"background:#fde68a;padding:0 2px\">{escape(sentence[a:b])}</mark>{escape(sentence[b:])}")


def highlight_text(sentence: str, text: str | None, start: int | None = None, end: int | None = None) -> str:
    """The sentence for the plain-text part, the mention between » «."""
    span = _span(sentence, text, start, end)
    if span is None:
        return sentence
    a, b = span
    return f"{sentence[:a]}»{sentence[a:b]}«{sentence[b:]}"


def _dossiers(db, sub: Subscriber, start: str) -> tuple[list[dict], int, list[dict], int]:
    """Bills and procedures first seen in the period, and those with a new event in it."""
    where, params = "", {"start": start, "day": start[:10]}
    if sub.sources:
        where = f" and source in ({_in(params, 'source', sub.sources)})"
    columns = "key, kind, source, title, url, stage, status, latest_event_date, latest_event"
    new = [dict(zip(columns.split(", "), r)) for r in db.execute(
        f"select {columns} from dossiers where first_seen_at >= :start{where} order by first_seen_at desc, key limit 10", params)]
    new_total = db.execute(f"select count(*) from dossiers where first_seen_at >= :start{where}", params).fetchone()[0]
    active = [dict(zip(columns.split(", "), r)) for r in db.execute(
        f"select {columns} from dossiers where latest_event_date >= :day and first_seen_at < :start{where} "
        "order by latest_event_date desc, key limit 10", params)]
    active_total = db.execute(
        f"select count(*) from dossiers where latest_event_date >= :day and first_seen_at < :start{where}", params).fetchone()[0]
    return new, new_total, active, active_total


def _weekly_stances(db, config, sub: Subscriber, now: datetime, since: str, recent: Counter) -> list[dict]:
    """New mentions per week (of first sighting) and stance over the last CHART_WEEKS weeks, with the
    subscriber's filters: what the tracker found each week, like the digests themselves.

    ``recent`` holds the digest's own per-day counts from ``since`` on, so the (possibly large) digest
    window is not scanned twice; earlier days are counted here from the mentions index.
    """
    monday = now.date() - timedelta(days=now.weekday())
    first = monday - timedelta(weeks=CHART_WEEKS - 1)
    params: dict = {"first": first.isoformat(), "end": since}
    clauses = [f"m.topic in ({_in(params, 'topic', sub.topics or list(config.topics))})",
               "m.first_seen_at >= :first", "m.first_seen_at < :end"]
    join = ""
    if sub.sources:
        join = " cross join documents d on d.id = m.document_id"
        clauses.append(f"d.source in ({_in(params, 'source', sub.sources)})")
    clauses.extend(_relevance_clauses(params, sub))
    counts = Counter(recent)
    for day, stance, count in db.execute(
        f"select substr(m.first_seen_at, 1, 10), m.stance, count(*) from mentions m indexed by idx_mentions_digest{join} "
        f"where {' and '.join(clauses)} group by 1, 2", params,
    ):
        counts[(day, stance)] += count
    weeks = [{"week": (first + timedelta(weeks=i)).isoformat(), **{s: 0 for s in STANCES}} for i in range(CHART_WEEKS)]
    for (day, stance), count in counts.items():
        try:
            offset = (date.fromisoformat(day) - first).days // 7
        except (TypeError, ValueError):
            continue
        if 0 <= offset < CHART_WEEKS and stance in STANCES:
            weeks[offset][stance] += count
    return weeks


def _subject(sub: Subscriber, config, digest: Digest, week_of: date) -> str:
    label = topic_label(sub.topics or list(config.topics))
    parts = []
    if digest.total:
        critical = digest.by_stance.get("critical", 0)
        parts.append(f"{digest.total} new mention{'s' if digest.total != 1 else ''}" + (f" ({critical} critical)" if critical else ""))
    if digest.dossiers_new_total:
        n = digest.dossiers_new_total
        parts.append(f"{n} new bill{'s' if n != 1 else ''}/procedure{'s' if n != 1 else ''}")
    return f"{label}: {', '.join(parts) or 'nothing new'} — week of {week_of.isoformat()}"


@lru_cache(maxsize=1)
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("tracker", "templates"),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    return env


def record_delivery(db, digest: Digest, message_id: str | None, sent_at: datetime | None = None,
                    status: str = "sent") -> int:
    """Record a digest the server accepted (or an empty one skipped) with exactly the mentions it covered."""
    from db.writes import transaction

    sent = iso(sent_at or digest.now)
    with transaction(db):
        cursor = db.conn.execute(
            "insert into digests (subscriber, sent_at, message_id, subject, items, period_start, period_end, status, "
            "mentions_total, snapshot_rowid) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [digest.subscriber.email, sent, message_id, digest.subject, digest.total, iso(digest.period_start),
             digest.period_end, status, digest.total, digest.snapshot_rowid],
        )
        digest_id = cursor.lastrowid
        if digest.total:
            db.conn.execute(
                "insert or ignore into digest_items (digest_id, mention_id, subscriber) "
                f"select :digest_id, m.id, :email from mentions m cross join documents d on d.id = m.document_id "
                f"where {digest._where} and m.rowid <= :snapshot and m.first_seen_at <= :period_end",
                {**digest._params, "digest_id": digest_id},
            )
    return digest_id


def record_failure(db, digest: Digest, error: str) -> None:
    """Keep a failed delivery attempt visible (status ``failed``, no items): it never counts as delivered."""
    db.execute(
        "insert into digests (subscriber, sent_at, subject, items, period_start, period_end, status, mentions_total, error) "
        "values (?, ?, ?, 0, ?, ?, 'failed', ?, ?)",
        [digest.subscriber.email, iso(digest.now), digest.subject, iso(digest.period_start), digest.period_end,
         digest.total, error],
    )


# --- the chart: a PNG without dependencies --------------------------------------------------------


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def stance_chart_png(weeks: list[dict], width: int = 320, height: int = 96) -> bytes:
    """Stacked bars (critical at the bottom, then neutral, then supportive) per week, as a PNG."""
    background, axis = (255, 255, 255), (209, 213, 219)
    pixels = [[background] * width for _ in range(height)]
    for x in range(width):
        pixels[height - 1][x] = axis
    peak = max((sum(w[s] for s in STANCES) for w in weeks), default=0) or 1
    slot = width // max(len(weeks), 1)
    bar = max(slot - 8, 2)
    for i, week in enumerate(weeks):
        x0 = i * slot + (slot - bar) // 2
        y = height - 2
        for stance in ("critical", "neutral", "supportive"):
            h = round(week[stance] / peak * (height - 6))
            colour = _hex(STANCE_COLOURS[stance])
            for row in range(max(y - h + 1, 0), y + 1):
                pixels[row][x0:x0 + bar] = [colour] * bar
            y -= h
    raw = b"".join(b"\x00" + bytes(c for p in row for c in p) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
