"""Sentence boundaries: the one definition used by matching, context rules and mention output.

A sentence starts at the first non-punctuation token after a sentence-final mark (``. ! ? 。 ！ ？``
...), as in ``spacy.pipeline.Sentencizer``; computed from a doc's ORTH array, and only for
paragraphs that have candidate matches (which saves the sentencizer's per-token Python loop).
"""

from __future__ import annotations

from bisect import bisect_right

from spacy.attrs import ORTH
from spacy.strings import hash_string
from spacy.tokens import Doc

SENTENCE_FINAL = (".", "!", "?", "。", "！", "？", "｡", "．", "!?", "?!", "...")
_FINAL_HASHES = frozenset(hash_string(p) for p in SENTENCE_FINAL)


class Sentences:
    """Sentence boundaries of a doc by the spaCy sentencizer's rule, computed only when needed.

    A sentence starts at the first non-punctuation token after a sentence-final mark
    (``.!?。！？`` ...), as in ``spacy.pipeline.Sentencizer``; only paragraphs with candidate
    matches pay for it.
    """

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.starts = [0]
        orths = doc.to_array(ORTH).tolist()
        for f in [i for i, orth in enumerate(orths) if orth in _FINAL_HASHES]:
            k = f + 1
            while k < len(orths) and doc[k].is_punct:
                k += 1
            if self.starts[-1] < k < len(orths):
                self.starts.append(k)

    def is_start(self, i: int) -> bool:
        return self.starts[bisect_right(self.starts, i) - 1] == i

    def chars(self, start: int, end: int) -> tuple[int, int]:
        """Character span of the sentence(s) holding tokens ``[start, end)``."""
        first = self.starts[bisect_right(self.starts, start) - 1]
        k = bisect_right(self.starts, end - 1)
        last = self.doc[self.starts[k] - 1 if k < len(self.starts) else len(self.doc) - 1]
        return self.doc[first].idx, last.idx + len(last)

