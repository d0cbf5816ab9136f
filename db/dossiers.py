"""Dossiers (bills, procedures) and their events, shared by the sources that describe them."""

from __future__ import annotations

import hashlib

import sqlite_utils

from db import clock
from db.transaction import from_json, to_json, transaction, upsert_row

COMPARED = ("source", "title", "url", "stage", "status", "updated_at", "metadata", "latest_event_date", "latest_event")


def event_id(dossier_key: str, event: dict) -> str:
    """Natural key of an event: the same step re-crawled maps to the same row."""
    raw = "|".join(str(event.get(k) or "") for k in ("date", "kind", "description", "ref_id"))
    return hashlib.sha1(f"{dossier_key}|{raw}".encode()).hexdigest()[:20]


def save_dossier(db: sqlite_utils.Database, dossier: dict) -> str:
    """Upsert a bill or procedure with its events; returns ``new``, ``updated`` or ``unchanged``.

    Several sources may describe one dossier (the Parliament's API and the Observatory both know a
    procedure): the first source to store it owns its fields, others only fill fields still empty,
    and every source's events are kept. The latest event is computed over all of them. A new
    dossier's ``first_seen_at`` is the clock's now (what the digest's "new bills" section reads).
    """
    row = {
        "key": dossier["key"], "source": dossier["source"], "kind": dossier["kind"], "title": dossier["title"],
        "url": dossier["url"], "stage": dossier.get("stage"), "status": dossier.get("status"),
        "updated_at": dossier.get("updated_at"), "fetched_at": dossier["fetched_at"],
        "parser_version": dossier.get("parser_version"), "metadata": to_json(dossier.get("metadata")),
    }
    with transaction(db):
        found = db.execute(f"select {', '.join(COMPARED)} from dossiers where key = ?", [row["key"]]).fetchone()
        existing = dict(zip(COMPARED, found)) if found else None
        if existing and existing["source"] != row["source"]:
            row = {k: (existing[k] if existing.get(k) is not None else v) for k, v in row.items()}
            row["source"] = existing["source"]
        elif existing:  # the owner does not erase what another source filled in (no ping-pong between them)
            row = {k: (existing[k] if v is None and existing.get(k) is not None else v) for k, v in row.items()}
        if existing is None:  # the row must exist before its events (foreign key)
            upsert_row(db, "dossiers", {**row, "first_seen_at": clock.now_iso()}, ("key",))
        new_events = 0
        for event in dossier.get("events") or []:
            new_events += db.conn.execute(
                "insert or ignore into events (id, dossier_key, source, date, kind, description, actor, ref_url, ref_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [event_id(row["key"], event), row["key"], dossier["source"], event.get("date"), event.get("kind"),
                 event.get("description"), event.get("actor"), event.get("ref_url"), event.get("ref_id")],
            ).rowcount
        latest = db.execute(
            "select date, description from events where dossier_key = ? order by date desc, kind desc limit 1", [row["key"]]
        ).fetchone()
        row["latest_event_date"], row["latest_event"] = latest if latest else (None, None)
        changed = existing is None or any(existing[c] != row[c] for c in COMPARED)
        if changed:
            upsert_row(db, "dossiers", row, ("key",))
    if existing is None:
        return "new"
    return "updated" if changed or new_events else "unchanged"


def dossier_keys(db: sqlite_utils.Database) -> set[str]:
    """Every stored dossier key (bills, procedures); empty before the first crawl."""
    if "dossiers" not in db.table_names():
        return set()
    return {row[0] for row in db.execute("select key from dossiers")}


def known_dossier(db: sqlite_utils.Database, key: str) -> dict | None:
    """The stored row of a dossier (bill, procedure), metadata decoded, or None."""
    fields = ("key", "source", "title", "status", "updated_at", "metadata")
    row = db.execute(f"select {', '.join(fields)} from dossiers where key = ?", [key]).fetchone()
    if row is None:
        return None
    result = dict(zip(fields, row))
    result["metadata"] = from_json(result["metadata"], {})
    return result
