"""ec-press: the European Commission's Press Corner (https://ec.europa.eu/commission/presscorner).

The Press Corner is a client-rendered single-page app; its JSON backend is undocumented and its
parameter names vary between clients, so every path and parameter name is configuration (defaults
from the research): RSS ``/api/rss?language=en``, search ``/api/search?language=en&text=<term>&
pagesize=<n>&pagenumber=<p>`` (``docuLanguageListResources[]`` with ``refCode``, ``eventDate``,
``title``, ``leadText``, ``docutype``) and one document ``/api/documents?reference=IP/26/1900&
language=en`` (body in ``docuLanguageResource.htmlContent``; metadata in ``docutypeResource``,
``commissionerResource``, ``policiesResource``, ``placeResource``). The HTML pages are never scraped.

Relevance (the RSS feed covers everything the Commission publishes):
- RSS items are kept when their title + summary are relevant to a topic (``ctx.is_relevant``);
  nothing else is fetched for them. Items mentioning a topic only in the body are found by:
- the search API, queried with each topic term (its full-text search matches the body too). Its
  hits are candidates: the body is fetched and the document kept only when title + body are
  relevant (a multi-word term is not a phrase search upstream). Rejected hits are remembered
  (``seen_urls``) and not fetched again unless ``--full``.

Incremental: the watermark is the newest publication date; items older than it minus
``overlap_days`` are skipped, search paging stops at a page wholly older than that (or a short page,
or ``max_pages``), and stored documents are not fetched again unless ``--full``.

Quirks: the reference is ``IP/26/1707`` in JSON and ``ip_26_1707`` in links; dates come as ISO
dates, ISO date-times, ``dd/mm/yyyy`` or epoch milliseconds; some items (speeches delivered as a
file) have an empty ``htmlContent`` and an attachment instead, which is fetched and extracted (PDF,
DOCX, HTML).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import feedparser

from crawler.base import Item, Option, Source
from crawler.errors import HttpStatusError, ParseError
from crawler.extract import extract_text, html_to_text
from crawler.records import DocumentRecord, identity_key

INSTITUTION = "European Commission"
DETAIL_URL = "https://ec.europa.eu/commission/presscorner/detail/{lang}/{slug}"
DOC_TYPES = {
    "IP": "press_release", "STATEMENT": "statement", "SPEECH": "speech", "QANDA": "questions_and_answers",
    "MEMO": "memo", "MEX": "daily_news", "FS": "factsheet", "AC": "agenda", "INF": "infringement_package",
}
REFERENCE = re.compile(r"^([A-Za-z]+)[/_](\d{2,4})[/_](\d+)$")


# -- pure parsers -------------------------------------------------------------------------------


def reference_from_slug(value: str) -> str | None:
    """``ip_26_1707`` or a detail link ending so -> ``IP/26/1707``; None when it is not a reference."""
    slug = value.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    match = REFERENCE.match(slug)
    return f"{match.group(1).upper()}/{match.group(2)}/{match.group(3)}" if match else None


def slug_of(reference: str) -> str:
    """``IP/26/1707`` -> ``ip_26_1707`` (the detail page's path segment)."""
    return reference.strip().lower().replace("/", "_")


def detail_url(reference: str, language: str = "en") -> str:
    return DETAIL_URL.format(lang=language, slug=slug_of(reference))


def parse_date(value: object) -> str | None:
    """An upstream date (ISO date or date-time, ``dd/mm/yyyy``, RFC 822, epoch milliseconds) as ``YYYY-MM-DD``."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, timezone.utc).date().isoformat()
    text = str(value).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return text[:10]
    match = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if match:
        return date(int(match.group(3)), int(match.group(2)), int(match.group(1))).isoformat()
    if text.isdigit():
        return parse_date(int(text))
    try:
        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def doc_type_for(reference: str, docutype: dict | None = None) -> str:
    """``press_release`` for IP, ``statement``, ``speech``, ``questions_and_answers``...: from the
    reference prefix, else the docutype code, else the docutype description."""
    code = (reference.split("/", 1)[0] if "/" in reference else "").upper() or (docutype or {}).get("code", "").upper()
    if code in DOC_TYPES:
        return DOC_TYPES[code]
    description = str((docutype or {}).get("description") or code or "press_material")
    return re.sub(r"[^a-z0-9]+", "_", description.lower()).strip("_") or "press_material"


def parse_rss(content: bytes, url: str) -> list[dict]:
    """RSS items as ``{reference, title, summary, published, link, categories}``; items whose link is
    not a press-corner reference are dropped. A body that is not a feed raises `ParseError`."""
    feed = feedparser.parse(content)
    if not feed.get("version") and not feed.entries:
        raise ParseError(f"not an RSS/Atom feed ({feed.get('bozo_exception') or 'no channel'})", url)
    items = []
    for entry in feed.entries:
        link = entry.get("link") or entry.get("id") or ""
        reference = reference_from_slug(link)
        if not reference:
            continue
        published = parse_date(entry.get("published") or entry.get("updated"))
        items.append({
            "reference": reference, "title": (entry.get("title") or "").strip(),
            "summary": html_to_text(entry["summary"]) if (entry.get("summary") or "").strip() else "",
            "published": published, "link": link,
            "categories": [t.get("term") for t in entry.get("tags") or [] if t.get("term")],
        })
    if feed.get("bozo") and not items:  # a broken feed, not an empty one
        raise ParseError(f"malformed RSS without any usable item ({feed.get('bozo_exception')})", url)
    return items


def parse_search(payload: object, url: str) -> list[dict]:
    """Search hits as ``{reference, title, summary, published, docutype}``; hits without a reference
    are dropped. A payload without ``docuLanguageListResources`` raises `ParseError`."""
    if isinstance(payload, dict):
        if "docuLanguageListResources" not in payload:
            raise ParseError("search response lacks 'docuLanguageListResources'", url)
        payload = payload["docuLanguageListResources"] or []
    if not isinstance(payload, list) or not all(isinstance(hit, dict) for hit in payload):
        raise ParseError("search hits are not a list of objects", url)
    hits = []
    for hit in payload:
        reference = str(hit.get("refCode") or hit.get("refCd") or hit.get("reference") or "").strip()
        if not REFERENCE.match(reference):
            continue
        lead = hit.get("leadText") or ""
        hits.append({
            "reference": reference, "title": (hit.get("title") or "").strip(),
            "summary": html_to_text(lead) if lead.strip() else "",
            "published": parse_date(hit.get("eventDate") or hit.get("publishDate")),
            "docutype": hit.get("docutype") if isinstance(hit.get("docutype"), dict) else None,
        })
    return hits


def html_text(html: object) -> str:
    """The text of an ``htmlContent`` ("" for none, or markup without text such as ``<p>&nbsp;</p>``)."""
    text = html_to_text(html) if isinstance(html, str) and html.strip() else ""
    return text if text.strip() else ""


def _names(values: object, *keys: str) -> list[str]:
    if isinstance(values, dict):
        values = [values]
    out = []
    for value in values or []:
        if isinstance(value, dict):
            name = next((str(value[k]).strip() for k in keys if value.get(k)), None)
            if name:
                out.append(name)
    return out


def attachment_urls(payload: dict) -> list[str]:
    """Links of a document's attachments (used when its HTML body is empty)."""
    resource = payload.get("docuLanguageResource") or {}
    urls = []
    for attachment in resource.get("attachmentResources") or []:
        if isinstance(attachment, dict):
            link = next((attachment[k] for k in ("url", "link", "href", "fileUrl", "path") if attachment.get(k)), None)
            if link:
                urls.append(str(link))
    return urls


def parse_document(payload: object, url: str, language: str = "en",
                   attachment: tuple[bytes, str, str] | None = None) -> DocumentRecord:
    """A document record from a ``/api/documents`` response (and, when its HTML body is empty, the
    fetched attachment ``(body, media type, URL)``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("docuLanguageResource"), dict):
        raise ParseError("document response lacks 'docuLanguageResource'", url)
    resource = payload["docuLanguageResource"]
    reference = str(payload.get("refCd") or payload.get("refCode") or payload.get("reference") or "").strip()
    if not REFERENCE.match(reference):
        raise ParseError(f"document response has no reference (refCd): {reference!r}", url)
    html = resource.get("htmlContent") or ""
    warnings: list[str] = []
    body = html_text(html)
    if not body and attachment is not None:
        body, warnings = extract_text(*attachment)
    elif not body:
        raise ParseError(f"{reference}: empty htmlContent and no attachment", url)
    subtitle = (resource.get("subtitle") or "").strip()
    text = f"{subtitle}\n\n{body}" if subtitle and not body.startswith(subtitle) else body
    if not text.strip():
        raise ParseError(f"{reference}: no text", url)
    docutype = payload.get("docutypeResource") if isinstance(payload.get("docutypeResource"), dict) else None
    lang = (resource.get("language") or language or "en").lower()
    published = parse_date(payload.get("eventDate")) or parse_date(payload.get("publishDate"))
    publish_date = parse_date(payload.get("publishDate"))
    return DocumentRecord(
        source_id=reference,
        url=detail_url(reference, lang),
        title=(resource.get("title") or "").strip() or reference,
        text=text,
        doc_type=doc_type_for(reference, docutype),
        language=lang,
        published_at=published,
        updated_at=publish_date if publish_date and publish_date != published else None,
        same_as=[identity_key("ec-press", reference)],
        metadata={k: v for k, v in {
            "reference": reference, "docutype": (docutype or {}).get("description") or (docutype or {}).get("code"),
            "subtitle": subtitle or None,
            "commissioners": _names(payload.get("commissionerResource"), "shortDescription", "description", "code"),
            "policies": _names(payload.get("policiesResource"), "description", "code"),
            "place": (_names(payload.get("placeResource"), "description") or [None])[0],
            "languages": payload.get("languages") if isinstance(payload.get("languages"), list) else None,
            "api_url": url, "attachment_url": attachment[2] if attachment and not html_text(html) else None,
        }.items() if v},
        warnings=warnings,
    )


# -- the source ---------------------------------------------------------------------------------


class EcPress(Source):
    """Commission press releases, statements, speeches and Q&As relevant to a topic, with their text."""

    id = "ec-press"
    title = "European Commission Press Corner"
    jurisdiction = "EU"
    institution = INSTITUTION
    kind = "api"
    default_base_url = "https://ec.europa.eu/commission/presscorner"
    default_interval = "6h"
    parser_version = "1"
    # The Press Corner backend is undocumented: paths and parameter names are configuration.
    options = {
        "language": Option("en", "language of the feed, the search and the documents"),
        "language_param": Option("language"), "rss_path": Option("/api/rss"),
        "search_path": Option("/api/search"), "search_param": Option("text"),
        "page_param": Option("pagenumber"), "page_size_param": Option("pagesize"),
        "page_size": Option(50, "search hits per page", minimum=1),
        "max_pages": Option(5, "search pages read per topic term and run", minimum=1),
        "documents_path": Option("/api/documents"), "reference_param": Option("reference"),
        "overlap_days": Option(3, "days re-read before the publication-date watermark", minimum=0),
    }

    @property
    def language(self) -> str:
        return self.option("language")

    def _cutoff(self) -> str | None:
        if not self.ctx.since or self.ctx.full:
            return None
        since = date.fromisoformat(self.ctx.since[:10])
        return (since - timedelta(days=self.option("overlap_days"))).isoformat()

    def _get_listing(self, path: str, params: dict, accept: str):
        """A feed or search page; HTTP 404 reads as nothing listed (logged), as on a mirror without it."""
        try:
            return self.ctx.client.get(self.base_url + path, params=params, accept=accept)
        except HttpStatusError as exc:
            if exc.status != 404:
                raise
            self.ctx.log and self.ctx.log.warning("%s %s: HTTP 404, read as nothing listed", path, params)
            return None

    def _rss(self, cutoff: str | None) -> Iterator[dict]:
        response = self._get_listing(self.option("rss_path"), {self.option("language_param"): self.language},
                                     "application/rss+xml, application/xml;q=0.9, */*;q=0.5")
        if response is None:
            return
        for item in parse_rss(response.content, response.url):
            if cutoff and item["published"] and item["published"] < cutoff:
                continue
            if self.ctx.is_relevant(item["title"] + "\n" + item["summary"]):
                yield item | {"verify": False}

    def _search(self, term: str, cutoff: str | None) -> Iterator[dict]:
        size = self.option("page_size")

        def page(number: int) -> tuple[list[dict], int | None]:
            response = self._get_listing(self.option("search_path"), {
                self.option("language_param"): self.language,
                self.option("search_param"): term,
                self.option("page_size_param"): size,
                self.option("page_param"): number,
            }, "application/json")
            if response is None:
                return [], None
            hits = parse_search(response.json(), response.url)
            fresh = [h | {"verify": True} for h in hits if not (cutoff and h["published"] and h["published"] < cutoff)]
            return fresh, number + 1 if len(hits) >= size and fresh else None

        return self.pages(1, page, f"search {term!r}")

    def discover(self) -> Iterator[Item]:
        cutoff = self._cutoff()
        items: dict[str, dict] = {}
        for item in self._rss(cutoff):
            items.setdefault(item["reference"], item)
        for term in self.ctx.terms:
            for hit in self._search(term, cutoff):
                if hit["reference"] in items:
                    continue
                if not self.ctx.full and self.ctx.seen_url(detail_url(hit["reference"], self.language)):
                    continue
                items[hit["reference"]] = hit
        for item in sorted(items.values(), key=lambda i: (i["published"] or "", i["reference"])):
            yield Item(key=item["reference"], url=detail_url(item["reference"], self.language), data=item,
                       watermark=item["published"])

    def fetch(self, item: Item) -> Iterator[DocumentRecord]:
        if not self.ctx.full and self.ctx.known(item.key):
            self.ctx.skipped += 1
            return
        response = self.ctx.client.get(self.base_url + self.option("documents_path"), params={
            self.option("reference_param"): item.key,
            self.option("language_param"): self.language,
        }, accept="application/json")
        payload = response.json()
        attachment = None
        resource = payload.get("docuLanguageResource") if isinstance(payload, dict) else None
        if isinstance(resource, dict) and not html_text(resource.get("htmlContent")) and attachment_urls(payload):
            fetched = self.ctx.client.get(self.resolve(attachment_urls(payload)[0]))
            attachment = (fetched.content, fetched.headers.get("content-type", ""), fetched.url)
        record = parse_document(payload, response.url, self.language, attachment)
        if item.data.get("verify") and not self.ctx.is_relevant(record.title + "\n" + record.text):
            self.ctx.remember_url(item.url, "ec-press: search hit whose text matches no topic")
            return
        yield record


SOURCE = EcPress
