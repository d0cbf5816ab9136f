"""Stance of a mention toward the watched subject: critical, supportive or neutral.

A mention is classified from a *window*: the sentence around it with the mention replaced by
``[TGT]`` (:func:`make_window`). The model is TF-IDF word n-grams (CJK split into single
characters) plus ``char_wb`` n-grams of the window with watched-entity names masked, plus a
block of multilingual cue-lexicon counts (:mod:`nlp.stance_features`), fed to a linear SVM whose
scores are calibrated by ``CalibratedClassifierCV`` on group-aware folds, then reduced to plain
arrays for fast batched prediction (:class:`StanceModel`). It is trained
(:mod:`nlp.stance_train`) on real passages about analogous targets (:mod:`nlp.stance_corpus`,
kept outside the repository; adjudicated labels in ``nlp/stance_data/real_labels.jsonl``) plus
the project's own windows in ``nlp/stance_data/stance.jsonl`` (guideline:
``nlp/stance_data/GUIDELINE.md``). Evaluation: :mod:`nlp.stance_eval`; method and real-text
numbers: ``docs/stance.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

from nlp.sentences import sentence_bounds
from nlp.text import UNSPACED
from nlp.stance_features import (
    LEXICON_FINGERPRINT,
    CueFeatures,
    negation_text,
    sentence_text,
)

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Training-only parts of scikit-learn (calibration, SVM, model selection, pipelines) are imported
# where they are used: annotation loads a fitted model and needs none of them (~0.3 s saved).

LABELS: tuple[str, ...] = ("critical", "neutral", "supportive")
TARGET_MARK = "[TGT]"
SERIES = "2026.12"  # bump by hand when the feature design changes
DATA_PATH = Path(__file__).parent / "stance_data" / "stance.jsonl"
MODEL_PATH = Path(__file__).parent / "models" / "stance.joblib"

TEST_FOLDS = 5  # the test split is one fold of a StratifiedGroupKFold(5): about 20 %
SPLIT_SEED = 20261126

HYPERPARAMS: dict = {
    "word_ngram": [1, 2],
    "char_ngram": [2, 5],
    "char_min_df": 2,
    "svm_C": 0.5,
    "calibration": "sigmoid",
    "calibration_folds": 5,
    "cue_weight": 0.5,
    "negation": True,
    "real_weight": 1.5,
    "confidence_weight": {"high": 1.0, "medium": 0.85, "low": 0.6},  # real passages, by annotator confidence
}

# Words for alphabetic scripts and Hangul; single characters for kana and ideographs (a negated one
# keeps its "¬" mark, see nlp.stance_features.negation_text); the target mark as one token.
_TOKEN_PATTERN = rf"\[tgt\]|¬?[{UNSPACED}]|[^\W{UNSPACED}]+"


# --------------------------------------------------------------------------- windows


def make_window(text: str, start: int, end: int, width: int = 320) -> str:
    """Return the sentence around ``text[start:end]`` with the mention replaced by ``[TGT]``.

    The sentence is :func:`nlp.sentences.sentence_bounds` (the rule mentions are stored with):
    ``.!?`` followed by space (not after abbreviations such as ``U.S.`` or ``Sec.``), ``。！？；``
    and blank lines end one; single newlines are hard wraps. Only the
    mention's sentence is kept (a mention that straddles a boundary keeps both sentences): the
    labels are defined on it (``nlp/stance_data/GUIDELINE.md``). A sentence longer than
    ``width`` characters is cut to about ``width`` characters centred on the mention, at
    whitespace where the script has it. Whitespace is collapsed.
    """
    if not 0 <= start < end <= len(text):
        raise ValueError(f"bad mention span {start}:{end} for a text of {len(text)} characters")
    # Only a bounded region is scanned, so a mention in a long document costs no more.
    left, right = sentence_bounds(text, start, end, reach=4 * width)
    if right - left > width:
        half = max(0, (width - (end - start)) // 2)
        lo, hi = max(left, start - half), min(right, end + half)
        if lo > left:
            space = text.find(" ", lo, start)
            lo = space + 1 if 0 <= space < lo + 30 else lo
        if hi < right:
            space = text.rfind(" ", end, hi)
            hi = space if space > hi - 30 else hi
        left, right = lo, hi
    window = text[left:start] + TARGET_MARK + text[end:right]
    return re.sub(r"\s+", " ", window).strip()


def record_window(record: dict) -> str:
    """The marked window of one dataset record."""
    return make_window(record["text"], record["start"], record["end"])


# --------------------------------------------------------------------------- data


def load_records(data_path: str | Path | None = None) -> list[dict]:
    """Read the JSONL dataset; records without a ``split`` field get one (see :func:`assign_split`)."""
    path = Path(data_path) if data_path else DATA_PATH
    with open(path, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    if any("split" not in rec for rec in records):
        assign_split(records)
    return records


def assign_split(records: list[dict]) -> None:
    """Set ``record["split"]`` to ``train`` or ``test`` in place.

    One fold of ``StratifiedGroupKFold(5)`` (fixed seed) is the test split: stratified on
    language x label, grouped on ``record["group"]`` so that a passage (or a theme written in
    several languages) never has windows on both sides.
    """
    strata = [f"{rec['lang']}:{rec['label']}" for rec in records]
    groups = [rec["group"] for rec in records]
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=TEST_FOLDS, shuffle=True, random_state=SPLIT_SEED)
    _, test_idx = next(splitter.split(np.zeros(len(records)), strata, groups))
    test = set(test_idx.tolist())
    for i, rec in enumerate(records):
        rec["split"] = "test" if i in test else "train"


def _fingerprint(records: list[dict], seed: int, params: dict | None = None) -> str:
    """First 8 hex digits of a SHA-256 over the training records, hyperparameters, the cue
    lexicons, the scikit-learn version and the seed."""
    payload = json.dumps(
        {
            "data": [[r["id"], r["text"], r["start"], r["end"], r["label"]] for r in records],
            "params": {**HYPERPARAMS, **(params or {})},
            "lexicon": LEXICON_FINGERPRINT,
            "sklearn": sklearn.__version__,
            "seed": seed,
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:8]


def model_version(records: list[dict], seed: int = 0, params: dict | None = None) -> str:
    """Deterministic version: training data + hyperparameters + scikit-learn version + seed."""
    return f"stance-{SERIES}-{_fingerprint(records, seed, params)}"


# --------------------------------------------------------------------------- model


def _build_pipeline(groups: list[str], seed: int, params: dict | None = None) -> Pipeline:
    """The unfitted pipeline; ``groups`` (one per training window) make the calibration folds
    group-aware, so the sigmoids are fitted on scores of passages the SVM did not see.

    Feature blocks: word and ``char_wb`` TF-IDF of the masked sentence
    (:func:`nlp.stance_features.sentence_text`) and the cue-lexicon block (weight
    ``cue_weight``; 0 leaves it out).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    p = {**HYPERPARAMS, **(params or {})}
    blocks: list[tuple[str, object]] = [
        ("word", TfidfVectorizer(analyzer="word", token_pattern=_TOKEN_PATTERN, ngram_range=tuple(p["word_ngram"]),
                                 sublinear_tf=True, preprocessor=negation_text if p["negation"] else sentence_text)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(p["char_ngram"]), min_df=p["char_min_df"],
                                 sublinear_tf=True, preprocessor=sentence_text)),
    ]
    if p["cue_weight"]:
        blocks.append(("cues", CueFeatures(p["cue_weight"])))
    folds = list(GroupKFold(n_splits=p["calibration_folds"]).split(groups, groups=groups))
    svm = LinearSVC(C=p["svm_C"], class_weight="balanced", random_state=seed)
    clf = CalibratedClassifierCV(svm, method=p["calibration"], cv=folds)
    return Pipeline([("features", FeatureUnion(blocks)), ("clf", clf)])


class StanceModel:
    """A fitted stance classifier over marked windows (see :func:`make_window`).

    Training fits a scikit-learn pipeline (:func:`_build_pipeline`); :meth:`from_pipeline` then
    keeps only what prediction needs: the two fitted vectorizers and, for each calibration fold,
    the SVM weights and the per-class sigmoid parameters. Prediction is a sparse matrix product
    plus a few numpy operations, so a call costs little more than vectorising its windows
    (scikit-learn's per-call input validation across 5 x 3 calibrators cost ~20 ms a call).
    """

    def __init__(self, vectorizers: list[TfidfVectorizer], coef: np.ndarray, intercept: np.ndarray,
                 sigmoid_a: np.ndarray, sigmoid_b: np.ndarray, classes: list[str], version: str) -> None:
        self.vectorizers = vectorizers
        self.coef = coef  # (n_features, n_folds * n_classes)
        self.intercept = intercept  # (n_folds * n_classes,)
        self.sigmoid_a = sigmoid_a  # (n_folds * n_classes,)
        self.sigmoid_b = sigmoid_b
        self.classes = classes
        self.version = version

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, version: str) -> StanceModel:
        """Extract a fitted :func:`_build_pipeline` pipeline (same probabilities, less overhead)."""
        vectorizers = [vec for _, vec in pipeline.named_steps["features"].transformer_list]
        for vec in vectorizers:  # the pruned n-grams: introspection only, and most of the file
            if hasattr(vec, "stop_words_"):
                del vec.stop_words_
        calibrated = pipeline.named_steps["clf"]
        classes = [str(c) for c in calibrated.classes_]
        coef, intercept, sig_a, sig_b = [], [], [], []
        for member in calibrated.calibrated_classifiers_:
            if [str(c) for c in member.estimator.classes_] != classes:
                raise ValueError("calibration fold is missing a class")
            coef.append(member.estimator.coef_)
            intercept.append(member.estimator.intercept_)
            sig_a.append([cal.a_ for cal in member.calibrators])
            sig_b.append([cal.b_ for cal in member.calibrators])
        return cls(
            vectorizers,
            np.vstack(coef).T.astype(np.float32),
            np.concatenate(intercept),
            np.ravel(sig_a),
            np.ravel(sig_b),
            classes,
            version,
        )

    @classmethod
    def load_default(cls) -> StanceModel | None:
        """The packaged model in ``nlp/models/stance.joblib``, or None if it is absent."""
        return cls.load(MODEL_PATH) if MODEL_PATH.exists() else None

    @classmethod
    def load(cls, path: str | Path) -> StanceModel:
        """Load a model saved by :meth:`save`."""
        payload = joblib.load(path)
        return cls(**{key: payload[key] for key in ("vectorizers", "coef", "intercept", "sigmoid_a", "sigmoid_b", "classes", "version")})

    def save(self, path: str | Path) -> None:
        """Write the model (joblib, compressed) with the scikit-learn version that fitted it."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        payload = {**vars(self), "sklearn": sklearn.__version__}
        joblib.dump(payload, path, compress=3)

    def predict_proba(self, windows: list[str]) -> np.ndarray:
        """Calibrated class probabilities, columns in ``self.classes`` order (one batched pass).

        Same computation as ``CalibratedClassifierCV(method="sigmoid").predict_proba``: per fold,
        a sigmoid of each one-vs-rest SVM score, normalised over the classes; then the mean
        over the folds.
        """
        scores = np.tile(self.intercept, (len(windows), 1))
        offset = 0
        for vec in self.vectorizers:  # the feature blocks of the FeatureUnion, in order
            block = vec.transform(windows)
            scores += block @ self.coef[offset : offset + block.shape[1]]
            offset += block.shape[1]
        proba = 1.0 / (1.0 + np.exp(self.sigmoid_a * scores + self.sigmoid_b))
        proba = proba.reshape(len(windows), -1, len(self.classes))
        total = proba.sum(axis=2, keepdims=True)
        proba = np.divide(proba, total, out=np.full_like(proba, 1 / len(self.classes)), where=total != 0)
        return proba.mean(axis=1)

    def predict(self, windows: list[str]) -> list[tuple[str, float]]:
        """Label and calibrated probability of that label for each window (one batched call)."""
        if not windows:
            return []
        proba = self.predict_proba(windows)
        best = proba.argmax(axis=1)
        return [(self.classes[j], float(proba[i, j])) for i, j in enumerate(best)]


# --------------------------------------------------------------------------- aggregation

NEUTRAL_WEIGHT = 0.5  # a neutral mention dilutes half as much as a polar mention counts
MIN_POLAR_SHARE = 0.25  # the leading polar label needs a quarter of the weighted vote
CLEAR_MAJORITY = 2.0  # ... and twice the weight of the opposite polar label


def aggregate(preds: list[tuple[str, float]]) -> tuple[str, float]:
    """Document stance from mention stances: a probability-weighted vote.

    Each mention votes for its label with its probability; neutral votes count half
    (``NEUTRAL_WEIGHT``). The leading polar label (critical or supportive) wins if it has at
    least twice the weight of the opposite polar label and at least a quarter of the total
    weighted vote; otherwise the document is neutral (no polar signal, too diluted, or
    contested). The score is the winning label's share of the weighted vote; for a neutral
    outcome it is the share of the neutral votes plus the polar votes that cancel out.
    No mentions gives ``("none", 0.0)``.
    """
    if not preds:
        return "none", 0.0
    weight: Counter[str] = Counter()
    for label, prob in preds:
        weight[label] += prob * (NEUTRAL_WEIGHT if label == "neutral" else 1.0)
    total = sum(weight.values())
    if total <= 0:
        return "neutral", 0.0
    lead, other = sorted(("critical", "supportive"), key=lambda k: -weight[k])
    if weight[lead] > 0 and weight[lead] >= CLEAR_MAJORITY * weight[other] and weight[lead] >= MIN_POLAR_SHARE * total:
        return lead, round(weight[lead] / total, 4)
    return "neutral", round(min(1.0, (weight["neutral"] + 2 * weight[other]) / total), 4)


