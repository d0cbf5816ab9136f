"""Crash safety: a crawl killed with SIGKILL at random points, then run again, ends with the same
database as an uninterrupted crawl: no lost or duplicated documents, versions or mentions."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from werkzeug import Response

N_DOCS = 24


def serve_many(replay, delay_s: float = 0.03) -> None:
    base = replay.url()
    results = []
    for i in range(N_DOCS):
        number = f"2025-{10000 + i}"
        results.append({
            "document_number": number, "title": f"Maritime notice {i}", "type": "Notice",
            "publication_date": f"2025-03-{1 + i % 28:02d}", "html_url": f"{base}/documents/{number}",
            "raw_text_url": f"{base}/text/{number}.txt", "agencies": [{"name": "Maritime Administration"}],
        })
    results.sort(key=lambda r: r["publication_date"])
    pages = [results[i:i + 8] for i in range(0, N_DOCS, 8)]
    for index, page in enumerate(pages, 1):
        body = {"count": N_DOCS, "results": page}
        if index < len(pages):
            body["next_page_url"] = f"{base}/api/v1/documents.json?page={index + 1}"
        replay.add("/api/v1/documents.json", json.dumps(body), content_type="application/json",
                   when=lambda r, i=index: r.args.get("page", "1") == str(i) and r.args.get("conditions[term]", "LOGINK") == "LOGINK")
    replay.add("/api/v1/documents.json", b'{"count": 0}', content_type="application/json",
               when=lambda r: r.args.get("conditions[term]") not in (None, "LOGINK"))

    def body(request):
        time.sleep(delay_s)
        i = int(request.path.rsplit("-", 1)[-1].split(".")[0]) - 10000
        text = (f"Notice {i}. The Maritime Administration reviewed LOGINK, the Chinese logistics platform, "
                f"at the Port of Rotterdam. " if i % 2 else f"Notice {i}. Grants for port resilience. ") * 3
        return Response(f"<pre>{text}</pre>", content_type="text/html")

    for r in results:
        replay.add(r["raw_text_url"].replace(base, ""), body)


def snapshot(db) -> dict:
    return {
        "documents": sorted(db.execute("select source_id, content_hash, version, nlp_hash = content_hash from documents").fetchall()),
        "versions": sorted(db.execute("select d.source_id, v.version, v.content_hash from document_versions v join documents d on d.id = v.document_id").fetchall()),
        "mentions": sorted(db.execute("select m.id, d.source_id, m.entity_id, m.start, m.end from mentions m join documents d on d.id = m.document_id").fetchall()),
        "watermark": db.execute("select watermark from sources where id = 'federal-register'").fetchone(),
    }


def crawl_cmd(env) -> list[str]:
    return [sys.executable, "-m", "tracker", "--config", str(env.config_path), "crawl", "federal-register"]


@pytest.mark.timeout(300)
def test_killed_crawls_converge_to_the_uninterrupted_result(env, replay, tmp_path):
    serve_many(replay)
    env.configure({"federal-register": {"base_url": replay.url("/api/v1"), "start_date": "2025-01-01"}},
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]')
    reference = subprocess.run(crawl_cmd(env), capture_output=True, text=True, timeout=120)
    assert reference.returncode == 0, reference.stderr
    expected = snapshot(env.db())
    assert len(expected["documents"]) == N_DOCS and expected["mentions"]

    rng = random.Random(7)
    for attempt in range(2):
        os.remove(env.db_path)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(str(env.db_path) + suffix):
                os.remove(str(env.db_path) + suffix)
        kills = 0
        for _ in range(2):  # kill twice at random points, then let it finish
            proc = subprocess.Popen(crawl_cmd(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.5, 3.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        final = subprocess.run(crawl_cmd(env), capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        assert snapshot(env.db()) == expected, f"attempt {attempt} diverged after {kills} kill(s)"
        runs = {r["status"] for r in env.db()["crawl_runs"].rows}
        assert "running" not in runs
