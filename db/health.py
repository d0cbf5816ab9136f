"""Source health: the rules, written once. `tracker status`, `tracker sources`, the digest footer and
the front end's ``source_health`` view all read what `source_health` computes.

Users of Parltrack, Open States and juriscraper mostly complain about silent staleness ("no updates
since ..."), so a source is judged on its crawl history, not only on its last run:

- ``disabled``: not enabled in the configuration;
- ``never``: enabled but no run has finished (or none ever succeeded);
- ``failing``: the last finished run ended ``failed`` or ``blocked``;
- ``stale``: no successful run (``ok`` or ``partial``: documents were stored) for more than
  ``STALE_INTERVALS`` of its own intervals, or it returns nothing where it should have results:
  no successful run ever returned an item (a first full run with zero results), or the last
  ``ZERO_RUNS`` successful runs returned nothing while earlier ones did (a source opts out with
  ``[sources.<id>] expect_results = false``);
- ``degraded``: the last run was ``partial`` (some items failed; data still flows), or an item the
  upstream keeps answering "not ready, retry later" for (a deferral, retried every run) has been
  deferred for more than ``DEFERRED_ALERT_DAYS`` days;
- ``ok`` otherwise.

"Returned an item" means the run fetched or recognised as unchanged at least one record
(``fetched + unchanged > 0``). Time comes from `db.clock`. The front end cannot run Python per
request, so `refresh` stores the judgement in ``source_health_state`` whenever a run ends, the
sources are registered, or a tick finishes (every 15 minutes when scheduled); the view joins it
to ``sources``, and ``checked_at`` says when it was judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from db import clock
from db.transaction import transaction, upsert_row

SUCCESS = ("ok", "partial")
FAILING = ("failed", "blocked")
STALE_INTERVALS = 3
ZERO_RUNS = 3
DEFERRED_ALERT_DAYS = 3
ALERTING = ("stale", "failing")  # `tracker status` exits 1
WARNING = ("stale", "failing", "degraded")  # the digest footer lists them
RUN_FIELDS = ("finished_at", "fetched", "new", "updated", "unchanged", "errors")
STATE_FIELDS = (
    "source", "checked_at", "health", "reason", "last_success_at", "hours_since_success", "last_run_status",
    *(f"last_run_{f}" for f in RUN_FIELDS), "items_ever", "recent_successful_runs", "recent_items",
    "last_failure_message", "last_failure_at", "runs_7d", "failed_runs_7d", "deferred_items", "oldest_deferred_at",
)


@dataclass(frozen=True)
class Expectation:
    """What a source is judged against: its configuration, as plain values."""

    enabled: bool
    interval: str
    interval_s: float | None
    expect_results: bool = True


def _history(db: sqlite_utils.Database, week_ago: str) -> dict[str, dict]:
    """Per source: its last finished run, last success, item counts, last failure and 7-day run counts."""
    states: dict[str, dict] = {}

    def put(sql: str, params: list, fields: tuple[str, ...]) -> None:
        for source, *values in db.execute(sql, params).fetchall():
            states.setdefault(source, {}).update(zip(fields, values))

    success = ", ".join(f"'{s}'" for s in SUCCESS)
    put(f"select source, status, {', '.join(RUN_FIELDS)} from crawl_runs where id in "
        "(select max(id) from crawl_runs where status != 'running' group by source)", [],
        ("last_run_status", *(f"last_run_{f}" for f in RUN_FIELDS)))
    put(f"select source, finished_at from crawl_runs where id in "
        f"(select max(id) from crawl_runs where status in ({success}) group by source)", [], ("last_success_at",))
    put(f"select source, sum(fetched + unchanged) from crawl_runs where status in ({success}) group by source", [],
        ("items_ever",))
    put(f"select source, count(*), sum(fetched + unchanged) from (select source, fetched, unchanged, "
        f"row_number() over (partition by source order by id desc) as n from crawl_runs where status in ({success})) "
        f"where n <= {ZERO_RUNS} group by source", [], ("recent_successful_runs", "recent_items"))
    put("select source, message, finished_at from crawl_runs where id in "
        "(select max(id) from crawl_runs where status not in ('ok', 'running') group by source)", [],
        ("last_failure_message", "last_failure_at"))
    put(f"select source, count(*), sum(status in ({', '.join(repr(s) for s in FAILING)})) from crawl_runs "
        "where started_at >= ? group by source", [week_ago], ("runs_7d", "failed_runs_7d"))
    if "deferred_items" in db.table_names():
        put("select source, count(*), min(first_deferred_at) from deferred_items group by source", [],
            ("deferred_items", "oldest_deferred_at"))
    return states


def judge(state: dict, expected: Expectation, now: datetime, last_error: str | None = None) -> tuple[str, str | None]:
    """(health, reason) of one source from its history (`_history` row) and expectation, as of ``now``."""
    last_status = state.get("last_run_status")
    last_success = clock.aware(state["last_success_at"]) if state.get("last_success_at") else None
    if not expected.enabled:
        return "disabled", None
    if last_status is None:
        return "never", None
    if last_status in FAILING:
        return "failing", f"{last_status}: {state.get('last_failure_message') or last_error or ''}".rstrip(": ")
    if last_success is None:
        return "never", None
    age = (now - last_success).total_seconds()
    if expected.interval_s and age > STALE_INTERVALS * expected.interval_s:
        return "stale", f"no successful run for {_duration(age)} (interval {expected.interval})"
    if expected.expect_results and not state.get("items_ever"):
        return "stale", "no successful run has returned any item"
    if expected.expect_results and (state.get("recent_successful_runs") or 0) >= ZERO_RUNS and not state.get("recent_items"):
        return "stale", f"the last {ZERO_RUNS} successful runs returned nothing"
    oldest = state.get("oldest_deferred_at")
    if oldest and (waited := (now - clock.aware(oldest)).total_seconds()) > DEFERRED_ALERT_DAYS * 86400:
        return "degraded", (f"{state.get('deferred_items')} item(s) not ready upstream for {_duration(waited)} "
                            "(retried on every run)")
    if last_status == "partial":
        return "degraded", state.get("last_failure_message") or "some items failed"
    return "ok", None


def _duration(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days" if seconds >= 172800 else f"{seconds / 3600:.1f} hours"


def stored_expectations(db: sqlite_utils.Database) -> dict[str, Expectation]:
    """The expectations registered in the ``sources`` table (what the front end is judged with)."""
    rows = db.execute("select id, enabled, interval, interval_s, expect_results from sources order by id").fetchall()
    return {sid: Expectation(bool(enabled), interval or "", interval_s, expect is None or bool(expect))
            for sid, enabled, interval, interval_s, expect in rows}


def source_health(db: sqlite_utils.Database, now: datetime | None = None,
                  expectations: dict[str, Expectation] | None = None) -> list[dict]:
    """One row per source (those of ``expectations``, else of the ``sources`` table) with ``health``,
    ``reason``, ``age_hours``, the last run and the history counts; ``now`` defaults to the clock."""
    now = clock.aware(now) if now else clock.now()
    expectations = stored_expectations(db) if expectations is None else expectations
    history = _history(db, clock.iso(now - timedelta(days=7)))
    errors = dict(db.execute("select id, last_error from sources").fetchall())
    rows = []
    for sid, expected in expectations.items():
        state = history.get(sid, {})
        health, reason = judge(state, expected, now, errors.get(sid))
        success = state.get("last_success_at")
        age = (now - clock.aware(success)).total_seconds() if success else None
        rows.append({
            **{f: state.get(f) for f in STATE_FIELDS if f in state}, "source": sid, "checked_at": clock.iso(now),
            "health": health, "reason": reason, "last_success_at": success, "interval": expected.interval,
            "enabled": expected.enabled, "expect_results": expected.expect_results, "last_error": errors.get(sid),
            "age_hours": round(age / 3600, 1) if age is not None else None,
            "hours_since_success": round(age / 3600, 1) if age is not None else None,
            "runs_7d": state.get("runs_7d") or 0, "failed_runs_7d": state.get("failed_runs_7d") or 0,
        })
    return rows


def refresh(db: sqlite_utils.Database, now: datetime | None = None) -> None:
    """Store the current judgement of every registered source in ``source_health_state`` (the view's data)."""
    if "source_health_state" not in db.table_names():
        return  # a database still being migrated: the migration that adds the table refreshes it
    rows = source_health(db, now)
    with transaction(db):
        db.conn.execute("delete from source_health_state")
        for row in rows:
            upsert_row(db, "source_health_state", {f: row.get(f) for f in STATE_FIELDS}, ("source",))
