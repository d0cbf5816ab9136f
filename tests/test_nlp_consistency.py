"""Concepts the annotator once defined twice, now once (issue 13 item 4): each test would fail on the
old, drifting definitions.

- a mention's stored sentence is the sentence its stance window is cut from;
- a CJK character is CJK alike for the tokenizer and for the stance cue features;
- nlp's default topic is the tracker's packaged default topic;
- a response body is decoded by one charset rule (crawler.http and crawler.extract).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from crawler.extract import decode_text
from crawler.http import Fetched
from nlp import Annotator
from nlp import stance, stance_features
from nlp.pipeline import DEFAULT_TOPICS
from nlp.sentences import Sentences, sentence_bounds
from nlp.tokenizers import blank, lang_model

ROOT = Path(__file__).resolve().parent.parent

TEXTS = {
    "en-abbreviations": (
        "The U.S. Department of Defense may not contract with LOGINK. Under Executive Order No. 5 the "
        "Secretary reviews NEAL-NET, Sec. 3 says so. Dr. Smith called LOGINK a risk! Is NEAL-NET next? "
        "Shanghai Zhenhua Heavy Industries Co., Ltd. (ZPMC) ships cranes to ports that use LOGINK."
    ),
    "zh": "美国国会要求禁止使用LOGINK。国家交通运输物流公共信息平台由交通运输部建设；NEAL-NET连接东北亚港口。",
    "ja": "米国はLOGINKを警戒している。「LOGINKは港湾データを集める。」と専門家は述べた。NEAL-NETも同様だ？",
    "bill": (
        "SEC. 2. PROHIBITION ON USE OF LOGINK.\n(a) In General.--The Secretary of Defense may not\n"
        "enter into a contract that uses LOGINK or\nany covered logistics platform. 3. Rule of construction: "
        "nothing in this section applies to NEAL-NET.\n\nSEC. 3. REPORT. Not later than 180 days, LOGINK is reviewed."
    ),
}


@pytest.fixture(scope="module")
def annotator() -> Annotator:
    return Annotator()


def _sentence_start(text: str, mention: dict) -> int:
    """Where the stored (stripped) sentence of ``mention`` starts in ``text``: the occurrence that holds it."""
    for m in re.finditer(re.escape(mention["sentence"]), text):
        if m.start() <= mention["start"] and mention["end"] <= m.end():
            return m.start()
    raise AssertionError(f"sentence {mention['sentence']!r} does not hold its mention {mention['text']!r}")


@pytest.mark.parametrize("name", TEXTS)
def test_a_mentions_sentence_is_its_stance_windows_sentence(annotator, name):
    text = TEXTS[name]
    found = annotator.annotate(text)["mentions"]
    assert len(found) >= 2, found
    for m in found:
        left = _sentence_start(text, m)
        sentence = m["sentence"]
        marked = sentence[: m["start"] - left] + stance.TARGET_MARK + sentence[m["end"] - left :]
        # an unbounded width: the window is the whole sentence, with whitespace collapsed
        assert stance.make_window(text, m["start"], m["end"], width=10**6) == " ".join(marked.split()), m


def test_abbreviations_and_section_numbers_do_not_end_a_mentions_sentence(annotator):
    text = TEXTS["en-abbreviations"]
    sentences: dict[str, str] = {}
    for m in annotator.annotate(text)["mentions"]:
        sentences.setdefault(m["text"], m["sentence"])  # the first mention of each name
    assert sentences["LOGINK"] == "The U.S. Department of Defense may not contract with LOGINK."
    assert sentences["NEAL-NET"] == "Under Executive Order No. 5 the Secretary reviews NEAL-NET, Sec. 3 says so."
    # "Co., Ltd." ends no sentence, so the acronym is in its full name's sentence: one mention
    assert sentences["Shanghai Zhenhua Heavy Industries"] == (
        "Shanghai Zhenhua Heavy Industries Co., Ltd. (ZPMC) ships cranes to ports that use LOGINK.")
    assert "ZPMC" not in sentences
    quoted = [m["sentence"] for m in annotator.annotate(TEXTS["ja"])["mentions"]][1]
    assert quoted == "「LOGINKは港湾データを集める。」"  # the closing bracket stays with its sentence
    bill = TEXTS["bill"]
    first = annotator.annotate(bill)["mentions"][0]
    assert first["sentence"] == "SEC. 2. PROHIBITION ON USE OF LOGINK."


@pytest.mark.parametrize("name", TEXTS)
def test_the_token_sentences_of_a_paragraph_follow_the_same_rule(name):
    """``Sentences`` (context rules, name-and-acronym selection) splits a paragraph where
    ``sentence_bounds`` does."""
    for paragraph in TEXTS[name].split("\n\n"):
        paragraph = " ".join(paragraph.split())
        doc = lang_model("cjk" if name in ("zh", "ja") else "en").nlp.tokenizer(paragraph)
        sents = Sentences(doc)
        for token in doc:
            start, end = sents.chars(token.i, token.i + 1)
            left, right = sentence_bounds(paragraph, token.idx, token.idx + len(token))
            assert paragraph[start:end] == paragraph[left:right].strip(), token.text


# Characters at the edges of the CJK ranges: Extension A, a compatibility ideograph, a Hangul
# syllable and a Hangul jamo, an ideographic comma, a full-width exclamation mark, a half-width kana.
BOUNDARY_CHARACTERS = ["\u3400", "\uf900", "\uac00", "\u1100", "\u3001", "\uff01", "\uff71"]


@pytest.mark.parametrize("char", BOUNDARY_CHARACTERS)
def test_a_cjk_character_is_cjk_for_the_tokenizer_and_the_stance_cues(char):
    word = f"ab{char}cd"
    tokens = [t.text for t in blank("cjk")(word)]
    split_by_tokenizer = char in tokens
    # a cue stem written in that character: CJK stems count anywhere, alphabetic ones at a word start
    matched_inside_a_word = stance_features._compile((char,)).search(word) is not None
    assert split_by_tokenizer and matched_inside_a_word, (tokens, matched_inside_a_word)


def test_a_latin_letter_is_alphabetic_for_both():
    tokens = [t.text for t in blank("cjk")("abécd")]
    assert tokens == ["abécd"] and stance_features._compile(("é",)).search("abécd") is None


def _packaged_topics() -> dict:
    with open(ROOT / "tracker" / "defaults.toml", "rb") as fh:
        topics = tomllib.load(fh)["topics"]
    return {name: {"entities": spec.get("entities", []), "terms": spec.get("terms", [])} for name, spec in topics.items()}


def test_nlp_default_topic_is_the_packaged_tracker_topic():
    assert DEFAULT_TOPICS == _packaged_topics()


def test_tracker_annotate_without_topics_tags_what_the_nlp_default_tags(env, annotator):
    env.configure({})  # no [topics]: the packaged default topic
    text = ("The Pentagon may not use LOGINK, China's National Transportation and Logistics Public Information "
            "Platform. NEAL-NET links the ports of Ningbo and Tokyo. 国家交通运输物流公共信息平台已上线。")
    path = env.tmp / "doc.txt"
    path.write_text(text, encoding="utf-8")
    result = env.run("annotate", str(path))
    assert result.exit_code == 0, result.output
    via_tracker = json.loads(result.output)
    direct = annotator.annotate(text)
    tags = lambda r: [(m["entity"], m["start"], m["topic"]) for m in r["mentions"]]  # noqa: E731
    assert tags(via_tracker) == tags(direct)
    assert {e for e, _, topic in tags(direct) if topic == "logink"} >= {"platform:logink", "platform:neal-net"}
    assert via_tracker["topics"][0]["mentions"] == direct["topics"][0]["mentions"] >= 3


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8", "text/html; charset=latin-1"])
@pytest.mark.parametrize("body", ["\ufeffLOGINK überwacht".encode("utf-8"), "LOGINK überwacht".encode("cp1252"),
                                  "国家交通运输物流公共信息平台".encode("utf-8")])
def test_http_and_extract_decode_a_body_alike(content_type, body):
    response = Fetched(url="https://example.org/", status=200, headers={"content-type": content_type}, content=body)
    assert response.text == decode_text(body, content_type)[0]
