"""`tracker run`: the scheduled tick (cron / systemd timer every 15 minutes, or `--loop` in a container).

One tick: take the lock, crawl every enabled source whose interval has elapsed since its last run
(a slack of 5% of the interval, at most 10 minutes, keeps a daily source from drifting by one tick
per day), annotate what changed, then send the digests whose schedule is due (``[digest]
schedule`` in ``[digest] timezone``: due when the most recent scheduled instant is at or before
now and nothing was sent to, or recorded as skipped for, that subscriber since). Every tick is
recorded in ``ticks``.

The lock is a row in ``locks`` (pid, host, token, heartbeat): a background thread refreshes the
heartbeat every 30 s; a lock whose holder is a dead process on this host, or whose heartbeat is
older than 10 minutes, is stale and taken over. A second tick that finds the lock held waits up to
``--wait`` seconds (default 0) and then exits with status 0 and a message, doing nothing.

Time is injectable (``--now ISO``, hidden; ``run_tick(..., now=...)``) so tests never sleep.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from db import clock, writes
from db.clock import aware as _aware, iso
from db.schema import connect
from tracker.app import App, UsageProblem, pass_app
from tracker.config import ConfigError, parse_interval
from tracker.digest import parse_schedule, subscribers

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class TickLock:
    """A named lock in the ``locks`` table with a heartbeat thread; stale holders are recovered."""

    def __init__(self, db_path, name: str = "tick", stale_after: float = LOCK_STALE_S, heartbeat: float = HEARTBEAT_S):
        self.db_path, self.name, self.stale_after, self.heartbeat = db_path, name, stale_after, heartbeat
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recovered: dict | None = None

    def _stale(self, holder: dict) -> bool:
        age = (clock.now() - _aware(holder["heartbeat_at"])).total_seconds()
        if age > self.stale_after:
            return True
        return holder["host"] == self.host and not _pid_alive(holder["pid"])

    def try_acquire(self) -> None:
        """Take the lock or raise LockHeld."""
        db = connect(self.db_path)
        try:
            with writes.transaction(db):
                row = db.execute("select pid, host, token, acquired_at, heartbeat_at from locks where name = ?", [self.name]).fetchone()
                holder = dict(zip(("pid", "host", "token", "acquired_at", "heartbeat_at"), row)) if row else None
                if holder and not self._stale(holder):
                    raise LockHeld(holder)
                self.recovered = holder
                stamp = iso(clock.now())
                db.conn.execute(
                    "insert or replace into locks (name, pid, host, token, acquired_at, heartbeat_at) values (?, ?, ?, ?, ?, ?)",
                    [self.name, os.getpid(), self.host, self.token, stamp, stamp],
                )
        finally:
            db.conn.close()
        if self.recovered:
            log.warning("recovered a stale lock", extra={"pid": self.recovered["pid"], "host": self.recovered["host"],
                                                       "heartbeat_at": self.recovered["heartbeat_at"]})
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
                db.execute("update locks set heartbeat_at = ? where name = ? and token = ?", [iso(clock.now()), self.name, self.token])
        finally:
            db.conn.close()

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        db = connect(self.db_path)
        try:
            db.execute("delete from locks where name = ? and token = ?", [self.name, self.token])
        finally:
            db.conn.close()

    def __enter__(self) -> "TickLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def due_sources(db, config, now: datetime) -> list[str]:
    """Enabled sources whose interval (minus a small slack) has elapsed since their last run started."""
    last = {row[0]: row[1] for row in db.execute("select id, last_run_at from sources").fetchall()}
    due = []
    for sid, conf in config.sources.items():
        if not conf.enabled:
            continue
        started = last.get(sid)
        slack = min(conf.interval_s * 0.05, MAX_SLACK_S)
        if started is None or (now - _aware(started)).total_seconds() >= conf.interval_s - slack:
            due.append(sid)
    return due


def due_subscribers(db, config, now: datetime) -> list[str]:
    """Subscribers whose latest scheduled instant has passed with no digest recorded since."""
    schedule = parse_schedule(config.digest.get("schedule") or "mon 07:00")
    tz = ZoneInfo(config.digest.get("timezone") or "UTC")
    instant = iso(schedule.last_due(now, tz))
    due = []
    for sub in subscribers(config):
        done = db.execute("select 1 from digests where subscriber = ? and sent_at >= ? and status in ('sent', 'skipped') "
                          "limit 1", [sub.email, instant]).fetchone()
        if not done:
            due.append(sub.email)
    return due


def _pending_nlp(db) -> bool:
    return db.execute("select 1 from documents where nlp_hash is null or nlp_hash != content_hash limit 1").fetchone() is not None


@dataclass
class TickResult:
    """What one tick did."""

    now: datetime
    crawled: list = field(default_factory=list)
    annotated: dict | None = None
    digests: list = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(r.status in ("failed", "blocked") for r in self.crawled) or any(
            o.status == "failed" for o in self.digests)


def run_tick(db, config, now: datetime | None = None, nlp: bool = True, digests: bool = True, echo=lambda _m: None) -> TickResult:
    """One tick (the caller holds the lock): crawl due sources, annotate, send due digests; records the tick."""
    from tracker.crawl import crawl

    now = _aware(now) if now else clock.now()
    result = TickResult(now)
    tick_id = db["ticks"].insert({"started_at": iso(clock.now()), "now": iso(now), "status": "running"}).last_pk
    sources = due_sources(db, config, now)
    if sources:
        result.crawled = crawl(db, config, sources)
        for r in result.crawled:
            c = r.counts
            echo(f"{r.source}: {r.status} (new {c.get('new', 0)}, updated {c.get('updated', 0)}, unchanged {c.get('unchanged', 0)}, "
                 f"errors {c.get('errors', 0)})" + (f": {r.message}" if r.message else ""))
    else:
        echo("crawl: no source is due")
    if nlp and _pending_nlp(db):
        from tracker.annotation import annotate_pending

        try:
            result.annotated = annotate_pending(db, config)
            echo(f"nlp: {result.annotated['documents']} documents annotated, {result.annotated['new_mentions']} new mentions")
        except Exception as exc:  # a broken model must not stop the digests of what is already annotated
            log.exception("nlp failed")
            result.errors.append(f"nlp: {type(exc).__name__}: {exc}")
            echo(f"nlp: failed: {exc}")
    if digests:
        from tracker.mailer import send_digests

        due = due_subscribers(db, config, now)
        if due:
            result.digests = send_digests(db, config, now, only=due, record_empty=True)
            for o in result.digests:
                echo(f"digest {o.email}: {o.status} ({o.mentions} mentions): {o.subject}" + (f": {o.error}" if o.error else ""))
        else:
            echo("digest: none due")
    db["ticks"].update(tick_id, {
        "finished_at": iso(clock.now()), "status": "failed" if result.failed else "ok",
        "crawled": json.dumps({r.source: r.status for r in result.crawled}),
        "annotated": (result.annotated or {}).get("documents", 0),
        "digests_sent": sum(o.status == "sent" for o in result.digests),
        "digests_failed": sum(o.status == "failed" for o in result.digests),
        "message": "; ".join(result.errors) or None,
    })
    return result


@click.command("run")
@click.option("--loop", is_flag=True, help="Keep running: one tick every --every (for containers).")
@click.option("--every", default="15m", show_default=True, metavar="INTERVAL", help="Time between ticks with --loop (e.g. 5m, 1h).")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True, metavar="SECONDS",
              help="When another tick holds the lock, wait this long for it before giving up (exit status 0).")
@click.option("--no-nlp", is_flag=True, help="Crawl and send, but leave NLP to a later tick or `tracker reprocess`.")
@click.option("--no-digest", is_flag=True, help="Do not send digests in this tick.")
@click.option("--now", "now_iso", hidden=True, help="Pretend it is this ISO time (tests).")
@click.option("--ticks", "max_ticks", hidden=True, type=click.IntRange(min=1), help="With --loop: stop after N ticks (tests).")
@pass_app
def run(app: App, loop: bool, every: str, wait: float, no_nlp: bool, no_digest: bool, now_iso: str | None,
        max_ticks: int | None) -> None:
    """The scheduled tick: crawl the sources that are due, run NLP, send the digests that are due.

    A lock prevents overlapping runs: when another tick is running this one waits up to --wait
    seconds, then exits with status 0 and a message. Exit status 1 when a source or a digest failed
    (not with --loop, which keeps going).
    """
    try:
        pause = parse_interval(every, "--every")
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    try:
        fixed_now = _aware(now_iso) if now_iso else None
    except ValueError:
        raise UsageProblem(f"--now: expected an ISO date-time, got {now_iso!r}") from None
    db = app.open_db(create=True)
    count = 0
    while True:
        with clock.frozen(fixed_now):
            failed = _one_tick(app, db, fixed_now, wait, not no_nlp, not no_digest)
        count += 1
        if not loop:
            if failed:
                sys.exit(1)
            return
        if max_ticks and count >= max_ticks:
            return
        time.sleep(pause)


def _one_tick(app: App, db, now: datetime | None, wait: float, nlp: bool, digests: bool) -> bool:
    lock = TickLock(app.db_path)
    try:
        lock.acquire(wait=wait)
    except LockHeld as exc:
        click.echo(f"{exc}; nothing done")
        return False
    with lock:
        if lock.recovered:
            click.echo(f"recovered a stale lock of pid {lock.recovered['pid']} on {lock.recovered['host']}")
        result = run_tick(db, app.config, now, nlp=nlp, digests=digests, echo=click.echo)
    return result.failed
