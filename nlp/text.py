"""Text normalisation that keeps offsets into the original text.

A document is cut into paragraphs at blank lines. Inside a paragraph every whitespace run that is
not a single space becomes one space, and a line-break hyphen between two lower-case letters
("logis-\\ntics") or a pinyin gloss inside Chinese text ("運(yùn)輸") disappears, so that names
broken across lines or glossed still match. Each paragraph keeps
a piecewise-linear map from its normalised positions back to positions in the original text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# What normalisation replaces: a line-break hyphen between lower-case letters and a pinyin gloss
# after a Chinese character ("運(yùn)輸", seen in scraped pages) are deleted; every whitespace run
# other than a single space becomes one space. (Each alternative starts with a literal or a class.)
_ODD_SPACE = re.compile(r"-(?<=[a-z]-)[^\S\n]*\n\s*(?=[a-z])|\((?<=[\u4e00-\u9fff]\()[a-z\u00e0-\u01dc]{1,7}\)"
                        r"|[^\S ]\s*| \s+")
_MAYBE_HYPHEN_BREAK = re.compile(r"-[^\S\n]*\n")
_MAYBE_GLOSS = re.compile(r"[\u4e00-\u9fff]\([a-z\u00e0-\u01dc]")
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
_CJK = re.compile(f"[{CJK_CHARS}]")
_KANA = re.compile("[\u3040-\u30ff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")


@dataclass
class Block:
    """One normalised paragraph: ``text``, made from ``original[start:end]``."""

    text: str
    original: str
    start: int
    end: int
    _points: tuple[list[int], list[int]] | None = None

    def to_original(self, pos: int) -> int:
        """Original offset of the character at normalised position ``pos``."""
        if self._points is None:
            self._points = self._map()
        norm, orig = self._points
        k = bisect_right(norm, pos) - 1
        return orig[k] + pos - norm[k]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the normalised span ``[start, end)`` (``end > start``)."""
        return self.to_original(start), self.to_original(end - 1) + 1

    def _map(self) -> tuple[list[int], list[int]]:
        """Breakpoints (normalised position, original position); built only when a mention needs them."""
        norm, orig = [0], [self.start]
        shift = 0  # normalised length minus original length so far
        for m in _ODD_SPACE.finditer(self.original, self.start, self.end):
            shift += len(_collapse(m)) - (m.end() - m.start())
            norm.append(m.end() - self.start + shift)
            orig.append(m.end())
        return norm, orig


def _collapse(match: re.Match) -> str:
    return "" if match.group()[0] in "-(" else " "


def paragraphs(text: str) -> list[Block]:
    """Normalised, non-empty paragraphs of ``text`` in order."""
    blocks = []
    pos = 0
    for m in [*_PARAGRAPH_BREAK.finditer(text), None]:
        stop = m.start() if m else len(text)
        chunk = text[pos:stop]
        start = pos + len(chunk) - len(chunk.lstrip())
        stop -= len(chunk) - len(chunk.rstrip())
        if stop > start:
            para = text[start:stop]
            deletion = ("-" in para and _MAYBE_HYPHEN_BREAK.search(para)) or ("(" in para and _MAYBE_GLOSS.search(para))
            norm = _ODD_SPACE.sub(_collapse, para) if deletion else " ".join(para.split())
            blocks.append(Block(norm, text, start, stop))
        if m:
            pos = m.end()
    return blocks


def has_cjk(text: str) -> bool:
    """True when ``text`` contains a Chinese or Japanese character."""
    return _CJK.search(text) is not None


def cjk_language(text: str) -> str | None:
    """"ja" or "zh" when CJK characters outnumber Latin letters in ``text``, else None."""
    cjk = len(_CJK.findall(text))
    if not cjk or cjk < len(_LATIN.findall(text)):
        return None
    return "ja" if len(_KANA.findall(text)) * 10 >= cjk else "zh"
