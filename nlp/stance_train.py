"""Training the stance model on the project's own windows plus the real-text corpus.

:func:`fit` is the one place a model is fitted (training, cross-validation and cross-target
evaluation all use it). :func:`train` is ``tracker nlp train``: the whole real corpus (when
given) plus the project's train split, saved to ``nlp/models/stance.joblib`` with a version
derived from the data, the hyperparameters and the seed.
"""

from __future__ import annotations

import time
from pathlib import Path

from nlp.stance import (
    HYPERPARAMS,
    MODEL_PATH,
    StanceModel,
    _build_pipeline,
    load_records,
    model_version,
    record_window,
)
from nlp.stance_corpus import Corpus


def fit(records: list[dict], seed: int = 0, params: dict | None = None) -> StanceModel:
    """Fit a model on ``records`` (own and real windows alike; real ones weigh ``real_weight``)."""
    p = {**HYPERPARAMS, **(params or {})}
    pipeline = _build_pipeline([r["group"] for r in records], seed, p)
    weights = [p["real_weight"] * p["confidence_weight"].get(r.get("confidence"), 1.0) if r.get("source") == "real"
               else 1.0 for r in records]
    pipeline.fit([record_window(r) for r in records], [r["label"] for r in records], clf__sample_weight=weights)
    return StanceModel.from_pipeline(pipeline, model_version(records, seed, params))


def training_records(own: list[dict], corpus: Corpus | None) -> list[dict]:
    """The project's train split plus every valid, adjudicated real passage."""
    return [r for r in own if r["split"] == "train"] + (corpus.records if corpus else [])


def train(corpus: Corpus | None, data_path: str | Path | None = None, out_path: str | Path | None = None,
          seed: int = 0, params: dict | None = None) -> dict:
    """Fit on the project's train split + ``corpus`` (None: own data only), save, and return a
    short report (counts, version, path, fit time). Held-out figures come from ``evaluate``."""
    own = load_records(data_path)
    records = training_records(own, corpus)
    began = time.perf_counter()
    model = fit(records, seed, params)
    path = Path(out_path) if out_path else MODEL_PATH
    model.save(path)
    return {
        "action": "train", "model_version": model.version, "model_path": str(path),
        "n_own": len(records) - (len(corpus.records) if corpus else 0), "n_real": len(corpus.records) if corpus else 0,
        "fit_seconds": round(time.perf_counter() - began, 2),
    }
