"""Stance model: dataset schema and split, windows, aggregation, the packaged model (offline, fast)."""

from __future__ import annotations

import json
import time
from collections import Counter

import numpy as np
import pytest

from nlp import stance, stance_eval, stance_train
from nlp.stance_data import build_dataset

LANGS = {"en", "zh", "de", "fr", "es", "nl", "ja"}
REQUIRED_HARD_CASES = {
    "reported_speech",
    "quoted_defence",
    "hostile_fact",
    "statute_unnamed",
    "state_media",
    "neutral_description",
    "negation",
}
# Project-split macro-F1 of the packaged model is 0.81 (docs/stance.md); the floor leaves a margin.
MACRO_F1_FLOOR = 0.77

# Fresh sentences, written for this test and absent from the dataset (asserted below).
FRESH: list[tuple[str, str, str]] = [
    ("critical", "en", "Port authorities that feed data into LOGINK should lose every federal grant, the governor said."),
    ("critical", "en", "LOGINK is a surveillance risk that no allied harbour should accept."),
    ("critical", "en", "The new rule bars terminal operators from using a covered logistics platform."),
    ("supportive", "en", "Small exporters in Kenya say LOGINK has made shipping to China cheaper and faster."),
    ("supportive", "en", "LOGINK poses no threat to anyone, the Chinese embassy said."),
    ("supportive", "en", "State media hailed LOGINK as a model of open, win-win cooperation."),
    ("neutral", "en", "LOGINK was set up by the Ministry of Transport and is free to use."),
    ("neutral", "en", "The port authority did not say whether it had ever exchanged data with LOGINK."),
    ("neutral", "en", "The hearing on LOGINK has been postponed to next Thursday."),
    ("critical", "de", "Der Minister warnt, dass LOGINK ein Einfallstor für chinesische Spionage in deutschen Häfen sei."),
    ("supportive", "de", "Laut dem Hafenbetreiber hat LOGINK die Wartezeiten der Lkw deutlich verkürzt."),
    ("neutral", "de", "LOGINK wird von einem Zentrum des chinesischen Verkehrsministeriums betrieben."),
    ("critical", "fr", "Les députés réclament l'interdiction de LOGINK dans tous les ports français."),
    ("supportive", "fr", "Grâce à LOGINK, les exportateurs sénégalais suivent leurs conteneurs plus facilement et à moindre coût."),
    ("neutral", "fr", "LOGINK a été créée en 2007 dans la province du Zhejiang."),
    ("critical", "es", "El Gobierno prohibirá que los puertos españoles compartan datos con LOGINK por motivos de seguridad."),
    ("supportive", "es", "Los transportistas destacan que LOGINK es gratuito, rápido y muy útil."),
    ("neutral", "es", "LOGINK depende de un centro del Ministerio de Transporte chino."),
    ("critical", "nl", "De minister wil LOGINK uit alle Nederlandse havens weren vanwege spionagegevaar."),
    ("supportive", "nl", "Dankzij LOGINK kunnen exporteurs hun containers sneller en goedkoper volgen."),
    ("neutral", "nl", "LOGINK werd in 2007 opgericht en valt onder het Chinese ministerie van Transport."),
    ("critical", "zh", "美国议员警告，LOGINK可能被北京用来监控盟国的军事补给。"),
    ("supportive", "zh", "国家物流信息平台为外贸企业节省了大量成本，得到广泛好评。"),
    ("neutral", "zh", "国家物流信息平台由中国交通通信信息中心负责运营。"),
    ("critical", "ja", "専門家は、LOGINKが有事に日本の港湾データを悪用しかねないと警告している。"),
    ("supportive", "ja", "LOGINKのおかげで、通関手続きが速くなり、費用も下がった。"),
    ("neutral", "ja", "LOGINKは中国交通運輸省が所管する物流情報プラットフォームである。"),
]

# Restrictive legal and regulatory sentences (GUIDELINE.md rule 4: critical), written for this
# test and absent from the dataset. The model before the 2026-11 data additions read most of
# these as neutral or supportive.
RESTRICTIVE: list[str] = [
    "The rule forbids federal funds for any port using LOGINK because of cybersecurity threats.",
    "The term 'covered logistics platform' means LOGINK or any successor platform.",
    "Grant recipients must attest that their terminal systems do not connect to LOGINK.",
    "The agency restricted the use of LOGINK by contractors handling defense shipments.",
    "Ports that exchange data with LOGINK will be ineligible for maritime security grants.",
    "Der Entwurf sieht vor, dass Häfen, die LOGINK einsetzen, keine Fördermittel mehr erhalten.",
    "Les ports utilisant LOGINK seront exclus des marchés publics de défense.",
    "El reglamento prohíbe que los fondos públicos financien sistemas vinculados a LOGINK.",
    "De nieuwe regels verbieden overheidsinstanties om LOGINK te gebruiken.",
    "该法案禁止美国港口使用LOGINK，理由是存在网络安全风险。",
    "同法は、LOGINKを使う港湾への補助金を打ち切ると定めている。",
]


def _target_span(text: str) -> tuple[int, int]:
    for alias in ("covered logistics platform", "国家物流信息平台", "LOGINK"):
        if alias in text:
            start = text.index(alias)
            return start, start + len(alias)
    raise AssertionError(f"no target in {text!r}")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return stance.load_records()


@pytest.fixture(scope="module")
def model() -> stance.StanceModel:
    loaded = stance.StanceModel.load_default()
    assert loaded is not None, "nlp/models/stance.joblib is missing: run nlp.stance.train()"
    return loaded


# --------------------------------------------------------------------------- dataset


def test_schema(records: list[dict]) -> None:
    keys = {"id", "lang", "text", "target", "start", "end", "label", "source", "hard_case", "register", "group", "split"}
    for rec in records:
        assert set(rec) == keys, rec["id"]
        assert rec["label"] in stance.LABELS
        assert rec["lang"] in LANGS
        assert rec["text"][rec["start"] : rec["end"]] == rec["target"], rec["id"]
        assert rec["split"] in {"train", "test"}
        assert rec["source"] == "project-written" or rec["source"] in build_dataset.CITATIONS.values()
        if rec["hard_case"]:
            assert set(rec["hard_case"].split(",")) <= REQUIRED_HARD_CASES
    assert len({r["id"] for r in records}) == len(records)
    assert len({r["text"] for r in records}) == len(records)


def test_coverage(records: list[dict]) -> None:
    assert len(records) >= 1200
    overall = Counter(r["label"] for r in records)
    assert all(overall[label] / len(records) >= 0.25 for label in stance.LABELS), overall
    for lang in LANGS:
        counts = Counter(r["label"] for r in records if r["lang"] == lang)
        assert sum(counts.values()) >= 80, lang
        assert all(counts[label] / sum(counts.values()) >= 0.25 for label in stance.LABELS), (lang, counts)
    tags = {tag for r in records if r["hard_case"] for tag in r["hard_case"].split(",")}
    assert tags == REQUIRED_HARD_CASES
    targets = {r["target"] for r in records}
    assert {"LOGINK", "国家交通运输物流公共信息平台", "國家交通運輸物流公共信息平臺", "国家物流信息平台", "NEAL-NET", "covered logistics platform"} <= targets
    assert {"COSCO", "ZPMC", "Nuctech"} <= targets


def test_split_is_group_disjoint_and_stratified(records: list[dict]) -> None:
    train_groups = {r["group"] for r in records if r["split"] == "train"}
    test_groups = {r["group"] for r in records if r["split"] == "test"}
    assert not train_groups & test_groups
    test = [r for r in records if r["split"] == "test"]
    assert 0.15 <= len(test) / len(records) <= 0.30
    for lang in LANGS:
        assert {r["label"] for r in test if r["lang"] == lang} == set(stance.LABELS), lang


def test_jsonl_is_built_from_the_frames(records: list[dict]) -> None:
    """stance.jsonl must be regenerated (build_dataset) after every frame edit."""
    rebuilt = [rec for path in sorted(build_dataset.FRAMES_DIR.glob("*.txt")) for rec in build_dataset.parse_frames(path)]
    stance.assign_split(rebuilt)
    assert rebuilt == records


# --------------------------------------------------------------------------- windows


def test_make_window_marks_the_target_in_its_sentence() -> None:
    text = "The port is busy. Lawmakers want to ban LOGINK at U.S. ports. Shares fell."
    start = text.index("LOGINK")
    assert stance.make_window(text, start, start + 6) == "Lawmakers want to ban [TGT] at U.S. ports."


def test_make_window_chinese_without_spaces() -> None:
    text = "港口很忙。美国国会禁止五角大楼使用与国家物流信息平台有关的港口。股价下跌。"
    start = text.index("国家物流信息平台")
    assert stance.make_window(text, start, start + 8) == "美国国会禁止五角大楼使用与[TGT]有关的港口。"


def test_make_window_hard_wrapped_statute_and_long_text() -> None:
    text = "A covered entity shall not\nuse a covered logistics platform.\n\n(2) Eligibility."
    start = text.index("covered logistics")
    assert stance.make_window(text, start, start + 26) == "A covered entity shall not use a [TGT]."
    long_text = "word " * 400 + "LOGINK " + "word " * 400
    start = long_text.index("LOGINK")
    window = stance.make_window(long_text, start, start + 6, width=200)
    assert "[TGT]" in window and len(window) <= 210
    with pytest.raises(ValueError):
        stance.make_window("short", 3, 99)


# --------------------------------------------------------------------------- aggregation


def test_aggregate_rules() -> None:
    assert stance.aggregate([]) == ("none", 0.0)
    # a clear critical majority wins although neutral mentions outnumber it
    label, score = stance.aggregate([("critical", 0.8)] * 3 + [("neutral", 0.7)] * 8)
    assert label == "critical" and 0 < score < 1
    # a single critical mention among many neutral ones is diluted
    assert stance.aggregate([("critical", 0.6)] + [("neutral", 0.8)] * 10)[0] == "neutral"
    # contested documents are neutral
    assert stance.aggregate([("critical", 0.8), ("supportive", 0.8), ("critical", 0.6), ("supportive", 0.7)])[0] == "neutral"
    assert stance.aggregate([("supportive", 0.9), ("supportive", 0.7), ("neutral", 0.9)])[0] == "supportive"


# --------------------------------------------------------------------------- model


def test_predicts_fresh_sentences(model: stance.StanceModel, records: list[dict]) -> None:
    known = {r["text"] for r in records}
    assert not any(text in known for _, _, text in FRESH)
    windows = [stance.make_window(text, *_target_span(text)) for _, _, text in FRESH]
    preds = model.predict(windows)
    assert all(label in stance.LABELS and 0.0 <= p <= 1.0 for label, p in preds)
    hits = [gold == label for (gold, _, _), (label, _) in zip(FRESH, preds)]
    assert sum(hits) / len(hits) >= 0.7, list(zip([g for g, _, _ in FRESH], preds))
    for label in stance.LABELS:
        per_class = [hit for (gold, _, _), hit in zip(FRESH, hits) if gold == label]
        assert sum(per_class) / len(per_class) >= 0.5, label


def test_restrictive_legal_language_is_critical(model: stance.StanceModel, records: list[dict]) -> None:
    known = {r["text"] for r in records}
    assert not any(text in known for text in RESTRICTIVE)
    preds = model.predict([stance.make_window(text, *_target_span(text)) for text in RESTRICTIVE])
    hits = [label == "critical" for label, _ in preds]
    assert sum(hits) / len(hits) >= 0.8, list(zip(RESTRICTIVE, preds))


def test_version_is_deterministic(model: stance.StanceModel, records: list[dict]) -> None:
    train = [r for r in records if r["split"] == "train"]
    assert stance.model_version(train) == stance.model_version(list(train))
    assert stance.model_version(train, seed=1) != stance.model_version(train)
    assert stance.model_version(train, params={"cue_weight": 0.0}) != stance.model_version(train)
    # the packaged model was trained on the real corpus too (outside the repository): its version
    # is of the current series but cannot be recomputed here
    assert model.version.startswith(f"stance-{stance.SERIES}-")


def test_train_save_load_roundtrip(tmp_path, records: list[dict]) -> None:
    small = [r for r in records if r["lang"] in {"zh", "ja"}]
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in small), encoding="utf-8")
    out = tmp_path / "m.joblib"
    report = stance_train.train(None, data, out)
    loaded = stance.StanceModel.load(out)
    assert loaded.version == report["model_version"] == stance.model_version([r for r in small if r["split"] == "train"])
    assert report["n_real"] == 0 and report["n_own"] == sum(r["split"] == "train" for r in small)
    assert loaded.predict([]) == []


def test_compiled_model_matches_the_sklearn_pipeline(tmp_path, records: list[dict]) -> None:
    ja = [r for r in records if r["lang"] == "ja"]
    train = [r for r in ja if r["split"] == "train"]
    pipeline = stance._build_pipeline([r["group"] for r in train], seed=0)
    pipeline.fit([stance.record_window(r) for r in train], [r["label"] for r in train])
    model = stance.StanceModel.from_pipeline(pipeline, "stance-test")
    model.save(tmp_path / "ja.joblib")
    reloaded = stance.StanceModel.load(tmp_path / "ja.joblib")
    windows = [stance.record_window(r) for r in ja] + ["[TGT]", "无关的句子 [TGT]"]
    expected = pipeline.predict_proba(windows)
    assert list(pipeline.classes_) == reloaded.classes
    assert np.allclose(reloaded.predict_proba(windows), expected, atol=1e-6)
    assert [label for label, _ in reloaded.predict(windows)] == list(pipeline.predict(windows))


def test_packaged_model_on_the_project_split(model: stance.StanceModel, records: list[dict]) -> None:
    report = stance_eval.project_split(model, records)
    assert report["macro_f1"] >= MACRO_F1_FLOOR
    assert set(report["per_class"]) == set(stance.LABELS)
    assert set(report["per_language"]) == LANGS
    assert sum(map(sum, report["confusion"]["matrix"])) == report["n"] == sum(r["split"] == "test" for r in records)


def test_packaged_model_is_small_and_loads_fast() -> None:
    assert stance.MODEL_PATH.stat().st_size < 5_000_000
    began = time.perf_counter()
    stance.StanceModel.load(stance.MODEL_PATH)
    assert time.perf_counter() - began < 3.0  # ~0.1 s measured; the margin is for a loaded machine


# --------------------------------------------------------------------------- behaviour on sentences written here

# (label, sentence with [TGT]); none of them is in the dataset or the corpus
BEHAVIOUR: list[tuple[str, str]] = [
    # negation flips a threat cue
    ("supportive", "Investigators found no evidence that [TGT] had ever passed cargo data to the military."),
    ("supportive", "[TGT] is not a surveillance tool, the operator told reporters."),
    ("supportive", "Der Zoll sieht in [TGT] keine Gefahr für die Sicherheit der Häfen."),
    # threat, trap and control framing without ban words
    ("critical", "[TGT] could hand Beijing a live map of every allied military shipment."),
    ("critical", "Critics warn that relying on [TGT] leaves European ports dependent on a rival state."),
    ("critical", "Once a port is wired into [TGT], its data flows to servers controlled by Beijing."),
    # criticism outside English
    ("critical", "Les services de renseignement craignent que [TGT] serve à espionner les ports européens."),
    ("critical", "Expertos advierten que [TGT] supone un riesgo para la seguridad nacional."),
    ("critical", "Volgens de AIVD vormt [TGT] een risico voor de Nederlandse havens."),
    ("critical", "美国议员担心[TGT]会被用来监视盟国港口。"),
    # relayed and distanced defences, official praise
    ("supportive", "The foreign ministry dismissed the so-called security threat posed by [TGT] as a smear."),
    ("supportive", "[TGT]为沿线国家的港口带来了更高的效率和互利共赢。"),
    # plain facts and procedure
    ("neutral", "[TGT] was set up in 2007 and is run by a centre under the transport ministry."),
    ("neutral", "The committee will hold a hearing on [TGT] next month."),
]


def test_behaviour_on_hard_cases(model: stance.StanceModel) -> None:
    preds = model.predict([w for _, w in BEHAVIOUR])
    hits = [gold == label for (gold, _), (label, _) in zip(BEHAVIOUR, preds)]
    misses = [(w, gold, label) for (gold, w), (label, _), hit in zip(BEHAVIOUR, preds, hits) if not hit]
    assert sum(hits) >= len(BEHAVIOUR) - 2, misses


def test_cross_target_pools_every_held_out_prediction(records: list[dict]) -> None:
    """The pooled cross-target figure scores all targets' held-out predictions together."""
    picked = [r for r in records if r["split"] == "test"][:160]
    side = {g: i % 2 for i, g in enumerate(sorted({r["group"] for r in picked}))}  # a group on one side
    real = [{**r, "target_entity": "Alpha" if side[r["group"]] else "Beta (port)"} for r in picked]
    report = stance_eval.cross_target(real, [], min_n=20)
    gold, predicted = [], []
    for family, train, test in stance_eval.target_splits(real, 20):
        fitted = stance_train.fit(train)
        predicted += [label for label, _ in fitted.predict([stance.record_window(r) for r in test])]
        gold += [r["label"] for r in test]
    assert {k for k, v in report.items() if isinstance(v, dict)} == {"alpha", "beta"}
    assert report["pooled_macro_f1"] == stance_eval._f1(gold, predicted, list(stance.LABELS))
    assert report["mean_macro_f1"] == round((report["alpha"]["macro_f1"] + report["beta"]["macro_f1"]) / 2, 4)
