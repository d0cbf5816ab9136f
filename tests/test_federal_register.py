"""federal-register end to end over real HTTP: paging by the real next_page_url (no ``.json``, every
query parameter repeated with ``format=json``, since 2026 a ``search_after_cursor``), full text,
provenance, docket ids, incremental re-crawl, failures, the page cap and the run budget."""

from __future__ import annotations

import json

import pytest

from tests.replay import FIXTURES

FR = FIXTURES / "federal-register" / "examples"
LISTING = "/api/v1/documents.json"
NEXT = "/api/v1/documents"  # where the real next_page_url points (no .json)


def is_next_page(request, page: str) -> bool:
    """A request for page ``page`` by the upstream's own link: every parameter of the first query
    repeated (term, date, fields) plus ``format=json``."""
    return (request.args.get("page") == page and request.args.get("format") == "json"
            and request.args.get("conditions[term]") == "LOGINK" and "conditions[publication_date][gte]" in request.args
            and "raw_text_url" in request.args.getlist("fields[]"))


def serve_fr(replay, failing_text: str | None = None):
    """The recorded upstream: two listing pages for LOGINK, nothing for other terms, three bodies."""
    rewrite = lambda path: path.read_text().replace("https://www.federalregister.gov", replay.url())
    replay.add(LISTING, (FR / "files" / "documents_empty.json").read_bytes(), content_type="application/json")
    replay.add(LISTING, rewrite(FR / "documents_page1.json"), content_type="application/json",
               when=lambda r: r.args.get("conditions[term]") == "LOGINK" and r.args.get("page", "1") == "1")
    replay.add(NEXT, rewrite(FR / "documents_page2.json"), content_type="application/json",
               when=lambda r: is_next_page(r, "2"))
    for page in ("documents_page1.json", "documents_page2.json"):
        for doc in json.loads((FR / page).read_text())["results"]:
            path = doc["raw_text_url"].replace("https://www.federalregister.gov", "")
            replay.add(path, (FR / "files" / f"{doc['document_number']}.txt").read_bytes(), content_type="text/html; charset=utf-8")


def configure(env, replay, **keys):
    env.configure({"federal-register": {"base_url": replay.url("/api/v1"), **keys}},
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK", "covered logistics platform"]')


def test_crawl_stores_documents_with_text_and_provenance(env, replay):
    serve_fr(replay)
    configure(env, replay)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "federal-register: ok (new 3" in result.output
    db = env.db()
    docs = {d["source_id"]: d for d in db["documents"].rows}
    assert set(docs) == {"2025-03134", "2025-06927", "2024-18770"}
    notice = docs["2025-03134"]
    assert "National Transportation and Logistics Public Information Platform" in notice["text"]
    assert notice["title"].startswith("Notice of Proposed Action")
    assert notice["url"].endswith("/documents/2025/02/25/2025-03134/" + notice["url"].rsplit("/", 1)[-1])
    assert notice["published_at"] == "2025-02-25" and notice["doc_type"] == "notice"
    assert notice["institution"] == "Trade Representative, Office of United States"
    assert notice["content_hash"] and notice["fetched_at"] and notice["parser_version"] == "1" and notice["version"] == 1
    assert json.loads(notice["metadata"])["citation"] == "90 FR 10843"
    # the listing asked for the full-text fields explicitly, and paging followed next_page_url as given
    first = next(r for r in replay.requests if r.path == LISTING and r.args.get("conditions[term]") == "LOGINK")
    assert {"raw_text_url", "body_html_url"} <= set(first.args.getlist("fields[]"))
    assert [r.args.get("page") for r in replay.requests if r.path == NEXT] == ["2"]
    # docket ids come prefixed ("DOCKET #: ...", "Docket No. ..."): stored bare, the raw kept beside
    ustr, marad = json.loads(notice["metadata"]), json.loads(docs["2024-18770"]["metadata"])
    assert ustr["docket_ids"] == ["USTR-2025-0002"] and ustr["docket_ids_raw"] == ["Docket No. USTR-2025-0002"]
    assert marad["docket_ids"] == ["MARAD-2024-0051"] and marad["docket_ids_raw"] == ["DOCKET #: MARAD-2024-0051"]
    run = list(db["crawl_runs"].rows)[-1]
    assert run["status"] == "ok" and run["new"] == 3 and run["finished_at"]
    source = db["sources"].get("federal-register")
    assert source["watermark"] == "2025-04-21" and source["last_success_at"]


def test_second_crawl_adds_and_refetches_nothing(env, replay):
    serve_fr(replay)
    configure(env, replay)
    assert env.run("crawl", "federal-register", "--no-nlp").exit_code == 0
    text_requests = sum(1 for r in replay.requests if r.path.endswith(".txt"))
    before = len(replay.requests)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0, unchanged 3" in result.output
    assert sum(1 for r in replay.requests if r.path.endswith(".txt")) == text_requests  # no body refetched
    second = [r for r in replay.requests[before:] if r.path == LISTING and "page" not in r.args]
    assert second and all(r.args["conditions[publication_date][gte]"] == "2025-04-18" for r in second)  # watermark - overlap
    db = env.db()
    assert db["documents"].count == 3 and db["document_versions"].count == 3


def test_changed_document_becomes_a_new_version(env, replay):
    serve_fr(replay)
    configure(env, replay)
    env.run("crawl", "federal-register", "--no-nlp")
    changed = (FR / "files" / "2025-06927.txt").read_text().replace("transition period", "transition period of one year")
    replay.add("/documents/full_text/text/2025/04/21/2025-06927.txt", changed, content_type="text/html")
    result = env.run("crawl", "federal-register", "--no-nlp", "--full")
    assert "updated 1" in result.output, result.output
    db = env.db()
    doc = next(db["documents"].rows_where("source_id = ?", ["2025-06927"]))
    assert doc["version"] == 2 and "of one year" in doc["text"]
    versions = list(db["document_versions"].rows_where("document_id = ?", [doc["id"]], order_by="version"))
    assert [v["version"] for v in versions] == [1, 2] and "of one year" not in versions[0]["text"]


def test_upstream_500_records_failed_run_and_keeps_data(env, replay):
    serve_fr(replay)
    configure(env, replay)
    env.run("crawl", "federal-register", "--no-nlp")
    snapshot = sorted((d["source_id"], d["content_hash"]) for d in env.db()["documents"].rows)
    replay.add(LISTING, b"Internal Server Error", status=500)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 1
    assert "federal-register: failed" in result.output and "HTTP 500" in result.output
    db = env.db()
    assert sorted((d["source_id"], d["content_hash"]) for d in db["documents"].rows) == snapshot
    run = list(db["crawl_runs"].rows)[-1]
    assert run["status"] == "failed" and "HTTP 500" in run["message"]
    assert sum(1 for r in replay.requests if r.path == LISTING) >= 3  # retried before giving up
    assert db["sources"].get("federal-register")["watermark"] == "2025-04-21"  # not moved


def test_truncated_json_fails_cleanly(env, replay):
    replay.add(LISTING, b'{"count": 3, "results": [{"document_number": "2025-0', content_type="application/json")
    configure(env, replay)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 1 and "malformed JSON" in result.output
    assert env.db()["documents"].count == 0


def test_json_without_expected_keys_is_an_error(env, replay):
    replay.add(LISTING, b'{"unexpected": true}', content_type="application/json")
    configure(env, replay)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 1 and "lacks the 'count' key" in result.output


def test_challenge_page_is_blocked(env, replay):
    replay.add(LISTING, b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    configure(env, replay)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 1 and "federal-register: blocked" in result.output
    run = list(env.db()["crawl_runs"].rows)[-1]
    assert run["status"] == "blocked" and env.db()["documents"].count == 0


def test_body_over_size_limit_is_refused(env, replay):
    serve_fr(replay)
    env.configure({"federal-register": {"base_url": replay.url("/api/v1")}}, http="max_bytes = 1500",
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]')
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 1 and "exceeds max_bytes=1500" in result.output
    assert env.db()["documents"].count == 0


def test_listing_that_ignores_the_page_number_does_not_loop(env, replay):
    """A replay or mirror answering every listing request with page 1 (query ignored) hands the same
    next_page_url back: it is followed once, never again; what was read is stored and the run is
    partial with a message naming the loop (the watermark does not move)."""
    serve_fr(replay)
    page1 = (FR / "documents_page1.json").read_text().replace("https://www.federalregister.gov", replay.url())
    for path in (LISTING, NEXT):
        replay.add(path, page1, content_type="application/json",
                   when=lambda r: r.args.get("conditions[term]") == "LOGINK" or r.args.get("page") == "2",
                   times=5)  # bounded, so a regression fails the assertion below instead of hanging
    configure(env, replay)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 1 and "federal-register: partial" in result.output, result.output
    assert sum(1 for r in replay.requests if r.path == NEXT and r.args.get("page") == "2") == 1
    assert env.db()["documents"].count == len(json.loads(page1)["results"])
    run = list(env.db()["crawl_runs"].rows)[-1]
    assert run["status"] == "partial" and "loop" in run["message"] and "repeats the entries" in run["message"]
    assert env.db()["sources"].get("federal-register")["watermark"] is None


def test_missing_raw_text_falls_through_to_the_html_body(env, replay):
    """A raw text that is not there (404) or empty is replaced by ``body_html_url``; the document is
    stored from the HTML body and the run stays ok."""
    serve_fr(replay)
    replay.add("/documents/full_text/text/2024/08/21/2024-18770.txt", b"not recorded", status=404)
    replay.add("/documents/full_text/text/2025/02/25/2025-03134.txt", b"<html><body><pre>\n</pre></body></html>",
               content_type="text/html")
    for number, date in (("2024-18770", "2024/08/21"), ("2025-03134", "2025/02/25")):
        replay.add(f"/documents/full_text/html/{date}/{number}.html",
                   f"<div class='body-column'><h1>Document {number}</h1><p>The LOGINK platform is named here.</p></div>",
                   content_type="text/html")
    configure(env, replay)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "federal-register: ok (new 3" in result.output
    docs = {d["source_id"]: d for d in env.db()["documents"].rows}
    for number in ("2024-18770", "2025-03134"):
        assert "The LOGINK platform is named here." in docs[number]["text"]
        assert json.loads(docs[number]["metadata"])["text_url"].endswith(f"/{number}.html")
    assert json.loads(docs["2025-06927"]["metadata"])["text_url"].endswith("/2025-06927.txt")


def test_base_url_under_a_path_prefix_keeps_the_prefix_on_upstream_links(env, replay):
    """A mirror or replay serving the upstream under a prefix (``/fr/api/v1``): next_page_url and the
    raw_text_url links (recorded on www.federalregister.gov) are fetched under the same prefix."""
    prefixed = lambda path: "/fr" + path
    replay.add(prefixed(LISTING), (FR / "files" / "documents_empty.json").read_bytes(), content_type="application/json")
    for page, path, when in (("documents_page1.json", LISTING, lambda r: r.args.get("conditions[term]") == "LOGINK"),
                             ("documents_page2.json", NEXT, lambda r: is_next_page(r, "2"))):
        replay.add(prefixed(path), (FR / page).read_bytes(), content_type="application/json", when=when)
        for doc in json.loads((FR / page).read_text())["results"]:
            path = doc["raw_text_url"].replace("https://www.federalregister.gov", "")
            replay.add(prefixed(path), (FR / "files" / f"{doc['document_number']}.txt").read_bytes(), content_type="text/html")
    configure(env, replay, base_url=replay.url("/fr/api/v1"))
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "federal-register: ok (new 3" in result.output
    assert all(r.path.startswith("/fr/") for r in replay.requests)


def test_cursor_link_of_2026_is_followed_exactly(env, replay):
    """Since 2026 ``next_page_url`` carries ``search_after_cursor``: the crawler follows the link as
    given (cursor, page, per_page and format untouched) and stops at the last page."""
    rewrite = lambda text: text.replace("https://www.federalregister.gov", replay.url())
    page1 = rewrite((FR / "documents_cursor_page1.json").read_text())
    cursor = json.loads(page1)["next_page_url"].split("search_after_cursor=", 1)[1]
    last = json.loads(rewrite((FR / "documents_page2.json").read_text()))
    last.pop("next_page_url", None)
    replay.add(LISTING, (FR / "files" / "documents_empty.json").read_bytes(), content_type="application/json")
    replay.add(LISTING, page1, content_type="application/json", when=lambda r: r.args.get("conditions[term]") == "LOGINK")
    replay.add(NEXT, json.dumps(last), content_type="application/json",
               when=lambda r: r.args.get("search_after_cursor") == cursor and r.args.get("per_page") == "1")
    for doc in json.loads(page1)["results"] + last["results"]:
        path = doc["raw_text_url"].replace(replay.url(), "")
        replay.add(path, (FR / "files" / f"{doc['document_number']}.txt").read_bytes(), content_type="text/html")
    configure(env, replay)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 0 and "federal-register: ok (new 2" in result.output, result.output
    followed = [r for r in replay.requests if r.path == NEXT]
    assert len(followed) == 1 and followed[0].args.get("format") == "json" and followed[0].args.get("order") == "newest"
    assert {d["source_id"] for d in env.db()["documents"].rows} == {"2025-03134", "2025-06927"}


def test_endless_next_page_url_stops_at_the_page_cap(env, replay):
    """An upstream whose every page links to a new next page (26,673 requests in 45 s before) is
    read up to ``max_pages`` and the run is partial, saying so; the pages read are stored."""
    serve_fr(replay)
    from werkzeug import Response

    def endless(request):
        page = int(request.args.get("page", "1"))
        body = json.loads((FR / "documents_page1.json").read_text().replace("https://www.federalregister.gov", replay.url()))
        body["results"] = [dict(body["results"][0], document_number=f"2099-{page:05d}")]
        body["next_page_url"] = f"{replay.url()}{NEXT}?conditions%5Bterm%5D=LOGINK&format=json&page={page + 1}"
        return Response(json.dumps(body), headers={"Content-Type": "application/json"})

    replay.add(LISTING, endless, when=lambda r: r.args.get("conditions[term]") == "LOGINK")
    replay.add(NEXT, endless)
    replay.add("/documents/full_text/text/2024/08/21/2024-18770.txt", (FR / "files" / "2024-18770.txt").read_bytes(),
               content_type="text/html")
    configure(env, replay, max_pages=7)
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert result.exit_code == 1 and "federal-register: partial" in result.output, result.output
    listing = [r for r in replay.requests if r.path in (LISTING, NEXT) and r.args.get("conditions[term]") == "LOGINK"]
    assert len(listing) == 7
    run = list(env.db()["crawl_runs"].rows)[-1]
    assert run["status"] == "partial" and "max_pages=7" in run["message"]
    assert env.db()["documents"].count == 7 and env.db()["sources"].get("federal-register")["watermark"] is None


def test_run_budget_stops_a_slow_crawl_cleanly(env, replay):
    """A run that outlives ``run_budget_s`` stops between pages: what was stored stays, the run is
    recorded partial with a message naming the budget, and the watermark does not move."""
    import time

    serve_fr(replay)
    from werkzeug import Response

    def slow(request):
        time.sleep(0.6)
        page = int(request.args.get("page", "1"))
        body = json.loads((FR / "documents_page1.json").read_text().replace("https://www.federalregister.gov", replay.url()))
        body["results"] = [dict(body["results"][0], document_number=f"2099-{page:05d}")]
        body["next_page_url"] = f"{replay.url()}{NEXT}?conditions%5Bterm%5D=LOGINK&format=json&page={page + 1}"
        return Response(json.dumps(body), headers={"Content-Type": "application/json"})

    replay.add(LISTING, slow, when=lambda r: r.args.get("conditions[term]") == "LOGINK")
    replay.add(NEXT, slow)
    replay.add("/documents/full_text/text/2024/08/21/2024-18770.txt", (FR / "files" / "2024-18770.txt").read_bytes(),
               content_type="text/html")
    configure(env, replay, run_budget_s=2)
    started = time.monotonic()
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert time.monotonic() - started < 20
    assert result.exit_code == 1 and "federal-register: partial" in result.output, result.output
    run = list(env.db()["crawl_runs"].rows)[-1]
    assert run["status"] == "partial" and "run_budget_s" in run["message"] and run["finished_at"]
    assert 1 <= env.db()["documents"].count <= 6
    assert env.db()["sources"].get("federal-register")["watermark"] is None


def test_bad_option_fails_the_run_naming_the_key(env, replay):
    serve_fr(replay)
    configure(env, replay, per_page="many")
    result = env.run("crawl", "federal-register", "--no-nlp")
    # refused when the source starts (exit 1) or already when the configuration is read (exit 2)
    assert result.exit_code in (1, 2) and "sources.federal-register.per_page: expected int" in result.output
    assert env.db_path.exists() is False or env.db()["documents"].count == 0


def test_docket_prefixes_are_normalised():
    from crawler.errors import ParseError
    from crawler.sources.federal_register import normalise_docket

    assert normalise_docket("DOCKET #: RBS-23-BUSINESS-0024") == "RBS-23-BUSINESS-0024"
    assert normalise_docket("Docket No. FMC-2022-0067") == "FMC-2022-0067"
    assert normalise_docket("USTR-2025-0002") == "USTR-2025-0002"
    with pytest.raises(ParseError):
        normalise_docket("Docket No. ")
