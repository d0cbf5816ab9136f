"""Named locks in the ``locks`` table (the tick's): holder pid, host, token and a heartbeat.

`acquire` takes a lock in one transaction unless a live holder has it; whether a holder is stale
(dead process, old heartbeat) is the caller's judgement, passed in as ``is_stale``.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from db import clock
from db.transaction import transaction

HOLDER_FIELDS = ("pid", "host", "token", "acquired_at", "heartbeat_at")


def acquire(db: sqlite_utils.Database, name: str, pid: int, host: str, token: str,
            is_stale: Callable[[dict], bool]) -> tuple[bool, dict | None]:
    """Take the lock ``name``: returns (True, the stale holder replaced or None) or (False, the live holder)."""
    with transaction(db):
        row = db.execute(f"select {', '.join(HOLDER_FIELDS)} from locks where name = ?", [name]).fetchone()
        holder = dict(zip(HOLDER_FIELDS, row)) if row else None
        if holder and not is_stale(holder):
            return False, holder
        stamp = clock.now_iso()
        db.conn.execute(
            "insert or replace into locks (name, pid, host, token, acquired_at, heartbeat_at) values (?, ?, ?, ?, ?, ?)",
            [name, pid, host, token, stamp, stamp],
        )
    return True, holder


def heartbeat(db: sqlite_utils.Database, name: str, token: str) -> None:
    """Refresh the holder's heartbeat (only while ``token`` holds the lock)."""
    with transaction(db):
        db.conn.execute("update locks set heartbeat_at = ? where name = ? and token = ?", [clock.now_iso(), name, token])


def release(db: sqlite_utils.Database, name: str, token: str) -> None:
    """Give the lock up (only if ``token`` still holds it)."""
    with transaction(db):
        db.conn.execute("delete from locks where name = ? and token = ?", [name, token])
