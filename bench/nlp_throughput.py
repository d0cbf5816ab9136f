"""NLP throughput: the full Annotator against bare ``spacy.blank("en")`` tokenisation (issue 6 item 4).

Generates legislative-style English (its own templates, nothing read from disk), then measures in
one process: words/s of blank("en") tokenisation (``nlp.pipe``), words/s of the full annotation
(language id, normalisation, tokenisation, sentences, gazetteer matching and linking, stance), their
ratio, peak RSS, and the resident memory after each pass over the stream (flat = no accumulation).

    python bench/nlp_throughput.py --words 300000 [--passes 3] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import spacy  # noqa: E402

from nlp import Annotator  # noqa: E402

_ACTORS = ["the Secretary", "the Secretary of Transportation", "the Administrator", "the Commissioner", "the Comptroller General",
           "the Department of Defense", "the Federal Maritime Commission", "the Maritime Administration",
           "U.S. Customs and Border Protection", "the Coast Guard", "a covered entity", "an eligible entity",
           "the head of each Federal agency", "a port authority", "the Director", "each State", "the Under Secretary",
           "the Inspector General", "a recipient of a grant under this section", "the Attorney General"]
_VERBS = ["shall submit a report on", "shall establish a program for", "may award grants for", "shall issue guidance on",
          "may not obligate or expend funds for", "shall prescribe regulations relating to", "shall conduct an assessment of",
          "shall coordinate with appropriate Federal agencies regarding", "shall certify compliance with",
          "shall maintain records of", "may enter into agreements for", "shall review the implementation of",
          "shall transmit to the appropriate congressional committees a plan for", "may waive the requirements of",
          "shall publish in the Federal Register a notice describing", "shall ensure the timely completion of"]
_ADJECTIVES = ["eligible", "qualified", "covered", "appropriate", "additional", "existing", "domestic", "foreign",
               "critical", "secure", "regional", "coastal", "inland", "small", "rural", "disadvantaged", "emerging",
               "advanced", "long-term", "cost-effective", "interoperable", "independent"]
_NOUNS = ["port infrastructure", "workforce development", "equipment procurement", "supply chain resilience",
          "cybersecurity risks", "dredging projects", "user fees", "vessel emissions", "navigation safety",
          "surplus property", "demurrage and detention charges", "personnel training", "personal information",
          "fund transfers", "contracts and subcontracts", "environmental reviews", "shoreside power", "bridge clearances",
          "rail connectors", "truck staging areas", "customs inspections", "harbor maintenance", "research grants",
          "technical assistance", "performance metrics", "data standards", "audit findings", "procurement practices"]
_TAILS = ["not later than {n} days after the date of the enactment of this Act", "for fiscal year {y}",
          "in an amount not to exceed ${n},{m}00,000", "as described in subsection ({l})(%d)" , "under section {s}({l}) of title {t}, United States Code",
          "during the {n}-day period beginning on {month} {d}, {y}", "as soon as practicable",
          "subject to the availability of appropriations", "in accordance with paragraph ({n}) of section {s}",
          "notwithstanding any other provision of law", "as amended by section {s} of Public Law {c}-{n}"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
# Rarer sentences that name the watched subject, ports, companies and laws (--subject-share).
_SUBJECT = ["{a} shall assess the use of LOGINK at {n} ports of allies and partners by {month} {d}, {y}",
            "no funds made available for fiscal year {y} may be used to procure a covered logistics platform, including LOGINK",
            "the term 'LOGINK' means the National Transportation and Logistics Public Information Platform, as described in section {s}",
            "{a} shall brief Congress within {n} days on data platforms used at the Port of Long Beach and the Port of Los Angeles",
            "{a} shall evaluate {n} terminals in Rotterdam and Piraeus operated by COSCO Shipping Ports since {y}",
            "the report shall describe cranes manufactured by ZPMC at container terminals in Houston as of {month} {d}, {y}",
            "the waiver authority in 46 U.S.C. 50309 shall apply to contracts entered into after {month} {d}, {y}"]


def _sentence(rng: random.Random, subject_share: float) -> str:
    if rng.random() < subject_share:
        text = rng.choice(_SUBJECT)
    else:
        text = f"{{a}} {rng.choice(_VERBS)} {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_TAILS)}"
    return text.format(a=rng.choice(_ACTORS), y=rng.randint(1990, 2030), n=rng.randint(2, 400), m=rng.randint(1, 9),
                       l=chr(rng.randint(97, 110)), s=rng.randint(101, 60999), t=rng.randint(1, 54),
                       c=rng.randint(100, 119), d=rng.randint(1, 28), month=rng.choice(_MONTHS)).replace(
                           "%d", str(rng.randint(1, 12)))


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def generate(words: int, doc_words: int, seed: int, subject_share: float = 1 / 15) -> list[str]:
    """Bill-like documents of about ``doc_words`` words each, ``words`` in total."""
    rng = random.Random(seed)
    docs, total = [], 0
    while total < words:
        parts, n, section = [], 0, 1
        while n < doc_words:
            items = "\n".join(f"    ({chr(97 + k)}) {_sentence(rng, subject_share)}; and" for k in range(rng.randint(1, 4)))
            head = rng.choice(["Report", "Prohibition", "Definitions", "Authorization of appropriations", "Guidance"])
            para = f"SEC. {section}. {head.upper()}.\n    {_upper_first(_sentence(rng, subject_share))}.\n{items}"
            parts.append(para)
            n += len(para.split())
            section += 1
        docs.append("\n\n".join(parts))
        total += n
    return docs


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def _timed(run_once) -> float:
    """CPU seconds of this process (other load on the machine does not count)."""
    t0 = time.process_time()
    run_once()
    return time.process_time() - t0


def run(words: int, doc_words: int, passes: int, seed: int, subject_share: float, chunks: int = 16) -> dict:
    """Measure both pipelines on the same corpus; returns the figures.

    Both are warmed up on another corpus first. The corpus is cut into ``chunks``, and each chunk
    is timed with blank("en") and then with the Annotator, so that a busy machine slows both alike.
    Further passes of the Annotator over the whole corpus show whether memory stays flat.
    """
    warm_up = generate(20_000, doc_words, seed + 1, subject_share)
    texts = generate(words, doc_words, seed, subject_share)
    n_words = sum(len(t.split()) for t in texts)
    blank, ann = spacy.blank("en"), Annotator()
    for _ in blank.pipe(warm_up):
        pass
    for _ in ann.annotate_many((i, t, None) for i, t in enumerate(warm_up)):
        pass
    size = -(-len(texts) // chunks)
    blank_s = full_s = 0.0
    mentions = topic_mentions = 0
    chunk_ratios = []
    for k in range(0, len(texts), size):
        part = texts[k : k + size]
        blank_t = _timed(lambda: [None for _ in blank.pipe(part, batch_size=64)])
        results = []
        full_t = _timed(lambda: results.extend(ann.annotate_many((i, t, None) for i, t in enumerate(part))))
        blank_s, full_s = blank_s + blank_t, full_s + full_t
        chunk_ratios.append(blank_t / full_t)
        mentions += sum(len(r["mentions"]) for r in results)
        topic_mentions += sum(1 for r in results for m in r["mentions"] if m["topic"])
    stance_share = _stance_share(ann, texts)
    rss_after_pass = [_rss_kb()]
    for _ in range(passes - 1):
        for _ in ann.annotate_many((i, t, None) for i, t in enumerate(texts)):
            pass
        rss_after_pass.append(_rss_kb())
    return {"words": n_words, "documents": len(texts), "blank_en_words_per_s": round(n_words / blank_s),
            "annotator_words_per_s": round(n_words / full_s), "ratio": round(blank_s / full_s, 3),
            "median_chunk_ratio": round(statistics.median(chunk_ratios), 3),
            "mentions": mentions, "topic_mentions": topic_mentions, "stance_share_of_time": stance_share, "model_version": ann.model_version,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_after_each_pass_mb": [round(r / 1024, 1) for r in rss_after_pass]}


def _stance_share(ann: Annotator, texts: list[str], rounds: int = 2) -> float | None:
    """Share of the annotation time spent in the stance model: extra passes with and without it."""
    model = ann._stance  # a benchmark may peek: switching the model off is not part of the API
    if model is None:
        return None
    with_stance, without = [], []
    try:
        for _ in range(rounds):
            ann._stance = model
            with_stance.append(_timed(lambda: list(ann.annotate_many((i, t, None) for i, t in enumerate(texts)))))
            ann._stance = None
            without.append(_timed(lambda: list(ann.annotate_many((i, t, None) for i, t in enumerate(texts)))))
    finally:
        ann._stance = model
    return round(max(0.0, 1 - min(without) / min(with_stance)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=300_000, help="total words of generated text")
    parser.add_argument("--doc-words", type=int, default=2_000, help="words per generated document")
    parser.add_argument("--passes", type=int, default=3, help="passes over the corpus for the memory check")
    parser.add_argument("--subject-share", type=float, default=1 / 15,
                        help="share of sentences naming LOGINK, ports, companies or laws (default 1/15)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    figures = run(args.words, args.doc_words, args.passes, args.seed, args.subject_share)
    print(f"corpus: {figures['words']:,} words in {figures['documents']} documents, {figures['mentions']:,} mentions "
          f"({figures['topic_mentions']:,} of a topic: classified for stance)")
    print(f"blank('en') tokenisation: {figures['blank_en_words_per_s']:,} words/s")
    print(f"full Annotator:           {figures['annotator_words_per_s']:,} words/s ({figures['model_version']})")
    print(f"ratio:                    {figures['ratio']:.1%} (target >= 25%; median over chunks "
          f"{figures['median_chunk_ratio']:.1%})")
    if figures["stance_share_of_time"] is not None:
        print(f"stance model share of annotation time: {figures['stance_share_of_time']:.0%}")
    print(f"peak RSS: {figures['peak_rss_mb']} MB; RSS after each pass: {figures['rss_after_each_pass_mb']} MB")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
