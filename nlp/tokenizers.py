"""spaCy tokenizers: one blank pipeline per language, plus the "cjk" tokenizer for CJK text.

Every tokenizer also splits a hyphen between letters ("LOGINK-Plattform"). The "cjk" tokenizer
(the rule-based ``xx`` tokenizer plus one token per CJK character and CJK punctuation mark, Latin
words kept whole) serves Chinese, Japanese, Korean and any paragraph containing CJK characters;
its ``LOWER`` also folds traditional / shinjitai characters to simplified ones (``nlp.text``
``CJK_FOLD``), computed once per lexeme. The CJK rule is left out of the other tokenizers, where
it would slow down every cache miss. The pipelines have no components: only their tokenizers run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from spacy.attrs import LOWER
from spacy.language import Language
from spacy.util import get_lang_class

from nlp.text import CJK_CHARS, CJK_FOLD, CJK_PUNCT

VOCAB_GROWTH = 300_000  # new strings a language pipeline may accumulate before it is rebuilt
CJK_LANGUAGES = ("zh", "ja", "ko", "cjk")
# One token per CJK character and CJK punctuation mark; ASCII brackets and quotes too, which CJK text
# writes without spaces ("플랫폼(LOGINK)": spaCy's prefix rules do not apply between two infixes).
_CJK_INFIX = f"[{CJK_CHARS}{CJK_PUNCT}]|[()\\[\\]{{}}\"\u201c\u201d\u00ab\u00bb]"
_HYPHEN_INFIX = r"(?<=[^\W\d_])[-\u2010\u2011\u2013](?=[^\W\d_])"


@dataclass
class LangModel:
    """A language's blank pipeline and its vocabulary size when built (growth triggers a rebuild)."""

    nlp: Language
    base_strings: int


def blank(lang: str, cjk: bool = False) -> Language:
    """A blank pipeline for ``lang`` ("cjk": the CJK tokenizer; unknown languages: ``xx``)."""
    cjk = cjk or lang == "cjk"
    try:
        nlp = _with_infixes(get_lang_class("xx" if lang == "cjk" else lang), cjk)
    except (ImportError, OSError, KeyError):  # no such language, or one whose tokenizer needs more packages
        nlp = _with_infixes(get_lang_class("xx"), cjk)
    if cjk:
        nlp.vocab.lex_attr_getters[LOWER] = _lower_folded
    return nlp


def _with_infixes(base: type[Language], cjk: bool) -> Language:
    """An instance of ``base`` whose infixes include ours, compiled with spaCy's own (once, ~0.05 s saved)."""

    class Defaults(base.Defaults):
        infixes = [*base.Defaults.infixes, _HYPHEN_INFIX, *([_CJK_INFIX] if cjk else [])]

    return type(base.__name__, (base,), {"Defaults": Defaults})()


def _lower_folded(text: str) -> str:
    return text.lower().translate(CJK_FOLD)


@lru_cache(maxsize=1)
def base_nlp() -> Language:
    """The tokenizer of patterns (the rule-based ``xx`` rules + CJK splitting, built in 0.02 s where an
    English pipeline takes 0.1-0.2 s); it never annotates, so its vocabulary stays small. Each
    language's own tokenisation of a punctuated form is added as well (``nlp.matching``)."""
    return blank("cjk")


_MODELS: dict[str, LangModel] = {}


def model_key(lang: str) -> str:
    """Which pipeline tokenizes ``lang`` ("cjk" for zh, ja, ko and paragraphs containing CJK characters)."""
    return "cjk" if lang in CJK_LANGUAGES else lang


def lang_model(lang: str) -> LangModel:
    """The pipeline for ``lang`` (built on first use)."""
    key = model_key(lang)
    if key not in _MODELS:
        nlp = blank(key)
        _MODELS[key] = LangModel(nlp, len(nlp.vocab.strings))
    return _MODELS[key]


def recycle_if_grown(lang: str) -> None:
    """Drop a pipeline whose vocabulary grew by VOCAB_GROWTH strings: keeps memory bounded on a stream.

    (spaCy's memory zones would also bound it, but they disable the tokenizer cache: 3-4x slower.)
    """
    key = model_key(lang)
    model = _MODELS.get(key)
    if model and len(model.nlp.vocab.strings) > model.base_strings + VOCAB_GROWTH:
        del _MODELS[key]
