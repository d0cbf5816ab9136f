"""Who changed position: institutions, countries and outlets whose stance toward a topic shifted.

For one topic, every document with classified mentions of it (stance critical, neutral or
supportive) published in the last two windows of `WINDOW_DAYS` days (by ``published_at``, else
``first_seen_at``) casts **one vote**: the stance most of its classified mentions take (a tie is
neutral). One document, one vote: the mentions of one report are not independent statements, and a
long report must not outweigh ten short ones. Each vote counts for the document's actors:

- ``institution``: ``documents.institution`` of an official document (not a news article);
- ``country``: ``documents.jurisdiction`` (``INT``, international sources, is not a country);
- ``outlet``: the host of a news article's URL (``www.`` dropped), `url_host`.

**The rule** (`judge`): an actor has shifted when it has at least `MIN_DOCUMENTS` votes in each
window, and the share of critical votes or the share of supportive votes moved by at least
`MIN_SHARE_CHANGE` (30 percentage points) with Fisher's exact test on the 2x2 table (that stance /
the others, previous / last window) giving p < `ALPHA` / 2 (the 5 % level split over the two
shares tested). The shift is named by the most frequent stance in each window ("neutral ->
critical") and the share that moved most. Fisher's test is exact for the small counts a 90-day
window of one port authority gives, where a chi-square approximation is not.

The front end's canned query ``stance_shifts`` uses the same rule through the SQL function
``stance_shift`` (`register_functions`, registered by the front end's plugin); the votes are counted
by `VOTES_SQL`, the same for both.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlite_utils
from scipy.stats import fisher_exact

from db.identities import REPRESENTATIVE

WINDOW_DAYS = 90
MIN_DOCUMENTS = 5
MIN_SHARE_CHANGE = 0.30
ALPHA = 0.05
STANCES = ("critical", "neutral", "supportive")
TESTED = ("critical", "supportive")  # the shares tested; neutral is what is left
NEWS = "news_article"
EXAMPLES = 3  # mentions shown per shift

# One row per document (copies reached through several sources vote once, by their representative): its
# vote on :topic and its window; :previous_start < day <= :until (ISO dates).
VOTES_SQL = f"""
    select d.id, d.doc_type, d.institution, d.jurisdiction, d.url,
           case when substr(coalesce(d.published_at, d.first_seen_at), 1, 10) > :recent_start then 'recent' else 'previous' end,
           case when sum(m.stance = 'critical') > sum(m.stance = 'neutral') and sum(m.stance = 'critical') > sum(m.stance = 'supportive') then 'critical'
                when sum(m.stance = 'supportive') > sum(m.stance = 'neutral') and sum(m.stance = 'supportive') > sum(m.stance = 'critical') then 'supportive'
                else 'neutral' end,
           count(*)
    from mentions m join documents d on d.id = m.document_id
    where m.topic = :topic and m.stance in ('critical', 'neutral', 'supportive') and {REPRESENTATIVE}
      and substr(coalesce(d.published_at, d.first_seen_at), 1, 10) > :previous_start
      and substr(coalesce(d.published_at, d.first_seen_at), 1, 10) <= :until
    group by d.id"""


def url_host(url: str | None) -> str | None:
    """``https://www.example.com/a`` -> ``example.com``; None for anything without a host."""
    try:
        host = urlsplit((url or "").strip()).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def actors(doc_type: str | None, institution: str | None, jurisdiction: str | None, url: str | None) -> list[tuple[str, str]]:
    """The (kind, actor) pairs a document's vote counts for."""
    found = []
    if doc_type != NEWS and institution:
        found.append(("institution", institution))
    if jurisdiction and jurisdiction not in ("INT", ""):
        found.append(("country", jurisdiction))
    if doc_type == NEWS and (host := url_host(url)):
        found.append(("outlet", host))
    return found


@dataclass(frozen=True)
class Verdict:
    """A marked shift: the most frequent stance before and after, the share that moved, Fisher's p."""
    before: str
    after: str
    stance: str
    share_before: float
    share_after: float
    p_value: float

    @property
    def description(self) -> str:
        return (f"{self.before} → {self.after} ({self.stance} {self.share_before:.0%} → {self.share_after:.0%}, "
                f"p = {self.p_value:.3f})")


def _modal(counts: dict[str, int]) -> str:
    best = max(counts.get(s, 0) for s in STANCES)
    leaders = [s for s in STANCES if counts.get(s, 0) == best]
    return "neutral" if len(leaders) > 1 and "neutral" in leaders else leaders[0]


def judge(previous: dict[str, int], recent: dict[str, int]) -> Verdict | None:
    """The rule (module docstring) on two windows' votes by stance; None when no marked shift."""
    n0, n1 = sum(previous.get(s, 0) for s in STANCES), sum(recent.get(s, 0) for s in STANCES)
    if n0 < MIN_DOCUMENTS or n1 < MIN_DOCUMENTS:
        return None
    best = None
    for stance in TESTED:
        k0, k1 = previous.get(stance, 0), recent.get(stance, 0)
        change = k1 / n1 - k0 / n0
        if abs(change) < MIN_SHARE_CHANGE:
            continue
        p = float(fisher_exact([[k0, n0 - k0], [k1, n1 - k1]]).pvalue)
        if p < ALPHA / len(TESTED) and (best is None or abs(change) > abs(best[1])):
            best = (stance, change, k0 / n0, k1 / n1, p)
    if best is None:
        return None
    stance, _, share0, share1, p = best
    return Verdict(_modal(previous), _modal(recent), stance, share0, share1, p)


def stance_shift(pc, pn, ps, rc, rn, rs) -> str | None:
    """`judge` as an SQL function: previous critical/neutral/supportive votes, then the last window's;
    the shift's description, or NULL."""
    verdict = judge({"critical": pc or 0, "neutral": pn or 0, "supportive": ps or 0},
                    {"critical": rc or 0, "neutral": rn or 0, "supportive": rs or 0})
    return verdict.description if verdict else None


def register_functions(conn: sqlite3.Connection) -> None:
    """``stance_shift(...)`` and ``url_host(url)`` in SQL (the canned query ``stance_shifts``)."""
    conn.create_function("stance_shift", 6, stance_shift, deterministic=True)
    conn.create_function("url_host", 1, url_host, deterministic=True)


@dataclass
class Shift:
    kind: str           # institution, country, outlet
    actor: str
    topic: str
    verdict: Verdict
    previous: dict[str, int]   # votes (documents) by stance, previous window
    recent: dict[str, int]     # ... last window
    mentions: dict[str, int]   # classified mentions in each window: {"previous": n, "recent": n}
    examples: list[dict] = field(default_factory=list)  # mentions of the new stance in the last window

    @property
    def line(self) -> str:
        """``Port of Rotterdam (institution): neutral → critical (critical 0% → 83%, p = 0.002); documents
        critical/neutral/supportive 0/6/0 → 5/1/0``."""
        def votes(c: dict) -> str:
            return "/".join(str(c.get(s, 0)) for s in STANCES)
        return f"{self.actor} ({self.kind}): {self.verdict.description}; documents critical/neutral/supportive {votes(self.previous)} → {votes(self.recent)}"


def windows(now: datetime) -> dict[str, str]:
    """The ISO dates bounding the two windows ending at ``now``."""
    return {"until": now.date().isoformat(), "recent_start": (now - timedelta(days=WINDOW_DAYS)).date().isoformat(),
            "previous_start": (now - timedelta(days=2 * WINDOW_DAYS)).date().isoformat()}


def detect(db: sqlite_utils.Database, topic: str, now: datetime, examples: int = EXAMPLES) -> list[Shift]:
    """Every actor whose stance toward ``topic`` shifted markedly in the window ending at ``now``
    (`db.clock`), the largest move first, with counts and up to ``examples`` mentions that show it."""
    params = {"topic": topic, **windows(now)}
    votes: dict[tuple[str, str], dict[str, Counter]] = defaultdict(lambda: {"previous": Counter(), "recent": Counter()})
    mentions: dict[tuple[str, str], Counter] = defaultdict(Counter)
    documents: dict[tuple[str, str], list[tuple[int, str, str]]] = defaultdict(list)
    for doc_id, doc_type, institution, jurisdiction, url, window, vote, count in db.execute(VOTES_SQL, params).fetchall():
        for key in actors(doc_type, institution, jurisdiction, url):
            votes[key][window][vote] += 1
            mentions[key][window] += count
            documents[key].append((doc_id, window, vote))
    shifts = []
    for key, counted in votes.items():
        verdict = judge(counted["previous"], counted["recent"])
        if verdict is None:
            continue
        shift = Shift(key[0], key[1], topic, verdict, dict(counted["previous"]), dict(counted["recent"]), dict(mentions[key]))
        shown = [d for d, w, v in documents[key] if w == "recent" and v == verdict.after][:50]
        shift.examples = _examples(db, topic, shown, verdict.after, examples)
        shifts.append(shift)
    shifts.sort(key=lambda s: (-abs(s.verdict.share_after - s.verdict.share_before), s.kind, s.actor))
    return shifts


def _examples(db: sqlite_utils.Database, topic: str, doc_ids: list[int], stance: str, limit: int) -> list[dict]:
    if not doc_ids:
        return []
    rows = db.execute(
        "select m.id, m.document_id, m.sentence, m.stance, d.title, substr(coalesce(d.published_at, d.first_seen_at), 1, 10), d.url "
        f"from mentions m join documents d on d.id = m.document_id where m.topic = ? and m.stance = ? "
        f"and m.document_id in ({', '.join('?' for _ in doc_ids)}) "
        "order by coalesce(d.published_at, d.first_seen_at) desc, m.id limit ?", [topic, stance, *doc_ids, limit * 4]).fetchall()
    seen, picked = set(), []
    for r in rows:  # one sentence per document first
        if r[1] in seen:
            continue
        seen.add(r[1])
        picked.append(dict(zip(("id", "document_id", "sentence", "stance", "title", "date", "url"), r)))
        if len(picked) >= limit:
            break
    return picked
