"""`tracker run`: the scheduled tick (cron / systemd timer every 15 minutes, or `--loop` in a container).

One tick: take the lock, crawl every enabled source whose interval has elapsed since its last run
(a slack of 5% of the interval, at most 10 minutes, keeps a daily source from drifting by one tick
per day) or, after failed runs, whose retry back-off has (``[sources.<id>] retry_backoff``, default
15m, doubling with each consecutive failed or blocked run: 15 min, 30 min, 1 h, 2 h ..., never
more than the interval), annotate what is pending (`db.annotations`: new, changed, or annotated by another model
version), then send the digests whose schedule is due (``[digest] schedule`` in ``[digest]
timezone``: due when the most recent scheduled instant is at or before now and nothing was sent
to, or recorded as skipped for, that subscriber since; a subscriber's own ``schedule`` and
``timezone`` replace those; ``never`` and unsubscribed ones are never due). Every tick is recorded in ``ticks``.

The lock is a row in ``locks`` (pid, host, token, heartbeat): a background thread refreshes the
heartbeat every 30 s; a lock whose holder is a dead process on this host, or whose heartbeat is
older than 10 minutes, is stale and taken over. A second tick that finds the lock held waits up to
``--wait`` seconds (default 0) and then exits with status 0 and a message, doing nothing.

Time is `db.clock`: ``--now ISO`` (hidden) freezes it for the whole tick, so tests never sleep.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlite_utils

from db import clock, digests, locks, optouts, runs
from db.annotations import has_pending_annotation
from db.schema import connect
from tracker.annotation import annotate_pending, get_annotator
from tracker.config import Config
from tracker.crawl import RunResult, crawl
from tracker.mailer import Outcome, send_digests
from tracker.processes import pid_alive
from tracker.unsubscribe import list_id

log = logging.getLogger("tracker.tick")

LOCK_STALE_S = 600
HEARTBEAT_S = 30
MAX_SLACK_S = 600


class LockHeld(Exception):
    """Another live tick holds the lock."""

    def __init__(self, holder: dict):
        self.holder = holder
        super().__init__(f"another tick is running (pid {holder['pid']} on {holder['host']}, since {holder['acquired_at']}, "
                         f"heartbeat {holder['heartbeat_at']})")


class TickLock:
    """A named lock in the ``locks`` table (`db.locks`) with a heartbeat thread; stale holders are recovered."""

    def __init__(self, db_path: str | Path, name: str = "tick", stale_after: float = LOCK_STALE_S,
                 heartbeat: float = HEARTBEAT_S):
        self.db_path, self.name, self.stale_after, self.heartbeat = db_path, name, stale_after, heartbeat
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recovered: dict | None = None

    def _stale(self, holder: dict) -> bool:
        age = (clock.now() - clock.aware(holder["heartbeat_at"])).total_seconds()
        if age > self.stale_after:
            return True
        return holder["host"] == self.host and not pid_alive(holder["pid"])

    def try_acquire(self) -> None:
        """Take the lock or raise LockHeld."""
        db = connect(self.db_path)
        try:
            taken, holder = locks.acquire(db, self.name, os.getpid(), self.host, self.token, self._stale)
        finally:
            db.conn.close()
        if not taken:
            raise LockHeld(holder)
        self.recovered = holder
        if holder:
            log.warning("recovered a stale lock", extra={"pid": holder["pid"], "host": holder["host"],
                                                       "heartbeat_at": holder["heartbeat_at"]})
        self._thread = threading.Thread(target=self._beat, name="tick-heartbeat", daemon=True)
        self._thread.start()

    def acquire(self, wait: float = 0.0, poll: float = 0.5) -> None:
        """Take the lock, waiting up to ``wait`` seconds for a live holder to finish; raises LockHeld."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.try_acquire()
            except LockHeld:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(poll, max(deadline - time.monotonic(), 0.01)))

    def _beat(self) -> None:
        db = connect(self.db_path)
        try:
            while not self._stop.wait(self.heartbeat):
                locks.heartbeat(db, self.name, self.token)
        finally:
            db.conn.close()

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        db = connect(self.db_path)
        try:
            locks.release(db, self.name, self.token)
        finally:
            db.conn.close()

    def __enter__(self) -> "TickLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def wait_before_run(interval_s: float, retry_backoff_s: float, failures: int) -> float:
    """Seconds from a source's last run start until it is due: its interval, or after ``failures``
    consecutive failed runs ``retry_backoff_s * 2 ** (failures - 1)`` capped at the interval."""
    if failures <= 0:
        return interval_s
    return min(retry_backoff_s * 2 ** min(failures - 1, 30), interval_s)


def due_sources(db: sqlite_utils.Database, config: Config, now: datetime) -> list[str]:
    """Enabled sources whose wait (`wait_before_run`, minus a small slack) has elapsed since their last run started."""
    last = runs.last_run_starts(db)
    failures = runs.consecutive_failures(db)
    due = []
    for sid, conf in config.sources.items():
        if not conf.enabled:
            continue
        started = last.get(sid)
        wait = wait_before_run(conf.interval_s, conf.retry_backoff_s, failures.get(sid, 0))
        slack = min(wait * 0.05, MAX_SLACK_S)
        if started is None or (now - clock.aware(started)).total_seconds() >= wait - slack:
            due.append(sid)
    return due


def due_subscribers(db: sqlite_utils.Database, config: Config, now: datetime) -> list[str]:
    """Subscribers whose latest scheduled instant (their own ``schedule`` and ``timezone``, else
    ``[digest]``'s) has passed with no digest recorded since; never those on ``schedule = "never"``
    (feed-only) nor those who unsubscribed."""
    opted_out = optouts.opted_out(db, list_id(config.digest))
    due = []
    for sub in config.digest.subscribers:
        schedule = config.digest.schedule_of(sub)
        if schedule is None or sub.email.lower() in opted_out:
            continue
        if not digests.recorded_since(db, sub.email, clock.iso(schedule.last_due(now, config.digest.tz_of(sub)))):
            due.append(sub.email)
    return due


@dataclass
class TickResult:
    """What one tick did."""

    now: datetime
    crawled: list[RunResult] = field(default_factory=list)
    annotated: dict | None = None
    digests: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock_held: str | None = None  # the message when another tick held the lock (nothing was done)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(r.status in ("failed", "blocked") for r in self.crawled) or any(
            o.status in ("failed", "unknown") for o in self.digests)

    def as_dict(self) -> dict:
        """`tracker run --json`: one object per tick (docs/reliability.md, "JSON output")."""
        return {"now": clock.iso(self.now), "ran": self.lock_held is None, "lock_held": self.lock_held,
                "sources": [r.as_dict() for r in self.crawled], "nlp": self.annotated,
                "digests": [dataclasses.asdict(o) for o in self.digests], "errors": self.errors, "failed": self.failed}


def _annotate(db: sqlite_utils.Database, config: Config, result: TickResult, echo: Callable[[str], None]) -> None:
    try:
        if not has_pending_annotation(db, get_annotator(config).model_version):
            return
        result.annotated = annotate_pending(db, config)
        echo(f"nlp: {result.annotated['documents']} documents annotated, {result.annotated['new_mentions']} new mentions")
    except Exception as exc:  # a broken model must not stop the digests of what is already annotated
        log.exception("nlp failed")
        result.errors.append(f"nlp: {type(exc).__name__}: {exc}")
        echo(f"nlp: failed: {exc}")


def run_tick(db: sqlite_utils.Database, config: Config, nlp: bool = True, digests: bool = True,
             echo: Callable[[str], None] = lambda _m: None) -> TickResult:
    """One tick as of the clock's now (the caller holds the lock): crawl due sources, annotate, send due digests."""
    now = clock.now()
    result = TickResult(now)
    tick_id = runs.start_tick(db, clock.iso(now))
    sources = due_sources(db, config, now)
    if sources:
        result.crawled = crawl(db, config, sources)
        for r in result.crawled:
            echo(r.summary())
    else:
        echo("crawl: no source is due")
    if nlp:
        _annotate(db, config, result, echo)
    if digests:
        due = due_subscribers(db, config, now)
        if due:
            result.digests = send_digests(db, config, now, only=due, record_empty=True)
            for o in result.digests:
                echo(f"digest {o.email}: {o.status} ({o.mentions} mentions): {o.subject}" + (f": {o.error}" if o.error else ""))
        else:
            echo("digest: none due")
    runs.finish_tick(db, tick_id, "failed" if result.failed else "ok", json.dumps({r.source: r.status for r in result.crawled}),
                     (result.annotated or {}).get("documents", 0), sum(o.status == "sent" for o in result.digests),
                     sum(o.status == "failed" for o in result.digests), "; ".join(result.errors) or None)
    return result


def locked_tick(db: sqlite_utils.Database, config: Config, db_path: Path, wait: float, nlp: bool, digests: bool,
                echo: Callable[[str], None]) -> TickResult:
    """Take the lock (waiting up to ``wait`` s), run one tick, release; returns what it did.
    A lock held by a live tick is not a failure: the message says so and nothing is done."""
    lock = TickLock(db_path)
    try:
        lock.acquire(wait=wait)
    except LockHeld as exc:
        echo(f"{exc}; nothing done")
        return TickResult(clock.now(), lock_held=str(exc))
    with lock:
        if lock.recovered:
            echo(f"recovered a stale lock of pid {lock.recovered['pid']} on {lock.recovered['host']}")
        return run_tick(db, config, nlp=nlp, digests=digests, echo=echo)
