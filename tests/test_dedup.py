"""Exact, near-duplicate and story-level similarity (crawler/dedup.py) on the project's own test
stories: every same-story pair groups, every different-story pair stays apart."""

from __future__ import annotations

import itertools
import json

import pytest

from crawler import dedup
from tests.test_examples import news_rss_example
from tests.replay import FIXTURES

NR = FIXTURES / "news-rss"
STORY_OF = {  # article key -> story label
    "commission-opens-port-data-consultation": "A", "brussels-asks-ports-about-chinese-data-platforms": "A",
    "eu-ports-logink-probe": "A", "tidewater-eu-ports-logink-probe": "A", "varnholm-ends-logink-pilot": "B",
    "electric-tugs-enter-service": "tugs", "inside-the-logink-debate": "paywalled",
}


@pytest.fixture(scope="module")
def articles() -> dict[str, tuple[str, str, str]]:
    """key -> (story, title, text) from the recorded feeds' extracted pages and the extra stories."""
    found = {}
    for feed in ("harbour_ledger.rss", "quay_review.atom", "google_alerts_logink.atom"):
        for record in news_rss_example(NR / "examples" / feed):
            key = record.source_id.rsplit("/", 1)[-1]
            found[key] = (STORY_OF[key], record.title, record.text)
    for story in json.loads((NR / "stories.json").read_text("utf-8"))["stories"]:
        found[story["id"]] = (story["story"], story["title"], story["text"])
    return found


def test_text_hash_ignores_case_punctuation_and_spacing():
    a = "The Port of Varnholm ended the pilot.\n\nIt will switch on 1 July."
    b = "the port of varnholm ended the pilot -- it will switch on 1 July!"
    assert dedup.text_hash(a) == dedup.text_hash(b)
    assert dedup.text_hash(a) != dedup.text_hash(a.replace("1 July", "2 July"))
    assert dedup.tokens("港口数据 LOGINK") == ["港", "口", "数", "据", "logink"]


def test_near_duplicate_by_minhash_and_simhash(articles):
    _, title, text = articles["varnholm-ends-logink-pilot"]
    edited = text.replace("Chief executive", "CEO").replace("about 14,000", "roughly 14,000") + " Updated at 17:00."
    a, b = dedup.signature(title, text), dedup.signature(title + " (updated)", edited)
    assert a.text_hash != b.text_hash
    assert dedup.jaccard(a, b) >= dedup.NEAR_DUPLICATE_JACCARD and dedup.hamming(a.simhash, b.simhash) <= 12
    assert dedup.same_story(a, b)[0]


def test_signature_round_trips_through_a_row(articles):
    sig = dedup.signature(*articles["eu-ports-logink-probe"][1:])
    again = dedup.Signature.from_row(sig.to_row())
    assert again.text_hash == sig.text_hash and again.simhash == sig.simhash and again.names == sig.names
    assert dedup.jaccard(sig, again) == 1.0


def test_rewrites_group_and_other_stories_do_not(articles):
    sigs = {k: dedup.signature(title, text) for k, (_, title, text) in articles.items()}
    grouped, apart = [], []
    for a, b in itertools.combinations(sorted(articles), 2):
        same, scores = dedup.same_story(sigs[a], sigs[b])
        (grouped if articles[a][0] == articles[b][0] else apart).append((a, b, same, scores))
    assert len(grouped) == 7 and len(apart) == 38
    assert [g[:2] for g in grouped if not g[2]] == [], "a rewrite of the same story was not grouped"
    assert [g[:2] for g in apart if g[2]] == [], "different stories were grouped"
    # the rewrites share almost no wording: grouping rests on names, numbers and titles
    rewrites = [g[3] for g in grouped if g[3]["jaccard"] < 1]
    assert max(s["jaccard"] for s in rewrites) < 0.1
    assert min(s["score"] for s in rewrites) - max(s[3]["score"] for s in apart) > 0.15  # a clear margin


def test_names_and_numbers():
    text = "LOGINK links nine ports. Commissioner Elena Marchetti said the U.S. barred 9 ports; the study covered 14,000 boxes."
    assert {"logink", "elena", "marchetti", "us"} <= dedup.names(text)
    assert "commissioner" in dedup.names(text) and "the" not in dedup.names(text)
    assert {"9", "14000"} <= dedup.numbers(text)
