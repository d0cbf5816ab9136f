"""news-rss end to end over real HTTP: RSS 2.0 + Atom + Google Alerts feeds, article extraction,
paywall snippets, canonical URLs, exact duplicates, story grouping, conditional GET, re-crawls.

The feeds and pages are project-written (tests/fixtures/news-rss, fictional outlets); each outlet's
host is mapped onto a path prefix of the loopback replay server. Relevance is decided by the real
NLP Annotator with a LOGINK topic.
"""

from __future__ import annotations

import json

import pytest

from crawler.sources.news_rss import configured_feeds
from tests.replay import FIXTURES

NR = FIXTURES / "news-rss" / "examples"
HOSTS = {
    "https://harbourledger.example": "/hl", "https://quayreview.example": "/qr",
    "https://tidewaterpost.example": "/tp", "https://docksidedaily.example": "/dd",
}
PAGES = {
    "/hl/news/2026/03/commission-opens-port-data-consultation/": "commission-opens-port-data-consultation",
    "/hl/news/2026/03/varnholm-ends-logink-pilot/": "varnholm-ends-logink-pilot",
    "/hl/news/2026/03/electric-tugs-enter-service/": "electric-tugs-enter-service",
    "/qr/analysis/brussels-asks-ports-about-chinese-data-platforms": "brussels-asks-ports-about-chinese-data-platforms",
    "/qr/premium/inside-the-logink-debate": "inside-the-logink-debate",
    "/tp/2026/03/04/eu-ports-logink-probe/": "eu-ports-logink-probe",
    "/dd/wire/tidewater-eu-ports-logink-probe/": "tidewater-eu-ports-logink-probe",
}
FEEDS = {"/hl/feed/": "harbour_ledger.rss", "/qr/feed.atom": "quay_review.atom", "/alerts/logink": "google_alerts_logink.atom"}
TOPICS = '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]'


def rewrite(replay, text: str) -> str:
    """Outlet hosts -> path prefixes on the replay server; Dockside Daily gets the other loopback name,
    so its cross-site canonical link (to Tidewater Post) stays cross-site."""
    for host, prefix in HOSTS.items():
        base = replay.url(prefix)
        text = text.replace(host, base.replace("localhost", "127.0.0.1") if prefix == "/dd" else base)
    return text


def serve_news(replay, validators: bool = True) -> None:
    """Feeds (with ETag/Last-Modified unless ``validators`` is false) and article pages on loopback."""
    for path, name in FEEDS.items():
        headers = {"ETag": f'"{name}-v1"', "Last-Modified": "Thu, 05 Mar 2026 15:05:00 GMT"} if validators else {}
        replay.add(path, rewrite(replay, (NR / name).read_text("utf-8")), headers=headers,
                   content_type="application/rss+xml; charset=utf-8" if name.endswith(".rss") else "application/atom+xml")
        if validators:
            replay.add(path, b"", status=304, when=lambda r, n=name: r.headers.get("If-None-Match") == f'"{n}-v1"')
    for path, name in PAGES.items():
        replay.add(path, rewrite(replay, (NR / "files" / f"{name}.html").read_text("utf-8")), content_type="text/html; charset=utf-8")
    replay.add("/robots.txt", "User-agent: *\nDisallow: /qr/private/\n", content_type="text/plain")


def configure(env, replay, feeds=None, **keys):
    urls = [replay.url(p) for p in (feeds or FEEDS)]
    env.configure({"news-rss": {"feeds": urls, **keys}}, extra=TOPICS)


def crawl(env):
    return env.run("crawl", "news-rss", "--no-nlp")


def docs_by_path(env) -> dict[str, dict]:
    return {d["source_id"].split("/", 3)[3]: d for d in env.db()["documents"].rows}


def test_feeds_store_extracted_articles_with_canonical_urls(env, replay):
    serve_news(replay)
    configure(env, replay)
    result = crawl(env)
    assert result.exit_code == 0, result.output
    docs = docs_by_path(env)
    assert set(docs) == {
        "hl/news/2026/03/commission-opens-port-data-consultation", "hl/news/2026/03/varnholm-ends-logink-pilot",
        "qr/analysis/brussels-asks-ports-about-chinese-data-platforms", "qr/premium/inside-the-logink-debate",
        "tp/2026/03/04/eu-ports-logink-probe",
    }
    hl = docs["hl/news/2026/03/commission-opens-port-data-consultation"]
    assert hl["doc_type"] == "news_article" and hl["jurisdiction"] == "INT" and hl["language"] == "en"
    assert hl["institution"] == "Harbour Ledger" and hl["published_at"] == "2026-03-03T14:20:00+00:00"
    assert hl["title"] == "Commission opens consultation on port data security, with LOGINK in view"
    assert hl["text"].startswith("The European Commission on Tuesday launched") and "Related" not in hl["text"]
    assert "All rights reserved" not in hl["text"] and hl["url"] == hl["source_id"]
    meta = json.loads(hl["metadata"])
    assert meta["extraction"] == "full" and meta["author"] == "Marta Olsen" and meta["feed_title"] == "Harbour Ledger"
    # tracking parameters and fragment dropped (the Atom link carries utm_* and #comments)
    qr = docs["qr/analysis/brussels-asks-ports-about-chinese-data-platforms"]
    assert "utm_" not in qr["source_id"] and "#" not in qr["source_id"] and qr["institution"] == "Quay Review"
    # the Google Alerts redirect was unwrapped: the outlet's page was fetched, Google never asked
    tp = docs["tp/2026/03/04/eu-ports-logink-probe"]
    assert tp["institution"] == "Tidewater Post" and tp["title"] == "EU probes ports' ties to Chinese logistics platform LOGINK"
    assert replay.hits("/tp/2026/03/04/eu-ports-logink-probe/") == 1 and not any("google" in r.url for r in replay.requests)
    assert json.loads(tp["metadata"])["announced_url"].startswith("https://www.google.com/url?")


def test_paywalled_article_is_stored_as_flagged_snippet(env, replay):
    serve_news(replay)
    configure(env, replay)
    assert crawl(env).exit_code == 0
    doc = docs_by_path(env)["qr/premium/inside-the-logink-debate"]
    meta = json.loads(doc["metadata"])
    assert meta["extraction"] == "snippet" and meta["paywalled"] is True
    assert doc["text"].startswith("Port operators across Europe are split over LOGINK")  # the feed's summary
    assert "Subscribe" not in doc["text"]
    assert any("paywalled" in w for w in json.loads(doc["warnings"]))


def test_paywalled_page_without_snippet_keeps_its_own_description():
    from crawler.articles import Lead, parse_article

    page = (NR / "files" / "inside-the-logink-debate.html").read_text("utf-8").replace(
        "<meta name=\"author\"", '<meta name="description" content="Port operators weigh LOGINK.">\n<meta name="author"')
    record = parse_article(page.encode(), "https://quayreview.example/premium/inside-the-logink-debate",
                           Lead(url="https://quayreview.example/premium/inside-the-logink-debate"))
    assert record.title == "Inside the LOGINK debate: what port operators really think"
    assert record.text == "Port operators weigh LOGINK." and record.metadata["paywalled"] is True


def test_exact_copy_is_one_document_and_rewrites_are_one_story(env, replay):
    serve_news(replay)
    configure(env, replay)
    assert crawl(env).exit_code == 0
    db = env.db()
    docs = docs_by_path(env)
    # Dockside Daily republished Tidewater Post's text verbatim: not stored, its URL remembered
    assert not any(k.startswith("dd/") for k in docs)
    copy_url = replay.url("/dd/wire/tidewater-eu-ports-logink-probe").replace("localhost", "127.0.0.1")
    seen = db["seen_urls"].get(copy_url)
    assert seen["reason"] == f"duplicate of document {docs['tp/2026/03/04/eu-ports-logink-probe']['id']}"
    # ... and its identity names the stored article, so another source reaching it finds that document
    keys = {r["key"]: r["document_id"] for r in db["document_identities"].rows}
    assert keys.get(f"url:{copy_url}") == docs["tp/2026/03/04/eu-ports-logink-probe"]["id"]
    # three outlets' rewrites of one story share a story; the Varnholm story and the paywalled piece do not
    story_ids = {docs[k]["story_id"] for k in (
        "hl/news/2026/03/commission-opens-port-data-consultation",
        "qr/analysis/brussels-asks-ports-about-chinese-data-platforms", "tp/2026/03/04/eu-ports-logink-probe")}
    assert len(story_ids) == 1 and None not in story_ids
    story_id = story_ids.pop()
    assert docs["hl/news/2026/03/varnholm-ends-logink-pilot"]["story_id"] not in (None, story_id)
    assert docs["qr/premium/inside-the-logink-debate"]["story_id"] != story_id
    story = db["stories"].get(story_id)
    assert story["documents"] == 3
    assert set(json.loads(story["outlets"])) == {"Harbour Ledger", "Quay Review", "Tidewater Post", "Dockside Daily"}
    assert [c["outlet"] for c in json.loads(story["copies"])] == ["Dockside Daily"]
    assert story["title"] == "Commission opens consultation on port data security, with LOGINK in view"  # earliest
    assert story["published_at"] == "2026-03-03T14:20:00+00:00"
    assert db["stories"].count == 3
    view = list(db.query("select documents, urls from news_stories where id = ?", [story_id]))[0]
    assert view["documents"] == 3 and len(view["urls"].split()) == 3


def test_irrelevant_article_is_not_stored_and_not_fetched_again(env, replay):
    serve_news(replay, validators=False)
    configure(env, replay)
    assert crawl(env).exit_code == 0
    tugs = "/hl/news/2026/03/electric-tugs-enter-service/"
    assert replay.hits(tugs) == 1
    db = env.db()
    assert db["seen_urls"].get(replay.url(tugs).rstrip("/"))["reason"] == "irrelevant"
    assert not any("electric-tugs" in d["source_id"] for d in db["documents"].rows)
    before = {path: replay.hits(path) for path in PAGES}
    result = crawl(env)  # feeds answer 200 again (no validators): every entry is known or judged
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0" in result.output
    assert {path: replay.hits(path) for path in PAGES} == before  # no article fetched again
    assert all(replay.hits(path) == 2 for path in FEEDS)
    assert env.db()["documents"].count == 5


def test_second_poll_sends_validators_and_304_costs_nothing(env, replay):
    serve_news(replay)
    configure(env, replay)
    assert crawl(env).exit_code == 0
    first = len(replay.requests)
    result = crawl(env)
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0, unchanged 0, errors 0, requests 3" in result.output
    second = replay.requests[first:]
    assert sorted(r.path for r in second) == sorted(FEEDS)
    for request in second:
        name = FEEDS[request.path]
        assert request.headers.get("If-None-Match") == f'"{name}-v1"'
        assert request.headers.get("If-Modified-Since") == "Thu, 05 Mar 2026 15:05:00 GMT"


def test_broken_feed_makes_run_partial_and_others_still_run(env, replay):
    serve_news(replay)
    replay.add("/broken/feed", "<html><body><h1>Site maintenance</h1></body></html>", content_type="text/html")
    replay.add("/down/feed", "unavailable", status=500)
    configure(env, replay, feeds=["/broken/feed", "/down/feed", "/hl/feed/"])
    result = crawl(env)
    assert result.exit_code == 1
    assert "news-rss: partial" in result.output and "2 item(s) failed" in result.output
    assert "not an RSS/Atom feed (an HTML page)" in result.output  # the first failure is named
    assert env.db()["documents"].count == 2  # the two relevant Harbour Ledger articles


def test_feed_paths_resolve_against_base_url(env, replay):
    serve_news(replay)
    env.configure({"news-rss": {"base_url": replay.url(), "feeds": ["/hl/feed/", "relative-nowhere"]}}, extra=TOPICS)
    result = crawl(env)
    assert "news-rss: partial" in result.output  # the second path is not served: an item error
    assert replay.hits("/hl/feed/") == 1 and env.db()["documents"].count == 2


def test_robots_disallowed_article_is_stored_as_snippet(env, replay):
    feed = (NR / "harbour_ledger.rss").read_text("utf-8").replace(
        "https://harbourledger.example/news/2026/03/varnholm-ends-logink-pilot/", "https://harbourledger.example/private/varnholm/")
    serve_news(replay)
    replay.add("/robots.txt", "User-agent: *\nDisallow: /hl/private/\n", content_type="text/plain")
    replay.add("/hl/feed/", rewrite(replay, feed), content_type="application/rss+xml")
    configure(env, replay, feeds=["/hl/feed/"])
    assert crawl(env).exit_code == 0
    assert replay.hits("/hl/private/varnholm/") == 0
    doc = next(d for d in env.db()["documents"].rows if "private" in d["source_id"])
    meta = json.loads(doc["metadata"])
    assert meta["extraction"] == "snippet" and meta["snippet_reason"] == "disallowed by robots.txt"
    assert doc["text"].startswith("The Port of Varnholm has ended a two-year pilot")


def test_feed_list_configuration():
    from tracker.config import load_config

    packaged = configured_feeds(load_config(None).sources["news-rss"].options)
    assert len(packaged) >= 8 and {"maritime", "eu-policy", "logistics"} <= {f.category for f in packaged}
    assert any(f.url == "https://gcaptain.com/feed/" for f in packaged)
    options = {"feed": [{"url": "https://a.example/feed", "name": "A"}, {"url": "https://b.example/rss", "name": "B"},
                        {"url": "https://c.example/rss", "enabled": False}],
               "disabled_feeds": ["B"], "extra_feeds": ["https://d.example/feed"]}
    assert [f.url for f in configured_feeds(options)] == ["https://a.example/feed", "https://d.example/feed"]
    replaced = configured_feeds({**options, "feeds": ["https://x.example/rss", "https://x.example/rss"], "extra_feeds": []})
    assert [f.url for f in replaced] == ["https://x.example/rss"]  # `feeds` replaces the packaged list
    with pytest.raises(ValueError, match="feeds"):
        configured_feeds({"feeds": "https://x.example/rss"})
    with pytest.raises(ValueError, match="disabled_feeds"):
        configured_feeds({"feeds": [], "disabled_feeds": "B"})


def test_feeds_key_in_user_config_replaces_packaged_defaults(env):
    env.configure({"news-rss": {"feeds": ["https://only.example/feed.xml"]}})
    from tracker.config import load_config

    config = load_config(str(env.config_path))
    assert [f.url for f in configured_feeds(config.sources["news-rss"].options)] == ["https://only.example/feed.xml"]
    assert config.sources["news-rss"].base_url == ""


def test_well_formed_feed_without_items_is_not_an_error(env, replay):
    """A valid feed with no entries right now (feedparser flags bytes given without a Content-Type
    as ``bozo``) polls cleanly: the run is ok, not partial, and the feed is not called malformed."""
    serve_news(replay)
    replay.add("/quiet/feed", '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Quiet Port News'
               '</title><link>https://quiet.example/</link><description>Nothing new</description></channel></rss>',
               content_type="application/rss+xml")
    configure(env, replay, feeds=["/quiet/feed", "/hl/feed/"])
    result = crawl(env)
    assert result.exit_code == 0, result.output
    assert "news-rss: ok" in result.output and "not well-formed" not in result.output
    assert env.db()["documents"].count == 2  # the two relevant Harbour Ledger articles
