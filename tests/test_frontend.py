"""The Datasette front end (`tracker serve`) through Datasette's own client: metadata, hidden tables,
labels, facets, search, every canned query, the dashboard, the Atom feed, mention row pages,
escaping of crafted HTML, read-only serving and the password option."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest

from db import writes
from db.schema import connect, ensure_schema
from tracker.serve import SETTINGS, build_datasette, metadata_for

DB = "frontdesk"  # the database file is frontdesk.db: Datasette names it "frontdesk"
CRAFTED_TITLE = "<script>alert('title')</script> LOGINK & ports"
CRAFTED_SENTENCE = "Analysts said <img src=x onerror=alert(1)> LOGINK is useful for shippers."
ATOM = "{http://www.w3.org/2005/Atom}"


def _doc(source, source_id, title, text, **extra):
    return {"source": source, "source_id": source_id, "url": f"https://example.gov/{source_id}", "title": title,
            "text": text, "fetched_at": "2026-11-01T10:00:00+00:00", "content_hash": f"h-{source_id}-{len(text)}",
            "language": "en", **extra}


def _mention(entity, text, sentence, stance=None, topic=None, score=None):
    start = sentence.index(text)
    return {"entity": entity, "text": text, "sentence": sentence, "start": start, "end": start + len(text),
            "stance": stance, "topic": topic, "stance_score": score}


def build_sample(path):
    """A small database covering every table the front end shows."""
    db = connect(path)
    ensure_schema(db)
    writes.register_sources(db, [
        {"id": "federal-register", "title": "Federal Register", "jurisdiction": "US", "kind": "api",
         "base_url": "https://www.federalregister.gov/api/v1", "enabled": 1, "interval": "1d"},
        {"id": "ep-open-data", "title": "European Parliament Open Data", "jurisdiction": "EU", "kind": "api",
         "base_url": "https://data.europarl.europa.eu/api/v2", "enabled": 1, "interval": "1d"},
    ])
    run = writes.start_run(db, "federal-register")
    writes.finish_run(db, run, "federal-register", "ok", {"fetched": 3, "new": 3}, None, "2025-04-21", {})
    run = writes.start_run(db, "ep-open-data")
    writes.finish_run(db, run, "ep-open-data", "failed", {}, "HTTP 503 from upstream", None, {})
    writes.save_entities(db, [
        {"id": "platform:logink", "name": "LOGINK", "type": "PLATFORM", "country": "CN", "aliases": ["LOGINK", "国家交通运输物流公共信息平台"]},
        {"id": "port:NLRTM", "name": "Port of Rotterdam", "type": "PORT", "country": "NL", "external_ids": {"unlocode": "NLRTM"}},
        {"id": "org:cosco", "name": "COSCO Shipping", "type": "COMPANY", "country": "CN"},
    ])
    s1 = "The LOGINK platform gives the PRC access to sensitive port data."
    s2 = "The Parliament notes that LOGINK is used in the Port of Rotterdam."
    s3 = "Port congestion in Rotterdam eased in March."
    s4 = "COSCO Shipping and LOGINK exchange container data."
    docs = [
        (_doc("federal-register", "2025-03134", "Notice of Proposed Action on LOGINK", f"Notice. {s1} {s4}",
              doc_type="notice", jurisdiction="US", institution="USTR", published_at="2025-02-25"),
         [_mention("platform:logink", "LOGINK", s1, "critical", "logink", 0.91),
          _mention("org:cosco", "COSCO Shipping", s4), _mention("platform:logink", "LOGINK", s4, "critical", "logink", 0.7)],
         [{"topic": "logink", "stance": "critical", "score": 0.9, "mentions": 2}]),
        (_doc("ep-open-data", "TA-9-2024-0123", "Resolution on maritime security", f"Resolution. {s2}",
              doc_type="adopted_text", jurisdiction="EU", institution="European Parliament", published_at="2024-03-12"),
         [_mention("platform:logink", "LOGINK", s2, "neutral", "logink", 0.6), _mention("port:NLRTM", "Port of Rotterdam", s2)],
         [{"topic": "logink", "stance": "neutral", "score": 0.6, "mentions": 1}]),
        (_doc("federal-register", "2025-06927", CRAFTED_TITLE, f"Rule text. {CRAFTED_SENTENCE}",
              doc_type="rule", jurisdiction="US", institution="USTR", published_at="2025-04-21", url="javascript:alert(2)"),
         [_mention("platform:logink", "LOGINK", CRAFTED_SENTENCE, "supportive", "logink", 0.55)],
         [{"topic": "logink", "stance": "supportive", "score": 0.55, "mentions": 1}]),
        (_doc("ep-open-data", "QE-9-2024-0001", "Question on port congestion", f"Question. {s3}",
              doc_type="question", jurisdiction="EU", institution="European Parliament", published_at="2024-03-20", language="fr"),
         [_mention("port:NLRTM", "Rotterdam", s3)],
         [{"topic": "logink", "stance": "none", "score": 0.0, "mentions": 0}]),
    ]
    ids = {}
    for doc, mentions, topics in docs:
        _, doc_id = writes.upsert_document(db, doc)
        ids[doc["source_id"]] = doc_id
        writes.replace_annotations(db, doc_id, {"mentions": mentions, "topics": topics}, doc["content_hash"], "test-1", 1)
    # a second version of the notice: the row page must link to both
    changed = dict(docs[0][0], text=docs[0][0]["text"] + " Comments are due in March.", content_hash="h-changed",
                   fetched_at="2026-11-02T10:00:00+00:00")
    assert writes.upsert_document(db, changed)[0] == "updated"
    # the EP mentions were first seen long ago: not "new"
    db.execute("update mentions set first_seen_at = '2026-01-01T00:00:00+00:00' where document_id = ?", [ids["TA-9-2024-0123"]])
    writes.save_dossier(db, {"key": "us-bill:118-hr-1724", "source": "congress-gov", "kind": "bill",
                             "title": "LOGINK Act", "url": "https://www.congress.gov/bill/118th-congress/house-bill/1724",
                             "fetched_at": "2026-11-01T10:00:00+00:00", "status": "referred",
                             "events": [{"date": "2023-03-22", "kind": "introduced", "description": "Introduced in House"},
                                        {"date": "2023-03-23", "kind": "referred", "description": "Referred to the Committee on Transportation"}]})
    writes.save_dossier(db, {"key": "ep-procedure:2023/2059(INI)", "source": "ep-oeil", "kind": "procedure",
                             "title": "Maritime security of critical infrastructure", "url": "https://oeil.secure.europarl.europa.eu/x",
                             "fetched_at": "2026-11-01T10:00:00+00:00",
                             "events": [{"date": "2024-03-12", "kind": "adopted", "description": "Text adopted by Parliament"}]})
    return db, ids


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("front") / f"{DB}.db"
    db, ids = build_sample(path)
    return build_datasette(path), db, ids


def get(ds, path, **kwargs):
    return asyncio.run(ds.client.get(path, **kwargs))


def rows(ds, path, **params):
    params = {"_shape": "array", **params}
    response = get(ds, f"{path}.json?{urlencode(params)}")
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- metadata


def test_metadata_is_bound_to_the_database_name(sample):
    ds, _, _ = sample
    metadata = get(ds, "/-/metadata.json").json()
    assert set(metadata["databases"]) == {DB}
    assert "CC BY 4.0" in metadata["description_html"] and "17 U.S.C. 105" in metadata["description_html"]
    assert "UN/LOCODE © UNECE" in metadata["description_html"] and "World Port Index (Pub 150)" in metadata["description_html"]
    charts = metadata["plugins"]["datasette-dashboards"]["mentions"]["charts"]
    assert {c["db"] for c in charts.values()} == {DB}
    assert "column_glossary" not in metadata


def test_every_visible_table_and_column_is_described(sample):
    ds, db, _ = sample
    tables = metadata_for(DB)["databases"][DB]["tables"]
    listing = {t["name"]: t for t in get(ds, f"/{DB}.json").json()["tables"]}
    undocumented = []
    for name in db.table_names() + db.view_names():
        meta = tables.get(name)
        if name in listing and listing[name]["hidden"] or (meta or {}).get("hidden"):
            continue
        if not meta or not meta.get("description"):
            undocumented.append(name)
            continue
        undocumented += [f"{name}.{c.name}" for c in db[name].columns if c.name not in meta["columns"]]
    assert undocumented == []


def test_table_pages_describe_only_their_own_columns(sample):
    # the shared glossary (~70 entries) was listed in full above every table
    ds, db, _ = sample
    for table in ("documents", "mentions", "source_health", "sources"):
        page = get(ds, f"/{DB}/{table}").text
        folded = page.split('<details class="column-help">')[1].split("</details>")[0]  # collapsed, not a screen of text
        described = set(re.findall(r"<dt>([^<]+)</dt>", folded))
        assert described and described <= {c.name for c in db[table].columns}, (table, described)
        assert "dl.column-descriptions { display: none; }" in page


def test_internal_tables_are_hidden(sample):
    ds, _, _ = sample
    listing = {t["name"]: t["hidden"] for t in get(ds, f"/{DB}.json").json()["tables"]}
    for internal in ("_migrations", "http_validators", "seen_urls", "documents_fts", "documents_fts_data", "digest_items"):
        assert listing.get(internal, True) is True, internal
    for visible in ("documents", "mentions", "entities", "document_topics", "sources", "crawl_runs", "dossiers", "events"):
        assert listing[visible] is False, visible
    page = get(ds, f"/{DB}").text
    assert "http_validators" not in page.split("hidden tables")[0]


def test_foreign_keys_show_labels(sample):
    ds, _, ids = sample
    mention = rows(ds, f"/{DB}/mentions", _labels="on", document_id=ids["2025-03134"], entity_id="platform:logink")[0]
    assert mention["document_id"] == {"value": ids["2025-03134"], "label": "Notice of Proposed Action on LOGINK"}
    assert mention["entity_id"] == {"value": "platform:logink", "label": "LOGINK"}
    event = rows(ds, f"/{DB}/events", _labels="on", dossier_key="us-bill:118-hr-1724")[0]
    assert event["dossier_key"]["label"] == "LOGINK Act"


def test_settings_bound_the_server(sample):
    ds, _, _ = sample
    settings = get(ds, "/-/settings.json").json()
    assert settings["suggest_facets"] is False
    assert settings["sql_time_limit_ms"] == SETTINGS["sql_time_limit_ms"] <= 5000
    assert settings["facet_time_limit_ms"] <= 1000 and settings["max_returned_rows"] <= 1000
    robots = get(ds, "/robots.txt")
    assert robots.status_code == 200 and "Disallow: /" in robots.text


# ---------------------------------------------------------------- facets and search


def _facets(ds, path, **params):
    data = get(ds, f"{path}.json?{urlencode(params)}").json()
    return {name: {r["value"]: r["count"] for r in facet["results"]} for name, facet in data["facet_results"].items()}


def test_document_facets(sample):
    ds, _, _ = sample
    facets = _facets(ds, f"/{DB}/documents")
    assert facets["source"] == {"federal-register": 2, "ep-open-data": 2}
    assert facets["jurisdiction"] == {"US": 2, "EU": 2}
    assert facets["doc_type"] == {"notice": 1, "adopted_text": 1, "rule": 1, "question": 1}
    assert facets["language"] == {"en": 3, "fr": 1}
    assert facets["institution"] == {"USTR": 2, "European Parliament": 2}
    assert facets["published_at"] == {"2025-02-25": 1, "2024-03-12": 1, "2025-04-21": 1, "2024-03-20": 1}
    assert facets["first_seen_at"] == {"2026-11-01": 4}
    # stance, topic and entity facets on documents (from the NLP summary columns)
    assert _facets(ds, f"/{DB}/documents", _facet="stance")["stance"] == {"critical": 1, "neutral": 1, "supportive": 1}
    assert _facets(ds, f"/{DB}/documents", _facet_array="topics")["topics"] == {"logink": 3}
    entities = _facets(ds, f"/{DB}/documents", _facet_array="entities")["entities"]
    assert entities == {"platform:logink": 3, "port:NLRTM": 2, "org:cosco": 1}
    # facets follow a search
    assert _facets(ds, f"/{DB}/documents", _search="congestion")["source"] == {"ep-open-data": 1}


def test_mention_and_topic_facets(sample):
    ds, _, _ = sample
    facets = _facets(ds, f"/{DB}/mentions")
    assert facets["stance"] == {"critical": 2, "neutral": 1, "supportive": 1}  # entities outside topics have none
    assert facets["entity_id"] == {"platform:logink": 4, "port:NLRTM": 2, "org:cosco": 1}
    assert facets["topic"] == {"logink": 4}
    assert set(facets) == {"topic", "stance", "entity_id"}  # no default date facet over a million mentions
    dated = _facets(ds, f"/{DB}/mentions", _facet_date="first_seen_at")["first_seen_at"]
    assert dated["2026-01-01"] == 2 and sum(dated.values()) == 7
    assert _facets(ds, f"/{DB}/document_topics")["stance"] == {"critical": 1, "neutral": 1, "supportive": 1, "none": 1}
    assert _facets(ds, f"/{DB}/mentions", stance="critical")["entity_id"] == {"platform:logink": 2}


def test_full_text_search_on_the_documents_page(sample):
    ds, _, ids = sample
    found = rows(ds, f"/{DB}/documents", _search="LOGINK")
    assert {d["id"] for d in found} == {ids["2025-03134"], ids["TA-9-2024-0123"], ids["2025-06927"]}
    assert [d["source_id"] for d in rows(ds, f"/{DB}/documents", _search="congestions")] == ["QE-9-2024-0001"]  # stemming
    assert rows(ds, f"/{DB}/documents", _search='"sensitive port data"')[0]["id"] == ids["2025-03134"]
    assert rows(ds, f"/{DB}/documents", _search="nonexistentword") == []
    # the table's search box leads to the ranked search page, filters carried; a chosen sort keeps the table
    redirect = get(ds, f"/{DB}/documents?_search=LOGINK&source=federal-register")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == f"/{DB}/search_documents?q=LOGINK&source=federal-register"
    form = get(ds, f"/{DB}/documents?_search=LOGINK&_filter_column=&_filter_value=&_sort=id&_sort_by_desc=on")  # the box's form
    assert form.status_code == 302 and form.headers["location"] == f"/{DB}/search_documents?q=LOGINK"
    page = get(ds, f"/{DB}/documents?_search=LOGINK&_sort_desc=published_at").text
    assert 'name="_search"' in page and "3 rows" in page


@pytest.mark.parametrize("query", ['"', " ", "", '""'])
def test_blank_or_lone_quote_search_is_not_an_error_page(sample, query):
    # Datasette's escape_fts turned these into an empty MATCH: "fts5: syntax error" (400) for a new user
    ds, _, _ = sample
    response = get(ds, f"/{DB}/documents?" + urlencode({"_search": query}), follow_redirects=True)
    assert response.status_code == 200, response.text
    assert rows(ds, f"/{DB}/documents", _search=query) == []
    assert len(rows(ds, f"/{DB}/documents", _search='"LOGINK')) == 3  # an unbalanced quote still searches


def test_fts_stays_in_sync_after_repeated_upserts(sample):
    _, db, _ = sample
    assert db.execute("select count(*) from documents_fts").fetchone()[0] == db["documents"].count


def test_highlight_finds_the_mention_and_escapes_everything():
    from tracker.plugins.mention_context import highlight

    assert highlight("A <b> LOGINK risk", "LOGINK", 120, 126) == "A &lt;b&gt; <mark>LOGINK</mark> risk"  # document offsets
    assert highlight("The Logink platform", "LOGINK") == "The <mark>Logink</mark> platform"
    assert highlight("Straße and LOGINK", "LOGINK", 11, 17) == "Straße and <mark>LOGINK</mark>"
    assert highlight("No mention <i>here</i>", "LOGINK") == "No mention &lt;i&gt;here&lt;/i&gt;"
    assert highlight(None, "LOGINK") == ""


def test_connections_get_search_functions_and_a_memory_map(tmp_path):
    import sqlite3

    from tracker.plugins.mention_context import prepare_connection

    conn = sqlite3.connect(tmp_path / "x.db")
    prepare_connection(conn)
    one = lambda sql: conn.execute(sql).fetchone()[0]
    assert one("select fts_match('NEAL-NET \"port data\" logi*')") == '("NEAL-NET" AND "port data" AND "logi"*)'
    assert one("select fts_match('')") == '""' and one("select fts_match('AND')") == '""'
    assert one("select fts_match('NOT LOGINK')") == '""' and one("select fts_exclude('NOT LOGINK')") == '"LOGINK"'
    assert one("select fts_exclude('LOGINK')") is None
    assert one("select escape_fts('LOGINK NOT')") == '"LOGINK"' and one("select escape_fts('\"')") == '""'
    assert conn.execute("pragma mmap_size").fetchone()[0] > 0


# Analyst input -> FTS5 (db.frontend.parse_search): every output is valid FTS5 (run against a real
# FTS5 table below), slips are repaired and said, the rest is a readable ValueError.
SEARCHES = {
    "LOGINK": ('"LOGINK"', None, []),
    "LOGINK NOT": ('"LOGINK"', None, ["ignored a NOT with nothing after it"]),
    "NOT LOGINK": (None, '"LOGINK"', []),
    "-LOGINK port": ('(("port") NOT "LOGINK")', None, []),
    'unbalanced "quote': ('("unbalanced" AND "quote")', None, ["closed an unbalanced quote"]),
    "(port OR crane": ('("port" OR "crane")', None, ["closed an unbalanced '('"]),
    "port) data": ('("port" AND "data")', None, ["ignored an unmatched ')'"]),
    "port* AND data": ('("port"* AND "data")', None, []),
    "OR LOGINK": ('"LOGINK"', None, ["ignored an OR with nothing on one side"]),
    "port OR crane NOT LOGINK": ('("port" OR (("crane") NOT "LOGINK"))', None, []),
    "and": ('"and"', None, []),
}


@pytest.mark.parametrize("text", sorted(SEARCHES))
def test_search_syntax_becomes_valid_fts5(text):
    import sqlite3

    from db.frontend import parse_search

    query = parse_search(text)
    assert (query.match, query.exclude, query.notes) == SEARCHES[text]
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table t using fts5(title, text, tokenize='porter')")
    conn.execute("select * from t where t match ?", [query.match or query.exclude]).fetchall()  # no syntax error


@pytest.mark.parametrize("text,message", [("AND", "AND, OR and NOT go between words"), ("*", "type a word"),
                                          ('"', "type a word"), ("()", "type a word"), ("", "type a word"),
                                          ("port OR NOT crane", "OR NOT cannot be searched")])
def test_unsearchable_input_is_a_readable_error(text, message):
    from db.frontend import fts_query, parse_search

    with pytest.raises(ValueError, match=re.escape(message)):
        parse_search(text)
    with pytest.raises(ValueError, match="only says what to exclude"):
        fts_query("NOT LOGINK")  # the CLI's single MATCH expression cannot say "everything but"


def test_front_end_indexes_exist(sample):
    _, db, _ = sample
    indexed = {tuple(i.columns) for t in ("documents", "mentions", "crawl_runs") for i in db[t].indexes}
    for columns in (("first_seen_at",), ("entity_id", "first_seen_at"), ("stance",), ("source", "id"),
                    ("document_id", "topic", "stance"), ("document_id", "entity_id", "stance")):
        assert columns in indexed, columns
    plan = " ".join(r[3] for r in db.execute(
        "explain query plan select stance, count(*) from mentions group by stance").fetchall())
    assert "idx_mentions_stance" in plan
    # the search facets: one scan of their index in facet order, no sort, no documents rows
    from db.frontend import FACET_INDEX, ensure_frontend, parse_search, search_facets_sql

    assert ensure_frontend(db) is False  # built with the instance, kept
    sql, params = search_facets_sql(parse_search("LOGINK"), {})
    plan = " ".join(r[3] for r in db.execute("explain query plan " + sql, params).fetchall())
    assert f"SCAN d USING INDEX {FACET_INDEX}" in plan and "TEMP B-TREE" not in plan, plan


# ---------------------------------------------------------------- canned queries (every one)


def _canned(ds, name, **params):
    return rows(ds, f"/{DB}/{name}", **params)


def check_search_documents(ds, ids):
    found = _canned(ds, "search_documents", q="LOGINK")
    assert {r["document_id"] for r in found} == {ids["2025-03134"], ids["TA-9-2024-0123"], ids["2025-06927"]}
    assert all("⟦LOGINK⟧" in r["snippet"] for r in found)
    _, db, _ = ds_db[0]
    by_relevance = [r[0] for r in db.execute(
        "select rowid from documents_fts where documents_fts match 'LOGINK' order by bm25(documents_fts, 5.0, 1.0)")]
    assert [r["document_id"] for r in found] == by_relevance  # best match first, titles weighted
    page = get(ds, f"/{DB}/search_documents?q=LOGINK").text
    assert "<mark>LOGINK</mark>" in page and "<script>alert(" not in page
    assert [r["document_id"] for r in _canned(ds, "search_documents", q="sensitive port dat*")] == [ids["2025-03134"]]
    assert {r["document_id"] for r in _canned(ds, "search_documents", q="congestion OR sensitive")} == {
        ids["2025-03134"], ids["QE-9-2024-0001"]}
    # NOT alone: every document without the word (FTS5 cannot start with NOT), newest first
    assert [r["document_id"] for r in _canned(ds, "search_documents", q="NOT LOGINK")] == [ids["QE-9-2024-0001"]]
    assert [r["document_id"] for r in _canned(ds, "search_documents", q="-congestion", source="ep-open-data")] == [ids["TA-9-2024-0123"]]
    assert {r["document_id"] for r in _canned(ds, "search_documents", q="LOGINK NOT")} == {r["document_id"] for r in found}
    assert [r["document_id"] for r in _canned(ds, "search_documents", q="LOGINK", source="ep-open-data")] == [ids["TA-9-2024-0123"]]
    assert [r["document_id"] for r in _canned(ds, "search_documents", q="LOGINK", stance="critical")] == [ids["2025-03134"]]
    for awkward in ("PRC-access", 'unbalanced "quote', '"', "", "AND", "LOGINK NOT", "NOT LOGINK", "(port", "port)", "*",
                    "OR NOT x"):  # FTS5 syntax never reaches SQLite raw
        for path in (f"/{DB}/search_documents.json?", f"/{DB}/search_documents?", f"/{DB}/documents.json?_search="):
            url = path + urlencode({"q": awkward}) if not path.endswith("=") else path + urlencode({"": awkward})[1:]
            assert get(ds, url).status_code == 200, (awkward, path)


def check_new_mentions(ds, ids):
    recent = _canned(ds, "new_mentions", days="7")
    assert len(recent) == 5 and ids["TA-9-2024-0123"] not in {r["document_id"] for r in recent}
    assert {r["document_id"] for r in _canned(ds, "new_mentions", days="")} == {r["document_id"] for r in recent}  # default 7
    assert len(_canned(ds, "new_mentions", days="3650")) == 7
    for huge in ("99999999999", "-9223372036854775808", "-99999999999999999999999"):  # were 0 rows / "integer overflow"
        assert len(_canned(ds, "new_mentions", days=huge)) == (7 if not huge.startswith("-") else 5), huge
    page = get(ds, f"/{DB}/new_mentions?days=7").text
    assert "The <mark>LOGINK</mark> platform gives" in page


def check_entity_mentions(ds, ids):
    by_id = _canned(ds, "entity_mentions", entity="platform:logink")
    assert len(by_id) == 4 and {r["stance"] for r in by_id} == {"critical", "neutral", "supportive"}
    assert all(r["mention"] == "LOGINK" and "LOGINK" in r["sentence"] for r in by_id)
    by_name = _canned(ds, "entity_mentions", entity="port of rotterdam")
    assert len(by_name) == 2 and {r["entity"] for r in by_name} == {"Port of Rotterdam"}
    assert _canned(ds, "entity_mentions", entity="nothing:here") == []


def check_topic_documents(ds, ids):
    docs = _canned(ds, "topic_documents", topic="logink")
    assert [(d["document_id"], d["stance"]) for d in docs] == [
        (ids["2025-06927"], "supportive"), (ids["2025-03134"], "critical"), (ids["TA-9-2024-0123"], "neutral")]


def check_stance_by_source_month(ds, ids):
    table = {(r["source"], r["month"], r["topic"]): r for r in _canned(ds, "stance_by_source_month", topic="logink")}
    assert table[("federal-register", "2025-02", "logink")]["critical"] == 2
    assert table[("ep-open-data", "2024-03", "logink")]["neutral"] == 1
    everything = _canned(ds, "stance_by_source_month", topic="")
    assert sum(r["mentions"] for r in everything) == 7


def check_cooccurrence(ds, ids):
    default = {r["entity_id"]: r for r in _canned(ds, "cooccurrence", entity="")}
    assert set(default) == {"org:cosco", "port:NLRTM"} and default["port:NLRTM"]["documents"] == 1
    # the stance columns count the co-entity's mentions by the shared document's stance toward LOGINK's topic
    # (the co-entities have no stance of their own: these columns were always empty)
    assert [default["org:cosco"][k] for k in ("critical", "supportive", "neutral")] == [1, 0, 0]
    assert [default["port:NLRTM"][k] for k in ("critical", "supportive", "neutral")] == [0, 0, 1]
    assert {r["entity_id"] for r in _canned(ds, "cooccurrence", entity="COSCO Shipping")} == {"platform:logink"}


def check_legislation(ds, ids):
    both = _canned(ds, "legislation", kind="", q="")
    assert [r["key"] for r in both] == ["ep-procedure:2023/2059(INI)", "us-bill:118-hr-1724"]
    bill = _canned(ds, "legislation", kind="bill", q="logink")[0]
    assert bill["latest_event"] == "Referred to the Committee on Transportation" and bill["events"] == 2


def check_new_mentions_feed(ds, ids):
    response = get(ds, f"/{DB}/new_mentions_feed.atom?topic=logink")
    assert response.status_code == 200 and "xml" in response.headers["content-type"]
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3  # the EP mention is older than 30 days; entities outside the topic are left out
    crafted = next(e for e in entries if "alert" in e.find(f"{ATOM}title").text)
    assert crafted.find(f"{ATOM}title").text == f"LOGINK (supportive): {CRAFTED_TITLE}"
    content = crafted.find(f"{ATOM}content").text  # the HTML a feed reader renders
    assert "<img" not in content and "&lt;img src=x onerror=alert(1)&gt;" in content
    assert "<strong>LOGINK</strong>" in content and "&lt;script&gt;" in content
    assert crafted.find(f"{ATOM}link").get("href").startswith("urn:policy-tracker:document:")  # javascript: URL dropped
    notice = next(e for e in entries if "Notice" in e.find(f"{ATOM}title").text)
    assert notice.find(f"{ATOM}link").get("href") == "https://example.gov/2025-03134"
    assert all(e.find(f"{ATOM}id").text.startswith("urn:policy-tracker:mention:") for e in entries)
    # without a topic: still only classified mentions (the unclassified COSCO mention is not news)
    every = ET.fromstring(get(ds, f"/{DB}/new_mentions_feed.atom").content).findall(f"{ATOM}entry")
    assert len(every) == 3 and not any("unclassified" in e.find(f"{ATOM}title").text for e in every)


CANNED = {
    "search_documents": check_search_documents,
    "new_mentions": check_new_mentions,
    "entity_mentions": check_entity_mentions,
    "topic_documents": check_topic_documents,
    "stance_by_source_month": check_stance_by_source_month,
    "cooccurrence": check_cooccurrence,
    "legislation": check_legislation,
    "new_mentions_feed": check_new_mentions_feed,
}


TESTED_ELSEWHERE = {"stance_shifts": "tests/test_shifts.py"}


def test_every_canned_query_is_tested_and_read_only():
    queries = metadata_for(DB)["databases"][DB]["queries"]
    assert set(queries) == set(CANNED) | set(TESTED_ELSEWHERE)
    assert not any(q.get("write") for q in queries.values())


ds_db: list = []


@pytest.mark.parametrize("name", sorted(CANNED))
def test_canned_query(sample, name):
    ds, _, ids = sample
    ds_db[:] = [sample]
    CANNED[name](ds, ids)


def test_canned_query_pages_are_titled_by_the_query_title(sample):
    ds, _, _ = sample
    title = re.search(r"<title>(.*?)</title>", get(ds, f"/{DB}/entity_mentions?entity=LOGINK").text, re.S).group(1)
    assert title.strip() == f"{DB}: Mentions of an entity"  # was the whole SQL
    assert "select" in re.search(r"<title>(.*?)</title>", get(ds, f"/{DB}?sql=select+1").text, re.S).group(1)


def test_empty_feed_is_still_a_feed(tmp_path):
    path = tmp_path / "empty.db"
    ensure_schema(connect(path))
    response = get(build_datasette(path), "/empty/new_mentions_feed.atom")
    assert response.status_code == 200  # datasette-atom fails on zero rows: the query adds a placeholder entry
    entries = ET.fromstring(response.content).findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["No new mentions in the last 30 days"]


# ---------------------------------------------------------------- views and dashboard


def test_views(sample):
    ds, _, _ = sample
    health = {r["source"]: r for r in rows(ds, f"/{DB}/source_health")}
    assert health["federal-register"]["health"] == "ok" and health["federal-register"]["hours_since_success"] < 1
    assert health["ep-open-data"]["health"] == "failing" and "HTTP 503" in health["ep-open-data"]["last_error"]
    weeks = rows(ds, f"/{DB}/mentions_by_week", topic="logink")
    assert {(w["week"], w["stance"], w["mentions"]) for w in weeks if w["source"] == "federal-register"} == {
        ("2025-02-24", "critical", 2), ("2025-04-21", "supportive", 1)}
    status = {r["key"]: r for r in rows(ds, f"/{DB}/dossier_status")}
    assert status["ep-procedure:2023/2059(INI)"]["latest_event"] == "Text adopted by Parliament"


def test_dashboard_layout_is_a_valid_css_grid():
    # rows of different widths made grid-template-areas invalid: the charts were drawn over each other
    dashboard = metadata_for(DB)["plugins"]["datasette-dashboards"]["mentions"]
    layout = dashboard["layout"]
    assert len({len(row) for row in layout}) == 1, layout
    assert {cell for row in layout for cell in row} == set(dashboard["charts"])
    for slug in dashboard["charts"]:  # each named area is one rectangle
        cells = [(r, c) for r, row in enumerate(layout) for c, cell in enumerate(row) if cell == slug]
        rows_, cols = {r for r, _ in cells}, {c for _, c in cells}
        assert len(cells) == len(rows_) * len(cols) and max(rows_) - min(rows_) + 1 == len(rows_) \
            and max(cols) - min(cols) + 1 == len(cols), slug


def test_dashboard_and_its_chart_queries(sample):
    ds, _, _ = sample
    page = get(ds, "/-/dashboards/mentions")
    assert page.status_code == 200 and "Mentions per week by stance" in page.text
    charts = metadata_for(DB)["plugins"]["datasette-dashboards"]["mentions"]["charts"]
    results = {}
    for slug, chart in charts.items():
        sql = chart["query"].replace("[[", "").replace("]]", "")  # with every filter set
        params = {"sql": sql, "topic": "logink", "date_start": "2024-01-01", "date_end": "2025-12-31", "_shape": "array"}
        response = get(ds, f"/{DB}.json?{urlencode(params)}")
        assert response.status_code == 200, (slug, response.text)
        results[slug] = response.json()
    assert results["total-mentions"] == [{"count": 4}]
    assert results["critical-share"] == [{"share": 50.0}]
    # without a topic, the share is still over classified mentions (was 2 of 7: unclassified ports counted)
    sql = charts["critical-share"]["query"].replace("[[ and topic = :topic ]]", "").replace("[[", "").replace("]]", "")
    params = {"sql": sql, "date_start": "2024-01-01", "date_end": "2025-12-31", "_shape": "array"}
    assert get(ds, f"/{DB}.json?{urlencode(params)}").json() == [{"share": 50.0}]
    assert results["documents-with-mentions"] == [{"count": 3}]
    assert sum(r["mentions"] for r in results["by-stance"]) == 4
    assert {r["jurisdiction"]: r["mentions"] for r in results["by-jurisdiction"] if r["week"] == "2024-03-11"} == {"EU": 1}


# ---------------------------------------------------------------- row pages and escaping


def test_mention_row_page_shows_the_sentence_in_context(sample):
    ds, db, ids = sample
    mention_id = db.execute("select id from mentions where document_id = ? and entity_id = 'platform:logink' and sentence like 'The LOGINK%'",
                            [ids["2025-03134"]]).fetchone()[0]
    page = get(ds, f"/{DB}/mentions/{mention_id}").text
    assert '<p class="mention-sentence" style="font-size: 1.15em;">The <mark>LOGINK</mark> platform gives the PRC access' in page
    assert 'href="https://example.gov/2025-03134"' in page
    assert f'href="/{DB}/document_versions?document_id={ids["2025-03134"]}">2 versions of the document</a>' in page
    assert f'href="/{DB}/mentions?document_id={ids["2025-03134"]}">All 3 mentions in the document' in page
    versions = rows(ds, f"/{DB}/document_versions", document_id=ids["2025-03134"])
    assert [v["version"] for v in versions] == [2, 1]


def test_crafted_html_is_escaped_everywhere(sample):
    ds, db, ids = sample
    crafted_id = ids["2025-06927"]
    mention_id = db.execute("select id from mentions where document_id = ?", [crafted_id]).fetchone()[0]
    pages = {
        "documents": get(ds, f"/{DB}/documents").text,
        "search": get(ds, f"/{DB}/documents?_search=alert", follow_redirects=True).text,
        "document row": get(ds, f"/{DB}/documents/{crafted_id}").text,
        "mentions": get(ds, f"/{DB}/mentions?_labels=on").text,
        "mention row": get(ds, f"/{DB}/mentions/{mention_id}").text,
        "new_mentions": get(ds, f"/{DB}/new_mentions?days=7").text,
        "entity_mentions": get(ds, f"/{DB}/entity_mentions?entity=LOGINK").text,
        "search_documents": get(ds, f"/{DB}/search_documents?q=alert").text,
    }
    for name, page in pages.items():
        assert "<script>alert(" not in page and "<img src=x" not in page, name
        assert "&lt;script&gt;alert(" in page or "&lt;img src=x onerror=alert(1)&gt;" in page, name
    assert "Analysts said &lt;img src=x onerror=alert(1)&gt; <mark>LOGINK</mark> is useful" in pages["mention row"]
    assert 'href="javascript:' not in pages["mention row"] and "Original document" not in pages["mention row"]


# ---------------------------------------------------------------- read-only and password


def test_the_web_cannot_write(sample):
    ds, db, _ = sample
    before = db["documents"].count
    response = get(ds, f"/{DB}.json?" + urlencode({"sql": "delete from documents", "_shape": "array"}))
    assert response.status_code == 400 and "Statement must be a SELECT" in response.text
    response = get(ds, f"/{DB}.json?" + urlencode({"sql": "select 1; delete from documents"}))
    assert response.status_code == 400
    for path in (f"/{DB}/new_mentions", f"/{DB}/documents/1/-/update", "/-/permissions", "/-/messages"):
        posted = asyncio.run(ds.client.post(path, data={"days": "7"}))
        assert posted.status_code == 405, path
    assert asyncio.run(ds.client.request("DELETE", f"/{DB}/documents/1")).status_code == 405
    assert db["documents"].count == before


def test_password_requires_basic_auth(tmp_path, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    path = tmp_path / "locked.db"
    ensure_schema(connect(path))
    monkeypatch.setenv("TEST_TRACKER_HASH", hash_password("s3cret"))
    ds = build_datasette(path, password_env="TEST_TRACKER_HASH")
    assert get(ds, "/locked.json").status_code == 401
    assert get(ds, "/locked/new_mentions_feed.atom").status_code == 401
    auth = lambda user, pw: {"authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}
    assert get(ds, "/locked.json", headers=auth("analyst", "wrong")).status_code == 401
    assert get(ds, "/locked.json", headers=auth("analyst", "s3cret")).status_code == 200
    assert "s3cret" not in json.dumps(get(ds, "/-/metadata.json", headers=auth("analyst", "s3cret")).json())


def test_password_env_must_be_set(tmp_path, monkeypatch, env):
    monkeypatch.delenv("NO_SUCH_TRACKER_HASH", raising=False)
    with pytest.raises(ValueError, match="NO_SUCH_TRACKER_HASH"):
        build_datasette(tmp_path / "x.db", password_env="NO_SUCH_TRACKER_HASH")
    env.configure({})
    result = env.run("serve", "--password-env", "NO_SUCH_TRACKER_HASH")
    assert result.exit_code == 2 and "NO_SUCH_TRACKER_HASH is not set" in result.output


def test_hash_password_option_prints_a_usable_hash(env):
    from datasette_auth_passwords.utils import verify_password

    env.configure({})
    result = env.run("serve", "--hash-password", input="pw-123\npw-123\n")
    assert result.exit_code == 0, result.output
    assert verify_password("pw-123", result.output.strip().splitlines()[-1])


# ---------------------------------------------------------------- pages an analyst reads


def test_documents_table_shows_what_analysts_read_first(sample):
    ds, _, ids = sample
    page = get(ds, f"/{DB}/documents").text
    header = re.findall(r'<th [^>]*class="col-([a-z_]+)"', page)
    assert header[:6] == ["title", "published_at", "source", "jurisdiction", "doc_type", "stance"]
    assert "text" not in header and header.index("content_hash") > header.index("url")  # raw text left out, hashes last
    assert '<span class="stance stance-critical">critical</span>' in page
    # the source is its id (the label made the column 350 px wide); URLs are short links, javascript: is text
    assert re.search(r'<td class="col-source[^"]*"><a href="/frontdesk/sources/federal-register" title="Federal Register">federal-register</a>', page)
    assert '<a class="short-url" href="https://example.gov/2025-03134" title="https://example.gov/2025-03134"' in page
    assert 'href="javascript:' not in page and '<span class="not-a-link">javascript:alert(2)</span>' in page
    assert '<span class="id-list" title="org:cosco, platform:logink">org:cosco, platform:logink</span>' in page
    assert json.loads(get(ds, f"/{DB}/documents.json?_shape=array&id={ids['2025-03134']}").text)[0]["text"].startswith("Notice.")


def test_mentions_table_starts_with_the_sentence(sample):
    ds, _, _ = sample
    header = re.findall(r'<th [^>]*class="col-([a-z_]+)"', get(ds, f"/{DB}/mentions").text)
    assert header[:3] == ["sentence", "entity_id", "stance"]


def test_home_page_lists_tables_in_the_analysts_order(sample):
    ds, _, _ = sample
    page = get(ds, "/").text
    order = re.findall(rf'<li><a href="/{DB}/([a-z_0-9]+)">', page)
    assert order[:4] == ["documents", "mentions", "dossiers", "events"] and order[-1] == "entities"
    assert {"source_health", "document_versions", "crawl_runs"} <= set(order) and "http_validators" not in order


def test_document_row_page_is_readable_prose_with_marked_mentions(sample):
    ds, db, ids = sample
    page = get(ds, f"/{DB}/documents/{ids['2025-03134']}").text
    reading = page.split('<article class="document-reading">')[1].split("</article>")[0]
    assert "Notice of Proposed Action on LOGINK" in reading and '<span class="stance stance-critical">' in reading
    marks = re.findall(r'<mark class="stance-([a-z]+)" title="([^"]+)">([^<]+)</mark>', reading)
    assert ("critical", "LOGINK: critical", "LOGINK") in marks and ("unclassified", "COSCO Shipping: unclassified", "COSCO Shipping") in marks
    assert len(marks) == 3  # every mention of the document, at its offsets
    assert 'href="https://example.gov/2025-03134"' in reading
    assert ".document-reading { max-width: 75ch;" in page
    crafted = get(ds, f"/{DB}/documents/{ids['2025-06927']}").text.split('<article class="document-reading">')[1]
    assert "Analysts said &lt;img src=x onerror=alert(1)&gt; <mark" in crafted and "<img src=x" not in crafted
    assert "Original document" not in crafted.split("</article>")[0]  # javascript: never becomes a link


def test_prose_splits_paragraphs_and_marks_by_offsets():
    from tracker.plugins.reading import prose

    text = "First <para> with LOGINK.\n\nSecond one: LOGINK and NEAL-NET."
    mentions = [{"text": "LOGINK", "start": 18, "end": 24, "stance": "critical", "entity": "LOGINK", "sentence": None},
                # sentence offsets (not the document's): found through the sentence
                {"text": "LOGINK", "start": 12, "end": 18, "stance": None, "entity": "LOGINK", "sentence": "Second one: LOGINK and NEAL-NET."},
                {"text": "NEAL-NET", "start": 51, "end": 59, "stance": "neutral", "entity": "NEAL-NET", "sentence": None}]
    paragraphs = [str(p) for p in prose(text, mentions)]
    assert paragraphs == [
        'First &lt;para&gt; with <mark class="stance-critical" title="LOGINK: critical">LOGINK</mark>.',
        'Second one: <mark class="stance-unclassified" title="LOGINK: unclassified">LOGINK</mark> and '
        '<mark class="stance-neutral" title="NEAL-NET: neutral">NEAL-NET</mark>.']


def test_hard_wrapped_text_keeps_its_paragraphs():
    from tracker.plugins.reading import prose

    bill = ("H. R. 6228\nTo require the Secretary of Transportation and the Commissioner of U.S.\n"
            "Customs and Border Protection to develop an alternative platform to\nLOGINK, and for other purposes.\n"
            + "_" * 71 + "\nIN THE HOUSE OF REPRESENTATIVES")
    paragraphs = [str(p) for p in prose(bill, [])]
    assert paragraphs == ["H. R. 6228", "To require the Secretary of Transportation and the Commissioner of U.S.\n"
                          "Customs and Border Protection to develop an alternative platform to\nLOGINK, and for other purposes.",
                          "_" * 71, "IN THE HOUSE OF REPRESENTATIVES"]


def test_search_page_has_count_facets_and_friendly_messages(sample):
    ds, _, ids = sample
    page = get(ds, f"/{DB}/search_documents?q=LOGINK").text
    assert re.search(r'class="search-count">3 documents match', page)
    facet = lambda name: dict(re.findall(r'<a href="[^"]+">([^<]+)</a> <span class="meta">(\d+)</span>',
                                         page.split(f"<h4>{name}</h4>")[1].split("</ul>")[0]))
    assert facet("Source") == {"federal-register": "2", "ep-open-data": "1"}
    assert facet("Stance") == {"critical": "1", "neutral": "1", "supportive": "1"}
    assert facet("Year") == {"2025": "2", "2024": "1"}
    filtered = get(ds, f"/{DB}/search_documents?q=LOGINK&source=federal-register").text
    assert re.search(r'class="search-count">2 documents match with\s+source = federal-register', filtered)
    assert 'class="result-title"' in filtered and filtered.count('class="result-title"') == 2
    for text, message in (("AND", "AND, OR and NOT go between words"), ("*", "type a word"),
                          ("port OR NOT crane", "OR NOT cannot be searched")):
        page = html.unescape(get(ds, f"/{DB}/search_documents?" + urlencode({"q": text})).text)
        error = page.split('<p class="message-error search-error">Cannot search this: ')[1].split("</p>")[0]
        assert message in error, (text, error)
    repaired = get(ds, f"/{DB}/search_documents?" + urlencode({"q": "LOGINK NOT"})).text
    assert "Searched with repairs: ignored a NOT with nothing after it." in repaired and "3 documents match" in repaired
    excluded = get(ds, f"/{DB}/search_documents?" + urlencode({"q": "NOT LOGINK"})).text
    assert "1 document matches" in excluded and "Question on port congestion" in excluded


def test_copies_of_one_document_are_one_search_result(tmp_path):
    path = tmp_path / f"{DB}.db"
    db, ids = build_sample(path)
    # the rule (2025-06927) as a copy of the notice (2025-03134), as db.identities records it
    db.execute("update documents set canonical_id = id")
    db.execute("update documents set canonical_id = ? where id = ?", [ids["2025-03134"], ids["2025-06927"]])
    ds = build_datasette(path)
    found = rows(ds, f"/{DB}/search_documents", q="LOGINK")
    assert {r["document_id"] for r in found} == {ids["2025-03134"], ids["TA-9-2024-0123"]}
    assert re.search(r'class="search-count">2 documents match', get(ds, f"/{DB}/search_documents?q=LOGINK").text)
    assert [r["document_id"] for r in rows(ds, f"/{DB}/search_documents", q="NOT congestion")] == [ids["TA-9-2024-0123"], ids["2025-03134"]]


def test_dashboard_opens_on_the_first_configured_topic(tmp_path):
    path = tmp_path / f"{DB}.db"
    build_sample(path)
    ds = build_datasette(path, default_topic="logink")
    response = get(ds, "/-/dashboards/mentions")
    assert response.status_code == 302 and response.headers["location"].endswith("/-/dashboards/mentions?topic=logink")
    assert get(ds, "/-/dashboards/mentions?topic=logink").status_code == 200


# ---------------------------------------------------------------- serving bounded (issue 14 item 7)


def test_security_headers_on_every_response(sample):
    ds, _, _ = sample
    for path in ("/", f"/{DB}/documents", f"/{DB}/documents.json", "/robots.txt", f"/{DB}/new_mentions_feed.atom", "/nothing-here"):
        headers = get(ds, path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"] and "object-src 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path


def test_one_value_and_one_response_are_capped(sample, monkeypatch):
    from tracker.plugins import guard

    ds, _, _ = sample
    response = get(ds, f"/{DB}.json?" + urlencode({"sql": "select randomblob(400000000)"}))
    assert response.status_code == 400 and "string or blob too big" in response.text  # was 533 MB of JSON
    monkeypatch.setattr(guard, "MAX_RESPONSE_BYTES", 200_000)
    big = get(ds, f"/{DB}.json?" + urlencode({"sql": "select hex(randomblob(150000)) as a, hex(randomblob(150000)) as b"}))
    assert big.status_code == 400 and big.text.startswith("400 Response too large") and len(big.content) < 1000
    assert get(ds, f"/{DB}/sources.json").status_code == 200  # small responses pass


SLOW_SQL = "with recursive c(x) as (select 1 union all select x + 1 from c where x < 4000000) select count(*) from c"


def test_a_cheap_page_is_not_stuck_behind_slow_queries(sample):
    ds, _, _ = sample

    async def run():
        async def timed(path):
            started = asyncio.get_running_loop().time()
            response = await ds.client.get(path)
            return response.status_code, asyncio.get_running_loop().time() - started

        slow = [asyncio.create_task(timed(f"/{DB}.json?" + urlencode({"sql": SLOW_SQL}))) for _ in range(6)]
        await asyncio.sleep(0.3)
        cheap = await timed(f"/{DB}/sources.json")
        return cheap, await asyncio.gather(*slow)

    (status, cheap_s), slow = asyncio.run(run())
    slowest = max(s for _, s in slow)
    assert status == 200 and all(code in (200, 400) for code, _ in slow)
    assert cheap_s < slowest / 2, (cheap_s, slow)  # served beside the slow ones, not after them


def test_password_attempts_are_throttled(tmp_path, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    from tracker.plugins import guard

    path = tmp_path / "locked.db"
    ensure_schema(connect(path))
    monkeypatch.setenv("TEST_TRACKER_HASH", hash_password("s3cret", iterations=1000))
    ds = build_datasette(path, password_env="TEST_TRACKER_HASH")
    auth = lambda pw: {"authorization": "Basic " + base64.b64encode(f"analyst:{pw}".encode()).decode()}
    codes = [get(ds, "/locked.json", headers=auth(f"guess{i}")).status_code for i in range(guard.LOGIN_FAILURES)]
    assert codes == [401] * guard.LOGIN_FAILURES
    blocked = get(ds, "/locked.json", headers=auth("s3cret"))  # even the right password waits out the window
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    posted = asyncio.run(ds.client.post("/-/login", data={"username": "analyst", "password": "x"}))
    assert posted.status_code == 429
    assert get(ds, "/locked.json").status_code == 401  # requests without credentials are not throttled


def test_login_form_posts_are_throttled(tmp_path, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    from datasette.app import Datasette

    from tracker.plugins import guard
    from tracker.serve import register_plugin, templates_dir

    path = tmp_path / "form.db"
    ensure_schema(connect(path))
    monkeypatch.setenv("TEST_TRACKER_HASH", hash_password("s3cret", iterations=1000))
    metadata = metadata_for("form", "TEST_TRACKER_HASH")
    metadata["plugins"]["datasette-auth-passwords"]["http_basic_auth"] = False  # the login form instead of Basic auth
    register_plugin()
    ds = Datasette([str(path)], metadata=metadata, settings=SETTINGS, template_dir=templates_dir())
    post = lambda pw: asyncio.run(ds.client.post("/-/login", data={"username": "analyst", "password": pw})).status_code
    assert [post("wrong") for _ in range(guard.LOGIN_FAILURES)] == [200] * guard.LOGIN_FAILURES  # the form again, with an error
    assert post("s3cret") == 429
