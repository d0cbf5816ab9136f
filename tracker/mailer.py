"""Digest delivery over SMTP (standard library smtplib), from a URL held in an environment variable.

``[digest] smtp_url_env`` names the variable (default ``TRACKER_SMTP_URL``); its value is
``smtp://[user:password@]host[:port]`` (port 25 by default; upgraded with STARTTLS whenever the
server offers it, ``?starttls=required`` refuses a server that does not, ``?starttls=never`` never
tries) or ``smtps://[user:password@]host[:port]`` (implicit TLS, port 465). Credentials are
percent-decoded (``p%40ss`` is ``p@ss``); ``?cafile=PATH`` trusts a private CA; ``?timeout=S``.
The URL is only ever logged with its password masked.

Each subscriber's digest is one message (multipart/alternative: text + HTML with the stance chart
as an inline ``cid:`` image) with its own Message-ID. It is recorded in ``digests`` /
``digest_items`` only after the server accepted it: a refused or unreachable server leaves nothing
recorded as delivered (the attempt is kept as a ``failed`` row with the error and no items) and the
next tick delivers. (A crash between acceptance and recording can resend one
digest: delivery is at least once, never silently lost.)
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import sqlite_utils

from db import clock
from db import digests as data
from tracker.config import Config
from tracker.digest import build_digest
from tracker.digest_view import Digest

log = logging.getLogger("tracker.mailer")


class MailError(Exception):
    """Delivery failed (configuration, connection, refusal); the message never names the password."""


@dataclass(frozen=True)
class SmtpTarget:
    """A parsed SMTP URL."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: str  # "auto" | "required" | "never"
    cafile: str | None
    timeout: float

    @property
    def masked(self) -> str:
        """The URL for logs: the password replaced by ***."""
        auth = f"{self.username}{':***' if self.password is not None else ''}@" if self.username is not None else ""
        return f"{self.scheme}://{auth}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """Parse ``smtp://`` / ``smtps://`` URLs; raises MailError (without echoing the password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise MailError("SMTP URL is malformed (expected smtp://[user:password@]host[:port])") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError(f"SMTP URL must look like smtp://[user:password@]host[:port] or smtps://..., got scheme {parts.scheme!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "auto").lower()
    if parts.scheme == "smtps":
        starttls = "never"
    elif starttls not in ("auto", "required", "never"):
        raise MailError(f"SMTP URL: starttls must be auto, required or never, got {starttls!r}")
    try:
        timeout = float(query.get("timeout", 30))
    except ValueError:
        raise MailError("SMTP URL: timeout must be a number of seconds") from None
    return SmtpTarget(
        scheme=parts.scheme, host=parts.hostname, port=port or (465 if parts.scheme == "smtps" else 25),
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        starttls=starttls, cafile=query.get("cafile"), timeout=timeout,
    )


def smtp_target(config: Config) -> SmtpTarget:
    """The SMTP target from the environment variable the configuration names."""
    env = config.digest.smtp_url_env
    url = os.environ.get(env)
    if not url:
        raise MailError(f"no SMTP server: set the environment variable {env} to smtp://[user:password@]host[:port]")
    return parse_smtp_url(url)


def compose(digest: Digest, sender: str, domain: str | None = None) -> EmailMessage:
    """The message: text part, HTML part with the chart attached inline (cid:), a fresh Message-ID."""
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = sender
    msg["To"] = digest.subscriber.email
    msg["Date"] = format_datetime(digest.now)
    msg["Message-ID"] = make_msgid("digest", domain=domain or _domain(sender))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(digest.text)
    msg.add_alternative(digest.html, subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(digest.chart_png, "image", "png", cid=f"<{digest.chart_cid}>", filename="stance-chart.png",
                          disposition="inline")
    return msg


def _domain(sender: str) -> str | None:
    address = parseaddr(sender)[1]
    return address.rsplit("@", 1)[1] if "@" in address else None


def deliver(target: SmtpTarget, msg: EmailMessage) -> None:
    """Hand one message to the server; raises MailError unless the server accepted it.

    Once DATA is accepted the message is delivered: a failing QUIT (a non-221 answer, a dropped
    connection) is only logged, else the digest would be recorded as failed and sent again."""
    context = ssl.create_default_context(cafile=target.cafile)
    accepted = False
    try:
        if target.scheme == "smtps":
            client = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout, context=context)
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
        with client:
            client.ehlo()
            if target.scheme == "smtp" and target.starttls != "never":
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif target.starttls == "required":
                    raise MailError(f"{target.masked} does not offer STARTTLS and the URL requires it (starttls=required)")
            if target.username is not None:
                client.login(target.username, target.password or "")
            client.send_message(msg)
            accepted = True
    except MailError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        if not accepted:
            raise _refusal(target, exc) from None
        log.warning("message accepted, closing the connection failed", extra={"server": target.masked, "error": str(exc)})


def _refusal(target: SmtpTarget, exc: Exception) -> MailError:
    """The error for a delivery that failed before the server accepted the message."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return MailError(f"{target.masked} refused: {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in exc.recipients.items())
        return MailError(f"{target.masked} refused the recipient: {codes}")
    return MailError(f"cannot deliver through {target.masked}: {type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass
class Outcome:
    """What happened to one subscriber's digest."""

    email: str
    status: str  # sent | skipped (empty) | failed | dry-run
    subject: str
    mentions: int
    critical: int
    dossiers: int
    message_id: str | None = None
    error: str | None = None


def record_delivery(db: sqlite_utils.Database, digest: Digest, message_id: str | None, status: str = "sent") -> int:
    """Record a digest the server accepted (or an empty one skipped) with exactly the mentions it covered."""
    return data.record_delivery(db, digest.selection, digest.subject, digest.total, clock.iso(digest.period_start),
                                clock.iso(digest.now), message_id, status)


def record_failure(db: sqlite_utils.Database, digest: Digest, error: str) -> None:
    """Keep a failed delivery attempt visible (status ``failed``, no items): it never counts as delivered."""
    data.record_failure(db, digest.selection, digest.subject, digest.total, clock.iso(digest.period_start),
                        clock.iso(digest.now), error)


def send_digests(db: sqlite_utils.Database, config: Config, now: datetime | None = None, only: list[str] | None = None,
                 dry_run: bool = False, record_empty: bool = False) -> list[Outcome]:
    """Build and send each subscriber's digest (or those in ``only``); one failure never stops the others.

    An empty digest is sent as "nothing new" when ``[digest] send_empty`` is true, else skipped; with
    ``record_empty`` (the scheduled tick) the skip is recorded so that slot is not reconsidered.
    """
    send_empty = config.digest.send_empty
    sender = config.digest.sender
    wanted = [s for s in config.digest.subscribers if only is None or s.email.lower() in {o.lower() for o in only}]
    target: SmtpTarget | None = None
    outcomes = []
    for sub in wanted:
        digest = build_digest(db, config, sub, now)
        outcome = Outcome(sub.email, "dry-run", digest.subject, digest.total, digest.by_stance.get("critical", 0),
                          digest.dossiers_new_total)
        if dry_run:
            outcome.status = "dry-run" if (send_empty or not digest.empty) else "skipped"
        elif digest.empty and not send_empty:
            outcome.status = "skipped"
            if record_empty:
                record_delivery(db, digest, None, status="skipped")
        else:
            try:
                target = target or smtp_target(config)
                msg = compose(digest, sender)
                deliver(target, msg)
            except MailError as exc:
                outcome.status, outcome.error = "failed", str(exc)
                record_failure(db, digest, str(exc))
                log.error("digest not delivered", extra={"subscriber": sub.email, "error": str(exc)})
            else:
                outcome.status, outcome.message_id = "sent", msg["Message-ID"]
                record_delivery(db, digest, msg["Message-ID"])
                log.info("digest delivered", extra={"subscriber": sub.email, "server": target.masked,
                                                    "mentions": digest.total, "message_id": msg["Message-ID"]})
        outcomes.append(outcome)
    return outcomes
