"""Language identification restricted to the languages the pipeline supports.

py3langid (naive Bayes over byte n-grams, model in the wheel) on a bounded sample of the text,
so that a long document costs no more than a short one; Chinese versus Japanese is decided by
script (kana share), which is more reliable than n-grams on short CJK passages.
"""

from __future__ import annotations

import hashlib
import io
import re
from array import array
from functools import lru_cache
from importlib.metadata import version

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from nlp import cache
from nlp.text import CJK_CHARS, cjk_language

_CJK = re.compile(f"[{CJK_CHARS}]+")

# EU languages + Chinese, Japanese, Korean: each has a spaCy blank pipeline (or the CJK tokenizer).
SUPPORTED: tuple[str, ...] = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it",
    "lt", "lv", "nl", "pl", "pt", "ro", "sk", "sl", "sv", "zh", "ja", "ko",
)  # fmt: skip
SAMPLE_CHARS = 200  # py3langid walks bytes in Python: two or three short samples bound the cost


_ARRAY_TYPES = {2: "H", 4: "I", 8: "L"}


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    """py3langid restricted to SUPPORTED. The wheel's model is LZMA-compressed (0.6 s to read), so the
    restricted model is kept uncompressed in the disk cache (``nlp.cache``), which loads in ~0.05 s."""
    name = "langid-" + hashlib.sha256(f"{version('py3langid')}|{MODEL_FILE}|{SUPPORTED}".encode()).hexdigest()[:16] + ".npz"
    path = cache.path_of(name)
    if path is not None:
        try:
            with np.load(path, allow_pickle=False) as data:
                tables = {key: array(_ARRAY_TYPES[data[key].dtype.itemsize], data[key].tobytes())
                          for key in ("nextmove", "row")}
                ident = LanguageIdentifier(data["ptc"], data["pc"], data["classes"].tolist(), tables["nextmove"],
                                           data["output"].tolist(), tk_row=tables["row"])
            ident.set_languages(list(SUPPORTED))
            return ident
        except (OSError, ValueError, KeyError):
            pass  # rebuilt below
    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    ident.set_languages(list(SUPPORTED))
    buffer = io.BytesIO()
    np.savez(buffer, ptc=np.asarray(ident.nb_ptc), pc=np.asarray(ident.nb_pc), classes=np.asarray(ident.nb_classes),
             nextmove=np.frombuffer(ident.tk_nextmove, dtype=f"u{ident.tk_nextmove.itemsize}"),
             row=np.frombuffer(ident.tk_row, dtype=f"u{ident.tk_row.itemsize}"), output=np.asarray(ident.tk_output))
    cache.write(name, buffer.getvalue(), stale_prefix="langid-")
    return ident


def _samples(text: str) -> list[str]:
    """Up to three slices of about SAMPLE_CHARS characters: start, middle, end."""
    if len(text) <= 2 * SAMPLE_CHARS:
        return [text[:SAMPLE_CHARS], text[SAMPLE_CHARS:]] if len(text) > SAMPLE_CHARS else [text]
    middle = len(text) // 2
    return [text[:SAMPLE_CHARS], text[middle : middle + SAMPLE_CHARS], text[-SAMPLE_CHARS:]]


def detect(text: str, default: str = "en") -> str:
    """ISO 639-1 code of the main language of ``text`` (``default`` when there is no text).

    Chinese versus Japanese is decided by script; otherwise the start and middle samples are
    classified, and the end sample breaks a disagreement.
    """
    if not text.strip():
        return default
    samples = _samples(text)
    cjk = cjk_language(" ".join(samples))
    if cjk:
        return cjk
    samples = [_CJK.sub("", s) for s in samples]  # a minority of CJK must not outvote the Latin text
    votes = [_identifier().classify(s)[0] for s in samples[:2] if s.strip()]
    if len(votes) == 2 and votes[0] != votes[1] and len(samples) == 3:
        votes.append(_identifier().classify(samples[2])[0])
    lang = max(votes, key=votes.count) if votes else default
    return "zh" if lang == "ja" else lang  # Japanese without kana: kanji-only passages are Chinese
