"""News articles shared by `news-rss` and `gdelt`: fetch politely, extract the main text, fall back to
the announced snippet, and build the document record.

A feed entry or a GDELT record announces a `Lead` (URL, title, snippet, date, outlet). `collect`
turns it into at most one `DocumentRecord`:

1. the URL is unwrapped (Google Alerts/News redirects) and canonicalised (`crawler.urls`); a URL
   already fetched during this ``tracker crawl`` (``ctx.crawl_urls``, shared by news-rss and gdelt:
   the same article announced by a feed and by GDELT, through a redirect wrapper or with tracking
   parameters, is fetched once), already stored (``ctx.known``) or already judged
   (``ctx.seen_url``: irrelevant, duplicate, or stored by another source) is not fetched again
   unless ``--full``;
2. the page is fetched through the shared client with robots.txt honoured (``robots=True``; the
   client spaces requests per host and obeys Crawl-delay);
3. trafilatura extracts main text and metadata (title, author, date, site name) from the fetched
   HTML (`parse_article`, pure; trafilatura never fetches); the page's ``<link rel=canonical>``
   becomes the document's key when it points to the same site;
4. a paywalled page (schema.org ``isAccessibleForFree: false``, ``content_tier=locked``, paywall
   markup, HTTP 401/402/403/451), a page robots.txt forbids, a gone page (404/410), a page that
   cannot be reached (5xx or 429 after the client's retries, timeout, connection failure,
   challenge page) or a failed extraction is stored as the announced snippet (else the title),
   flagged ``{"extraction": "snippet", "paywalled": ..., "snippet_reason": ...}`` with a warning,
   never as an empty text; after a transient failure it is marked ``retry`` and fetched again on
   the next runs (at most ``MAX_FETCH_ATTEMPTS`` times);
5. an article that refers to no topic (``ctx.is_relevant``) is not stored; its URLs are remembered
   (``ctx.remember_url(url, "irrelevant")``) so it is not fetched again.

An unreachable page judged irrelevant on its snippet alone is skipped but not remembered, so a
later run can read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from urllib.parse import urlsplit

import htmldate
import trafilatura
from lxml import etree, html

from crawler.base import CrawlContext
from crawler.errors import (
    AddressRefused,
    BlockedError,
    FetchError,
    HttpStatusError,
    ParseError,
    RobotsDisallowed,
    TooLargeError,
)
from crawler.extract import html_to_text, looks_like_html, tidy
from crawler.records import DocumentRecord, identity_key
from crawler.urls import canonical_url, link_canonical, page_canonical, site_of, unwrap_redirect

DOC_TYPE = "news_article"
# Extracted text shorter than this on a page with paywall markers is a teaser, not the article.
PAYWALL_TEASER_CHARS = 1200
# Extracted text shorter than this (and not longer than the snippet) counts as a failed extraction.
MIN_TEXT_CHARS = 200
PAYWALL_STATUSES = (401, 402, 403, 451)
GONE_STATUSES = (404, 410)
# A snippet stored after a transient failure (5xx, 429, timeout, unreachable host, challenge) is
# fetched again on later runs until the page is read or this many attempts were made.
MAX_FETCH_ATTEMPTS = 3
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
DATE_PARAMS = {"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True, "extensive_search": False}
_PAYWALL_CLASS = re.compile(r"\b(?:paywall|piano-?(?:offer|paywall)|subscriber-only|premium-(?:content|lock)|metered-?wall|tp-modal)\b", re.I)
_FREE_FALSE = re.compile(r'"isAccessibleForFree"\s*:\s*"?(?:false|False|FALSE)"?')


@dataclass
class Lead:
    """An article announced by a feed entry or a GDELT record (everything known before fetching)."""

    url: str
    title: str = ""
    snippet: str = ""
    published_at: str | None = None
    outlet: str | None = None
    language: str | None = None
    author: str | None = None
    jurisdiction: str = "INT"
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def iso_datetime(value: str | None) -> str | None:
    """An ISO 8601 string from trafilatura's ``%Y-%m-%dT%H:%M:%S%z`` output or a plain date."""
    if not value:
        return None
    value = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if fmt == "%Y-%m-%d":
            return parsed.date().isoformat()
        if parsed.tzinfo:
            parsed = parsed.astimezone(timezone.utc)
        return parsed.replace(tzinfo=timezone.utc).isoformat()
    return None


def has_paywall_markers(content: bytes | str) -> bool:
    """True when the page declares itself (partly) paywalled: schema.org ``isAccessibleForFree:
    false``, ``<meta name=article:content_tier content=locked>``, or paywall markup classes."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    if _FREE_FALSE.search(text):
        return True
    if re.search(r'content_tier"?\s+content="?(?:locked|premium)', text, re.I):
        return True
    try:
        root = html.fromstring(text)
    except (etree.ParserError, ValueError):
        return False
    return any(_PAYWALL_CLASS.search(f"{el.get('class', '')} {el.get('id', '')}")
               for el in root.iter() if isinstance(el.tag, str) and (el.get("class") or el.get("id")))


def snippet_text(lead: Lead) -> str:
    """The announced snippet as plain text, else the title."""
    snippet = lead.snippet.strip()
    if snippet and ("<" in snippet and ">" in snippet):
        try:
            snippet = html_to_text(snippet)
        except ParseError:
            snippet = ""
    return tidy(snippet) or tidy(lead.title)


def page_date(content: bytes) -> str | None:
    """The publication date the page itself declares (meta tags, JSON-LD, time elements), read by
    htmldate without the page URL: trafilatura passes the URL, and a date in the path
    (``/2026/03/04/``) then wins with no time of day (midnight) over the page's exact timestamp."""
    try:
        return iso_datetime(htmldate.find_date(content, **DATE_PARAMS))
    except (ValueError, TypeError, etree.LxmlError):
        return None


def _strip_title_line(text: str, title: str) -> str:
    """trafilatura repeats the headline as the first line; drop it so the text hash sees the body only."""
    first, _, rest = text.partition("\n")
    return rest.strip() if rest.strip() and first.strip().casefold() == (title or "").strip().casefold() else text


def _record(lead: Lead, key: str, title: str, text: str, metadata: dict, warnings: list[str],
            published_at: str | None, institution: str | None, author: str | None) -> DocumentRecord:
    if not text.strip():
        raise ParseError("article has neither text, snippet nor title", key)
    return DocumentRecord(
        source_id=key,
        url=key,
        title=title.strip() or key,
        text=text,
        doc_type=DOC_TYPE,
        jurisdiction=lead.jurisdiction or "INT",
        institution=institution or lead.outlet or urlsplit(key).hostname,
        language=lead.language,  # what the feed or GDELT declares; else the NLP's identification fills it (one rule)
        published_at=published_at or lead.published_at,
        same_as=[identity_key("url", key)],
        metadata={k: v for k, v in ({**lead.metadata, "author": author or lead.author, "outlet": lead.outlet,
                                     "announced_url": lead.url if lead.url != key else None} | metadata).items()
                  if v not in (None, "", [], {})},
        warnings=[*lead.warnings, *warnings],
    )


def snippet_record(lead: Lead, key: str, reason: str, paywalled: bool = False) -> DocumentRecord:
    """The announced snippet (else title) stored in place of an article that could not be read."""
    return _record(
        lead, key, lead.title, snippet_text(lead),
        {"extraction": "snippet", "paywalled": paywalled, "snippet_reason": reason},
        [f"{'paywalled' if paywalled else reason}: stored the announced snippet, not the article text"],
        None, None, None,
    )


def parse_article(content: bytes, url: str, lead: Lead, key: str | None = None) -> DocumentRecord:
    """A document record from a fetched article page (pure: trafilatura on the given HTML).

    ``key`` is the document's canonical URL (default: the page's same-site canonical link, else
    the canonicalised ``url``). A paywalled page or a failed extraction gives the snippet record.
    """
    key = key or page_canonical(content, url) or canonical_url(url)
    try:
        extracted = trafilatura.bare_extraction(content, url=url, with_metadata=True, include_comments=False,
                                                date_extraction_params=DATE_PARAMS)
    except (ValueError, TypeError, etree.LxmlError):
        extracted = None
    title = (getattr(extracted, "title", None) or lead.title or "").strip()
    text = _strip_title_line(tidy(getattr(extracted, "text", None) or ""), title)
    snippet = snippet_text(lead)
    paywalled = has_paywall_markers(content) and len(text) < PAYWALL_TEASER_CHARS
    failed = len(text) < MIN_TEXT_CHARS and len(text) <= len(snippet)
    if paywalled or failed:
        reason = "paywall markers" if paywalled else "extraction failed"
        # without an announced snippet (GDELT), the page's title and description (else teaser) stand in
        description = (getattr(extracted, "description", None) or "").strip()
        fallback = replace(lead, title=lead.title or title, snippet=lead.snippet or description or text)
        return snippet_record(fallback, key, reason, paywalled)
    cross_site = link_canonical(content)
    metadata = {
        "extraction": "full",
        "site_name": getattr(extracted, "sitename", None),
        "canonical_elsewhere": cross_site if cross_site and _other_site(cross_site, url) else None,
    }
    return _record(lead, key, title, text, metadata, [],
                   lead.published_at or page_date(content) or iso_datetime(getattr(extracted, "date", None)),
                   getattr(extracted, "sitename", None), getattr(extracted, "author", None))


def _other_site(href: str, url: str) -> bool:
    target, page = urlsplit(href).hostname, urlsplit(url).hostname
    return bool(target and page and site_of(target) != site_of(page))


def is_opaque_redirect(url: str) -> bool:
    """A link that cannot be fetched for the article (Google News tokens that did not unwrap)."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower() == "news.google.com" and "/articles/" in parts.path


def _already(ctx: CrawlContext, key: str) -> bool:
    """Stored or judged before (not fetched again), except a snippet stored after a transient failure."""
    if ctx.full:
        return False
    known = ctx.known(key)
    if known is not None:
        meta = known.get("metadata") or {}
        return not (meta.get("retry") and meta.get("fetch_attempts", 1) < MAX_FETCH_ATTEMPTS)
    return ctx.seen_url(key)


def fetch_failure(exc: FetchError) -> tuple[str, bool, bool]:
    """(reason, paywalled, retry later) for an article page that could not be fetched."""
    if isinstance(exc, RobotsDisallowed):  # an unreachable robots.txt means "disallow all" for now (RFC 9309)
        unreachable = "unreachable" in str(exc)
        return ("robots.txt unreachable" if unreachable else "disallowed by robots.txt"), False, unreachable
    if isinstance(exc, BlockedError):
        return "challenge page", False, True
    if isinstance(exc, HttpStatusError):
        if exc.status in PAYWALL_STATUSES:
            return f"HTTP {exc.status}", True, False
        return f"HTTP {exc.status}", False, exc.status not in GONE_STATUSES and exc.status != 400
    if isinstance(exc, (TooLargeError, AddressRefused)):
        return str(exc), False, False
    return f"unreachable: {exc}", False, True


def collect(ctx: CrawlContext, lead: Lead) -> Iterator[DocumentRecord]:
    """Fetch, extract and filter one announced article (see the module docstring); yields 0 or 1 record."""
    url = unwrap_redirect(lead.url)
    key = canonical_url(url)
    if key in ctx.crawl_urls or _already(ctx, key):
        ctx.skipped += 1
        return
    ctx.crawl_urls.add(key)
    aliases, retry = {key}, False
    if is_opaque_redirect(url):
        record = snippet_record(lead, key, "opaque redirect link")
    else:
        try:
            response = ctx.client.get(url, robots=True, accept=ACCEPT_HTML)
        except FetchError as exc:
            reason, paywalled, retry = fetch_failure(exc)
            record = snippet_record(lead, key, reason, paywalled=paywalled)
            if retry:
                previous = (ctx.known(key) or {}).get("metadata") or {}
                record.metadata.update(retry=True, fetch_attempts=previous.get("fetch_attempts", 0) + 1)
        else:
            final = canonical_url(response.url)
            page_key = final
            if response.content_type in ("text/html", "application/xhtml+xml", "") or looks_like_html(response.content):
                page_key = page_canonical(response.content, response.url) or final
                aliases.add(final)
                seen_in_crawl = page_key not in aliases and page_key in ctx.crawl_urls
                ctx.crawl_urls.update(aliases | {page_key})
                if page_key not in aliases and (seen_in_crawl or _already(ctx, page_key)):
                    for alias in aliases:
                        ctx.remember_url(alias, "alias")
                    ctx.skipped += 1
                    return
                record = parse_article(response.content, response.url, lead, key=page_key)
            else:
                record = snippet_record(lead, page_key, f"not HTML ({response.content_type})")
                aliases.add(final)
                ctx.crawl_urls.add(final)
    if record.metadata.get("extraction") == "snippet":  # never replace a stored article text by a snippet
        stored = ctx.known(record.source_id)
        if stored and (stored.get("metadata") or {}).get("extraction") == "full":
            if record.metadata.get("paywalled"):
                ctx.skipped += 1
                return
            raise FetchError(f"article not read again ({record.metadata['snippet_reason']}); the stored text is kept", record.source_id)
    aliases.discard(record.source_id)
    if not ctx.is_relevant(f"{record.title}\n{record.text}"):
        if not retry:  # judged on the article itself (or all we will ever get): not fetched again
            for alias in aliases | {record.source_id}:
                ctx.remember_url(alias, "irrelevant")
        if ctx.log:
            ctx.log.info("not about any topic%s: %s", "" if retry else ", remembered", record.source_id)
        return
    if aliases:
        record.metadata["aliases"] = sorted(aliases)
        record.same_as += [identity_key("url", alias) for alias in sorted(aliases)]
    if record.metadata.get("extraction") == "full":  # another source announcing it later skips it
        ctx.remember_url(record.source_id, f"stored by {ctx.source_id}")
    yield record
