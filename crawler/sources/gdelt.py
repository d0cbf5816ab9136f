"""gdelt: the GDELT DOC 2.0 API (https://api.gdeltproject.org/api/v2), article lists per topic, then
each article fetched and extracted like a feed entry (`crawler.articles`).

Discovery: one ``/doc/doc?mode=artlist&format=json&maxrecords=250&sort=DateAsc`` query per topic
with the topic's terms OR-ed (``(LOGINK OR "NEAL-NET" OR ...)``, terms with spaces or punctuation
quoted; terms without Latin letters are left out: DOC searches English text and the English
machine translation of other languages) and ``startdatetime``/``enddatetime`` (``YYYYMMDDHHMMSS``,
UTC) from the watermark (the largest ``seendate`` stored, minus ``overlap_hours`` for GDELT's
ingestion lag; already stored or judged URLs are not fetched again). The API only covers the last three months, so the window is capped there.
A full page (250 records) is followed by a query starting at its last ``seendate``. Queries are at
least ``query_interval_s`` (10 s) apart: GDELT throttles per IP and the penalty accumulates.

Quirks: errors arrive as HTTP 200 ``text/plain`` sentences ("A maximum of 250 records can be
returned.", "The specified phrase is too short.") and are raised as `ParseError` (the run fails,
the watermark stays); no results is ``{}``; the JSON sometimes holds raw control characters or
invalid escapes (sanitised before parsing); titles are tokenised with spaces before punctuation
(repaired); ``seendate`` (``20260709T120000Z``) is when GDELT saw the article, not its
publication date (kept in metadata and used as the item watermark; the page's own date wins).
429 answers are retried by the client honouring Retry-After (capped); beyond the retries the run
fails and the watermark stays. ``artlist`` has no body, author or date: the article page is
fetched (robots.txt honoured) and stored as its title when it cannot be read.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from crawler.articles import Lead, collect, parse_article
from crawler.base import Item, Source, Topic
from crawler.errors import ParseError
from crawler.http import Fetched
from crawler.records import DocumentRecord
from crawler.urls import canonical_url
from db import clock

PARSER_VERSION = "1"
MAX_RECORDS = 250
WINDOW = timedelta(days=90)
LANGUAGES = {
    "english": "en", "chinese": "zh", "german": "de", "french": "fr", "spanish": "es", "dutch": "nl",
    "italian": "it", "portuguese": "pt", "russian": "ru", "japanese": "ja", "korean": "ko", "arabic": "ar",
    "greek": "el", "polish": "pl", "swedish": "sv", "danish": "da", "norwegian": "no", "finnish": "fi",
    "turkish": "tr", "romanian": "ro", "czech": "cs", "hungarian": "hu", "bulgarian": "bg", "croatian": "hr",
    "lithuanian": "lt", "latvian": "lv", "estonian": "et", "slovenian": "sl", "slovak": "sk", "ukrainian": "uk",
    "vietnamese": "vi", "indonesian": "id", "malay": "ms", "thai": "th", "hindi": "hi", "hebrew": "he",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BAD_ESCAPE = re.compile(r'\\(?!["\\/bfnrtu])')


def gdelt_time(moment: datetime) -> str:
    """``YYYYMMDDHHMMSS`` in UTC."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")


def seendate_iso(value: str | None) -> str | None:
    """``20260709T120000Z`` -> ``2026-07-09T12:00:00+00:00`` (None when malformed)."""
    try:
        return datetime.strptime(value or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).isoformat()
    except ValueError:
        return None


def fix_title(title: str) -> str:
    """Undo GDELT's tokenised punctuation: ``Serrano , the port`` -> ``Serrano, the port``."""
    title = re.sub(r"\s+([,.;:!?%)\]’”])", r"\1", title or "")
    title = re.sub(r"([(\[“‘])\s+", r"\1", title)
    title = re.sub(r"\s+(['’]s)\b", r"\1", title)
    return " ".join(title.split())


def build_query(topic: Topic) -> str | None:
    """The DOC query of a topic: its terms OR-ed, quoted where they hold anything but letters and
    digits, parenthesised when more than one; None when no term is searchable."""
    terms = []
    for term in dict.fromkeys(t.strip() for t in topic.terms):
        if not any(ch.isascii() and ch.isalpha() for ch in term):
            continue
        terms.append(term if re.fullmatch(r"[A-Za-z0-9]+", term) else '"' + term.replace('"', "") + '"')
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def parse_artlist(response: Fetched) -> list[dict]:
    """The ``articles`` of an artlist JSON response; GDELT's plain-text errors and non-JSON bodies raise
    `ParseError`, illegal control characters and bad escapes are sanitised first."""
    body = response.content.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    if not body.startswith("{"):
        message = " ".join(body.split())[:200] or "empty body"
        raise ParseError(f"GDELT answered with an error instead of JSON: {message}", response.url)
    try:
        payload = json.loads(_BAD_ESCAPE.sub(r"\\\\", _CONTROL.sub(" ", body)), strict=False)
    except ValueError as exc:
        raise ParseError(f"malformed JSON: {exc}", response.url) from None
    if not isinstance(payload, dict):
        raise ParseError("expected a JSON object", response.url)
    articles = payload.get("articles", [])
    if not isinstance(articles, list):
        raise ParseError("'articles' is not a list", response.url)
    return [a for a in articles if isinstance(a, dict) and str(a.get("url", "")).startswith(("http://", "https://"))]


def lead_of(article: dict) -> Lead:
    """An announced article from one artlist record (``seendate``, domain, language, country kept)."""
    language = (article.get("language") or "").strip()
    return Lead(
        url=article["url"].strip(),
        title=fix_title(article.get("title") or ""),
        outlet=article.get("domain") or None,
        language=LANGUAGES.get(language.lower()),
        metadata={
            "seendate": seendate_iso(article.get("seendate")), "domain": article.get("domain"),
            "gdelt_language": language or None, "source_country": article.get("sourcecountry") or None,
            "url_mobile": article.get("url_mobile") or None, "social_image": article.get("socialimage") or None,
        },
    )


def parse_artlist_example(path: Path) -> list[DocumentRecord]:
    """Records of a recorded artlist whose article pages lie in ``files/<last path segment>.html``."""
    response = Fetched(url=f"https://api.gdeltproject.org/api/v2/doc/doc#{path.name}", status=200,
                       headers={"content-type": "application/json"}, content=path.read_bytes())
    records = []
    for article in parse_artlist(response):
        lead = lead_of(article)
        page = path.parent / "files" / f"{canonical_url(lead.url).rsplit('/', 1)[-1]}.html"
        if page.exists():
            record = parse_article(page.read_bytes(), lead.url, lead, Gdelt.id, PARSER_VERSION,
                                   fetched_at="2026-03-06T00:00:00+00:00")
            records.append(_with_seendate(record, lead))
    return records


def _with_seendate(record: DocumentRecord, lead: Lead) -> DocumentRecord:
    if not record.published_at and lead.metadata.get("seendate"):
        record.published_at = lead.metadata["seendate"]
        record.metadata["published_from"] = "seendate"
    return record


class Gdelt(Source):
    """Articles GDELT lists for the topic terms, with their extracted main text."""

    id = "gdelt"
    title = "GDELT DOC 2.0 (news article lists)"
    jurisdiction = "INT"
    institution = None
    kind = "api"
    default_base_url = "https://api.gdeltproject.org/api/v2"
    default_interval = "6h"
    parser_version = PARSER_VERSION

    def __init__(self, ctx):
        super().__init__(ctx)
        self._last_query: float | None = None

    @classmethod
    def parse_example(cls, path: Path) -> list[DocumentRecord]:
        return parse_artlist_example(path)

    def _window(self, now: datetime) -> datetime:
        earliest = now - WINDOW
        since = self.ctx.since
        if not since:
            return earliest
        try:
            start = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise ParseError(f"cannot read the watermark/--since {since!r}") from None
        start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        overlap = timedelta(hours=float(self.ctx.settings.options.get("overlap_hours", 2)))
        return max(start - overlap, earliest)

    def _query(self, query: str, start: datetime, end: datetime) -> list[dict]:
        interval = float(self.ctx.settings.options.get("query_interval_s", 10))
        if self._last_query is not None:
            time.sleep(max(0.0, self._last_query + interval - time.monotonic()))
        params = {
            "query": query, "mode": "artlist", "format": "json", "maxrecords": MAX_RECORDS, "sort": "DateAsc",
            "startdatetime": gdelt_time(start), "enddatetime": gdelt_time(end),
        }
        try:
            response = self.ctx.client.get(f"{self.base_url}/doc/doc", params=params, accept="application/json")
        finally:
            self._last_query = time.monotonic()
        return parse_artlist(response)

    def discover(self) -> Iterator[Item]:
        now = clock.now()
        seen: set[str] = set()
        for topic in self.ctx.topics:
            query = build_query(topic)
            if query is None:
                self.ctx.log and self.ctx.log.warning("topic %s has no term GDELT can search", topic.name)
                continue
            start = self._window(now)
            while True:
                articles = self._query(query, start, now)
                for article in articles:
                    lead = lead_of(article)
                    key = canonical_url(lead.url)
                    if key in seen:
                        continue
                    seen.add(key)
                    yield Item(key=key, url=lead.url, data={"lead": lead}, watermark=lead.metadata["seendate"])
                last = max((seendate_iso(a.get("seendate")) or "" for a in articles), default="")
                if len(articles) < MAX_RECORDS or not last or datetime.fromisoformat(last) <= start:
                    if len(articles) >= MAX_RECORDS:
                        self.ctx.log and self.ctx.log.warning("more than %d articles within one second; some are missed", MAX_RECORDS)
                    break
                start = datetime.fromisoformat(last)

    def fetch(self, item: Item) -> Iterator[DocumentRecord]:
        lead = item.data["lead"]
        for record in collect(self.ctx, self.id, self.parser_version, lead):
            yield _with_seendate(record, lead)


SOURCE = Gdelt
