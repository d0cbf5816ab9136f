"""Sentence boundaries: the one definition, used by matching, context rules, mention output and the
stance window (``nlp.stance.make_window``).

A sentence ends at ``.!?`` followed by optional closing quotes or brackets and whitespace (not
after an abbreviation such as ``U.S.``, ``Sec.``, ``No.`` or a list number ``5.``), right after
``。！？；`` and their closing quotes or brackets (CJK needs no space), and at a blank line; a
single newline is a hard wrap, not a boundary. Quirks: a sentence that really ends with ``Inc.``
or ``Nov.`` runs on into the next one; the rule reads at most ``REACH`` characters on each side of
a span, so a longer sentence is cut there.

Document furniture is a line of its own, never part of a sentence around it (issue 16): a line that is
entirely bracketed (``[Congressional Bills 118th Congress]``, ``[[Page 10844]]``) or an SGML-like
tag (``<DOC>``), a rule of dashes, underscores or equals signs, a GPO bill cover line (``118th
CONGRESS``, ``1st Session``, ``H. R. 1724``) and the Federal Register's "From the Federal Register
Online via ..." line. Such a line ends the sentence before it and is its own sentence, without its
brackets (a name inside ``[H.R. 1724 Introduced in House (IH)]`` has ``H.R. 1724 Introduced in House
(IH)`` as its sentence); the brackets are a sentence of their own. Offsets index the text as given:
nothing is rewritten. Quirk: lines are lines of the text the rule reads, and ``Sentences`` reads a
tokenized paragraph whose lines ``nlp.text.paragraphs`` has joined, so there only a paragraph that
is one such line is furniture.
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
_FURNITURE = re.compile(r"""^[ \t]*(
      \[\[[^\[\]\n]*\]\] | \[[^\[\]\n]*\]          # [[Page 10844]], [Congressional Bills 118th Congress]
    | </?[A-Za-z][^<>\n]*>                        # <DOC>, </DOC>
    | [-_=]{3,}                                   # rules
    | \d{1,3}(?:st|nd|rd|th)\ CONGRESS | \d(?:st|nd|rd|th)\ Session
    | [HS]\.(?:\ ?(?:R|Res|Con\.\ ?Res|J\.\ ?Res)\.)?\ \d{1,5}  # H. R. 1724, S. 939, H.Res. 5
    | From\ the\ Federal\ Register\ Online\ via\ [^\n]*
    )[ \t]*$""", re.MULTILINE | re.VERBOSE)
_SPACE = re.compile(r"\s*")


def _is_boundary(text: str, match: re.Match) -> bool:
    """False for a sentence end after an abbreviation (``U.S.``, ``Sec.``) or a list number."""
    end = match.start()
    if end == 0 or text[end - 1] != "." or match.group(0).count("\n") >= 2:
        return True
    word = _LAST_WORD.search(text[max(0, end - 12) : end])
    if word is None:
        return True
    raw = word.group(1).strip("([\"'“")
    token = raw.lower()
    if token in _ABBREV or _LIST_NUMBER.fullmatch(token):
        return False
    return not _INITIALS.fullmatch(raw)


def _furniture(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``(start, end)`` of the furniture lines (stripped) that overlap ``text[start:end]``."""
    lo = text.rfind("\n", 0, start) + 1  # whole lines, so that ^ and $ are true line edges
    hi = text.find("\n", end)
    return [m.span(1) for m in _FURNITURE.finditer(text, lo, len(text) if hi < 0 else hi)
            if m.end(1) > start and m.start(1) < end]


def boundaries(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(end of a sentence, start of the next)`` pairs in ``text[start:end]``, in order; closing
    quotes and brackets after the final mark belong to the sentence. Around a furniture line the
    gap between the two is its brackets (or nothing), not whitespace."""
    end = len(text) if end is None else end
    region = text[start:end]
    lines = _furniture(text, start, end)
    pairs = []
    for match in _BOUNDARY.finditer(region):
        if _is_boundary(region, match):
            closers = len(match.group(1) or match.group(2) or "")
            stop = start + match.start() + closers
            if not any(a <= stop <= b for a, b in lines):  # the line's own pairs below
                pairs.append((stop, start + match.end()))
    for a, b in lines:
        brackets = len(text[a:b]) - len(text[a:b].lstrip("[")) if text[a] == "[" else 0
        after = min(_SPACE.match(text, b).end(), end)
        pairs += [(a, a + brackets), (b - brackets, after)]
    return sorted(p for p in pairs if start <= p[0] <= p[1] <= end)


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
        elif stop <= start and end <= nxt:  # in a gap that is not whitespace: a furniture line's brackets
            return stop, nxt
    return left, right


class Sentences:
    """The sentences of a tokenized paragraph, as token indices (the rule above on ``doc.text``)."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        idx = doc.to_array("IDX").tolist() if len(doc) else []
        self.starts = [0]
        for stop, nxt in boundaries(doc.text):
            gap = (stop, nxt) if doc.text[stop:nxt].strip() else (nxt,)  # brackets: a sentence of their own
            for k in (bisect_left(idx, pos) for pos in gap):
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
