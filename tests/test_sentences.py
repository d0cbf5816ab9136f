"""Document furniture is no part of a sentence (issue 16): GPO bill headers and cover lines, SGML-like
tags, rules and Federal Register header lines end the sentence before them and never open the one
after them, over recorded public-domain texts (tests/fixtures/SOURCES.md), with offsets into the
text as extracted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.extract import html_to_text
from nlp import Annotator, stance
from nlp.sentences import Sentences, sentence_bounds
from nlp.tokenizers import lang_model

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORDED = ["congress-gov/examples/files/BILLS-118hr6228ih.htm", "congress-gov/examples/files/BILLS-118hr1724ih.htm",
            "congress-gov/examples/files/BILLS-118s939is.htm", "govinfo/examples/files/2025-03134.htm"]
BOILERPLATE = ("[Congressional Bills", "<DOC>", "Government Publishing Office]", "[Federal Register", "[FR Doc",
               "118th CONGRESS", "1st Session", "____", "----")


@pytest.fixture(scope="module")
def annotator() -> Annotator:
    return Annotator()


def _text(name: str) -> str:
    return html_to_text((FIXTURES / name).read_bytes())


def _sentence_start(text: str, mention: dict) -> int:
    for m in re.finditer(re.escape(mention["sentence"]), text):
        if m.start() <= mention["start"] and mention["end"] <= m.end():
            return m.start()
    raise AssertionError(f"sentence {mention['sentence']!r} does not hold its mention {mention['text']!r}")


@pytest.mark.parametrize("name", RECORDED)
def test_no_stored_sentence_quotes_furniture_and_each_is_its_stance_windows(annotator, name):
    text = _text(name)
    found = annotator.annotate(text)["mentions"]
    assert len(found) >= 8
    for m in found:
        assert text[m["start"] : m["end"]] == m["text"]  # offsets index the extracted text, unchanged
        assert not any(b in m["sentence"] for b in BOILERPLATE), m
        left = _sentence_start(text, m)
        sentence = m["sentence"]
        marked = sentence[: m["start"] - left] + stance.TARGET_MARK + sentence[m["end"] - left :]
        assert stance.make_window(text, m["start"], m["end"], width=10**6) == " ".join(marked.split()), m


def test_a_mention_in_a_bills_first_sentence_gets_that_sentence_only(annotator):
    text = _text(RECORDED[0])  # no blank line between the header, the cover and the long title
    assert text.startswith("[Congressional Bills 118th Congress]\n[From the U.S. Government Publishing Office]")
    found = annotator.annotate(text)["mentions"]
    logink = next(m for m in found if m["text"] == "LOGINK")
    assert logink["sentence"].startswith("To require the Secretary of Transportation and the Commissioner of U.S.")
    # a name inside a bracketed header line has the line's words as its sentence, the cover line its own
    by_start = {m["start"]: m["sentence"] for m in found}
    assert by_start[text.index("H.R. 6228")] == "H.R. 6228 Introduced in House (IH)"
    assert by_start[text.index("H. R. 6228")] == "H. R. 6228"


@pytest.mark.parametrize("text, name, sentence", [
    ("The bill [H.R. 1724] would ban LOGINK at ports.", "LOGINK", "The bill [H.R. 1724] would ban LOGINK at ports."),
    ("[[Page 10844]]\nLOGINK collects port data\n-----\nand more.", "LOGINK", "LOGINK collects port data"),
    ("From the Federal Register Online via the Government Publishing Office [www.gpo.gov]\nLOGINK is free.",
     "LOGINK", "LOGINK is free."),
    ("purposes of\n</DOC>\nH. Res. 12\nLOGINK is a risk", "LOGINK", "LOGINK is a risk"),
    ("Section 2 says\nS. 939 is\nabout LOGINK.", "LOGINK", "Section 2 says\nS. 939 is\nabout LOGINK."),  # not a whole line
])
def test_only_whole_furniture_lines_end_a_sentence(text, name, sentence):
    start = text.index(name)
    left, right = sentence_bounds(text, start, start + len(name))
    assert text[left:right].strip() == sentence


@pytest.mark.parametrize("name", RECORDED)
def test_token_sentences_of_a_recorded_text_follow_the_same_rule(name):
    """``Sentences`` over the text with its lines (the header and cover part) splits where
    ``sentence_bounds`` does, the brackets of a header line being a sentence of their own."""
    full = _text(name)
    text = full[: full.find("\n", 2500)]
    doc = lang_model("en").nlp.tokenizer(text)
    sents = Sentences(doc)
    split = 0
    for token in doc:
        if token.is_space:
            continue
        start, end = sents.chars(token.i, token.i + 1)
        left, right = sentence_bounds(text, token.idx, token.idx + len(token))
        assert text[start:end].strip() == text[left:right].strip(), token.text  # spaCy keeps "\n" tokens
        split += text[start:end].strip() in ("[", "]")
    assert split >= 4  # the header's brackets were cut off its lines
