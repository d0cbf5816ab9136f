"""eurlex end to end over real HTTP: Cellar SPARQL discovery (a replayed endpoint that honours the
query's date and title filters) -> Cellar REST content (XHTML, HTML, PDF fallback, 300 Multiple
Choices), 202 "not ready", WAF challenges, incremental re-crawl; plus the pure parsers."""

from __future__ import annotations

import json
import re

import pytest
from werkzeug import Response

from crawler.errors import ParseError
from crawler.sources.eurlex import (
    build_query,
    classify,
    institution_for,
    parse_multiple_choices,
    parse_sparql_results,
    utc_timestamp,
    works_from_rows,
)
from tests.replay import FIXTURES
from tests.test_extract import make_pdf, text_stream

EX = FIXTURES / "eurlex" / "examples"
SPARQL = "/webapi/rdf/sparql"
CONTENT = "/resource/celex/"
ROWS = json.loads((EX / "sparql_results.json").read_text())["results"]["bindings"]
TOPICS = '[topics.t]\nentities = []\nterms = ["artificial intelligence", "Freight transport", "foreign direct investments", "customs code", "港口"]'
WINDOW = re.compile(r'\?mod >= "([^"]+)"\^\^xsd:dateTime && \?mod < "([^"]+)"')
TERM = re.compile(r'CONTAINS\(LCASE\(STR\(\?title\)\), "((?:[^"\\]|\\.)*)"\)')


def sparql_endpoint(rows: list[dict], headers: dict | None = None):
    """A SPARQL endpoint double: answers the discovery query with the rows whose modification date
    lies in the query's window and whose title contains one of its terms (as Virtuoso would)."""

    def handler(request) -> Response:
        query = request.get_data(as_text=True)
        window, terms = WINDOW.search(query), TERM.findall(query)
        start, end = utc_timestamp(window.group(1)), utc_timestamp(window.group(2))
        limit = int(re.search(r"LIMIT (\d+)", query).group(1))
        hits = [row for row in rows
                if start <= utc_timestamp(row["mod"]["value"]) < end
                and any(t in row["title"]["value"].lower() for t in terms)]
        body = {"head": {"vars": ["work", "celex", "title", "date", "mod", "type", "author"]},
                "results": {"bindings": hits[:limit]}}
        return Response(json.dumps(body), headers={"Content-Type": "application/sparql-results+json", **(headers or {})})

    return handler


def wants_pdf(request) -> bool:
    return "application/pdf" in request.headers.get("Accept", "")


def serve_cellar(replay, rows: list[dict] = ROWS):
    replay.add(SPARQL, sparql_endpoint(rows))
    replay.add(CONTENT + "32024R1689", EX / "files" / "32024R1689.xhtml", content_type="application/xhtml+xml;charset=UTF-8")
    replay.add(CONTENT + "32019R0452", EX / "files" / "32019R0452.html", content_type="text/html")
    # eFTI: no XHTML/HTML rendition (406), the PDF then
    replay.add(CONTENT + "32020R1056", b"Not Acceptable", status=406)
    replay.add(CONTENT + "32020R1056", EX / "files" / "32020R1056.pdf", content_type="application/pdf", when=wants_pdf)
    # the COM proposal: a rendition in two files, listed by a 300 Multiple Choices page
    choices = (b'<html><body><h1>Multiple Choices</h1><ul>'
               b'<li><a href="https://publications.europa.eu/resource/cellar/5b0f8bd1.0001.02/DOC_1">DOC_1</a></li>'
               b'<li><a href="/resource/cellar/5b0f8bd1.0001.02/DOC_2">DOC_2</a></li></ul></body></html>')
    replay.add(CONTENT + "52023PC0258", choices, status=300, content_type="text/html")
    replay.add("/resource/cellar/5b0f8bd1.0001.02/DOC_1", EX / "files" / "52023PC0258.html", content_type="text/html")
    replay.add("/resource/cellar/5b0f8bd1.0001.02/DOC_2", b"<html><body><p>ANNEX</p><p>Correlation table of the customs data hub</p></body></html>",
               content_type="text/html")


def configure(env, replay, **keys):
    env.configure({"eurlex": {"base_url": replay.url(), "start_date": "2024-01-01", "window_days": 3650, **keys}}, extra=TOPICS)


def sparql_requests(replay):
    return [r for r in replay.requests if r.path == SPARQL]


# -- end to end -----------------------------------------------------------------------------------


def test_sparql_discovery_then_cellar_content(env, replay):
    serve_cellar(replay)
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "eurlex: ok (new 4" in result.output
    db = env.db()
    docs = {d["source_id"]: d for d in db["documents"].rows}
    assert set(docs) == {"32024R1689", "32020R1056", "32019R0452", "52023PC0258"}
    ai = docs["32024R1689"]
    assert ai["url"] == "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32024R1689"
    assert ai["title"].startswith("Regulation (EU) 2024/1689") and ai["doc_type"] == "legal_act"
    assert ai["institution"] == "European Parliament; Council of the European Union"
    assert ai["published_at"] == "2024-06-13" and ai["updated_at"] == "2024-10-17T13:20:07.296Z"
    assert ai["language"] == "en" and ai["jurisdiction"] == "EU"
    assert ai["text"].startswith("CHAPTER I\n\nGENERAL PROVISIONS") and "CONVEX" not in ai["text"]
    assert json.loads(ai["metadata"])["act_type"] == "regulation"
    efti = docs["32020R1056"]  # PDF fallback after 406
    assert "eFTI platforms used to process regulatory information" in efti["text"]
    assert json.loads(efti["metadata"])["content_type"] == "application/pdf"
    proposal = docs["52023PC0258"]  # two parts of a 300 Multiple Choices, joined in order
    assert proposal["doc_type"] == "proposal" and proposal["institution"] == "European Commission"
    assert proposal["published_at"] is None
    assert proposal["text"].index("EU Customs Data Hub") < proposal["text"].index("Correlation table")
    assert docs["32019R0452"]["institution"] == "Publications Office of the EU"
    # the query: POSTed as application/sparql-query, no ORDER BY, terms lower-cased, non-Latin term left out
    (query,) = sparql_requests(replay)
    assert query.method == "POST" and query.headers["Content-Type"] == "application/sparql-query"
    assert query.headers["Accept"] == "application/sparql-results+json"
    body = query.get_data(as_text=True)
    assert "ORDER BY" not in body and '"freight transport"' in body and "港口" not in body
    assert '?mod >= "2024-01-01T00:00:00.000Z"' in body
    content = [r for r in replay.requests if r.path == CONTENT + "32024R1689"]
    assert content[0].headers["Accept-Language"] == "eng" and content[0].headers["Accept"].startswith("application/xhtml+xml")
    run = list(db["crawl_runs"].rows)[-1]
    assert run["status"] == "ok" and run["new"] == 4
    assert db["sources"].get("eurlex")["watermark"] == "2024-11-05T17:02:11.004Z"


def test_second_crawl_honours_the_watermark_and_adds_nothing(env, replay):
    serve_cellar(replay)
    configure(env, replay)
    assert env.run("crawl", "eurlex", "--no-nlp").exit_code == 0
    content_hits = sum(1 for r in replay.requests if r.path.startswith(("/resource/celex/", "/resource/cellar/")))
    before = len(replay.requests)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0, unchanged 1" in result.output  # only the work inside the overlap, skipped
    (query,) = [r for r in replay.requests[before:] if r.path == SPARQL]
    assert '?mod >= "2024-11-05T17:02:11.004Z"' in query.get_data(as_text=True)  # the watermark, inclusive
    assert sum(1 for r in replay.requests if r.path.startswith(("/resource/celex/", "/resource/cellar/"))) == content_hits
    db = env.db()
    assert db["documents"].count == 4 and db["document_versions"].count == 4


def test_overlap_option_widens_the_filter(env, replay):
    serve_cellar(replay)
    configure(env, replay, overlap_hours=24)
    env.run("crawl", "eurlex", "--no-nlp")
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert "new 0, updated 0, unchanged 1" in result.output, result.output
    assert '?mod >= "2024-11-04T17:02:11.004Z"' in sparql_requests(replay)[-1].get_data(as_text=True)


def test_modified_work_is_fetched_again_and_versioned(env, replay):
    serve_cellar(replay)
    configure(env, replay)
    env.run("crawl", "eurlex", "--no-nlp")
    newer = json.loads(json.dumps(ROWS))
    for row in newer:
        if row["celex"]["value"] == "32019R0452":
            row["mod"]["value"] = "2025-02-01T08:00:00.000+01:00"
    replay.add(SPARQL, sparql_endpoint(newer))
    changed = (EX / "files" / "32019R0452.html").read_text().replace("including transport, ports,", "including transport, ports, port data,")
    replay.add(CONTENT + "32019R0452", changed, content_type="text/html")
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert "updated 1" in result.output, result.output
    db = env.db()
    doc = next(db["documents"].rows_where("source_id = ?", ["32019R0452"]))
    assert doc["version"] == 2 and "port data" in doc["text"] and doc["updated_at"] == "2025-02-01T07:00:00.000Z"
    assert db["sources"].get("eurlex")["watermark"] == "2025-02-01T07:00:00.000Z"


@pytest.mark.parametrize(("status", "body"), [(202, b""), (202, b"<html><body>Request accepted</body></html>"), (200, b"")],
                         ids=["202-empty", "202-body", "200-empty"])
def test_not_ready_is_an_item_error_then_ready_next_run(env, replay, status, body):
    serve_cellar(replay)
    replay.add(CONTENT + "32019R0452", body, status=status, content_type="text/html", times=1)
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    # an item error (partial) or, with issue 14's deferrals, an ok run that retries the item: either way
    # nothing is stored for it and the watermark never passes it
    assert ("eurlex: partial" in result.output or "deferred 1" in result.output) and "retry on a later run" in result.output
    db = env.db()
    assert {d["source_id"] for d in db["documents"].rows} == {"32024R1689", "32020R1056", "52023PC0258"}
    assert (db["sources"].get("eurlex")["watermark"] or "") < "2024-11-05T17:02:11.004Z"  # never past the unfinished work
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert "eurlex: ok (new 1, updated 0, unchanged " in result.output, result.output  # 3, or 1 after a deferral
    assert "Article 4" in next(db["documents"].rows_where("source_id = ?", ["32019R0452"]))["text"]
    assert db["sources"].get("eurlex")["watermark"] == "2024-11-05T17:02:11.004Z"


def test_waf_challenge_on_content_is_blocked(env, replay):
    serve_cellar(replay)
    replay.add(CONTENT + "32019R0452", b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert result.exit_code == 1 and "eurlex: blocked" in result.output
    db = env.db()
    run = list(db["crawl_runs"].rows)[-1]
    assert run["status"] == "blocked"
    assert not list(db["documents"].rows_where("source_id = ?", ["32019R0452"]))
    assert db["sources"].get("eurlex")["watermark"] is None


def test_waf_challenge_on_sparql_is_blocked(env, replay):
    replay.add(SPARQL, b"", status=202, headers={"x-amzn-waf-action": "challenge"})
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert result.exit_code == 1 and "eurlex: blocked" in result.output
    assert env.db()["documents"].count == 0


def test_garbled_pdf_is_an_item_error_not_an_empty_document(env, replay):
    serve_cellar(replay)
    letters = [ch for ch in "electronic freight transport information platforms" if ch != " "]
    replay.add(CONTENT + "32020R1056", make_pdf([text_stream(letters)]), content_type="application/pdf", when=wants_pdf)
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert "eurlex: partial" in result.output and "PDF text layer empty or garbled" in result.output
    assert not list(env.db()["documents"].rows_where("source_id = ?", ["32020R1056"]))


def test_work_without_any_english_rendition_is_skipped(env, replay):
    serve_cellar(replay)
    replay.add(CONTENT + "32020R1056", b"Not Found", status=404)
    replay.add(CONTENT + "32020R1056", b"Not Found", status=404, when=wants_pdf)
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert "eurlex: ok (new 3" in result.output, result.output
    accepts = [r.headers["Accept"] for r in replay.requests if r.path == CONTENT + "32020R1056"]
    assert accepts == ["application/xhtml+xml, text/html;q=0.9", "application/pdf"]


def test_full_windows_are_split_instead_of_paged(env, replay):
    serve_cellar(replay)
    configure(env, replay, page_size=3)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert "eurlex: ok (new 4" in result.output, result.output
    queries = [r.get_data(as_text=True) for r in sparql_requests(replay)]
    assert len(queries) > 1 and not any("OFFSET" in q for q in queries)


def test_incomplete_virtuoso_result_is_split(env, replay):
    serve_cellar(replay)
    replay.add(SPARQL, sparql_endpoint(ROWS[:1], {"X-SQL-State": "S1TAT"}), times=1)  # anytime-query partial result
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert "eurlex: ok (new 4" in result.output, result.output
    assert len(sparql_requests(replay)) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"head": {"vars": []}}', "no 'results' object"),
     (b'{"head": {}, "results": {"bindings": [{"celex": "32024R1689"}]}}', "malformed SPARQL binding"),
     (b'{"head": {}, "results": {"bindings": [', "malformed JSON")],
    ids=["no-results", "bad-binding", "truncated"],
)
def test_malformed_sparql_results_fail_the_run(env, replay, body, message):
    replay.add(SPARQL, body, content_type="application/sparql-results+json")
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert result.exit_code == 1 and "eurlex: failed" in result.output and message in result.output
    assert env.db()["documents"].count == 0


def test_sparql_syntax_error_fails_the_run(env, replay):
    replay.add(SPARQL, b"Virtuoso 37000 Error SP030: SPARQL compiler, line 4: syntax error", status=400)
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert result.exit_code == 1 and "HTTP 400" in result.output


# -- pure parsers ---------------------------------------------------------------------------------


def test_rows_of_one_work_are_merged_and_sorted_by_modification():
    works = works_from_rows(parse_sparql_results({"results": {"bindings": ROWS}}, "u"), "u")
    assert [w["celex"] for w in works] == ["32020R1056", "52023PC0258", "32024R1689", "32019R0452"]
    ai = works[2]
    assert ai["authors"] == ["EP", "CONSIL"] and ai["types"] == ["REG"] and ai["date"] == "2024-06-13"
    assert works[1]["authors"] == [] and works[1]["date"] is None


def test_rows_without_celex_are_a_parse_error():
    with pytest.raises(ParseError, match="no CELEX"):
        works_from_rows([{"title": "x"}], "u")
    assert works_from_rows([], "u") == []


def test_alternative_variable_names_are_understood():
    (work,) = works_from_rows([{"celex": "32019R0452", "title": "FDI", "modified": "2024-11-05T18:02:11+01:00",
                                "date_document": "2019-03-19"}], "u")
    assert work["modified"] == "2024-11-05T17:02:11.000Z" and work["date"] == "2019-03-19"


def test_query_escapes_terms_and_has_no_order_by():
    query = build_query(['Say "LOGINK"', "port\\data"], "2024-01-01T00:00:00Z", "2024-07-01T00:00:00Z", 500)
    assert r'CONTAINS(LCASE(STR(?title)), "say \"logink\"")' in query
    assert r'"port\\data"' in query and "ORDER BY" not in query and query.rstrip().endswith("LIMIT 500")


@pytest.mark.parametrize(
    ("celex", "doc_type", "institution"),
    [("32024R1689", "legal_act", "Publications Office of the EU"), ("32022L2555", "legal_act", "Publications Office of the EU"),
     ("52023PC0258", "proposal", "European Commission"), ("52025DC0123", "communication", "European Commission"),
     ("52024SC0001", "staff_working_document", "European Commission"), ("62019CJ0311", "case_law", "Court of Justice of the European Union"),
     ("not-a-celex", "document", "Publications Office of the EU")],
)
def test_classification(celex, doc_type, institution):
    assert classify(celex)[0] == doc_type
    assert institution_for(celex, []) == institution


def test_act_type_and_corrigendum():
    assert classify("32022L2555")[1]["act_type"] == "directive"
    assert classify("32024R1689R(01)")[1]["corrigendum"] is True
    assert institution_for("32024R1689", ["EP", "CONSIL", "EP", "XYZ"]) == "European Parliament; Council of the European Union"


def test_timestamps_are_normalised_to_utc():
    assert utc_timestamp("2024-12-31T20:10:26.804+01:00") == "2024-12-31T19:10:26.804Z"
    assert utc_timestamp("2024-12-31") == "2024-12-31T00:00:00.000Z"
    assert utc_timestamp("2024-12-31T20:10:26") == "2024-12-31T20:10:26.000Z"


def test_multiple_choices_links():
    page = b'<html><body><a href="#top">top</a><a href="/x/DOC_1">1</a><a href="/x/DOC_2">2</a><a href="/x/DOC_1">1</a></body></html>'
    assert parse_multiple_choices(page, "u") == ["/x/DOC_1", "/x/DOC_2"]
    with pytest.raises(ParseError, match="without links"):
        parse_multiple_choices(b"<html><body>none</body></html>", "u")


def test_redirect_to_the_upstream_host_follows_the_configured_base_url(env, replay):
    """Acceptance dry-run regression: Cellar answers the CELEX URL with a 303 to an absolute
    ``http://publications.europa.eu/resource/cellar/...`` URL; a recording replayed on loopback keeps
    that Location header, which used to send the client to the real host (refused: item error)."""
    replay.add(SPARQL, sparql_endpoint([r for r in ROWS if r["celex"]["value"] == "32019R0452"]))
    replay.add(CONTENT + "32019R0452", b"", status=303,
               headers={"Location": "http://publications.europa.eu/resource/cellar/0a1b2c3d.0006.03/DOC_1"})
    replay.add("/resource/cellar/0a1b2c3d.0006.03/DOC_1", EX / "files" / "32019R0452.html", content_type="text/html")
    configure(env, replay)
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert replay.hits("/resource/cellar/0a1b2c3d.0006.03/DOC_1") == 1
    (doc,) = env.db()["documents"].rows
    assert doc["source_id"] == "32019R0452" and doc["text"].strip()
