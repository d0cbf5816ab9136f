"""Recorded examples, juriscraper style: every registered source parses its recorded upstream files
into exactly the reviewed output beside them. A source without examples fails; a missing expected
file is written for review and the test fails."""

from __future__ import annotations

import dataclasses
import json

import pytest

from crawler.registry import SOURCES
from tests.replay import FIXTURES

VOLATILE = {"fetched_at"}


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
    records = SOURCES[source_id].parse_example(path)
    assert records, f"{path.name} parsed into nothing"
    got = [_normalise(r) for r in records]
    for row in got:
        assert row["source"] == source_id
        assert row.get("url") and row.get("parser_version"), "provenance (url, parser_version) is mandatory"
        if row["record"] == "DocumentRecord":
            assert row["text"].strip() and row["source_id"]
    expected_path = path.with_name(path.name + ".expected.json")
    if not expected_path.exists():
        expected_path.write_text(json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        pytest.fail(f"wrote {expected_path.name}: review it, then commit it")
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))
