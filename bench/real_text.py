"""Real US legislative English for the NLP benchmarks: public-domain federal texts the project already holds.

Read from the recorded examples in ``tests/fixtures`` (the documents the congress-gov, govinfo,
federal-register and uscode sources extract: their ``*.expected.json`` texts) and, when the
sibling folder ``../shared/fixtures/us`` exists, from its bill, statute, Congressional Record and
Federal Register files (HTML and XML reduced to their text with lxml, JSON reduced to its long
string values). Nothing is generated. Documents shorter than ``MIN_WORDS`` words are left out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lxml import etree, html

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_SOURCES = ("congress-gov", "govinfo", "federal-register", "uscode")
SHARED_US = ROOT.parent / "shared" / "fixtures" / "us"
MIN_WORDS = 40
_TAG = re.compile(r"<[^>]+>")


def _strings(value, out: list[str]) -> None:
    """Every string in a JSON value that reads like prose (``MIN_WORDS`` words or more)."""
    if isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)
    elif isinstance(value, str) and len(value.split()) >= MIN_WORDS:
        out.append(html.fromstring(value).text_content() if _TAG.search(value) else value)


def _fixture_texts() -> list[str]:
    out: list[str] = []
    for source in FIXTURE_SOURCES:
        for path in sorted((ROOT / "tests" / "fixtures" / source).glob("**/*.expected.json")):
            records = json.loads(path.read_text(encoding="utf-8"))
            for record in records if isinstance(records, list) else [records]:
                text = record.get("text") if isinstance(record, dict) else None
                if isinstance(text, str):
                    out.append(text)
    return out


def _shared_texts() -> list[str]:
    out: list[str] = []
    if not SHARED_US.is_dir():
        return out
    for path in sorted(SHARED_US.rglob("*")):
        name = path.name.lower()
        if not path.is_file() or name == "sources.md":
            continue
        data = path.read_bytes()
        if name.endswith((".htm", ".html")):
            out.append(html.fromstring(data).text_content())
        elif name.endswith(".xml"):
            out.append(" ".join(etree.fromstring(data, etree.XMLParser(recover=True)).itertext()))
        elif name.endswith(".json"):
            _strings(json.loads(data), out)
        elif name.endswith(".txt"):
            out.append(data.decode("utf-8", "replace"))
    return out


def load() -> list[str]:
    """The real legislative texts (fixtures first, then ../shared when present), each at least MIN_WORDS words."""
    seen: set[str] = set()
    texts = []
    for text in _fixture_texts() + _shared_texts():
        text = text.strip()
        if len(text.split()) >= MIN_WORDS and text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


if __name__ == "__main__":
    docs = load()
    print(f"{len(docs)} documents, {sum(len(t.split()) for t in docs):,} words")
