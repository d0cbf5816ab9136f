"""Honest evaluation of the stance model: real text first, the project's own split beside it.

``tracker nlp evaluate`` reports:

- ``real_cv``: grouped k-fold cross-validation over the real corpus. Each fold trains a fresh
  model on the project's train split + the other folds' real passages and predicts its own
  passages, so every real passage is predicted once by a model that never saw its page (folds
  are ``StratifiedGroupKFold`` on the page groups of :func:`nlp.stance_corpus.page_groups`: a
  page and its mirrors are never on both sides). Scored overall, per language, per target, per
  hard case, per source kind.
- ``cross_target``: for each main target X, a model trained without any page that has a
  passage about X, tested on X's passages (the stance has to carry over from other targets);
  the mean over the targets and the macro-F1 of all their predictions pooled.
- ``project_split``: the packaged model on the project-written held-out split.

A passage carries one mention, so its (document) stance is its mention's stance.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedGroupKFold

from nlp.stance import LABELS, MODEL_PATH, StanceModel, load_records, record_window
from nlp.stance_corpus import Corpus, target_family
from nlp.stance_train import fit, training_records

CV_FOLDS = 5
CV_SEED = 20261206
MIN_TARGET = 20  # passages a target needs for its own cross-target row
MIN_CELL = 5  # smallest per-language / per-target cell reported


def _f1(gold: list[str], pred: list[str], labels: list[str]) -> float:
    return round(float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)), 4)


def _cell(gold: list[str], pred: list[str]) -> dict:
    present = sorted(set(gold))
    return {"macro_f1": _f1(gold, pred, present), "accuracy": round(float(np.mean([g == p for g, p in zip(gold, pred)])), 4),
            "n": len(gold)}


def _by(records: list[dict], gold: list[str], pred: list[str], key) -> dict:
    cells: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        for k in key(rec):
            cells.setdefault(k, []).append(i)
    return {k: _cell([gold[i] for i in idx], [pred[i] for i in idx])
            for k, idx in sorted(cells.items()) if len(idx) >= MIN_CELL}


def scores(records: list[dict], predicted: list[str]) -> dict:
    """Macro-F1 (critical/neutral/supportive), accuracy, per class, language, target, hard case."""
    gold = [r["label"] for r in records]
    prec, rec_, f1, support = precision_recall_fscore_support(gold, predicted, labels=list(LABELS), zero_division=0)
    report = {
        "n": len(records),
        "macro_f1": _f1(gold, predicted, list(LABELS)),
        "accuracy": round(float(np.mean([g == p for g, p in zip(gold, predicted)])), 4) if gold else 0.0,
        "per_class": {label: {"precision": round(float(prec[k]), 4), "recall": round(float(rec_[k]), 4),
                              "f1": round(float(f1[k]), 4), "support": int(support[k])} for k, label in enumerate(LABELS)},
        "predicted": dict(Counter(predicted)),
        "per_language": _by(records, gold, predicted, lambda r: [r["lang"]]),
        "hard_cases": _by(records, gold, predicted, lambda r: [t for t in (r.get("hard_case") or "").split(",") if t]),
        "confusion": {"labels": list(LABELS), "matrix": confusion_matrix(gold, predicted, labels=list(LABELS)).tolist()},
    }
    if any("target_entity" in r for r in records):
        report["per_target"] = _by(records, gold, predicted, lambda r: [target_family(r.get("target_entity", ""))])
        report["per_source_kind"] = _by(records, gold, predicted, lambda r: [r.get("source_kind") or "?"])
    return report


def page_folds(real: list[dict], folds: int = CV_FOLDS, seed: int = CV_SEED) -> list[tuple[list[int], list[int]]]:
    """(train, test) index lists of a grouped k-fold over real passages: stratified by label,
    grouped by ``group`` (a page and its mirrors), so no page is ever on both sides."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    labels = [r["label"] for r in real]
    return [(train.tolist(), test.tolist())
            for train, test in splitter.split(np.zeros(len(real)), labels, [r["group"] for r in real])]


def cv_predictions(real: list[dict], own: list[dict], folds: int = CV_FOLDS, seed: int = CV_SEED,
                   params: dict | None = None) -> list[str]:
    """Out-of-fold predictions for every real passage (see :func:`page_folds`)."""
    predicted = [""] * len(real)
    for train_idx, test_idx in page_folds(real, folds, seed):
        model = fit(training_records(own, Corpus([real[i] for i in train_idx])), params=params)
        for i, (label, _) in zip(test_idx, model.predict([record_window(real[i]) for i in test_idx])):
            predicted[i] = label
    return predicted


def target_splits(real: list[dict], min_n: int = MIN_TARGET) -> list[tuple[str, list[dict], list[dict]]]:
    """(target, train, test) per main target X (at least ``min_n`` passages): test is X's
    passages, train every real passage whose page has no passage about X."""
    families = Counter(target_family(r["target_entity"]) for r in real)
    splits = []
    for family, n in families.most_common():
        if n < min_n:
            break
        test = [r for r in real if target_family(r["target_entity"]) == family]
        banned = {r["group"] for r in test}
        splits.append((family, [r for r in real if r["group"] not in banned], test))
    return splits


def cross_target(real: list[dict], own: list[dict], params: dict | None = None, min_n: int = MIN_TARGET) -> dict:
    """Per main target X: a model trained without every page that mentions X (and without the
    project's own windows whose target names X in Latin script), tested on X's passages."""
    report: dict = {}
    gold: list[str] = []
    pooled: list[str] = []
    for family, train, test in target_splits(real, min_n):
        own_without = [r for r in own if family not in r["target"].lower()]  # the project's own X windows too
        model = fit(training_records(own_without, Corpus(train)), params=params)
        predicted = [label for label, _ in model.predict([record_window(r) for r in test])]
        cell = scores(test, predicted)
        report[family] = {k: cell[k] for k in ("n", "macro_f1", "accuracy", "per_class", "predicted")}
        gold += [r["label"] for r in test]
        pooled += predicted
    if report:
        report["mean_macro_f1"] = round(float(np.mean([v["macro_f1"] for v in report.values()])), 4)
        # every held-out target's predictions scored together: steadier than the mean, where a
        # small target with one passage of a class (ZTE: 24 passages, 1 neutral) swings 0.2-0.3
        report["pooled_macro_f1"] = _f1(gold, pooled, list(LABELS))
    return report


def project_split(model: StanceModel, own: list[dict]) -> dict:
    """The model on the project-written held-out split (optimistic: the team wrote both sides)."""
    test = [r for r in own if r["split"] == "test"]
    began = time.perf_counter()
    predicted = [label for label, _ in model.predict([record_window(r) for r in test])]
    report = scores(test, predicted)
    report["windows_per_second"] = round(len(test) / max(1e-9, time.perf_counter() - began), 1)
    return report


def evaluate(corpus: Corpus | None, data_path: str | Path | None = None, model_path: str | Path | None = None,
             folds: int = CV_FOLDS, cross: bool = True, params: dict | None = None, min_target: int = MIN_TARGET) -> dict:
    """The full report (see the module docstring); without a corpus only ``project_split``."""
    own = load_records(data_path)
    path = Path(model_path) if model_path else MODEL_PATH
    model = StanceModel.load(path)
    report: dict = {"action": "evaluate", "model_version": model.version, "model_path": str(path),
                    "project_split": project_split(model, own)}
    if corpus and corpus.records:
        began = time.perf_counter()
        real = corpus.records
        report["real_cv"] = {"folds": folds, "groups": len({r["group"] for r in real}),
                             **scores(real, cv_predictions(real, own, folds, params=params))}
        if cross:
            report["cross_target"] = cross_target(real, own, params, min_target)
        report["real_seconds"] = round(time.perf_counter() - began, 1)
    return report


def _table(title: str, cells: dict) -> list[str]:
    lines = ["", f"{title:<22}{'macro-F1':>9}{'acc':>7}{'n':>6}"]
    lines += [f"  {k:<20}{v['macro_f1']:>9.3f}{v['accuracy']:>7.3f}{v['n']:>6}" for k, v in cells.items()]
    return lines


def _block(name: str, s: dict) -> list[str]:
    lines = [f"{name}: macro-F1 {s['macro_f1']:.3f}  accuracy {s['accuracy']:.3f}  n {s['n']}",
             f"{'class':<12}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>6}"]
    lines += [f"{k:<12}{v['precision']:>10.3f}{v['recall']:>8.3f}{v['f1']:>8.3f}{v['support']:>6}" for k, v in s["per_class"].items()]
    lines.append("confusion (rows gold, columns predicted " + " / ".join(s["confusion"]["labels"]) + "): "
                 + "  ".join(" ".join(str(v) for v in row) for row in s["confusion"]["matrix"]))
    lines += _table("per language", s["per_language"])
    if s.get("per_target"):
        lines += _table("per target", s["per_target"])
    if s.get("per_source_kind"):
        lines += _table("per source kind", s["per_source_kind"])
    lines += _table("per hard case", s["hard_cases"])
    return lines


def format_report(report: dict) -> str:
    """Plain-text rendering of :func:`evaluate` for the CLI (real text first)."""
    lines = [f"stance model {report['model_version']} ({report['model_path']})", ""]
    if "real_cv" in report:
        cv = report["real_cv"]
        lines += _block(f"REAL TEXT, grouped {cv['folds']}-fold CV over {cv['groups']} page groups "
                        "(each fold retrained; a page never on both sides)", cv)
        cross = report.get("cross_target") or {}
        if cross:
            lines += ["", ("cross-target (train without every page about X, test on X): mean macro-F1 "
                           f"{cross['mean_macro_f1']:.3f}, all targets pooled {cross['pooled_macro_f1']:.3f}")]
            lines += [f"  {k:<20}{v['macro_f1']:>9.3f}{v['accuracy']:>7.3f}{v['n']:>6}"
                      for k, v in cross.items() if isinstance(v, dict)]
        lines.append("")
    else:
        lines += ["no real-text corpus: only the project-written split below (optimistic)", ""]
    lines += _block("project-written held-out split (the team wrote both sides: optimistic)", report["project_split"])
    return "\n".join(lines)
