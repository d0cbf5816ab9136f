"""Which accepted matches become mentions: longest first, no overlaps, a name and its acronym once.

A full name and its acronym in the same sentence, "the National Transportation and Logistics
Public Information Platform (LOGINK)", "国家交通运输物流公共信息平台（LOGINK）", "LOGINK und die Nationale
...plattform", are one mention: the full name's. So are two names of one entity where the second
stands in brackets right after the first, "ロジンク（国家交通運輸物流公共情報プラットフォーム）", "(Logink)":
the longer one's. Repeating the same name is still two mentions.
"""

from __future__ import annotations

import re

from spacy.tokens import Doc

from nlp.rules import Candidate
from nlp.sentences import Sentences

# Upper-case letters (ASCII or full-width), digits and joiners, without spaces: "LOGINK", "NEAL-NET", "ＬＯＧＩＮＫ"
_ACRONYM = re.compile(r"^(?=.*[A-Z\uff21-\uff3a])[A-Z0-9\uff21-\uff3a\uff10-\uff19&.\-/]{2,12}s?$")
_OPENERS = {"(", "（", "[", "“", '"', "``", "`", "'", "«", "「", "『", "‘"}


def is_acronym(text: str) -> bool:
    """An acronym-like form: "LOGINK", "USCC", "NEAL-NET", "LOGINKs"."""
    return bool(_ACRONYM.match(text))


def select(doc: Doc, candidates: list[Candidate], sentences: Sentences) -> list[Candidate]:
    """The longest non-overlapping candidates (then the better-ranked alias), minus acronyms of names
    given in full in the same sentence; in text order."""
    taken: set[int] = set()
    chosen = []
    for c in sorted(candidates, key=lambda c: (c.start - c.end, c.alias.rank, c.start)):
        if taken.isdisjoint(range(c.start, c.end)):
            taken.update(range(c.start, c.end))
            chosen.append(c)
    chosen.sort(key=lambda c: c.start)
    if len(chosen) < 2:
        return chosen
    dropped: set[int] = set()
    for a, b in zip(chosen, chosen[1:]):  # "Name (Other name)": keep the longer
        between = doc[a.end : b.start]
        if (a.alias.entity == b.alias.entity and 1 <= len(between) <= 3
                and all(t.text in _OPENERS for t in between) and doc[a.start : a.end].text != doc[b.start : b.end].text):
            dropped.add(id(b) if len(doc[b.start : b.end].text) <= len(doc[a.start : a.end].text) else id(a))
    full: set[tuple[int, str]] = set()
    short = []
    for c in chosen:
        key = (sentences.chars(c.start, c.end)[0], c.alias.entity)
        if is_acronym(doc[c.start : c.end].text):
            short.append((key, c))
        else:
            full.add(key)
    dropped |= {id(c) for key, c in short if key in full}
    return [c for c in chosen if id(c) not in dropped]
