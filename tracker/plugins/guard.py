"""Datasette plugin for `tracker serve`: the web side bounded and hardened, as one ASGI wrapper.

- Read-only: 405 for any method but GET, HEAD and OPTIONS (POST only to log in or out, and to the
  digest's unsubscribe link, whose plugin writes its own table).
- Security headers on every response: Content-Security-Policy (same-origin scripts, styles, images
  and forms; no frames, objects or foreign hosts), X-Frame-Options DENY, X-Content-Type-Options
  nosniff, Referrer-Policy same-origin.
- A cap on the size of one response (`MAX_RESPONSE_BYTES`): a body over it is replaced by a 400
  with a one-line explanation; a streamed body (CSV) that grows past it is cut by an exception, so
  the server drops the connection instead of sending a truncated file that looks complete. One
  value is capped by SQLite itself (``SQLITE_LIMIT_LENGTH``, set in `prepare_connection`):
  ``select randomblob(400000000)`` is an error, not 533 MB of JSON.
- Bounded concurrency: requests that run analyst SQL (``?sql=``, canned queries, searches) share
  `EXPENSIVE_SLOTS` slots (Datasette runs `SQL_THREADS` threads), so table and row pages always
  have a thread; a request that would wait behind `MAX_WAITING` others gets a 503 with Retry-After.
- Throttled password attempts: a client address with `LOGIN_FAILURES` failed attempts (HTTP Basic
  answered 401, or a POST to /-/login that did not log in) in `LOGIN_WINDOW_S` seconds gets 429 on
  further attempts until the window has passed; they are refused before the password hash is
  computed. Behind a reverse proxy every client has the proxy's address: throttle there too.

Limits are read from the environment at import (``TRACKER_MAX_RESPONSE_MB``,
``TRACKER_MAX_VALUE_MB``); `tests/test_frontend.py` checks each against a real request.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import weakref
from collections import defaultdict, deque
from urllib.parse import parse_qs

from datasette import hookimpl

MAX_RESPONSE_BYTES = int(float(os.environ.get("TRACKER_MAX_RESPONSE_MB", "32")) * 2**20)
MAX_VALUE_BYTES = int(float(os.environ.get("TRACKER_MAX_VALUE_MB", "64")) * 2**20)
SQL_THREADS = 4
EXPENSIVE_SLOTS = 2
MAX_WAITING = 8
LOGIN_FAILURES = 5
LOGIN_WINDOW_S = 60.0
READ_ONLY_POST_PATHS = ("/-/login", "/-/logout", "/-/unsubscribe")  # unsubscribe: tracker.plugins.unsubscribe
LOGIN_PATH = "/-/login"

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
       "base-uri 'self'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class ResponseTooLarge(Exception):
    """A streamed response passed `MAX_RESPONSE_BYTES` after its headers were sent."""


@hookimpl
def prepare_connection(conn):
    """One value (string or blob, computed or stored) is at most `MAX_VALUE_BYTES`."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)


def _is_expensive(scope, canned: set[str]) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "sql" in query or "_search" in query or any(k.startswith("_search_") for k in query):
        return True
    parts = [p for p in scope["path"].split("/") if p]
    return len(parts) == 2 and parts[1].split(".")[0] in canned


async def _plain(send, status: int, text: str, headers: list | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS, *(headers or [])]})
    await send({"type": "http.response.body", "body": (text + "\n").encode()})


class Throttle:
    """Failed password attempts per client address in a sliding window."""

    def __init__(self, limit: int = LOGIN_FAILURES, window_s: float = LOGIN_WINDOW_S):
        self.limit, self.window_s = limit, window_s
        self.failures: dict[str, deque] = defaultdict(deque)

    def _recent(self, client: str) -> deque:
        times, horizon = self.failures[client], time.monotonic() - self.window_s
        while times and times[0] < horizon:
            times.popleft()
        return times

    def blocked_for(self, client: str) -> float:
        """Seconds until the client may try again (0 when it may now)."""
        times = self._recent(client)
        return times[0] + self.window_s - time.monotonic() if len(times) >= self.limit else 0.0

    def failed(self, client: str) -> None:
        self._recent(client).append(time.monotonic())
        if len(self.failures) > 10_000:  # bounded memory under a spray of addresses
            for key in [k for k, v in self.failures.items() if not v]:
                del self.failures[key]


@hookimpl(trylast=True)
def asgi_wrapper(datasette):
    """Outermost wrapper (``trylast``): it sees the 401s of datasette-auth-passwords' Basic auth."""
    throttle = Throttle()
    slots_by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # one server loop; tests run several
    waiting = [0]

    names: list[set[str]] = []

    def canned() -> set[str]:
        if not names:
            names.append({q for db in (datasette.metadata("databases") or {}).values() for q in (db.get("queries") or {})})
        return names[0]

    def wrap(app):
        async def guarded(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            method, path = scope["method"], scope["path"]
            if method not in ("GET", "HEAD", "OPTIONS") and not (method == "POST" and path.endswith(READ_ONLY_POST_PATHS)):
                return await _plain(send, 405, "405 Method Not Allowed: this Datasette is read-only", [(b"allow", b"GET, HEAD")])
            client = (scope.get("client") or ("unknown", 0))[0]
            attempt = (method == "POST" and path.endswith(LOGIN_PATH)) or any(
                k == b"authorization" for k, _ in scope.get("headers") or [])
            if attempt:
                wait = throttle.blocked_for(client)
                if wait > 0:
                    return await _plain(send, 429, f"429 Too Many Requests: too many failed password attempts; try again in {wait:.0f} s",
                                        [(b"retry-after", str(max(1, round(wait))).encode())])
            state = {"start": None, "sent": 0, "status": 200, "cut": False}

            async def capped_send(message):
                if state["cut"]:
                    return
                if message["type"] == "http.response.start":
                    headers = [h for h in message.get("headers", []) if h[0].lower() not in dict(SECURITY_HEADERS)]
                    state["start"] = {**message, "headers": headers + SECURITY_HEADERS}
                    state["status"] = message["status"]
                    return
                if message["type"] == "http.response.body":
                    state["sent"] += len(message.get("body", b""))
                    if state["sent"] > MAX_RESPONSE_BYTES:
                        state["cut"] = True
                        if state["start"] is not None:  # nothing sent yet: a clear error instead
                            state["start"] = None
                            return await _plain(send, 400, f"400 Response too large: more than {MAX_RESPONSE_BYTES // 2**20} MB; "
                                                "select fewer rows or columns (LIMIT, substr())")
                        raise ResponseTooLarge(f"response over {MAX_RESPONSE_BYTES} bytes")
                    if state["start"] is not None:
                        await send(state["start"])
                        state["start"] = None
                await send(message)

            async def run():
                await app(scope, receive, capped_send)
                if attempt and (state["status"] == 401 or (method == "POST" and path.endswith(LOGIN_PATH) and state["status"] != 302)):
                    throttle.failed(client)

            if not _is_expensive(scope, canned()):
                return await run()
            if waiting[0] >= MAX_WAITING:
                return await _plain(send, 503, "503 Busy: too many queries are running; try again shortly", [(b"retry-after", b"5")])
            slots = slots_by_loop.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(EXPENSIVE_SLOTS))
            waiting[0] += 1
            try:
                await slots.acquire()
            finally:
                waiting[0] -= 1
            try:
                await run()
            finally:
                slots.release()

        return guarded

    return wrap
