"""ep-oeil end to end over real HTTP: configured procedures and RSS discovery, procedure files
parsed into dossiers with key events and searchable documents, robots.txt, conditional GET, and
loud failures on soft 404s and pages whose sections are missing.

The procedure-file pages are real (tests/fixtures/ep-oeil/examples); the RSS export and the broken
pages are built here or in examples/files from the real markup (marked in SOURCES.md)."""

from __future__ import annotations

import json
import re

import pytest
from lxml import html

from crawler.errors import ParseError
from crawler.sources.ep_oeil import parse_procedure_file, parse_rss
from tests.replay import FIXTURES

EX = FIXTURES / "ep-oeil" / "examples"
BASE = "/oeil/en"
PAGE = f"{BASE}/procedure-file"
RSS = f"{BASE}/search/export/RSS"
REAL = {"2023/2019(INI)": EX / "procedure-file_2023-2019-INI.html", "2024/2006(REG)": EX / "procedure-file_2024-2006-REG.html"}


def real(reference: str) -> str:
    return REAL[reference].read_text(encoding="utf-8")


def other_procedure() -> str:
    """A page in the real markup for a project-written procedure (2021/0999(NLE)) about nothing watched."""
    return (real("2023/2019(INI)").replace("2023/2019(INI)", "2021/0999(NLE)")
            .replace("Implementation of the 2018 Geoblocking Regulation in the Digital Single Market", "Fisheries agreement (project-written)"))


def soft_404() -> str:
    """The real page chrome around the Observatory's "does not exist" message (built from the real page)."""
    return re.sub(r'<main id="website-body">.*?</main>',
                  '<main id="website-body"><div class="container"><p>This procedure or document does not exist!</p></div></main>',
                  real("2023/2019(INI)"), flags=re.S)


def without_section(reference: str, name: str) -> bytes:
    root = html.fromstring(REAL[reference].read_bytes())
    heading = next(h for h in root.xpath("//h2") if h.text_content().strip() == name)
    heading.xpath("ancestor::div[contains(@class, 'es_product-section')][1]")[0].drop_tree()
    return html.tostring(root)


def page_route(replay, reference: str, body: str | bytes, etag: str | None = None):
    """Serve one procedure file; with ``etag``, answer 304 to a matching If-None-Match."""
    from werkzeug import Response

    payload = body.encode("utf-8") if isinstance(body, str) else body

    def handler(request):
        if etag and request.headers.get("If-None-Match") == etag:
            return Response(b"", status=304)
        return Response(payload, headers={"Content-Type": "text/html; charset=utf-8", **({"ETag": etag} if etag else {})})

    replay.add(PAGE, handler, when=lambda r, ref=reference: r.args.get("reference") == ref)


def serve(replay):
    replay.add("/robots.txt", "User-agent: *\nDisallow: /oeil/en/private/\n", content_type="text/plain")
    replay.add(RSS, (EX / "files" / "rss.xml").read_bytes(), content_type="application/rss+xml")
    page_route(replay, "2023/2019(INI)", real("2023/2019(INI)"), etag='"ini-1"')
    page_route(replay, "2024/2006(REG)", real("2024/2006(REG)"), etag='"reg-1"')
    page_route(replay, "2021/0999(NLE)", other_procedure())


def configure(env, replay, **keys):
    options = {"base_url": replay.url(BASE), "procedures": ["2023/2019(INI)"], "keywords": ["harassment"], **keys}
    env.configure({"ep-oeil": options},
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]')


def page_requests(replay, reference: str) -> list:
    return [r for r in replay.requests if r.path == PAGE and r.args.get("reference") == reference]


def test_crawl_stores_configured_and_rss_procedures(env, replay):
    serve(replay)
    configure(env, replay)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "ep-oeil: ok (new 4" in result.output  # 2 dossiers + 2 documents
    db = env.db()
    docs = {d["source_id"]: d for d in db["documents"].rows}
    # configured 2023/2019(INI); 2024/2006(REG) from the RSS (star stripped), kept because its title matches
    assert set(docs) == {"2023/2019(INI)", "2024/2006(REG)"}
    ini = docs["2023/2019(INI)"]
    assert ini["doc_type"] == "procedure" and ini["title"] == "Implementation of the 2018 Geoblocking Regulation in the Digital Single Market"
    assert ini["url"] == "https://oeil.europarl.europa.eu/oeil/en/procedure-file?reference=2023/2019(INI)"
    assert ini["group_key"] == "ep-procedure:2023/2019(INI)" and ini["published_at"] == "2023-02-16" and ini["updated_at"] == "2023-12-13"
    assert "Committee responsible: IMCO Internal Market and Consumer Protection — rapporteur MAZUREK Beata (ECR)" in ini["text"]
    assert "2023-11-07 Committee report tabled for plenary (A9-0335/2023)" in ini["text"]
    assert "European Commission | Commission response to text adopted in plenary | SP(2024)220 | 2024-06-24" in ini["text"]
    metadata = json.loads(ini["metadata"])
    assert metadata["type"] == "INI - Own-initiative procedure" and metadata["committee_dossier"] == "IMCO/9/11285"
    dossier = db["dossiers"].get("ep-procedure:2023/2019(INI)")
    assert dossier["stage"] == "Procedure completed" and dossier["latest_event_date"] == "2023-12-13"
    events = list(db.execute("select date, kind, ref_id, ref_url from events where dossier_key = 'ep-procedure:2023/2019(INI)' order by date, rowid"))
    assert len(events) == 6 and events[0][:2] == ("2023-02-16", "Committee referral announced in Parliament")
    assert ("2023-12-13", "Decision by Parliament", "T9-0473/2023", "https://www.europarl.europa.eu/doceo/document/TA-9-2023-0473_EN.html") in events
    linked = {r[0] for r in db.execute("select target_source_id from document_links where relation = 'document' and target_source = 'ep-open-data'")}
    assert {"TA-9-2023-0473", "A-9-2023-0335", "TA-9-2024-0315"} <= linked
    # the RSS item whose description matches nothing was not fetched; the bare one was read and judged
    assert not page_requests(replay, "2022/0001(COD)")
    assert len(page_requests(replay, "2021/0999(NLE)")) == 1
    assert replay.hits("/robots.txt") == 1  # web pages: robots.txt honoured
    assert len(page_requests(replay, "2023/2019(INI)")) == 1  # configured and in the RSS: read once


def test_second_crawl_adds_nothing_and_uses_conditional_get(env, replay):
    serve(replay)
    configure(env, replay)
    assert env.run("crawl", "ep-oeil", "--no-nlp").exit_code == 0
    before = len(replay.requests)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 0 and "new 0, updated 0, unchanged 2" in result.output, result.output
    second = replay.requests[before:]
    assert [r.headers.get("If-None-Match") for r in second if r.path == PAGE] == ['"ini-1"', '"reg-1"']
    assert not [r for r in second if r.args.get("reference") == "2021/0999(NLE)"]  # remembered as irrelevant
    db = env.db()
    assert db["documents"].count == 2 and db["events"].count == 11


def test_changed_procedure_file_adds_events(env, replay):
    serve(replay)
    configure(env, replay, rss=False)
    env.run("crawl", "ep-oeil", "--no-nlp")
    row = ('<tr><td class="align-middle" >24/06/2024</td><td class="align-middle">Commission response to text adopted in plenary</td>'
           '<td class="align-middle text-center"><span></span></td><td class="align-middle"></td></tr>')
    changed = re.sub(r"(Key events</h2>.*?)(</tbody>)", lambda m: m[1] + row + m[2], real("2023/2019(INI)"), count=1, flags=re.S)
    page_route(replay, "2023/2019(INI)", changed, etag='"ini-2"')
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert "updated 2" in result.output, result.output
    db = env.db()
    assert db["dossiers"].get("ep-procedure:2023/2019(INI)")["latest_event_date"] == "2024-06-24"
    doc = next(db["documents"].rows_where("source_id = ?", ["2023/2019(INI)"]))
    assert doc["version"] == 2 and "2024-06-24 Commission response to text adopted in plenary" in doc["text"]


def test_soft_404_fails_loudly(env, replay):
    serve(replay)
    page_route(replay, "2099/9999(COD)", soft_404())
    configure(env, replay, procedures=["2099/9999(COD)", "2023/2019(INI)"], rss=False)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 1 and "ep-oeil: partial" in result.output
    assert "soft 404" in result.output and "2099/9999(COD)" in result.output
    docs = {d["source_id"] for d in env.db()["documents"].rows}
    assert docs == {"2023/2019(INI)"}


def test_page_missing_key_events_fails_loudly(env, replay):
    serve(replay)
    page_route(replay, "2023/2019(INI)", without_section("2023/2019(INI)", "Key events"))
    configure(env, replay, rss=False)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 1 and "ep-oeil: partial" in result.output
    assert "lacks section(s) Key events" in result.output
    assert env.db()["documents"].count == 0


def test_rss_behind_waf_is_blocked(env, replay):
    serve(replay)
    replay.add(RSS, b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    configure(env, replay, procedures=[])
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 1 and "ep-oeil: blocked" in result.output


def test_waf_challenge_on_robots_txt_is_blocked(env, replay):
    serve(replay)
    replay.add("/robots.txt", b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    configure(env, replay, procedures=[])
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 1 and "ep-oeil: blocked" in result.output, result.output


def test_failing_rss_is_an_item_error_after_the_configured_procedures(env, replay):
    serve(replay)
    replay.add(RSS, b"Internal Server Error", status=500)
    configure(env, replay)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 1 and "ep-oeil: partial" in result.output and "HTTP 500" in result.output
    assert {d["source_id"] for d in env.db()["documents"].rows} == {"2023/2019(INI)"}


def test_robots_disallow_is_respected(env, replay):
    serve(replay)
    replay.add("/robots.txt", "User-agent: *\nDisallow: /oeil/\n", content_type="text/plain")
    configure(env, replay, rss=False)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert "disallowed by robots.txt" in result.output and not page_requests(replay, "2023/2019(INI)")


def test_parser_refuses_pages_that_are_not_the_procedure_asked_for():
    content = REAL["2024/2006(REG)"].read_bytes()
    with pytest.raises(ParseError, match="not 2023/2059"):
        parse_procedure_file(content, "https://example.test/p", "2023/2059(INI)")
    with pytest.raises(ParseError, match="lacks section.*Basic information"):
        parse_procedure_file(without_section("2024/2006(REG)", "Basic information"), "https://example.test/p")
    empty_events = re.sub(r"(Key events</h2>.*?<tbody>).*?(</tbody>)", r"\1\2", REAL["2024/2006(REG)"].read_text(), flags=re.S)
    with pytest.raises(ParseError, match="no dated event"):
        parse_procedure_file(empty_events.encode(), "https://example.test/p")
    with pytest.raises(ParseError, match="reference heading"):
        parse_procedure_file(b"<html><body><h1>Maintenance</h1></body></html>", "https://example.test/p")
    _, document = parse_procedure_file(without_section("2024/2006(REG)", "Documentation gateway"), "https://example.test/p")
    assert document.warnings == ["section 'Documentation gateway' missing"]


def test_rss_items_references_and_text():
    items = parse_rss((EX / "files" / "rss.xml").read_bytes(), "rss")
    assert [i["reference"] for i in items] == ["2024/2006(REG)", "2023/2019(INI)", "2022/0001(COD)", "2021/0999(NLE)"]
    assert items[0]["text"] == "" and "Geoblocking" in items[1]["text"]
    assert items[3]["link"].endswith("reference=2021/0999(NLE)")
    with pytest.raises(ParseError):
        parse_rss(b"<html><body>not a feed</body></html>", "rss")


def test_dossier_shared_with_ep_open_data_does_not_ping_pong(tmp_path):
    """Acceptance dry-run regression: ep-open-data owns a procedure dossier without a status, ep-oeil
    fills the status in; re-crawling either source must then report the dossier unchanged (the owner
    used to erase the status, the Observatory to fill it in again: 'updated' on every alternate crawl)."""
    from db import writes
    from db.schema import connect, ensure_schema

    db = connect(tmp_path / "t.db")
    ensure_schema(db)
    writes.register_sources(db, [{"id": s, "title": s, "jurisdiction": "EU", "kind": "api", "base_url": "http://x",
                                  "enabled": 1, "interval": "1d"} for s in ("ep-open-data", "ep-oeil")])
    key = "ep-procedure:2025/2031(INI)"
    api = {"key": key, "source": "ep-open-data", "kind": "procedure", "title": "Security of EU ports", "url": "u",
           "stage": "RDG1", "status": None, "fetched_at": "t", "events": [{"date": "2025-05-08", "kind": "PLENARY_VOTE"}]}
    oeil = {**api, "source": "ep-oeil", "status": "Awaiting Council's 1st reading position", "stage": None,
            "events": [{"date": "2025-05-08", "kind": "Decision by Parliament"}]}
    assert writes.save_dossier(db, api) == "new"
    assert writes.save_dossier(db, oeil) == "updated"  # fills the status, adds its event
    assert writes.save_dossier(db, api) == "unchanged"
    assert writes.save_dossier(db, oeil) == "unchanged"
    row = db["dossiers"].get(key)
    assert (row["source"], row["stage"], row["status"]) == ("ep-open-data", "RDG1", "Awaiting Council's 1st reading position")
    assert writes.save_dossier(db, {**api, "stage": "RDG2"}) == "updated"  # the owner still updates its own fields


def test_rss_answering_404_leaves_the_configured_procedures(env, replay):
    """Acceptance dry-run regression: a recording without the RSS export (404) used to make every run
    ``partial`` (exit 1); the configured procedures are read and the run is ok (a 500 stays an error)."""
    serve(replay)
    replay.add(RSS, b"not recorded", status=404)
    configure(env, replay)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 0 and "ep-oeil: ok" in result.output, result.output
    assert {d["source_id"] for d in env.db()["documents"].rows} == {"2023/2019(INI)"}


ERPL = EX / "procedure-file_2023-2019-INI_erpl-markup.html"


def test_both_markups_give_the_same_records():
    """The 2024-2025 markup (``erpl_`` classes) and the current one (``es_``) of the same file parse
    into the same dossier and document (the erpl page raised "no procedure reference heading")."""
    url = "https://oeil.europarl.europa.eu/oeil/en/procedure-file?reference=2023/2019(INI)"
    current = parse_procedure_file(REAL["2023/2019(INI)"].read_bytes(), url, "2023/2019(INI)")
    older = parse_procedure_file(ERPL.read_bytes(), url, "2023/2019(INI)")
    assert b"erpl_title-h1" in ERPL.read_bytes() and b"es_title-h1" not in ERPL.read_bytes()
    assert older == current
    players, documents = current[1].metadata["key_players"], current[1].metadata["documents"]
    assert {p["institution"] for p in players if p.get("committee")} == {"European Parliament"}
    assert {d["institution"] for d in documents} == {"European Parliament", "European Commission"}
    commission = [d for d in documents if d["institution"] == "European Commission"]
    assert commission and all(d.get("reference", "").startswith(("SP(", "COM(", "SWD(")) or d.get("document_type") for d in commission)


def test_crawl_reads_the_older_markup(env, replay):
    serve(replay)
    page_route(replay, "2023/2019(INI)", ERPL.read_bytes())
    configure(env, replay, rss=False)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 0 and "ep-oeil: ok (new 2" in result.output, result.output
    ini = env.db()["documents"].get(1)
    assert ini["source_id"] == "2023/2019(INI)" and "European Parliament, Committee responsible: IMCO" in ini["text"]


@pytest.mark.parametrize("link", [
    "2023/2019(INI)",
    "https://oeil.secure.europarl.europa.eu/oeil/popups/ficheprocedure.do?reference=2023/2019(INI)&l=en",
    "https://oeil.secure.europarl.europa.eu/oeil/popups/ficheprocedure.do?lang=en&reference=2023%2F2019%28INI%29",
    "https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference=2023/2019(INI)",
    "https://oeil.europarl.europa.eu/oeil/en/procedure-file?reference=2023/2019(INI)",
])
def test_old_and_new_links_name_the_procedure(link):
    from crawler.sources.ep_oeil import reference_in

    assert reference_in(link) == "2023/2019(INI)"


def test_configured_old_link_is_read_from_the_current_host(env, replay):
    """A procedure configured by its old ``ficheprocedure.do`` link (which redirects upstream) is read
    as the current procedure file; the document's URL is on oeil.europarl.europa.eu."""
    serve(replay)
    old = "https://oeil.secure.europarl.europa.eu/oeil/popups/ficheprocedure.do?reference=2023/2019(INI)&l=en"
    configure(env, replay, rss=False, procedures=[old])
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 0 and "ep-oeil: ok (new 2" in result.output, result.output
    assert env.db()["documents"].get(1)["url"].startswith("https://oeil.europarl.europa.eu/oeil/en/procedure-file")
    assert len(page_requests(replay, "2023/2019(INI)")) == 1


def test_redirect_from_the_old_host_is_followed(env, replay):
    """A page answered by a redirect to the Observatory's other host (old or new) is followed onto
    the configured base, not onto the internet."""
    from werkzeug import Response

    serve(replay)
    target = "https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference=2023/2019(INI)&moved=1"
    replay.add(PAGE, lambda r: Response(b"", status=301, headers={"Location": target}),
               when=lambda r: r.args.get("reference") == "2023/2019(INI)" and "moved" not in r.args)
    configure(env, replay, rss=False)
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 0 and "ep-oeil: ok (new 2" in result.output, result.output
    assert [r.args.get("moved") for r in page_requests(replay, "2023/2019(INI)")] == [None, "1"]


def test_configured_procedure_that_is_no_reference_fails_loudly(env, replay):
    serve(replay)
    configure(env, replay, procedures=["the port strategy"])
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert result.exit_code == 1 and "sources.ep-oeil.procedures" in result.output
