"""ep-open-data end to end over real HTTP: term search with paging, the year pass with title
judging, details (single and batched), manifestations in XML / DOCX / PDF, questions with their
answers, procedures with events, incremental re-crawls, WAF challenges and failing manifestations.

The upstream is replayed from tests/fixtures/ep-open-data/examples (real API responses and faithful
builds, see SOURCES.md) plus works and bodies built here (project-written, marked as such)."""

from __future__ import annotations

import copy
import io
import json
import re

import docx
import pytest

from crawler.base import CrawlContext, SourceSettings
from crawler.http import HttpClient, HttpSettings
from crawler.sources.ep_open_data import EpOpenData
from tests.replay import FIXTURES

EX = FIXTURES / "ep-open-data" / "examples"
API = "/api/v2"
YEAR = 2026  # the year of the frozen test clock (tests/conftest.py TEST_NOW): the source crawls this year and the last
CONTEXT = [{"data": "@graph", "@base": "https://data.europarl.europa.eu/"}, "https://data.europarl.europa.eu/api/v2/context.jsonld"]
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"


# -- builders (project-written bodies) ------------------------------------------------------------

def make_docx(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF with a Helvetica text layer and a correct xref table."""
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
    ops += [f"({line.replace('(', '[').replace(')', ']')}) Tj T*" for line in lines]
    stream = "\n".join(ops + ["ET"]).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def manifestation(identifier: str, lang: str, fmt: str, path: str) -> dict:
    return {"id": f"eli/dl/doc/{identifier}/{lang}/{fmt.lower()}", "type": "Manifestation",
            "is_exemplified_by": path, "format": FILE_TYPE + fmt}


def work(identifier: str, title: str, work_type: str, day: str, manifestations: list[dict], **extra) -> dict:
    """A Work shaped like the real responses in the examples (project-written content)."""
    return {"id": f"eli/dl/doc/{identifier}", "type": "Work", "identifier": identifier, "document_date": day,
            "work_type": f"def/ep-document-types/{work_type}", "publisher": "org/EU_PARLIAMENT",
            "title_dcterms": {"en": title},
            "is_realized_by": [{"id": f"eli/dl/doc/{identifier}/en", "type": "Expression",
                                "language": "http://publications.europa.eu/resource/authority/language/ENG",
                                "title": {"en": title}, "is_embodied_by": manifestations}], **extra}


def envelope(*works: dict) -> str:
    return json.dumps({"data": list(works), "@context": CONTEXT})


def listing(*ids: str) -> str:
    return json.dumps({"data": [{"id": f"eli/dl/doc/{i}", "type": "Work", "identifier": i, "label": i} for i in ids],
                       "@context": CONTEXT})


def load(name: str) -> dict:
    return json.loads((EX / name).read_text(encoding="utf-8"))


PDF_TEXT = ["Project-written test body: a resolution on the security of port community systems",
            "and on foreign logistics data platforms such as LOGINK in European ports."]
ANSWER_TEXT = ["Project-written test body standing in for the Commission's answer to E-001464/2021.",
               "The Commission monitors foreign direct investment in EU port terminals."]
XML_TEXT = b'<?xml version="1.0"?><doc><p>Project-written test body on LOGINK and port data.</p></doc>'


def upstream_works() -> dict[str, tuple[str, dict]]:
    """identifier -> (collection, work) of everything the replayed upstream knows."""
    adopted = load("adopted-text_TA-9-2024-0025.json")["data"][0]
    report = load("plenary-document_A-9-2024-0163.json")["data"][0]
    question = load("question_E-9-2021-001464.json")["data"][0]
    unrelated_question = json.loads((EX / "files" / "E-10-2024-001357.excerpt.json").read_text())["data"][0]
    answer = work("E-9-2021-001464-ASW", "Answer for question E-001464/21", "QUESTION_WRITTEN_ANSWER", "2021-05-20",
                  [manifestation("E-9-2021-001464-ASW", "en", "DOCX", "distribution/reds_iMaQp/E-9-2021-001464-ASW/E-9-2021-001464-ASW_en.docx")],
                  answers_to="eli/dl/doc/E-9-2021-001464")
    return {
        "TA-9-2024-0025": ("adopted-texts", adopted),
        "TA-10-2026-0101": ("adopted-texts", work("TA-10-2026-0101", "Security of port logistics data", "TEXT_ADOPTED", f"{YEAR}-03-12",
                                                  [manifestation("TA-10-2026-0101", "en", "PDF", "distribution/doc/TA-10-2026-0101_en.pdf")])),
        "TA-10-2026-0102": ("adopted-texts", work("TA-10-2026-0102", "Digital logistics platforms", "TEXT_ADOPTED", f"{YEAR}-04-02",
                                                  [manifestation("TA-10-2026-0102", "en", "XML", "distribution/doc/TA-10-2026-0102_en.xml")])),
        "TA-10-2026-0050": ("adopted-texts", work("TA-10-2026-0050", "Situation in the Sahel", "TEXT_ADOPTED", f"{YEAR}-02-01",
                                                  [manifestation("TA-10-2026-0050", "en", "XML", "distribution/doc/TA-10-2026-0050_en.xml")])),
        "A-9-2024-0163": ("plenary-documents", report),
        "E-9-2021-001464": ("parliamentary-questions", question),
        "E-10-2024-001357": ("parliamentary-questions", unrelated_question),
        "E-9-2021-001464-ASW": ("parliamentary-questions", answer),
    }


def serve(replay, works: dict | None = None):
    """The recorded upstream: search pages, year lists, details, procedures and distributions."""
    works = works if works is not None else upstream_works()
    for collection in ("adopted-texts", "plenary-documents"):
        replay.add(f"{API}/{collection}", b"", status=204)
    # nothing recorded for other question pages: the replay's 404, read as an empty page
    search = lambda offset: lambda r: r.args.get("text") == "LOGINK" and r.args.get("offset") == offset  # noqa: E731
    json_ld = "application/ld+json"
    replay.add(f"{API}/adopted-texts", listing("TA-9-2024-0025", "TA-10-2026-0101"), content_type=json_ld, when=search("0"))
    replay.add(f"{API}/adopted-texts", listing("TA-10-2026-0102"), content_type=json_ld, when=search("2"))
    year = lambda y, offset="0": lambda r: r.args.get("year") == str(y) and r.args.get("offset") == offset  # noqa: E731
    replay.add(f"{API}/adopted-texts", listing("TA-9-2024-0025", "TA-10-2026-0050"), content_type=json_ld, when=year(YEAR))
    replay.add(f"{API}/adopted-texts", b"", status=204, when=year(YEAR, "2"))
    replay.add(f"{API}/plenary-documents", listing("A-9-2024-0163"), content_type=json_ld, when=year(YEAR - 1))
    replay.add(f"{API}/parliamentary-questions", listing("E-9-2021-001464", "E-10-2024-001357"), content_type=json_ld, when=year(YEAR))
    replay.add(f"{API}/parliamentary-questions", listing(), content_type=json_ld, when=year(YEAR, "2"))
    for identifier, (collection, body) in works.items():
        replay.add(f"{API}/{collection}/{identifier}", envelope(body), content_type=json_ld)
    replay.add(f"{API}/procedures/2024-2006", (EX / "procedure_2024-2006.json").read_bytes(), content_type=json_ld)
    replay.add(f"{API}/procedures/2025-0260", (EX / "procedure_2025-0260.json").read_bytes(), content_type=json_ld)
    files = EX / "files"
    bodies = {
        "/distribution/doc/TA-9-2024-0025_en.xml": (files / "TA-9-2024-0025_en.xml").read_bytes(),
        "/distribution/doc/TA-9-2024-0025_pl.xml": (files / "TA-9-2024-0025_pl.xml").read_bytes(),
        "/distribution/doc/TA-10-2026-0101_en.pdf": make_pdf(PDF_TEXT),
        "/distribution/doc/TA-10-2026-0102_en.xml": XML_TEXT,
        "/distribution/reds_iPlRp/A-9-2024-0163/A-9-2024-0163_en.docx": (files / "A-9-2024-0163_en.docx").read_bytes(),
        "/distribution/reds_iMaQp/E-9-2021-001464/E-9-2021-001464_en.docx": (files / "E-9-2021-001464_en.docx").read_bytes(),
        "/distribution/reds_iMaQp/E-9-2021-001464-ASW/E-9-2021-001464-ASW_en.docx": make_docx(ANSWER_TEXT),
    }
    for path, body in bodies.items():
        replay.add(path, body)


def configure(env, replay, languages=("en",), **keys):
    options = {"base_url": replay.url(API), "procedures": ["2025/0260(COD)"], "page_size": 2,
               "keywords": ["port", "harassment", "strategic infrastructure"], **keys}
    env.configure({"ep-open-data": options},
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK", "国家交通运输物流公共信息平台"]\n'
                        f"languages = {json.dumps(list(languages))}")


def documents(env) -> dict[str, dict]:
    return {d["source_id"]: d for d in env.db()["documents"].rows_where("source = 'ep-open-data'")}


def links(env, source_id: str) -> set[tuple[str, str, str]]:
    return {(r[0], r[1], r[2]) for r in env.db().execute(
        "select relation, target_source, target_source_id from document_links join documents on documents.id = document_id "
        "where documents.source = 'ep-open-data' and documents.source_id = ?", [source_id]).fetchall()}


# -- tests --------------------------------------------------------------------------------------

def test_crawl_stores_texts_questions_answers_and_procedures(env, replay):
    serve(replay)
    configure(env, replay)
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "ep-open-data: ok" in result.output
    docs = documents(env)
    assert set(docs) == {
        "TA-9-2024-0025", "TA-10-2026-0101", "TA-10-2026-0102", "A-9-2024-0163", "E-9-2021-001464",
        "E-9-2021-001464-ASW", "2024/2006(REG)", "2025/0260(COD)",
    }
    # formats: XML preferred over PDF, DOCX over PDF, PDF when it is all there is
    adopted = docs["TA-9-2024-0025"]
    assert json.loads(adopted["metadata"])["format"] == "XML" and "comprehensive European port strategy" in adopted["text"]
    assert adopted["doc_type"] == "adopted_text" and adopted["language"] == "en" and adopted["published_at"] == "2024-01-17"
    assert adopted["institution"] == "European Parliament" and adopted["jurisdiction"] == "EU"
    assert adopted["url"] == "https://data.europarl.europa.eu/distribution/doc/TA-9-2024-0025_en.xml"
    assert "Source: European Parliament" in json.loads(adopted["metadata"])["attribution"]
    assert "LOGINK" in docs["TA-10-2026-0101"]["text"] and json.loads(docs["TA-10-2026-0101"]["metadata"])["format"] == "PDF"
    report = docs["A-9-2024-0163"]
    assert report["doc_type"] == "report" and json.loads(report["metadata"])["format"] == "DOCX"
    assert "Decides to amend its Rules of Procedure" in report["text"]
    # the report belongs to procedure 2024/2006(REG): link, group key, dossier with events in date order
    assert links(env, "A-9-2024-0163") == {("procedure", "ep-open-data", "2024/2006(REG)")}
    assert report["group_key"] == "ep-procedure:2024/2006(REG)"
    db = env.db()
    dossier = db["dossiers"].get("ep-procedure:2024/2006(REG)")
    assert dossier["kind"] == "procedure" and dossier["source"] == "ep-open-data" and dossier["latest_event_date"] == "2024-04-24"
    events = [r[0] for r in db.execute("select date from events where dossier_key = 'ep-procedure:2024/2006(REG)' order by rowid")]
    assert len(events) == 7 and events == sorted(events) and events[0] == "2024-02-29"
    assert db["dossiers"].get("ep-procedure:2025/0260(COD)")["latest_event_date"] == "2026-06-16"  # configured procedure
    assert "2024-02-29 Committee tabling report (AFCO-PR-759748)" in docs["2024/2006(REG)"]["text"]
    # the adopted text's procedure 2023-2059 is not served (404): stored without a procedure link
    assert links(env, "TA-9-2024-0025") == set() and adopted["group_key"] is None
    # question and its answer: two documents, linked and grouped
    question, answer = docs["E-9-2021-001464"], docs["E-9-2021-001464-ASW"]
    assert question["doc_type"] == "question" and "Piraeus and Genoa" in question["text"]
    assert answer["doc_type"] == "answer" and answer["institution"] == "European Commission"
    assert "monitors foreign direct investment" in answer["text"]
    assert links(env, "E-9-2021-001464-ASW") == {("answers", "ep-open-data", "E-9-2021-001464")}
    assert question["group_key"] == answer["group_key"] == "ep-question:E-9-2021-001464"
    # paging: the LOGINK search read offset 0 (full page of 2) then offset 2 (short page), no third page
    searched = [r.args.get("offset") for r in replay.requests if r.path == f"{API}/adopted-texts" and r.args.get("text") == "LOGINK"]
    assert searched == ["0", "2"]
    assert not any(r.args.get("text", "").startswith("国家") for r in replay.requests)  # CJK terms are not sent
    listing_request = next(r for r in replay.requests if r.path == f"{API}/adopted-texts")
    assert listing_request.args["format"] == "application/ld+json" and listing_request.headers["Accept"] == "application/ld+json"
    # year pass over this year and last, the work types of each collection
    years = {(r.path, r.args.get("year")) for r in replay.requests if r.args.get("year")}
    assert {(f"{API}/adopted-texts", str(YEAR)), (f"{API}/adopted-texts", str(YEAR - 1)),
            (f"{API}/parliamentary-questions", str(YEAR - 1))} <= years
    assert any(r.args.get("work-type") == "REPORT_PLENARY" for r in replay.requests if r.path == f"{API}/plenary-documents")
    # irrelevant works (titles match no term or keyword) were read once and not stored
    assert "TA-10-2026-0050" not in docs and "E-10-2024-001357" not in docs
    assert replay.hits("/distribution/doc/TA-10-2026-0050_en.xml") == 0
    run = list(db["crawl_runs"].rows)[-1]
    assert run["status"] == "ok" and run["new"] == 8 + 2  # 8 documents + 2 dossiers
    assert db["sources"].get("ep-open-data")["watermark"] == f"{YEAR}-04-02"


def test_second_crawl_adds_and_refetches_nothing(env, replay):
    serve(replay)
    configure(env, replay)
    assert env.run("crawl", "ep-open-data", "--no-nlp").exit_code == 0
    before = len(replay.requests)
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0" in result.output
    second = replay.requests[before:]
    assert not [r.path for r in second if r.path.startswith("/distribution/")]  # no text downloaded again
    # stored and irrelevant works alike: no detail read again (only lists and procedures)
    assert not [r.path for r in second if r.path.count("/") == 4 and "/procedures/" not in r.path]
    db = env.db()
    assert db["documents"].count == 8 and db["document_versions"].count == 8
    assert db.execute("select count(*) from events where dossier_key = 'ep-procedure:2024/2006(REG)'").fetchone()[0] == 7


def test_answer_published_after_the_question_is_picked_up(env, replay):
    works = upstream_works()
    unanswered = copy.deepcopy(works)
    del unanswered["E-9-2021-001464"][1]["inverse_answers_to"]
    serve(replay, unanswered)
    configure(env, replay)
    assert env.run("crawl", "ep-open-data", "--no-nlp").exit_code == 0
    assert "E-9-2021-001464" in documents(env) and "E-9-2021-001464-ASW" not in documents(env)
    serve(replay, works)  # the answer is now nested in the question
    before = len(replay.requests)
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 0 and "new 1, updated 0" in result.output, result.output
    assert "E-9-2021-001464-ASW" in documents(env)
    assert not any(r.path.endswith("E-9-2021-001464_en.docx") for r in replay.requests[before:])  # question text not refetched


def test_other_languages_the_topics_ask_for(env, replay):
    serve(replay)
    replay.add(f"{API}/plenary-documents", b"", status=204)  # the real report has 23 languages: not served here
    configure(env, replay, languages=["en", "pl", "de"])
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 0, result.output
    polish = documents(env)["TA-9-2024-0025/pl"]
    assert polish["language"] == "pl" and "kompleksowej europejskiej strategii portowej" in polish["text"]
    assert polish["title"] == "Opracowanie kompleksowej europejskiej strategii portowej"
    assert not any(r.path.endswith("_de.xml") for r in replay.requests)  # no German expression upstream


def test_details_are_batched(env, replay):
    serve(replay)
    works = upstream_works()
    batches = {"adopted-texts": ("TA-9-2024-0025", "TA-10-2026-0101", "TA-10-2026-0102"), "parliamentary-questions": ("E-9-2021-001464", "E-10-2024-001357")}
    for collection, ids in batches.items():
        replay.add(f"{API}/{collection}/{','.join(ids)}", envelope(*(works[i][1] for i in ids)), content_type="application/ld+json")
    configure(env, replay)
    assert env.run("crawl", "ep-open-data", "--no-nlp").exit_code == 0
    for collection, ids in batches.items():
        assert replay.hits(f"{API}/{collection}/{','.join(ids)}") == 1
        assert not any(replay.hits(f"{API}/{collection}/{i}") for i in ids)  # no single reads
    assert {"E-9-2021-001464", "TA-10-2026-0101"} <= set(documents(env))


def test_refused_batch_turns_batching_off(env, replay):
    serve(replay)  # no batch routes: the replay answers 404
    configure(env, replay)
    assert env.run("crawl", "ep-open-data", "--no-nlp").exit_code == 0
    batches = [r.path for r in replay.requests if "," in r.path]
    assert batches == [f"{API}/adopted-texts/TA-9-2024-0025,TA-10-2026-0101,TA-10-2026-0102"]  # tried once, then one id per request
    assert replay.hits(f"{API}/parliamentary-questions/E-9-2021-001464") == 1
    assert {"TA-9-2024-0025", "E-9-2021-001464"} <= set(documents(env))


def test_waf_challenge_during_discovery_is_blocked(env, replay):
    replay.add(f"{API}/adopted-texts", b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    configure(env, replay)
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 1 and "ep-open-data: blocked" in result.output
    db = env.db()
    assert list(db["crawl_runs"].rows)[-1]["status"] == "blocked" and db["documents"].count == 0


def test_manifestation_404_is_an_item_error(env, replay):
    serve(replay)
    replay.add("/distribution/doc/TA-10-2026-0102_en.xml", b"Not Found", status=404)
    configure(env, replay)
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 1 and "ep-open-data: partial" in result.output
    assert "TA-10-2026-0102" in result.output and "HTTP 404" in result.output
    docs = documents(env)
    assert "TA-10-2026-0102" not in docs and {"TA-9-2024-0025", "E-9-2021-001464-ASW"} <= set(docs)
    assert env.db()["sources"].get("ep-open-data")["watermark"] is None  # not moved past a failed item


def test_manifestation_behind_waf_falls_back_then_fails_as_item(env, replay):
    serve(replay)
    # the XML rendition redirects to a host answering with the WAF challenge: the PDF is used instead
    replay.add("/distribution/doc/TA-9-2024-0025_en.xml", b"", status=302, headers={"Location": "/doceo/document/TA-9-2024-0025_EN.xml"})
    replay.add("/doceo/document/TA-9-2024-0025_EN.xml", b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    replay.add("/distribution/doc/TA-9-2024-0025_en.pdf", make_pdf(PDF_TEXT))
    # the only rendition of TA-10-2026-0101 is challenged too: an item error, not a blocked run
    replay.add("/distribution/doc/TA-10-2026-0101_en.pdf", b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    configure(env, replay)
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert "ep-open-data: partial" in result.output and "challenge" in result.output, result.output
    docs = documents(env)
    assert json.loads(docs["TA-9-2024-0025"]["metadata"])["format"] == "PDF"
    assert "TA-10-2026-0101" not in docs and "A-9-2024-0163" in docs


def test_malformed_listing_fails_the_run(env, replay):
    replay.add(f"{API}/adopted-texts", b'{"unexpected": []}', content_type="application/ld+json")
    configure(env, replay)
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 1 and "ep-open-data: failed" in result.output and "'data'" in result.output


def _source(base_url: str, options: dict | None = None) -> EpOpenData:
    settings = HttpSettings(min_interval_s=0.0)
    ctx = CrawlContext(source_id="ep-open-data", settings=SourceSettings(base_url, options=options or {}),
                       topics=[], client=HttpClient(settings, "ep-open-data"))
    return EpOpenData(ctx)


def test_portal_rate_limit_is_respected_by_default():
    assert _source("https://data.europarl.europa.eu/api/v2").ctx.client.min_interval_s == 0.6  # 500 / 5 min
    assert _source("https://data.europarl.europa.eu/api/v2", {"min_interval_s": 0}).ctx.client.min_interval_s == 0
    assert _source("http://127.0.0.1:9/api/v2").ctx.client.min_interval_s == 0.0  # a mirror: the [http] setting


def test_since_extends_the_year_pass(env, replay):
    serve(replay)
    configure(env, replay)
    assert env.run("crawl", "ep-open-data", "--no-nlp", "--since", f"{YEAR - 3}-06-01").exit_code == 0
    years = {r.args.get("year") for r in replay.requests if r.path == f"{API}/adopted-texts" and r.args.get("year")}
    assert years == {str(y) for y in range(YEAR - 3, YEAR + 1)}


def test_answer_institution_comes_from_its_creator():
    from crawler.sources.ep_open_data import answers_of, doc_type_of, institution_of

    question = json.loads((EX / "files" / "E-10-2024-001357.excerpt.json").read_text())["data"][0]
    (answer,) = answers_of(question)
    assert doc_type_of(answer) == "answer" and institution_of(answer) == "Council of the European Union"
    assert institution_of(question) == "European Parliament" and doc_type_of(question) == "question"


def test_json_ld_value_shapes_are_normalised(env, replay):
    """Acceptance dry-run regression (project-written work): JSON-LD gives single values as lists or
    typed objects and language-tagged titles as ``[{"@language", "@value"}]`` instead of a language
    map. Such a work (no expression title) was judged irrelevant on the year pass, and a procedure
    whose title, label and dates came in these shapes lost its title and events."""
    work = {"id": "eli/dl/doc/TA-10-2026-0777", "type": "Work", "identifier": ["TA-10-2026-0777"],
            "work_type": {"id": "def/ep-document-types/TEXT_ADOPTED"},
            "document_date": {"@value": f"{YEAR}-02-12", "@type": "xsd:date"},
            "title_dcterms": [{"@language": "fr", "@value": "Sécurité des ports maritimes"},
                              {"@language": "en", "@value": "Security of maritime ports"}],
            "inverse_created_a_realization_of": "eli/dl/proc/2026-2001",
            "is_realized_by": {"id": "eli/dl/doc/TA-10-2026-0777/en", "type": "Expression",
                               "language": {"id": "http://publications.europa.eu/resource/authority/language/ENG"},
                               "is_embodied_by": {"id": "eli/dl/doc/TA-10-2026-0777/en/xml", "format": [FILE_TYPE + "XML"],
                                                  "issued": [f"{YEAR}-02-13T10:00:00+01:00"],
                                                  "is_exemplified_by": ["distribution/doc/TA-10-2026-0777_en.xml"]}}}
    process = {"id": "eli/dl/proc/2026-2001", "type": "Process", "process_id": "2026-2001", "label": ["2026/2001(INI)"],
               "process_type": "def/ep-procedure-types/INI",
               "process_title": [{"@language": "en", "@value": "Security of maritime ports"}],
               "consists_of": [{"id": "eli/dl/event/B", "activity_date": [f"{YEAR}-02-12"], "had_activity_type": "def/ep-activities/PLENARY_VOTE"},
                               {"id": "eli/dl/event/A", "activity_date": {"@value": f"{YEAR}-01-20"}, "had_activity_type": "def/ep-activities/TABLING_PLENARY"}]}
    json_ld = "application/ld+json"
    for collection in ("adopted-texts", "plenary-documents", "parliamentary-questions"):
        replay.add(f"{API}/{collection}", b"", status=204)
    replay.add(f"{API}/adopted-texts", listing("TA-10-2026-0777"), content_type=json_ld, when=lambda r: r.args.get("year") == str(YEAR))
    replay.add(f"{API}/adopted-texts/TA-10-2026-0777", envelope(work), content_type=json_ld)
    replay.add(f"{API}/procedures/2026-2001", envelope(process), content_type=json_ld)
    replay.add("/distribution/doc/TA-10-2026-0777_en.xml", XML_TEXT)
    configure(env, replay, procedures=[])
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 0, result.output
    doc = documents(env)["TA-10-2026-0777"]
    assert doc["title"] == "Security of maritime ports" and doc["published_at"] == f"{YEAR}-02-12"
    assert doc["updated_at"] == f"{YEAR}-02-13T10:00:00+01:00" and doc["doc_type"] == "adopted_text" and doc["text"].strip()
    dossier = env.db()["dossiers"].get("ep-procedure:2026/2001(INI)")
    assert dossier["title"] == "Security of maritime ports"
    events = [(e["date"], e["kind"]) for e in env.db()["events"].rows_where("dossier_key = ?", ["ep-procedure:2026/2001(INI)"], order_by="date")]
    assert events == [(f"{YEAR}-01-20", "TABLING_PLENARY"), (f"{YEAR}-02-12", "PLENARY_VOTE")]


def test_distribution_redirect_to_doceo_follows_the_configured_base_url(env, replay):
    """Acceptance dry-run regression: a distribution answers 302 to ``https://www.europarl.europa.eu/doceo/...``
    (the real upstream's content host); replayed on loopback that redirect must reach the replay server."""
    works = upstream_works()
    serve(replay, {k: v for k, v in works.items() if k == "TA-9-2024-0025"})
    replay.add("/distribution/doc/TA-9-2024-0025_en.xml", b"", status=302,
               headers={"Location": "https://www.europarl.europa.eu/doceo/document/TA-9-2024-0025_EN.xml"})
    replay.add("/doceo/document/TA-9-2024-0025_EN.xml", (EX / "files" / "TA-9-2024-0025_en.xml").read_bytes())
    configure(env, replay, procedures=[], year_pass=[])
    env.run("crawl", "ep-open-data", "--no-nlp")  # the other listed works are not served here: partial
    assert replay.hits("/doceo/document/TA-9-2024-0025_EN.xml") == 1
    assert documents(env)["TA-9-2024-0025"]["text"].strip()


def test_expression_language_from_bare_codes_and_three_letter_suffixes():
    """Acceptance dry-run regression: ``language`` given as a bare code, or only an id ending ``/eng``,
    used to leave the work without any language version (item error)."""
    from crawler.sources.ep_open_data import expression_language

    assert expression_language({"language": "en"}) == "en"
    assert expression_language({"language": {"id": "http://publications.europa.eu/resource/authority/language/DEU"}}) == "de"
    assert expression_language({"id": "eli/dl/doc/TA-10-2026-0001/eng"}) == "en"
    assert expression_language({"id": "eli/dl/doc/TA-10-2026-0001/pl"}) == "pl"
    assert expression_language({"id": "eli/dl/doc/TA-10-2026-0001"}) is None


def test_procedure_without_events_and_no_events_endpoint_is_stored(env, replay):
    """Acceptance dry-run regression: a procedure without ``consists_of`` whose ``/events`` answers 404
    (a new procedure, or a recording without it) used to make the run partial; it is stored without events."""
    process = {"id": "eli/dl/proc/2026-0042", "type": "Process", "process_id": "2026-0042", "label": "2026/0042(COD)",
               "process_type": "def/ep-procedure-types/COD", "process_title": {"en": "Maritime single window (project-written)"}}
    for collection in ("adopted-texts", "plenary-documents", "parliamentary-questions"):
        replay.add(f"{API}/{collection}", b"", status=204)
    replay.add(f"{API}/procedures/2026-0042", envelope(process), content_type="application/ld+json")
    configure(env, replay, procedures=["2026/0042(COD)"])
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 0 and "ep-open-data: ok" in result.output, result.output
    assert replay.hits(f"{API}/procedures/2026-0042/events") == 1
    assert env.db()["dossiers"].get("ep-procedure:2026/0042(COD)")["title"] == "Maritime single window (project-written)"


def test_missing_translation_is_skipped_not_a_run_failure(env, replay):
    """Acceptance dry-run regression: the topics ask for de/fr/... too; a recording (or the portal)
    without one translation's body made the run partial (exit 1) although the English text was stored.
    An extra language without text is now logged and skipped; the first language stays required."""
    work = load("adopted-text_TA-9-2024-0025.json")["data"][0]
    polish = next(e for e in work["is_realized_by"] if e["id"].endswith("/pl"))
    for collection in ("adopted-texts", "plenary-documents", "parliamentary-questions"):
        replay.add(f"{API}/{collection}", b"", status=204)
    replay.add(f"{API}/adopted-texts", listing("TA-9-2024-0025"), content_type="application/ld+json", when=lambda r: r.args.get("text") == "LOGINK")
    replay.add(f"{API}/adopted-texts/TA-9-2024-0025", envelope(work), content_type="application/ld+json")
    replay.add("/distribution/doc/TA-9-2024-0025_en.xml", (EX / "files" / "TA-9-2024-0025_en.xml").read_bytes())
    configure(env, replay, languages=["en", "pl"], procedures=[])  # the Polish body is not served: 404
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert result.exit_code == 0 and "ep-open-data: ok" in result.output, result.output
    assert set(documents(env)) == {"TA-9-2024-0025"}
    assert any("TA-9-2024-0025_pl" in r.path for r in replay.requests) and polish
    # the English body missing is still an item error
    replay.add("/distribution/doc/TA-9-2024-0025_en.xml", b"gone", status=404)
    result = env.run("crawl", "ep-open-data", "--no-nlp", "--full")
    assert result.exit_code == 1 and "ep-open-data: partial" in result.output


def test_events_reference_only_the_procedures_own_documents_and_every_shape_is_kept():
    """Sitting-level activities list every document of the sitting in ``based_on_a_realization_of``:
    an event keeps only the procedure's own documents (or none); a bare event IRI in ``consists_of``
    is an event too; groups given as authority IRIs and as ``org/`` codes come out in one scheme."""
    from crawler.sources.ep_open_data.procedures import parse_procedure

    payload = json.loads((EX / "procedure_2023-2059.json").read_text("utf-8"))
    dossier, document = parse_procedure(payload, "procedure_2023-2059.json")
    assert len(dossier.events) == len(payload["data"][0]["consists_of"])
    own = {"A-9-2023-0443", "TA-9-2024-0025"}
    for event in dossier.events:
        docs = {r for r in re.findall(r"\b(?:A|B|C|RC|TA)-9-\d{4}-\d{4}\b", event.description)}
        assert docs <= own, (event.kind, event.description)
    debate = next(e for e in dossier.events if e.kind == "PLENARY_DEBATE")
    assert debate.ref_id == "A-9-2023-0443" and "A-9-2023-0424" not in debate.description
    other_sitting = next(e for e in dossier.events if e.date == "2023-11-22")
    assert other_sitting.ref_id == "PV-9-2023-11-22-ITM-004"  # the minutes of the item, no other procedure's report
    bare = next(e for e in dossier.events if e.ref_id == "MTG-PL-2024-01-17-VOT-ITM-926817")
    assert bare.date == "2024-01-17" and bare.kind == "PLENARY_VOTE"
    assert [p.get("group") for p in document.metadata["participants"] if p.get("group")] == ["PPE", "S-D", "VERTS-ALE"]


def test_unknown_shapes_fail_loudly():
    from crawler.errors import ParseError
    from crawler.sources.ep_open_data.jsonld import agent_code
    from crawler.sources.ep_open_data.procedures import parse_event

    with pytest.raises(ParseError):
        parse_event("eli/dl/event/NO-DATE-HERE", set())
    with pytest.raises(ParseError):
        parse_event(42, set())
    with pytest.raises(ParseError):
        agent_code("https://example.org/groups/PPE")
    assert agent_code("http://publications.europa.eu/resource/authority/corporate-body/EP_GROUP_LEFT") == "THE-LEFT"
    assert agent_code("org/PPE") == agent_code("http://publications.europa.eu/resource/authority/corporate-body/EP_GROUP_EPP") == "PPE"


def test_alternative_titles_lose_their_markup():
    from crawler.sources.ep_open_data.works import parse_works, titles

    work = parse_works(json.loads((EX / "joint-motion_RC-9-2021-0068.json").read_text("utf-8")), "x")[0]
    assert all("<br" not in t and "&amp;" not in t for t in titles(work))
    assert any(t.startswith("JOINT MOTION FOR A RESOLUTION pursuant to Rules 144(5)") and "(S&D)" in t for t in titles(work))
