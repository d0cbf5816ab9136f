"""Build ``stance.jsonl`` from the hand-written frame files in ``frames/``.

The frames are the labelled data: every window was written by hand (or copied from a
public-domain US statute/bill, see ``CITATIONS``). This script only parses them, computes
the target offsets, assigns ids, and fixes the train/test split (group-aware and
stratified, see :func:`nlp.stance.assign_split`). Run it after editing a frame file::

    python -m nlp.stance_data.build_dataset

Frame format (one file per language, ``frames/<lang>.txt``)::

    ## <register> [src=<citation key>] [grp=<group key>]
    <c|s|n>[/<hard case>[,<hard case>]] <text with the target marked as [[target]]>

A ``##`` header starts a block: one passage or theme. All windows of a block share a split
group; blocks with the same ``grp`` key (for example, the same theme written in several
languages) share one group, so near-parallel texts never straddle the train/test boundary.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from nlp.stance import DATA_PATH, assign_split

FRAMES_DIR = Path(__file__).parent / "frames"

LABELS = {"c": "critical", "s": "supportive", "n": "neutral"}

HARD_CASES = {
    "reported_speech",
    "quoted_defence",
    "hostile_fact",
    "statute_unnamed",
    "state_media",
    "neutral_description",
    "negation",
}

CITATIONS = {
    "usc50309": (
        "46 U.S.C. 50309, Securing logistics information data of the United States "
        "(uscode.house.gov, laws in effect on 4 November 2024); US government work, "
        "public domain (17 U.S.C. 105)"
    ),
    "s939": (
        "S. 939, 118th Congress, Securing Maritime Data from Communist China Act of 2023, "
        "introduced 22 March 2023 (GPO, govinfo BILLS-118s939is); public domain"
    ),
    "ep_e005359_2018": (
        "European Parliament, answer given by Vice-President Mogherini on behalf of the European "
        "Commission to question E-005359/2018 (9 January 2019); (c) European Union, 2019 - Source: "
        "European Parliament (reuse authorised with acknowledgement of the source)"
    ),
    "ep_e001464_2021": (
        "European Parliament, question for written answer E-001464/2021 (Tom Berendsen, PPE), "
        "17 March 2021, footnote markers removed; (c) European Union, 2021 - Source: European "
        "Parliament (reuse authorised with acknowledgement of the source)"
    ),
    "ep_e004810_2025": (
        "European Parliament, question for written answer E-004810/2025 (Piotr Müller, ECR), "
        "4 December 2025; (c) European Union, 2025 - Source: European Parliament (reuse authorised "
        "with acknowledgement of the source)"
    ),
    "hr6228": (
        "H.R. 6228, 118th Congress, introduced 3 November 2023 (GPO, govinfo BILLS-118hr6228ih); "
        "public domain"
    ),
}

_LINE = re.compile(r"^([csn])(?:/([a-z_,]+))?\s+(.+)$")
_TARGET = re.compile(r"\[\[(.+?)\]\]")


def _parse_header(line: str) -> dict[str, str]:
    parts = line[2:].split()
    header = {"register": parts[0]}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        header[key] = value
    return header


def parse_frames(path: Path) -> list[dict]:
    """Parse one frame file into dataset records (without ``split``)."""
    lang = path.stem
    records: list[dict] = []
    header: dict[str, str] | None = None
    block = 0
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        if line.startswith("## "):
            header = _parse_header(line)
            block += 1
            continue
        match = _LINE.match(line)
        if match is None or header is None:
            raise ValueError(f"{path.name}:{lineno}: cannot parse line")
        label_code, tags, marked = match.groups()
        targets = _TARGET.findall(marked)
        if len(targets) != 1:
            raise ValueError(f"{path.name}:{lineno}: expected exactly one [[target]]")
        hard = tags.split(",") if tags else []
        unknown = set(hard) - HARD_CASES
        if unknown:
            raise ValueError(f"{path.name}:{lineno}: unknown hard case {sorted(unknown)}")
        start = marked.index("[[")
        target = targets[0]
        text = marked.replace("[[", "", 1).replace("]]", "", 1)
        src = header.get("src")
        records.append(
            {
                "id": f"{lang}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]}",
                "lang": lang,
                "text": text,
                "target": target,
                "start": start,
                "end": start + len(target),
                "label": LABELS[label_code],
                "source": CITATIONS[src] if src else "project-written",
                "hard_case": ",".join(hard) or None,
                "register": header["register"],
                "group": header.get("grp") or f"{lang}-block{block:02d}",
            }
        )
    return records


def build(out_path: Path = DATA_PATH) -> list[dict]:
    """Parse every frame file, assign the split and write the JSONL dataset."""
    records = [rec for path in sorted(FRAMES_DIR.glob("*.txt")) for rec in parse_frames(path)]
    texts = [rec["text"] for rec in records]
    if len(set(texts)) != len(texts):
        dupes = sorted({t for t in texts if texts.count(t) > 1})
        raise ValueError(f"duplicate texts: {dupes[:3]}")
    assign_split(records)
    with open(out_path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return records


if __name__ == "__main__":
    built = build()
    print(f"wrote {len(built)} windows to {DATA_PATH}")
