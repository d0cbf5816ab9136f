"""The annotator: language id, spaCy tokenisation, gazetteer matching, entity linking, stance.

One blank spaCy pipeline per language (tokenizer only; Chinese and Japanese use a rule-based
tokenizer that makes every CJK character a token and keeps Latin words whole), with two
PhraseMatchers built from the gazetteer: case-sensitive (acronyms, place names) and
case-insensitive (long names). Candidate matches pass their alias's context rule, then the longest
non-overlapping ones win. Paragraphs are matched on whitespace-normalised text, and offsets are
mapped back to the original. Contract: ``docs/ARCHITECTURE.md``; details: ``docs/nlp.md``.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Iterable, Iterator

import spacy
from spacy.attrs import LOWER, ORTH
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.strings import hash_string
from spacy.tokens import Doc
from spacy.util import compile_infix_regex

from nlp.gazetteer import Alias, Gazetteer, entity_rows, load_gazetteer
from nlp.langid import SUPPORTED, detect
from nlp.text import CJK_CHARS, CJK_FOLD, CJK_PUNCT, Block, cjk_language, fold_cjk, has_cjk, paragraphs

log = logging.getLogger(__name__)

try:
    from nlp import stance as _stance
except Exception as exc:  # noqa: BLE001 - the stance module is optional and owned elsewhere
    log.warning("stance disabled: %s", exc)
    _stance = None

DEFAULT_TOPICS: dict[str, dict] = {
    "logink": {
        "entities": ["platform:logink", "platform:neal-net", "law:us-hr-1724-118", "law:us-s-939-118",
                     "law:us-hr-6228-118", "law:us-hr-8431-117", "law:46-usc-50309"],
        "terms": ["LOGINK"],
    }
}
DOC_BATCH = 64
VOCAB_GROWTH = 300_000  # new strings a language model may accumulate before it is rebuilt
STANCE_MARGIN = 400  # characters handed to make_window on each side of a mention (its window: <= 320)
_CJK_INFIX = f"[{CJK_CHARS}{CJK_PUNCT}]"
_HYPHEN_INFIX = r"(?<=[^\W\d_])[-\u2010\u2011\u2013](?=[^\W\d_])"
_WORDS_ONLY = re.compile(r"^[^\W\d_]+(?: [^\W\d_]+)*$")
_FULL_WIDTH = re.compile("[\uff00-\uffef]")
_SENT_PUNCT = [".", "!", "?", "。", "！", "？", "｡", "．", "!?", "?!", "..."]
_FINAL_HASHES = frozenset(hash_string(p) for p in _SENT_PUNCT)

# Context cues: (text, mode) with mode 0 = anywhere (compounds: "Containerhafen"), 1 = whole word,
# 2 = word start ("Chin" -> China, chinois, chinesisch). Sentence cues are matched on lower-cased
# text, document cues as written. Plain str.find scans: an order of magnitude faster than one regex.
_SENTENCE_CUES: dict[str, tuple[tuple[str, int], ...]] = {
    "maritime": tuple(
        [(w, 1) for w in ("port", "ports", "ship", "ships", "berth", "berths", "quay", "quays", "carrier", "carriers",
                          "freight", "liner", "liners", "teu", "teus", "dock", "docks", "docked", "porto", "porti",
                          "portos", "navi", "nave", "portu", "portów", "statek", "statki", "haven", "havens")]
        + [(w, 0) for w in ("seaport", "harbour", "harbor", "terminal", "shipping", "vessel", "container", "maritime",
                            "cargo", "hafen", "häfen", "schiff", "reeder", "frachter", "puerto", "contenedor",
                            "conteneur", "portuari", "portuale", "portuaire", "marítim", "marittim", "maritiem", "zeehaven", "havenbedrijf", "scheepvaart",
                            "rederij", "navire", "armateur", "buque", "navier", "żeglug", "morsk", "港", "码头", "碼頭",
                            "航运", "航運", "集装箱", "貨櫃", "货柜", "船", "コンテナ", "海運", "埠頭")]),
    "china": tuple([(w, 2) for w in ("chin", "beijing", "peking", "communist", "kommunist", "comunist")]
                   + [(w, 1) for w in ("prc", "ccp", "cpc")]
                   + [(w, 0) for w in ("people's republic", "中国", "中國", "中共", "北京", "中华", "中華")]),
    "logink_zh": (("国家", 0), ("國家", 0), ("交通运输", 0), ("交通運輸", 0), ("logink", 0)),
}
_SENTENCE_CUES["china"] += (("logink", 0),)  # the platform is Chinese: "the Foreign Ministry defended LOGINK"
_DOC_CUES: dict[str, tuple[tuple[str, int], ...]] = {
    "eu": (("Europ", 0), ("europ", 0), ("EU", 1), ("E.U.", 1), ("UE", 1), ("Brussels", 1), ("Bruxelles", 1),
           ("Brüssel", 1), ("Bruselas", 1), ("Brussel", 1), ("Member State", 2), ("États membres", 1),
           ("Estados miembros", 1), ("Mitgliedstaat", 2), ("lidstaten", 1), ("MEP", 2),
           ("欧盟", 0), ("歐盟", 0), ("欧洲", 0), ("歐洲", 0)),
    "us": (("US", 1), ("USA", 1), ("U.S.", 2), ("United States", 1), ("America", 2), ("Washington", 1),
           ("Senator", 1), ("Rep.", 1), ("Pentagon", 1), ("美国", 0), ("美國", 0), ("米国", 0), ("アメリカ", 0),
           ("Vereinigte", 2), ("États-Unis", 1), ("Etats-Unis", 1), ("Estados Unidos", 1), ("EE. UU.", 1),
           ("EE.UU.", 1), ("EEUU", 1), ("Verenigde Staten", 1), ("Amerika", 2), ("amerikan", 2), ("américain", 2),
           ("estadounidense", 2), ("Amerikaan", 2)),
    # other jurisdictions with a Senate, a Coast Guard or a Department of Transportation of their own
    "other": (("Australia", 2), ("Canberra", 1), ("Canad", 2), ("Ottawa", 1), ("UK", 1), ("U.K.", 1), ("Britain", 1),
              ("British", 1), ("Westminster", 1), ("Parliament", 1), ("Philippin", 2), ("India", 2), ("Ireland", 1),
              ("Irish", 1), ("New Zealand", 1), ("Nigeria", 2), ("Kenya", 2), ("Pakistan", 2), ("Malaysia", 2),
              ("Singapore", 1), ("Sri Lanka", 1), ("Jamaica", 2)),
    "cn": (("Chin", 2), ("chin", 2), ("Beijing", 1), ("Peking", 2), ("Pékin", 1), ("Pekín", 1), ("PRC", 1),
           ("Xi Jinping", 1), ("LOGINK", 0), ("Logink", 0), ("中国", 0), ("中國", 0), ("中共", 0), ("北京", 0)),
}
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
_DEFER = "defer"  # _accept's verdict for a name that failed only its maritime context
_PERSON_TITLES = {"mr", "mr.", "mrs", "mrs.", "ms", "ms.", "dr", "dr.", "sen.", "rep.", "senator", "representative",
                  "congressman", "congresswoman", "president", "minister", "mayor", "governor", "judge"}


@dataclass
class _LangModel:
    """A language's spaCy pipeline (a blank tokenizer)."""

    nlp: Language
    base_strings: int  # vocabulary size after building: growth beyond VOCAB_GROWTH triggers a rebuild


def _blank(lang: str, cjk: bool = False) -> Language:
    """A blank pipeline whose tokenizer also splits hyphenated words and, with ``cjk``, CJK characters.

    The "cjk" pipeline (rule-based ``xx`` tokenizer + CJK splitting) serves Chinese, Japanese and
    any paragraph containing CJK characters; the CJK rule is left out of the other tokenizers,
    where it would slow down every cache miss.
    """
    try:
        nlp = spacy.blank("xx" if lang == "cjk" else lang)
    except (ImportError, OSError, KeyError):
        nlp = spacy.blank("xx")
    infixes = [*nlp.Defaults.infixes, _HYPHEN_INFIX, *([_CJK_INFIX] if cjk or lang == "cjk" else [])]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    if cjk or lang == "cjk":  # LOWER also folds traditional / shinjitai characters (computed once per lexeme)
        nlp.vocab.lex_attr_getters[LOWER] = _lower_folded
    return nlp


def _lower_folded(text: str) -> str:
    return text.lower().translate(CJK_FOLD)


@lru_cache(maxsize=1)
def _base_nlp() -> Language:
    """The pipeline that tokenizes patterns; it never annotates, so its vocabulary stays small."""
    return _blank("en", cjk=True)


class _Patterns:
    """PhraseMatchers (case-sensitive and lower-case) for surface forms, shared by every language.

    Matching compares string hashes, which do not depend on a pipeline's vocabulary, so one pair
    of matchers serves all languages. Forms made only of words are added as they are; forms with
    punctuation or CJK characters are also tokenized by each language's tokenizer the first time
    that language is used, and added again where its tokens differ ("port d'Anvers" in French).
    """

    def __init__(self, forms: list[tuple[str, tuple[str, bool]]]) -> None:
        base = _base_nlp()
        self.vocab = base.vocab
        self.keys: dict[int, tuple[str, bool]] = {}
        self.matchers = {case: PhraseMatcher(base.vocab, attr="ORTH" if case else "LOWER") for case in (True, False)}
        simple = [(t, k) for t, k in forms if _is_simple(t)]
        self._other = [(t, k) for t, k in forms if not _is_simple(t)]
        for text, key in simple:
            self._add(key, Doc(base.vocab, words=text.split()))
        self._tokens: list[tuple[str, ...]] = []
        for (_, key), doc in zip(self._other, base.tokenizer.pipe([t for t, _ in self._other], batch_size=1000)):
            self._add(key, doc)
            self._tokens.append(tuple(t.text for t in doc))
        self._languages: set[str] = set()

    def _add(self, key: tuple[str, bool], doc: Doc) -> None:
        name = f"{int(key[1])}|{key[0]}"
        self.keys[self.vocab.strings.add(name)] = key
        self.matchers[key[1]].add(name, [doc])

    def extend(self, lang: str, nlp: Language) -> None:
        """Add ``lang``'s own tokenisation of the punctuated forms (once per language)."""
        if lang in self._languages:
            return
        self._languages.add(lang)
        docs = nlp.tokenizer.pipe([t for t, _ in self._other], batch_size=1000)
        for (_, key), tokens, doc in zip(self._other, self._tokens, docs):
            if tuple(t.text for t in doc) != tokens:
                self._add(key, doc)

    def __call__(self, doc: Doc) -> Iterator[tuple[tuple[str, bool], int, int]]:
        """(surface key, start token, end token) of every match."""
        for matcher in self.matchers.values():
            for match_id, start, end in matcher(doc):
                yield self.keys[match_id], start, end


def _is_simple(form: str) -> bool:
    """Words only, none of them CJK or full-width ("ＬＯＧＩＮＫ" is one character per token in text)."""
    return bool(_WORDS_ONLY.match(form)) and not has_cjk(form) and not _FULL_WIDTH.search(form)


@lru_cache(maxsize=1)
def _gazetteer_patterns() -> _Patterns:
    return _Patterns([(form, key) for key, form in load_gazetteer().forms.items()])


_MODELS: dict[str, _LangModel] = {}


def _model_key(lang: str) -> str:
    """Which pipeline tokenizes ``lang`` ("cjk" for zh, ja and paragraphs containing CJK characters)."""
    return "cjk" if lang in ("zh", "ja", "cjk") else lang


def _lang_model(lang: str) -> _LangModel:
    """The pipeline for ``lang`` (built on first use; Chinese and Japanese share one tokenizer)."""
    key = _model_key(lang)
    if key not in _MODELS:
        nlp = _blank(key)
        _gazetteer_patterns().extend(key, nlp)
        _MODELS[key] = _LangModel(nlp, len(nlp.vocab.strings))
    return _MODELS[key]


def _recycle_if_grown(lang: str) -> None:
    """Drop a model whose vocabulary grew by VOCAB_GROWTH strings: keeps memory bounded on a stream.

    (spaCy's memory zones would also bound it, but they disable the tokenizer cache: 3-4x slower.)
    """
    key = _model_key(lang)
    model = _MODELS.get(key)
    if model and len(model.nlp.vocab.strings) > model.base_strings + VOCAB_GROWTH:
        del _MODELS[key]


@lru_cache(maxsize=1)
def _stance_model():
    return _stance.StanceModel.load_default() if _stance else None


class _Sentences:
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


@dataclass
class _Candidate:
    start: int  # token indices in the spaCy doc
    end: int
    alias: Alias


class _DocState:
    """Per-document caches: document contexts and sentence cue positions."""

    def __init__(self, text: str, lang: str = "") -> None:
        self.text = text
        self.lang = lang
        self.doc_context: dict[str, bool] = {}
        self.cue_counts: dict[str, int] = {}
        self.cues: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
        self.sentences: _Sentences | None = None  # of the spaCy doc being matched
        self.block: Block | None = None  # the paragraph of that doc
        self.block_text = ""  # its text
        self._lowered: str | None = None

    def start_block(self, block: Block) -> None:
        self.sentences, self.block, self.block_text, self._lowered = None, block, block.text, None

    def line_break_between(self, end: int, start: int) -> bool:
        """Whether the original text has a line break between two normalised positions of the block."""
        if start <= end:
            return False
        return "\n" in self.text[self.block.to_original(end - 1) + 1 : self.block.to_original(start)]

    def lowered(self) -> str:
        """The block text in lower case, position for position."""
        if self._lowered is None:
            low = self.block_text.lower()
            self._lowered = low if len(low) == len(self.block_text) else "".join(c.lower()[:1] for c in self.block_text)
        return self._lowered

    def sentences_of(self, doc: Doc) -> _Sentences:
        if self.sentences is None or self.sentences.doc is not doc:
            self.sentences = _Sentences(doc)
        return self.sentences

    def has_doc_context(self, name: str) -> bool:
        """Document context ``name``: "us" = the United States is mentioned; "us_default" = that, or the
        document is English and names neither the EU nor another English-speaking jurisdiction (a bill
        or an American news item rarely says "U.S." before "the Coast Guard"); "eu" = the EU more often
        than the US; "cn" = China is mentioned."""
        if name not in self.doc_context:
            count = self._cue_count
            if name == "eu":
                value = count("eu") > count("us")
            elif name == "us_default":
                value = count("us") > 0 or (self.lang == "en" and count("eu") == 0 and count("other") == 0)
            else:
                value = count(name) > 0
            self.doc_context[name] = value
        return self.doc_context[name]

    def _cue_count(self, group: str) -> int:
        """How often the document cues of ``group`` occur (each group scanned once, when first needed)."""
        if group not in self.cue_counts:
            self.cue_counts[group] = len(_cue_spans(self.text, 0, len(self.text), _DOC_CUES[group]))
        return self.cue_counts[group]


class Annotator:
    """Annotates documents with linked entity mentions, per-mention stance and per-topic stance."""

    def __init__(self, topics: dict[str, dict] | None = None) -> None:
        self.gazetteer: Gazetteer = load_gazetteer()
        self.topics = DEFAULT_TOPICS if topics is None else topics
        self._stance = _stance_model()
        self._topic_of: dict[str, str] = {}
        self._term_surfaces: dict[tuple[str, bool], list[Alias]] = {}
        self._term_forms: dict[str, tuple[str, bool]] = {}
        for name, spec in self.topics.items():
            for eid in spec.get("entities", []):
                if eid not in self.gazetteer.entities:
                    log.warning("topic %s: unknown entity id %s (not in the gazetteer)", name, eid)
                self._topic_of.setdefault(eid, name)
            for term in spec.get("terms", []):
                self._add_term(name, term)
        self._terms = _Patterns([(t, k) for t, k in self._term_forms.items()]) if self._term_forms else None
        self._relevance = self._relevance_patterns()

    # --- configuration -------------------------------------------------------------------------

    def _add_term(self, topic: str, term: str) -> None:
        term = " ".join(term.split())
        linked = self.gazetteer.surfaces.get((term, True)) or self.gazetteer.surfaces.get((term.lower(), False))
        if linked:
            self._topic_of.setdefault(linked[0].entity, topic)
            return
        key = (term.lower(), False)
        self._term_surfaces.setdefault(key, []).append(Alias(f"topic:{topic}"))
        self._term_forms[term] = key

    def _relevance_patterns(self) -> list[re.Pattern]:
        exact, folded = set(), set(self._term_forms)
        wanted = set(self._topic_of)
        for key, aliases in self.gazetteer.surfaces.items():
            if any(a.entity in wanted for a in aliases):
                form = self.gazetteer.forms[key]
                (exact if key[1] else folded).add(form)
                if has_cjk(form):
                    folded.add(fold_cjk(form))
        return [p for p in (_compile_any(exact, 0), _compile_any(folded, re.IGNORECASE)) if p is not None]

    @property
    def model_version(self) -> str:
        """Gazetteer version + stance model version, stored on every mention."""
        stance = self._stance.version.removeprefix("stance-") if self._stance else "none"
        return f"gaz-{self.gazetteer.version[:8]}+stance-{stance}"

    def entity_rows(self) -> Iterator[dict]:
        """Rows for the ``entities`` table: the gazetteer plus one TOPIC row per configured topic."""
        yield from entity_rows(self.gazetteer)
        for name, spec in self.topics.items():
            yield {"id": f"topic:{name}", "name": name, "type": "TOPIC", "country": None,
                   "aliases": list(spec.get("terms", [])), "external_ids": {}, "parent": None}

    def is_relevant(self, text: str) -> bool:
        """True when ``text`` names a topic entity or term (a fast, slightly generous pre-filter)."""
        if any(p.search(text) for p in self._relevance):
            return True
        return has_cjk(text) and any(p.search(fold_cjk(text)) for p in self._relevance)

    # --- annotation --------------------------------------------------------------------------------

    def annotate(self, text: str, lang: str | None = None) -> dict:
        """The DESIGN.md annotation object for one document (without ``id``)."""
        result = next(self.annotate_many([(None, text, lang)]))
        del result["id"]
        return result

    def annotate_many(self, items: Iterable[tuple]) -> Iterator[dict]:
        """Annotate ``(id, text[, lang])`` tuples in batches; yields one object per item, in order."""
        it = iter(items)
        while batch := list(islice(it, DOC_BATCH)):
            yield from self._annotate_batch([(item[0], item[1] or "", item[2] if len(item) > 2 else None)
                                             for item in batch])

    def _annotate_batch(self, batch: list[tuple]) -> list[dict]:
        plans = [self._plan(text, lang) for _, text, lang in batch]
        by_lang: dict[str, list[tuple[int, Block]]] = {}
        for i, (_, blocks) in enumerate(plans):
            for block_lang, block in blocks:
                by_lang.setdefault(block_lang, []).append((i, block))
        states = [_DocState(text, plan[0]) for (_, text, _), plan in zip(batch, plans)]
        mentions: list[list[dict]] = [[] for _ in batch]
        for lang, blocks in by_lang.items():
            nlp = _lang_model(lang).nlp
            if self._terms:
                self._terms.extend(_model_key(lang), nlp)
            docs = nlp.tokenizer.pipe((block.text for _, block in blocks), batch_size=256)  # no components
            for (i, block), doc in zip(blocks, docs):
                mentions[i] += self._mentions(doc, block, states[i])
            _recycle_if_grown(lang)
        self._add_stance(batch, mentions)
        return [self._result(doc_id, plan[0], found) for (doc_id, _, _), plan, found in zip(batch, plans, mentions)]

    def _plan(self, text: str, lang: str | None) -> tuple[str, list[tuple[str, Block]]]:
        lang = lang.lower().replace("_", "-").split("-")[0] if lang else None  # "EN", "zh-Hant", "pt_BR"
        doc_lang = lang if lang in SUPPORTED else detect(text)
        blocks = paragraphs(text)
        if doc_lang in ("zh", "ja"):
            planned = [(cjk_language(b.text) or (detect(b.text) if b.text.isascii() else doc_lang), b) for b in blocks]
        elif has_cjk(text):
            planned = [(cjk_language(b.text) or doc_lang, b) for b in blocks]
        else:
            return doc_lang, [(doc_lang, b) for b in blocks]
        return doc_lang, [("cjk" if has_cjk(b.text) else lang_, b) for lang_, b in planned]

    # --- matching ------------------------------------------------------------------------------------

    def _mentions(self, doc: Doc, block: Block, state: _DocState) -> list[dict]:
        candidates: list[_Candidate] = []
        sources = [(_gazetteer_patterns(), self.gazetteer.surfaces)]
        if self._terms:
            sources.append((self._terms, self._term_surfaces))
        deferred: list[_Candidate] = []
        state.start_block(block)
        for patterns, surfaces in sources:
            for key, start, end in patterns(doc):
                first_deferred = None
                for alias in surfaces[key]:
                    verdict = self._accept(alias, doc, start, end, state)
                    if verdict is True:
                        candidates.append(_Candidate(start, end, alias))
                        break
                    if verdict == _DEFER and first_deferred is None:
                        first_deferred = _Candidate(start, end, alias)
                else:
                    if first_deferred:
                        deferred.append(first_deferred)
        if deferred:
            candidates += self._rescue(doc, candidates, deferred, state)
        taken: set[int] = set()
        out = []
        for c in sorted(candidates, key=lambda c: (c.start - c.end, c.alias.rank, c.start)):
            if taken.isdisjoint(range(c.start, c.end)):
                taken.update(range(c.start, c.end))
                out.append(self._mention(doc, block, c, state))
        return sorted(out, key=lambda m: m["start"])

    def _rescue(self, doc: Doc, accepted: list[_Candidate], deferred: list[_Candidate],
                state: _DocState) -> list[_Candidate]:
        """Names that failed only their maritime context but stand next to shipping names.

        A company acronym counts when its sentence names a port or a carrier ("Maersk und MSC
        beenden ihre Allianz"); a port name counts when coordinated with a port ("in Bremerhaven
        und Hamburg"), also in a chain ("Rotterdam, Hamburg and Antwerp").
        """
        sents = state.sentences_of(doc)
        ents = self.gazetteer.entities

        def kind(c: _Candidate) -> str:
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
            joined = [c for c in pending if any(_coordinated(doc, c, p) for p in ports)]
            if not joined:
                break
            rescued += joined
            ports += joined
            pending = [c for c in pending if c not in joined]
        return rescued

    def _accept(self, alias: Alias, doc: Doc, start: int, end: int, state: _DocState) -> bool | str:
        """True when the alias's conditions hold; _DEFER when only its maritime context is missing."""
        if alias.bare and not _plain_name(doc, start, end, state, alias.entity.startswith("port:")):
            return False
        ctx = alias.context
        if ctx is None:
            return True
        if ctx in ("china", "us") and _other_owner(doc, start, end, state):
            return False
        if ctx == "us" and end - start > 1:  # names ("Coast Guard"), not acronyms or bare words ("DOT", "Senate")
            return state.has_doc_context("us_default")
        if ctx in _DOC_CUES:
            return state.has_doc_context(ctx)
        if ctx == "anchor":
            before = {t.lower_ for t in doc[max(0, start - 3) : start]}
            if before & _DRY_PORT:
                return False
            return bool(before & _PORT_BEFORE) or (end < len(doc) and doc[end].lower_ in _PORT_AFTER)
        s_start, s_end = state.sentences_of(doc).chars(start, end)
        key = (ctx, id(doc), s_start)
        if key not in state.cues:
            state.cues[key] = _cue_spans(state.lowered(), s_start, s_end, _SENTENCE_CUES[ctx])
        lo, hi = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
        if any(e <= lo or s >= hi for s, e in state.cues[key]):
            return True
        return _DEFER if ctx == "maritime" else False

    def _mention(self, doc: Doc, block: Block, c: _Candidate, state: _DocState) -> dict:
        original = state.text
        last = doc[c.end - 1]
        start, end = block.span(doc[c.start].idx, last.idx + len(last))
        sent_start, sent_end = block.span(*state.sentences_of(doc).chars(c.start, c.end))
        entity = c.alias.entity
        ent = self.gazetteer.entities.get(entity)
        topic = entity.split(":", 1)[1] if entity.startswith("topic:") else self._topic_of.get(entity)
        return {"entity": entity, "name": ent.name if ent else topic, "type": ent.type if ent else "TOPIC",
                "text": original[start:end], "start": start, "end": end,
                "sentence": original[sent_start:sent_end].strip(), "topic": topic,
                "stance": None, "stance_score": None}

    # --- stance and output -----------------------------------------------------------------------------

    def _add_stance(self, batch: list[tuple], mentions: list[list[dict]]) -> None:
        """Classify every topic mention of the batch in one ``predict`` call.

        Mentions of the same entity in the same sentence share the first one's window: the stance
        labels are defined per sentence and target (``nlp/stance_data/GUIDELINE.md``).
        """
        if not self._stance:
            return
        groups: dict[tuple, list[dict]] = {}
        windows: dict[tuple, str] = {}
        for i, ((_, text, _), found) in enumerate(zip(batch, mentions)):
            for m in found:
                if m["topic"]:
                    key = (i, m["sentence"], m["entity"])
                    if key not in groups:
                        windows[key] = _stance_window(text, m["start"], m["end"])
                    groups.setdefault(key, []).append(m)
        unique = list(dict.fromkeys(windows.values()))  # boilerplate repeats: classify each window once
        predicted = dict(zip(unique, self._stance.predict(unique))) if unique else {}
        for key, group in groups.items():
            label, score = predicted[windows[key]]
            for m in group:
                m["stance"], m["stance_score"] = label, round(float(score), 4)

    def _result(self, doc_id, lang: str, mentions: list[dict]) -> dict:
        entities: dict[str, dict] = {}
        for m in mentions:
            row = entities.setdefault(m["entity"], {"id": m["entity"], "name": m["name"], "type": m["type"], "count": 0})
            row["count"] += 1
        topics = []
        for name in self.topics:
            found = [m for m in mentions if m["topic"] == name]
            if not found:
                topics.append({"topic": name, "stance": "none", "score": 0.0, "mentions": 0})
            elif self._stance:
                label, score = _stance.aggregate([(m["stance"], m["stance_score"]) for m in found])
                topics.append({"topic": name, "stance": label, "score": round(float(score), 4), "mentions": len(found)})
            else:
                topics.append({"topic": name, "stance": None, "score": None, "mentions": len(found)})
        return {"id": doc_id, "lang": lang, "model_version": self.model_version,
                "entities": sorted(entities.values(), key=lambda e: -e["count"]),
                "mentions": mentions, "topics": topics}


def _cue_spans(text: str, start: int, end: int, cues: tuple[tuple[str, int], ...]) -> list[tuple[int, int]]:
    """Spans of ``cues`` in ``text[start:end]``."""
    spans = []
    for cue, mode in cues:
        i = text.find(cue, start, end)
        while i >= 0:
            j = i + len(cue)
            word_ok = mode == 0 or ((i == 0 or not text[i - 1].isalnum())
                                    and (mode == 2 or j >= len(text) or not text[j].isalnum()))
            if word_ok and not (cue == "港" and text[i - 1 : i] == "香"):  # 香港 is Hong Kong, not a harbour
                spans.append((i, j))
            i = text.find(cue, j, end)
    return spans


def _stance_window(text: str, start: int, end: int) -> str:
    """The stance window, cut from a bounded excerpt (so a long document costs no more per mention)."""
    lo, hi = max(0, start - STANCE_MARGIN), min(len(text), end + STANCE_MARGIN)
    return _stance.make_window(text[lo:hi], start - lo, end - lo)


def _other_owner(doc: Doc, start: int, end: int, state: _DocState) -> bool:
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


def _coordinated(doc: Doc, a: _Candidate, b: _Candidate) -> bool:
    """Whether two matches are joined by a comma or a conjunction ("Bremerhaven und Hamburg")."""
    first, second = (a, b) if a.start < b.start else (b, a)
    between = doc[first.end : second.start]
    return 1 <= len(between) <= 2 and all(t.lower_ in _COORDINATION for t in between)


def _plain_name(doc: Doc, start: int, end: int, state: _DocState, place: bool) -> bool:
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


def _compile_any(forms: set[str], flags: int) -> re.Pattern | None:
    """One regex matching any of ``forms`` (Latin ones on word boundaries, any whitespace inside).

    A CJK character next to a Latin name is a boundary: Chinese and Japanese write "对LOGINK的".
    """
    if not forms:
        return None
    ordered = sorted(forms, key=len, reverse=True)
    alt = {f: r"\s+".join(map(re.escape, f.split())) for f in ordered}
    parts = []
    if latin := [alt[f] for f in ordered if not has_cjk(f)]:
        word = f"[^\\W_{CJK_CHARS}{CJK_PUNCT}]"  # a letter or digit that is not CJK
        parts.append(f"(?<!{word})(?:" + "|".join(latin) + f")(?!{word})")
    if cjk := [alt[f] for f in ordered if has_cjk(f)]:
        parts.append("|".join(cjk))
    return re.compile("|".join(parts), flags)
