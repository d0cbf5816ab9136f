"""SMTP transport for the digest (standard library smtplib): the SMTP URL and one bounded session.

The URL, from the environment variable ``[digest] smtp_url_env`` names (default ``TRACKER_SMTP_URL``):
``smtp://[user:password@]host[:port]`` (port 25 by default; upgraded with STARTTLS whenever the
server offers it, ``?starttls=required`` refuses a server that does not, ``?starttls=never`` never
tries) or ``smtps://[user:password@]host[:port]`` (implicit TLS, port 465). Credentials are
percent-decoded (``p%40ss`` is ``p@ss``); ``?cafile=PATH`` trusts a private CA; ``?timeout=S`` is
the session deadline for that server. The URL is only ever logged with its password masked.

A session (connect, banner, EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA, QUIT) ends at its deadline: a
watchdog thread shuts the socket down, so a server that trickles its banner a byte at a time cannot
hold ``digest send`` or a tick. `deliver` tells apart a message certainly not accepted (``failed``,
``refused``) from one handed over without an answer (``unknown``).
"""

from __future__ import annotations

import logging
import math
import os
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from tracker.config import Config

log = logging.getLogger("tracker.mailer")  # one logger for the delivery, transport included


class MailError(Exception):
    """Delivery failed; the message never names the password. ``kind``: ``failed`` (not accepted),
    ``refused`` (the recipient was refused), ``unknown`` (handed over, no answer); ``server``: the
    failure concerns the server, not this message (the send's other subscribers are not attempted)."""

    def __init__(self, message: str, kind: str = "failed", server: bool = False):
        super().__init__(message)
        self.kind = kind
        self.server = server


@dataclass(frozen=True)
class SmtpTarget:
    """A parsed SMTP URL (``timeout``: the URL's ``?timeout=``, None when absent)."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: str  # "auto" | "required" | "never"
    cafile: str | None
    timeout: float | None = None

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
        raise MailError("SMTP URL is malformed (expected smtp://[user:password@]host[:port])", server=True) from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError(f"SMTP URL must look like smtp://[user:password@]host[:port] or smtps://..., got scheme "
                        f"{parts.scheme!r}", server=True)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "auto").lower()
    if parts.scheme == "smtps":
        starttls = "never"
    elif starttls not in ("auto", "required", "never"):
        raise MailError(f"SMTP URL: starttls must be auto, required or never, got {starttls!r}", server=True)
    timeout = None
    if "timeout" in query:
        try:
            timeout = float(query["timeout"])
        except ValueError:
            timeout = -1.0
        if not math.isfinite(timeout) or timeout <= 0:
            raise MailError("SMTP URL: timeout must be a positive number of seconds", server=True)
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
        raise MailError(f"no SMTP server: set the environment variable {env} to smtp://[user:password@]host[:port]",
                        server=True)
    return parse_smtp_url(url)


class _Watched(smtplib.SMTP):
    """An smtplib client that a watchdog can cut off at any point (`expire` shuts its connection down,
    unblocking a read in another thread), and that knows when the whole message has been handed over."""

    def arm(self, host: str, deadline_s: float) -> None:
        self._host = host  # STARTTLS / SMTPS check the certificate against it
        self.deadline = time.monotonic() + deadline_s
        self.expired = self.payload_sent = self._closed = False
        self.phase = self.expired_during = "connect"
        self._fd: int | None = None
        self._guard = threading.Lock()

    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, max(self.deadline - time.monotonic(), 0.001))
        with self._guard:
            self._fd = sock.fileno()
        if self.expired:
            self.expire()
        return sock

    def send(self, s):
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):  # the body and its final dot: DATA is complete
            self.payload_sent = True

    def expire(self) -> None:
        """Shut the connection down (the fd survives STARTTLS, the socket object does not)."""
        with self._guard:
            self.expired, self.expired_during = True, self.phase
            if self._fd is None or self._closed:
                return
            sock = socket.socket(fileno=self._fd)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            finally:
                sock.detach()

    def close(self) -> None:
        with self._guard:
            self._closed = True
            super().close()


class _WatchedSSL(smtplib.SMTP_SSL, _Watched):
    """`_Watched` over implicit TLS (smtps)."""


def deliver(target: SmtpTarget, msg: EmailMessage, deadline_s: float) -> None:
    """Hand one message to its one recipient within one bounded session; raises MailError unless the
    server accepted it. ``deadline_s`` bounds the whole session (``target.timeout`` replaces it).

    Once DATA is accepted the message is delivered: a failing QUIT (a non-221 answer, a dropped
    connection, the deadline) is only logged."""
    deadline_s = target.timeout or deadline_s
    context = ssl.create_default_context(cafile=target.cafile)
    if target.scheme == "smtps":
        client: _Watched = _WatchedSSL(timeout=deadline_s, context=context)
    else:
        client = _Watched(timeout=deadline_s)
    client.arm(target.host, deadline_s)
    watchdog = threading.Timer(deadline_s, client.expire)
    watchdog.daemon = True
    watchdog.start()
    accepted = False
    try:
        client.connect(target.host, target.port)
        client.phase = "EHLO"
        client.ehlo()
        if target.scheme == "smtp" and target.starttls != "never":
            if client.has_extn("starttls"):
                client.phase = "STARTTLS"
                client.starttls(context=context)
                client.ehlo()
            elif target.starttls == "required":
                raise MailError(f"{target.masked} does not offer STARTTLS and the URL requires it (starttls=required)",
                                server=True)
        if target.username is not None:
            client.phase = "AUTH"
            client.login(target.username, target.password or "")
        client.phase = "MAIL/RCPT/DATA"
        client.send_message(msg, to_addrs=[msg["To"]])
        accepted = True
        client.phase = "QUIT"
        client.quit()
    except MailError:
        raise
    except Exception as exc:  # smtplib, socket, TLS errors and whatever a broken answer raises
        if not accepted:
            raise _not_accepted(target, client, exc, deadline_s) from None
        log.warning("message accepted, closing the connection failed", extra={"server": target.masked, "error": str(exc)})
    finally:
        watchdog.cancel()
        client.close()


def _not_accepted(target: SmtpTarget, client: _Watched, exc: Exception, deadline_s: float) -> MailError:
    """The error for a session that ended before the server accepted the message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in exc.recipients.items())
        return MailError(f"{target.masked} refused the recipient: {codes}", kind="refused")
    if isinstance(exc, smtplib.SMTPResponseException):
        specific = isinstance(exc, (smtplib.SMTPDataError, smtplib.SMTPSenderRefused))
        return MailError(f"{target.masked} refused: {exc.smtp_code} {_text(exc.smtp_error)}", server=not specific)
    cause = (f"no complete SMTP session within {deadline_s:g} s (smtp_deadline_s / ?timeout=); cut off during "
             f"{client.expired_during}" if client.expired else f"{type(exc).__name__}: {exc}")
    if client.payload_sent:
        return MailError(f"{target.masked} took the whole message but gave no answer ({cause}): it may have been "
                         "delivered; not resent", kind="unknown", server=True)
    return MailError(f"cannot deliver through {target.masked}: {cause}", server=True)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
