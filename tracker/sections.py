"""Where a paragraph sits in a statute or a bill, for `tracker.diff`'s section-aware summaries.

A section heading (``§50309.``, ``SEC. 2.``, ``Sec. 3``, ``Section 4``, ``Article 12``, ``TITLE I``,
``CHAPTER 5``) starts a section; the enumerators that open paragraphs (``(a)``, ``(1)``, ``(A)``,
``(i)``, ``(I)``, and ``1.`` at the top of an EU article) nest in the order they first appear, as US
and EU drafting do: ``(C)`` after ``(e)`` and ``(1)`` is ``§ 50309(e)(1)(C)``. A roman ``(i)`` and the
letter ``(i)`` are told apart by what came before (``(i)`` right after ``(h)`` is the letter).
"""

from __future__ import annotations

import re

_SECTION = [
    (re.compile(r"^§+\s*(\d+[A-Za-z0-9\-–]*)"), "§ {}"),
    (re.compile(r"^(?:SEC(?:TION)?\.?|Sec(?:tion)?\.?)\s+(\d+[A-Za-z]?(?:-\d+)?)\b"), "Sec. {}"),
    (re.compile(r"^(?:ARTICLE|Article)\s+(\d+[a-z]?)\b"), "Article {}"),
    (re.compile(r"^(?:TITLE|Title)\s+([IVXLC]+|\d+)\b"), "Title {}"),
    (re.compile(r"^(?:CHAPTER|Chapter)\s+([IVXLC]+|\d+[A-Z]?)\b"), "Chapter {}"),
]
_ENUMERATOR = re.compile(r"^\(([0-9]{1,3}[a-z]?|[a-z]{1,3}|[A-Z]{1,3})\)\s*")
_NUMBERED = re.compile(r"^(\d{1,3})\.\s+")
_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")


def _kind(token: str, last: dict[str, str]) -> str:
    """The enumerator's kind: ``num``, ``lower``, ``upper``, ``roman``, ``ROMAN``. ``(i)`` right after
    ``(h)`` is a letter, otherwise a roman numeral (likewise ``(v)`` after ``(u)``, ``(x)`` after ``(w)``)."""
    if token[0].isdigit():
        return "num"
    lower = token.islower()
    letter, roman = ("lower", "roman") if lower else ("upper", "ROMAN")
    if _ROMAN.match(token.lower()):
        previous = last.get(letter)
        follows_letter = (previous is not None and len(previous) == len(token)
                          and ord(previous[0].lower()) + 1 == ord(token[0].lower()))
        if not follows_letter and (token.lower() == "i" or roman in last or len(token) > 1):
            return roman
    return letter


class SectionTracker:
    """Labels paragraphs with their place in a statute or bill, fed in reading order (`label`)."""

    def __init__(self) -> None:
        self.section: str | None = None
        self.stack: list[tuple[str, str]] = []  # (kind, enumerator) from the outermost level in
        self.last: dict[str, str] = {}

    def label(self, paragraph: str) -> str | None:
        text = paragraph.lstrip()
        for pattern, form in _SECTION:
            match = pattern.match(text)
            if match:
                self.section, self.stack, self.last = form.format(match.group(1)), [], {}
                return self.section
        while True:
            match = _ENUMERATOR.match(text)
            if match:
                token = match.group(1)
                kind = _kind(token, self.last)
            else:  # "1." opens a paragraph of an EU article, at its top level only
                match = _NUMBERED.match(text)
                if not (match and (self.section or "").startswith("Article") and (not self.stack or self.stack[0][0] == "para")):
                    break
                kind, token = "para", match.group(1)
            text = text[match.end():]
            kinds = [k for k, _ in self.stack]
            if kind in kinds:
                del self.stack[kinds.index(kind):]
            self.stack.append((kind, token))
            self.last = {k: v for k, v in self.last.items() if k in {k2 for k2, _ in self.stack}}
            self.last[kind] = token
            if not _ENUMERATOR.match(text):  # "(e)(1) ..." opens two levels at once
                break
        return self.path() or None

    def path(self, depth: int | None = None) -> str:
        parts = self.stack if depth is None else self.stack[:depth]
        return (self.section or "") + "".join(f"({t})" for _, t in parts)


def labels(paras: list[str]) -> tuple[list[str | None], list[str | None]]:
    """For each paragraph, its full label and its summary label (two enumerator levels at most)."""
    tracker, full, short = SectionTracker(), [], []
    for p in paras:
        full.append(tracker.label(p))
        short.append(tracker.path(2) or None)
    return full, short
