"""uscode end to end over real HTTP: the section body without navigation, conditional GET, an
amendment stored as version 2, pages without the section, and the extraction fallback."""

from __future__ import annotations

import json
import re

import pytest

from crawler.errors import ParseError
from crawler.sources.uscode import parse_section
from tests.replay import FIXTURES

PAGE = FIXTURES / "uscode" / "examples" / "46-50309.html"
GRANULE = "granuleid:USC-prelim-title46-section50309"


def is_section(request, granule=GRANULE) -> bool:
    return request.args.get("req") == granule and request.args.get("edition") == "prelim" and request.args.get("num") == "0"


def serve(replay, body: bytes | str, etag: str = '"v1"'):
    """The section view: 304 when the client presents the current ETag, else the page."""
    replay.add("/view.xhtml", b"", status=304, headers={"ETag": etag},
               when=lambda r: is_section(r) and r.headers.get("If-None-Match") == etag)
    replay.add("/view.xhtml", body, headers={"ETag": etag}, content_type="text/html;charset=UTF-8",
               when=lambda r: is_section(r) and r.headers.get("If-None-Match") != etag)


def configure(env, replay, **keys):
    env.configure({"uscode": {"base_url": replay.url(), **keys}})


def test_section_is_stored_as_a_statute_without_navigation(env, replay):
    serve(replay, PAGE.read_bytes())
    configure(env, replay)
    result = env.run("crawl", "uscode", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "uscode: ok (new 1" in result.output
    doc = next(env.db()["documents"].rows)
    assert doc["source_id"] == "46-usc-50309" and doc["doc_type"] == "statute" and doc["version"] == 1
    assert doc["jurisdiction"] == "US" and doc["institution"] == "Office of the Law Revision Counsel"
    assert doc["title"] == "46 U.S.C. 50309: Securing logistics information data of the United States"
    assert doc["url"] == "https://uscode.house.gov/view.xhtml?req=granuleid:USC-prelim-title46-section50309&num=0&edition=prelim"
    text = doc["text"]
    assert text.startswith("§50309. Securing logistics information data of the United States")
    assert '(commonly referred to as "LOGINK")' in text and "(D) a commercial strategic seaport" in text
    assert text.rstrip().endswith("(Added Pub. L. 118–31, div. C, title XXXV, Dec. 22, 2023.)")
    for noise in ("Result 1 of 1", "Browse", "Popular Names", "Previous", "Editorial Notes", "References in Text", "Privacy"):
        assert noise not in text
    assert doc["updated_at"] == "2024-11-04"
    meta = json.loads(doc["metadata"])
    assert meta["citation"] == "46 U.S.C. 50309" and meta["hierarchy"][-2] == "CHAPTER 503-ADMINISTRATIVE"
    section_requests = [r for r in replay.requests if r.path == "/view.xhtml"]
    assert len(section_requests) == 1 and is_section(section_requests[0])


def test_unchanged_section_costs_a_304(env, replay):
    serve(replay, PAGE.read_bytes())
    configure(env, replay)
    env.run("crawl", "uscode", "--no-nlp")
    result = env.run("crawl", "uscode", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0, unchanged 1" in result.output
    second = [r for r in replay.requests if r.path == "/view.xhtml"][-1]
    assert second.headers.get("If-None-Match") == '"v1"'
    db = env.db()
    assert db["documents"].count == 1 and db["document_versions"].count == 1


def test_amended_section_becomes_version_2(env, replay):
    serve(replay, PAGE.read_bytes())
    configure(env, replay)
    env.run("crawl", "uscode", "--no-nlp")
    amended = PAGE.read_text(encoding="utf-8").replace(
        "(C) a similar system provided by Chinese state-affiliated entities.",
        "(C) a similar system provided by Chinese state-affiliated entities; or</p>\n"
        '<p class="statutory-body-2em">(D) any platform designated by the Secretary under subsection (b)(2).')
    serve(replay, amended, etag='"v2"')
    result = env.run("crawl", "uscode", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 1" in result.output
    db = env.db()
    doc = next(db["documents"].rows)
    assert doc["version"] == 2 and "designated by the Secretary" in doc["text"]
    versions = list(db["document_versions"].rows_where("document_id = ?", [doc["id"]], order_by="version"))
    assert [v["version"] for v in versions] == [1, 2]
    assert "designated by the Secretary" not in versions[0]["text"] and "designated by the Secretary" in versions[1]["text"]


def test_several_sections_and_an_unknown_one(env, replay):
    serve(replay, PAGE.read_bytes())
    empty = "<html><head><title>Search Results</title></head><body><div id='content'>No results found.</div></body></html>"
    replay.add("/view.xhtml", empty, content_type="text/html",
               when=lambda r: is_section(r, "granuleid:USC-prelim-title46-section99999"))
    configure(env, replay, sections=["46/50309", "46/99999"])
    result = env.run("crawl", "uscode", "--no-nlp")
    assert result.exit_code == 1
    assert "uscode: partial (new 1" in result.output and "no text of 46 U.S.C. 99999" in result.output


def test_malformed_section_option_fails_with_the_key(env, replay):
    configure(env, replay, sections=["46 USC 50309"])
    result = env.run("crawl", "uscode", "--no-nlp")
    assert result.exit_code == 1 and "sources.uscode.sections" in result.output


def test_extraction_without_field_markers_uses_the_section_heading():
    page = re.sub(r"<!--.*?-->", "", PAGE.read_text(encoding="utf-8"), flags=re.S)
    page = '<?xml version="1.0" encoding="UTF-8"?>\n' + page  # served as XHTML with an encoding declaration
    record = parse_section(page.encode(), "https://uscode.house.gov/view.xhtml", "46", "50309")
    with_markers = parse_section(PAGE.read_bytes(), "https://uscode.house.gov/view.xhtml", "46", "50309")
    assert record.text == with_markers.text and record.title == with_markers.title
    assert record.updated_at == "2024-11-04"  # from "laws in effect on November 4, 2024"


def test_page_without_the_section_is_a_parse_error():
    with pytest.raises(ParseError, match="no text of 46 U.S.C. 50309"):
        parse_section(b"<html><body><div id='menu'>Browse</div></body></html>", "u", "46", "50309")
