"""Storage: idempotent schema, upserts on natural keys, versions, FTS kept in sync, stable mention ids, the one
"pending NLP" rule, one transaction per news article, stamps from the product clock."""

from __future__ import annotations

import pytest

from db import annotations, clock, documents, dossiers, runs, search, stories
from db.schema import MIGRATIONS, applied_migrations, connect, ensure_schema


@pytest.fixture
def db(tmp_path):
    database = connect(tmp_path / "t.db")
    ensure_schema(database)
    runs.register_sources(database, [{"id": "federal-register", "title": "FR", "jurisdiction": "US", "kind": "api",
                                        "base_url": "http://x", "enabled": 1, "interval": "1d"}])
    return database


def doc(**overrides) -> dict:
    row = {
        "source": "federal-register", "source_id": "2025-1", "url": "https://example.gov/1", "title": "Port notice",
        "doc_type": "notice", "jurisdiction": "US", "institution": "MARAD", "language": "en", "published_at": "2025-01-02",
        "updated_at": None, "fetched_at": "2025-01-03T00:00:00+00:00", "text": "LOGINK is a logistics platform.",
        "parser_version": "1", "metadata": {"citation": "90 FR 1"}, "links": [],
    }
    row.update(overrides)
    from crawler.records import content_hash

    row["content_hash"] = content_hash(row["title"], row["text"])
    return row


def test_schema_is_idempotent_and_recorded(tmp_path):
    database = connect(tmp_path / "x.db")
    assert ensure_schema(database) == [name for name, _ in MIGRATIONS]
    assert ensure_schema(database) == []
    assert applied_migrations(database) == [name for name, _ in MIGRATIONS]
    assert database.journal_mode == "wal"
    assert {"documents", "document_versions", "entities", "mentions", "document_topics", "digests", "digest_items",
            "crawl_runs", "sources", "dossiers", "events"} <= set(database.table_names())


def test_upsert_new_unchanged_updated(db):
    assert documents.upsert_document(db, doc())[0] == "new"
    changes = db.conn.total_changes
    assert documents.upsert_document(db, doc(fetched_at="2025-02-01T00:00:00+00:00"))[0] == "unchanged"
    assert db.conn.total_changes == changes  # an unchanged document writes nothing
    outcome, doc_id = documents.upsert_document(db, doc(text="LOGINK is a state logistics platform."))
    assert outcome == "updated"
    row = db["documents"].get(doc_id)
    assert row["version"] == 2 and "state" in row["text"]
    versions = [v["text"] for v in db["document_versions"].rows_where("document_id = ?", [doc_id], order_by="version")]
    assert versions == ["LOGINK is a logistics platform.", "LOGINK is a state logistics platform."]


def test_empty_text_is_refused(db):
    documents.upsert_document(db, doc())
    with pytest.raises(ValueError, match="empty document"):
        documents.upsert_document(db, doc(text="   "))
    assert db["documents"].get(1)["text"] == "LOGINK is a logistics platform."


def test_fts_stays_in_sync(db):
    for i in range(5):
        documents.upsert_document(db, doc(source_id=f"d{i}", text=f"LOGINK notice number {i}"))
    for i in range(5):
        documents.upsert_document(db, doc(source_id=f"d{i}", text=f"Revised port notice number {i}"))
    assert db["documents_fts"].count == db["documents"].count == 5
    assert search.search(db, "LOGINK") == []
    assert len(search.search(db, "revised")) == 5


def test_search_escapes_fts_syntax(db):
    documents.upsert_document(db, doc())
    assert len(search.search(db, 'LOGINK OR (')) == 1  # stray brackets and quotes are not FTS syntax errors
    assert search.search(db, 'LOGINK" OR (') == []  # an unclosed quote runs to the end: the phrase "OR (" (front end's parser)
    assert len(search.search(db, 'platform "LOGINK')) == 1
    with pytest.raises(search.QueryError, match="AND, OR and NOT go between words"):
        search.search(db, "AND")
    assert len(search.search(db, "logi*")) == 1 and search.search(db, "logi") == []
    assert len(search.search(db, '"logistics platform"')) == 1


def test_dossier_events_upsert(db):
    dossier = {"key": "us-bill:118-hr-1724", "source": "congress-gov", "kind": "bill", "title": "Securing Maritime Data",
               "url": "https://congress.gov/x", "fetched_at": "t", "events": [
                   {"date": "2023-03-23", "kind": "IntroReferral", "description": "Introduced in House"}]}
    assert dossiers.save_dossier(db, dossier) == "new"
    assert dossiers.save_dossier(db, dossier) == "unchanged"
    dossier["events"].append({"date": "2023-04-01", "kind": "Committee", "description": "Referred to subcommittee"})
    assert dossiers.save_dossier(db, dossier) == "updated"
    row = db["dossiers"].get("us-bill:118-hr-1724")
    assert row["latest_event"] == "Referred to subcommittee" and db["events"].count == 2
    assert [r["description"] for r in db.query("select * from bill_actions")] == ["Introduced in House", "Referred to subcommittee"]
    assert row["first_seen_at"] == clock.now_iso()  # the product clock, not SQLite's (a trigger used to stamp it)


def test_mention_ids_are_stable_across_reannotation(db):
    _, doc_id = documents.upsert_document(db, doc())
    annotation = {"lang": "en", "mentions": [{"entity": "platform:logink", "text": "LOGINK", "start": 0, "end": 6,
                                               "sentence": "LOGINK is a logistics platform.", "topic": "logink"}],
                  "topics": [{"topic": "logink", "stance": None, "score": None, "mentions": 1}]}
    db["entities"].insert({"id": "platform:logink", "name": "LOGINK", "type": "PLATFORM"})
    first = annotations.replace_annotations(db, doc_id, annotation, "h", "v1", 1)
    ids = [m["id"] for m in db["mentions"].rows]
    seen = [m["first_seen_at"] for m in db["mentions"].rows]
    second = annotations.replace_annotations(db, doc_id, annotation, "h", "v2", 1)
    assert first["new_mentions"] == 1 and second["new_mentions"] == 0
    assert [m["id"] for m in db["mentions"].rows] == ids and [m["first_seen_at"] for m in db["mentions"].rows] == seen
    assert db["documents"].get(doc_id)["nlp_version"] == "v2"


def test_pending_annotation_is_one_rule(db):
    _, doc_id = documents.upsert_document(db, doc())
    assert [d["id"] for d in annotations.pending_annotation(db, "v1")] == [doc_id]  # never annotated
    annotations.replace_annotations(db, doc_id, {"mentions": [], "topics": []}, doc()["content_hash"], "v1", 1)
    assert not annotations.has_pending_annotation(db, "v1") and list(annotations.pending_annotation(db, "v1")) == []
    assert annotations.has_pending_annotation(db, "v2")  # a model upgrade makes it pending again
    assert [d["id"] for d in annotations.pending_annotation(db, "v2")] == [doc_id]
    documents.upsert_document(db, doc(text="LOGINK, revised."))
    assert annotations.has_pending_annotation(db, "v1")  # and so does a content change


def test_an_article_is_stored_in_one_transaction(db):
    """Document, signature, story and remembered URLs commit together: a failure while grouping leaves nothing."""
    article = doc(source_id="https://news.example.org/a", doc_type="news_article")
    signature = {"text_hash": "t1", "minhash": b"", "simhash": "0", "names": "[]", "numbers": "[]", "title_words": "[]"}

    def failing(candidates):
        raise RuntimeError("grouping failed")

    with pytest.raises(RuntimeError):
        stories.store_article(db, article, signature, "2025-01-02", [article["source_id"]], failing, 7)
    assert db["documents"].count == 0 and db["seen_urls"].count == 0 and db["stories"].count == 0
    assert stories.store_article(db, article, signature, "2025-01-02", [article["source_id"]], lambda c: None, 7) == "new"
    stored = db["documents"].get(1)
    assert stored["story_id"] == 1 and db["stories"].get(1)["documents"] == 1
    assert runs.seen_url(db, article["source_id"])
    copy = doc(source_id="https://other.example.org/b", doc_type="news_article", institution="Other")
    assert stories.store_article(db, copy, signature, "2025-01-02", [copy["source_id"]], failing, 7) == "unchanged"
    assert db["documents"].count == 1 and "other.example.org/b" in db["stories"].get(1)["copies"]
