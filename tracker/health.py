"""Source health (`tracker status`, the digest footer, the ``source_health`` view).

Users of Parltrack, Open States and juriscraper mostly complain about silent staleness ("no updates
since ..."), so a source is judged on its crawl history, not only on its last run:

- ``failing``: the last finished run ended ``failed`` or ``blocked``;
- ``stale``: no successful run (``ok`` or ``partial``: documents were stored) for more than
  ``STALE_INTERVALS`` of its own intervals, or it returns nothing where it should have results:
  no successful run ever returned an item (a first full run with zero results), or the last
  ``ZERO_RUNS`` successful runs returned nothing while earlier ones did (a source can opt out with
  ``[sources.<id>] expect_results = false``);
- ``degraded``: the last run was ``partial`` (some items failed; data still flows);
- ``never``: enabled but never run; ``ok`` otherwise.

"Returned an item" means the run fetched or recognised as unchanged at least one record
(``fetched + unchanged > 0``). The SQL view ``source_health`` (db/views.py) applies the same rules
with SQLite's clock for the analyst front end; this module applies them with an injectable ``now``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import click

from db import clock
from tracker.app import App, UsageProblem, pass_app
from tracker.config import Config

STALE_INTERVALS = 3
ZERO_RUNS = 3
ALERTING = ("stale", "failing")


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    value = datetime.fromisoformat(ts)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def source_health(db, config: Config, now: datetime | None = None) -> list[dict]:
    """One row per enabled source with ``health`` (ok, degraded, stale, failing, never) and ``reason``."""
    now = now or clock.now()
    stored = {}
    if "source_health" in db.view_names():
        stored = {row["source"]: row for row in db["source_health"].rows}
    rows = []
    for sid, conf in config.sources.items():
        if not conf.enabled:
            continue
        state = stored.get(sid, {})
        last_success = _parse(state.get("last_success_at"))
        age = (now - last_success).total_seconds() if last_success else None
        last_status = state.get("last_run_status")
        expect_results = conf.options.get("expect_results", True) is not False
        health, reason = "ok", None
        if last_status is None:
            health = "never"
        elif last_status in ("failed", "blocked"):
            health, reason = "failing", f"{last_status}: {state.get('last_failure_message') or state.get('last_error') or ''}".rstrip(": ")
        elif last_success is None:
            health = "never"
        elif age > STALE_INTERVALS * conf.interval_s:
            health, reason = "stale", f"no successful run for {_hours(age)} (interval {conf.interval})"
        elif expect_results and not state.get("items_ever"):
            health, reason = "stale", "no successful run has returned any item"
        elif expect_results and (state.get("recent_successful_runs") or 0) >= ZERO_RUNS and not state.get("recent_items"):
            health, reason = "stale", f"the last {ZERO_RUNS} successful runs returned nothing"
        elif last_status == "partial":
            health, reason = "degraded", state.get("last_failure_message") or "some items failed"
        rows.append({
            "source": sid, "health": health, "reason": reason,
            "last_success_at": state.get("last_success_at"), "last_status": last_status,
            "last_error": state.get("last_error"), "interval": conf.interval,
            "age_hours": round(age / 3600, 1) if age is not None else None,
            "last_run": {k: state.get(f"last_run_{k}") for k in ("finished_at", "fetched", "new", "updated", "unchanged", "errors")}
            if last_status else None,
        })
    return rows


def _hours(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days" if seconds >= 172800 else f"{seconds / 3600:.1f} hours"


def unhealthy(rows: list[dict]) -> list[dict]:
    """The rows worth a warning (digest footer): stale, failing, degraded."""
    return [r for r in rows if r["health"] in ("stale", "failing", "degraded")]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--now", "now_iso", hidden=True, help="Evaluate at this ISO time (tests).")
@pass_app
def status(app: App, as_json: bool, now_iso: str | None) -> None:
    """Source health: last success, staleness, last error.

    Exit status 1 when any enabled source is stale or failing (for monitoring), else 0.
    """
    try:
        now = _parse(now_iso) if now_iso else None
    except ValueError:
        raise UsageProblem(f"--now: expected an ISO date-time, got {now_iso!r}") from None
    db = app.open_db(create=app.db_path.exists())  # migrate an existing database; a missing one is an error
    rows = source_health(db, app.config, now)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for r in rows:
            age = f" ({r['age_hours']} h ago)" if r["age_hours"] is not None else ""
            run = r["last_run"]
            counts = (f"; last run {r['last_status']}: fetched {run['fetched']}, new {run['new']}, "
                      f"updated {run['updated']}, unchanged {run['unchanged']}, errors {run['errors']}") if run else ""
            click.echo(f"{r['source']:<17} {r['health']:<8} every {r['interval']:<4} last success "
                       f"{r['last_success_at'] or 'never'}{age}{counts}" + (f"\n{'':<18}{r['reason']}" if r["reason"] else ""))
        bad = [r["source"] for r in rows if r["health"] in ALERTING]
        click.echo(f"{len(rows)} sources, {len(bad)} stale or failing" + (f": {', '.join(bad)}" if bad else ""))
    if any(r["health"] in ALERTING for r in rows):
        sys.exit(1)
