"""federal-register: the Federal Register API v1 (https://www.federalregister.gov/api/v1), no key.

Discovery: ``GET /documents.json`` with ``conditions[term]`` for each topic term and
``conditions[publication_date][gte]`` = watermark minus an overlap (documents appear on business
days and late), ``order=oldest``, paging through ``next_page_url``. The list's default fields omit
the full-text links, so ``fields[]`` asks for ``raw_text_url`` and ``body_html_url`` explicitly.

Quirks: when ``count`` is 0 the ``results`` and ``total_pages`` keys are missing; if
``page * per_page`` exceeds 10,000 the server silently restarts at page 1, so a window with more
results is split by date (and a next link to a page already read is never followed: no loops);
bad queries answer 400 with ``{"errors": ...}``; the real ``next_page_url`` is
``/documents?<every query parameter>&format=json&page=N`` (no ``.json``), since 2026 with a
``search_after_cursor``: it is followed exactly as given, never rebuilt; docket ids come prefixed
("DOCKET #: RBS-23-BUSINESS-0024", "Docket No. FMC-2022-0067") and are stored bare in
``metadata.docket_ids`` (the upstream strings in ``docket_ids_raw`` when they differ); ``raw_text_url`` serves text wrapped in ``<pre>`` HTML
(a raw text that is missing (404/410) or empty falls through to ``body_html_url``). Documents
already stored are not fetched again (FR documents are immutable; corrections are new documents)
unless ``--full``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

from crawler.base import Item, Option, Source
from crawler.errors import FetchError, HttpStatusError, ParseError
from crawler.extract import extract_text
from crawler.records import DocumentRecord, identity_key
from db import clock

FIELDS = (
    "title", "type", "abstract", "document_number", "html_url", "pdf_url", "publication_date",
    "agencies", "raw_text_url", "body_html_url", "full_text_xml_url", "citation", "docket_ids",
    "regulation_id_numbers", "action", "signing_date", "effective_on",
)
DOC_TYPES = {
    "Rule": "rule", "Proposed Rule": "proposed_rule", "Notice": "notice",
    "Presidential Document": "presidential_document",
}
RESULT_CAP = 10_000
# "DOCKET #: RBS-23-BUSINESS-0024", "Docket No. FMC-2022-0067", "Docket ID: X", "Docket Number X".
DOCKET_PREFIX = re.compile(r"^\s*docket\s*(?:#|nos?\.?|numbers?|ids?)?\s*[:.#]?\s*", re.IGNORECASE)


def parse_listing(payload: object, url: str) -> tuple[int, list[dict], str | None]:
    """(count, results, next_page_url) of a ``documents.json`` page; bad shapes raise `ParseError`.
    ``next_page_url`` is returned exactly as given (the real one has no ``.json``, repeats every
    query parameter with ``format=json`` and may carry ``search_after_cursor``)."""
    if not isinstance(payload, dict):
        raise ParseError("expected a JSON object", url)
    if "errors" in payload:
        raise ParseError(f"upstream reported errors: {payload['errors']}", url)
    if "count" not in payload:
        raise ParseError("response lacks the 'count' key (not a documents listing?)", url)
    count = payload["count"]
    results = payload.get("results", []) if count else []
    if not isinstance(results, list) or not all(isinstance(r, dict) and r.get("document_number") for r in results):
        raise ParseError("'results' is not a list of documents with document_number", url)
    following = payload.get("next_page_url")
    if following is not None and not (isinstance(following, str) and following.startswith(("http://", "https://", "/"))):
        raise ParseError(f"next_page_url is not a link: {following!r}", url)
    return int(count), results, following or None


def normalise_docket(value: object, url: str = "") -> str:
    """``RBS-23-BUSINESS-0024`` from ``DOCKET #: RBS-23-BUSINESS-0024``, ``FMC-2022-0067`` from
    ``Docket No. FMC-2022-0067``; a value that is not a string or is empty once stripped raises."""
    if not isinstance(value, str):
        raise ParseError(f"docket id is not a string: {value!r}", url or None)
    docket = DOCKET_PREFIX.sub("", value).strip()
    if not docket:
        raise ParseError(f"docket id without an identifier: {value!r}", url or None)
    return docket


def parse_document(meta: dict, body: bytes, body_url: str, content_type: str = "") -> DocumentRecord:
    """A document record from its listing metadata and its full-text body (raw text or HTML)."""
    text, warnings = extract_text(body, content_type, body_url)
    agencies = [a.get("name") or a.get("raw_name") for a in meta.get("agencies") or [] if isinstance(a, dict)]
    raw_dockets = meta.get("docket_ids") or []
    if not isinstance(raw_dockets, list):
        raise ParseError(f"docket_ids is not a list: {raw_dockets!r}", body_url)
    dockets = list(dict.fromkeys(normalise_docket(d, body_url) for d in raw_dockets))
    number = meta["document_number"]
    metadata = {
        k: meta.get(k)
        for k in ("citation", "type", "action", "abstract", "regulation_id_numbers",
                  "pdf_url", "full_text_xml_url", "signing_date", "effective_on")
        if meta.get(k)
    } | {"agencies": agencies, "text_url": body_url}
    if dockets:
        metadata["docket_ids"] = dockets
        if dockets != raw_dockets:
            metadata["docket_ids_raw"] = raw_dockets
    return DocumentRecord(
        source_id=number,
        url=meta.get("html_url") or body_url,
        title=(meta.get("title") or "").strip() or number,
        text=text,
        doc_type=DOC_TYPES.get(meta.get("type"), (meta.get("type") or "document").lower().replace(" ", "_")),
        institution="; ".join(filter(None, agencies)) or None,
        language="en",
        published_at=meta.get("publication_date"),
        same_as=[identity_key("fr", number)],
        metadata=metadata,
        warnings=warnings,
    )


class FederalRegister(Source):
    """Federal Register documents matching the topic terms, with their full text."""

    id = "federal-register"
    title = "Federal Register (API v1)"
    jurisdiction = "US"
    institution = "Office of the Federal Register"
    kind = "api"
    default_base_url = "https://www.federalregister.gov/api/v1"
    default_interval = "1d"
    parser_version = "1"
    options = {
        "overlap_days": Option(3, "days re-read before the publication-date watermark", minimum=0),
        "per_page": Option(100, "documents per listing page", minimum=1, maximum=1000),
        "start_date": Option("2019-01-01", "first crawl without --since starts here"),
    }

    def _start_date(self) -> str:
        if self.ctx.since and not self.ctx.full:
            since = date.fromisoformat(self.ctx.since[:10])
            return (since - timedelta(days=self.option("overlap_days"))).isoformat()
        return self.option("start_date")

    def _query(self, term: str, gte: str, lte: str | None) -> dict:
        params = {
            "conditions[term]": f'"{term}"' if " " in term else term,
            "conditions[publication_date][gte]": gte,
            "order": "oldest",
            "per_page": self.option("per_page"),
            "fields[]": list(FIELDS),
        }
        if lte:
            params["conditions[publication_date][lte]"] = lte
        return params

    def _listing(self, term: str, gte: str, lte: str | None = None) -> Iterator[dict]:
        """Every document of one query; the first page is the query, every next one the upstream's
        ``next_page_url`` followed as given (rebased onto the configured base URL)."""
        first_count: list[int] = []

        def page(cursor: tuple[str, dict | None]) -> tuple[list[dict], tuple[str, None] | None]:
            url, params = cursor
            response = self.ctx.client.get(url, params=params, accept="application/json")
            count, results, following = parse_listing(response.json(), response.url)
            if not first_count:
                first_count.append(count)
                if count > RESULT_CAP:
                    return [], None
            return results, (self.resolve(following), None) if following else None

        what = f"documents.json {term!r} {gte}..{lte or ''}"
        yield from self.pages((f"{self.base_url}/documents.json", self._query(term, gte, lte)), page, what)
        if first_count and first_count[0] > RESULT_CAP:
            yield from self._split(term, gte, lte)

    def _split(self, term: str, gte: str, lte: str | None) -> Iterator[dict]:
        """A window with more results than the API pages through (it silently restarts at page 1)
        is read as two halves."""
        start = date.fromisoformat(gte)
        end = date.fromisoformat(lte) if lte else clock.now().date()
        if start >= end:
            raise ParseError(f"more than {RESULT_CAP} results on a single day for {term!r}")
        middle = start + (end - start) // 2
        self.ctx.log and self.ctx.log.info("splitting %s..%s for %r (over %d results)", start, end, term, RESULT_CAP)
        yield from self._listing(term, start.isoformat(), middle.isoformat())
        yield from self._listing(term, (middle + timedelta(days=1)).isoformat(), end.isoformat())

    def discover(self) -> Iterator[Item]:
        gte = self._start_date()
        seen: set[str] = set()
        for term in self.ctx.terms:
            if not any(ch.isascii() and ch.isalpha() for ch in term):
                continue  # the Federal Register is English: a term without Latin letters finds nothing
            for meta in self._listing(term, gte):
                number = meta["document_number"]
                if number in seen:
                    continue
                seen.add(number)
                yield Item(key=number, url=meta.get("html_url"), data=meta, watermark=meta.get("publication_date"))

    def fetch(self, item: Item) -> Iterator[DocumentRecord]:
        meta = item.data
        if not self.ctx.full and self.ctx.known(item.key):
            self.ctx.skipped += 1
            return
        body_urls = list(dict.fromkeys(u for u in (meta.get("raw_text_url"), meta.get("body_html_url")) if u))
        if not body_urls:
            raise ParseError("listing has neither raw_text_url nor body_html_url", item.url)
        error: FetchError | None = None
        for body_url in body_urls:  # a missing (404/410) or empty raw text falls through to the HTML body
            try:
                response = self.ctx.client.get(self.resolve(body_url))
                record = parse_document(meta, response.content, response.url, response.content_type)
            except (HttpStatusError, ParseError) as exc:
                if error is None and isinstance(exc, HttpStatusError) and exc.status not in (404, 410):
                    raise
                error = error or exc  # when no rendition works, the first one's failure is reported
                self.ctx.log and self.ctx.log.warning("no usable text at %s: %s", body_url, exc)
                continue
            yield record
            return
        raise error


SOURCE = FederalRegister
