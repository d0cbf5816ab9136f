"""Phrase matching of surface forms, built lazily from the words a text actually contains.

The gazetteer has ~25,000 surface forms; turning all of them into spaCy pattern docs takes about a
second, and most never occur in a given stream. :class:`Patterns` therefore indexes every form by
one *key word* (its rarest word among all forms, case-folded for case-insensitive forms) and adds
a form to its ``PhraseMatcher`` only when a text containing its key word arrives. The same index
is a pre-filter: a paragraph that contains no key word cannot match, so it is not tokenized at all.

The invariant that makes this exact: a PhraseMatcher match covers whole tokens whose text equals
(or, case-insensitively, lower-cases to) the form's tokens, so every maximal run of letters and
digits of the form occurs as such a run in the matched text (spaCy's English tokenizer splits
inside such a run only for a few contractions, "cannot", "gonna", none of them a name). Forms
with CJK characters or full-width letters ("wide" forms, a few hundred) have no word boundaries to
go by: they are all added the first time a paragraph with wide characters arrives, and such
paragraphs are always tokenized.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Iterable, Iterator

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from nlp import cache
from nlp.gazetteer import load_gazetteer
from nlp.text import CJK_CHARS, CJK_PUNCT, has_wide
from nlp.tokenizers import base_nlp

Surface = tuple[str, bool]  # (text, case_sensitive), as in Gazetteer.surfaces

_KEY_WORD = re.compile(f"[^\\W_{CJK_CHARS}{CJK_PUNCT}]+")  # a run of letters/digits outside CJK
_WORDS_ONLY = re.compile(r"^[^\W\d_]+(?: [^\W\d_]+)*$")


def key_words(text: str) -> set[str]:
    """The letter/digit runs of ``text`` (as written; lower-case them for the case-insensitive index)."""
    return set(_KEY_WORD.findall(text))


class Patterns:
    """PhraseMatchers (case-sensitive on ORTH, case-insensitive on LOWER) over surface forms, filled lazily.

    One pair serves every language: matching compares string hashes, which do not depend on a
    pipeline's vocabulary. Forms made only of words become pattern docs directly; punctuated forms
    are tokenized by the pattern tokenizer and by every language tokenizer in use, and added again
    where the tokens differ ("port d'Anvers" in French).
    """

    def __init__(self, forms: Iterable[tuple[str, Surface]]) -> None:
        base = base_nlp()
        self.vocab = base.vocab
        self.matchers = {case: PhraseMatcher(base.vocab, attr="ORTH" if case else "LOWER") for case in (True, False)}
        self.keys: dict[int, Surface] = {}
        forms = list(forms)
        split = [(text, key, [w if key[1] else w.lower() for w in _KEY_WORD.findall(text)]) for text, key in forms]
        counts = Counter(w.lower() for _, _, words in split for w in set(words))
        self._index: dict[bool, dict[str, list[tuple[str, Surface]]]] = {True: defaultdict(list), False: defaultdict(list)}
        self._wide: list[tuple[str, Surface]] = []
        for text, key, words in split:
            if has_wide(text) or not words:
                self._wide.append((text, key))
            else:  # the rarest word, then the longest: the best filter
                word = min(words, key=lambda w: (counts[w.lower()], -len(w)))
                self._index[key[1]][word].append((text, key))
        self._keysets = {case: frozenset(index) for case, index in self._index.items()}
        self._wide_added = False
        self._languages: dict[str, Language] = {}  # language tokenizers the punctuated forms are added for
        self._punctuated: list[tuple[Surface, tuple[str, ...], str]] = []  # (key, base tokens, text) added so far

    def prepare(self, text: str) -> bool:
        """Add the forms that may occur in ``text``; False when none can (the text need not be tokenized)."""
        wide = has_wide(text)
        if wide and not self._wide_added:
            self._wide_added = True
            self._add_forms(self._wide)
        words = key_words(text)
        hits = {True: words & self._keysets[True], False: set(map(str.lower, words)) & self._keysets[False]}
        for case, found in hits.items():
            index = self._index[case]
            for word in found:
                if word in index:
                    self._add_forms(index.pop(word))  # each form is added once
        return wide or bool(hits[True] or hits[False])

    def use_language(self, lang: str, nlp: Language) -> None:
        """Tokenize the punctuated forms with ``lang``'s tokenizer too (now and for forms added later)."""
        known = lang in self._languages
        self._languages[lang] = nlp  # a rebuilt pipeline replaces the old one (same rules)
        if not known:
            for key, tokens, text in self._punctuated:
                self._add_variant(key, tokens, nlp.tokenizer(text))

    def _add_forms(self, forms: list[tuple[str, Surface]]) -> None:
        base = base_nlp()
        for text, key in forms:
            if _is_simple(text):
                self._add(key, Doc(self.vocab, words=text.split()))
                continue
            doc = base.tokenizer(text)
            self._add(key, doc)
            tokens = tuple(t.text for t in doc)
            self._punctuated.append((key, tokens, text))
            for nlp in self._languages.values():
                self._add_variant(key, tokens, nlp.tokenizer(text))

    def _add_variant(self, key: Surface, tokens: tuple[str, ...], doc: Doc) -> None:
        if tuple(t.text for t in doc) != tokens:
            self._add(key, doc)

    def _add(self, key: Surface, doc: Doc) -> None:
        name = f"{int(key[1])}|{key[0]}"
        self.keys[self.vocab.strings.add(name)] = key
        self.matchers[key[1]].add(name, [doc])

    def __call__(self, doc: Doc) -> Iterator[tuple[Surface, int, int]]:
        """(surface key, start token, end token) of every match: case-sensitive ones first, each group in
        (start, end, surface) order, which does not depend on the order the forms were added in."""
        for matcher in self.matchers.values():
            if len(matcher):
                found = [(self.keys[match_id], start, end) for match_id, start, end in matcher(doc)]
                yield from sorted(found, key=lambda m: (m[1], m[2], m[0]))


def _is_simple(form: str) -> bool:
    """Words only, none of them CJK or full-width ("ＬＯＧＩＮＫ" is one character per token in text)."""
    return bool(_WORDS_ONLY.match(form)) and not has_wide(form)


@lru_cache(maxsize=1)
def gazetteer_patterns() -> Patterns:
    """The shared patterns of the gazetteer's surface forms (index built once per process, ~0.05 s)."""
    gazetteer = load_gazetteer()
    with cache.gc_paused():
        return Patterns((form, key) for key, form in gazetteer.forms.items())
