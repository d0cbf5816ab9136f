"""Atom feeds of everything one can follow (tracker/plugins/feeds.py) through Datasette's client:
valid Atom (feedparser, bozo 0), escaped, only http(s) links, linked from the pages they follow."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import feedparser
import pytest

from db import writes
from tests.test_frontend import CRAFTED_TITLE, build_sample
from tracker.serve import build_datasette


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("feeds") / "tracker.db"
    db, ids = build_sample(path)
    writes.register_sources(db, [{"id": "congress-gov", "title": "Congress.gov", "jurisdiction": "US", "kind": "api",
                                  "base_url": "https://api.congress.gov/v3", "enabled": 1, "interval": "1d"}])
    _, bill_text = writes.upsert_document(db, {
        "source": "congress-gov", "source_id": "118-hr-1724/ih", "url": "https://www.congress.gov/118/bills/hr1724/BILLS-118hr1724ih.htm",
        "title": "H.R. 1724 (Introduced in House): <b>LOGINK</b> Act", "text": "To prohibit the use of LOGINK \x0b at ports.",
        "doc_type": "bill_text", "group_key": "us-bill:118-hr-1724", "fetched_at": "2026-11-03T10:00:00+00:00",
        "content_hash": "h-bill"})
    ids["bill_text"] = bill_text
    return build_datasette(path), ids


def get(ds, path):
    return asyncio.run(ds.client.get(path))


def parse(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.bozo_exception
    assert feed.version == "atom10" and feed.feed.id and feed.feed.title and feed.feed.updated
    assert all(e.id and e.title and e.updated for e in feed.entries)
    return feed


def test_topic_feed(served):
    ds, _ = served
    response = get(ds, "/-/feeds/topic/logink.atom")
    feed = parse(response)
    assert feed.feed.title == "Topic logink: new mentions"
    titles = [e.title for e in feed.entries]
    assert len(titles) == 4 and all(t.startswith("LOGINK (") for t in titles)  # classified mentions only
    assert f"LOGINK (supportive): {CRAFTED_TITLE}" in titles  # the title is text, kept as written
    assert b"<script>" not in response.content and b"<img src=x" not in response.content
    crafted = next(e for e in feed.entries if e.title.endswith(CRAFTED_TITLE))
    assert crafted.link.startswith("http://localhost/tracker/mentions/")  # javascript: never becomes a link
    assert "javascript:" not in response.text
    assert "Analysts said &lt;img src=x onerror=alert(1)&gt; LOGINK is useful" in crafted.content[0].value  # text, not markup
    assert "Analysts said &amp;lt;img src=x onerror=alert(1)&amp;gt; &lt;mark&gt;LOGINK&lt;/mark&gt;" in response.text
    assert get(ds, "/-/feeds/topic/nosuchtopic.atom").status_code == 404


def test_entity_feed_by_id_or_name(served):
    ds, _ = served
    feed = parse(get(ds, "/-/feeds/entity/" + quote("port:NLRTM", safe="") + ".atom"))
    assert feed.feed.title == "Port of Rotterdam: new mentions"
    assert len(feed.entries) == 2 and {e.title.split(":")[0] for e in feed.entries} == {"Port of Rotterdam (unclassified)"}
    assert feed.entries[0].link.startswith("https://example.gov/")
    by_name = parse(get(ds, "/-/feeds/entity/" + quote("port of rotterdam") + ".atom"))
    assert [e.id for e in by_name.entries] == [e.id for e in feed.entries]
    assert get(ds, "/-/feeds/entity/org%3Anobody.atom").status_code == 404


def test_dossier_feed(served):
    ds, ids = served
    feed = parse(get(ds, "/-/feeds/dossier/" + quote("us-bill:118-hr-1724", safe="") + ".atom"))
    assert feed.feed.title == "LOGINK Act: events and documents"
    titles = [e.title for e in feed.entries]
    assert "2023-03-23: Referred to the Committee on Transportation" in titles and "2023-03-22: Introduced in House" in titles
    assert "H.R. 1724 (Introduced in House): <b>LOGINK</b> Act" in titles
    assert any(e.id == f"urn:policy-tracker:document:{ids['bill_text']}" for e in feed.entries)
    procedure = parse(get(ds, "/-/feeds/dossier/" + quote("ep-procedure:2023/2059(INI)", safe="") + ".atom"))
    assert [e.title for e in procedure.entries] == ["2024-03-12: Text adopted by Parliament"]
    assert get(ds, "/-/feeds/dossier/us-bill%3A999-hr-1.atom").status_code == 404


def test_search_feed_and_the_canned_query_atom(served):
    ds, _ = served
    feed = parse(get(ds, "/-/feeds/search.atom?q=" + quote('"port data" OR congestion')))
    assert sorted(e.title for e in feed.entries) == ["Notice of Proposed Action on LOGINK", "Question on port congestion"]
    assert feed.feed.title == 'Search: "port data" OR congestion'
    refused = get(ds, "/-/feeds/search.atom?q=AND")
    assert refused.status_code == 400 and "AND, OR and NOT go between words" in refused.text
    redirect = get(ds, "/tracker/search_documents.atom?q=LOGINK")  # answered 400 before
    assert redirect.status_code == 302 and redirect.headers["location"] == "/-/feeds/search.atom?q=LOGINK"
    assert len(parse(get(ds, redirect.headers["location"])).entries) == 4


def test_pages_link_their_feeds(served):
    ds, _ = served
    alternate = '<link rel="alternate" type="application/atom+xml"'
    page = get(ds, "/tracker/entities/" + "platform~3Alogink").text
    assert alternate in page and 'href="/-/feeds/entity/platform%3Alogink.atom"' in page
    page = get(ds, "/tracker/dossiers/" + "us-bill~3A118-hr-1724").text
    assert 'href="/-/feeds/dossier/us-bill%3A118-hr-1724.atom"' in page
    page = get(ds, "/tracker/search_documents?q=" + quote("port <script>")).text
    assert 'href="/-/feeds/search.atom?q=port+%3Cscript%3E"' in page and 'title="Atom feed of the search port &lt;script&gt;"' in page
    page = get(ds, "/tracker/mentions?topic=logink").text
    assert 'href="/-/feeds/topic/logink.atom"' in page
    assert 'href="/-/feeds/topic/logink.atom"' in get(ds, "/").text
    assert alternate not in get(ds, "/tracker/sources").text
