"""Source health: last success, staleness, last error (`tracker status`)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import click

from db.reads import source_rows
from tracker.app import App, pass_app
from tracker.config import Config

STALE_INTERVALS = 3


def source_health(db, config: Config, now: datetime | None = None) -> list[dict]:
    """One row per enabled source: state ``ok``, ``stale``, ``failing`` or ``never``."""
    now = now or datetime.now(timezone.utc)
    stored = source_rows(db)
    rows = []
    for sid, conf in config.sources.items():
        if not conf.enabled:
            continue
        state = stored.get(sid, {})
        last_success = state.get("last_success_at")
        age = (now - datetime.fromisoformat(last_success)).total_seconds() if last_success else None
        if last_success is None:
            health = "never" if not state.get("last_status") else "failing"
        elif state.get("last_status") not in ("ok", None):
            health = "failing"
        elif age > STALE_INTERVALS * conf.interval_s:
            health = "stale"
        else:
            health = "ok"
        rows.append({
            "source": sid, "health": health, "last_success_at": last_success, "last_status": state.get("last_status"),
            "last_error": state.get("last_error"), "interval": conf.interval,
            "age_hours": round(age / 3600, 1) if age is not None else None,
        })
    return rows


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status(app: App, as_json: bool) -> None:
    """Source health; exit status 1 when any enabled source is stale or failing."""
    rows = source_health(app.open_db(), app.config)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for r in rows:
            click.echo(f"{r['source']:<17} {r['health']:<8} last success {r['last_success_at'] or 'never'}"
                       + (f"; last error: {r['last_error']}" if r["last_error"] else ""))
    if any(r["health"] in ("stale", "failing") for r in rows):
        sys.exit(1)
