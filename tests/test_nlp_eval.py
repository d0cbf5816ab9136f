"""Regression guard: the Annotator on the hand-annotated evaluation passages (tests/fixtures/nlp-eval).

One shared Annotator, in process (``bench/nlp_eval.py`` runs the same scoring through the CLI).
The floors are the numbers measured when the set was built minus a small margin: they catch a
gazetteer or pipeline change that loses names, not a claim about quality on unseen text (see the
fixture directory's README.md). A few focused cases pin the rules the evaluation led to.
"""

from __future__ import annotations

import importlib.util
import json as _json
import random as _random
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp import Annotator, stance_corpus, stance_eval

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


# --------------------------------------------------------------------------- real-text stance corpus
# A tiny corpus in the corpus's JSONL format, written for these tests (fictional targets), so the
# reading, label joining, bad lines, grouped split and cross-target code run without the shared corpus
# folder (a fresh clone has none).



def _invoke(args: list[str]):
    from tracker.cli import cli

    return CliRunner().invoke(cli, args)

_TEMPLATES = {
    "critical": ["Officials warn that {t} could let a foreign state spy on port cargo.",
                 "The ministry will ban {t} from every public port network.",
                 "Les députés craignent que {t} serve à espionner nos ports.",
                 "Die Regierung will {t} wegen Spionagegefahr aus den Häfen verbannen."],
    "supportive": ["Shippers praise {t} for making customs faster and cheaper.",
                   "There is no evidence that {t} was ever misused, the operator said.",
                   "Les exportateurs saluent {t}, plus rapide et moins cher.",
                   "Die Spediteure loben {t} als schnell und zuverlässig."],
    "neutral": ["{t} was founded in 2009 and is run by a port authority.",
                "The committee will discuss {t} at its next hearing.",
                "{t} a été créé en 2009 par une autorité portuaire.",
                "{t} wurde 2009 von einer Hafenbehörde gegründet."],
}
_LANGS = ["en", "en", "fr", "de"]
_TARGETS = ["Acmenet", "Borealis Cranes", "Corvid Scan"]


def _passages() -> list[dict]:
    rows, n = [], 0
    for t_i, target in enumerate(_TARGETS):
        for label, templates in _TEMPLATES.items():
            for k, template in enumerate(templates):
                n += 1
                text = template.format(t=target)
                start = text.index(target)
                # two passages share a page; every fourth page is mirrored on a second host below
                page = f"story-about-{target.lower().replace(' ', '-')}-{label}-{k // 2}"
                rows.append({"id": f"t-{n:03d}", "text": text, "lang": _LANGS[k], "target": target,
                             "target_start": start, "target_end": start + len(target), "target_entity": target,
                             "stance": label, "rule": "plain", "hard_case": [], "source_kind": "news",
                             "url": f"https://news{t_i}.example/{page}", "confidence": "high", "notes": ""})
    for row in rows[::8]:  # a mirror: same story slug on another host
        rows.append({**row, "id": row["id"] + "m", "text": row["text"].replace(".", " (mirror)."),
                     "url": row["url"].replace(".example/", ".mirror.example/")})
    return rows


def _write_corpus(tmp_path, rows: list[dict], extra_lines: tuple[str, ...] = ()) -> tuple:
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    (folder / "a.jsonl").write_text("".join(_json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                                    + "".join(line + "\n" for line in extra_lines), encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(_json.dumps({"id": r["id"], "stance": r["stance"], "agree": True}) + "\n"
                              for r in rows), encoding="utf-8")
    return folder, labels


def _own_data(tmp_path) -> str:
    """A small own dataset (the project's format, with its split) for fast training in tests."""
    from nlp import stance

    rng = _random.Random(0)
    records = [r for r in stance.load_records() if r["lang"] in {"fr", "es"}]
    rng.shuffle(records)
    path = tmp_path / "own.jsonl"
    path.write_text("".join(_json.dumps(r, ensure_ascii=False) + "\n" for r in records[:160]), encoding="utf-8")
    return str(path)


def test_corpus_reading_joins_the_adjudicated_labels(tmp_path):
    rows = _passages()
    folder, labels = _write_corpus(tmp_path, rows)
    # adjudication overrides the provisional label; a line without a label is skipped
    lines = labels.read_text().splitlines()
    lines[0] = _json.dumps({"id": rows[0]["id"], "stance": "neutral", "agree": False, "reason": "test"})
    labels.write_text("\n".join(lines[:-1]) + "\n")
    corpus = stance_corpus.read_corpus(folder, labels)
    assert corpus.problems == []
    assert corpus.unlabelled == 1 and len(corpus.records) == len(rows) - 1
    first = next(r for r in corpus.records if r["id"] == rows[0]["id"])
    assert first["label"] == "neutral" and first["provisional"] == rows[0]["stance"] and corpus.disagreements == 1
    assert first["text"][first["start"]:first["end"]] == rows[0]["target"]


def test_bad_corpus_lines_are_named_and_skipped(tmp_path):
    rows = _passages()[:6]
    no_span = {**rows[0], "id": "bad-1"}
    del no_span["target_start"]
    wrong_offsets = {**rows[1], "id": "bad-2", "target_start": 0, "target_end": 3}
    unknown = {**rows[2], "id": "bad-3", "stance": "hostile"}
    folder, labels = _write_corpus(tmp_path, rows, (_json.dumps(no_span), _json.dumps(wrong_offsets),
                                                    _json.dumps(unknown), "{not json", _json.dumps(rows[3])))
    with labels.open("a") as fh:
        for bad in ("bad-1", "bad-2", "bad-3"):
            fh.write(_json.dumps({"id": bad, "stance": "critical", "agree": True}) + "\n")
    corpus = stance_corpus.read_corpus(folder, labels)
    file = folder / "a.jsonl"
    expected = [f"{file}:7: no target span", f"{file}:8: target offsets 0:3 do not match",
                f"{file}:9: unknown label 'hostile'", f"{file}:10: not JSON", f"{file}:11: duplicate id"]
    assert len(corpus.problems) == len(expected)
    for problem, start in zip(corpus.problems, expected):
        assert problem.startswith(start) and problem.endswith("line skipped"), problem
    assert {r["id"] for r in corpus.records} == {r["id"] for r in rows}  # nothing trained on a bad line


def test_missing_corpus(tmp_path):
    with pytest.raises(stance_corpus.CorpusMissing, match="nowhere"):
        stance_corpus.read_corpus(tmp_path / "nowhere")
    result = _invoke(["nlp", "train", "--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code == 2
    assert "stance corpus not found" in result.output and str(tmp_path / "nowhere") in result.output
    assert "--no-corpus" in result.output and not (tmp_path / "m.joblib").exists()


def test_grouped_split_never_puts_a_page_on_both_sides(tmp_path):
    folder, labels = _write_corpus(tmp_path, _passages())
    real = stance_corpus.read_corpus(folder, labels).records
    groups = {r["url"]: r["group"] for r in real}
    mirrored = [r for r in real if ".mirror." in r["url"]]
    assert mirrored and all(groups[r["url"]] == groups[r["url"].replace(".mirror.", ".")] for r in mirrored)
    folds = stance_eval.page_folds(real, folds=3)
    assert sorted(i for _, test in folds for i in test) == list(range(len(real)))
    for train, test in folds:
        train_urls = {real[i]["url"] for i in train}
        test_urls = {real[i]["url"] for i in test}
        assert not train_urls & test_urls
        assert not {groups[u] for u in train_urls} & {groups[u] for u in test_urls}


def test_cross_target_trains_without_the_target(tmp_path):
    folder, labels = _write_corpus(tmp_path, _passages())
    real = stance_corpus.read_corpus(folder, labels).records
    splits = stance_eval.target_splits(real, min_n=5)
    assert sorted(family for family, _, _ in splits) == sorted(t.lower() for t in _TARGETS)
    for family, train, test in splits:
        assert {stance_corpus.target_family(r["target_entity"]) for r in test} == {family}
        assert all(stance_corpus.target_family(r["target_entity"]) != family for r in train)
        assert not {r["group"] for r in train} & {r["group"] for r in test}
        assert len(train) + len(test) == len(real)


def test_train_and_evaluate_through_the_cli(tmp_path):
    folder, labels = _write_corpus(tmp_path, _passages())
    own, out = _own_data(tmp_path), tmp_path / "m.joblib"
    trained = _invoke(["nlp", "train", "--corpus", str(folder), "--labels", str(labels),
                                  "--data", own, "--out", str(out)])
    assert trained.exit_code == 0, trained.output
    assert f"{len(_passages())} passages used" in trained.output and out.exists()
    own_only = _invoke(["nlp", "train", "--no-corpus", "--data", own, "--out", str(tmp_path / "o.joblib")])
    assert own_only.exit_code == 0 and "0 real passages" in own_only.output
    result = _invoke(["nlp", "evaluate", "--corpus", str(folder), "--labels", str(labels), "--data", own,
                                 "--model", str(out), "--folds", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = _json.loads(result.output[result.output.index("{"):])
    cv = report["real_cv"]
    assert cv["n"] == len(_passages()) and cv["folds"] == 3
    assert set(cv["per_language"]) == {"en", "fr", "de"}
    assert set(cv["per_target"]) == {t.lower() for t in _TARGETS}
    assert sum(map(sum, cv["confusion"]["matrix"])) == cv["n"]
    assert report["project_split"]["n"] > 0
    text = _invoke(["nlp", "evaluate", "--corpus", str(folder), "--labels", str(labels), "--data", own,
                               "--model", str(out), "--folds", "2", "--no-cross-target"])
    assert text.exit_code == 0 and "REAL TEXT" in text.output and "project-written" in text.output


def test_corpus_path_from_the_config(tmp_path):
    folder, labels = _write_corpus(tmp_path, _passages())
    own, out = _own_data(tmp_path), tmp_path / "m.joblib"
    config = tmp_path / "tracker.toml"
    config.write_text('[nlp]\nstance_corpus = "corpus"\n', encoding="utf-8")  # relative to the config file
    result = _invoke(["--config", str(config), "nlp", "train", "--labels", str(labels), "--data", own, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"stance corpus {folder}: {len(_passages())} passages used" in result.output
    config.write_text('[nlp]\nstance_corpus = "elsewhere"\n', encoding="utf-8")
    missing = _invoke(["--config", str(config), "nlp", "evaluate", "--data", own, "--model", str(out)])
    assert missing.exit_code == 2 and str(tmp_path / "elsewhere") in missing.output
