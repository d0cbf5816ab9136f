"""Recorded examples, juriscraper style: every registered source parses its recorded upstream files
(``tests/fixtures/<source>/examples/<case>.<ext>``, with the bodies a case refers to in ``files/``)
into exactly the reviewed output beside them (``<case>.<ext>.expected.json``). The harness drives
each source's pure parsers (one loader per source, here, not in production code) and stamps the
records with the source's provenance as `Source.crawl` does. A source without examples or without
a loader fails; a missing expected file is written for review and the test fails."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.articles import parse_article
from crawler.http import Fetched
from crawler.records import Record
from crawler.registry import SOURCES
from crawler.sources import _congress_bills as congress_gov
from crawler.sources import ec_press, ep_oeil, eurlex, federal_register, gdelt, govinfo, news_rss, uscode
from crawler.sources.ep_open_data import procedures, works
from crawler.sources.ep_open_data.jsonld import data_base, envelope
from crawler.urls import canonical_url, unwrap_redirect
from tests.replay import FIXTURES

VOLATILE = {"fetched_at"}


def _files(path: Path) -> Path:
    return path.parent / "files"


def federal_register_example(path: Path) -> list[Record]:
    """A ``documents.json`` page; bodies in ``files/<document number>.txt``."""
    _, results, _ = federal_register.parse_listing(json.loads(path.read_bytes()), path.name)
    bodies = [(meta, _files(path) / f"{meta['document_number']}.txt") for meta in results]
    return [federal_register.parse_document(meta, body.read_bytes(), meta["raw_text_url"], "text/html")
            for meta, body in bodies if body.exists()]


def congress_gov_example(path: Path) -> list[Record]:
    """A bill record ``<id>.json`` with ``files/<id>.{actions,titles,committees,text}.json`` and the
    text bodies ``files/<BILLS-stem>.htm`` (versions without a body are skipped)."""
    stem = path.name.removesuffix(".json")

    def listing(name: str) -> list[dict]:
        sub = _files(path) / f"{stem}.{name}.json"
        return congress_gov.parse_page(json.loads(sub.read_bytes()), "textVersions" if name == "text" else name, sub.name)[0]

    bill = congress_gov.parse_bill(json.loads(path.read_bytes()), path.name)
    titles, versions = listing("titles"), listing("text")
    records: list[Record] = [congress_gov.build_dossier(bill, listing("actions"), titles, listing("committees"), versions)]
    for version in versions:
        fmt, url = congress_gov.choose_format(version)
        body = _files(path) / f"{congress_gov.file_stem(version)}.htm"
        if fmt and body.exists():
            records.append(congress_gov.parse_text_version(bill, version, body.read_bytes(), url, "Formatted Text",
                                                           congress_gov.bill_title(bill, titles)))
    return records


def ep_open_data_example(path: Path) -> list[Record]:
    """A procedure, or a work whose manifestation bodies lie in ``files/`` under the basename of their
    ``is_exemplified_by`` (languages without a file are skipped)."""
    payload = json.loads(path.read_bytes())
    data = envelope(payload, path.name)
    if data and data[0].get("type") == "Process":
        return list(procedures.parse_procedure(payload, path.name))
    records: list[Record] = []
    base = data_base(payload)
    for work in works.parse_works(payload, path.name):
        nested = [a for a in works.answers_of(work) if isinstance(a, dict)]
        for item, question in [(work, None), *((a, works.work_id(work)) for a in nested)]:
            for lang, expression in sorted(works.expressions(item).items()):
                for manifestation in works.manifestations(expression, base):
                    body = _files(path) / urlsplit(manifestation[1]).path.rsplit("/", 1)[-1]
                    if body.exists():
                        records.append(works.parse_document(item, lang, manifestation, body.read_bytes(),
                                                            default_doc_type=works.doc_type_of(work), question=question))
                        break
    return records


def ep_oeil_example(path: Path) -> list[Record]:
    """A procedure-file page (either markup), fetched at its public URL."""
    content = path.read_bytes()
    match = re.search(rb"(?:es|erpl)_title-h1[^>]*>\s*([^<]+)<", content)
    reference = ep_oeil.normalise_reference(match[1].decode()) if match else None
    url = ep_oeil.procedure_url(ep_oeil.DEFAULT_BASE_URL, reference) if reference else path.name
    return list(ep_oeil.parse_procedure_file(content, url, reference))


def eurlex_example(path: Path) -> list[Record]:
    """A SPARQL result whose renditions lie in ``files/<CELEX>.{xhtml,html,pdf}``."""
    types = {".xhtml": "application/xhtml+xml", ".html": "text/html", ".pdf": "application/pdf"}
    found = eurlex.works_from_rows(eurlex.parse_sparql_results(json.loads(path.read_bytes()), path.name), path.name)
    records = []
    for work in found:
        body = next(((_files(path) / f"{work['celex']}{suffix}", media) for suffix, media in types.items()
                     if (_files(path) / f"{work['celex']}{suffix}").exists()), None)
        if body:
            url = f"https://publications.europa.eu/resource/celex/{work['celex']}"
            records.append(eurlex.parse_document(work, [(body[0].read_bytes(), body[1], url)]))
    return records


def ec_press_example(path: Path) -> list[Record]:
    """An RSS feed (items mentioning LOGINK) or a search page; documents in ``files/<ip_26_1707>.json``."""
    if path.suffix == ".xml":
        items = [i for i in ec_press.parse_rss(path.read_bytes(), path.name) if "logink" in (i["title"] + i["summary"]).lower()]
    else:
        items = ec_press.parse_search(json.loads(path.read_bytes()), path.name)
    records = []
    for item in items:
        body = _files(path) / f"{ec_press.slug_of(item['reference'])}.json"
        if body.exists():
            api = f"https://ec.europa.eu/commission/presscorner/api/documents?reference={item['reference']}&language=en"
            records.append(ec_press.parse_document(json.loads(body.read_bytes()), api, "en"))
    return records


def govinfo_example(path: Path) -> list[Record]:
    """A search page; summaries and texts in ``files/<id>.summary.json`` and ``files/<id>.htm``."""
    results, _ = govinfo.parse_search(json.loads(path.read_bytes()), path.name)
    records = []
    for hit in results:
        ident = hit.get("granuleId") or hit["packageId"]
        summary_file, text_file = _files(path) / f"{ident}.summary.json", _files(path) / f"{ident}.htm"
        if summary_file.exists() and text_file.exists():
            summary = govinfo.parse_summary(json.loads(summary_file.read_bytes()), summary_file.name)
            records.append(govinfo.parse_package(summary, text_file.read_bytes(), govinfo.text_links(summary)[0], "text/html", hit))
    return records


def news_rss_example(path: Path) -> list[Record]:
    """A feed whose article pages lie in ``files/<last path segment>.html``."""
    _, leads = news_rss.parse_feed(path.read_bytes(), f"https://feeds.example/{path.name}")
    records = []
    for lead in leads:
        url = unwrap_redirect(lead.url)
        page = _files(path) / f"{canonical_url(url).rstrip('/').rsplit('/', 1)[-1]}.html"
        if page.exists():
            records.append(parse_article(page.read_bytes(), url, lead))
    return records


def gdelt_example(path: Path) -> list[Record]:
    """An artlist whose article pages lie in ``files/<last path segment>.html``."""
    response = Fetched(url=f"https://api.gdeltproject.org/api/v2/doc/doc#{path.name}", status=200,
                       headers={"content-type": "application/json"}, content=path.read_bytes())
    records = []
    for article in gdelt.parse_artlist(response):
        lead = gdelt.lead_of(article)
        page = _files(path) / f"{canonical_url(lead.url).rsplit('/', 1)[-1]}.html"
        if page.exists():
            records.append(gdelt.with_seendate(parse_article(page.read_bytes(), lead.url, lead), lead))
    return records


def uscode_example(path: Path) -> list[Record]:
    """``<title>-<section>.html``: a recorded section view page."""
    title, section = path.name.split(".", 1)[0].split("-", 1)
    return [uscode.parse_section(path.read_bytes(), uscode.view_url(uscode.UPSTREAM, title, section), title, section)]


LOADERS: dict[str, Callable[[Path], list[Record]]] = {
    "federal-register": federal_register_example, "congress-gov": congress_gov_example,
    "ep-open-data": ep_open_data_example, "ep-oeil": ep_oeil_example, "eurlex": eurlex_example,
    "ec-press": ec_press_example, "govinfo": govinfo_example, "news-rss": news_rss_example,
    "gdelt": gdelt_example, "uscode": uscode_example,
}


def load_example(source_id: str, path: Path) -> list[Record]:
    """The records of one recorded example, stamped with the source's provenance."""
    return [SOURCES[source_id].stamp(record) for record in LOADERS[source_id](path)]


def _cases():
    for sid in SOURCES:
        folder = FIXTURES / sid / "examples"
        files = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.endswith(".expected.json")) if folder.exists() else []
        if not files:
            yield pytest.param(sid, None, id=f"{sid}-MISSING")
        for path in files:
            yield pytest.param(sid, path, id=f"{sid}-{path.name}")


def _normalise(record) -> dict:
    row = dataclasses.asdict(record)
    row["record"] = type(record).__name__
    if hasattr(record, "content_hash"):
        row["content_hash"] = record.content_hash
    for key in VOLATILE:
        row.pop(key, None)
    return row


@pytest.mark.parametrize(("source_id", "path"), list(_cases()))
def test_recorded_example(source_id, path):
    assert path is not None, f"source {source_id} has no recorded examples in tests/fixtures/{source_id}/examples/"
    assert source_id in LOADERS, f"source {source_id} has no recorded-example loader in tests/test_examples.py"
    records = load_example(source_id, path)
    assert records, f"{path.name} parsed into nothing"
    got = [_normalise(r) for r in records]
    for row, record in zip(got, records):
        assert row["source"] == source_id and row["parser_version"] == SOURCES[source_id].parser_version
        assert record.fetched_at, "provenance (fetched_at) is stamped"
        assert row.get("url"), "provenance (url) is mandatory"
        if row["record"] == "DocumentRecord":
            assert row["text"].strip() and row["source_id"] and row["jurisdiction"]
            assert row["same_as"], "every document names its upstream identity"
    expected_path = path.with_name(path.name + ".expected.json")
    if not expected_path.exists():
        expected_path.write_text(json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        pytest.fail(f"wrote {expected_path.name}: review it, then commit it")
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("first", "second", "key"), [
    (("federal-register", "documents_page1.json"), ("govinfo", "search_page2.json"), "fr:2025-03134"),
    (("congress-gov", "118-hr-1724.json"), ("govinfo", "search_page1.json"), "bill-version:118-hr-1724-ih"),
    (("news-rss", "harbour_ledger.rss"), ("gdelt", "artlist_logink.json"),
     "url:https://harbourledger.example/news/2026/03/commission-opens-port-data-consultation"),
])
def test_one_document_through_two_sources_shares_an_identity_key(first, second, key):
    """The USTR notice (Federal Register and GovInfo's FR granule), the introduced text of H.R. 1724
    (Congress.gov and GovInfo BILLS) and a news article (a feed and GDELT, with tracking parameters)
    are each one upstream document: their records carry the same ``same_as`` key."""
    holders = []
    for sid, name in (first, second):
        records = load_example(sid, FIXTURES / sid / "examples" / name)
        holders.append([r for r in records if key in getattr(r, "same_as", [])])
    assert all(len(found) == 1 for found in holders), key
    assert holders[0][0].source != holders[1][0].source
