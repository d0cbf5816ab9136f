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

from crawler.articles import Lead, collect
from crawler.base import Item, Option, Source, Topic
from crawler.errors import ParseError
from crawler.http import Fetched
from crawler.records import DocumentRecord
from crawler.urls import canonical_url
from db import clock

MAX_RECORDS = 250
WINDOW = timedelta(days=90)
# GDELT's language names (its DOC ``language`` field and ``sourcelang:`` values, the 65 languages of
# GDELT Translingual plus the spellings seen in artlist records) -> ISO 639-1 (639-3 where none).
LANGUAGES = {
    "afrikaans": "af", "albanian": "sq", "amharic": "am", "arabic": "ar", "armenian": "hy", "azerbaijani": "az",
    "basque": "eu", "belarusian": "be", "bengali": "bn", "bosnian": "bs", "bulgarian": "bg", "burmese": "my",
    "catalan": "ca", "chinese": "zh", "croatian": "hr", "czech": "cs", "danish": "da", "dutch": "nl",
    "english": "en", "esperanto": "eo", "estonian": "et", "filipino": "tl", "finnish": "fi", "french": "fr",
    "galician": "gl", "georgian": "ka", "german": "de", "greek": "el", "gujarati": "gu", "haitian": "ht",
    "hausa": "ha", "hebrew": "he", "hindi": "hi", "hungarian": "hu", "icelandic": "is", "indonesian": "id",
    "irish": "ga", "italian": "it", "japanese": "ja", "javanese": "jv", "kannada": "kn", "kazakh": "kk",
    "khmer": "km", "korean": "ko", "kurdish": "ku", "kyrgyz": "ky", "lao": "lo", "latin": "la", "latvian": "lv",
    "lithuanian": "lt", "luxembourgish": "lb", "macedonian": "mk", "malagasy": "mg", "malay": "ms",
    "malayalam": "ml", "maltese": "mt", "maori": "mi", "marathi": "mr", "mongolian": "mn", "nepali": "ne",
    "norwegian": "no", "norwegian nynorsk": "nn", "norwegiannynorsk": "nn", "norwegian bokmal": "nb",
    "pashto": "ps", "persian": "fa", "farsi": "fa", "polish": "pl", "portuguese": "pt", "punjabi": "pa",
    "romanian": "ro", "russian": "ru", "serbian": "sr", "sinhalese": "si", "sinhala": "si", "slovak": "sk",
    "slovenian": "sl", "slovene": "sl", "somali": "so", "spanish": "es", "swahili": "sw", "swedish": "sv",
    "tagalog": "tl", "tajik": "tg", "tamil": "ta", "tatar": "tt", "telugu": "te", "thai": "th", "tibetan": "bo",
    "turkish": "tr", "turkmen": "tk", "ukrainian": "uk", "urdu": "ur", "uyghur": "ug", "uzbek": "uz",
    "vietnamese": "vi", "welsh": "cy", "yiddish": "yi", "yoruba": "yo", "zulu": "zu",
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


def language_code(name: str | None) -> str | None:
    """ISO code of a GDELT language name (``Malayalam`` -> ``ml``); None for none or an unknown name."""
    key = " ".join((name or "").replace("_", " ").split()).lower()
    return LANGUAGES.get(key) or LANGUAGES.get(key.replace(" ", ""))


def lead_of(article: dict) -> Lead:
    """An announced article from one artlist record (``seendate``, domain, language, country kept).
    A language name outside the map is kept in metadata (``gdelt_language``) with a warning."""
    language = (article.get("language") or "").strip()
    code = language_code(language)
    return Lead(
        url=article["url"].strip(),
        title=fix_title(article.get("title") or ""),
        outlet=article.get("domain") or None,
        language=code,
        warnings=[f"unknown GDELT language {language!r}: language identified from the text"] if language and not code else [],
        metadata={
            "seendate": seendate_iso(article.get("seendate")), "domain": article.get("domain"),
            "gdelt_language": language or None, "source_country": article.get("sourcecountry") or None,
            "url_mobile": article.get("url_mobile") or None, "social_image": article.get("socialimage") or None,
        },
    )


def with_seendate(record: DocumentRecord, lead: Lead) -> DocumentRecord:
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
    parser_version = "1"
    options = {
        "query_interval_s": Option(10.0, "seconds between two DOC queries (GDELT throttles per IP)", minimum=0),
        "overlap_hours": Option(2.0, "hours re-read before the seendate watermark", minimum=0),
    }

    def __init__(self, ctx):
        super().__init__(ctx)
        self._last_query: float | None = None

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
        overlap = timedelta(hours=self.option("overlap_hours"))
        return max(start - overlap, earliest)

    def _query(self, query: str, start: datetime, end: datetime) -> list[dict]:
        interval = self.option("query_interval_s")
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

    def _articles(self, query: str, start: datetime, now: datetime) -> Iterator[dict]:
        """Every article of the query since ``start``: a full page (250 records) is followed by a
        query from its last ``seendate`` (the cursor; one that does not move is a loop)."""
        def page(cursor: datetime) -> tuple[list[dict], datetime | None]:
            articles = self._query(query, cursor, now)
            last = max((seendate_iso(a.get("seendate")) or "" for a in articles), default="")
            return articles, datetime.fromisoformat(last) if len(articles) >= MAX_RECORDS and last else None

        return self.pages(start, page, f"artlist {query}")

    def discover(self) -> Iterator[Item]:
        now = clock.now()
        seen: set[str] = set()
        for topic in self.ctx.topics:
            query = build_query(topic)
            if query is None:
                self.ctx.log and self.ctx.log.warning("topic %s has no term GDELT can search", topic.name)
                continue
            for article in self._articles(query, self._window(now), now):
                lead = lead_of(article)
                key = canonical_url(lead.url)
                if key in seen:
                    continue
                seen.add(key)
                yield Item(key=key, url=lead.url, data={"lead": lead}, watermark=lead.metadata["seendate"])

    def fetch(self, item: Item) -> Iterator[DocumentRecord]:
        lead = item.data["lead"]
        for record in collect(self.ctx, lead):
            yield with_seendate(record, lead)


SOURCE = Gdelt
