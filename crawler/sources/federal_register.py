"""federal-register: the Federal Register API v1 (https://www.federalregister.gov/api/v1), no key.

Discovery: ``GET /documents.json`` with ``conditions[term]`` for each topic term and
``conditions[publication_date][gte]`` = watermark minus an overlap (documents appear on business
days and late), ``order=oldest``, paging through ``next_page_url``. The list's default fields omit
the full-text links, so ``fields[]`` asks for ``raw_text_url`` and ``body_html_url`` explicitly.

Quirks: when ``count`` is 0 the ``results`` and ``total_pages`` keys are missing; if
``page * per_page`` exceeds 10,000 the server silently restarts at page 1, so a window with more
results is split by date (and a next link to a page already read is never followed: no loops);
bad queries answer 400 with ``{"errors": ...}``; ``raw_text_url`` serves text wrapped in ``<pre>`` HTML
(a raw text that is missing (404/410) or empty falls through to ``body_html_url``). Documents
already stored are not fetched again (FR documents are immutable; corrections are new documents)
unless ``--full``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from crawler.base import Item, Source
from crawler.errors import FetchError, HttpStatusError, ParseError
from crawler.extract import html_to_text, looks_like_html, tidy
from crawler.records import DocumentRecord
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
PARSER_VERSION = "1"


def parse_listing(payload: object, url: str) -> tuple[int, list[dict], str | None]:
    """(count, results, next_page_url) of a ``documents.json`` page; bad shapes raise `ParseError`."""
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
    return int(count), results, payload.get("next_page_url")


def parse_document(meta: dict, body: bytes, body_url: str, fetched_at: str | None = None) -> DocumentRecord:
    """A document record from its listing metadata and its full-text body (raw text or HTML)."""
    text = html_to_text(body) if looks_like_html(body) else tidy(body.decode("utf-8", errors="replace"))
    if not text.strip():
        raise ParseError("full text is empty", body_url)
    agencies = [a.get("name") or a.get("raw_name") for a in meta.get("agencies") or [] if isinstance(a, dict)]
    record = DocumentRecord(
        source="federal-register",
        source_id=meta["document_number"],
        url=meta.get("html_url") or body_url,
        title=(meta.get("title") or "").strip() or meta["document_number"],
        text=text,
        doc_type=DOC_TYPES.get(meta.get("type"), (meta.get("type") or "document").lower().replace(" ", "_")),
        jurisdiction="US",
        institution="; ".join(filter(None, agencies)) or "Federal Register",
        language="en",
        published_at=meta.get("publication_date"),
        updated_at=None,
        parser_version=PARSER_VERSION,
        metadata={
            k: meta.get(k)
            for k in ("citation", "type", "action", "abstract", "docket_ids", "regulation_id_numbers",
                      "pdf_url", "full_text_xml_url", "signing_date", "effective_on")
            if meta.get(k)
        } | {"agencies": agencies, "text_url": body_url},
    )
    if fetched_at:
        record.fetched_at = fetched_at
    return record


def parse_listing_example(path: Path) -> list[DocumentRecord]:
    """Records of a recorded ``documents.json`` page whose bodies lie in ``files/<number>.txt`` beside it."""
    import json

    _, results, _ = parse_listing(json.loads(path.read_bytes()), path.name)
    records = []
    for meta in results:
        body = path.parent / "files" / f"{meta['document_number']}.txt"
        if body.exists():
            records.append(parse_document(meta, body.read_bytes(), meta.get("raw_text_url") or "", "2025-01-01T00:00:00+00:00"))
    return records


class FederalRegister(Source):
    """Federal Register documents matching the topic terms, with their full text."""

    id = "federal-register"
    title = "Federal Register (API v1)"
    jurisdiction = "US"
    institution = "Office of the Federal Register"
    kind = "api"
    default_base_url = "https://www.federalregister.gov/api/v1"
    default_interval = "1d"
    parser_version = PARSER_VERSION

    @classmethod
    def parse_example(cls, path: Path) -> list[DocumentRecord]:
        return parse_listing_example(path)

    def _start_date(self) -> str:
        options = self.ctx.settings.options
        if self.ctx.since and not self.ctx.full:
            since = date.fromisoformat(self.ctx.since[:10])
            overlap = int(options.get("overlap_days", 3)) if self.ctx.since else 0
            return (since - timedelta(days=overlap)).isoformat()
        return str(options.get("start_date", "2019-01-01"))

    def _query(self, term: str, gte: str, lte: str | None) -> dict:
        params = {
            "conditions[term]": f'"{term}"' if " " in term else term,
            "conditions[publication_date][gte]": gte,
            "order": "oldest",
            "per_page": int(self.ctx.settings.options.get("per_page", 100)),
            "fields[]": list(FIELDS),
        }
        if lte:
            params["conditions[publication_date][lte]"] = lte
        return params

    def _pages(self, term: str, gte: str, lte: str | None = None) -> Iterator[dict]:
        url, params = f"{self.base_url}/documents.json", self._query(term, gte, lte)
        first, visited = True, set()
        while url:
            visited.add(url)
            response = self.ctx.client.get(url, params=params, accept="application/json")
            count, results, next_url = parse_listing(response.json(), response.url)
            if first and count > RESULT_CAP:
                yield from self._split(term, gte, lte)
                return
            first = False
            yield from results
            url, params = (self.resolve(next_url), None) if next_url and results else (None, None)
            url = None if url in visited else url  # a next link back to a page already read: no loop

    def _split(self, term: str, gte: str, lte: str | None) -> Iterator[dict]:
        start = date.fromisoformat(gte)
        end = date.fromisoformat(lte) if lte else clock.now().date()
        if start >= end:
            raise ParseError(f"more than {RESULT_CAP} results on a single day for {term!r}")
        middle = start + (end - start) // 2
        self.ctx.log and self.ctx.log.info("splitting %s..%s for %r (over %d results)", start, end, term, RESULT_CAP)
        yield from self._pages(term, start.isoformat(), middle.isoformat())
        yield from self._pages(term, (middle + timedelta(days=1)).isoformat(), end.isoformat())

    def discover(self) -> Iterator[Item]:
        gte = self._start_date()
        seen: set[str] = set()
        for term in self.ctx.terms:
            if not any(ch.isascii() and ch.isalpha() for ch in term):
                continue  # the Federal Register is English: a term without Latin letters finds nothing
            for meta in self._pages(term, gte):
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
                record = parse_document(meta, response.content, response.url)
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
