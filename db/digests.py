"""The digest's data: which mentions a subscriber's digest covers, the counts and rows it shows, the
dossiers of the period, and the delivery rows (``digests``, ``digest_items``).

A `Selection` fixes the set of mentions one digest covers: the subscriber's filters, a lower bound
(``since``), "not already delivered" (``delivered_until``: mentions first seen after the end of the
last delivered digest cannot have been delivered, so the ``digest_items`` lookup is skipped for
them), and an upper bound taken at build time (the largest mentions rowid and the newest
``first_seen_at``). `claim` writes exactly that set into ``digest_items`` before the SMTP session starts, so nothing
is skipped and nothing is sent twice.

Claims (migration ``0007_digest_claims``): a digest is one ``digests`` row keyed (unique) by
subscriber and ``slot``, the previous counted digest it follows (``after:<id>``, or ``first``).
`claim` inserts it in state ``sending`` with its Message-ID, claimer (pid, host) and items in one
``BEGIN IMMEDIATE`` transaction; a second process that built the same digest hits the unique key
and skips. The claim then ends ``sent`` (`mark_sent`), ``failed`` / ``refused`` (`release`: its
items are freed for the next send) or, when its process died mid-session, ``unknown``
(`mark_unknown`: the server may have accepted it; its items stay delivered, it is never resent).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

import sqlite_utils

from db.identities import NOT_A_REPEAT
from db.transaction import transaction

DOSSIER_FIELDS = ("key", "kind", "source", "title", "url", "stage", "status", "latest_event_date", "latest_event")
# Statuses whose mentions count as delivered (never offered again) and those that start a new period.
DELIVERED = ("sending", "sent", "unknown")
COUNTED = (*DELIVERED, "skipped")
CLAIM_FIELDS = ("id", "subscriber", "sent_at", "message_id", "subject", "mentions_total", "claim_pid", "claim_host",
                "status", "error")
TOPIC_MENTION_FIELDS = ("id", "entity_id", "text", "sentence", "start", "end", "stance", "stance_score", "document_id",
                        "title", "url", "source", "institution", "jurisdiction", "day", "story_id")


@dataclass(frozen=True)
class Selection:
    """The mentions one digest covers, as plain values (``stances`` None: every stance)."""

    email: str
    topics: tuple[str, ...]
    sources: tuple[str, ...]
    stances: tuple[str, ...] | None
    min_score: float
    since: str
    delivered_until: str | None
    snapshot: int = 0
    period_end: str = ""
    slot: str = "first"

    def bounded(self, snapshot: int, period_end: str) -> "Selection":
        """The same selection with its upper bound fixed."""
        return replace(self, snapshot=snapshot, period_end=period_end)


def _in(params: dict, prefix: str, values) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return ", ".join(names) or "null"


def _relevance(params: dict, sel: Selection) -> list[str]:
    """Conditions of the subscriber's relevance filter (stances, minimum score) on mentions ``m``."""
    clauses = []
    if sel.stances:
        clauses.append(f"m.stance in ({_in(params, 'stance', sel.stances)})")
    if sel.min_score > 0:
        clauses.append("m.stance_score >= :min_score")
        params["min_score"] = sel.min_score
    return clauses


def _where(sel: Selection, bounded: bool = True) -> tuple[str, dict]:
    """SQL over ``mentions m cross join documents d`` selecting the mentions of ``sel``."""
    params: dict = {"since": sel.since, "email": sel.email, "delivered_until": sel.delivered_until}
    clauses = ["m.first_seen_at >= :since", f"m.topic in ({_in(params, 'topic', sel.topics)})"]
    if sel.sources:
        clauses.append(f"d.source in ({_in(params, 'source', sel.sources)})")
    clauses.extend(_relevance(params, sel))
    clauses.append(NOT_A_REPEAT)  # a sentence found in several copies of one document counts once (db.identities)
    if sel.delivered_until:
        clauses.append("(m.first_seen_at > :delivered_until or not exists "
                       "(select 1 from digest_items di where di.subscriber = :email and di.mention_id = m.id))")
    if bounded:
        clauses.append("m.rowid <= :snapshot")
        params["snapshot"] = sel.snapshot
        if sel.period_end:
            clauses.append("m.first_seen_at <= :period_end")
            params["period_end"] = sel.period_end
    return " and ".join(clauses), params


# cross join: SQLite must walk the mentions index (topic, first_seen_at, ...) first, then look documents up
_FROM = "from mentions m indexed by idx_mentions_digest cross join documents d on d.id = m.document_id"


_COUNTED_SQL = ", ".join(f"'{s}'" for s in COUNTED)
_DELIVERED_SQL = ", ".join(f"'{s}'" for s in DELIVERED)


def last_delivery(db: sqlite_utils.Database, email: str) -> dict | None:
    """The subscriber's latest counted digest (sent, claimed, unknown, or skipped because empty; failed
    and refused attempts do not count)."""
    row = db.execute(
        f"select id, sent_at, period_end, status from digests where subscriber = ? and status in ({_COUNTED_SQL}) "
        "order by id desc limit 1",
        [email],
    ).fetchone()
    return dict(zip(("id", "sent_at", "period_end", "status"), row)) if row else None


def delivered_until(db: sqlite_utils.Database, email: str) -> str | None:
    """The end of the newest period delivered (or claimed) to the subscriber (None before the first)."""
    return db.execute(f"select max(period_end) from digests where subscriber = ? and status in ({_DELIVERED_SQL})",
                      [email]).fetchone()[0]


def recorded_since(db: sqlite_utils.Database, email: str, instant: str) -> bool:
    """Whether a digest was sent, claimed or recorded as skipped for the subscriber at or after ``instant``."""
    return db.execute(f"select 1 from digests where subscriber = ? and sent_at >= ? and status in ({_COUNTED_SQL}) "
                      "limit 1", [email, instant]).fetchone() is not None


def mention_snapshot(db: sqlite_utils.Database) -> int:
    """The largest mentions rowid now (the upper bound of a digest being built)."""
    return db.execute("select coalesce(max(rowid), 0) from mentions").fetchone()[0]


def mention_groups(db: sqlite_utils.Database, sel: Selection) -> list[tuple]:
    """Counts of the selected mentions (up to the snapshot) by (topic, entity, stance, jurisdiction, day),
    with the newest ``first_seen_at`` of each group: rows of 7 values."""
    where, params = _where(replace(sel, period_end=""))
    return db.execute(
        f"select m.topic, m.entity_id, m.stance, d.jurisdiction, substr(m.first_seen_at, 1, 10), count(*), "
        f"max(m.first_seen_at) {_FROM} where {where} group by 1, 2, 3, 4, 5", params,
    ).fetchall()


def topic_mentions(db: sqlite_utils.Database, sel: Selection, topic: str, limit: int) -> list[dict]:
    """The newest selected mentions of one topic (at most ``limit``) with their documents' fields."""
    where, params = _where(sel)
    rows = db.execute(
        f"select m.id, m.entity_id, m.text, m.sentence, m.start, m.end, m.stance, m.stance_score, d.id, d.title, d.url, "
        f"d.source, d.institution, d.jurisdiction, coalesce(d.published_at, substr(d.fetched_at, 1, 10)), d.story_id "
        f"{_FROM} where {where} and m.topic = :topic_one order by m.first_seen_at desc, m.id limit :limit",
        {**params, "topic_one": topic, "limit": limit},
    ).fetchall()
    return [dict(zip(TOPIC_MENTION_FIELDS, r)) for r in rows]


def document_stances(db: sqlite_utils.Database, topic: str, ids: set[int]) -> dict[int, str | None]:
    """The topic stance of each of these documents (``document_topics``)."""
    ids = list(ids)
    if not ids:
        return {}
    rows = db.execute(
        f"select document_id, stance from document_topics where topic = ? and document_id in ({', '.join('?' for _ in ids)})",
        [topic, *ids],
    ).fetchall()
    return dict(rows)


def entity_names(db: sqlite_utils.Database, ids: set) -> dict[str, str]:
    """Display names of these entity ids (those that have one)."""
    ids = [i for i in ids if i]
    if not ids:
        return {}
    rows = db.execute(f"select id, name from entities where id in ({', '.join('?' for _ in ids)})", ids).fetchall()
    return {i: n for i, n in rows if n}


def dossiers(db: sqlite_utils.Database, sources: tuple[str, ...], start: str, limit: int = 10) -> tuple[list[dict], int, list[dict], int]:
    """Bills and procedures first seen since ``start``, and older ones with an event since: (new, total, active, total)."""
    where, params = "", {"start": start, "day": start[:10]}
    if sources:
        where = f" and source in ({_in(params, 'source', sources)})"
    columns = ", ".join(DOSSIER_FIELDS)
    new_where = f"first_seen_at >= :start{where}"
    active_where = f"latest_event_date >= :day and first_seen_at < :start{where}"
    new = [dict(zip(DOSSIER_FIELDS, r)) for r in db.execute(
        f"select {columns} from dossiers where {new_where} order by first_seen_at desc, key limit {limit}", params)]
    active = [dict(zip(DOSSIER_FIELDS, r)) for r in db.execute(
        f"select {columns} from dossiers where {active_where} order by latest_event_date desc, key limit {limit}", params)]
    count = lambda w: db.execute(f"select count(*) from dossiers where {w}", params).fetchone()[0]  # noqa: E731
    return new, count(new_where), active, count(active_where)


def stance_counts_by_day(db: sqlite_utils.Database, sel: Selection, first: str, end: str) -> list[tuple[str, str | None, int]]:
    """(day, stance, count) of the mentions matching the subscriber's filters first seen in [first, end)
    (no delivery bound: the chart shows what the tracker found each week)."""
    params: dict = {"first": first, "end": end}
    clauses = [f"m.topic in ({_in(params, 'topic', sel.topics)})", "m.first_seen_at >= :first", "m.first_seen_at < :end"]
    join = ""
    if sel.sources:
        join = " cross join documents d on d.id = m.document_id"
        clauses.append(f"d.source in ({_in(params, 'source', sel.sources)})")
    clauses.extend(_relevance(params, sel))
    clauses.append(NOT_A_REPEAT)  # a sentence found in several copies of one document counts once (db.identities)
    return db.execute(
        f"select substr(m.first_seen_at, 1, 10), m.stance, count(*) from mentions m indexed by idx_mentions_digest{join} "
        f"where {' and '.join(clauses)} group by 1, 2", params,
    ).fetchall()


def claim(db: sqlite_utils.Database, sel: Selection, subject: str, total: int, period_start: str, claimed_at: str,
          message_id: str | None, pid: int, host: str, status: str = "sending") -> int | None:
    """Claim the digest of ``sel`` (status ``sending``, or ``skipped`` for an empty one) with exactly the
    mentions it covers, in one transaction; None when another digest already holds its slot."""
    try:
        with transaction(db):
            digest_id = db.conn.execute(
                "insert into digests (subscriber, sent_at, message_id, subject, items, period_start, period_end, status, "
                "mentions_total, snapshot_rowid, slot, claim_pid, claim_host, claimed_at) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sel.email, claimed_at, message_id, subject, total, period_start, sel.period_end, status, total,
                 sel.snapshot, sel.slot, pid, host, claimed_at],
            ).lastrowid
            if total:
                where, params = _where(sel)
                db.conn.execute(
                    "insert or ignore into digest_items (digest_id, mention_id, subscriber) "
                    f"select :digest_id, m.id, :email from mentions m cross join documents d on d.id = m.document_id where {where}",
                    {**params, "digest_id": digest_id},
                )
    except sqlite3.IntegrityError:
        return None
    return digest_id


def mark_sent(db: sqlite_utils.Database, digest_id: int) -> None:
    """The server accepted the claimed digest."""
    with transaction(db):
        db.conn.execute("update digests set status = 'sent' where id = ?", [digest_id])


def release(db: sqlite_utils.Database, digest_id: int, status: str, error: str) -> None:
    """The claimed digest was certainly not accepted (``failed``, or ``refused`` for its recipient): its
    mentions are freed for the next send and the attempt stays visible."""
    with transaction(db):
        db.conn.execute("delete from digest_items where digest_id = ?", [digest_id])
        db.conn.execute("update digests set status = ?, error = ?, items = 0 where id = ?", [status, error, digest_id])


def claims(db: sqlite_utils.Database, status: str = "sending", email: str | None = None) -> list[dict]:
    """Digests in ``status`` (``sending``: claims in flight or left by a dead process; ``unknown``), oldest first."""
    where, params = "status = ?", [status]
    if email is not None:
        where, params = where + " and subscriber = ?", [*params, email]
    rows = db.execute(f"select {', '.join(CLAIM_FIELDS)} from digests where {where} order by id", params).fetchall()
    return [dict(zip(CLAIM_FIELDS, r)) for r in rows]


def released_bases(db: sqlite_utils.Database, digest_id: int) -> list[str]:
    """The period starts of the claims this digest was built on (its ``slot`` chain) that were released
    afterwards (``failed`` / ``refused``): their mentions were left out of it as claimed, so the next
    digest must reach back to them. Empty in the usual case (the basis was sent)."""
    starts = []
    row = db.execute("select slot from digests where id = ?", [digest_id]).fetchone()
    while row and row[0] and row[0].startswith("after:"):
        row = db.execute("select slot, status, period_start from digests where id = ?", [int(row[0][6:])]).fetchone()
        if not row or row[1] not in ("failed", "refused"):
            break
        starts.append(row[2])
    return [s for s in starts if s]


def mark_unknown(db: sqlite_utils.Database, digest_id: int, error: str) -> bool:
    """A claim whose process died mid-session: the server may have accepted it, so its mentions stay
    delivered and it is never resent. False when it is no longer ``sending``."""
    with transaction(db):
        changed = db.conn.execute("update digests set status = 'unknown', error = ? where id = ? and status = 'sending'",
                                  [error, digest_id]).rowcount
    return bool(changed)


def subscriber_deliveries(db: sqlite_utils.Database, email: str) -> dict:
    """For `tracker digest subscribers`: the last counted digest, the last sent one, and the counts per status."""
    last = db.execute("select sent_at, status, subject from digests where subscriber = ? order by id desc limit 1",
                      [email]).fetchone()
    sent = db.execute("select max(sent_at) from digests where subscriber = ? and status = 'sent'", [email]).fetchone()[0]
    counts = dict(db.execute("select status, count(*) from digests where subscriber = ? group by status", [email]).fetchall())
    return {"last_attempt_at": last[0] if last else None, "last_status": last[1] if last else None,
            "last_sent_at": sent, "counts": counts}


def migrate_claims(db: sqlite_utils.Database) -> None:
    """Migration ``0007_digest_claims``: the claim columns and the unique (subscriber, slot) key over
    the digests that count (a failed or refused attempt never holds a slot)."""
    columns = db["digests"].columns_dict
    for column, kind in (("slot", str), ("claim_pid", int), ("claim_host", str), ("claimed_at", str)):
        if column not in columns:
            db["digests"].add_column(column, kind)
    db.execute(f"create unique index if not exists idx_digests_claim on digests (subscriber, slot) "
               f"where slot is not null and status in ({_COUNTED_SQL})")


def record_failure(db: sqlite_utils.Database, email: str, subject: str, total: int, period_start: str, period_end: str,
                   attempted_at: str, error: str) -> None:
    """Keep a failed attempt that never got a claim visible (status ``failed``, no items, no slot)."""
    with transaction(db):
        db.conn.execute(
            "insert into digests (subscriber, sent_at, subject, items, period_start, period_end, status, mentions_total, error) "
            "values (?, ?, ?, 0, ?, ?, 'failed', ?, ?)",
            [email, attempted_at, subject, period_start, period_end, total, error],
        )


def database_name(db: sqlite_utils.Database) -> str:
    """The Datasette name of the database: its file name without extension."""
    for row in db.execute("pragma database_list").fetchall():
        if row[1] == "main" and row[2]:
            return Path(row[2]).stem
    return "tracker"
