"""Linking rules: whether a candidate match of an alias counts, given its context.

``accept`` applies an alias's conditions (context, owner, bare-name rules); ``rescue`` keeps names
that failed only their maritime context but stand next to shipping names. Details and examples:
``docs/nlp.md`` ("Linking and ambiguity").
"""

from __future__ import annotations

import re
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




# A place name used for its city: "the mayor of Rotterdam", "a conference in Hamburg", "born in Antwerp".
_MAYORS = {"mayor", "burgemeester", "bürgermeister", "oberbürgermeister", "alcalde", "alcaldesa", "maire", "sindaco",
           "prefeito", "prezydent"}
_CITY_SENSE_BEFORE = _MAYORS | {"downtown", "visited", "visiting", "residents", "citizens", "suburbs", "outskirts",
                                "stadt", "stad", "ville", "ciudad", "città", "city"}
_CITY_SENSE_HEADS = _MAYORS | {
    "city", "municipality", "conference", "summit", "meeting", "meetings", "forum", "congress", "expo", "fair",
    "exhibition", "held", "hosted", "born", "lives", "lived", "living", "headquartered", "headquarters", "office",
    "offices", "court", "university", "embassy", "consulate", "hotel", "trip", "visit", "flight", "flights", "airport",
    "residents", "streets", "protests", "protest", "rally", "festival", "concert", "election", "elections", "council",
    "gemeente", "stad", "stadt", "ville", "ciudad", "città", "konferenz", "tagung", "conferentie", "conférence",
    "conferencia", "sommet", "gipfel", "cumbre", "studied", "speech", "talks",
}
_CITY_SENSE_LINKS = {"in", "of", "de", "van", "von", "du", "di", "à", "a", "en", "im", "te", "at", "to"}
_CJK_CITY_AFTER = {"市", "县", "縣", "区", "區", "시", "군"}
# Country abbreviations before a CJK name: 英下院 (the House of Commons), 日本众议院, 韩国国会
_CJK_OTHER_OWNERS = {"英", "日", "独", "德", "仏", "法", "韓", "韩", "豪", "澳", "加", "印", "台", "臺", "欧", "歐", "露", "俄",
                     "伊", "蘭", "荷", "比", "西", "葡", "波", "越", "泰", "菲", "日本", "韩国", "韓國", "英国", "英國"}
_CITY_SENSE_AFTER = {"city", "municipality", "mayor", "council", "residents", "citizens", "airport", "university"}
# Head words of longer proper names that contain a place: "Zona Franca de Barcelona", "University of Antwerp".
_INSTITUTION_HEADS = {
    "university", "universidad", "universiteit", "universität", "université", "università", "universitat", "school",
    "college", "institute", "instituto", "institut", "academy", "consortium", "consorcio", "consorci", "franca", "zone",
    "zona", "chamber", "cámara", "cambra", "kamer", "kammer", "bank", "banco", "club", "court", "tribunal", "museum",
    "museo", "hospital", "airport", "aeropuerto", "council", "ayuntamiento", "gemeente", "municipality", "diocese",
    "cathedral", "stadium", "orchestra", "festival", "marathon", "zoo", "gallery", "library", "fc", "cf",
}
_NAME_LINKS = {"de", "la", "del", "of", "the", "di", "van", "von", "du", "des", "der", "d'", "l'", "el"}
# "ROTTERDAM, Dec 3 (Reuters) -", "Hamburg/Bremen (dpa) -": the place of a dateline, not a port call.
_DATELINE_TAIL = re.compile(r"(?:\s*/\s*[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)*)*\s*"
                            r"(?:,\s*(?:[A-Z][a-zäöüéû]{2,9}\.?\s+\d{1,2}(?:,?\s+\d{4})?"
                            r"|\d{1,2}\.?\s+[A-Za-zäöüéû]{3,10}\.?(?:\s+\d{4})?))?\s*"
                            r"(?:\([^()\n]{2,30}\))?\s*[-\u2013\u2014]")
_DATELINE_LEAD = re.compile(r"^\s*(?:[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)*\s*/\s*)+$")  # "Antwerp/" before "Rotterdam"
# After a company name, words that continue the company's own name; any other capitalised word after
# "the COSCO Shipping" / "the MSC" makes a vessel's name ("the COSCO Shipping Aries", "the MSC Irina").
_COMPANY_TAILS = {
    "lines", "line", "group", "holdings", "holding", "ports", "port", "shipping", "logistics", "terminals", "terminal",
    "corporation", "corp", "company", "co", "ltd", "limited", "ag", "sa", "nv", "bv", "inc", "llc", "plc", "gmbh",
    "international", "container", "containers", "agency", "bulk", "tankers", "technologies", "cloud", "network",
    "foundation", "institute", "center", "centre", "chairman", "ceo", "chief", "president", "management", "capital",
    "services", "systems", "solutions", "digital", "express", "navigation", "marine", "maritime", "trading", "europe",
    "asia", "americas", "china", "alliance", "board", "spokesman", "spokeswoman", "spokesperson", "executive",
}
_COMPANY_SUFFIXES = {"group", "holding", "holdings", "company", "co", "co.", "corporation", "corp", "corp.", "ltd", "ltd.",
                     "limited", "inc", "inc.", "ag", "sa", "s.a.", "plc", "gmbh", "bv", "nv", "llc", "development",
                     "investment", "logistics", "international"}
_VESSEL_WORDS = {"vessel", "vessels", "ship", "ships", "containership", "boxship", "freighter", "tanker", "carrier",
                 "mv", "m/v", "aboard", "onboard", "named", "schiff", "containerschip", "navire", "buque"}


@dataclass
class Candidate:
    """A match of an alias: token indices ``[start, end)`` in the paragraph's doc."""

    start: int
    end: int
    alias: Alias


def accept(alias: Alias, doc: Doc, start: int, end: int, state: DocState) -> bool | str:
    """True when the alias's conditions hold; DEFER when only its maritime context (or, in a maritime
    sentence, its adjacent port word) is missing: ``rescue`` may still take it."""
    place = alias.entity.startswith("port:")
    if alias.bare and not plain_name(doc, start, end, state, place):
        return False
    if place and (dateline(doc, start, end, state) or in_institution_name(doc, start, state)
                  or company_after(doc, end)):
        return False
    ctx = alias.context
    if ctx is None:
        return True
    if ctx in ("china", "us") and other_owner(doc, start, end, state):
        return False
    if ctx == "us" and end - start > 1:  # names ("Coast Guard"), not acronyms or bare words ("DOT", "Senate")
        return state.has_doc_context("us_default")
    if ctx == "named":
        return state.names_entity(alias.entity)
    if ctx in DOC_CUES:
        return state.has_doc_context(ctx)
    if ctx == "anchor":
        before = {t.lower_ for t in doc[max(0, start - 3) : start]}
        if before & _DRY_PORT:
            return False
        after = doc[end].lower_ if end < len(doc) else ""
        if after in ("'s", "\u2019s") and end + 1 < len(doc):
            after = doc[end + 1].lower_  # "Moerdijk's port"
        if before & _PORT_BEFORE or after in _PORT_AFTER:
            return True
        # a secondary port in a maritime sentence: counts when listed with a port ("via Vlissingen and Terneuzen")
        return DEFER if place and _sentence_has("maritime", doc, start, end, state) else False
    if _sentence_has(ctx, doc, start, end, state):
        return True
    return DEFER if ctx == "maritime" else False


def _sentence_has(ctx: str, doc: Doc, start: int, end: int, state: DocState) -> bool:
    """Whether the sentence of tokens ``[start, end)`` has a cue of ``ctx`` outside the match."""
    s_start, s_end = state.sentences_of(doc).chars(start, end)
    key = (ctx, id(doc), s_start)
    if key not in state.cues:
        state.cues[key] = cue_spans(state.lowered(), s_start, s_end, SENTENCE_CUES[ctx])
    lo, hi = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
    return any(e <= lo or s >= hi for s, e in state.cues[key])


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
    """Whether a generic name ("Ministry of Transport", "Department of Transportation", 下院) belongs to someone
    else: "Malaysia's ...", "Texas ...", "... of Malaysia", 英下院, 日本众议院 (the Chinese and US forms are
    aliases of their own)."""
    if start > 0 and has_cjk(doc[start].text):
        prev = doc[start - 1].text
        if prev in ("国", "國") and start > 1:
            prev = doc[start - 2].text
        return prev in _CJK_OTHER_OWNERS or doc[max(0, start - 2) : start].text in _CJK_OTHER_OWNERS
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
    if has_cjk(first.text):  # CJK names: no capitalisation to go by; "上海市", "横浜市", "부산시" are cities
        return not (place and end < len(doc) and doc[end].text in _CJK_CITY_AFTER)
    if start > 0 and not state.sentences_of(doc).is_start(start):
        prev = doc[start - 1]
        if prev.lower_ in _PERSON_TITLES:
            return False
        if (prev.is_alpha and prev.text[:1].isupper() and prev.lower_ not in _NAME_OK_BEFORE
                and not state.line_break_between(prev.idx + len(prev), first.idx)):
            return False
        if place and _city_sense_before(doc, start):
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
        if place and nxt.lower_ in _CITY_SENSE_AFTER:
            return False  # "Rotterdam city council"
        if nxt.lower_ == "of" and end + 1 < len(doc) and doc[end + 1].is_alpha and doc[end + 1].text[:1].isupper():
            return False  # "House of Commons", "Senate of Canada": another body's longer name
    return True


def _city_sense_before(doc: Doc, start: int) -> bool:
    """ "mayor of X", "a conference in X", "born in X", "downtown X": the city, not its port."""
    words = [t.lower_ for t in doc[max(0, start - 3) : start] if t.lower_ not in ("the", "a", "an")]
    if words and words[-1] in _CITY_SENSE_BEFORE:
        return True
    return len(words) >= 2 and words[-1] in _CITY_SENSE_LINKS and words[-2] in _CITY_SENSE_HEADS


def in_institution_name(doc: Doc, start: int, state: DocState) -> bool:
    """Whether a place name ends a longer proper name: "Consorci de la Zona Franca de Barcelona",
    "University of Antwerp" (a capitalised head word, then only linking words, before the place)."""
    k = start - 1
    while k >= 0 and start - k <= 4 and doc[k].lower_ in _NAME_LINKS:
        k -= 1
    if k < 0 or k == start - 1:
        return False  # nothing links it to a preceding head word (that case is plain_name's)
    head = doc[k]
    return head.text[:1].isupper() and head.lower_ in _INSTITUTION_HEADS


def dateline(doc: Doc, start: int, end: int, state: DocState) -> bool:
    """Whether a place name opens a news dateline: at the start of a line, followed by an optional
    second place, date and agency, then a dash ("ROTTERDAM, Dec 3 (Reuters) -")."""
    first, last = doc[start], doc[end - 1]
    lead = state.block_text[: first.idx]
    line_start = lead.rfind("\n") + 1 if "\n" in lead else 0
    if lead[line_start:].strip() and not _DATELINE_LEAD.match(lead[line_start:]):
        return False
    return _DATELINE_TAIL.match(state.block_text, last.idx + len(last)) is not None


def company_after(doc: Doc, end: int) -> bool:
    """Whether a port name is the start of a company's name: "Tianjin Port Group", "Dalian [Port] Holdings"."""
    if end + 1 < len(doc) and doc[end].lower_ in ("port", "ports", "harbour", "harbor"):
        end += 1
    return end < len(doc) and doc[end].text[:1].isupper() and doc[end].lower_ in _COMPANY_SUFFIXES


def vessel_name(doc: Doc, start: int, end: int) -> bool:
    """Whether a company name starts a vessel's name: "the COSCO Shipping Aries", "container ship MSC
    Irina" (a capitalised word follows that is not part of a company's name, after "the" or a ship word)."""
    if start == 0 or doc[start - 1].lower_ not in _VESSEL_WORDS | {"the"}:
        return False
    k = end
    while k < len(doc) and doc[k].lower_ in _COMPANY_TAILS and doc[k].text[:1].isupper():
        k += 1  # "the COSCO [Shipping] Aries"
    return k < len(doc) and doc[k].is_alpha and doc[k].text[:1].isupper() and doc[k].lower_ not in _COMPANY_TAILS


def proper_case(form: str, matched: str) -> bool:
    """Whether a case-insensitive match keeps the capitals of a port's name: "Port Said" is not "the port
    said", "Port Louis" not "port louis" (the first word may be lower case: "port of Rotterdam")."""
    form_words, text_words = form.split(), matched.split()
    if len(form_words) != len(text_words) or matched.isupper():
        return True
    return all(not f[:1].isupper() or t[:1].isupper() for f, t in zip(form_words[1:], text_words[1:]))


def shape_ok(entity_type: str | None, form: str | None, case_sensitive: bool, doc: Doc, start: int, end: int) -> bool:
    """Checks on a match's own words: a port's name keeps its capitals (``proper_case``); a company's
    name is not the start of a vessel's name (``vessel_name``)."""
    if entity_type == "PORT" and form and not case_sensitive and not proper_case(form, doc[start:end].text):
        return False
    return not (entity_type == "COMPANY" and vessel_name(doc, start, end))
