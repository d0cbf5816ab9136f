"""Who changed position (db/shifts.py): on a constructed database and the frozen clock (2026-11-26),
the institutions, countries and outlets whose stance toward a topic shifted against the previous 90
days are named (one document, one vote; >= 5 documents a window; Fisher's exact test), with their
counts and mentions; the same through the canned query in the front end, and in the digest once,
when the shift appears."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from db import clock, writes
from db.schema import connect, ensure_schema
from db.shifts import detect, judge
from tracker.config import load_config
from tracker.digest import build_digest
from tracker.serve import build_datasette

SOURCES = [{"id": s, "title": s, "jurisdiction": "INT", "kind": "api", "base_url": "https://example.org", "enabled": 1,
            "interval": "1d"} for s in ("federal-register", "news-rss")]


def add(db, n: int, *, institution: str | None, jurisdiction: str, published: str, stance: str, mentions: int = 1,
        news_url: str | None = None, extra_stance: str | None = None) -> None:
    """``n`` documents of one actor published on ``published``, each with ``mentions`` mentions of ``stance``."""
    for _ in range(n):
        add.count += 1
        key = f"doc-{add.count}"
        sentence = f"Statement {add.count} on LOGINK and port data ({stance})."
        writes.upsert_document(db, {
            "source": "news-rss" if news_url else "federal-register", "source_id": key,
            "url": f"{news_url}/{key}" if news_url else f"https://example.gov/{key}", "title": f"Statement {add.count}",
            "text": sentence, "doc_type": "news_article" if news_url else "notice", "institution": institution,
            "jurisdiction": jurisdiction, "published_at": published, "fetched_at": clock.now_iso(),
            "content_hash": f"h-{key}"})
        doc_id = db.execute("select id from documents where source_id = ?", [key]).fetchone()[0]
        stances = [stance] * mentions + ([extra_stance] if extra_stance else [])
        writes.replace_annotations(db, doc_id, {
            "mentions": [{"entity": "platform:logink", "text": "LOGINK", "sentence": sentence + f" #{i}", "start": None,
                          "end": None, "stance": s, "topic": "logink", "stance_score": 0.8} for i, s in enumerate(stances)],
            "topics": [{"topic": "logink", "stance": stance, "score": 0.8, "mentions": len(stances)}]}, f"h-{key}", "test-1", 1)


add.count = 0


def build(path):
    db = connect(path)
    ensure_schema(db)
    writes.register_sources(db, SOURCES)
    writes.save_entities(db, [{"id": "platform:logink", "name": "LOGINK", "type": "PLATFORM", "country": "CN"}])
    # the port authority: neutral before, critical in the last 90 days (3 of those in the last week)
    add(db, 6, institution="Port of Xland Authority", jurisdiction="NL", published="2026-07-10", stance="neutral")
    add(db, 3, institution="Port of Xland Authority", jurisdiction="NL", published="2026-10-01", stance="critical")
    add(db, 3, institution="Port of Xland Authority", jurisdiction="NL", published="2026-11-24", stance="critical")
    add(db, 4, institution="Port of Xland Authority", jurisdiction="NL", published="2025-12-01", stance="critical")  # too old
    # a ministry that stays critical
    add(db, 6, institution="Steady Ministry", jurisdiction="DE", published="2026-07-01", stance="critical")
    add(db, 6, institution="Steady Ministry", jurisdiction="DE", published="2026-10-15", stance="critical")
    # too few documents before
    add(db, 3, institution="Small Agency", jurisdiction="DE", published="2026-06-20", stance="neutral")
    add(db, 6, institution="Small Agency", jurisdiction="DE", published="2026-10-20", stance="critical")
    # one long critical report among neutral statements: one vote, not 30
    add(db, 5, institution="Verbose Office", jurisdiction="FR", published="2026-07-15", stance="neutral")
    add(db, 4, institution="Verbose Office", jurisdiction="FR", published="2026-10-15", stance="neutral")
    add(db, 1, institution="Verbose Office", jurisdiction="FR", published="2026-10-16", stance="critical", mentions=30)
    # an outlet: supportive, then neutral (its articles carry no country: INT)
    add(db, 6, institution="Example News", jurisdiction="INT", published="2026-07-20", stance="supportive",
        news_url="https://www.example-news.com/2026")
    add(db, 6, institution="Example News", jurisdiction="INT", published="2026-11-01", stance="neutral",
        news_url="https://www.example-news.com/2026", extra_stance="supportive")  # 1 supportive of 2 mentions: a tie is neutral
    return db


@pytest.fixture
def db(tmp_path):
    return build(tmp_path / "tracker.db")


def test_rule():
    assert judge({"neutral": 6}, {"critical": 6}).description == "neutral → critical (critical 0% → 100%, p = 0.002)"
    assert judge({"neutral": 4}, {"critical": 9}) is None  # fewer than 5 before
    assert judge({"neutral": 5}, {"neutral": 4, "critical": 1}) is None  # 20 points: not marked
    assert judge({"neutral": 5, "critical": 1}, {"critical": 5, "neutral": 1}) is None  # p = 0.08
    verdict = judge({"supportive": 6, "neutral": 1}, {"neutral": 6, "critical": 1})
    assert (verdict.before, verdict.after, verdict.stance) == ("supportive", "neutral", "supportive")


def test_detect_names_those_who_shifted(db):
    shifts = detect(db, "logink", clock.now())
    found = {(s.kind, s.actor): s for s in shifts}
    assert set(found) == {("institution", "Port of Xland Authority"), ("country", "NL"), ("outlet", "example-news.com")}
    port = found[("institution", "Port of Xland Authority")]
    assert (port.verdict.before, port.verdict.after) == ("neutral", "critical")
    assert port.previous == {"neutral": 6} and port.recent == {"critical": 6}  # the 2025 documents are out of both windows
    assert port.mentions == {"previous": 6, "recent": 6}
    assert port.line == ("Port of Xland Authority (institution): neutral → critical (critical 0% → 100%, p = 0.002); "
                         "documents critical/neutral/supportive 0/6/0 → 6/0/0")
    assert len(port.examples) == 3 and all(e["stance"] == "critical" for e in port.examples)
    assert [e["date"] for e in port.examples] == ["2026-11-24"] * 3  # newest first
    outlet = found[("outlet", "example-news.com")]
    assert (outlet.verdict.before, outlet.verdict.after) == ("supportive", "neutral") and outlet.mentions["recent"] == 12
    # a week earlier, only three of the port's critical statements were there: no shift yet
    earlier = {(s.kind, s.actor) for s in detect(db, "logink", clock.now() - timedelta(days=7))}
    assert ("institution", "Port of Xland Authority") not in earlier and ("outlet", "example-news.com") in earlier
    assert detect(db, "other-topic", clock.now()) == []


def test_canned_query_names_the_same(db, tmp_path):
    ds = build_datasette(tmp_path / "tracker.db")
    response = asyncio.run(ds.client.get("/tracker/stance_shifts.json?" + urlencode(
        {"topic": "logink", "as_of": "2026-11-26", "_shape": "array"})))
    assert response.status_code == 200, response.text
    rows = response.json()
    assert {(r["kind"], r["actor"]) for r in rows} == {(s.kind, s.actor) for s in detect(db, "logink", clock.now())}
    port = next(r for r in rows if r["actor"] == "Port of Xland Authority")
    assert port["shift"] == "neutral → critical (critical 0% → 100%, p = 0.002)"
    assert (port["previous_documents"], port["last_documents"], port["previous_mentions"], port["last_mentions"]) == ("0/6/0", "6/0/0", 6, 6)
    sentence = db.execute("select sentence, stance from mentions where id = ?", [port["mention_id"]]).fetchone()
    assert sentence[1] == "critical" and "(critical)" in sentence[0]
    page = asyncio.run(ds.client.get("/tracker/stance_shifts?topic=logink&as_of=2026-11-26"))
    assert page.status_code == 200 and "Who changed position" in page.text and "Port of Xland Authority" in page.text


def test_digest_names_a_shift_once_when_it_appears(env):
    build(env.db_path)
    env.configure({}, extra=(
        '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n'
        '[digest]\nschedule = "mon 07:00"\ntimezone = "UTC"\nfrom = "Tracker <tracker@example.org>"\n'
        'base_url = "https://tracker.example.org/"\n[[digest.subscribers]]\nemail = "a@example.org"\ntopics = ["logink"]\n'))
    config = load_config(str(env.config_path))
    digest = build_digest(env.db(), config, "a@example.org")
    assert "WHO CHANGED POSITION (2)" in digest.text  # the outlet's shift was there a week ago: not new
    assert "example-news.com (outlet)" not in digest.text
    assert "- LOGINK: Port of Xland Authority (institution): neutral → critical (critical 0% → 100%, p = 0.002)" in digest.text
    assert "https://tracker.example.org/tracker/stance_shifts?topic=logink" in digest.text
    assert digest.text.count("https://tracker.example.org/tracker/mentions/") >= 3
    assert "- LOGINK: NL (country): neutral → critical" in digest.text  # the port's statements are the country's
    assert "Who changed position (2)" in digest.html and "Port of Xland Authority" in digest.html


def test_a_document_reached_through_two_sources_votes_once(db):
    """Small Agency has 3 documents before the window (too few to judge); copies of them stored by a second
    source (same upstream identity) must not make 6."""
    rows = db.execute("select id, source_id, url, title, text, institution, jurisdiction, published_at from documents "
                      "where institution = 'Small Agency' and published_at < '2026-08-01'").fetchall()
    assert len(rows) == 3
    for doc_id, source_id, url, title, text, institution, jurisdiction, published in rows:
        key = f"fr:{source_id}"
        db.execute("insert into document_identities (key, document_id) values (?, ?)", [key, doc_id])
        _, copy = writes.upsert_document(db, {
            "source": "news-rss", "source_id": f"copy-{source_id}", "url": url + "?copy", "title": title, "text": text,
            "doc_type": "notice", "institution": institution, "jurisdiction": jurisdiction, "published_at": published,
            "fetched_at": clock.now_iso(), "content_hash": f"h-copy-{source_id}", "same_as": [key]})
        writes.replace_annotations(db, copy, {
            "mentions": [{"entity": "platform:logink", "text": "LOGINK", "sentence": text + " #0", "start": None, "end": None,
                          "stance": "neutral", "topic": "logink", "stance_score": 0.8}],
            "topics": [{"topic": "logink", "stance": "neutral", "score": 0.8, "mentions": 1}]}, f"h-copy-{source_id}", "test-1", 1)
    grouped = db.execute("select count(*) from documents where institution = 'Small Agency' and canonical_id != id").fetchone()[0]
    assert grouped == 3  # the copies are linked to the originals
    assert ("institution", "Small Agency") not in {(s.kind, s.actor) for s in detect(db, "logink", clock.now())}
