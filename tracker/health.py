"""Source health for `tracker status`, `tracker sources` (and its listing) and the digest footer: the
rules of `db.health` applied with the configuration's expectations (enabled, interval, ``expect_results``).
The front end's ``source_health`` view reads the same judgement, stored by `db.health.refresh` with
the expectations registered from the same configuration (`tracker.crawl.source_rows`)."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from crawler.registry import SOURCES
from db import digests, health
from tracker.config import Config

STATUS_FIELDS = ("source", "health", "reason", "last_success_at", "last_status", "last_error", "interval", "age_hours",
                 "last_run")


def expectations(config: Config) -> dict[str, health.Expectation]:
    """What each configured source is judged against."""
    return {sid: health.Expectation(conf.enabled, conf.interval, conf.interval_s, conf.expect_results)
            for sid, conf in config.sources.items()}


def source_health(db: sqlite_utils.Database, config: Config, now: datetime | None = None) -> list[dict]:
    """One row per enabled source: ``health`` (ok, degraded, stale, failing, never), ``reason``, last
    success, its age in hours, and the last finished run (None before the first)."""
    rows = []
    for row in health.source_health(db, now, expectations(config)):
        if not row["enabled"]:
            continue
        row["last_status"] = row.get("last_run_status")
        row["last_run"] = {k: row.get(f"last_run_{k}") for k in health.RUN_FIELDS} if row["last_status"] else None
        rows.append({k: row[k] for k in STATUS_FIELDS})
    return rows


def unhealthy(rows: list[dict]) -> list[dict]:
    """The rows worth a warning (digest footer): stale, failing, degraded."""
    return [r for r in rows if r["health"] in health.WARNING]


def alerting(rows: list[dict]) -> list[str]:
    """Sources that make `tracker status` exit 1: stale or failing."""
    return [r["source"] for r in rows if r["health"] in health.ALERTING]


def unknown_deliveries(db: sqlite_utils.Database) -> list[str]:
    """`tracker status` lines for digests whose delivery is of unknown outcome (a crash between the server's
    acceptance and the record): never resent automatically, so a person must look."""
    return [f"digest to {c['subscriber']} (Message-ID {c['message_id']}): delivery unknown since {c['sent_at']}; "
            "not resent (see `tracker digest subscribers`)" for c in digests.claims(db, "unknown")]


def status_lines(rows: list[dict]) -> list[str]:
    """`tracker status` as text: a line per source (and its reason), then a summary."""
    lines = []
    for r in rows:
        age = f" ({r['age_hours']} h ago)" if r["age_hours"] is not None else ""
        run = r["last_run"]
        counts = (f"; last run {r['last_status']}: fetched {run['fetched']}, new {run['new']}, "
                  f"updated {run['updated']}, unchanged {run['unchanged']}, errors {run['errors']}") if run else ""
        lines.append(f"{r['source']:<17} {r['health']:<8} every {r['interval']:<4} last success "
                     f"{r['last_success_at'] or 'never'}{age}{counts}" + (f"\n{'':<18}{r['reason']}" if r["reason"] else ""))
    bad = alerting(rows)
    lines.append(f"{len(rows)} sources, {len(bad)} stale or failing" + (f": {', '.join(bad)}" if bad else ""))
    return lines


def source_listing(db: sqlite_utils.Database | None, config: Config) -> list[dict]:
    """`tracker sources`: every registered source with its configuration and health (None: no database yet)."""
    judged = {r["source"]: r for r in source_health(db, config)} if db is not None else {}
    rows = []
    for sid, cls in SOURCES.items():
        conf = config.sources[sid]
        state = judged.get(sid, {})
        rows.append({
            "id": sid, "title": cls.title, "jurisdiction": cls.jurisdiction, "base_url": conf.base_url,
            "enabled": conf.enabled, "interval": conf.interval, "health": state.get("health", None if conf.enabled else "disabled"),
            "last_success_at": state.get("last_success_at"), "last_status": state.get("last_status"),
            "last_error": state.get("last_error"),
        })
    return rows


def source_listing_lines(rows: list[dict]) -> list[str]:
    """`tracker sources` as text: two lines per source."""
    return [f"{r['id']:<17} {'on ' if r['enabled'] else 'off'} {r['jurisdiction']:<3} every {r['interval']:<4} "
            f"{r['base_url'] or '(feeds)'}\n{'':<22}{r['title']}; last success: {r['last_success_at'] or 'never'}"
            + (f"; health: {r['health']}" if r["health"] else "") + (f"; last error: {r['last_error']}" if r["last_error"] else "")
            for r in rows]
