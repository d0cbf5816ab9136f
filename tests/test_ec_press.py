"""ec-press end to end over real HTTP: RSS (filtered by topic relevance) + search API (hits verified
on their text) + documents API, incremental re-crawl, configurable parameter names, failures; plus
the pure parsers."""

from __future__ import annotations

import json

import pytest

from crawler.errors import ParseError
from crawler.sources.ec_press import doc_type_for, parse_date, parse_document, parse_rss, parse_search, reference_from_slug
from tests.replay import FIXTURES
from tests.test_extract import make_pdf, text_stream

EX = FIXTURES / "ec-press" / "examples"
BASE = "/commission/presscorner"
RSS, SEARCH, DOCUMENTS = BASE + "/api/rss", BASE + "/api/search", BASE + "/api/documents"
TOPICS = '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK", "port community system"]'
CHEESE = {"refCode": "IP/26/9906", "eventDate": "2026-01-19", "title": "Commission registers a cheese from a port town",
          "leadText": "", "docutype": {"code": "IP", "description": "Press release"}, "languageCode": "en"}


def document(reference: str) -> bytes:
    return (EX / "files" / (reference.lower().replace("/", "_") + ".json")).read_bytes()


def serve_press(replay, search_hits: list[dict] | None = None):
    replay.add(RSS, EX / "rss.xml", content_type="application/rss+xml; charset=UTF-8")
    search = json.loads((EX / "search.json").read_text())
    search["docuLanguageListResources"] += search_hits or []
    replay.add(SEARCH, (EX / "files" / "search_empty.json").read_bytes(), content_type="application/json")
    replay.add(SEARCH, json.dumps(search), content_type="application/json",
               when=lambda r: r.args.get("text") == "LOGINK" and r.args.get("pagenumber") == "1")
    for path in (EX / "files").glob("*_26_*.json"):
        reference = json.loads(path.read_text())["refCd"]
        replay.add(DOCUMENTS, path.read_bytes(), content_type="application/json",
                   when=lambda r, ref=reference: r.args.get("reference") == ref and r.args.get("language") == "en")
    cheese = {"refCd": "IP/26/9906", "eventDate": "2026-01-19", "docutypeResource": {"code": "IP", "description": "Press release"},
              "docuLanguageResource": {"title": CHEESE["title"], "htmlContent": "<p>A cheese from a port town is registered.</p>", "language": "en"}}
    replay.add(DOCUMENTS, json.dumps(cheese), content_type="application/json", when=lambda r: r.args.get("reference") == "IP/26/9906")


def configure(env, replay, **keys):
    env.configure({"ec-press": {"base_url": replay.url(BASE), **keys}}, extra=TOPICS)


def fetched_references(replay, start: int = 0) -> list[str]:
    return [r.args["reference"] for r in replay.requests[start:] if r.path == DOCUMENTS]


def test_rss_search_and_documents(env, replay):
    serve_press(replay, [CHEESE])
    configure(env, replay)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "ec-press: ok (new 4" in result.output
    db = env.db()
    docs = {d["source_id"]: d for d in db["documents"].rows}
    assert set(docs) == {"IP/26/9901", "STATEMENT/26/9902", "SPEECH/26/9903", "QANDA/26/9904"}
    release = docs["IP/26/9901"]
    assert release["doc_type"] == "press_release" and release["institution"] == "European Commission"
    assert release["url"] == "https://ec.europa.eu/commission/presscorner/detail/en/ip_26_9901"
    assert release["published_at"] == "2026-01-20" and release["language"] == "en" and release["jurisdiction"] == "EU"
    assert release["text"].startswith("Common rules on access to the data of EU ports\n\n")
    assert "National Transportation and Logistics Public Information Platform" in release["text"]
    assert json.loads(release["metadata"])["commissioners"] == ["Apostolos Tzitzikostas"]
    assert {docs[r]["doc_type"] for r in docs} == {"press_release", "statement", "speech", "questions_and_answers"}
    # the RSS item about cheese is irrelevant by its title and summary: never fetched
    assert "IP/26/9905" not in fetched_references(replay)
    # the search hit whose text matches no topic was fetched, refused and remembered
    assert "IP/26/9906" in fetched_references(replay) and "IP/26/9906" not in docs
    assert any("ip_26_9906" in row["url"] for row in db["seen_urls"].rows)
    searches = [r for r in replay.requests if r.path == SEARCH]
    assert {r.args["text"] for r in searches} == {"LOGINK", "port community system"}
    assert all(r.args["language"] == "en" and r.args["pagesize"] == "50" for r in searches)
    assert db["sources"].get("ec-press")["watermark"] == "2026-01-21"


def test_second_crawl_adds_and_fetches_nothing(env, replay):
    serve_press(replay, [CHEESE])
    configure(env, replay)
    assert env.run("crawl", "ec-press", "--no-nlp").exit_code == 0
    before = len(replay.requests)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0" in result.output
    assert fetched_references(replay, before) == []  # known documents and the remembered irrelevant hit
    assert env.db()["documents"].count == 4


def test_search_paging_stops_at_a_short_page(env, replay):
    serve_press(replay)
    page1 = json.loads((EX / "search.json").read_text())
    replay.add(SEARCH, json.dumps(page1), content_type="application/json",
               when=lambda r: r.args.get("text") == "LOGINK" and r.args.get("pagenumber") == "1")
    page2 = {"docuLanguageListResources": [{"refCode": "STATEMENT/26/9902", "eventDate": "2026-01-21", "title": "x"}]}
    replay.add(SEARCH, json.dumps(page2), content_type="application/json",
               when=lambda r: r.args.get("text") == "LOGINK" and r.args.get("pagenumber") == "2")
    configure(env, replay, page_size=3)
    assert "ec-press: ok (new 4" in env.run("crawl", "ec-press", "--no-nlp").output
    pages = [r.args["pagenumber"] for r in replay.requests if r.path == SEARCH and r.args["text"] == "LOGINK"]
    assert pages == ["1", "2"]


def test_parameter_names_are_configuration(env, replay):
    replay.add(RSS, EX / "rss.xml", content_type="application/rss+xml", when=lambda r: r.args.get("lang") == "en")
    replay.add(BASE + "/api/v2/find", (EX / "files" / "search_empty.json").read_bytes(), content_type="application/json")
    replay.add(BASE + "/api/v2/find", (EX / "search.json").read_bytes(), content_type="application/json",
               when=lambda r: r.args.get("q") == "LOGINK" and r.args.get("page") == "1" and r.args.get("rows") == "20")
    for path in (EX / "files").glob("*_26_*.json"):
        replay.add(BASE + "/api/v2/doc", path.read_bytes(), content_type="application/json",
                   when=lambda r, ref=json.loads(path.read_text())["refCd"]: r.args.get("ref") == ref)
    configure(env, replay, search_path="/api/v2/find", search_param="q", page_param="page", page_size_param="rows",
              page_size=20, documents_path="/api/v2/doc", reference_param="ref", language_param="lang")
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert "ec-press: ok (new 4" in result.output, result.output


def test_empty_html_body_falls_back_to_the_attachment(env, replay):
    serve_press(replay)
    speech = json.loads(document("SPEECH/26/9903"))
    speech["docuLanguageResource"]["htmlContent"] = ""
    speech["docuLanguageResource"]["attachmentResources"] = [
        {"title": "Speech", "url": "https://ec.europa.eu/commission/presscorner/api/files/attachment/9903/speech.pdf"}]
    replay.add(DOCUMENTS, json.dumps(speech), content_type="application/json", when=lambda r: r.args.get("reference") == "SPEECH/26/9903")
    pdf = make_pdf([text_stream(["Ladies and gentlemen,", "data on our ports must not flow to LOGINK."])])
    replay.add(BASE + "/api/files/attachment/9903/speech.pdf", pdf, content_type="application/pdf")
    configure(env, replay)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert "ec-press: ok (new 4" in result.output, result.output
    doc = next(env.db()["documents"].rows_where("source_id = ?", ["SPEECH/26/9903"]))
    assert "must not flow to LOGINK" in doc["text"] and json.loads(doc["metadata"])["attachment_url"].endswith("speech.pdf")


def test_document_without_text_is_an_item_error(env, replay):
    serve_press(replay)
    empty = json.loads(document("STATEMENT/26/9902"))
    empty["docuLanguageResource"]["htmlContent"] = "  "
    replay.add(DOCUMENTS, json.dumps(empty), content_type="application/json", when=lambda r: r.args.get("reference") == "STATEMENT/26/9902")
    replay.add(DOCUMENTS, b"Not Found", status=404, when=lambda r: r.args.get("reference") == "QANDA/26/9904")
    configure(env, replay)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert "ec-press: partial (new 2" in result.output and "empty htmlContent and no attachment" in result.output
    db = env.db()
    assert {d["source_id"] for d in db["documents"].rows} == {"IP/26/9901", "SPEECH/26/9903"}
    run = list(db["crawl_runs"].rows)[-1]
    assert run["errors"] == 2 and db["sources"].get("ec-press")["watermark"] is None


def test_waf_challenge_is_blocked(env, replay):
    replay.add(RSS, b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    configure(env, replay)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert result.exit_code == 1 and "ec-press: blocked" in result.output
    assert env.db()["documents"].count == 0


@pytest.mark.parametrize(("body", "message"), [(b'{"items": []}', "lacks 'docuLanguageListResources'"),
                                               (b'{"docuLanguageListResources": [', "malformed JSON")])
def test_malformed_search_fails_the_run(env, replay, body, message):
    replay.add(RSS, EX / "rss.xml", content_type="application/rss+xml")
    replay.add(SEARCH, body, content_type="application/json")
    configure(env, replay)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert result.exit_code == 1 and "ec-press: failed" in result.output and message in result.output


def test_html_instead_of_rss_fails_the_run(env, replay):
    replay.add(RSS, b"<html><body><div id='app'></div></body></html>", content_type="text/html")
    configure(env, replay)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert result.exit_code == 1 and "not an RSS/Atom feed" in result.output


# -- pure parsers ---------------------------------------------------------------------------------


def test_references_and_types():
    assert reference_from_slug("https://ec.europa.eu/commission/presscorner/detail/en/ip_26_1707") == "IP/26/1707"
    assert reference_from_slug("https://ec.europa.eu/commission/presscorner/detail/en/STATEMENT_26_12/") == "STATEMENT/26/12"
    assert reference_from_slug("https://ec.europa.eu/commission/presscorner/home/en") is None
    assert doc_type_for("IP/26/1") == "press_release" and doc_type_for("QANDA/26/1") == "questions_and_answers"
    assert doc_type_for("XYZ/26/1", {"code": "XYZ", "description": "Fact sheet (new)"}) == "fact_sheet_new"


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-01-20", "2026-01-20"), ("2026-01-20T23:00:00.000+0000", "2026-01-20"), ("20/01/2026", "2026-01-20"),
    (1768906800000, "2026-01-20"), ("Tue, 20 Jan 2026 11:00:00 +0100", "2026-01-20"), ("", None), ("soon", None)])
def test_dates(value, expected):
    assert parse_date(value) == expected


def test_rss_items():
    items = parse_rss((EX / "rss.xml").read_bytes(), "rss")
    assert [i["reference"] for i in items] == ["IP/26/9901", "STATEMENT/26/9902", "IP/26/9905"]
    assert items[0]["published"] == "2026-01-20" and items[0]["categories"] == ["POLICY_AREA=MOVE"]
    assert parse_rss(b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>', "u") == []


def test_search_hits_tolerate_missing_optional_keys():
    hits = parse_search({"docuLanguageListResources": [{"refCode": "IP/26/1"}, {"title": "no reference"}], "extra": 1}, "u")
    assert hits == [{"reference": "IP/26/1", "title": "", "summary": "", "published": None, "docutype": None}]
    assert parse_search({"docuLanguageListResources": None}, "u") == []
    with pytest.raises(ParseError, match="not a list"):
        parse_search({"docuLanguageListResources": "x"}, "u")


def test_document_shape_errors():
    with pytest.raises(ParseError, match="lacks 'docuLanguageResource'"):
        parse_document({"refCd": "IP/26/1"}, "u")
    with pytest.raises(ParseError, match="no reference"):
        parse_document({"docuLanguageResource": {"htmlContent": "<p>x</p>"}}, "u")


def test_search_and_rss_answering_404_read_as_nothing_listed(env, replay):
    """Acceptance dry-run regression: a recorded upstream answers 404 to a search it did not record
    (here every term but LOGINK) and to the RSS; that used to fail the whole run (nothing stored).
    Now a 404 listing reads as empty: the LOGINK hits are stored and the run is ok."""
    serve_press(replay)
    replay.routes = [r for r in replay.routes if r.path != RSS and not (r.path == SEARCH and r.when is None)]
    configure(env, replay)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "ec-press: ok" in result.output
    assert {d["source_id"] for d in env.db()["documents"].rows} == {"SPEECH/26/9903", "IP/26/9901", "QANDA/26/9904"}
    assert {r.args["text"] for r in replay.requests if r.path == SEARCH} == {"LOGINK", "port community system"}


def test_markup_without_text_falls_back_to_the_attachment(env, replay):
    """Acceptance dry-run regression (project-written document): a speech whose ``htmlContent`` is
    markup without text (``<p>&nbsp;</p>``) and whose text is in the attachment was an item error
    ("no text"): the attachment was fetched only for an empty string."""
    speech = {"refCd": "SPEECH/26/9910", "eventDate": "2026-02-02",
              "docuLanguageResource": {"title": "Speech on LOGINK and EU ports", "language": "en", "htmlContent": "<p>&nbsp;</p>",
                                       "attachmentResources": [{"url": "https://ec.europa.eu/commission/presscorner/api/files/attachment/9910/SPEECH_26_9910_EN.pdf"}]}}
    replay.add(RSS, b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>', content_type="application/rss+xml")
    replay.add(SEARCH, (EX / "files" / "search_empty.json").read_bytes(), content_type="application/json")
    replay.add(SEARCH, json.dumps({"docuLanguageListResources": [{"refCode": "SPEECH/26/9910", "eventDate": "2026-02-02", "title": speech["docuLanguageResource"]["title"]}]}),
               content_type="application/json", when=lambda r: r.args.get("text") == "LOGINK")
    replay.add(DOCUMENTS, json.dumps(speech), content_type="application/json")
    replay.add(BASE + "/api/files/attachment/9910/SPEECH_26_9910_EN.pdf",
               make_pdf([text_stream(["Check against delivery.", "The LOGINK platform and the security of EU ports."])]),
               content_type="application/pdf")
    configure(env, replay)
    result = env.run("crawl", "ec-press", "--no-nlp")
    assert result.exit_code == 0, result.output
    (doc,) = env.db()["documents"].rows
    assert doc["source_id"] == "SPEECH/26/9910" and "LOGINK platform" in doc["text"]
