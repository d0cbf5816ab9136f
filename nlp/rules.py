"""Linking rules: whether a candidate match of an alias counts, given its context.

``accept`` applies an alias's conditions (context, owner, bare-name rules); ``rescue`` keeps names
that failed only their maritime context but stand next to shipping names. Details and examples:
``docs/nlp.md`` ("Linking and ambiguity").
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc

from nlp.cues import DOC_CUES, SENTENCE_CUES, DocState, cue_spans
from nlp.gazetteer import Alias, Entity
from nlp.text import has_cjk

_PORT_BEFORE = {"port", "ports", "harbour", "harbor", "seaport", "haven", "hafen", "häfen", "puerto", "puertos",
                "porto", "porti", "portos", "港"}
_PORT_AFTER = {"port", "ports", "harbour", "harbor", "seaport", "terminal", "terminals", "港", "港口", "haven", "hafen"}
_NAME_OK_AFTER = _PORT_AFTER | {"authority"}
_PORT_NOUNS = {"container", "containers", "harbour", "harbor", "seaport", "waterfront", "docks", "quay", "quays",
               "berth", "berths", "港区"}
_CITY_SENSE_AFTER_HYPHEN = {"based", "headquartered", "listed", "registered", "born", "area"}
_NAME_OK_BEFORE = _PORT_BEFORE | {
    "the", "in", "at", "of", "from", "to", "and", "or", "via", "near", "between", "like", "including", "such",
    "northern", "southern", "eastern", "western", "greek", "dutch", "belgian", "german", "spanish", "italian",
    "french", "portuguese", "polish", "latvian", "chinese", "japanese", "korean", "american", "european",
    "british", "israeli", "peruvian", "pakistani", "emirati", "malaysian", "thai", "taiwanese", "singaporean",
}
_OWN_OWNERS = {"china", "chinese", "beijing", "prc", "us", "u.s.", "usa", "america", "american", "federal", "washington",
               "united", "people's"}
_FUNCTION_WORDS = {"the", "a", "an", "its", "their", "this", "that", "and", "or", "of", "in", "by", "from", "with", "to",
                   "el", "la", "los", "las", "le", "les", "der", "die", "das", "des", "dem", "den", "de", "het", "een",
                   "un", "une", "una", "del", "du", "au", "aux", "im", "vom", "zum", "ein", "eine"}
_DRY_PORT = {"dry", "seco", "sec", "secco", "droge"}  # "puerto seco en Zaragoza": an inland depot
_COORDINATION = {",", "and", "und", "et", "y", "e", "en", "or", "oder", "ou", "o", "&", "/", "、", "和", "与", "與", "及"}
DEFER = "defer"  # _accept's verdict for a name that failed only its maritime context
_PERSON_TITLES = {"mr", "mr.", "mrs", "mrs.", "ms", "ms.", "dr", "dr.", "sen.", "rep.", "senator", "representative",
                  "congressman", "congresswoman", "president", "minister", "mayor", "governor", "judge"}




@dataclass
class Candidate:
    """A match of an alias: token indices ``[start, end)`` in the paragraph's doc."""

    start: int
    end: int
    alias: Alias


def accept(alias: Alias, doc: Doc, start: int, end: int, state: DocState) -> bool | str:
    """True when the alias's conditions hold; DEFER when only its maritime context is missing."""
    if alias.bare and not plain_name(doc, start, end, state, alias.entity.startswith("port:")):
        return False
    ctx = alias.context
    if ctx is None:
        return True
    if ctx in ("china", "us") and other_owner(doc, start, end, state):
        return False
    if ctx == "us" and end - start > 1:  # names ("Coast Guard"), not acronyms or bare words ("DOT", "Senate")
        return state.has_doc_context("us_default")
    if ctx in DOC_CUES:
        return state.has_doc_context(ctx)
    if ctx == "anchor":
        before = {t.lower_ for t in doc[max(0, start - 3) : start]}
        if before & _DRY_PORT:
            return False
        return bool(before & _PORT_BEFORE) or (end < len(doc) and doc[end].lower_ in _PORT_AFTER)
    s_start, s_end = state.sentences_of(doc).chars(start, end)
    key = (ctx, id(doc), s_start)
    if key not in state.cues:
        state.cues[key] = cue_spans(state.lowered(), s_start, s_end, SENTENCE_CUES[ctx])
    lo, hi = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
    if any(e <= lo or s >= hi for s, e in state.cues[key]):
        return True
    return DEFER if ctx == "maritime" else False


def rescue(doc: Doc, accepted: list[Candidate], deferred: list[Candidate], state: DocState,
       entities: dict[str, Entity]) -> list[Candidate]:
    """Names that failed only their maritime context but stand next to shipping names.

    A company acronym counts when its sentence names a port or a carrier ("Maersk und MSC
    beenden ihre Allianz"); a port name counts when coordinated with a port ("in Bremerhaven
    und Hamburg"), also in a chain ("Rotterdam, Hamburg and Antwerp").
    """
    sents = state.sentences_of(doc)
    ents = entities

    def kind(c: Candidate) -> str:
        ent = ents.get(c.alias.entity)
        if ent is None:
            return ""
        return "port" if ent.type == "PORT" else "carrier" if "scac" in ent.external_ids else ""

    shipping = {sents.chars(c.start, c.end)[0] for c in accepted if kind(c)}
    ports = [c for c in accepted if kind(c) == "port"]
    rescued = []
    for c in deferred:
        if kind(c) != "port" and sents.chars(c.start, c.end)[0] in shipping:
            rescued.append(c)
    pending = [c for c in deferred if kind(c) == "port"]
    while pending:
        joined = [c for c in pending if any(coordinated(doc, c, p) for p in ports)]
        if not joined:
            break
        rescued += joined
        ports += joined
        pending = [c for c in pending if c not in joined]
    return rescued


def other_owner(doc: Doc, start: int, end: int, state: DocState) -> bool:
    """Whether a generic name ("Ministry of Transport", "Department of Transportation") belongs to someone
    else: "Malaysia's ...", "Texas ...", "... of Malaysia" (the Chinese and US forms are aliases of their own)."""
    if start > 0 and not state.sentences_of(doc).is_start(start):
        prev = doc[start - 1]
        if prev.lower_ in ("'s", "\u2019s") and start > 1:
            prev = doc[start - 2]
            if prev.text[:1].isupper() and prev.lower_ not in _OWN_OWNERS:
                return True
        elif prev.is_alpha and prev.text[:1].isupper() and prev.lower_ not in _OWN_OWNERS | _FUNCTION_WORDS:
            return True
    if end + 1 < len(doc) and doc[end].lower_ == "of":
        nxt = doc[end + 1]
        return nxt.is_alpha and nxt.text[:1].isupper() and nxt.lower_ not in _OWN_OWNERS | {"the"}
    return False


def coordinated(doc: Doc, a: Candidate, b: Candidate) -> bool:
    """Whether two matches are joined by a comma or a conjunction ("Bremerhaven und Hamburg")."""
    first, second = (a, b) if a.start < b.start else (b, a)
    between = doc[first.end : second.start]
    return 1 <= len(between) <= 2 and all(t.lower_ in _COORDINATION for t in between)


def plain_name(doc: Doc, start: int, end: int, state: DocState, place: bool) -> bool:
    """False when a bare name is part of a longer proper name ("Tom Cotton", "Valencia CF") or, for a
    ``place``, used in its city sense ("Hong Kong-based", "Singapore's PSA"). A line break in the
    original text separates names ("to the Commission\\nRule 144")."""
    first = doc[start]
    if has_cjk(first.text):
        return True  # CJK names: no capitalisation to go by
    if start > 0 and not state.sentences_of(doc).is_start(start):
        prev = doc[start - 1]
        if prev.lower_ in _PERSON_TITLES:
            return False
        if (prev.is_alpha and prev.text[:1].isupper() and prev.lower_ not in _NAME_OK_BEFORE
                and not state.line_break_between(prev.idx + len(prev), first.idx)):
            return False
    if end < len(doc):
        last, nxt, after = doc[end - 1], doc[end], doc[end + 1].lower_ if end + 1 < len(doc) else ""
        if (nxt.is_alpha and nxt.text[:1].isupper() and nxt.lower_ not in _NAME_OK_AFTER
                and not state.line_break_between(last.idx + len(last), nxt.idx)):
            return False
        if place and nxt.text in ("-", "\u2013") and after in _CITY_SENSE_AFTER_HYPHEN:
            return False  # "Hong Kong-based OOCL": the city
        if place and nxt.lower_ in ("'s", "\u2019s") and after not in _PORT_AFTER | _PORT_NOUNS:
            return False  # "Singapore's PSA", "Hamburg's HHLA"; but "Rotterdam's port" stays
    return True
