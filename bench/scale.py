"""Scale benchmark (issue 9 item 5): ingest + NLP throughput, search and facet latency through
Datasette, canned queries, digest build time, database size and peak memory on a generated corpus.

    python bench/scale.py --docs 100000            # the full run: 100k documents, ~1M mentions
    python bench/scale.py --docs 10000 --nlp-docs 1000 --out /tmp/scale

Two databases are built from the deterministic corpus of bench/corpus.py:

1. ``nlp.db``: ``--nlp-docs`` documents through the real path: ``db.writes.upsert_document`` (FTS
   triggers, versions) then ``tracker.annotation.annotate_pending`` (the real ``nlp.Annotator`` and
   ``db.writes.replace_annotations``). Throughput is words per second of the whole path, compared with
   bare ``spacy.blank("en")`` tokenisation of the same texts measured in the same run.
2. ``scale.db``: ``--docs`` documents through ``upsert_document`` with the mentions the generator placed
   (``replace_annotations``), so a 100k-document / 1M-mention database is built without hours of NLP.
   Search, facets, canned queries and the dashboard are then timed through Datasette's own client
   (``tracker.serve.build_datasette``: the same instance ``tracker serve`` runs), and the digest with
   ``tracker.digest.build_digest``.

Results are printed as Markdown and written to ``<out>/results.json``. Targets (2-core machine):
ingest + NLP >= 100,000 words/s; search p95 < 100 ms; digest < 2 s; peak RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import Corpus, entity_rows  # noqa: E402
from db import writes  # noqa: E402
from db.schema import connect, ensure_schema  # noqa: E402

TARGETS = {"ingest_nlp_words_per_s": 100_000, "search_p95_ms": 100, "analyst_search_p95_ms": 500, "digest_s": 2.0,
           "peak_rss_mb": 1024}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_breakdown_mb() -> dict:
    """Current resident memory split into private (anonymous) and file-backed pages (the memory-mapped
    database: page cache shared with the OS and reclaimable), from /proc/self/status."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024)
    return fields


def fresh_db(path: Path):
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = connect(path)
    ensure_schema(db)
    return db


def load_config():
    from tracker.config import load_config as load

    return load(None)


def progress(label: str, done: int, total: int, started: float) -> None:
    if sys.stderr.isatty() or done == total or done % max(total // 20, 1) == 0:
        print(f"{label}: {done}/{total} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- 1. ingest + NLP throughput


def bench_nlp(corpus: Corpus, n: int, out: Path) -> dict:
    import spacy

    from tracker.annotation import annotate_pending, get_annotator
    from tracker.crawl import source_rows

    config = load_config()
    db = fresh_db(out / "nlp.db")
    writes.register_sources(db, source_rows(config))
    docs = list(corpus.documents(n, first=10_000_000))  # a sample disjoint from scale.db's documents
    for d in docs:  # the generated text is English: other labels would mislead the annotator
        d.doc["language"] = "en" if d.doc["language"] == "en" else None
    words = sum(d.words for d in docs)
    placed = sum(len(d.mentions) for d in docs)

    started = time.perf_counter()
    annotator = get_annotator(config)
    annotator.annotate("LOGINK warm-up.")
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    for d in docs:
        writes.upsert_document(db, d.doc)
    ingest_s = time.perf_counter() - started

    started = time.perf_counter()
    totals = annotate_pending(db, config)
    nlp_s = time.perf_counter() - started
    found_logink = db.execute("select count(*) from mentions where entity_id like 'platform:%'").fetchone()[0]
    placed_logink = sum(1 for d in docs for m in d.mentions if m["entity"].startswith("platform:"))

    blank = spacy.blank("en")
    started = time.perf_counter()
    tokens = sum(len(doc) for doc in blank.pipe((d.doc["text"] for d in docs), batch_size=64))
    blank_s = time.perf_counter() - started
    return {
        "documents": n, "words": words, "annotator_load_s": round(load_s, 2),
        "ingest_s": round(ingest_s, 2), "nlp_s": round(nlp_s, 2),
        "ingest_words_per_s": round(words / ingest_s), "nlp_words_per_s": round(words / nlp_s),
        "ingest_nlp_words_per_s": round(words / (ingest_s + nlp_s)),
        "blank_tokenizer_words_per_s": round(words / blank_s), "blank_tokens": tokens,
        "nlp_vs_blank_slowdown": round((ingest_s + nlp_s) / blank_s, 1),
        "mentions_placed": placed, "mentions_found": totals["mentions"],
        "logink_mentions_placed": placed_logink, "logink_mentions_found": found_logink,
    }


# ---------------------------------------------------------------- 2. the large database


def build_scale_db(corpus: Corpus, n: int, out: Path) -> tuple[dict, Path]:
    from tracker.crawl import source_rows

    path = out / "scale.db"
    db = fresh_db(path)
    writes.register_sources(db, source_rows(load_config()))
    try:
        from tracker.annotation import get_annotator

        writes.save_entities(db, get_annotator(load_config()).entity_rows())
    except Exception:  # the NLP package is optional for this phase: the generator's entities suffice
        pass
    writes.save_entities(db, [r for r in entity_rows() if db["entities"].count_where("id = ?", [r["id"]]) == 0])
    words = mentions = 0
    started = time.perf_counter()
    ingest_s = annotate_s = 0.0
    for i, d in enumerate(corpus.documents(n), 1):
        t0 = time.perf_counter()
        _, doc_id = writes.upsert_document(db, d.doc)
        t1 = time.perf_counter()
        annotation = {"mentions": d.mentions, "topics": d.topics, "lang": d.doc["language"]}
        writes.replace_annotations(db, doc_id, annotation, d.doc["content_hash"], "bench", 1)
        annotate_s += time.perf_counter() - t1
        ingest_s += t1 - t0
        words += d.words
        mentions += len(d.mentions)
        if i % 1000 == 0 or i == n:
            progress("scale.db", i, n, started)
    t0 = time.perf_counter()
    # mentions were first seen when their document was fetched (a crawl that kept up), not all now
    db.execute("update mentions set first_seen_at = (select d.fetched_at from documents d where d.id = mentions.document_id)")
    fix_s = time.perf_counter() - t0
    db.execute("pragma wal_checkpoint(truncate)")
    total_s = time.perf_counter() - started
    size = sum(os.path.getsize(str(path) + s) for s in ("", "-wal") if os.path.exists(str(path) + s))
    return {
        "documents": n, "words": words, "mentions": mentions,
        "build_s": round(total_s, 1), "upsert_document_s": round(ingest_s, 1),
        "upsert_words_per_s": round(words / ingest_s), "replace_annotations_s": round(annotate_s, 1),
        "first_seen_fixup_s": round(fix_s, 1), "db_bytes": size, "db_mb": round(size / 2**20),
    }, path


# ---------------------------------------------------------------- 3. Datasette latency


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


def summary(times: list[float]) -> dict:
    ms = [t * 1000 for t in times]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 95), 1),
            "max_ms": round(max(ms), 1)}


def bench_datasette(path: Path, corpus: Corpus, repeats: int) -> dict:
    from tracker.serve import build_datasette, metadata_for

    started = time.perf_counter()
    ds = build_datasette(path)  # creates the front end's facet index on first use (db.frontend.ensure_frontend)
    build_s = time.perf_counter() - started
    name = path.stem

    async def run() -> dict:
        async def timed(url: str) -> tuple[float, object]:
            t0 = time.perf_counter()
            response = await ds.client.get(url)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
            return elapsed, response

        await timed(f"/{name}.json")  # startup, schema load
        terms = ["LOGINK", "NEAL-NET", "Piraeus", "cargo", '"supply chain security"', "Maasvlakte",
                 corpus.tail[0], corpus.tail[200], corpus.tail[5000], "gantrying"]
        kinds = {
            "search_api": lambda t: f"/{name}/documents.json?" + urlencode(
                {"_search": t, "_shape": "array", "_col": ["title", "source", "published_at", "url"], "_nofacet": 1, "_nocount": 1}, doseq=True),
            # the page an analyst opens: ranked results with passages, the count and six facets (HTML)
            "search_analyst_page": lambda t: f"/{name}/search_documents?" + urlencode({"q": t}),
            "search_ranked_canned": lambda t: f"/{name}/search_documents.json?" + urlencode({"q": t, "_shape": "array"}),
        }
        results, matches = {}, {}
        for kind, url in kinds.items():
            times = []
            for term in terms:
                await timed(url(term))  # warm
                for _ in range(repeats):
                    times.append((await timed(url(term)))[0])
            results[kind] = summary(times)
        for term in terms:
            response = (await timed(f"/{name}/documents.json?" + urlencode({"_search": term, "_size": 1})))[1]
            matches[term] = response.json().get("filtered_table_rows_count")
        results["search_matches"] = matches

        pages = {
            "facets_documents": f"/{name}/documents.json?_size=1",
            "facets_documents_search_LOGINK": f"/{name}/documents.json?_size=1&_search=LOGINK",
            "facets_mentions": f"/{name}/mentions.json?_size=1",
            "facets_mentions_entity_logink": f"/{name}/mentions.json?_size=1&entity_id=platform:logink",
            "facets_document_topics": f"/{name}/document_topics.json?_size=1",
            "mentions_page_html": f"/{name}/mentions",
        }
        timed_out = {}
        for label, url in pages.items():
            times = []
            for _ in range(repeats):
                elapsed, response = await timed(url)
                times.append(elapsed)
            if url.split("?")[0].endswith(".json"):
                timed_out[label] = response.json().get("facets_timed_out", [])
            results[label] = summary(times)
        results["facets_timed_out"] = timed_out
        results["build_datasette_s"] = round(build_s, 1)

        canned = {
            "new_mentions_7d": f"/{name}/new_mentions.json?days=7&_shape=array",
            "entity_mentions_logink": f"/{name}/entity_mentions.json?entity=platform:logink&_shape=array",
            "topic_documents_logink": f"/{name}/topic_documents.json?topic=logink&_shape=array",
            "stance_by_source_month": f"/{name}/stance_by_source_month.json?topic=logink&_shape=array",
            "cooccurrence_logink": f"/{name}/cooccurrence.json?entity=&_shape=array",
            "legislation": f"/{name}/legislation.json?kind=&q=&_shape=array",
            "atom_feed": f"/{name}/new_mentions_feed.atom?topic=logink",
            "source_health_view": f"/{name}/source_health.json?_shape=array",
        }
        charts = metadata_for(name)["plugins"]["datasette-dashboards"]["mentions"]["charts"]
        for slug, chart in charts.items():
            sql = chart["query"].replace("[[", "").replace("]]", "")
            canned[f"dashboard_{slug}"] = f"/{name}.json?" + urlencode(
                {"sql": sql, "topic": "logink", "date_start": "2025-01-01", "date_end": "2026-12-31", "_shape": "array"})
        for label, url in canned.items():
            times = []
            try:
                for _ in range(max(1, repeats // 2)):
                    times.append((await timed(url))[0])
            except RuntimeError as exc:  # e.g. over sql_time_limit_ms: reported, the other measures kept
                results[f"canned_{label}"] = {"error": str(exc)[-200:]}
                continue
            results[f"canned_{label}"] = summary(times)
        return results

    return asyncio.run(run())


# ---------------------------------------------------------------- 4. digest


def bench_digest(path: Path) -> dict:
    try:
        from tracker.digest import build_digest
    except ImportError as exc:
        return {"skipped": f"tracker.digest.build_digest not available: {exc}"}
    db = connect(path)
    config = load_config()
    now = db.execute("select max(first_seen_at) from mentions").fetchone()[0]
    times, digest = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        try:
            digest = build_digest(db, config, {"email": "bench@example.org", "topics": list(config.topics)}, now=now)
        except Exception as exc:  # report, keep the other results
            return {"skipped": f"build_digest failed: {type(exc).__name__}: {exc}"}
        times.append(time.perf_counter() - t0)
    size = len(getattr(digest, "html", "") or "")
    return {"build_s_p50": round(statistics.median(times), 3), "build_s_max": round(max(times), 3), "html_bytes": size}


# ---------------------------------------------------------------- report


def report(results: dict) -> str:
    nlp, scale, web, digest = results["nlp"], results["scale"], results["datasette"], results["digest"]
    lines = [
        "| measure | value | target |", "|---|---|---|",
        f"| ingest + NLP (real path, {nlp['documents']:,} docs, {nlp['words']:,} words) | {nlp['ingest_nlp_words_per_s']:,} words/s | >= {TARGETS['ingest_nlp_words_per_s']:,} |",
        f"| of which upsert_document alone | {nlp['ingest_words_per_s']:,} words/s | |",
        f"| of which NLP (annotate_pending) alone | {nlp['nlp_words_per_s']:,} words/s | |",
        f"| bare spacy.blank('en') tokenisation, same texts | {nlp['blank_tokenizer_words_per_s']:,} words/s | |",
        f"| annotator load (once per process) | {nlp['annotator_load_s']} s | |",
        f"| scale.db: {scale['documents']:,} docs, {scale['mentions']:,} mentions, {scale['words']:,} words | built in {scale['build_s']} s | |",
        f"| database size | {scale['db_mb']:,} MB | |",
    ]
    for kind, target in (("search_api", TARGETS["search_p95_ms"]), ("search_analyst_page", TARGETS["analyst_search_p95_ms"]),
                         ("search_ranked_canned", None)):
        if kind in web:
            w = web[kind]
            lines.append(f"| {kind} p50 / p95 ({w['n']} queries) | {w['p50_ms']} / {w['p95_ms']} ms | {f'p95 <= {target} ms' if target else ''} |")
    for key, w in web.items():
        if key.startswith(("facets_", "mentions_page", "canned_")) and isinstance(w, dict) and "p50_ms" in w:
            lines.append(f"| {key} p50 / p95 | {w['p50_ms']} / {w['p95_ms']} ms | |")
    if "skipped" in digest:
        lines.append(f"| digest build | TODO: {digest['skipped']} | < {TARGETS['digest_s']} s |")
    else:
        lines.append(f"| digest build (p50 of 3) | {digest['build_s_p50']} s | < {TARGETS['digest_s']} s |")
    lines.append(f"| peak RSS | {results['peak_rss_mb']:,.0f} MB | < {TARGETS['peak_rss_mb']} MB |")
    end = results.get("rss_at_end_mb") or {}
    if end:
        lines.append(f"| RSS at the end: private / memory-mapped database pages | {end.get('RssAnon')} / {end.get('RssFile')} MB | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000, help="documents in scale.db (default 100000)")
    parser.add_argument("--nlp-docs", type=int, default=None, help="documents through the real NLP path (default min(docs, 1000))")
    parser.add_argument("--mentions-per-doc", type=float, default=10.0)
    parser.add_argument("--words-per-doc", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per query")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--skip-nlp", action="store_true", help="only the database, query and digest phases")
    parser.add_argument("--reuse", action="store_true", help="reuse <out>/scale.db from an earlier run (migrated, views refreshed)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(args.seed, args.words_per_doc, args.mentions_per_doc)
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "cpus": os.cpu_count()}
    t0 = time.perf_counter()
    results["nlp"] = {"skipped": True} if args.skip_nlp else bench_nlp(corpus, args.nlp_docs or min(args.docs, 1000), args.out)
    print("nlp:", json.dumps(results["nlp"]), file=sys.stderr, flush=True)
    path = args.out / "scale.db"
    if args.reuse and path.exists():
        db = connect(path)
        ensure_schema(db)  # the current migrations and views on the existing database
        previous = json.loads((args.out / "results.json").read_text())
        results["scale"] = previous["scale"]
        if args.skip_nlp and "words" in previous.get("nlp", {}):
            results["nlp"] = previous["nlp"]
    else:
        results["scale"], path = build_scale_db(corpus, args.docs, args.out)
    print("scale:", json.dumps(results["scale"]), file=sys.stderr, flush=True)

    def save() -> None:  # after every phase: partial results survive a crash
        (args.out / "results.json").write_text(json.dumps(results, indent=2))

    save()
    results["datasette"] = bench_datasette(path, corpus, args.repeats)
    save()
    results["digest"] = bench_digest(path)
    results["peak_rss_mb"] = round(peak_rss_mb())
    results["rss_at_end_mb"] = rss_breakdown_mb()
    results["total_s"] = round(time.perf_counter() - t0)
    save()
    print(report(results) if "words" in results["nlp"] else json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
