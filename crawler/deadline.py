"""Wall-clock deadlines for HTTP requests, enforced by a watchdog that shuts sockets down.

A socket timeout bounds one ``recv``; an upstream that trickles a byte every few seconds (in its
status line, headers or body) never trips it. So each `HttpClient` call runs under a `Budget`: a
deadline per exchange (connect + TLS + request + status line + headers + body, ``deadline_s``) and
one for the whole call with its retries, backoff sleeps and redirects (``total_deadline_s``). The
connection classes (crawler/connection.py) start an attempt when they connect or send a request,
and arm the `WATCHDOG` with the attempt's end; when it passes, the watchdog calls
``shutdown(SHUT_RDWR)`` on a duplicate of the socket, which wakes a blocked ``recv`` in the
requesting thread (a plain ``close`` from another thread does not). The client then reports
`DeadlineExceeded` instead of whatever the interrupted read raised.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from crawler.errors import DeadlineExceeded

_local = threading.local()


@dataclass
class Budget:
    """The time one client call may take (monotonic clock): ``attempt_s`` per exchange,
    ``total_s`` for everything. ``fired`` is set when the watchdog interrupted an exchange."""

    attempt_s: float
    total_s: float
    started: float = field(default_factory=time.monotonic)
    attempt_end: float = float("inf")
    fired: bool = False
    by_total: bool = False  # the current exchange ends with the total, not its own deadline

    @property
    def total_end(self) -> float:
        return self.started + self.total_s

    def start_attempt(self) -> float:
        """Begin one exchange and return its end; raises `DeadlineExceeded` when the total is spent."""
        now = time.monotonic()
        self.by_total = now + self.attempt_s >= self.total_end
        self.attempt_end = min(now + self.attempt_s, self.total_end)
        if now >= self.total_end:
            raise DeadlineExceeded(self.message())
        return self.attempt_end

    def total_remaining(self) -> float:
        return max(0.0, self.total_end - time.monotonic())

    def attempt_remaining(self) -> float:
        return max(0.0, self.attempt_end - time.monotonic())

    def expired(self) -> bool:
        """True when the current exchange (or the whole call) is out of time."""
        return self.fired or time.monotonic() >= self.attempt_end

    def message(self) -> str:
        if self.by_total:
            return f"timed out: total_deadline_s = {self.total_s:g} (the request with its retries and redirects) exceeded"
        return f"timed out: deadline_s = {self.attempt_s:g} (connect + status line + headers + body) exceeded"


def current() -> Budget | None:
    """The budget of the client call running in this thread, if any."""
    return getattr(_local, "budget", None)


@contextmanager
def budget_scope(attempt_s: float, total_s: float) -> Iterator[Budget]:
    """Run a client call under a budget; a nested call (robots.txt inside a GET) shares the outer one."""
    outer = current()
    if outer is not None:
        yield outer
        return
    _local.budget = budget = Budget(attempt_s, total_s)
    try:
        yield budget
    finally:
        _local.budget = None


@dataclass(order=True)
class Alarm:
    """One armed deadline: at ``when`` the socket is shut down and the budget marked."""

    when: float
    seq: int
    sock: socket.socket = field(compare=False)
    budget: Budget | None = field(compare=False, default=None)
    cancelled: bool = field(compare=False, default=False)


class Watchdog:
    """One daemon thread that shuts down sockets whose exchange ran out of time."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[Alarm] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, when: float, sock: socket.socket, budget: Budget | None) -> Alarm:
        alarm = Alarm(when, next(self._seq), sock, budget)
        with self._cond:
            heapq.heappush(self._heap, alarm)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-deadline-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
        return alarm

    def cancel(self, alarm: Alarm | None) -> None:
        if alarm is not None:
            with self._cond:
                alarm.cancelled = True

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0].when - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                alarm = heapq.heappop(self._heap)
                alarm.cancelled = True
                if alarm.budget is not None:
                    alarm.budget.fired = True
                try:
                    alarm.sock.shutdown(socket.SHUT_RDWR)
                except OSError:  # already closed by its owner
                    pass


WATCHDOG = Watchdog()
