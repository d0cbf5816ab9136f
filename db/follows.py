"""What happened to a followed dossier, entity or saved search, and what a subscriber was already told.

A subscriber follows items (``[[digest.subscribers]]`` ``dossiers``, ``entities``, ``searches``);
each digest reports, per item, what is new since the subscriber's last digest:

- a dossier (``dossiers.key``): its events (``events``), a change of its ``stage``, and new text
  versions: documents of the dossier (``documents.group_key`` = the key) first seen, or with a
  version (``document_versions``) fetched, in the window;
- an entity (``entities.id``): its mentions first seen in the window, by document, with stance;
- a saved search (the front end's syntax, `db.search.match_expression`): documents first seen in
  the window that match it (one per upstream document: the representative of its copies).

"What is new" is exact, not a date comparison: every item reported is *marked* for the subscriber
in ``follow_marks`` (subscriber, item, kind, ref, digest id) with the digest that carried it, and a mark counts
only while that digest counts (``digests.status`` sent, sending, unknown, or skipped): a failed or
refused delivery frees its marks, like its mentions (`db.digests.release`). The window
(``since``) only bounds the work; an event dated before it (crawled late) is still reported when
it is dated within it. The stage mark is written with every digest (reported or not), so the next
digest compares against the stage the subscriber last saw; the first digest only sets it.
"""

from __future__ import annotations

import sqlite_utils

from db.digests import COUNTED
from db.identities import NOT_A_REPEAT
from db.search import match_expression
from db.transaction import transaction

EVENT_FIELDS = ("id", "date", "kind", "description", "actor", "ref_url")
VERSION_FIELDS = ("document_id", "version", "title", "url", "source", "fetched_at")
MENTION_FIELDS = ("id", "document_id", "sentence", "text", "stance", "stance_score", "title", "url", "source",
                  "institution", "day", "document_stance")
DOCUMENT_FIELDS = ("id", "title", "url", "source", "institution", "day", "stance")
_COUNTED_SQL = ", ".join(f"'{s}'" for s in COUNTED)
VERSION_REF = "(v.document_id || ':' || v.version)"  # a text version's mark: "<document id>:<version>"


def migrate(db: sqlite_utils.Database) -> None:
    """Migration ``0010_follow_marks``: ``follow_marks``, what each subscriber's digests reported. Re-runnable."""
    db["follow_marks"].create({"subscriber": str, "item": str, "kind": str, "ref": str, "digest_id": int},
                              pk=("subscriber", "item", "kind", "ref", "digest_id"), if_not_exists=True)
    db["follow_marks"].create_index(["digest_id"], if_not_exists=True)


def _unmarked(alias_ref: str, kind: str) -> str:
    """SQL: no counted digest of ``:email`` reported ``alias_ref`` (of ``kind``) for ``:item``."""
    return (f"not exists (select 1 from follow_marks fm join digests g on g.id = fm.digest_id "
            f"where fm.subscriber = :email and fm.item = :item and fm.kind = '{kind}' and fm.ref = {alias_ref} "
            f"and g.status in ({_COUNTED_SQL}))")


def existing_dossiers(db: sqlite_utils.Database, keys: list[str]) -> set[str]:
    """Which of these dossier keys the database holds."""
    if not keys:
        return set()
    marks = ", ".join("?" for _ in keys)
    return {r[0] for r in db.execute(f"select key from dossiers where key in ({marks})", keys)}


def existing_entities(db: sqlite_utils.Database, ids: list[str]) -> set[str]:
    """Which of these entity ids the database's ``entities`` holds."""
    if not ids:
        return set()
    marks = ", ".join("?" for _ in ids)
    return {r[0] for r in db.execute(f"select id from entities where id in ({marks})", ids)}


def dossier(db: sqlite_utils.Database, key: str) -> dict | None:
    """The dossier's title, URL, kind, source and current stage, or None."""
    fields = ("key", "title", "url", "kind", "source", "stage", "status")
    row = db.execute(f"select {', '.join(fields)} from dossiers where key = ?", [key]).fetchone()
    return dict(zip(fields, row)) if row else None


def last_stage(db: sqlite_utils.Database, email: str, key: str) -> tuple[bool, str | None]:
    """(whether the subscriber was ever shown a stage of this dossier, the last one shown)."""
    row = db.execute(
        f"select fm.ref from follow_marks fm join digests g on g.id = fm.digest_id where fm.subscriber = ? "
        f"and fm.item = ? and fm.kind = 'stage' and g.status in ({_COUNTED_SQL}) order by fm.digest_id desc limit 1",
        [email, key]).fetchone()
    return (row is not None, (row[0] or None) if row else None)


def new_events(db: sqlite_utils.Database, email: str, key: str, since_day: str, shown: int,
               cap: int = 10_000) -> tuple[list[dict], list[str]]:
    """The newest ``shown`` events of the dossier dated on or after ``since_day`` not yet reported to
    ``email``, and the ids of all of them (at most ``cap``), newest first."""
    rows = db.execute(
        f"select {', '.join('e.' + f for f in EVENT_FIELDS)} from events e where e.dossier_key = :item "
        f"and e.date >= :since and {_unmarked('e.id', 'event')} order by e.date desc, e.id limit :cap",
        {"email": email, "item": key, "since": since_day, "cap": cap}).fetchall()
    return [dict(zip(EVENT_FIELDS, r)) for r in rows[:shown]], [r[0] for r in rows]


def new_versions(db: sqlite_utils.Database, email: str, key: str, since: str, shown: int,
                 cap: int = 10_000) -> tuple[list[dict], list[str]]:
    """Text versions of the dossier's documents (``group_key``) stored since ``since`` and not yet
    reported to ``email`` (a new document of the dossier, in whatever version it arrived, or a new
    version of one): the newest ``shown``, and the refs (``<document id>:<version>``) of all of them
    (at most ``cap``)."""
    rows = db.execute(
        "select v.document_id, v.version, coalesce(v.title, d.title), d.url, d.source, v.fetched_at "
        "from documents d join document_versions v on v.document_id = d.id "
        f"where d.group_key = :item and v.fetched_at >= :since and {_unmarked(VERSION_REF, 'version')} "
        "order by v.fetched_at desc, v.document_id, v.version limit :cap",
        {"email": email, "item": key, "since": since, "cap": cap}).fetchall()
    return [dict(zip(VERSION_FIELDS, r)) for r in rows[:shown]], [f"{r[0]}:{r[1]}" for r in rows]


def new_mentions(db: sqlite_utils.Database, email: str, entity: str, since: str, shown: int,
                 cap: int = 10_000) -> tuple[list[dict], list[str]]:
    """The newest ``shown`` mentions of ``entity`` first seen since ``since`` and not yet reported to
    ``email`` (with their documents), and the ids of all of them (at most ``cap``, newest first). A
    sentence repeated in another copy of one document counts once (`db.identities.NOT_A_REPEAT`)."""
    where = f"m.entity_id = :item and m.first_seen_at >= :since and {NOT_A_REPEAT} and {_unmarked('m.id', 'mention')}"
    params = {"email": email, "item": entity, "since": since, "cap": cap}
    ids = [r[0] for r in db.execute(
        f"select m.id from mentions m where {where} order by m.first_seen_at desc, m.id limit :cap", params)]
    if not ids:
        return [], []
    marks = ", ".join("?" for _ in ids[:shown])
    rows = db.execute(
        "select m.id, m.document_id, m.sentence, m.text, m.stance, m.stance_score, d.title, d.url, d.source, d.institution, "
        "coalesce(d.published_at, substr(d.fetched_at, 1, 10)), d.stance "
        f"from mentions m join documents d on d.id = m.document_id where m.id in ({marks}) "
        "order by m.first_seen_at desc, m.id", ids[:shown]).fetchall()
    return [dict(zip(MENTION_FIELDS, r)) for r in rows], ids


def new_matches(db: sqlite_utils.Database, email: str, query: str, since: str, shown: int,
                cap: int = 10_000) -> tuple[list[dict], list[int]]:
    """The newest ``shown`` documents first seen since ``since`` matching the saved search ``query`` (the
    front end's syntax; raises `db.search.QueryError`) not yet reported to ``email``, and the ids of all
    of them (at most ``cap``): one per upstream document (the representative of its copies)."""
    params = {"email": email, "item": query, "since": since, "q": match_expression(query), "cap": cap}
    matched = (
        "select coalesce(d.canonical_id, d.id) from documents_fts join documents d on d.id = documents_fts.rowid "
        "where documents_fts match :q and d.first_seen_at >= :since")
    ids = [r[0] for r in db.execute(
        f"select c.id from documents c where c.id in ({matched}) and {_unmarked('cast(c.id as text)', 'document')} "
        "order by c.first_seen_at desc, c.id desc limit :cap", params)]
    if not ids:
        return [], []
    marks = ", ".join("?" for _ in ids[:shown])
    rows = db.execute(
        "select c.id, c.title, c.url, c.source, c.institution, coalesce(c.published_at, substr(c.fetched_at, 1, 10)), "
        f"c.stance from documents c where c.id in ({marks}) order by c.first_seen_at desc, c.id desc",
        ids[:shown]).fetchall()
    return [dict(zip(DOCUMENT_FIELDS, r)) for r in rows], ids


def mark(db: sqlite_utils.Database, email: str, digest_id: int, marks: list[tuple[str, str, str]]) -> None:
    """Record that digest ``digest_id`` reported these (item, kind, ref) to ``email``. Marks of earlier
    digests stay: a later digest that fails never hides what a delivered one reported."""
    if not marks:
        return
    with transaction(db):
        db.conn.executemany(
            "insert or ignore into follow_marks (subscriber, item, kind, ref, digest_id) values (?, ?, ?, ?, ?)",
            [(email, item, kind, ref, digest_id) for item, kind, ref in marks])
