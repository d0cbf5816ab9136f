"""Digest opt-outs (the unsubscribe link's writes) and the secret that signs those links.

``digest_optouts`` (email lower-cased, list id): who asked, when and how (``form``: the confirmation
page's button; ``one-click``: an RFC 8058 POST from a mail client). It is the only table the web
front end writes (`tracker.plugins.unsubscribe`), through a connection of its own: Datasette itself
reads the database read-only. A later opt-out of the same address and list keeps the first date.

``unsubscribe_secret``: one random key, generated on first use when no environment variable
supplies one (`tracker.unsubscribe`). Only the tracker's own processes read it: Datasette's
connections are refused any read of that table (`tracker.plugins.unsubscribe` installs an SQLite
authorizer), so analyst SQL cannot forge links.
"""

from __future__ import annotations

import secrets

import sqlite_utils

from db import clock
from db.transaction import transaction

SECRET_TABLE = "unsubscribe_secret"


def migrate(db: sqlite_utils.Database) -> None:
    """Migration ``0011_digest_optouts``: ``digest_optouts`` and ``unsubscribe_secret``. Re-runnable."""
    db["digest_optouts"].create({"email": str, "list_id": str, "opted_out_at": str, "method": str},
                                pk=("email", "list_id"), if_not_exists=True)
    db.execute(f"create table if not exists {SECRET_TABLE} (id integer primary key check (id = 1), "
               "secret text not null, created_at text not null)")


def record(db: sqlite_utils.Database, email: str, list_id: str, method: str) -> str:
    """Record the opt-out of ``email`` from ``list_id``; returns its date (the first one, if repeated)."""
    with transaction(db):
        db.conn.execute("insert or ignore into digest_optouts (email, list_id, opted_out_at, method) values (?, ?, ?, ?)",
                        [email.lower(), list_id, clock.now_iso(), method])
        return db.conn.execute("select opted_out_at from digest_optouts where email = ? and list_id = ?",
                               [email.lower(), list_id]).fetchone()[0]


def opted_out(db: sqlite_utils.Database, list_id: str) -> dict[str, str]:
    """Lower-cased address -> opt-out date, for ``list_id``."""
    return dict(db.execute("select email, opted_out_at from digest_optouts where list_id = ?", [list_id]).fetchall())


def stored_secret(db: sqlite_utils.Database) -> bytes:
    """The database's signing key, created (32 random bytes, hex) on first use; concurrent first uses
    agree on one key (insert or ignore, then read)."""
    row = db.execute(f"select secret from {SECRET_TABLE} where id = 1").fetchone()
    if row is None:
        with transaction(db):
            db.conn.execute(f"insert or ignore into {SECRET_TABLE} (id, secret, created_at) values (1, ?, ?)",
                            [secrets.token_hex(32), clock.now_iso()])
        row = db.execute(f"select secret from {SECRET_TABLE} where id = 1").fetchone()
    return bytes.fromhex(row[0])
