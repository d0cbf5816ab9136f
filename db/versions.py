"""Versions of a document's text: reads of ``document_versions`` and of a bill's text versions.

Two kinds of "new version" are read here:

- a document whose content changed (``db.documents.upsert_document`` wrote version N + 1 into
  ``document_versions``): an amended US Code section, a revised notice. Consecutive versions of one
  document are compared (`versions`, `version_text`);
- a new **text version of a bill** (Congress.gov stores each text version, ``ih``, ``rh``, ``eh``, as
  its own document of type ``bill_text`` in the bill's group ``us-bill:...``): it is compared with the
  bill's previous text version (`previous_text_version`).

`changed_since` lists both for the digest: what changed in ``(since, until]``, for the documents a
subscriber cares about (`Relevance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

HEAD_FIELDS = ("id", "source", "source_id", "title", "url", "doc_type", "group_key", "version", "published_at",
               "first_seen_at", "jurisdiction", "institution")
BILL_TEXT = "bill_text"
WATCHED_SOURCES = ("uscode",)  # every stored section is one the configuration watches


def document_head(db: sqlite_utils.Database, document_id: int) -> dict | None:
    """The document's row without its text (`HEAD_FIELDS`), or None."""
    row = db.execute(f"select {', '.join(HEAD_FIELDS)} from documents where id = ?", [document_id]).fetchone()
    return dict(zip(HEAD_FIELDS, row)) if row else None


def versions(db: sqlite_utils.Database, document_id: int) -> list[dict]:
    """The document's stored versions, oldest first: version, fetched_at, title, content_hash, chars."""
    rows = db.execute(
        "select version, fetched_at, title, content_hash, length(text) from document_versions "
        "where document_id = ? order by version", [document_id]).fetchall()
    return [dict(zip(("version", "fetched_at", "title", "content_hash", "chars"), r)) for r in rows]


def version_text(db: sqlite_utils.Database, document_id: int, version: int | None = None) -> dict | None:
    """One version (default: the latest) with its text: version, fetched_at, title, text; None if absent."""
    if version is None:
        row = db.execute("select version, fetched_at, title, text from document_versions where document_id = ? "
                         "order by version desc limit 1", [document_id]).fetchone()
    else:
        row = db.execute("select version, fetched_at, title, text from document_versions "
                         "where document_id = ? and version = ?", [document_id, version]).fetchone()
    if row is None and version is None:  # a document stored before versions were kept: its row is version 1
        row = db.execute("select version, fetched_at, title, text from documents where id = ?", [document_id]).fetchone()
    return dict(zip(("version", "fetched_at", "title", "text"), row)) if row else None


def previous_text_version(db: sqlite_utils.Database, document_id: int) -> dict | None:
    """For a bill's text version (``bill_text``), the bill's text version before it (published
    earlier, or the same day and stored earlier, with another version code): its `document_head`; else None."""
    row = db.execute(
        "select p.id from documents d join documents p on p.group_key = d.group_key and p.id != d.id "
        "and p.doc_type = d.doc_type "
        "and coalesce(json_extract(p.metadata, '$.version_code'), '') != coalesce(json_extract(d.metadata, '$.version_code'), '') "
        "and (coalesce(p.published_at, '') < coalesce(d.published_at, '') "
        "     or (coalesce(p.published_at, '') = coalesce(d.published_at, '') and p.id < d.id)) "
        "where d.id = ? and d.doc_type = ? and d.group_key is not null "
        "order by p.published_at desc, p.id desc limit 1", [document_id, BILL_TEXT]).fetchone()
    return document_head(db, row[0]) if row else None


@dataclass(frozen=True)
class Relevance:
    """Which changed documents a subscriber is shown: from ``sources`` (empty: any), and either watched
    (a US Code section), in a followed dossier (``dossiers``: group keys), or referring to one of
    ``topics`` (a ``document_topics`` row with mentions)."""

    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    dossiers: tuple[str, ...] = ()


def _relevant(rel: Relevance, params: list) -> str:
    clauses = [f"d.source in ({', '.join('?' for _ in WATCHED_SOURCES)})"]
    params.extend(WATCHED_SOURCES)
    if rel.dossiers:
        clauses.append(f"d.group_key in ({', '.join('?' for _ in rel.dossiers)})")
        params.extend(rel.dossiers)
    if rel.topics:
        clauses.append("exists (select 1 from document_topics t where t.document_id = d.id and t.mentions > 0 "
                       f"and t.topic in ({', '.join('?' for _ in rel.topics)}))")
        params.extend(rel.topics)
    where = "(" + " or ".join(clauses) + ")"
    if rel.sources:
        where += f" and d.source in ({', '.join('?' for _ in rel.sources)})"
        params.extend(rel.sources)
    return where


def changed_since(db: sqlite_utils.Database, since: str, until: str, rel: Relevance, limit: int = 50) -> list[dict]:
    """What changed in ``(since, until]`` (ISO time stamps, `db.clock`), newest first, at most ``limit``:

    - documents with a version stored in the period: ``kind`` ``version``, ``from_version`` (the
      version before the period's first new one) and ``to_version`` (the latest in the period);
    - new text versions of bills first seen in the period with an earlier text version:
      ``kind`` ``bill_text``, ``previous_id`` (that version's document) and its ``previous_title``.

    Each row also carries the document's `HEAD_FIELDS` and ``changed_at``.
    """
    params: list = [since, until]
    rows = db.execute(
        f"select {', '.join('d.' + f for f in HEAD_FIELDS)}, min(v.version) - 1, max(v.version), max(v.fetched_at) "
        "from document_versions v join documents d on d.id = v.document_id "
        f"where v.fetched_at > ? and v.fetched_at <= ? and v.version > 1 and {_relevant(rel, params)} "
        "group by d.id order by max(v.fetched_at) desc, d.id desc limit ?", [*params, limit]).fetchall()
    changes = [{**dict(zip(HEAD_FIELDS, r)), "kind": "version", "from_version": r[-3], "to_version": r[-2],
                "changed_at": r[-1]} for r in rows]
    params = [since, until, BILL_TEXT]
    rows = db.execute(
        f"select {', '.join('d.' + f for f in HEAD_FIELDS)} from documents d "
        f"where d.first_seen_at > ? and d.first_seen_at <= ? and d.doc_type = ? and d.group_key is not null "
        f"and {_relevant(rel, params)} order by d.first_seen_at desc, d.id desc limit ?", [*params, limit]).fetchall()
    for r in rows:
        head = dict(zip(HEAD_FIELDS, r))
        previous = previous_text_version(db, head["id"])
        if previous is not None:
            changes.append({**head, "kind": "bill_text", "previous_id": previous["id"], "previous_title": previous["title"],
                            "changed_at": head["first_seen_at"]})
    changes.sort(key=lambda c: (c["changed_at"] or "", c["id"]), reverse=True)
    return changes[:limit]


def pair(db: sqlite_utils.Database, document_id: int, from_version: int | None = None, to_version: int | None = None,
         against: int | None = None) -> tuple[dict, dict] | None:
    """The two texts a diff compares (each as `version_text` gives it, plus ``document_id``), or None
    when one is missing: with ``against``, that document's latest version -> this document's latest;
    else version ``from_version`` (default: the one before ``to_version``) -> ``to_version``
    (default: the latest)."""
    if against is not None:
        old, new = version_text(db, against), version_text(db, document_id)
        old_id = against
    else:
        new = version_text(db, document_id, to_version)
        if new is None:
            return None
        old = version_text(db, document_id, new["version"] - 1 if from_version is None else from_version)
        old_id = document_id
    if old is None or new is None:
        return None
    return {**old, "document_id": old_id}, {**new, "document_id": document_id}
