"""Regression guard: the Annotator on the hand-annotated evaluation passages (tests/fixtures/nlp-eval).

One shared Annotator, in process (``bench/nlp_eval.py`` runs the same scoring through the CLI).
The floors are the numbers measured when the set was built minus a small margin: they catch a
gazetteer or pipeline change that loses names, not a claim about quality on unseen text (see the
fixture directory's README.md). A few focused cases pin the rules the evaluation led to.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from nlp import Annotator

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "nlp-eval"

_spec = importlib.util.spec_from_file_location("nlp_eval", ROOT / "bench" / "nlp_eval.py")
nlp_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nlp_eval)

# measured 2026-11-26 after the fixes (docs/nlp.md "Evaluation on unseen passages"), minus a margin
LOGINK_F1_FLOOR = 0.97  # measured 1.000
ENTITY_F1_FLOOR = {"PLATFORM": 0.97, "PORT": 0.92, "COMPANY": 0.95, "GOV_ORG": 0.90, "LEGISLATION": 0.85}
ENTITY_MICRO_F1_FLOOR = 0.94  # measured 0.977 (lenient)


@pytest.fixture(scope="module")
def ann() -> Annotator:
    return Annotator()


def _report(ann: Annotator, name: str) -> dict:
    passages = nlp_eval.load(FIXTURES / name)
    results = {r["id"]: r for r in ann.annotate_many((p["id"], p["text"], p["lang"]) for p in passages)}
    return nlp_eval.score(passages, results)


@pytest.fixture(scope="module")
def report(ann: Annotator) -> dict:
    return _report(ann, "passages.jsonl")


def test_set_is_what_the_readme_says():
    passages = nlp_eval.load(FIXTURES / "passages.jsonl")
    assert len(passages) >= 120
    assert {p["lang"] for p in passages} == {"en", "zh", "de", "fr", "es", "nl", "ja"}
    for p in passages:
        for e in p["gold"]["entities"]:
            assert p["text"][e["start"]:e["end"]] == e["text"], p["id"]
        assert (p["gold"]["stance"] == "none") == (not p["gold"]["logink"])


def test_logink_detection_floor(report):
    assert report["by"]["all"]["logink"]["f1"] >= LOGINK_F1_FLOOR, report["errors"]


def test_entity_floors(report):
    row = report["by"]["all"]
    assert row["entities_lenient_micro"]["f1"] >= ENTITY_MICRO_F1_FLOOR
    for typ, floor in ENTITY_F1_FLOOR.items():
        assert row["entities_lenient"][typ]["f1"] >= floor, (typ, [e for e in report["errors"] if e.get("type") == typ])


def test_fresh_set_logink_floor(ann):
    """The held-out set written after the fixes: only LOGINK detection is guarded (it was measured once)."""
    assert _report(ann, "fresh.jsonl")["by"]["all"]["logink"]["f1"] >= 0.9


def _found(ann: Annotator, text: str, lang: str | None = None) -> list[tuple[str, str]]:
    return [(m["text"], m["entity"]) for m in ann.annotate(text, lang)["mentions"]]


@pytest.mark.parametrize("text", [
    "国家交通運輸物流公共信息平台について",  # shinjitai + simplified, as Japanese press writes the Chinese name
    "國家交通运输物流公共信息平台",  # traditional + simplified
    "The National Transportation & Logistics Public Information Platform",
    "Die Daten LOGINKs",
    "中国のＬＯＧＩＮＫは",
])
def test_logink_spelling_variants(ann, text):
    assert [e for _, e in _found(ann, text)] == ["platform:logink"]


def test_relevance_in_cjk_text(ann):
    assert ann.is_relevant("国家交通運輸物流公共信息平台")  # mixed scripts
    assert ann.is_relevant("美方对LOGINK的指责毫无根据")  # a Latin name between CJK characters
    assert ann.is_relevant("中国のＬＯＧＩＮＫは")  # full-width
    assert not ann.is_relevant("xLOGINKy and LOGINK2")


@pytest.mark.parametrize("text", [
    "Malaysia's Ministry of Transport signed a memorandum with China on port data.",
    "The Ministry of Transport of Malaysia signed a memorandum with China on port data.",
    "Vietnam's Communist Party praised the port deal with China.",
    "The Texas Department of Transportation will widen the road.",
])
def test_generic_agency_names_of_other_owners(ann, text):
    assert [e for _, e in _found(ann, text, "en") if e.startswith("org:")] == []


@pytest.mark.parametrize("text, lang, entity", [
    ("El Departamento de Defensa prohibió LOGINK en Estados Unidos.", "es", "org:us-dod"),
    ("Der Kongress der Vereinigten Staaten stimmte zu.", "de", "org:us-congress"),
    ("Die amerikanische Regierung und der Kongress stritten über Häfen.", "de", "org:us-congress"),
    ("El Ministerio de Transporte chino gestiona LOGINK.", "es", "org:cn-mot"),
])
def test_agencies_in_other_languages(ann, text, lang, entity):
    assert entity in [e for _, e in _found(ann, text, lang)]


def test_generic_agency_names_still_found(ann):
    assert ("Ministry of Transport", "org:cn-mot") in _found(ann, "The Ministry of Transport in Beijing runs LOGINK.")
    assert ("Department of Transportation", "org:us-dot") in _found(
        ann, "The Department of Transportation published a list of covered logistics platforms.", "en")


def test_generic_descriptions_need_china(ann):
    assert _found(ann, "Thailand launched its National Logistics Information Platform last year.", "en") == []
    assert [e for _, e in _found(ann, "China launched its National Logistics Information Platform.", "en")] \
        == ["platform:logink"]


def test_us_agency_names_without_a_us_cue(ann):
    text = "The Secretary shall consult the Coast Guard and the Maritime Administration."
    assert [e for _, e in _found(ann, text, "en")] == ["org:uscg", "org:marad"]
    # acronyms and bare words still need the United States named; another jurisdiction blocks the default
    assert _found(ann, "The DOT number must be displayed on the truck.", "en") == []
    assert _found(ann, "Australia's Maritime Administration and the Coast Guard met.", "en") == []


def test_committee_in_bill_style(ann):
    text = "referred to the Committee on Foreign Relations of the Senate"
    assert _found(ann, text, "en") == [("Committee on Foreign Relations of the Senate", "org:us-sfrc")]


def test_shipping_names_rescue_each_other(ann):
    assert ("MSC", "org:msc") in _found(ann, "Maersk und MSC beenden ihre Allianz.", "de")
    assert [e for _, e in _found(ann, "Der Datenaustausch in Bremerhaven und Hamburg erfolgt elektronisch.", "de")] \
        == ["port:DEBRV", "port:DEHAM"]
    assert _found(ann, "Der Spieler wechselt nach Hamburg.", "de") == []


def test_acronyms_in_other_senses(ann):
    assert _found(ann, "The CCP rules on margin calls were tightened by the clearing house.", "en") == []
    assert ("CCP", "org:ccp") in _found(ann, "The CCP controls the platform, Beijing said.", "en")
    assert _found(ann, "La empresa abrió un puerto seco en Zaragoza.", "es") == []
