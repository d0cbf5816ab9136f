"""The reads behind the Atom feeds of everything one can follow (`tracker.plugins.feeds`): a topic,
an entity, a dossier, a saved search. Newest first, at most ``limit`` rows each; plain values.

- a topic: its classified mentions (an entity of the topic with a stance), by first sighting;
- an entity: all its mentions, by first sighting;
- a dossier: its events (by date) and the documents of its group (text versions, procedure
  documents: ``documents.group_key``), by first sighting;
- a search: the documents matching an FTS5 expression (`db.frontend.fts_query` makes one from the
  analyst's text), by first sighting.
"""

from __future__ import annotations

import sqlite_utils

from db.identities import NOT_A_REPEAT, REPRESENTATIVE

MENTION_FIELDS = ("id", "first_seen_at", "topic", "entity_id", "entity", "stance", "stance_score", "sentence", "text",
                  "start", "end", "document_id", "title", "url", "source", "published_at")
DOCUMENT_FIELDS = ("id", "first_seen_at", "title", "url", "source", "doc_type", "jurisdiction", "published_at", "stance",
                   "version", "snippet")
EVENT_FIELDS = ("id", "date", "kind", "description", "actor", "ref_url", "source")
STANCES = ("critical", "neutral", "supportive")

_MENTIONS = """
    select m.id, m.first_seen_at, m.topic, m.entity_id, e.name, m.stance, m.stance_score, m.sentence, m.text,
           m.start, m."end", d.id, d.title, d.url, d.source, d.published_at
    from mentions m join documents d on d.id = m.document_id left join entities e on e.id = m.entity_id
    where {where} and %s order by m.first_seen_at desc, m.id desc limit ?""" % NOT_A_REPEAT
_DOCUMENTS = """
    select d.id, d.first_seen_at, d.title, d.url, d.source, d.doc_type, d.jurisdiction, d.published_at, d.stance,
           d.version, substr(d.text, 1, 400)
    from documents d where {where} and %s order by d.first_seen_at desc, d.id desc limit ?""" % REPRESENTATIVE


def _rows(db: sqlite_utils.Database, sql: str, params: list, fields: tuple[str, ...]) -> list[dict]:
    return [dict(zip(fields, r)) for r in db.execute(sql, params).fetchall()]


def topic_exists(db: sqlite_utils.Database, topic: str) -> bool:
    return db.execute("select 1 from mentions where topic = ? limit 1", [topic]).fetchone() is not None


def topics(db: sqlite_utils.Database) -> list[str]:
    """The topics that have mentions (for the home page's feed links)."""
    return [r[0] for r in db.execute("select distinct topic from mentions where topic is not null order by topic").fetchall()]


def topic_mentions(db: sqlite_utils.Database, topic: str, limit: int = 50) -> list[dict]:
    placeholders = ", ".join("?" for _ in STANCES)
    return _rows(db, _MENTIONS.format(where=f"m.topic = ? and m.stance in ({placeholders})"), [topic, *STANCES, limit],
                 MENTION_FIELDS)


def entity(db: sqlite_utils.Database, entity_id: str) -> dict | None:
    """The entity (id, name, type) by its id or else its name (case-insensitive), or None; an id
    without a gazetteer row but with mentions is named by its id."""
    row = db.execute("select id, name, type from entities where id = ? or name = ? collate nocase order by id = ? desc limit 1",
                     [entity_id, entity_id, entity_id]).fetchone()
    if row:
        return dict(zip(("id", "name", "type"), row))
    if db.execute("select 1 from mentions where entity_id = ? limit 1", [entity_id]).fetchone():
        return {"id": entity_id, "name": entity_id, "type": None}
    return None


def entity_mentions(db: sqlite_utils.Database, entity_id: str, limit: int = 50) -> list[dict]:
    return _rows(db, _MENTIONS.format(where="m.entity_id = ?"), [entity_id, limit], MENTION_FIELDS)


def dossier(db: sqlite_utils.Database, key: str) -> dict | None:
    row = db.execute("select key, kind, title, url, stage, status, latest_event_date from dossiers where key = ?", [key]).fetchone()
    return dict(zip(("key", "kind", "title", "url", "stage", "status", "latest_event_date"), row)) if row else None


def dossier_events(db: sqlite_utils.Database, key: str, limit: int = 50) -> list[dict]:
    return _rows(db, "select id, date, kind, description, actor, ref_url, source from events where dossier_key = ? "
                     "order by date desc, id desc limit ?", [key, limit], EVENT_FIELDS)


def dossier_documents(db: sqlite_utils.Database, key: str, limit: int = 50) -> list[dict]:
    return _rows(db, _DOCUMENTS.format(where="d.group_key = ?"), [key, limit], DOCUMENT_FIELDS)


def search_documents(db: sqlite_utils.Database, match: str, limit: int = 50) -> list[dict]:
    """Documents matching the FTS5 expression ``match``, newest first."""
    return _rows(db, _DOCUMENTS.format(where="d.id in (select rowid from documents_fts where documents_fts match ?)"),
                 [match, limit], DOCUMENT_FIELDS)
