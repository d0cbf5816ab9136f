"""govinfo end to end over real HTTP: search paging by offsetMark, summaries and text renditions,
granules as documents, incremental re-crawl, 503 + Retry-After, API key handling, collections walk."""

from __future__ import annotations

import json

from tests.replay import FIXTURES

GI = FIXTURES / "govinfo" / "examples"
FILES = GI / "files"
PAGE2_MARK = json.loads((GI / "search_page1.json").read_text())["offsetMark"]
END_MARK = json.loads((GI / "search_page2.json").read_text())["offsetMark"]
ALL = {"BILLS-118hr1724ih", "BILLS-118s939is", "CREC-2024-03-19-pt1-PgH1213", "2025-03134", "PLAW-118publ31"}


def body(request) -> dict:
    return json.loads(request.get_data())


def serve_govinfo(replay):
    """Search: LOGINK has two pages then an empty one; every other term finds nothing. Summaries and texts.
    The recorded links point at api.govinfo.gov / www.govinfo.gov: the source rebases them onto its base_url."""
    rewrite = lambda path: path.read_bytes()
    replay.add("/search", (FILES / "search_empty.json").read_bytes(), content_type="application/json")
    replay.add("/search", rewrite(GI / "search_page1.json"), content_type="application/json",
               when=lambda r: body(r)["query"].startswith('"LOGINK"') and body(r)["offsetMark"] == "*")
    replay.add("/search", rewrite(GI / "search_page2.json"), content_type="application/json",
               when=lambda r: body(r)["query"].startswith('"LOGINK"') and body(r)["offsetMark"] == PAGE2_MARK)
    for page in ("search_page1.json", "search_page2.json"):
        for hit in json.loads((GI / page).read_text())["results"]:
            ident = hit["granuleId"] or hit["packageId"]
            replay.add(hit["resultLink"].replace("https://api.govinfo.gov", ""), rewrite(FILES / f"{ident}.summary.json"),
                       content_type="application/json")
            text = (FILES / f"{ident}.htm").read_bytes()
            if "txtLink" in hit["download"]:
                replay.add(hit["download"]["txtLink"].replace("https://api.govinfo.gov", ""), text, content_type="text/html")
            else:  # the CREC granule summary has no txtLink: the public content URL is used
                replay.add(f"/content/pkg/{hit['packageId']}/html/{ident}.htm", text, content_type="text/html")


def configure(env, replay, **keys):
    env.configure({"govinfo": {"base_url": replay.url(), **keys}},
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK", "covered logistics platform", "国家交通运输物流公共信息平台"]')


def test_search_pages_through_offset_marks_and_stores_every_collection(env, replay):
    serve_govinfo(replay)
    configure(env, replay)
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "govinfo: ok (new 5" in result.output
    docs = {d["source_id"]: d for d in env.db()["documents"].rows}
    assert set(docs) == ALL
    bill = docs["BILLS-118hr1724ih"]
    assert bill["doc_type"] == "bill_text" and bill["group_key"] == "us-bill:118-hr-1724"
    assert bill["institution"] == "U.S. House of Representatives" and bill["published_at"] == "2023-03-22"
    assert "Securing Maritime Data from" in bill["text"] and "<pre>" not in bill["text"] and "BILLS-118hr1724ih\n" not in bill["text"]
    assert bill["url"] == "https://www.govinfo.gov/app/details/BILLS-118hr1724ih"
    assert docs["BILLS-118s939is"]["group_key"] == "us-bill:118-s-939"
    crec = docs["CREC-2024-03-19-pt1-PgH1213"]
    assert crec["doc_type"] == "congressional_record" and "OCEAN SHIPPING REFORM" in crec["text"]
    assert json.loads(crec["metadata"])["packageId"] == "CREC-2024-03-19"
    assert docs["2025-03134"]["doc_type"] == "federal_register" and docs["PLAW-118publ31"]["doc_type"] == "public_law"
    assert docs["2025-03134"]["institution"] == "TRADE REPRESENTATIVE, OFFICE OF UNITED STATES"
    # paging: "*", then page 1's mark, then page 2's mark (answered by an empty page: the end)
    marks = [body(r)["offsetMark"] for r in replay.requests if r.path == "/search" and body(r)["query"].startswith('"LOGINK"')]
    assert marks == ["*", PAGE2_MARK, END_MARK]
    queries = {body(r)["query"] for r in replay.requests if r.path == "/search"}
    assert queries == {'"LOGINK" AND collection:(BILLS OR CREC OR FR OR PLAW)',
                       '"covered logistics platform" AND collection:(BILLS OR CREC OR FR OR PLAW)'}  # no Chinese-only term
    assert env.db()["sources"].get("govinfo")["watermark"].endswith("Z")


def test_second_crawl_is_incremental_and_adds_nothing(env, replay):
    serve_govinfo(replay)
    configure(env, replay)
    assert env.run("crawl", "govinfo", "--no-nlp").exit_code == 0
    watermark = env.db()["sources"].get("govinfo")["watermark"]
    before = len(replay.requests)
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0, unchanged 5" in result.output
    second = replay.requests[before:]
    assert {r.path for r in second} == {"/search"}  # nothing but the searches: no summary, no text refetched
    day = watermark[:10]
    assert all("AND lastModified:range(" in body(r)["query"] for r in second)
    assert all(body(r)["query"].endswith(",)") and day not in body(r)["query"] for r in second)  # watermark minus overlap
    db = env.db()
    assert db["documents"].count == 5 and db["document_versions"].count == 5


def test_changed_package_is_refetched_as_a_new_version(env, replay):
    serve_govinfo(replay)
    configure(env, replay)
    env.run("crawl", "govinfo", "--no-nlp")
    page2 = json.loads((GI / "search_page2.json").read_text())
    page2["results"][1]["lastModified"] = "2026-01-05T10:00:00Z"  # PLAW republished
    replay.add("/search", json.dumps(page2), content_type="application/json",
               when=lambda r: body(r)["query"].startswith('"LOGINK"') and body(r)["offsetMark"] == PAGE2_MARK)
    amended = (FILES / "PLAW-118publ31.htm").read_text().replace("FISCAL YEAR 2024", "FISCAL YEAR 2024 (corrected print)", 1)
    replay.add("/packages/PLAW-118publ31/htm", amended, content_type="text/html")
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert "new 0, updated 1, unchanged 4" in result.output, result.output
    doc = next(env.db()["documents"].rows_where("source_id = 'PLAW-118publ31'"))
    assert doc["version"] == 2 and "corrected print" in doc["text"]
    assert json.loads(doc["metadata"])["lastModified"] == "2026-01-05T10:00:00Z"


def test_503_with_retry_after_is_waited_out(env, replay):
    serve_govinfo(replay)
    replay.add("/search", b"Service Unavailable", status=503, headers={"Retry-After": "1"}, times=1)
    configure(env, replay)
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "govinfo: ok (new 5" in result.output
    searches = [r for r in replay.requests if r.path == "/search"]
    assert body(searches[0]) == body(searches[1])  # the same request, retried
    assert env.db()["documents"].count == 5


def test_api_key_from_environment_goes_in_a_header_only(env, replay, monkeypatch):
    serve_govinfo(replay)
    monkeypatch.setenv("GOVINFO_TEST_KEY", "s3cret-govinfo-key")
    configure(env, replay, api_key_env="GOVINFO_TEST_KEY")
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert result.exit_code == 0, result.output
    api = [r for r in replay.requests if not r.path.startswith("/content/")]
    assert api and all(r.headers.get("X-Api-Key") == "s3cret-govinfo-key" for r in api)
    assert all("s3cret" not in r.full_path for r in replay.requests)
    dump = "\n".join(line for line in env.db().conn.iterdump())
    assert "s3cret" not in dump


def test_demo_key_is_used_with_a_warning_when_no_key_is_set(env, replay, monkeypatch):
    serve_govinfo(replay)
    monkeypatch.delenv("GOVINFO_API_KEY", raising=False)
    configure(env, replay)
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert result.exit_code == 0
    assert all(r.headers.get("X-Api-Key") == "DEMO_KEY" for r in replay.requests if r.path == "/search")
    assert "level=warning" in result.stderr and "using DEMO_KEY" in result.stderr


def test_error_body_and_malformed_search_fail_the_run(env, replay):
    replay.add("/search", b'{"error": {"code": "OVER_RATE_LIMIT", "message": "You have exceeded your rate limit."}}',
               content_type="application/json")
    configure(env, replay)
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert result.exit_code == 1 and "govinfo: failed" in result.output and "OVER_RATE_LIMIT" in result.output
    replay.add("/search", b'{"count": 3}', content_type="application/json")
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert result.exit_code == 1 and "lacks a 'results' list" in result.output
    assert env.db()["documents"].count == 0


def test_missing_text_rendition_fails_the_item_not_the_run(env, replay):
    serve_govinfo(replay)
    replay.add("/packages/PLAW-118publ31/htm", b"Not Found", status=404)
    configure(env, replay)
    result = env.run("crawl", "govinfo", "--no-nlp")
    assert result.exit_code == 1 and "govinfo: partial (new 4" in result.output
    assert "PLAW-118publ31" in result.output and "HTTP 404" in result.output
    # the 404 fell through to the XML rendition and the public content URL before giving up
    assert replay.hits("/packages/PLAW-118publ31/xml") == 1 and replay.hits("/content/pkg/PLAW-118publ31/html/PLAW-118publ31.htm") == 1
    assert env.db()["sources"].get("govinfo")["watermark"] is None  # a partial run does not move it


def test_collections_walk_pages_expands_granules_and_keeps_only_relevant_texts(env, replay):
    replay.add("/search", (FILES / "search_empty.json").read_bytes(), content_type="application/json")
    page1 = {"count": 2, "message": None, "previousPage": None,
             "nextPage": "https://api.govinfo.gov/collections/CREC/2019-01-01T00:00:00Z?offsetMark=AoJ2&pageSize=100",
             "packages": [{"packageId": "CREC-2024-03-19", "lastModified": "2024-03-20T09:41:05Z",
                           "packageLink": "https://api.govinfo.gov/packages/CREC-2024-03-19/summary"}]}
    page2 = {"count": 2, "message": None, "previousPage": None, "nextPage": None,
             "packages": [{"packageId": "CREC-2024-03-20", "lastModified": "2024-03-21T08:00:00Z",
                           "packageLink": "https://api.govinfo.gov/packages/CREC-2024-03-20/summary"}]}
    replay.add("/collections/CREC/2019-01-01T00:00:00Z", json.dumps(page1), content_type="application/json",
               when=lambda r: r.args.get("offsetMark") == "*")
    replay.add("/collections/CREC/2019-01-01T00:00:00Z", json.dumps(page2), content_type="application/json",
               when=lambda r: r.args.get("offsetMark") == "AoJ2")
    granule = "CREC-2024-03-19-pt1-PgH1213"
    replay.add("/packages/CREC-2024-03-19/granules", json.dumps({"count": 1, "nextPage": None, "granules": [
        {"title": "OCEAN SHIPPING REFORM IMPLEMENTATION ACT OF 2023", "granuleId": granule,
         "granuleLink": f"https://api.govinfo.gov/packages/CREC-2024-03-19/granules/{granule}/summary"}]}), content_type="application/json")
    replay.add("/packages/CREC-2024-03-20/granules", json.dumps({"count": 1, "nextPage": None, "granules": [
        {"title": "LOGINK", "granuleId": "CREC-2024-03-20-pt1-PgS1", "granuleLink": "https://api.govinfo.gov/packages/CREC-2024-03-20/granules/CREC-2024-03-20-pt1-PgS1/summary"}]}),
        content_type="application/json")
    replay.add(f"/packages/CREC-2024-03-19/granules/{granule}/summary", (FILES / f"{granule}.summary.json").read_bytes(), content_type="application/json")
    replay.add(f"/content/pkg/CREC-2024-03-19/html/{granule}.htm", (FILES / f"{granule}.htm").read_bytes(), content_type="text/html")
    other = {"packageId": "CREC-2024-03-20", "granuleId": "CREC-2024-03-20-pt1-PgS1", "collectionCode": "CREC",
             "title": "PORT SECURITY", "download": {"txtLink": "https://api.govinfo.gov/packages/CREC-2024-03-20/granules/CREC-2024-03-20-pt1-PgS1/htm"}}
    replay.add("/packages/CREC-2024-03-20/granules/CREC-2024-03-20-pt1-PgS1/summary", json.dumps(other), content_type="application/json")
    replay.add("/packages/CREC-2024-03-20/granules/CREC-2024-03-20-pt1-PgS1/htm",
               "<html><body><pre>Mr. SMITH. Our ports must stop using LOGINK, the Chinese logistics platform.</pre></body></html>",
               content_type="text/html")
    configure(env, replay, collections=["CREC"])
    from tracker.crawl import crawl
    from db.schema import connect, ensure_schema
    from tracker.config import load_config

    db = connect(env.db_path)
    ensure_schema(db)
    results = crawl(db, load_config(str(env.config_path)), ["govinfo"], relevance=lambda text: "LOGINK" in text)
    assert results[0].status == "ok", results[0].message
    assert [d["source_id"] for d in db["documents"].rows] == ["CREC-2024-03-20-pt1-PgS1"]  # the irrelevant granule is not stored
    assert db["seen_urls"].count == 1  # ... but remembered, so the next walk does not fetch it again
    again = crawl(db, load_config(str(env.config_path)), ["govinfo"], full=True, relevance=lambda text: "LOGINK" in text)
    assert again[0].status == "ok"
    assert replay.hits(f"/content/pkg/CREC-2024-03-19/html/{granule}.htm") == 1
