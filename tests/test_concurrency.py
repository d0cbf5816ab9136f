"""Concurrency: Datasette keeps answering while a crawl writes (WAL; no "database is locked" reaches a user)."""

from __future__ import annotations

import asyncio
import threading

from datasette.app import Datasette

from crawler.records import content_hash
from db import writes
from db.schema import connect, ensure_schema


def _doc(i: int, text: str) -> dict:
    return {
        "source": "federal-register", "source_id": f"d{i}", "url": f"https://example.gov/{i}", "title": f"Notice {i}",
        "doc_type": "notice", "jurisdiction": "US", "institution": "MARAD", "language": "en", "published_at": "2025-01-01",
        "updated_at": None, "fetched_at": "2025-01-01T00:00:00+00:00", "text": text, "parser_version": "1",
        "content_hash": content_hash(f"Notice {i}", text),
    }


def test_datasette_reads_while_crawler_writes(tmp_path):
    path = tmp_path / "tracker.db"
    db = connect(path)
    ensure_schema(db)
    writes.register_sources(db, [{"id": "federal-register", "title": "FR", "jurisdiction": "US", "kind": "api",
                                  "base_url": "", "enabled": 1, "interval": "1d"}])
    stop = threading.Event()
    written = []

    def writer() -> None:
        wdb = connect(path)
        i = 0
        while not stop.is_set() and i < 3000:
            writes.upsert_document(wdb, _doc(i % 200, f"LOGINK port data revision {i} " * 50))
            written.append(i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()

    async def read() -> list[int]:
        ds = Datasette([str(path)])
        statuses = []
        for _ in range(60):
            for url in ("/tracker/documents.json?_search=LOGINK&_shape=array", "/tracker/documents.json?_facet=source"):
                response = await ds.client.get(url)
                statuses.append(response.status_code)
                assert "database is locked" not in response.text
        return statuses

    try:
        statuses = asyncio.run(read())
    finally:
        stop.set()
        thread.join()
    assert written and set(statuses) == {200}
    assert db["documents_fts"].count == db["documents"].count
