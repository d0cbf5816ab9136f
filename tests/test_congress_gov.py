"""congress-gov end to end over real HTTP: tracked bills as dossiers with actions and text versions,
paging through pagination.next, incremental update listing, 429 + Retry-After, {"error": ...} bodies,
empty textVersions, the challenge-page fallback to govinfo, bills handed over by govinfo."""

from __future__ import annotations

import json

import pytest

from crawler.sources._congress_bills import choose_format, normalise_bill_id, version_code, version_text
from tests.replay import FIXTURES

CG = FIXTURES / "congress-gov" / "examples"
FILES = CG / "files"
BILLS = ("118-hr-1724", "118-s-939", "118-hr-6228")


def serve_bill(replay, bid: str, actions_pages: int = 1):
    """The recorded bill: record, titles, committees, actions (optionally split over two pages), text, bodies."""
    congress, kind, number = bid.split("-")
    api = f"/v3/bill/{congress}/{kind}/{number}"
    replay.add(api, (CG / f"{bid}.json").read_bytes(), content_type="application/json")
    for name in ("titles", "committees", "text"):
        replay.add(f"{api}/{name}", (FILES / f"{bid}.{name}.json").read_bytes(), content_type="application/json")
    actions = json.loads((FILES / f"{bid}.actions.json").read_text())
    if actions_pages == 1:
        replay.add(f"{api}/actions", json.dumps(actions), content_type="application/json")
    else:
        first, rest = dict(actions, actions=actions["actions"][:3]), dict(actions, actions=actions["actions"][3:])
        first["pagination"] = {"count": 5, "next": f"https://api.congress.gov{api}/actions?offset=3&limit=3&format=json"}
        replay.add(f"{api}/actions", json.dumps(first), content_type="application/json", when=lambda r: "offset" not in r.args)
        replay.add(f"{api}/actions", json.dumps(rest), content_type="application/json", when=lambda r: r.args.get("offset") == "3")
    for version in json.loads((FILES / f"{bid}.text.json").read_text())["textVersions"]:
        url = next(f["url"] for f in version["formats"] if f["type"] == "Formatted Text")
        stem = url.rsplit("/", 1)[1].removesuffix(".htm")
        replay.add(url.replace("https://www.congress.gov", ""), (FILES / f"{stem}.htm").read_bytes(), content_type="text/html")


def serve_all(replay):
    serve_bill(replay, "118-hr-1724", actions_pages=2)
    serve_bill(replay, "118-s-939")
    serve_bill(replay, "118-hr-6228")
    # congress.gov answers the H.R. 6228 text with a Cloudflare challenge; govinfo has the same file
    replay.add("/118/bills/hr6228/BILLS-118hr6228ih.htm",
               b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>challenge-platform</body></html>",
               status=403, content_type="text/html")
    replay.add("/content/pkg/BILLS-118hr6228ih/html/BILLS-118hr6228ih.htm", (FILES / "BILLS-118hr6228ih.htm").read_bytes(),
               content_type="text/html")


def configure(env, replay, bills=BILLS, **keys):
    env.configure({"congress-gov": {"base_url": replay.url("/v3"), "bills": list(bills), **keys}})


def test_tracked_bills_become_dossiers_with_actions_and_text_versions(env, replay):
    serve_all(replay)
    configure(env, replay)
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "congress-gov: ok (new 6" in result.output and "requests 20)" in result.output  # 3 dossiers + 3 text versions
    db = env.db()
    docs = {d["source_id"]: d for d in db["documents"].rows}
    assert set(docs) == {"118-hr-1724/ih", "118-s-939/is", "118-hr-6228/ih"}
    hr1724 = docs["118-hr-1724/ih"]
    assert hr1724["doc_type"] == "bill_text" and hr1724["group_key"] == "us-bill:118-hr-1724"
    assert hr1724["institution"] == "U.S. House of Representatives" and hr1724["published_at"] == "2023-03-22"
    assert hr1724["title"] == "H.R. 1724 (Introduced in House): Securing Maritime Data from Communist China Act"
    assert "To counter the spread of the LOGINK logistics information platform" in hr1724["text"]
    assert hr1724["url"] == "https://www.congress.gov/118/bills/hr1724/BILLS-118hr1724ih.htm"
    assert docs["118-s-939/is"]["institution"] == "U.S. Senate" and "COUNTERING THE SPREAD OF LOGINK" in docs["118-s-939/is"]["text"]
    dossier = db["dossiers"].get("us-bill:118-hr-1724")
    assert dossier["kind"] == "bill" and dossier["title"] == "Securing Maritime Data from Communist China Act"
    assert dossier["stage"] == "Introduced" and dossier["status"].startswith("Referred to the Committee on Foreign Affairs")
    meta = json.loads(dossier["metadata"])
    assert meta["sponsors"][0]["name"] == "Rep. Steel, Michelle [R-CA-45]" and meta["cosponsors_count"] == 10
    assert [c["name"] for c in meta["committees"]] == ["Foreign Affairs Committee", "Armed Services Committee", "Ways and Means Committee"]
    assert {"type": "Official Title as Introduced", "title": "To counter the spread of the LOGINK logistics information platform, and for other purposes."} in meta["titles"]
    # actions came from two pages; the per-committee referrals and LoC duplicates collapse into two events
    assert any(r.args.get("offset") == "3" for r in replay.requests if r.path.endswith("/actions"))
    actions = list(db.query("select * from bill_actions where bill = 'us-bill:118-hr-1724' order by description"))
    assert [a["description"] for a in actions] == ["Introduced in House", json.loads((CG / "118-hr-1724.json").read_text())["bill"]["latestAction"]["text"]]
    assert actions[1]["actor"] == "Foreign Affairs Committee; Armed Services Committee; Ways and Means Committee"
    assert actions[1]["kind"] == "IntroReferral" and actions[1]["date"] == "2023-03-22"
    # every API call asked for JSON
    assert all(r.args.get("format") == "json" for r in replay.requests if r.path.startswith("/v3/"))


def test_challenge_page_falls_back_to_govinfo(env, replay):
    serve_all(replay)
    configure(env, replay, bills=["118-hr-6228"])
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "congress-gov: ok (new 2" in result.output  # not blocked, not partial
    doc = next(env.db()["documents"].rows_where("source_id = '118-hr-6228/ih'"))
    assert doc["url"] == "https://www.govinfo.gov/content/pkg/BILLS-118hr6228ih/html/BILLS-118hr6228ih.htm"
    assert json.loads(doc["metadata"])["text_via"] == "govinfo" and "alternative platform to" in doc["text"]
    assert replay.hits("/118/bills/hr6228/BILLS-118hr6228ih.htm") == 1  # a challenge is not retried


def test_second_crawl_uses_the_update_listing_and_adds_nothing(env, replay):
    serve_all(replay)
    configure(env, replay)
    assert env.run("crawl", "congress-gov", "--no-nlp").exit_code == 0
    watermark = env.db()["sources"].get("congress-gov")["watermark"]
    replay.add("/v3/bill", (FILES / "bill_updates_page1.json").read_bytes(), content_type="application/json",
               when=lambda r: "offset" not in r.args)
    replay.add("/v3/bill", json.dumps({"bills": [], "pagination": {"count": 2}}), content_type="application/json",
               when=lambda r: r.args.get("offset") == "2")
    before = len(replay.requests)
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0, unchanged 0" in result.output
    second = replay.requests[before:]
    assert {r.path for r in second} == {"/v3/bill"} and len(second) == 2  # both listing pages, no bill fetched
    first = second[0]
    assert first.args["sort"] == "updateDate asc" and first.args["limit"] == "250" and first.args["format"] == "json"
    assert first.args["fromDateTime"] < watermark and first.args["fromDateTime"].endswith("Z")  # watermark minus overlap
    assert env.db()["documents"].count == 3


def test_second_crawl_without_the_update_listing_rereads_the_bills_and_adds_nothing(env, replay):
    """A mirror or replay of the API may lack ``/bill`` (404): the run re-reads every tracked bill
    instead of failing, and since nothing changed it stores nothing and fetches no text."""
    serve_all(replay)
    configure(env, replay)
    assert env.run("crawl", "congress-gov", "--no-nlp").exit_code == 0
    before = len(replay.requests)
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "congress-gov: ok (new 0, updated 0, unchanged 6" in result.output
    second = replay.requests[before:]
    assert second[0].path == "/v3/bill"  # the listing was tried first
    assert not any(r.path.endswith(".htm") for r in second)  # no text version fetched again
    assert env.db()["documents"].count == 3


def test_updated_bill_in_listing_is_refetched_and_text_only_when_it_changed(env, replay):
    serve_all(replay)
    configure(env, replay)
    env.run("crawl", "congress-gov", "--no-nlp")
    replay.add("/v3/bill", (FILES / "bill_updates_page1.json").read_bytes(), content_type="application/json",
               when=lambda r: "offset" not in r.args)
    replay.add("/v3/bill", (FILES / "bill_updates_page2.json").read_bytes(), content_type="application/json",
               when=lambda r: r.args.get("offset") == "2")
    # the record changed (a new action) but updateDateIncludingText did not: no text refetch
    record = json.loads((CG / "118-hr-1724.json").read_text())
    record["bill"]["updateDate"] = "2026-11-20T08:01:12Z"
    record["bill"]["latestAction"] = {"actionDate": "2026-11-19", "text": "Referred to the Subcommittee on Coast Guard and Maritime Transportation."}
    replay.add("/v3/bill/118/hr/1724", json.dumps(record), content_type="application/json")
    text_hits = replay.hits("/118/bills/hr1724/BILLS-118hr1724ih.htm")
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 1, unchanged 1" in result.output  # the dossier updated, the text version skipped
    assert replay.hits("/118/bills/hr1724/BILLS-118hr1724ih.htm") == text_hits
    assert replay.hits("/v3/bill/118/s/939") == 1  # not in the listing: not fetched again
    assert env.db()["dossiers"].get("us-bill:118-hr-1724")["status"].startswith("Referred to the Subcommittee")
    # now the text changed too: the version is refetched and stored as version 2
    record["bill"]["updateDateIncludingText"] = "2026-11-20T08:01:12Z"
    replay.add("/v3/bill/118/hr/1724", json.dumps(record), content_type="application/json")
    changed = (FILES / "BILLS-118hr1724ih.htm").read_text().replace("Mr. Guest", "Mr. Guest, Mr. Moolenaar")
    replay.add("/118/bills/hr1724/BILLS-118hr1724ih.htm", changed, content_type="text/html")
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert "new 0, updated 2, unchanged 0" in result.output, result.output  # the dossier's metadata and the text
    doc = next(env.db()["documents"].rows_where("source_id = '118-hr-1724/ih'"))
    assert doc["version"] == 2 and "Moolenaar" in doc["text"]
    assert json.loads(doc["metadata"])["update_date_including_text"] == "2026-11-20T08:01:12Z"


def test_429_with_retry_after_is_waited_out(env, replay):
    serve_all(replay)
    replay.add("/v3/bill/118/s/939", b'{"error": {"code": "OVER_RATE_LIMIT"}}', status=429,
               headers={"Retry-After": "1"}, content_type="application/json", times=1)
    configure(env, replay, bills=["118-s-939"])
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "congress-gov: ok (new 2" in result.output
    assert replay.hits("/v3/bill/118/s/939") == 2


def test_error_body_with_http_200_fails_the_bill(env, replay):
    serve_all(replay)
    replay.add("/v3/bill/118/s/939", b'{"error": "Unknown resource: bill/118/s/939"}', content_type="application/json")
    configure(env, replay, bills=["118-hr-1724", "118-s-939"])
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 1
    assert "congress-gov: partial (new 2" in result.output and "Unknown resource" in result.output
    db = env.db()
    assert db["dossiers"].get("us-bill:118-hr-1724") and not list(db["dossiers"].rows_where("key = 'us-bill:118-s-939'"))
    assert db["sources"].get("congress-gov")["watermark"] is None


def test_new_bill_without_text_versions_stores_the_dossier_only(env, replay):
    serve_all(replay)
    replay.add("/v3/bill/118/hr/1724/text", json.dumps({"pagination": {"count": 0}, "textVersions": []}), content_type="application/json")
    configure(env, replay, bills=["118-hr-1724"])
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "congress-gov: ok (new 1, updated 0, unchanged 0, errors 0" in result.output
    db = env.db()
    assert db["documents"].count == 0 and db["dossiers"].get("us-bill:118-hr-1724")["stage"] == "Introduced"


def test_text_version_listed_without_formats_is_skipped_without_error(env, replay):
    """A version is listed (type, no date) before its text is published: no document, no failure."""
    serve_all(replay)
    text = json.loads((FILES / "118-hr-1724.text.json").read_text())
    text["textVersions"].insert(0, {"date": None, "formats": [], "type": "Reported in House"})
    replay.add("/v3/bill/118/hr/1724/text", json.dumps(text), content_type="application/json")
    configure(env, replay, bills=["118-hr-1724"])
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "congress-gov: ok (new 2, updated 0, unchanged 0, errors 0" in result.output  # dossier + the one real version
    assert [d["source_id"] for d in env.db()["documents"].rows] == ["118-hr-1724/ih"]


def test_bills_found_by_govinfo_are_followed(env, replay):
    from tests.test_govinfo import serve_govinfo

    serve_all(replay)
    serve_govinfo(replay)  # finds BILLS-118hr1724ih and BILLS-118s939is (and non-bill packages)
    env.configure({"govinfo": {"base_url": replay.url()},
                   "congress-gov": {"base_url": replay.url("/v3"), "bills": ["118-hr-6228"]}},
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]')
    result = env.run("crawl", "govinfo", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert {d["key"] for d in env.db()["dossiers"].rows} == {"us-bill:118-hr-6228", "us-bill:118-hr-1724", "us-bill:118-s-939"}
    groups = list(env.db().query("select group_key, group_concat(source) as sources from documents where group_key = 'us-bill:118-hr-1724'"))
    assert groups[0]["sources"] in ("govinfo,congress-gov", "congress-gov,govinfo")


def test_api_key_header_and_demo_key_fallback(env, replay, monkeypatch):
    serve_all(replay)
    monkeypatch.setenv("CONGRESS_TEST_KEY", "s3cret-congress-key")
    configure(env, replay, bills=["118-s-939"], api_key_env="CONGRESS_TEST_KEY")
    assert env.run("crawl", "congress-gov", "--no-nlp").exit_code == 0
    api = [r for r in replay.requests if r.path.startswith("/v3/")]
    assert api and all(r.headers.get("X-Api-Key") == "s3cret-congress-key" for r in api)
    assert not any("X-Api-Key" in r.headers for r in replay.requests if not r.path.startswith("/v3/"))  # not sent to text hosts
    assert "s3cret" not in "\n".join(env.db().conn.iterdump())
    monkeypatch.delenv("CONGRESS_TEST_KEY")
    before = len(replay.requests)
    result = env.run("crawl", "congress-gov", "--no-nlp", "--full")
    assert result.exit_code == 0 and "using DEMO_KEY" in result.stderr
    api = [r for r in replay.requests[before:] if r.path.startswith("/v3/")]
    assert api and all(r.headers.get("X-Api-Key") == "DEMO_KEY" for r in api)


def test_missing_titles_and_committees_do_not_lose_the_bill(env, replay):
    serve_all(replay)
    replay.add("/v3/bill/118/s/939/titles", b'{"error": "Not found"}', status=404, content_type="application/json")
    replay.add("/v3/bill/118/s/939/committees", b'{"error": "Not found"}', status=404, content_type="application/json")
    configure(env, replay, bills=["118-s-939"])
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 0, result.output
    dossier = env.db()["dossiers"].get("us-bill:118-s-939")
    assert dossier["title"] == "Securing Maritime Data from Communist China Act of 2023"
    assert "committees" not in json.loads(dossier["metadata"])


def test_format_preference_version_codes_and_xml_text():
    version = {"type": "Introduced in House", "formats": [
        {"type": "PDF", "url": "https://www.congress.gov/118/bills/hr6228/BILLS-118hr6228ih.pdf"},
        {"type": "Formatted XML", "url": "https://www.congress.gov/118/bills/hr6228/BILLS-118hr6228ih.xml"}]}
    assert choose_format(version) == ("Formatted XML", version["formats"][1]["url"])
    assert version_code("118-hr-6228", version) == "ih"
    assert version_code("118-hr-6228", {"type": "Public Law", "formats": []}) == "public-law"
    assert [normalise_bill_id(v) for v in ("118-HR-1724", "us-bill:118-s-939", "118hjres7", "HR 1724")] == \
        ["118-hr-1724", "118-s-939", "118-hjres-7", None]
    # bill DTD XML (header as in BILLS-118hr6228ih.xml, body shortened): the Dublin Core header is not text
    xml = (b'<?xml version="1.0"?><!DOCTYPE bill PUBLIC "-//US Congress//DTDs/bill.dtd//EN" "bill.dtd">'
           b'<bill bill-stage="Introduced-in-House"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dublinCore>'
           b'<dc:rights>Pursuant to Title 17 Section 105 of the United States Code, this file is not subject to copyright protection'
           b'</dc:rights></dublinCore></metadata><form><legis-num>H. R. 6228</legis-num></form><legis-body><section>'
           b'<header>Alternative network required</header><text>to develop an alternative platform to LOGINK</text></section>'
           b'</legis-body></bill>')
    text, warnings = version_text(xml, "Formatted XML", "u")
    assert "H. R. 6228" in text and "alternative platform to LOGINK" in text and "copyright" not in text and warnings == []


def test_a_next_link_pointing_back_does_not_loop(env, replay):
    serve_all(replay)
    configure(env, replay, bills=["118-s-939"])
    env.run("crawl", "congress-gov", "--no-nlp")
    replay.add("/v3/bill", (FILES / "bill_updates_page1.json").read_bytes(), content_type="application/json")  # every page says "next: offset=2"
    before = len(replay.requests)
    result = env.run("crawl", "congress-gov", "--no-nlp")
    assert result.exit_code == 1 and "congress-gov: partial" in result.output, result.output
    assert [r.args.get("offset") for r in replay.requests[before:] if r.path == "/v3/bill"] == [None, "2"]
    assert "loop" in list(env.db()["crawl_runs"].rows)[-1]["message"]


def test_actors_are_chambers_or_committees_and_both_committee_shapes_are_read():
    """The Library of Congress records actions under its own codes: it is kept as the recording
    system, never as the actor; committees come plain or wrapped as {"item": ...}."""
    from crawler.errors import ParseError
    from crawler.sources._congress_bills import action_events, items

    committee = {"name": "Foreign Relations Committee", "systemCode": "ssfr00"}
    actions = [
        {"actionDate": "2023-03-22", "text": "Read twice and referred.", "type": "IntroReferral",
         "committees": {"item": committee}, "sourceSystem": {"code": 0, "name": "Senate"}},
        {"actionDate": "2023-03-22", "text": "Introduced in Senate", "type": "IntroReferral", "committees": None,
         "sourceSystem": {"code": 9, "name": "Library of Congress"}},
        {"actionDate": "2023-03-23", "text": "Motion agreed to.", "type": "Floor", "committees": {"item": []},
         "sourceSystem": {"code": 2, "name": "House floor actions"}},
    ]
    events = action_events(actions)
    assert [(e.actor, e.source_system) for e in events] == [
        ("Foreign Relations Committee", "Senate"), (None, "Library of Congress"), ("House", "House floor actions")]
    assert items([committee], "c") == items({"item": [committee]}, "c") == items({"item": committee}, "c") == [committee]
    with pytest.raises(ParseError):
        items("Foreign Relations", "committees")
    with pytest.raises(ParseError):
        action_events([{"actionDate": "2023-03-22", "text": "x", "sourceSystem": {"code": 7, "name": "Mystery desk"}}])
