"""`tracker reprocess --workers N`: annotation on N processes gives the mentions one process gives."""

from __future__ import annotations

import hashlib

from db import writes

# Sentences written for this test; each document mixes ports, agencies, LOGINK and plain text.
_SENTENCES = [
    "The Federal Maritime Commission asked whether terminals at the Port of Long Beach use LOGINK.",
    "Ships bound for Rotterdam and Antwerp carried containers; the terminal operator declined to comment.",
    "Section {n} of the bill directs the Secretary of Transportation to report on port data security.",
    "国家交通运输物流公共信息平台已与宁波舟山港对接。",
    "Die Bundesregierung prüft, ob der Hamburger Hafen Daten mit LOGINK austauscht.",
    "Nothing in this paragraph names a platform, a port or an agency ({n}).",
]


def _document(i: int) -> dict:
    text = "\n\n".join(_SENTENCES[(i + k) % len(_SENTENCES)].format(n=i * 7 + k) for k in range(4))
    return {"source": "news-rss", "source_id": f"w{i}", "url": f"https://example.org/w{i}", "title": f"Item {i}",
            "fetched_at": "2026-11-20T08:00:00+00:00", "content_hash": hashlib.sha256(text.encode()).hexdigest(),
            "text": text, "language": None}


def _mentions(env) -> list[tuple]:
    return env.db().execute(
        "select document_id, entity_id, start, end, sentence, stance, stance_score from mentions "
        "order by document_id, start, entity_id").fetchall()


def test_two_workers_store_the_same_mentions_as_one(env):
    env.configure({})
    assert env.run("init").exit_code == 0
    db = env.db()
    for i in range(150):  # more than two batches of 64, so both workers get work and order matters
        writes.upsert_document(db, _document(i))

    one = env.run("reprocess", "--all", "--workers", "1")
    assert one.exit_code == 0, one.output
    assert "reprocessed 150 documents" in one.output
    single = _mentions(env)
    assert len({row[0] for row in single}) == 150 and {row[1] for row in single} >= {
        "platform:logink", "org:fmc", "port:USLGB", "port:NLRTM", "port:CNNGB", "port:DEHAM"}

    two = env.run("reprocess", "--all", "--workers", "2")
    assert two.exit_code == 0, two.output
    count = len(single)
    assert f"reprocessed 150 documents: {count} mentions ({count} new)" in one.output
    assert f"reprocessed 150 documents: {count} mentions (0 new)" in two.output  # the same mention keys
    assert _mentions(env) == single


def test_workers_must_be_positive(env):
    env.configure({})
    result = env.run("reprocess", "--workers", "0")
    assert result.exit_code != 0 and "--workers" in result.output
