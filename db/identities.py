"""One document, many sources: identity keys, identity groups and their representative.

A source states which upstream document a record *is* as ``scheme:identifier`` keys
(``fr:2025-03134``, ``bill-version:118-hr-1724-ih``, ``celex:32024R1689``, ``ep:A-9-2024-0163``,
``url:<canonical URL>``...; see `crawler.records`). Every key of a stored document is a row of
``document_identities`` (key, document_id). Documents that share a key are copies of one upstream
document, transitively (A and B share ``fr:...``, B and C share ``govinfo:...``: A, B and C are one
group). Each group has one **representative**, stored as ``documents.canonical_id`` on every
member (a document without copies is its own representative), and its copies are linked pairwise in
``document_links`` with relation ``same_as`` (target: the copy's source and source id), so a page can
say "also at ...".

The representative is the richest copy, by `richness`:

1. a full text before a snippet (a news article stored as its feed's snippet, ``metadata.extraction
   = "snippet"``);
2. then the longer text (characters after folding white space, so hard wrapping does not count);
3. then the declared source order `SOURCE_ORDER`: the publisher's own API before an aggregator's
   copy (federal-register before GovInfo's FR granule, congress-gov before GovInfo BILLS), an
   outlet's feed before GDELT; sources not listed come after, by name;
4. then the older document (lower id).

It is recomputed whenever a copy arrives, a key is added or a copy's text changes, in the same
transaction as the document write (`attach`).

Mentions are counted once per group: a mention on one copy *repeats* a mention on another copy of
the same group with the same entity and the same sentence (white space ignored) that precedes it: seen
earlier (``first_seen_at``), or at the same instant on the older copy (lower id). Both are fixed once
a mention exists (re-annotation keeps ``first_seen_at``), so which mention counts never changes when
the representative does. The ``mention_repeats`` view lists the repeats (`MENTION_REPEATS_SQL`);
counts, stance tallies and the digest skip them (`NOT_A_REPEAT`), so a sentence found in two copies
counts once and is never "new" again, whichever copy arrives or takes over later.

Databases written before migration ``0009_document_identities`` did not keep the keys: `migrate`
derives them from the stored columns (`backfill_keys`, the same keys the sources state, checked
against every recorded example), then groups every document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import sqlite_utils

from db.transaction import transaction

# Preferred source of a group's representative when texts are equally rich: primary publishers first.
SOURCE_ORDER = ("federal-register", "congress-gov", "eurlex", "ep-open-data", "ep-oeil", "ec-press", "uscode",
                "govinfo", "news-rss", "gdelt")
MEMBER_FIELDS = ("id", "source", "text", "metadata")


def richness(row: dict) -> tuple:
    """Sort key of a group member (``id``, ``source``, ``text``, ``metadata`` JSON): smallest = representative."""
    metadata = json.loads(row["metadata"]) if isinstance(row.get("metadata"), str) and row["metadata"] else row.get("metadata") or {}
    snippet = isinstance(metadata, dict) and metadata.get("extraction") == "snippet"
    length = len(" ".join((row.get("text") or "").split()))
    source = row.get("source") or ""
    order = SOURCE_ORDER.index(source) if source in SOURCE_ORDER else len(SOURCE_ORDER)
    return (snippet, -length, order, source, row["id"])


def representative(members: Iterable[dict]) -> int:
    """The id of the richest member (`richness`)."""
    return min(members, key=richness)["id"]


def attach(db: sqlite_utils.Database, document_id: int, keys: Iterable[str], changed: bool) -> int:
    """Record a document's identity keys and, when a key is new or ``changed`` (new document, new
    text), regroup its identity group: representative and ``same_as`` links. Runs inside the
    caller's transaction; returns the document's canonical id."""
    added = 0
    for key in dict.fromkeys(k for k in keys if k):
        added += db.conn.execute("insert or ignore into document_identities (key, document_id) values (?, ?)",
                                 [key, document_id]).rowcount
    if added or changed:
        return regroup(db, document_id)
    return db.execute("select canonical_id from documents where id = ?", [document_id]).fetchone()[0] or document_id


def group_of(db: sqlite_utils.Database, document_id: int) -> list[int]:
    """Ids of the documents sharing a key with this one, transitively (the document included)."""
    rows = db.execute(
        "with recursive grp(id) as (select ? union "
        "select b.document_id from grp join document_identities a on a.document_id = grp.id "
        "join document_identities b on b.key = a.key) select id from grp order by id",
        [document_id],
    ).fetchall()
    return [r[0] for r in rows]


def regroup(db: sqlite_utils.Database, document_id: int) -> int:
    """Choose the representative of the document's group, store it on every member and link the
    copies pairwise (``same_as``); returns the representative's id."""
    ids = group_of(db, document_id)
    marks = ", ".join("?" for _ in ids)
    rows = db.execute(f"select {', '.join(MEMBER_FIELDS)}, source_id, canonical_id from documents where id in ({marks})",
                      ids).fetchall()
    members = [dict(zip((*MEMBER_FIELDS, "source_id", "canonical_id"), r)) for r in rows]
    chosen = representative(members)
    stale = [m["id"] for m in members if m["canonical_id"] != chosen]
    if stale:
        db.conn.execute(f"update documents set canonical_id = ? where id in ({', '.join('?' for _ in stale)})",
                        [chosen, *stale])
    for a in members:
        for b in members:
            if a["id"] != b["id"]:
                db.conn.execute("insert or ignore into document_links (document_id, relation, target_source, "
                                "target_source_id) values (?, 'same_as', ?, ?)", [a["id"], b["source"], b["source_id"]])
    return chosen


_FR_NUMBER = re.compile(r"^(?:19|20)\d{2}-\d{4,6}$")
_BILLS = re.compile(r"^BILLS-(\d+)(hconres|hjres|hres|hr|sconres|sjres|sres|s)(\d+)([a-z0-9]+)$")


def backfill_keys(source: str, source_id: str, doc_type: str | None, metadata: dict) -> list[str]:
    """The identity keys of a document stored before the sources stated them, from its stored
    columns: the keys its source states today (tests compare them with every recorded example)."""
    keys: list[str] = []
    if source == "federal-register":
        keys.append(f"fr:{source_id}")
    elif source == "govinfo":
        keys.append(f"govinfo:{source_id}")
        number = str(metadata.get("frDocNumber") or metadata.get("granuleId") or "")
        if doc_type == "federal_register" and _FR_NUMBER.match(number):
            keys.append(f"fr:{number}")
        bill = _BILLS.match(str(metadata.get("packageId") or source_id))
        if bill:
            keys.append(f"bill-version:{int(bill[1])}-{bill[2]}-{int(bill[3])}-{bill[4]}")
    elif source == "congress-gov" and doc_type == "bill_text":
        keys.append("bill-version:" + source_id.replace("/", "-"))
    elif source == "eurlex":
        keys.append(f"celex:{source_id}")
    elif source == "ep-oeil" or (source == "ep-open-data" and doc_type == "procedure"):
        keys.append(f"ep-procedure:{source_id}")
    elif source == "ep-open-data":
        keys.append(f"ep:{source_id}")
    elif source == "ec-press":
        keys.append(f"ec-press:{source_id}")
    elif source == "uscode" and metadata.get("usc_title") and metadata.get("section"):
        keys.append(f"usc:{metadata['usc_title']}-{metadata['section']}")
    elif doc_type == "news_article":
        keys += [f"url:{url}" for url in [source_id, *(metadata.get("aliases") or [])]]
    return [k for k in keys if k.split(":", 1)[1] and not any(ch.isspace() for ch in k)]


def migrate(db: sqlite_utils.Database) -> None:
    """Migration ``0009_document_identities``: ``document_identities``, ``documents.canonical_id``
    (indexed; a partial index over the copies that are not their group's representative), keys
    backfilled from the stored columns, every document grouped. Re-runnable."""
    db["document_identities"].create({"key": str, "document_id": int}, pk=("key", "document_id"),
                                     foreign_keys=[("document_id", "documents", "id")], if_not_exists=True)
    db["document_identities"].create_index(["document_id"], if_not_exists=True)
    if "canonical_id" not in db["documents"].columns_dict:
        db["documents"].add_column("canonical_id", int)
    db["documents"].create_index(["canonical_id"], if_not_exists=True)
    db.execute("create index if not exists idx_documents_copies on documents (canonical_id) where canonical_id != id")
    with transaction(db):
        rows = db.execute("select id, source, source_id, doc_type, metadata from documents order by id").fetchall()
        for doc_id, source, source_id, doc_type, metadata in rows:
            meta = json.loads(metadata) if metadata else {}
            attach(db, doc_id, backfill_keys(source, source_id, doc_type, meta if isinstance(meta, dict) else {}),
                   changed=True)


def normalised(column: str) -> str:
    """SQL of ``column`` without spaces, line breaks, tabs and no-break spaces: sentences of two copies
    compare equal whatever their wrapping (cheaper than folding runs of white space)."""
    sql = column
    for code in (32, 10, 13, 9, 160):
        sql = f"replace({sql}, char({code}), '')"
    return sql


# Mentions that repeat an earlier (or preferred) mention of another copy of the same document. Only
# groups with a copy (the partial index idx_documents_copies) are examined; cross joins keep that order
# (else the planner may walk every mention).
MENTION_REPEATS_SQL = f"""
        with groups as (select distinct canonical_id as id from documents where canonical_id != id),
        said as materialized (
            select m.rowid as mention_rowid, m.id as mention_id, m.document_id, d.canonical_id, m.entity_id,
                   m.first_seen_at, {normalised('m.sentence')} as sentence
            from groups g cross join documents d on d.canonical_id = g.id cross join mentions m on m.document_id = d.id)
        select a.mention_rowid, a.mention_id, a.document_id, min(b.mention_id) as repeat_of
        from said a join said b on b.canonical_id = a.canonical_id and b.entity_id = a.entity_id
                               and b.sentence = a.sentence and b.document_id != a.document_id
        where b.first_seen_at < a.first_seen_at or (b.first_seen_at = a.first_seen_at and b.document_id < a.document_id)
        group by a.mention_rowid"""

# Condition on mentions ``m``: not a repeat (counted once per identity group).
NOT_A_REPEAT = "m.rowid not in (select mention_rowid from mention_repeats)"

# Condition on documents ``d``: the representative of its group (a document without copies included);
# reads only the partial index idx_documents_copies, never the row.
REPRESENTATIVE = "d.id not in (select id from documents where canonical_id != id)"

# The other copies of document ``?`` ("also at ..."), for a document's page.
ALSO_AT_SQL = """
    select c.id, c.source, c.source_id, c.url, c.title, c.id = c.canonical_id as representative
    from document_links l join documents c on c.source = l.target_source and c.source_id = l.target_source_id
    where l.document_id = ? and l.relation = 'same_as' order by representative desc, c.id"""
