"""The real-text stance corpus: reading it, checking each line, joining the adjudicated labels.

The corpus (``[nlp] stance_corpus``, by default ``../shared/corpora/stance-real``) is a folder of
JSONL files kept *outside* the repository: real passages with one marked target mention each
(fields ``id``, ``text``, ``lang``, ``target``, ``target_start``, ``target_end``,
``target_entity``, ``stance`` (the provisional label), ``hard_case``, ``url``, ...). The
repository holds only the adjudicated labels, keyed by passage id, in
``nlp/stance_data/real_labels.jsonl`` (``{"id", "stance", "agree", "reason"?}``); the label
used for training is always the adjudicated one, and a line without one is skipped.

:func:`read_corpus` never raises on a bad line: it skips it and returns a one-line problem naming
the file and line number (no target span, offsets that do not match the text, an unknown label,
bad JSON, a duplicate id). Records come out in the shape of the project's own dataset
(``text``, ``start``, ``end``, ``label``, ``lang``, ``group``, ...) plus ``url`` and
``target_entity``; ``group`` joins every page with its mirrors (see :func:`page_groups`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LABEL_NAMES = ("critical", "neutral", "supportive")
LABELS_PATH = Path(__file__).parent / "stance_data" / "real_labels.jsonl"
DEFAULT_CORPUS = Path("..") / "shared" / "corpora" / "stance-real"


class CorpusMissing(FileNotFoundError):
    """The configured corpus folder (or file) does not exist."""


@dataclass
class Corpus:
    """Valid, labelled records plus the problems met on the way (``"file:line: reason"``)."""

    records: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unlabelled: int = 0
    disagreements: int = 0


def corpus_files(path: str | Path) -> list[Path]:
    """The JSONL files of a corpus folder (sorted), or the file itself; raises CorpusMissing."""
    path = Path(path)
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else []
    if not files:
        raise CorpusMissing(f"stance corpus not found: {path} (no *.jsonl there)")
    return files


def load_labels(path: str | Path | None = None) -> tuple[dict[str, dict], list[str]]:
    """Adjudicated labels by passage id, and the problems (bad lines are skipped)."""
    path = Path(path) if path else LABELS_PATH
    labels: dict[str, dict] = {}
    problems: list[str] = []
    if not path.exists():
        return labels, [f"{path}: no adjudicated labels file"]
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{n}: not JSON ({exc.msg})")
            continue
        if row.get("stance") not in LABEL_NAMES or not row.get("id"):
            problems.append(f"{path}:{n}: unknown label {row.get('stance')!r} (or no id)")
            continue
        labels[row["id"]] = row
    return labels, problems


def _check(row: object) -> str | None:
    """Why a corpus line cannot be used, or None."""
    if not isinstance(row, dict):
        return "not a JSON object"
    if not isinstance(row.get("id"), str) or not row["id"]:
        return "no id"
    text, target = row.get("text"), row.get("target")
    start, end = row.get("target_start"), row.get("target_end")
    if not isinstance(text, str) or not text.strip():
        return "no text"
    if not isinstance(target, str) or not target or not isinstance(start, int) or not isinstance(end, int):
        return "no target span (target, target_start, target_end)"
    if not 0 <= start < end <= len(text) or text[start:end] != target:
        return f"target offsets {start}:{end} do not match the text (expected {target!r})"
    if row.get("stance") not in LABEL_NAMES:
        return f"unknown label {row.get('stance')!r}"
    return None


def _outlet(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _slug(url: str) -> str:
    """The last meaningful path segment: mirrors of one story usually keep it."""
    parts = [p for p in urlsplit(url).path.split("/") if p and not p.isdigit()]
    last = re.sub(r"\.(s?html?|php|aspx?)$", "", parts[-1].lower()) if parts else ""
    return last if len(last) >= 20 else ""


def page_groups(records: list[dict]) -> dict[str, str]:
    """Split group per url: a page, joined with its mirrors (same long slug on another host, or
    an identical passage text on another page), so a story is never on both sides of a split."""
    parent: dict[str, str] = {}

    def find(u: str) -> str:
        while parent.setdefault(u, u) != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    seen: dict[str, str] = {}
    for rec in records:
        find(rec["url"])
        for key in (_slug(rec["url"]), "text:" + re.sub(r"\W+", "", rec["text"].lower())):
            if key and key != "text:":
                if key in seen:
                    union(rec["url"], seen[key])
                else:
                    seen[key] = rec["url"]
    return {url: "page:" + find(url) for url in parent}


def read_corpus(path: str | Path, labels_path: str | Path | None = None) -> Corpus:
    """Read every corpus file, check each line, and join the adjudicated labels by id.

    Raises :class:`CorpusMissing` when ``path`` does not exist. A bad line is skipped and named
    in ``Corpus.problems``; a valid line without an adjudicated label is counted in
    ``unlabelled`` and skipped (nothing is trained on a provisional label).
    """
    labels, problems = load_labels(labels_path)
    corpus = Corpus(problems=problems)
    seen: set[str] = set()
    for file in corpus_files(path):
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                corpus.problems.append(f"{file}:{n}: not JSON ({exc.msg}); line skipped")
                continue
            reason = _check(row) or ("duplicate id " + row["id"] if row["id"] in seen else None)
            if reason:
                corpus.problems.append(f"{file}:{n}: {reason}; line skipped")
                continue
            seen.add(row["id"])
            label = labels.get(row["id"])
            if label is None:
                corpus.unlabelled += 1
                continue
            corpus.disagreements += label["stance"] != row["stance"]
            hard = row.get("hard_case") or []
            corpus.records.append({
                "id": row["id"], "lang": row.get("lang") or "en", "text": row["text"], "target": row["target"],
                "start": row["target_start"], "end": row["target_end"], "label": label["stance"],
                "provisional": row["stance"], "source": "real",
                "hard_case": ",".join(hard) if isinstance(hard, list) else (hard or None),
                "target_entity": row.get("target_entity") or row["target"], "url": row.get("url") or file.name,
                "outlet": _outlet(row.get("url") or ""), "source_kind": row.get("source_kind"),
                "confidence": row.get("confidence") if label.get("agree", True) else "adjudicated",
            })
    groups = page_groups(corpus.records)
    for rec in corpus.records:
        rec["group"] = groups[rec["url"]]
    return corpus


def target_family(entity: str) -> str:
    """The main target a ``target_entity`` belongs to, for cross-target evaluation: its first
    word(s) before any parenthesis or slash ("ZPMC (Chinese port cranes)" -> "zpmc",
    "Cainiao/Alibaba" -> "cainiao", "Chancay port (COSCO)" -> "chancay port")."""
    head = re.split(r"[(/]", entity, maxsplit=1)[0].strip().lower()
    return head or entity.lower()
