"""Evaluate the NLP on hand-annotated passages through the real ``tracker annotate --jsonl`` CLI.

    python bench/nlp_eval.py [PASSAGES.jsonl] [--errors] [--json]

Input: ``tests/fixtures/nlp-eval/passages.jsonl`` (format and annotation rules in that directory's
README.md). Reports LOGINK detection P/R/F1, entity P/R/F1 per type (exact span and lenient
overlap; a predicted entity is right when its type matches and, where the gold has a canonical id,
its id too), stance macro-F1 over critical/supportive/neutral/none, all also per language, plus
the list of errors. The scoring functions are shared with ``tests/test_nlp_eval.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "tests" / "fixtures" / "nlp-eval" / "passages.jsonl"
TYPES = ("PLATFORM", "PORT", "COMPANY", "GOV_ORG", "LEGISLATION")
STANCES = ("critical", "supportive", "neutral", "none")
LOGINK = "platform:logink"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_cli(passages: list[dict], with_lang: bool = True) -> dict[str, dict]:
    """Annotate through ``tracker annotate --jsonl`` (input lines: id, text and, ``with_lang``, lang)."""
    lines = "".join(json.dumps({"id": p["id"], "text": p["text"], **({"lang": p["lang"]} if with_lang else {})},
                               ensure_ascii=False) + "\n" for p in passages)
    exe = shutil.which("tracker")
    cmd = [exe] if exe else [sys.executable, "-c", "from tracker.cli import main; main()"]
    out = subprocess.run([*cmd, "annotate", "--jsonl"], input=lines, text=True, capture_output=True, check=True,
                         cwd=ROOT)
    results = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {r["id"]: r for r in results}


def prf(tp: float, fp: float, fn: float) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"p": p, "r": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "tp": tp, "fp": fp, "fn": fn}


def predicted_stance(result: dict) -> str:
    for t in result.get("topics", []):
        if t["topic"] == "logink":
            return t["stance"] or "none"
    return "none"


def _same(pred: dict, gold: dict, lenient: bool) -> bool:
    if pred["type"] != gold["type"] or (gold["id"] and pred["entity"] != gold["id"]):
        return False
    if lenient:
        return pred["start"] < gold["end"] and gold["start"] < pred["end"]
    return (pred["start"], pred["end"]) == (gold["start"], gold["end"])


def _match(preds: list[dict], golds: list[dict], lenient: bool) -> tuple[list[dict], list[dict]]:
    """Greedy one-to-one matching; returns (unmatched predictions, unmatched gold)."""
    left = list(golds)
    extra = []
    for p in preds:
        hit = next((g for g in left if _same(p, g, lenient)), None)
        if hit is None:
            extra.append(p)
        else:
            left.remove(hit)
    return extra, left


def score(passages: list[dict], results: dict[str, dict]) -> dict:
    """All metrics, overall and per language, plus the errors."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for p in passages:
        groups["all"].append(p)
        groups[p["lang"]].append(p)
    report = {"n": len(passages), "by": {}, "errors": []}
    for name, group in groups.items():
        det = [0, 0, 0]
        ent = {mode: {t: [0, 0, 0] for t in TYPES} for mode in ("exact", "lenient")}
        pairs = []
        for p in group:
            res, gold = results[p["id"]], p["gold"]
            preds = [m for m in res["mentions"] if m["type"] in TYPES]
            found = any(m["entity"] == LOGINK for m in preds)
            det[0] += found and gold["logink"]
            det[1] += found and not gold["logink"]
            det[2] += gold["logink"] and not found
            for mode in ("exact", "lenient"):
                extra, missed = _match(preds, gold["entities"], mode == "lenient")
                for t in TYPES:
                    g = sum(e["type"] == t for e in gold["entities"])
                    fp = sum(e["type"] == t for e in extra)
                    fn = sum(e["type"] == t for e in missed)
                    ent[mode][t][0] += g - fn
                    ent[mode][t][1] += fp
                    ent[mode][t][2] += fn
                if name == "all" and mode == "lenient":
                    report["errors"] += [{"id": p["id"], "kind": "entity FP", "text": e["text"], "type": e["type"],
                                          "entity": e["entity"]} for e in extra]
                    report["errors"] += [{"id": p["id"], "kind": "entity FN", "text": e["text"], "type": e["type"],
                                          "entity": e["id"]} for e in missed]
            st = predicted_stance(res)
            pairs.append((gold["stance"], st))
            if name == "all":
                if found != gold["logink"]:
                    report["errors"].append({"id": p["id"], "kind": "LOGINK " + ("FP" if found else "FN")})
                if st != gold["stance"]:
                    report["errors"].append({"id": p["id"], "kind": "stance", "gold": gold["stance"], "pred": st})
        row = {"n": len(group), "logink": prf(*det)}
        for mode in ("exact", "lenient"):
            per = {t: prf(*ent[mode][t]) for t in TYPES if sum(ent[mode][t])}
            row[f"entities_{mode}"] = per
            row[f"entities_{mode}_micro"] = prf(*[sum(ent[mode][t][i] for t in TYPES) for i in range(3)])
        present = [c for c in STANCES if any(c in pair for pair in pairs)]
        f1s = []
        for c in present:
            tp = sum(g == c and s == c for g, s in pairs)
            fp = sum(s == c and g != c for g, s in pairs)
            fn = sum(g == c and s != c for g, s in pairs)
            f1s.append(prf(tp, fp, fn)["f1"])
        row["stance_macro_f1"] = sum(f1s) / len(f1s) if f1s else 1.0
        row["stance_accuracy"] = sum(g == s for g, s in pairs) / len(pairs)
        report["by"][name] = row
    return report


def format_report(report: dict) -> str:
    lines = [f"passages: {report['n']}", "",
             f"{'group':6} {'n':>4} {'LOGINK P':>8} {'R':>6} {'F1':>6}  {'ent F1 exact':>12} {'lenient':>8}  "
             f"{'stance mF1':>10} {'acc':>6}"]
    for name, row in sorted(report["by"].items(), key=lambda kv: (kv[0] != "all", kv[0])):
        d = row["logink"]
        lines.append(f"{name:6} {row['n']:>4} {d['p']:>8.3f} {d['r']:>6.3f} {d['f1']:>6.3f}  "
                     f"{row['entities_exact_micro']['f1']:>12.3f} {row['entities_lenient_micro']['f1']:>8.3f}  "
                     f"{row['stance_macro_f1']:>10.3f} {row['stance_accuracy']:>6.3f}")
    lines += ["", "entities, all languages (exact | lenient):",
              f"{'type':12} {'gold':>5} {'P':>6} {'R':>6} {'F1':>6} | {'P':>6} {'R':>6} {'F1':>6}"]
    allrow = report["by"]["all"]
    for t in TYPES:
        e, l_ = allrow["entities_exact"].get(t), allrow["entities_lenient"].get(t)
        if e:
            lines.append(f"{t:12} {e['tp'] + e['fn']:>5} {e['p']:>6.3f} {e['r']:>6.3f} {e['f1']:>6.3f} | "
                         f"{l_['p']:>6.3f} {l_['r']:>6.3f} {l_['f1']:>6.3f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--errors", action="store_true", help="list every error")
    ap.add_argument("--json", action="store_true", help="print the whole report as JSON")
    ap.add_argument("--no-lang", action="store_true", help="leave out the lang field (language id decides)")
    args = ap.parse_args()
    passages = load(args.path)
    report = score(passages, run_cli(passages, with_lang=not args.no_lang))
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return
    print(format_report(report))
    if args.errors:
        print(f"\nerrors ({len(report['errors'])}):")
        for e in report["errors"]:
            print("  " + " ".join(f"{k}={v}" for k, v in e.items()))


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # piped into head
        sys.stderr.close()
