"""One document, many sources (db.identities), end to end: a Federal Register notice reached through
federal-register and GovInfo's FR collection, a bill text version through congress-gov and GovInfo
BILLS, and a news article through a feed and GDELT are each crawled over real HTTP from the recorded
upstream responses, annotated by the real NLP, and then are one document: linked as the same, one
row in `tracker search`, listed once in the digest (real SMTP on loopback), counted once in the views.
"""

from __future__ import annotations

import json

import pytest

from db import identities
from db.schema import ensure_schema
from tests import test_congress_gov as congress
from tests import test_federal_register as fr
from tests import test_gdelt as gdelt
from tests import test_govinfo as govinfo
from tests import test_news_rss as news
from tests.test_digest import make_config, now_after_seed

TOPIC = '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK", "covered logistics platform"]'


def crawl(env, *sources: str) -> None:
    result = env.run("crawl", *sources)
    assert result.exit_code == 0, result.output


def copies(db, key: str) -> list[dict]:
    """The stored documents holding an identity key, oldest first."""
    rows = db.execute("select d.id, d.source, d.source_id, d.canonical_id, d.text, d.metadata from documents d "
                      "join document_identities i on i.document_id = d.id where i.key = ? order by d.id", [key]).fetchall()
    return [dict(zip(("id", "source", "source_id", "canonical_id", "text", "metadata"), r)) for r in rows]


def linked(db, a: dict, b: dict) -> bool:
    return db.execute("select 1 from document_links where document_id = ? and relation = 'same_as' and target_source = ? "
                      "and target_source_id = ?", [a["id"], b["source"], b["source_id"]]).fetchone() is not None


def search_ids(env, query: str) -> list[int]:
    result = env.run("search", query, "--json")
    assert result.exit_code == 0, result.output
    return [r["id"] for r in json.loads(result.output)]


def sentences(db, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(entity, sentence with white space folded) of each document's mentions."""
    found: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    for doc_id, entity, sentence in db.execute(
            f"select document_id, entity_id, sentence from mentions where document_id in ({', '.join('?' * len(ids))})",
            ids).fetchall():
        found[doc_id].append((entity, " ".join(sentence.split())))
    return found


def view_total(db, view: str, ids: list[int]) -> int:
    """Mentions a view (stance_by_source_month, mentions_by_week) counts for the sources of these documents."""
    return db.execute(f"select coalesce(sum(mentions), 0) from {view} where source in "
                      f"(select source from documents where id in ({', '.join('?' * len(ids))}))", ids).fetchone()[0]


def counted_once(db, ids: list[int]) -> int:
    """Mentions of the sources of these documents counted once per upstream document, computed here
    from the rule (everything annotated at one instant): each group's first-stored copy's mentions,
    and the other copies' mentions whose (entity, sentence) that copy lacks."""
    rows = db.execute(f"select d.id, d.canonical_id from documents d where d.source in "
                      f"(select source from documents where id in ({', '.join('?' * len(ids))}))", ids).fetchall()
    by_doc = sentences(db, [doc_id for doc_id, _ in rows])
    groups: dict[int, list[int]] = {}
    for doc_id, canonical in rows:
        groups.setdefault(canonical, []).append(doc_id)
    total = 0
    for members in groups.values():
        own = by_doc[min(members)]
        total += len(own) + sum(1 for m in members if m != min(members) for s in by_doc[m] if s not in own)
    return total


def digest(env, smtp, monkeypatch) -> tuple[str, str]:
    """Send the analyst's LOGINK digest over SMTP on loopback: (subject, plain text with white space folded)."""
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    make_config(env, smtp.port, subscribers='[[digest.subscribers]]\nemail = "analyst@example.org"\ntopics = ["logink"]\n')
    sent = len(smtp.messages)
    result = env.run("digest", "send", "--now", now_after_seed().isoformat())
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == sent + 1
    message = smtp.messages[-1]
    return message["Subject"], " ".join(message.get_body(("plain",)).get_content().split())


def assert_one_document(env, smtp, monkeypatch, key: str, query: str, representative_source: str) -> None:
    """The checks shared by every case: grouping and links, search, views, digest."""
    db = env.db()
    found = copies(db, key)
    assert len(found) == 2 and found[0]["source"] != found[1]["source"], found
    rep = next(d for d in found if d["source"] == representative_source)
    assert {d["canonical_id"] for d in found} == {rep["id"]}
    other = next(d for d in found if d is not rep)
    assert linked(db, rep, other) and linked(db, other, rep)
    assert [r[0] for r in db.execute(identities.ALSO_AT_SQL, [rep["id"]])] == [other["id"]]  # "also at ..."
    assert [r[0] for r in db.execute(identities.ALSO_AT_SQL, [other["id"]])] == [rep["id"]]
    # search: one row, the representative
    hits = search_ids(env, query)
    assert rep["id"] in hits and other["id"] not in hits
    # the mentions of both copies: a sentence found in both counts once
    by_doc = sentences(db, [rep["id"], other["id"]])
    shared = set(by_doc[rep["id"]]) & set(by_doc[other["id"]])
    assert shared, "both copies mention the subject in the same sentence"
    # annotated in the same run (one instant): the first-stored copy's mentions count (here the
    # representative's), the other copy's only where new
    assert rep["id"] < other["id"]
    once = len(by_doc[rep["id"]]) + sum(1 for m in by_doc[other["id"]] if m not in shared)
    repeats = len(by_doc[other["id"]]) - (once - len(by_doc[rep["id"]]))
    assert repeats > 0
    ids = [rep["id"], other["id"]]
    assert db.execute("select count(*) from canonical_mentions where document_id in (?, ?)", ids).fetchone()[0] == once
    assert db.execute("select count(*) from canonical_mentions where document_id = ?", [other["id"]]).fetchone()[0] == once - len(by_doc[rep["id"]])
    assert view_total(db, "stance_by_source_month", ids) == view_total(db, "mentions_by_week", ids) == counted_once(db, ids)
    assert db.execute("select count(*) from canonical_documents where id in (?, ?)", ids).fetchone()[0] == 1
    # co-occurrence: a pair of entities found in both copies is one document, not two
    both = {e for e, _ in by_doc[rep["id"]]} & {e for e, _ in by_doc[other["id"]]}
    for a, b in ((a, b) for a in both for b in both if a != b):
        docs, groups = db.execute(
            "select count(*), count(distinct d.canonical_id) from documents d where d.id in (select document_id "
            "from mentions where entity_id in (?, ?) group by document_id having count(distinct entity_id) = 2)",
            [a, b]).fetchone()
        assert db.execute("select documents from entity_cooccurrence where entity = ? and co_entity = ?",
                          [a, b]).fetchone()[0] == groups < docs
    # the digest: as many mentions as counted once, each shared sentence listed once
    subject, text = digest(env, smtp, monkeypatch)
    raw, once_total = (db.execute(f"select count(*) from {table} where topic = 'logink'").fetchone()[0]
                       for table in ("mentions", "canonical_mentions"))
    assert once_total < raw and subject.startswith(f"LOGINK: {once_total} new mentions"), subject
    rep_url, other_url = (db.execute("select url from documents where id = ?", [d["id"]]).fetchone()[0] for d in (rep, other))
    assert text.count(rep_url + " ") == 1 and other_url + " " not in text  # the document once, its copy not again


def test_federal_register_notice_through_two_sources_is_one_document(env, replay, smtp, monkeypatch):
    fr.serve_fr(replay)
    govinfo.serve_govinfo(replay)
    env.configure({"federal-register": {"base_url": replay.url("/api/v1")}, "govinfo": {"base_url": replay.url()}}, extra=TOPIC)
    crawl(env, "federal-register", "govinfo")
    assert_one_document(env, smtp, monkeypatch, "fr:2025-03134", '"Proposed Action"', "federal-register")


def test_bill_text_version_through_congress_gov_and_govinfo_is_one_document(env, replay, smtp, monkeypatch):
    congress.serve_all(replay)
    govinfo.serve_govinfo(replay)
    env.configure({"congress-gov": {"base_url": replay.url("/v3"), "bills": list(congress.BILLS)},
                   "govinfo": {"base_url": replay.url()}}, extra=TOPIC)
    crawl(env, "congress-gov", "govinfo")
    assert_one_document(env, smtp, monkeypatch, "bill-version:118-hr-1724-ih", '"Securing Maritime Data"', "congress-gov")


UPDATE = ("<p>Update, 6 March: the Commission said ports that joined LOGINK pilots will be asked to report "
          "which data they shared.</p></article>")


def test_news_article_through_a_feed_and_gdelt_is_one_document_and_never_new_again(env, replay, smtp, monkeypatch):
    """The feed's article is stored and sent; the page is then updated and GDELT's full crawl stores
    the longer text as its own copy: the copies are one document, the longer one represents it, and
    the next digest lists only the sentence the update added."""
    from db import clock

    gdelt.serve_gdelt(replay)
    news.serve_news(replay)
    env.configure({"gdelt": {"base_url": replay.url("/api/v2"), "query_interval_s": 0},
                   "news-rss": {"feeds": [replay.url("/hl/feed/")]}}, extra=gdelt.TOPICS)
    crawl(env, "news-rss")
    subject, first = digest(env, smtp, monkeypatch)
    page = "/hl/news/2026/03/commission-opens-port-data-consultation/"
    html = (news.NR / "files" / "commission-opens-port-data-consultation.html").read_text("utf-8")
    replay.add(page, news.rewrite(replay, html.replace("</article>", UPDATE)), content_type="text/html; charset=utf-8")
    clock.set_clock(clock.now() + __import__("datetime").timedelta(hours=1))
    env.configure({"gdelt": {"base_url": replay.url("/api/v2"), "query_interval_s": 0},
                   "news-rss": {"feeds": [replay.url("/hl/feed/")]}}, extra=gdelt.TOPICS)
    crawl(env, "gdelt", "--full")
    db = env.db()
    key = "url:" + replay.url(page).rstrip("/")
    found = copies(db, key)
    assert [d["source"] for d in found] == ["news-rss", "gdelt"] and "Update, 6 March" in found[1]["text"]
    rep, other = found[1], found[0]  # the longer text
    assert {d["canonical_id"] for d in found} == {rep["id"]} and linked(db, rep, other) and linked(db, other, rep)
    assert search_ids(env, '"public consultation"').count(rep["id"]) == 1 and other["id"] not in search_ids(env, '"public consultation"')
    # counted once: the feed copy's mentions (seen first) count, the GDELT copy's only for the new sentence
    by_doc = sentences(db, [rep["id"], other["id"]])
    added = [m for m in by_doc[rep["id"]] if m not in by_doc[other["id"]]]
    assert added and all(sentence.startswith("Update, 6 March") for _, sentence in added)
    ids = [rep["id"], other["id"]]
    assert db.execute("select count(*) from canonical_mentions where document_id = ?", [rep["id"]]).fetchone()[0] == len(added)
    assert db.execute("select count(*) from canonical_mentions where document_id in (?, ?)", ids).fetchone()[0] == \
        len(by_doc[other["id"]]) + len(added)
    assert db.execute("select count(*) from canonical_documents where id in (?, ?)", ids).fetchone()[0] == 1
    # the second digest: only the added sentence is new
    subject, second = digest(env, smtp, monkeypatch)
    new_once, new_raw = (db.execute(f"select count(*) from {table} where topic = 'logink' and first_seen_at = ?",
                                    [clock.now_iso()]).fetchone()[0] for table in ("canonical_mentions", "mentions"))
    assert new_once < new_raw and subject.startswith(f"LOGINK: {new_once} new mention"), subject
    assert "report which data they shared" in second
    assert "Congress already barred the Pentagon" in first and "Congress already barred the Pentagon" not in second


def _documents_of_examples():
    from tests.test_examples import _cases, load_example

    for param in _cases():
        source_id, path = param.values
        for record in load_example(source_id, path):
            if type(record).__name__ == "DocumentRecord":
                yield pytest.param(record, id=f"{source_id}-{path.name}-{record.source_id}")


@pytest.mark.parametrize("record", list(_documents_of_examples()))
def test_backfill_derives_the_keys_every_source_states(record):
    """The migration's keys for databases written before the sources stated them are the keys the
    sources state today, for every recorded example."""
    assert identities.backfill_keys(record.source, record.source_id, record.doc_type, record.metadata) == record.same_as


def _row(record, **changes) -> dict:
    import dataclasses

    row = {**dataclasses.asdict(record), "content_hash": record.content_hash, **changes}
    return row


def test_migration_groups_a_database_written_before_identities(tmp_path):
    """A database migrated up to 0008 holds the notice from federal-register and GovInfo without any
    identity: migrating it links them as one document represented by the federal-register copy."""
    from db.schema import MIGRATIONS, connect
    from db.transaction import to_json
    from tests.test_examples import load_example
    from tests.replay import FIXTURES

    db = connect(tmp_path / "old.db")
    ensure_schema(db)  # the schema of today, then undone to what 0008 left
    for view in db.view_names():
        db.execute(f"drop view [{view}]")
    db.execute("drop table document_identities")
    db.execute("drop index idx_documents_copies")
    db.execute("drop index idx_documents_canonical_id")
    db.execute("drop index idx_documents_search_facets")  # 0012's, which covers canonical_id
    db.execute("drop index idx_documents_counts")  # 0013's, likewise
    db.execute("alter table documents drop column canonical_id")
    db.execute("delete from _migrations where name in ('0009_document_identities', '0012_frontend_facet_index', "
               "'0013_count_indexes')")
    db.execute("pragma user_version = 8")
    records = [*load_example("federal-register", FIXTURES / "federal-register" / "examples" / "documents_page1.json"),
               *load_example("govinfo", FIXTURES / "govinfo" / "examples" / "search_page2.json")]
    db["sources"].insert_all([{"id": s, "title": s} for s in {r.source for r in records}], pk="id")
    for r in records:
        row = _row(r)
        db.execute("insert or ignore into documents (source, source_id, url, title, doc_type, text, content_hash, "
                   "metadata, version) values (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                   [r.source, r.source_id, r.url, r.title, r.doc_type, r.text, row["content_hash"], to_json(r.metadata)])
    assert "0009_document_identities" in ensure_schema(db)
    found = copies(db, "fr:2025-03134")
    assert [d["source"] for d in found] == ["federal-register", "govinfo"]
    assert {d["canonical_id"] for d in found} == {found[0]["id"]} and linked(db, found[1], found[0])
    singles = db.execute("select count(*) from documents where canonical_id = id").fetchone()[0]
    assert singles == db["documents"].count - 1
    assert ensure_schema(db) == [] and copies(db, "fr:2025-03134") == found  # idempotent
    assert "0009_document_identities" in dict(MIGRATIONS)


def _doc(source: str, source_id: str, text: str, keys: list[str], **extra) -> dict:
    from crawler.records import content_hash

    return {"source": source, "source_id": source_id, "url": f"https://example.org/{source}/{source_id}", "title": "T",
            "text": text, "doc_type": "notice", "fetched_at": "2026-11-26T09:30:00+00:00",
            "content_hash": content_hash("T", text), "same_as": keys, **extra}


def test_groups_join_transitively_and_the_richest_copy_represents_them(tmp_path):
    """A and B share nothing; C shares a key with each: one group. The representative is the longest
    full text (white space folded), then the declared source order; a snippet never represents a
    group with a full text; a copy whose text grows takes over."""
    from db import documents, runs
    from db.schema import connect

    db = connect(tmp_path / "t.db")
    ensure_schema(db)
    runs.register_sources(db, [{"id": s, "title": s} for s in ("federal-register", "govinfo", "news-rss", "gdelt")])
    _, a = documents.upsert_document(db, _doc("govinfo", "G1", "Notice text.", ["fr:1", "govinfo:G1"]))
    _, b = documents.upsert_document(db, _doc("federal-register", "F2", "Other notice.", ["fr:2"]))
    assert db.execute("select canonical_id from documents where id = ?", [b]).fetchone()[0] == b
    _, c = documents.upsert_document(db, _doc("federal-register", "F1", "Notice\n  text.", ["fr:1", "fr:2"]))
    group = identities.group_of(db, a)
    assert group == sorted([a, b, c])
    # "Notice text." folded equals C's text: same length, federal-register before govinfo; B is longer
    assert {r[0] for r in db.execute("select canonical_id from documents")} == {b}
    assert db.execute("select count(*) from document_links where relation = 'same_as'").fetchone()[0] == 6
    documents.upsert_document(db, _doc("govinfo", "G1", "Notice text, now with its annex.", ["fr:1", "govinfo:G1"]))
    assert {r[0] for r in db.execute("select canonical_id from documents")} == {a}
    # a snippet loses against a shorter full text
    _, s = documents.upsert_document(db, _doc("news-rss", "u", "A long announced snippet of the article " * 3, ["url:u"],
                                              metadata={"extraction": "snippet"}))
    _, g = documents.upsert_document(db, _doc("gdelt", "u", "The article.", ["url:u"], metadata={"extraction": "full"}))
    assert {r[0] for r in db.execute("select canonical_id from documents where id in (?, ?)", [s, g])} == {g}


def test_a_copy_taking_over_never_resends_a_delivered_sentence(env, smtp, monkeypatch):
    """Two copies annotated at one instant, the digest sent; then the GovInfo copy's text grows, it
    becomes the representative and is annotated again: the next digest has only its new sentence."""
    import datetime as dt

    from db import clock, writes

    db = env.db()
    ensure_schema(db)
    writes.register_sources(db, [{"id": s, "title": s} for s in ("federal-register", "govinfo")])
    writes.save_entities(db, [{"id": "platform:logink", "name": "LOGINK", "type": "PLATFORM"}])
    said = "USTR proposes action against LOGINK because it threatens port data."

    def store(source: str, sentences: list[str]) -> int:
        text = " ".join(sentences)
        _, doc_id = writes.upsert_document(db, _doc(source, "2025-03134", text, ["fr:2025-03134"]))
        version = db.execute("select version from documents where id = ?", [doc_id]).fetchone()[0]
        writes.replace_annotations(db, doc_id, {"mentions": [
            {"entity": "platform:logink", "topic": "logink", "text": "LOGINK", "sentence": s, "stance": "critical",
             "stance_score": 0.9} for s in sentences], "topics": []}, _doc(source, "x", text, [])["content_hash"], "m", version)
        return doc_id

    fr_id = store("federal-register", [said])
    gi_id = store("govinfo", [said.replace(" port", "\nport")])  # the same sentence, wrapped
    assert db.execute("select canonical_id from documents where id = ?", [gi_id]).fetchone()[0] == fr_id
    subject, first = digest(env, smtp, monkeypatch)
    assert subject.startswith("LOGINK: 1 new mention ") and "threatens port data" in first
    with clock.frozen(clock.now() + dt.timedelta(days=7)):
        store("govinfo", [said.replace(" port", "\nport"), "Covered platforms such as LOGINK may not be used by U.S. ports."])
        assert db.execute("select canonical_id from documents where id = ?", [fr_id]).fetchone()[0] == gi_id
        subject, second = digest(env, smtp, monkeypatch)
    assert subject.startswith("LOGINK: 1 new mention "), subject
    assert "may not be used by U.S. ports" in second and "threatens port data" not in second


def test_count_views_read_the_count_index_and_return_the_rows_of_the_plain_join(tmp_path):
    """On a database with copies (one taking over, repeated sentences wrapped differently), the count
    views read documents through migration 0013's index and return exactly what the same SQL returns
    through the documents rows: repeats left out once, every other mention counted."""
    from db import writes
    from db.schema import connect
    from db.views import COUNT_INDEX, VIEWS

    db = connect(tmp_path / "c.db")
    ensure_schema(db)
    writes.register_sources(db, [{"id": s, "title": s} for s in ("federal-register", "govinfo", "news-rss")])
    writes.save_entities(db, [{"id": "platform:logink", "name": "LOGINK", "type": "PLATFORM"}])
    said = ["USTR proposes action against LOGINK because it threatens port data.", "LOGINK is a state platform."]

    def store(source: str, source_id: str, sentences: list[str], keys: list[str], published: str) -> int:
        text = " ".join(sentences)
        doc = _doc(source, source_id, text, keys, published_at=published, jurisdiction="US")
        _, doc_id = writes.upsert_document(db, doc)
        version = db.execute("select version from documents where id = ?", [doc_id]).fetchone()[0]
        writes.replace_annotations(db, doc_id, {"mentions": [
            {"entity": "platform:logink", "topic": "logink", "text": "LOGINK", "sentence": s,
             "stance": "critical" if i == 0 else None, "stance_score": 0.9} for i, s in enumerate(sentences)],
            "topics": []}, doc["content_hash"], "m", version)
        return doc_id

    store("federal-register", "F1", said, ["fr:1"], "2026-11-02")
    store("govinfo", "G1", [said[0].replace(" port", "\nport"), said[1]], ["fr:1"], "2026-11-02")
    store("news-rss", "N1", said[1:], ["url:n1"], "2026-11-10")  # same sentence, no copy: counted
    gi = store("govinfo", "G1", [said[0].replace(" port", "\nport"), said[1], "LOGINK grows."], ["fr:1"], "2026-11-02")
    assert db.execute("select count(distinct canonical_id) from documents where canonical_id != id").fetchone()[0] == 1
    assert db.execute("select canonical_id from documents where source = 'federal-register'").fetchone()[0] == gi
    repeats = db.execute("select count(*) from mention_repeats").fetchone()[0]
    assert repeats == 2 and db["mentions"].count == 6

    for view in ("canonical_mentions", "mentions_by_week", "stance_by_source_month", "new_mentions_7d"):
        sql = VIEWS[view]
        plain = sql.replace(f" indexed by {COUNT_INDEX}", "")
        if view in ("canonical_mentions", "mentions_by_week"):
            assert plain != sql
            plan = " ".join(r[3] for r in db.execute(f"explain query plan select * from {view}"))
            assert f"COVERING INDEX {COUNT_INDEX}" in plan, plan
        assert db.execute(f"select * from {view}").fetchall() == db.execute(f"select * from ({plain})").fetchall()
    assert db.execute("select count(*) from canonical_mentions").fetchone()[0] == 6 - repeats
    weeks = db.execute("select week, stance, sum(mentions) from mentions_by_week group by week, stance order by 1, 2").fetchall()
    assert weeks == [("2026-11-02", "critical", 1), ("2026-11-02", "unclassified", 2), ("2026-11-09", "critical", 1)]
