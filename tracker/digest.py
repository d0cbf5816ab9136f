"""The weekly digest: what each subscriber gets, built from the database (delivery is `tracker.mailer`).

For each subscriber the digest holds the mentions not yet delivered to them that were first seen
since their last digest, filtered by the subscriber's topics, sources and minimum relevance
(`db.digests.Selection` fixes that set when the digest is built). A summary counts them by stance
and jurisdiction, lists new and active bills and procedures and draws a per-week stance chart
(`tracker.chart`, from the first week with data); the footer judges every enabled source by the
one health rule (`tracker.health` over `db.health`): those stale, failing or degraded with the
reason, those never run as such, and how many are up to date.
Then one section per followed dossier, entity or saved search with something new since the last
digest (`tracker.follow`), and the signed unsubscribe link and list headers (`tracker.unsubscribe`).
Content is arranged by `tracker.digest_view` and rendered by `tracker.digest_render`.

The period shown starts at the last digest (sent, or skipped as empty); mentions are re-read from
``MARGIN`` before it, so rows committed late are not skipped (those already delivered are excluded
by ``digest_items``). A subscriber's first digest covers ``first_digest_days``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from urllib.parse import urlencode

import sqlite_utils

from db import clock
from db import digests as data
from tracker.chart import chart_start, stance_chart_png, weekly_stances
from tracker.config import Config
from tracker.digest_changes import changed_documents, position_shifts, relevance
from tracker.digest_render import render
from tracker.digest_view import (Digest, EntityGroup, TopicSection, arrange_topic, heading_levels, period_label, subject,
                                 topic_label, web_link)
from tracker.follow import follow_sections
from tracker.health import source_health, unhealthy
from tracker.subscriptions import STANCES, Subscriber
from tracker.unsubscribe import headers, link, list_id, make_token, secret

MARGIN = timedelta(hours=1)


def _subscriber(config: Config, subscriber: Subscriber | dict | str) -> Subscriber:
    if isinstance(subscriber, Subscriber):
        return subscriber
    if isinstance(subscriber, dict):
        return Subscriber.from_config(subscriber)
    return config.digest.find_subscriber(subscriber)


def selection(db: sqlite_utils.Database, config: Config, sub: Subscriber, now: datetime) -> tuple[data.Selection, datetime]:
    """The mentions the subscriber's digest as of ``now`` covers (without its upper bound) and the period start."""
    previous = data.last_delivery(db, sub.email)
    if previous:  # the period shown starts at the last digest; mentions are re-read from a margin before it
        period_start = clock.aware(previous["sent_at"])
        start = min(period_start, clock.aware(previous["period_end"] or previous["sent_at"]))
        released = data.released_bases(db, previous["id"])  # it was built on claims that failed afterwards
        since = clock.iso(min([start, *(clock.aware(r) for r in released)]) - MARGIN)
    else:
        period_start = now - timedelta(days=config.digest.first_digest_days)
        since = clock.iso(period_start)
    sel = data.Selection(sub.email, tuple(sub.topics or config.topics), tuple(sub.sources), sub.stances, sub.min_score,
                         since, data.delivered_until(db, sub.email),
                         slot=f"after:{previous['id']}" if previous else "first")  # the claim's key (db.digests)
    return sel, period_start


def build_digest(db: sqlite_utils.Database, config: Config, subscriber: Subscriber | dict | str,
                 now: datetime | str | None = None) -> Digest:
    """Build one subscriber's digest as of ``now`` (default: the clock): content, subject, HTML and text parts."""
    sub = _subscriber(config, subscriber)
    now = clock.now() if now is None else clock.aware(now)
    settings = config.digest
    sel, period_start = selection(db, config, sub, now)
    sel = sel.bounded(data.mention_snapshot(db), "")

    by_stance: Counter = Counter()
    by_jurisdiction: Counter = Counter()
    by_day: Counter = Counter()
    per_entity: dict[tuple, Counter] = defaultdict(Counter)
    newest = ""
    for topic, entity, stance, jurisdiction, day, count, latest in data.mention_groups(db, sel):
        by_stance[stance or "unclassified"] += count
        by_jurisdiction[jurisdiction or "unknown"] += count
        per_entity[(topic, entity)][stance or "unclassified"] += count
        by_day[(day, stance)] += count
        newest = max(newest, latest or "")
    sel = sel.bounded(sel.snapshot, newest or clock.iso(now))
    total = sum(by_stance.values())

    link_root = f"{settings.base_url.rstrip('/')}/{data.database_name(db)}"
    names = data.entity_names(db, {e for _, e in per_entity})
    sections = []
    for topic in sel.topics:
        entity_keys = sorted((k for k in per_entity if k[0] == topic), key=lambda k: (-sum(per_entity[k].values()), k[1] or ""))
        if not entity_keys:
            continue
        section = TopicSection(topic, topic_label([topic]), sum(sum(per_entity[k].values()) for k in entity_keys))
        groups = {}
        for key in entity_keys:
            query = {"topic": topic, "entity_id": key[1], "first_seen_at__gte": sel.since, "_sort_desc": "first_seen_at"}
            groups[key[1]] = EntityGroup(key[1], names.get(key[1], key[1] or "(unlinked)"), sum(per_entity[key].values()),
                                         dict(per_entity[key]), f"{link_root}/mentions?{urlencode(query)}")
        limit = max(50, len(groups) * settings.max_documents * settings.max_mentions_per_document)
        rows = data.topic_mentions(db, sel, topic, limit)
        stances = data.document_stances(db, topic, {r["document_id"] for r in rows})
        arrange_topic(rows, groups, stances, settings.max_documents, settings.max_mentions_per_document, link_root)
        section.entities = [groups[k[1]] for k in entity_keys]
        sections.append(section)
    heading_levels(sections)

    dossiers_new, dossiers_new_total, dossiers_active, dossiers_active_total = data.dossiers(db, sel.sources, clock.iso(period_start))
    for dossier in (*dossiers_new, *dossiers_active):
        dossier["link"] = web_link(dossier["url"])
    first = chart_start(now.date())
    counts = Counter(by_day)  # the digest's own window, counted above; earlier days from the mentions index
    for day, stance, count in data.stance_counts_by_day(db, sel, first.isoformat(), sel.since):
        counts[(day, stance)] += count
    chart = weekly_stances(counts, first)
    health_rows = source_health(db, config, now)
    digest = Digest(
        subscriber=sub, now=now, period_start=period_start, selection=sel, total=total,
        by_stance={s: by_stance[s] for s in (*STANCES, "unclassified") if by_stance[s]},
        by_jurisdiction=dict(by_jurisdiction.most_common()), sections=sections,
        dossiers_new=dossiers_new, dossiers_new_total=dossiers_new_total,
        dossiers_active=dossiers_active, dossiers_active_total=dossiers_active_total,
        health=unhealthy(health_rows), chart=chart, chart_png=stance_chart_png(chart),
        sources_total=len(health_rows), sources_ok=sum(r["health"] == "ok" for r in health_rows),
        sources_never=[r["source"] for r in health_rows if r["health"] == "never"],
    )
    digest.follows, digest.follow_marks = follow_sections(
        db, sub, min(period_start, now - timedelta(days=settings.first_digest_days)), settings.max_documents,
        settings.max_mentions_per_document, link_root)
    digest.changes = changed_documents(db, relevance(sub, sel.topics), clock.iso(period_start), clock.iso(now),
                                       settings.base_url, link_root)
    digest.shifts = position_shifts(db, sel.topics, period_start, now, link_root)
    token = make_token(secret(db, settings.unsubscribe_secret_env), sub.email, list_id(settings))
    digest.unsubscribe_url, digest.list_headers = link(settings, token), headers(settings, token)
    tz = settings.tz_of(sub)
    period = period_label(period_start.astimezone(tz).date(), now.astimezone(tz).date())  # subject and title agree
    digest.subject = subject(list(sel.topics), total, by_stance.get("critical", 0), dossiers_new_total, period,
                             len(digest.follows))
    digest.title = f"{topic_label(list(sel.topics))} digest, {period}"
    digest.html, digest.text = render(digest, tz, link_root)
    return digest
