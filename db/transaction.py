"""Write transactions and the two row helpers every write module uses.

Each public write function of ``db`` runs in `transaction`: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled
back on any exception, so a crash leaves the whole write or none of it. A `transaction` opened while
another is open joins it (nothing is committed until the outermost one ends): that is how one news
article (document, signature, story, remembered URLs) is stored in one transaction. Raw SQL is used
inside transactions because sqlite-utils' insert helpers commit on their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction (or a part of the one already open); rolled back on any exception."""
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def upsert_row(db: sqlite_utils.Database, table: str, row: dict, pk: tuple[str, ...]) -> None:
    """``insert ... on conflict (pk) do update`` of the given columns (inside a transaction)."""
    columns = list(row)
    updates = [c for c in columns if c not in pk]
    sql = (
        f"insert into [{table}] ({', '.join(f'[{c}]' for c in columns)}) values ({', '.join('?' for _ in columns)}) "
        f"on conflict ({', '.join(f'[{c}]' for c in pk)}) do "
        + (f"update set {', '.join(f'[{c}] = excluded.[{c}]' for c in updates)}" if updates else "nothing")
    )
    db.conn.execute(sql, [row[c] for c in columns])


def to_json(value: object) -> str | None:
    """A JSON column value: None for empty containers, keys sorted, non-ASCII kept."""
    return None if value in (None, {}, []) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def from_json(value: str | None, empty: object = None) -> object:
    """A JSON column decoded; ``empty`` when the column is null."""
    return json.loads(value) if value else empty
