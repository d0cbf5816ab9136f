"""NLP throughput on real legislative English: the Annotator and `tracker annotate --jsonl` against bare
``spacy.blank("en")`` tokenisation of the same texts in the same run (issue 12 item 5).

The texts are the public-domain US federal texts the project holds (``bench/real_text.py``: bills,
statute, Congressional Record and Federal Register text from ``tests/fixtures`` and, when present,
``../shared/fixtures/us``), repeated with new ids up to ``--words``. Reported:

- in process: CPU seconds of blank("en") ``nlp.pipe`` and of ``Annotator.annotate_many``, chunk by
  chunk in turn (so that load on the shared machine slows both alike), and their ratio;
- through the CLI: wall-clock seconds of ``python -m tracker annotate --jsonl FILE`` (start-up,
  reading, annotation, JSON output) against wall-clock blank("en") tokenisation of the same texts,
  measured right before and after each CLI run; the median of ``--cli-runs`` runs;
- start-up: wall-clock seconds of the CLI on one short document, without and with a LOGINK mention
  (the stance model is imported only for a topic mention);
- peak RSS of the in-process run;
- with ``--reprocess-docs N``: wall-clock seconds of ``tracker reprocess --all --workers 1`` and
  ``--workers 2`` over a fresh database of N of these documents, and the speed-up.

    python bench/nlp_throughput.py [--words 300000] [--cli-runs 3] [--reprocess-docs 1200] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402

from bench import real_text  # noqa: E402
from nlp import Annotator  # noqa: E402


def corpus(words: int) -> list[str]:
    """The real texts, repeated until they hold about ``words`` words."""
    texts = real_text.load()
    if not texts:
        raise SystemExit("no real text found (tests/fixtures missing?)")
    out, total = [], 0
    while total < words:
        for text in texts:
            out.append(text)
            total += len(text.split())
            if total >= words:
                break
    return out


def _cpu(run_once) -> float:
    t0 = time.process_time()
    run_once()
    return time.process_time() - t0


def _wall(run_once) -> float:
    t0 = time.perf_counter()
    run_once()
    return time.perf_counter() - t0


def in_process(texts: list[str], chunks: int = 16) -> dict:
    blank, ann = spacy.blank("en"), Annotator()
    warm = texts[: max(1, len(texts) // 20)]
    list(blank.pipe(warm))
    list(ann.annotate_many((i, t, None) for i, t in enumerate(warm)))
    size = -(-len(texts) // chunks)
    blank_s = full_s = 0.0
    mentions = 0
    for k in range(0, len(texts), size):
        part = texts[k : k + size]
        blank_s += _cpu(lambda: [None for _ in blank.pipe(part, batch_size=64)])
        results: list[dict] = []
        full_s += _cpu(lambda: results.extend(ann.annotate_many((i, t, None) for i, t in enumerate(part))))
        mentions += sum(len(r["mentions"]) for r in results)
    words = sum(len(t.split()) for t in texts)
    return {"words": words, "documents": len(texts), "mentions": mentions, "model_version": ann.model_version,
            "blank_en_cpu_s": round(blank_s, 3), "annotator_cpu_s": round(full_s, 3),
            "blank_en_words_per_s": round(words / blank_s), "annotator_words_per_s": round(words / full_s),
            "ratio": round(blank_s / full_s, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


_CLI_CPU: list[float] = []  # CPU seconds of each CLI run (user + system), beside its wall-clock time


def _cli(path: Path) -> float:
    command = [sys.executable, "-m", "tracker", "annotate", "--jsonl", str(path)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CLI_CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def through_cli(texts: list[str], runs: int) -> dict:
    blank = spacy.blank("en")
    list(blank.pipe(texts[:20]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
        _cli(path)  # fills the disk cache (gazetteer, language model) if it is empty
        cli_s, blank_s, cli_cpu, blank_cpu = [], [], [], []
        for _ in range(runs):
            blank_s.append(_wall(lambda: [None for _ in blank.pipe(texts, batch_size=64)]))
            blank_cpu.append(_cpu(lambda: [None for _ in blank.pipe(texts, batch_size=64)]))
            cli_s.append(_cli(path))
            cli_cpu.append(_CLI_CPU[-1])
            blank_s.append(_wall(lambda: [None for _ in blank.pipe(texts, batch_size=64)]))
        one = Path(tmp) / "one.jsonl"
        one.write_text(json.dumps({"id": "s", "text": "The port authority published its annual report."}) + "\n")
        topic = Path(tmp) / "topic.jsonl"
        topic.write_text(json.dumps({"id": "t", "text": "The bill restricts the use of LOGINK at ports."}) + "\n")
        startup = [_cli(one) for _ in range(runs)]
        startup_cpu = _CLI_CPU[-runs:]
        startup_topic = [_cli(topic) for _ in range(runs)]
        startup_topic_cpu = _CLI_CPU[-runs:]
    cli, tok = statistics.median(cli_s), statistics.median(blank_s)
    cpu, tok_cpu = statistics.median(cli_cpu), statistics.median(blank_cpu)
    return {"cli_wall_s": round(cli, 3), "blank_en_wall_s": round(tok, 3), "cli_ratio": round(tok / cli, 3),
            "cli_runs_s": [round(x, 3) for x in cli_s], "cli_cpu_s": round(cpu, 3), "blank_en_cpu_s_cli": round(tok_cpu, 3),
            "cli_cpu_ratio": round(tok_cpu / cpu, 3), "startup_s": round(statistics.median(startup), 3),
            "startup_cpu_s": round(statistics.median(startup_cpu), 3),
            "startup_with_stance_s": round(statistics.median(startup_topic), 3),
            "startup_with_stance_cpu_s": round(statistics.median(startup_topic_cpu), 3)}


def reprocess(texts: list[str], count: int) -> dict:
    """Seconds of `tracker reprocess --all --workers 1 | 2` over a database of ``count`` documents."""
    import hashlib

    from db import writes
    from db.schema import connect

    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        subprocess.run([sys.executable, "-m", "tracker", "--db", str(path), "init"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        db = connect(path)
        for i in range(count):
            text = f"Document {i}.\n\n{texts[i % len(texts)]}"
            writes.upsert_document(db, {"source": "govinfo", "source_id": f"bench-{i}", "url": f"https://example.org/{i}",
                                        "title": f"Bench {i}", "fetched_at": "2026-11-20T08:00:00+00:00",
                                        "content_hash": hashlib.sha256(text.encode()).hexdigest(), "text": text})
        db.conn.close()
        for workers in (1, 2, 1, 2):
            command = [sys.executable, "-m", "tracker", "--db", str(path), "reprocess", "--all", "--workers", str(workers)]
            times.setdefault(workers, []).append(_wall(lambda: subprocess.run(command, cwd=ROOT, check=True,
                                                                             stdout=subprocess.DEVNULL)))
    one, two = min(times[1]), min(times[2])
    return {"reprocess_docs": count, "reprocess_1_worker_s": round(one, 2), "reprocess_2_workers_s": round(two, 2),
            "reprocess_speedup": round(one / two, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=300_000, help="words of real text (repeated to reach it)")
    parser.add_argument("--cli-runs", type=int, default=3, help="CLI runs (the median is reported)")
    parser.add_argument("--reprocess-docs", type=int, default=0, help="also time `tracker reprocess --workers 1|2`")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    texts = corpus(args.words)
    figures = {**in_process(texts), **through_cli(texts, args.cli_runs)}
    if args.reprocess_docs:
        figures.update(reprocess(texts, args.reprocess_docs))
    print(f"corpus: {figures['words']:,} words of real US legislative text in {figures['documents']} documents "
          f"({len(real_text.load())} distinct), {figures['mentions']:,} mentions")
    print(f"in process: blank('en') {figures['blank_en_words_per_s']:,} words/s, Annotator "
          f"{figures['annotator_words_per_s']:,} words/s: ratio {figures['ratio']:.1%} ({figures['model_version']})")
    print(f"through the CLI: tracker annotate --jsonl {figures['cli_wall_s']} s, blank('en') {figures['blank_en_wall_s']} s: "
          f"ratio {figures['cli_ratio']:.1%} (target >= 25%; runs {figures['cli_runs_s']})")
    print(f"through the CLI, CPU: {figures['cli_cpu_s']} s against {figures['blank_en_cpu_s_cli']} s: "
          f"ratio {figures['cli_cpu_ratio']:.1%}")
    print(f"start-up (one document): {figures['startup_s']} s ({figures['startup_cpu_s']} s CPU); with a LOGINK mention "
          f"(stance model loaded): {figures['startup_with_stance_s']} s ({figures['startup_with_stance_cpu_s']} s CPU)")
    print(f"peak RSS (in process): {figures['peak_rss_mb']} MB")
    if "reprocess_speedup" in figures:
        print(f"tracker reprocess --all over {figures['reprocess_docs']} documents: {figures['reprocess_1_worker_s']} s "
              f"with 1 worker, {figures['reprocess_2_workers_s']} s with 2: speed-up {figures['reprocess_speedup']}x")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
