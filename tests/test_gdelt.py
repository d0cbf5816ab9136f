"""gdelt end to end over real HTTP: the artlist query, articles fetched and extracted, watermark,
plain-text errors, 429 handling, sanitised JSON, query spacing, paging by seendate, and the
same article found by news-rss not fetched twice.

The artlist is a faithful build of the documented DOC 2.0 ``artlist`` JSON (no real response is
available); the article pages are project-written (fictional outlets).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest

from werkzeug import Response

from crawler.base import Topic
from crawler.errors import ParseError
from crawler.http import Fetched
from crawler.sources.gdelt import build_query, fix_title, parse_artlist
from db import clock
from tests.replay import FIXTURES

GD = FIXTURES / "gdelt" / "examples"
API = "/api/v2/doc/doc"
HOSTS = {"https://harbourledger.example": "/hl", "https://gangkou.example": "/gk", "https://quayreview.example": "/qr",
         "https://thuramukham.example": "/tm"}
PAGES = {
    "/hl/news/2026/03/commission-opens-port-data-consultation/": "commission-opens-port-data-consultation",
    "/gk/zh/2026/03/eu-port-data": "eu-port-data",
    "/qr/opinion/port-cranes-and-customs": "port-cranes-and-customs",
    "/tm/ml/2026/03/eu-port-data-consultation": "eu-port-data-consultation",
}
TOPICS = '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK", "NEAL-NET", "covered logistics platform", "国家交通运输物流公共信息平台"]'


def rewrite(replay, text: str) -> str:
    for host, prefix in HOSTS.items():
        text = text.replace(host, replay.url(prefix))
    return text


def serve_gdelt(replay) -> None:
    replay.add(API, rewrite(replay, (GD / "artlist_logink.json").read_text("utf-8")), content_type="application/json; charset=utf-8")
    for path, name in PAGES.items():
        replay.add(path, rewrite(replay, (GD / "files" / f"{name}.html").read_text("utf-8")), content_type="text/html; charset=utf-8")


def configure(env, replay, topics: str = TOPICS, **keys):
    env.configure({"gdelt": {"base_url": replay.url("/api/v2"), "query_interval_s": 0, **keys}}, extra=topics)


def docs(env) -> dict[str, dict]:
    return {d["source_id"].split("/", 3)[3]: d for d in env.db()["documents"].rows}


def test_artlist_query_and_articles_stored(env, replay):
    serve_gdelt(replay)
    configure(env, replay)
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    query = next(r for r in replay.requests if r.path == API).args
    assert query["query"] == '(LOGINK OR "NEAL-NET" OR "covered logistics platform")'
    assert (query["mode"], query["format"], query["maxrecords"], query["sort"]) == ("artlist", "json", "250", "DateAsc")
    assert len(query["startdatetime"]) == len(query["enddatetime"]) == 14
    window = datetime.strptime(query["enddatetime"], "%Y%m%d%H%M%S") - datetime.strptime(query["startdatetime"], "%Y%m%d%H%M%S")
    assert 89 <= window.days <= 90  # no watermark yet: the three months GDELT covers
    stored = docs(env)
    assert set(stored) == {"hl/news/2026/03/commission-opens-port-data-consultation", "gk/zh/2026/03/eu-port-data",
                           "tm/ml/2026/03/eu-port-data-consultation"}
    ml = stored["tm/ml/2026/03/eu-port-data-consultation"]
    assert ml["language"] == "ml" and json.loads(ml["metadata"])["gdelt_language"] == "Malayalam"
    hl = stored["hl/news/2026/03/commission-opens-port-data-consultation"]
    assert hl["source"] == "gdelt" and hl["institution"] == "Harbour Ledger" and hl["doc_type"] == "news_article"
    meta = json.loads(hl["metadata"])
    assert meta["seendate"] == "2026-03-03T14:45:00+00:00" and meta["domain"] == "harbourledger.example"
    assert meta["source_country"] == "Norway" and meta["gdelt_language"] == "English" and meta["extraction"] == "full"
    assert hl["published_at"] == "2026-03-03T14:20:00+00:00"  # the page's date, not seendate
    zh = stored["gk/zh/2026/03/eu-port-data"]
    assert zh["language"] == "zh" and zh["institution"] == "港航观察" and "国家交通运输物流公共信息平台" in zh["text"]
    # the cranes opinion piece mentions no topic: not stored, remembered
    db = env.db()
    assert db["seen_urls"].get(replay.url("/qr/opinion/port-cranes-and-customs"))["reason"] == "irrelevant"
    assert db["sources"].get("gdelt")["watermark"] == "2026-03-04T06:45:00+00:00"  # largest seendate


def test_second_crawl_starts_at_watermark_and_fetches_nothing(env, replay):
    serve_gdelt(replay)
    month = (clock.now() - timedelta(days=10)).strftime("%Y%m")  # seendates within GDELT's window
    recent = rewrite(replay, (GD / "artlist_logink.json").read_text("utf-8")).replace('"202603', f'"{month}')
    replay.add(API, recent, content_type="application/json")
    configure(env, replay)
    assert env.run("crawl", "gdelt", "--no-nlp").exit_code == 0
    assert env.db()["sources"].get("gdelt")["watermark"] == f"{month[:4]}-{month[4:]}-04T06:45:00+00:00"
    pages_before = {p: replay.hits(p) for p in PAGES}
    first = len(replay.requests)
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert "new 0, updated 0" in result.output
    assert {p: replay.hits(p) for p in PAGES} == pages_before
    second = [r for r in replay.requests[first:] if r.path == API]
    assert len(second) == 1 and second[0].args["startdatetime"] == f"{month}04044500"  # watermark - 2 h overlap
    assert env.db()["documents"].count == 3


def test_plain_text_error_fails_the_run(env, replay):
    replay.add(API, "A maximum of 250 records can be returned.\n", content_type="text/plain")
    configure(env, replay)
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 1
    assert "gdelt: failed" in result.output and "A maximum of 250 records can be returned." in result.output
    db = env.db()
    assert db["documents"].count == 0 and db["sources"].get("gdelt")["watermark"] is None


def test_429_is_retried_after_the_server_asked_delay(env, replay):
    serve_gdelt(replay)
    replay.add(API, "Please limit requests to one every 5 seconds", status=429, headers={"Retry-After": "1"},
               content_type="text/plain", times=1)
    configure(env, replay)
    started = time.monotonic()
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert replay.hits(API) == 2 and time.monotonic() - started >= 1.0  # Retry-After honoured
    assert env.db()["documents"].count == 3


def test_persistent_429_fails_and_keeps_the_watermark(env, replay):
    serve_gdelt(replay)
    configure(env, replay)
    assert env.run("crawl", "gdelt", "--no-nlp").exit_code == 0
    replay.add(API, "Please limit requests to one every 5 seconds", status=429, content_type="text/plain")
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 1 and "gdelt: failed" in result.output and "429" in result.output
    db = env.db()
    assert db["sources"].get("gdelt")["watermark"] == "2026-03-04T06:45:00+00:00"
    assert [r["status"] for r in db["crawl_runs"].rows] == ["ok", "failed"]


def test_json_with_control_characters_is_sanitised(env, replay):
    raw = rewrite(replay, (GD / "artlist_logink.json").read_text("utf-8"))
    raw = raw.replace("in view", "in\tview\x07").replace("Why customs", "Why\ncustoms").replace("not cranes", "not \\'cranes\\'")
    replay.add(API, raw, content_type="application/json")
    for path, name in PAGES.items():
        replay.add(path, rewrite(replay, (GD / "files" / f"{name}.html").read_text("utf-8")), content_type="text/html")
    configure(env, replay)
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert env.db()["documents"].count == 3


def test_queries_are_spaced_and_one_per_topic(env, replay):
    serve_gdelt(replay)
    body = rewrite(replay, (GD / "artlist_logink.json").read_text("utf-8"))
    stamps: list[float] = []

    def artlist(request):
        stamps.append(time.monotonic())
        return Response(body, content_type="application/json")

    replay.add(API, artlist)
    topics = TOPICS + '\n[topics.cranes]\nentities = ["org:zpmc"]\nterms = ["ZPMC"]'
    configure(env, replay, topics=topics, query_interval_s=0.6)
    assert env.run("crawl", "gdelt", "--no-nlp").exit_code == 0
    queries = [r for r in replay.requests if r.path == API]
    assert [q.args["query"] for q in queries] == ['(LOGINK OR "NEAL-NET" OR "covered logistics platform")', "ZPMC"]
    assert len(stamps) == 2 and stamps[1] - stamps[0] >= 0.6


def test_a_full_page_is_followed_from_its_last_seendate(env, replay):
    base = (clock.now() - timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    seen = lambda hours: (base + timedelta(hours=hours)).strftime("%Y%m%dT%H%M%SZ")
    page = {"articles": [{"url": f"https://wire.example/a/{i}", "title": f"LOGINK item {i}", "domain": "wire.example",
                          "language": "English", "sourcecountry": "United States", "seendate": seen(i)} for i in range(250)]}
    tail = {"articles": [{"url": "https://wire.example/a/250", "title": "LOGINK item 250", "seendate": seen(250)}]}
    last = (base + timedelta(hours=249)).strftime("%Y%m%d%H%M%S")
    replay.add(API, json.dumps(page), content_type="application/json")
    replay.add(API, json.dumps(tail), content_type="application/json", when=lambda r: r.args["startdatetime"] == last)
    configure(env, replay)
    from db import writes
    from db.schema import ensure_schema

    db = env.db()
    ensure_schema(db)
    for i in range(251):  # judged before: nothing is fetched, only the listing is exercised
        writes.remember_url(db, f"https://wire.example/a/{i}", "gdelt", "irrelevant")
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    starts = [r.args["startdatetime"] for r in replay.requests if r.path == API]
    assert len(starts) == 2 and starts[1] == last
    assert "unchanged 251" in result.output
    assert env.db()["sources"].get("gdelt")["watermark"] == (base + timedelta(hours=250)).isoformat()


def test_article_stored_by_news_rss_is_not_fetched_again(env, replay):
    from tests.test_news_rss import FEEDS, serve_news

    serve_news(replay)
    serve_gdelt(replay)
    env.configure({"news-rss": {"feeds": [replay.url(p) for p in FEEDS]},
                   "gdelt": {"base_url": replay.url("/api/v2"), "query_interval_s": 0}}, extra=TOPICS)
    assert env.run("crawl", "news-rss", "--no-nlp").exit_code == 0
    page = "/hl/news/2026/03/commission-opens-port-data-consultation/"
    assert replay.hits(page) == 1
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert replay.hits(page) == 1  # GDELT listed it with utm_* parameters: same canonical URL, skipped
    sources = [d["source"] for d in env.db()["documents"].rows if "commission-opens" in d["source_id"]]
    assert sources == ["news-rss"]


def test_parse_artlist_rejects_errors_and_keeps_shape():
    def fetched(body: bytes, ctype="application/json") -> Fetched:
        return Fetched("https://api.gdeltproject.org/api/v2/doc/doc?x", 200, {"content-type": ctype}, body)

    assert parse_artlist(fetched(b"{}")) == []
    assert parse_artlist(fetched(b'{"articles": [{"url": "ftp://x"}, {"url": "https://a.example/x", "extra": 1}]}')) == [
        {"url": "https://a.example/x", "extra": 1}]
    for body in (b"The specified phrase is too short.", b"", b"<html>Error</html>"):
        try:
            parse_artlist(fetched(body, "text/plain"))
        except ParseError as exc:
            assert "instead of JSON" in str(exc)
        else:
            raise AssertionError(f"{body!r} was accepted")
    try:
        parse_artlist(fetched(b'{"articles": {"url": 1}}'))
    except ParseError as exc:
        assert "not a list" in str(exc)
    else:
        raise AssertionError("a non-list 'articles' was accepted")


def test_query_building_and_title_repair():
    assert build_query(Topic("t", terms=["LOGINK"])) == "LOGINK"
    assert build_query(Topic("t", terms=["LOGINK", "port data", "NEAL-NET", "LOGINK"])) == '(LOGINK OR "port data" OR "NEAL-NET")'
    assert build_query(Topic("t", terms=["国家交通运输物流公共信息平台"])) is None
    assert fix_title("Serrano , the port 's cranes ( and data ) : a review") == "Serrano, the port's cranes (and data): a review"


def test_unreachable_article_is_kept_as_title_and_retried(env, replay):
    listing = {"articles": [
        {"url": replay.url("/flaky/logink-story"), "title": "Port of Varnholm ends LOGINK pilot", "seendate": "20260305T091000Z",
         "domain": "flaky.example", "language": "English", "sourcecountry": "Sweden"},
        {"url": "http://127.0.0.1:9/closed/logink", "title": "LOGINK links under review at six ports", "seendate": "20260305T100000Z"},
    ]}
    replay.add(API, json.dumps(listing), content_type="application/json")
    page = (FIXTURES / "news-rss" / "examples" / "files" / "varnholm-ends-logink-pilot.html").read_text("utf-8")
    replay.add("/flaky/logink-story", page, content_type="text/html")
    replay.add("/flaky/logink-story", "Service Unavailable", status=503, times=3)  # more than the client's retries
    configure(env, replay)
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    stored = {d["source_id"]: d for d in env.db()["documents"].rows}
    flaky = stored[replay.url("/flaky/logink-story")]
    meta = json.loads(flaky["metadata"])
    assert flaky["text"] == "Port of Varnholm ends LOGINK pilot" and meta["extraction"] == "snippet"
    assert meta["retry"] is True and meta["fetch_attempts"] == 1 and meta["snippet_reason"] == "HTTP 503"
    closed = json.loads(stored["http://127.0.0.1:9/closed/logink"]["metadata"])
    assert closed["retry"] is True and closed["snippet_reason"] == "robots.txt unreachable"
    result = env.run("crawl", "gdelt", "--no-nlp")  # the outlet is back: the article replaces the title
    assert result.exit_code == 0 and "updated 1" in result.output, result.output
    flaky = next(env.db()["documents"].rows_where("source_id = ?", [replay.url("/flaky/logink-story")]))
    assert flaky["version"] == 2 and flaky["text"].startswith("The Port of Varnholm has ended a two-year pilot")
    assert json.loads(flaky["metadata"])["extraction"] == "full"
    for _ in range(2):
        env.run("crawl", "gdelt", "--no-nlp")
    closed = next(env.db()["documents"].rows_where("source_id = ?", ["http://127.0.0.1:9/closed/logink"]))
    assert json.loads(closed["metadata"])["fetch_attempts"] == 3  # then left alone
    hits = replay.hits("/flaky/logink-story")
    assert "unchanged 2" in env.run("crawl", "gdelt", "--no-nlp").output and replay.hits("/flaky/logink-story") == hits


def test_page_timestamp_wins_over_a_date_in_the_url():
    """GDELT gives no publication date, so the page's own one is used: its exact timestamp, not the
    day in the URL at midnight (which trafilatura's date search would prefer)."""
    from crawler.articles import Lead, parse_article

    url = "https://quayreview.example/2026/03/04/port-data-rules"
    paragraph = "<p>Port operators in three countries said on Wednesday that they had stopped sharing cargo data with LOGINK.</p>"
    page = ("<html><head><title>Ports stop sharing data</title>"
            '<meta property="article:published_time" content="2026-03-04T17:45:00+01:00"></head>'
            f"<body><article><h1>Ports stop sharing data</h1>{paragraph * 4}</article></body></html>").encode()
    record = parse_article(page, url, Lead(url=url))
    assert record.published_at == "2026-03-04T16:45:00+00:00"
    undated = page.replace(b'<meta property="article:published_time" content="2026-03-04T17:45:00+01:00">', b"")
    assert parse_article(undated, url, Lead(url=url)).published_at.startswith("2026-03-04")  # the URL's day


@pytest.mark.parametrize(("name", "code"), [("Malayalam", "ml"), ("English", "en"), ("Sinhalese", "si"), ("Persian", "fa"),
                                            ("NorwegianNynorsk", "nn"), ("Tibetan", "bo"), ("Swahili", "sw")])
def test_gdelt_language_names_map_to_iso_codes(name, code):
    from crawler.sources.gdelt import lead_of

    lead = lead_of({"url": "https://x.example/a", "language": name})
    assert lead.language == code and lead.warnings == []


def test_unknown_gdelt_language_is_kept_and_flagged():
    from crawler.sources.gdelt import lead_of

    lead = lead_of({"url": "https://x.example/a", "language": "Klingon"})
    assert lead.language is None and lead.metadata["gdelt_language"] == "Klingon"
    assert lead.warnings and "Klingon" in lead.warnings[0]


def test_an_article_announced_by_a_feed_and_by_gdelt_is_fetched_once(env, replay):
    """One ``tracker crawl`` of news-rss then gdelt: the Harbour Ledger article is in the feed (plain
    link) and in GDELT's list (with tracking parameters): its page is fetched once, stored once,
    and a later crawl does not fetch it again."""
    from tests import test_news_rss as news

    serve_gdelt(replay)
    news.serve_news(replay)
    env.configure({"gdelt": {"base_url": replay.url("/api/v2"), "query_interval_s": 0},
                   "news-rss": {"feeds": [replay.url("/hl/feed/")]}}, extra=TOPICS)
    page = "/hl/news/2026/03/commission-opens-port-data-consultation/"
    result = env.run("crawl", "news-rss", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert replay.hits(page) == 1
    copies = [d for d in env.db()["documents"].rows if d["source_id"].endswith("commission-opens-port-data-consultation")]
    assert [d["source"] for d in copies] == ["news-rss"]
    assert result.exit_code == 0 and env.run("crawl", "gdelt", "--no-nlp").exit_code == 0
    assert replay.hits(page) == 1  # stored by news-rss: gdelt does not fetch it on a later crawl either
