"""Sentence boundaries: the one definition, used by matching, context rules, mention output and the
stance window (``nlp.stance.make_window``).

A sentence ends at ``.!?`` followed by optional closing quotes or brackets and whitespace (not
after an abbreviation such as ``U.S.``, ``Sec.``, ``No.`` or a list number ``5.``), right after
``。！？；`` and their closing quotes or brackets (CJK needs no space), and at a blank line; a
single newline is a hard wrap, not a boundary. Quirks: a sentence that really ends with ``Inc.``
or ``Nov.`` runs on into the next one; the rule reads at most ``REACH`` characters on each side of
a span, so a longer sentence is cut there.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from spacy.tokens import Doc

REACH = 1280  # characters read on each side of a span (4 x the stance window's width)
_ABBREV = {"mr", "mrs", "ms", "dr", "no", "nos", "sec", "art", "para", "vs", "cf", "nr", "st", "jr", "e.g", "i.e",
           "z.b", "bzw", "vgl", "ca",
           # companies, US legislators and officials, months: "Co., Ltd. (ZPMC)", "Sen. Scott", "Nov. 3"
           "co", "ltd", "inc", "corp", "plc", "llc", "dept", "rep", "reps", "sen", "gen", "gov",
           "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
_CLOSERS = "\"'”’»)\\]」』）》〉"  # regex class body: closing quotes and brackets
_BOUNDARY = re.compile(rf"(?<=[.!?])([{_CLOSERS}]*)\s+|(?<=[。！？；])([{_CLOSERS}]*)|\n\s*\n")
_LAST_WORD = re.compile(r"(\S+)\.$")
_INITIALS = re.compile(r"(?:[A-Z]{1,2}\.)*[A-Z]{1,2}")  # U.S., H.R., EE. UU., S.A.
_LIST_NUMBER = re.compile(r"\d{1,3}")


def _is_boundary(text: str, match: re.Match) -> bool:
    """False for a sentence end after an abbreviation (``U.S.``, ``Sec.``) or a list number."""
    end = match.start()
    if end == 0 or text[end - 1] != "." or match.group(0).count("\n") >= 2:
        return True
    word = _LAST_WORD.search(text[max(0, end - 12) : end])
    if word is None:
        return True
    raw = word.group(1).strip("(\"'“")
    token = raw.lower()
    if token in _ABBREV or _LIST_NUMBER.fullmatch(token):
        return False
    return not _INITIALS.fullmatch(raw)


def boundaries(text: str, start: int = 0, end: int | None = None):
    """``(end of a sentence, start of the next)`` pairs in ``text[start:end]``, in order; closing
    quotes and brackets after the final mark belong to the sentence."""
    region = text[start:end]
    for match in _BOUNDARY.finditer(region):
        if _is_boundary(region, match):
            closers = len(match.group(1) or match.group(2) or "")
            yield start + match.start() + closers, start + match.end()


def sentence_bounds(text: str, start: int, end: int, reach: int = REACH) -> tuple[int, int]:
    """``(left, right)`` of the sentence(s) holding ``text[start:end]`` (whitespace not stripped)."""
    base = max(0, start - reach)
    left, right = base, min(len(text), end + reach)
    for stop, nxt in boundaries(text, base, right):
        if nxt <= start:
            left = nxt
        elif stop >= end:
            right = stop
            break
    return left, right


class Sentences:
    """The sentences of a tokenized paragraph, as token indices (the rule above on ``doc.text``)."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        idx = doc.to_array("IDX").tolist() if len(doc) else []
        self.starts = [0]
        for _, nxt in boundaries(doc.text):
            k = bisect_left(idx, nxt)
            if self.starts[-1] < k < len(idx):
                self.starts.append(k)

    def is_start(self, i: int) -> bool:
        return self.starts[bisect_right(self.starts, i) - 1] == i

    def chars(self, start: int, end: int) -> tuple[int, int]:
        """Character span of the sentence(s) holding tokens ``[start, end)``."""
        first = self.starts[bisect_right(self.starts, start) - 1]
        k = bisect_right(self.starts, end - 1)
        last = self.doc[self.starts[k] - 1 if k < len(self.starts) else len(self.doc) - 1]
        return self.doc[first].idx, last.idx + len(last)
