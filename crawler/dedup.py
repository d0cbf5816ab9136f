"""Duplicate and same-story detection for news articles: pure functions, no database.

Three levels, from strict to loose:

- exact duplicates: `text_hash` over the text folded to lower-case letters and digits (punctuation,
  case and white space do not count), so the same wire text at two URLs is one document;
- near duplicates (reposts, light edits, spun copies): MinHash (datasketch) over word 3-shingles,
  plus a 64-bit SimHash kept for quick inspection;
- story-level rewrites (three outlets rewriting one wire story in their own words share only
  ~0.05-0.2 of their 3-shingles): `story_score` combines shingle similarity with the overlap of
  names (capitalised words and acronyms), numbers (digits and number words) and title words.
  `same_story` applies the thresholds measured on the project's test stories (docs/news.md).

Chinese and Japanese text is tokenised per character, so shingles still work there.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

NUM_PERM = 128
SHINGLE = 3
# same_story thresholds (measured in docs/news.md "Story grouping: measured numbers")
NEAR_DUPLICATE_JACCARD = 0.5
STORY_SCORE = 0.33
STORY_MIN_NAMES = 0.5

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_]+", re.UNICODE)
_NAME = re.compile(r"\b(?:[A-Z]{2,}[A-Za-z]*|[A-Z](?:\.[A-Z])+\.?|[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)*)\b")
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:[,.\u202f ]\d{3})+(?![\d])|\d+(?:\.\d+)?")
NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13",
    "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18",
    "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
    "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100", "dozen": "12",
}
STOPWORDS = frozenset("""
a about after again against all also an and any are as at be because been before being between both
but by can could did do does during each for from had has have he her here hers him his how i if in
into is it its just may me might more most must my new no nor not now of off on once only or other
our out over own said same says she should so some such than that the their them then there these
they this those through to too under until up very was we were what when where which while who whom
why will with would yet you your mr mrs ms dr on monday tuesday wednesday thursday friday saturday
sunday january february march april may june july august september october november december
according however meanwhile still while last next week year years month months day days
""".split())


def fold(text: str) -> str:
    """Text reduced to case-folded letters and digits separated by single spaces."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_TOKEN.findall(text))


def text_hash(text: str) -> str:
    """Exact-duplicate key: SHA-256 of the folded text."""
    return hashlib.sha256(fold(text).encode("utf-8")).hexdigest()


def tokens(text: str) -> list[str]:
    """Word tokens (one per character in CJK scripts), case-folded."""
    return fold(text).split()


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    """Word k-shingles of the text (the whole text as one shingle when it is shorter than k)."""
    words = tokens(text)
    if len(words) < k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}


def minhash(items: set[str], num_perm: int = NUM_PERM) -> MinHash:
    """A datasketch MinHash of a shingle set."""
    signature = MinHash(num_perm=num_perm)
    signature.update_batch([s.encode("utf-8") for s in items])
    return signature


def simhash(items: set[str]) -> int:
    """64-bit SimHash over shingles (near-identical texts differ in a few bits)."""
    if not items:
        return 0
    digests = np.frombuffer(b"".join(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest() for i in items), dtype=">u8")
    bits = (digests[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    weights = (2 * bits.astype(np.int64) - 1).sum(axis=0)
    return sum(1 << i for i in range(64) if weights[i] > 0)


def hamming(a: int, b: int) -> int:
    """Number of differing bits of two SimHashes."""
    return bin(a ^ b).count("1")


def names(text: str) -> set[str]:
    """Name-like words: capitalised words not used in lower case elsewhere in the text, and acronyms
    (``LOGINK``, ``U.S.``), case-folded with dots removed. Sentence-initial common words drop out
    because they also occur in lower case, or are stop words."""
    lower_words = set(re.findall(r"\b[a-z][a-z'’-]+\b", text))
    found = set()
    for match in _NAME.finditer(text):
        word = match.group(0)
        key = re.sub(r"['’]s$", "", word.replace(".", "")).casefold()
        if key in STOPWORDS or len(key) < 2:
            continue
        if not word.isupper() and word.lower() in lower_words:
            continue
        found.add(key)
    return found


def numbers(text: str) -> set[str]:
    """Numbers in the text, digits and number words alike (``six`` and ``6`` match), without separators."""
    found = {re.sub(r"[,\u202f ]", "", n).rstrip(".") for n in _NUMBER.findall(text)}
    found.update(NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS)
    return {n for n in found if n}


def title_words(title: str) -> set[str]:
    """Content words of a title, crudely stemmed (first five letters) so ``ports``/``port`` match."""
    return {w[:5] for w in tokens(title) if w not in STOPWORDS and (len(w) > 2 or not w.isascii())}


@dataclass
class Signature:
    """What the story grouping compares; `to_row` / `from_row` store it in ``document_signatures``."""

    text_hash: str
    minhash: np.ndarray
    simhash: int
    names: frozenset[str]
    numbers: frozenset[str]
    title_words: frozenset[str]

    def to_row(self) -> dict:
        return {
            "text_hash": self.text_hash,
            "minhash": self.minhash.astype("<u8").tobytes(),
            "simhash": f"{self.simhash:016x}",
            "names": json.dumps(sorted(self.names), ensure_ascii=False),
            "numbers": json.dumps(sorted(self.numbers)),
            "title_words": json.dumps(sorted(self.title_words), ensure_ascii=False),
        }

    @classmethod
    def from_row(cls, row: dict) -> Signature:
        return cls(
            text_hash=row["text_hash"],
            minhash=np.frombuffer(row["minhash"], dtype="<u8"),
            simhash=int(row["simhash"], 16),
            names=frozenset(json.loads(row["names"] or "[]")),
            numbers=frozenset(json.loads(row["numbers"] or "[]")),
            title_words=frozenset(json.loads(row["title_words"] or "[]")),
        )


def signature(title: str, text: str) -> Signature:
    """The signature of an article (title + main text)."""
    body_shingles = shingles(text)
    return Signature(
        text_hash=text_hash(text),
        minhash=minhash(body_shingles).hashvalues.copy(),
        simhash=simhash(body_shingles),
        names=frozenset(names(f"{title}\n{text}")),
        numbers=frozenset(numbers(f"{title}\n{text}")),
        title_words=frozenset(title_words(title)),
    )


def dice(a: frozenset | set, b: frozenset | set) -> float:
    """Sørensen-Dice overlap of two sets (0 when either is empty)."""
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def jaccard(a: Signature, b: Signature) -> float:
    """MinHash estimate of the 3-shingle Jaccard similarity."""
    return float(np.mean(a.minhash == b.minhash)) if len(a.minhash) == len(b.minhash) else 0.0


def story_score(a: Signature, b: Signature) -> dict:
    """Similarity components of two articles and their combination ``score`` (0..1).

    ``score = 0.3 * min(1, 3 * jaccard) + 0.35 * names + 0.2 * numbers + 0.15 * title``: shingle
    overlap saturates at 1/3 (rewrites rarely share more), names carry the most weight.
    """
    parts = {
        "jaccard": jaccard(a, b),
        "names": dice(a.names, b.names),
        "numbers": dice(a.numbers, b.numbers),
        "title": dice(a.title_words, b.title_words),
    }
    parts["score"] = (0.3 * min(1.0, 3 * parts["jaccard"]) + 0.35 * parts["names"]
                      + 0.2 * parts["numbers"] + 0.15 * parts["title"])
    return parts


def same_story(a: Signature, b: Signature) -> tuple[bool, dict]:
    """Whether two articles (already known to be close in time) report the same story, with the scores."""
    parts = story_score(a, b)
    if a.text_hash == b.text_hash or parts["jaccard"] >= NEAR_DUPLICATE_JACCARD:
        return True, parts
    return parts["score"] >= STORY_SCORE and parts["names"] >= STORY_MIN_NAMES, parts
