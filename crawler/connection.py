"""urllib3 connections that connect only to checked addresses and live within a deadline.

`guarded_adapter` builds a requests transport adapter whose pools use `GuardedHTTPConnection` /
`GuardedHTTPSConnection`. Each new socket goes to an address returned by the client's ``resolve``
callback (checked by crawler/addresses.py, pinned by the client's pre-check, so the name is not
resolved a second time); the host name stays the connection's host, so TLS SNI and certificate
verification are unchanged. Every exchange (connect or reused connection) starts an attempt of the
thread's `crawler.deadline.Budget` and arms the watchdog on a duplicate of the socket; an
exchange the watchdog cut is not retried (urllib3 would retry a cut status line as a broken one).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util import connection as util_connection

from crawler import deadline
from crawler.errors import DeadlineExceeded

Resolver = Callable[[str, int], list[str]]


class _Guarded:
    """Mixin for urllib3's connection classes; ``resolve`` is set per client (see `guarded_adapter`)."""

    resolve: Resolver
    _alarm: deadline.Alarm | None = None
    _watch: socket.socket | None = None
    _in_attempt = False

    def _start_attempt(self) -> None:
        budget = deadline.current()
        if budget is None or self._in_attempt:
            return
        self._in_attempt = True
        if budget.fired:  # urllib3 is retrying an exchange the watchdog cut: a trickler is not asked again
            raise DeadlineExceeded(budget.message())
        budget.start_attempt()
        self._arm(budget)

    def _arm(self, budget: deadline.Budget | None) -> None:
        deadline.WATCHDOG.cancel(self._alarm)
        self._alarm = None
        if budget is not None and self._watch is not None:
            self._alarm = deadline.WATCHDOG.arm(budget.attempt_end, self._watch, budget)

    def _new_conn(self) -> socket.socket:
        self._start_attempt()
        budget = deadline.current()
        timeout = self.timeout
        if budget is not None:
            remaining = budget.attempt_remaining()
            timeout = remaining if not isinstance(timeout, (int, float)) else min(timeout, remaining)
        try:
            addresses = self.resolve(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for address in addresses:
            try:
                sock = util_connection.create_connection(
                    (address, self.port), timeout, source_address=self.source_address, socket_options=self.socket_options)
                break
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. (connect timeout={timeout})") from exc
            except OSError as exc:
                error = exc
        else:
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error
        self._close_watch()
        self._watch = sock.dup()
        self._arm(budget)
        return sock

    def request(self, *args, **kwargs):
        self._start_attempt()  # a reused keep-alive connection: a new exchange
        try:
            return super().request(*args, **kwargs)
        finally:
            self._in_attempt = False

    def _close_watch(self) -> None:
        deadline.WATCHDOG.cancel(self._alarm)
        self._alarm = None
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def close(self) -> None:
        self._close_watch()
        super().close()


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    """Plain HTTP to a checked address within the deadline."""


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    """HTTPS to a checked address within the deadline; SNI and verification on the host name."""


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connection pools use the guarded connections with ``resolve``."""

    def __init__(self, resolve: Resolver, **kwargs) -> None:
        attrs = {"resolve": staticmethod(resolve)}
        self._pools = {
            "http": type("Pool", (HTTPConnectionPool,), {"ConnectionCls": type("Conn", (GuardedHTTPConnection,), attrs)}),
            "https": type("Pool", (HTTPSConnectionPool,), {"ConnectionCls": type("Conn", (GuardedHTTPSConnection,), attrs)}),
        }
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools
