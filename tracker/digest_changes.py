"""Two digest sections: "Changed since the last digest" and "Who changed position".

`changed_documents`: every document the subscriber cares about (`db.versions.Relevance`: a watched
US Code section, a followed dossier, a document on one of their topics, within their sources) with a
new version stored since the last digest, and every new text version of such a bill: one line each
with the `tracker.diff` summary ("§ 50309(e)(1) changed: +12 words, -1 word") and a link to the
front end's diff page (``<base_url>/-/diff/<id>?from=1&to=2``, or ``?against=<previous text version>``).

`position_shifts`: for each of the digest's topics, the institutions, countries and outlets whose
stance shifted markedly (`db.shifts`, the rule there) as of now and did not as of the last digest,
so a shift is told once, when it appears; with its counts and the mentions that show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

import sqlite_utils

from db import shifts as shift_data
from db import versions
from tracker.diff import diff_texts
from tracker.digest_view import quoted_sentence, topic_label, web_link

MAX_CHANGED = 20


def relevance(sub, topics: tuple[str, ...] | list[str]) -> versions.Relevance:
    """What of the changed documents the subscriber (`tracker.subscriptions.Subscriber`) is shown:
    the digest's ``topics``, the subscriber's sources and followed dossiers."""
    return versions.Relevance(tuple(topics), tuple(sub.sources), tuple(sub.dossiers))


@dataclass
class ChangedDocument:
    id: int
    title: str
    source: str
    label: str        # "version 1 → 2" or "new text version after H.R. 1724 (Introduced in House)"
    summary: str      # tracker.diff's one line
    diff_link: str
    document_link: str
    changed_at: str


@dataclass
class PositionShift:
    line: str
    kind: str
    actor: str
    topic: str
    examples: list[dict] = field(default_factory=list)  # stance, sentence, link, title, date
    link: str = ""


def changed_documents(db: sqlite_utils.Database, relevance: versions.Relevance, since: str, until: str,
                      base_url: str, link_root: str, limit: int = MAX_CHANGED) -> list[ChangedDocument]:
    """What changed in ``(since, until]`` for the subscriber, newest first, with summaries and diff links."""
    root = base_url.rstrip("/")
    found = []
    for change in versions.changed_since(db, since, until, relevance, limit):
        if change["kind"] == "bill_text":
            texts = versions.pair(db, change["id"], against=change["previous_id"])
            query = {"against": change["previous_id"]}
            label = f"new text version after {change['previous_title'] or 'the previous one'}"
        else:
            texts = versions.pair(db, change["id"], change["from_version"], change["to_version"])
            query = {"from": change["from_version"], "to": change["to_version"]}
            label = f"version {change['from_version']} → {change['to_version']}"
        if texts is None:
            continue
        summary = diff_texts(texts[0]["text"] or "", texts[1]["text"] or "").summary
        found.append(ChangedDocument(change["id"], change["title"] or "(untitled)", change["source"], label, summary,
                                     f"{root}/-/diff/{change['id']}?{urlencode(query)}",
                                     f"{link_root}/documents/{change['id']}", (change["changed_at"] or "")[:10]))
    return found


def _key(shift: shift_data.Shift) -> tuple:
    return shift.kind, shift.actor, shift.topic, shift.verdict.after, shift.verdict.stance


def position_shifts(db: sqlite_utils.Database, topics: tuple[str, ...] | list[str], since: datetime, now: datetime,
                    link_root: str) -> list[PositionShift]:
    """Shifts of the digest's topics found as of ``now`` that were not found as of ``since``."""
    found = []
    for topic in topics:
        before = {_key(s) for s in shift_data.detect(db, topic, since, examples=0)}
        for shift in shift_data.detect(db, topic, now):
            if _key(shift) in before:
                continue
            examples = [{"stance": e["stance"], "sentence": quoted_sentence(e["sentence"] or ""), "title": e["title"],
                         "date": e["date"], "link": f"{link_root}/mentions/{e['id']}", "original": web_link(e["url"])}
                        for e in shift.examples]
            found.append(PositionShift(shift.line, shift.kind, shift.actor, topic_label([topic]), examples,
                                       f"{link_root}/stance_shifts?{urlencode({'topic': topic})}"))
    return found
