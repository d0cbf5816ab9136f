"""Digest delivery: compose each subscriber's message, claim it, hand it to `tracker.smtp`, record.

After a server-level failure (unreachable, deadline, TLS, AUTH) the remaining subscribers of that
send are not attempted (recorded ``failed``: "not attempted"); one subscriber's failure of any kind
is recorded for that subscriber and the others go on.

At most once (`db.digests.claim`): each subscriber's digest is one message (text + HTML with the
stance chart as an inline ``cid:`` image) whose Message-ID is fixed when it is claimed, before
connecting. A second process that built the same digest finds the claim and skips it. The claim
ends ``sent`` when the server accepted DATA; ``failed`` / ``refused`` (its mentions freed for the
next send) when the server certainly did not take it; ``unknown`` when the whole message was handed
over but no answer came (deadline, dropped connection), or when a claim's process died mid-session
(reconciled by the next send or tick). An ``unknown`` digest is never resent automatically: its
mentions count as delivered and it is reported (`tracker digest subscribers`, the send's output).
"""

from __future__ import annotations

import email.policy
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import sqlite_utils

from db import clock, follows, optouts
from db import digests as data
from db.transaction import transaction
from tracker.config import Config
from tracker.digest import build_digest
from tracker.digest_view import Digest
from tracker.processes import pid_alive
from tracker.smtp import MailError, deliver, smtp_target
from tracker.subscriptions import Subscriber
from tracker.unsubscribe import list_id

log = logging.getLogger("tracker.mailer")

# A ``sending`` claim older than the session deadline plus this margin belongs to a dead process.
CLAIM_MARGIN = timedelta(minutes=5)
# The list headers (tracker.unsubscribe) are set raw and never refolded: a long URL folded by the
# default policy would become an RFC 2047 encoded word, which no mail client reads as a URL.
POLICY = email.policy.default.clone(refold_source="none")


def compose(digest: Digest, sender: str, domain: str | None = None) -> EmailMessage:
    """The message: text part, HTML part with the chart attached inline (cid:), a fresh Message-ID."""
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = digest.subject
    msg["From"] = sender
    msg["To"] = digest.subscriber.email
    msg["Date"] = format_datetime(digest.now)
    msg["Message-ID"] = make_msgid("digest", domain=domain or _domain(sender))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    for name, value in digest.list_headers.items():
        msg.set_raw(name, value)
    msg.set_content(digest.text)
    msg.add_alternative(digest.html, subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(digest.chart_png, "image", "png", cid=f"<{digest.chart_cid}>", filename="stance-chart.png",
                          disposition="inline")
    return msg


def _domain(sender: str) -> str | None:
    address = parseaddr(sender)[1]
    return address.rsplit("@", 1)[1] if "@" in address else None


@dataclass
class Outcome:
    """What happened to one subscriber's digest. ``status``: sent, skipped (empty), claimed (another
    process holds it), unknown (may have been delivered; not resent), failed (refusals included), dry-run,
    opted-out (unsubscribed), feed-only (``schedule = "never"``)."""

    email: str
    status: str
    subject: str
    mentions: int
    critical: int
    dossiers: int
    message_id: str | None = None
    error: str | None = None


def record_failure(db: sqlite_utils.Database, email: str, error: str, digest: Digest | None = None) -> None:
    """Keep a failed attempt visible (status ``failed``, no items): it never counts as delivered."""
    if digest is None:
        data.record_failure(db, email, "", 0, clock.now_iso(), "", clock.now_iso(), error)
    else:
        data.record_failure(db, email, digest.subject, digest.total, clock.iso(digest.period_start),
                            digest.selection.period_end, clock.iso(digest.now), error)


class _SlotTaken(Exception):
    """Another digest holds the claim's slot (`_claim` rolls back)."""


def _claim(db: sqlite_utils.Database, digest: Digest, message_id: str | None, status: str = "sending") -> int | None:
    """Claim the digest and, in the same transaction, mark its followed items reported (`db.follows`);
    None (and nothing written) when another digest holds its slot."""
    try:
        with transaction(db):
            digest_id = data.claim(db, digest.selection, digest.subject, digest.total, clock.iso(digest.period_start),
                                   clock.iso(digest.now), message_id, os.getpid(), socket.gethostname(), status)
            if digest_id is None:  # inside this transaction the claim's own rollback does not happen: ours does
                raise _SlotTaken
            follows.mark(db, digest.subscriber.email, digest_id, digest.follow_marks)
    except _SlotTaken:
        return None
    return digest_id


def reconcile(db: sqlite_utils.Database, config: Config, now: datetime) -> list[Outcome]:
    """Claims left ``sending`` by a dead process (its pid gone on this host, or older than the session
    deadline plus `CLAIM_MARGIN`) become ``unknown``: the server may have accepted them, so their
    mentions stay delivered and nothing is resent. Returns one outcome per claim reconciled."""
    host, outcomes = socket.gethostname(), []
    oldest = now - timedelta(seconds=config.digest.smtp_deadline_s) - CLAIM_MARGIN
    for c in data.claims(db, "sending"):
        dead = c["claim_host"] == host and not pid_alive(c["claim_pid"])
        if not (dead or clock.aware(c["sent_at"]) < oldest):
            continue
        error = (f"interrupted: claimed at {c['sent_at']} by pid {c['claim_pid']} on {c['claim_host']}, which ended "
                 "before recording the answer; the server may have accepted it; not resent")
        if data.mark_unknown(db, c["id"], error):
            log.error("digest delivery unknown", extra={"subscriber": c["subscriber"], "digest": c["id"],
                                                        "message_id": c["message_id"]})
            outcomes.append(Outcome(c["subscriber"], "unknown", c["subject"] or "", c["mentions_total"] or 0, 0, 0,
                                    c["message_id"], error))
    return outcomes


def send_digests(db: sqlite_utils.Database, config: Config, now: datetime | None = None, only: list[str] | None = None,
                 dry_run: bool = False, record_empty: bool = False) -> list[Outcome]:
    """Build and send each subscriber's digest (or those in ``only``); one failure never stops the others.
    Subscribers who unsubscribed (``opted-out``) and those on ``schedule = "never"`` (``feed-only``) get nothing.

    An empty digest is sent as "nothing new" when ``[digest] send_empty`` is true, else skipped; with
    ``record_empty`` (the scheduled tick) the skip is recorded so that slot is not reconsidered.
    Claims left by dead processes are reconciled first (their outcomes come first).
    """
    now = clock.now() if now is None else clock.aware(now)
    wanted = [s for s in config.digest.subscribers if only is None or s.email.lower() in {o.lower() for o in only}]
    outcomes = [] if dry_run else reconcile(db, config, now)
    server_down: MailError | None = None
    opted_out = optouts.opted_out(db, list_id(config.digest))
    for sub in wanted:
        if sub.email.lower() in opted_out or config.digest.schedule_of(sub) is None:  # opted out; feed-only
            status = "opted-out" if sub.email.lower() in opted_out else "feed-only"
            outcomes.append(Outcome(sub.email, status, "", 0, 0, 0))
            continue
        try:
            outcome, down = _send_one(db, config, sub, now, dry_run, record_empty, server_down)
            server_down = server_down or down
        except Exception as exc:  # one subscriber's problem (a broken row, a bad header) never stops the others
            log.exception("digest failed", extra={"subscriber": sub.email})
            outcome = Outcome(sub.email, "failed", "", 0, 0, 0, error=f"{type(exc).__name__}: {exc}")
            if not dry_run:
                try:
                    record_failure(db, sub.email, outcome.error)
                except Exception:  # the database itself is the problem: already logged above
                    log.exception("failure not recorded", extra={"subscriber": sub.email})
        outcomes.append(outcome)
    return outcomes


def _send_one(db: sqlite_utils.Database, config: Config, sub: Subscriber, now: datetime, dry_run: bool,
              record_empty: bool, server_down: MailError | None) -> tuple[Outcome, MailError | None]:
    """One subscriber: build, claim, deliver, record. Returns the outcome and a server-level error."""
    digest = build_digest(db, config, sub, now)
    outcome = Outcome(sub.email, "dry-run", digest.subject, digest.total, digest.by_stance.get("critical", 0),
                      digest.dossiers_new_total)
    if dry_run:
        outcome.status = "dry-run" if (config.digest.send_empty or not digest.empty) else "skipped"
        return outcome, None
    if digest.empty and not config.digest.send_empty:
        outcome.status = "skipped"
        if record_empty:
            _claim(db, digest, None, status="skipped")  # None: another process recorded this slot already
        return outcome, None
    try:
        if server_down is not None:
            raise MailError(f"not attempted: {server_down}", server=True)
        target = smtp_target(config)
    except MailError as exc:
        outcome.status, outcome.error = "failed", str(exc)
        record_failure(db, sub.email, str(exc), digest)
        log.error("digest not delivered", extra={"subscriber": sub.email, "error": str(exc)})
        return outcome, exc
    msg = compose(digest, config.digest.sender)
    outcome.message_id = msg["Message-ID"]
    digest_id = _claim(db, digest, msg["Message-ID"])
    if digest_id is None:
        outcome.status, outcome.error = "claimed", "another process is delivering or delivered this digest: not sent"
        log.info("digest claimed elsewhere", extra={"subscriber": sub.email})
        return outcome, None
    try:
        deliver(target, msg, config.digest.smtp_deadline_s)
    except MailError as exc:
        outcome.error = str(exc)
        if exc.kind == "unknown":
            outcome.status = "unknown"
            data.mark_unknown(db, digest_id, str(exc))
        else:
            outcome.status = "failed"
            data.release(db, digest_id, exc.kind, str(exc))
        log.error("digest not delivered", extra={"subscriber": sub.email, "error": str(exc), "status": exc.kind})
        return outcome, exc if exc.server else None
    data.mark_sent(db, digest_id)
    outcome.status = "sent"
    log.info("digest delivered", extra={"subscriber": sub.email, "server": target.masked, "mentions": digest.total,
                                        "message_id": msg["Message-ID"]})
    return outcome, None
