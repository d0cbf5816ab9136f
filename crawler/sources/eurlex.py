"""eurlex: EUR-Lex documents through the Publications Office's Cellar (https://publications.europa.eu).

Discovery: the Cellar SPARQL endpoint (``POST /webapi/rdf/sparql``, ``Content-Type:
application/sparql-query``, ``Accept: application/sparql-results+json``, no key) for works with a
CELEX number whose English expression title contains a topic term (one query per window, the terms
OR-ed), modified (``cmr:lastModificationDate``) since the watermark minus an overlap. Content:
``GET /resource/celex/{CELEX}`` with ``Accept: application/xhtml+xml, text/html;q=0.9`` and
``Accept-Language: eng``, else ``Accept: application/pdf``.

Quirks handled:
- Title matching only (SPARQL has no full text); English titles, so terms without Latin letters are
  not sent.
- ``ORDER BY`` on broad filters times out: no server-side ordering, works are sorted on the client;
  the modification range is cut into windows (``window_days``) and a window whose result is full
  (``page_size`` rows) or flagged incomplete by Virtuoso (``X-SQL-State: S1TAT``, "anytime query"
  partial results, or ``X-SPARQL-MaxRows``) is split in half instead of paged with OFFSET.
- Optional variables (date, resource type, author) may be missing from a binding; one work comes
  back as several rows (one per author/type) and is merged on the client.
- The filter is ``?mod >= watermark`` (inclusive, optionally ``overlap_hours`` earlier, should the
  endpoint ever lag behind the repository); a stored document whose ``updated_at`` is not older
  than the work's modification date is skipped, so the boundary work is not fetched twice.
- Content: HTTP 202, or an empty body, means the rendition is being generated: `NotReady` (an item
  error; the watermark stays, the next run retries). An empty 202 *with* ``x-amzn-waf-action`` is
  a WAF challenge: blocked. 404/406 mean "no such format": the next format is tried; a work with no
  English rendition at all is logged and skipped. 300 Multiple Choices (a rendition in several
  files) lists the parts, which are fetched and joined in order.
- A PDF without a usable text layer raises `ParseError` (never an empty document).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote

from lxml import etree
from lxml import html as lxml_html

from crawler.base import Item, Option, Source
from crawler.errors import BlockedError, HttpStatusError, NotReady, ParseError
from crawler.extract import extract_text
from crawler.http import Fetched
from crawler.records import DocumentRecord, identity_key
from db import clock

LANGUAGE_URI = "http://publications.europa.eu/resource/authority/language/ENG"
HTML_ACCEPT = "application/xhtml+xml, text/html;q=0.9"
PDF_ACCEPT = "application/pdf"
EURLEX_URL = "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:{celex}"
DEFAULT_INSTITUTION = "Publications Office of the EU"
MIN_WINDOW = timedelta(hours=1)

# Variable names: ours first, then spellings other clients use for the same CDM properties.
VARIABLES = {
    "celex": ("celex", "celex_id", "celexId"),
    "title": ("title", "expression_title"),
    "date": ("date", "date_document", "work_date_document", "documentDate"),
    "modified": ("mod", "modified", "lastModificationDate", "last_modified", "lastModified"),
    "work": ("work", "cellar", "cellarURI"),
    "type": ("type", "resource_type", "resourceType"),
    "author": ("author", "agent", "authors"),
}
CELEX = re.compile(r"^([0-9CE])(\d{4})([A-Z]{1,2})(\d+)(.*)$")
SECTOR_TYPES = {
    "0": "consolidated_act", "1": "treaty", "2": "international_agreement", "3": "legal_act",
    "4": "legal_act", "6": "case_law", "7": "national_transposition", "8": "national_case_law",
    "9": "parliamentary_question", "C": "oj_notice", "E": "efta_document",
}
PREPARATORY_TYPES = {
    "PC": "proposal", "DC": "communication", "SC": "staff_working_document", "JC": "joint_communication",
    "AE": "opinion", "IR": "opinion", "AP": "parliament_resolution", "AG": "council_position",
}
ACT_TYPES = {
    "R": "regulation", "L": "directive", "D": "decision", "H": "recommendation", "A": "opinion",
    "G": "resolution", "C": "declaration", "E": "cfsp_common_position", "F": "cfsp_joint_action",
    "Q": "institutional_arrangement", "O": "ecb_guideline", "B": "budget",
}
AUTHORS = {
    "COM": "European Commission", "EP": "European Parliament", "CONSIL": "Council of the European Union",
    "EUCO": "European Council", "EESC": "European Economic and Social Committee",
    "CDR": "European Committee of the Regions", "ECB": "European Central Bank",
    "CJ": "Court of Justice of the European Union", "CURIA": "Court of Justice of the European Union",
    "GCEU": "General Court", "ECA": "European Court of Auditors", "EEAS": "European External Action Service",
    "EIB": "European Investment Bank", "EDPS": "European Data Protection Supervisor",
    "PUBL": "Publications Office of the EU",
}
WAF_HEADERS = ("x-amzn-waf-action", "cf-mitigated")


class NoRendition(Exception):
    """Cellar has no English XHTML, HTML or PDF rendition of the work (404/406 for every format)."""


# -- SPARQL -------------------------------------------------------------------------------------


def sparql_literal(value: str) -> str:
    """A double-quoted SPARQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def build_query(terms: list[str], start: str, end: str, limit: int) -> str:
    """The discovery query: works with a CELEX number and an English title containing any term,
    modified in [start, end) (xsd:dateTime strings). No ORDER BY (it times out upstream)."""
    if not terms:
        raise ValueError("no search terms")
    matches = " || ".join(f"CONTAINS(LCASE(STR(?title)), {sparql_literal(t.lower())})" for t in terms)
    return f"""PREFIX cdm: <http://publications.europa.eu/ontology/cdm#>
PREFIX cmr: <http://publications.europa.eu/ontology/cdm/cmr#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
SELECT DISTINCT ?work ?celex ?title ?date ?mod ?type ?author WHERE {{
  ?work cdm:resource_legal_id_celex ?celex ;
        cmr:lastModificationDate ?mod .
  FILTER(?mod >= {sparql_literal(start)}^^xsd:dateTime && ?mod < {sparql_literal(end)}^^xsd:dateTime)
  ?expr cdm:expression_belongs_to_work ?work ;
        cdm:expression_uses_language <{LANGUAGE_URI}> ;
        cdm:expression_title ?title .
  FILTER({matches})
  OPTIONAL {{ ?work cdm:work_date_document ?date }}
  OPTIONAL {{ ?work cdm:work_has_resource-type ?type }}
  OPTIONAL {{ ?work cdm:work_created_by_agent ?author }}
}}
LIMIT {int(limit)}"""


def parse_sparql_results(payload: object, url: str) -> list[dict[str, str]]:
    """Rows ``{variable: value}`` of a SPARQL 1.1 JSON result; unbound (optional) variables are simply
    absent. A payload without ``results.bindings`` or with malformed bindings raises `ParseError`."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), dict):
        raise ParseError("not a SPARQL JSON result (no 'results' object)", url)
    bindings = payload["results"].get("bindings")
    if not isinstance(bindings, list):
        raise ParseError("SPARQL result lacks the 'results.bindings' list", url)
    rows = []
    for binding in bindings:
        if not isinstance(binding, dict) or not all(isinstance(v, dict) and "value" in v for v in binding.values()):
            raise ParseError("malformed SPARQL binding (expected {var: {type, value}})", url)
        rows.append({name: str(value["value"]) for name, value in binding.items()})
    return rows


def _pick(row: dict[str, str], key: str) -> str | None:
    for name in VARIABLES[key]:
        if row.get(name, "").strip():
            return row[name].strip()
    return None


def utc_timestamp(value: str) -> str:
    """An xsd:dateTime (or date) as a sortable UTC string ``YYYY-MM-DDTHH:MM:SS.mmmZ``; a value
    without a zone is taken as UTC. Unparseable values raise `ValueError`."""
    value = value.strip()
    parsed = datetime.fromisoformat(value) if "T" in value else datetime.combine(date.fromisoformat(value[:10]), datetime.min.time())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def works_from_rows(rows: list[dict[str, str]], url: str) -> list[dict]:
    """Rows merged into one work per CELEX (authors and types collected), sorted by modification
    date then CELEX. A result whose rows carry no CELEX at all raises `ParseError`."""
    works: dict[str, dict] = {}
    for row in rows:
        celex = re.sub(r"(?i)^celex:", "", _pick(row, "celex") or "")
        if not celex:
            continue
        work = works.setdefault(celex, {"celex": celex, "title": None, "date": None, "modified": None,
                                        "work": None, "types": [], "authors": []})
        work["title"] = work["title"] or _pick(row, "title")
        work["work"] = work["work"] or _pick(row, "work")
        raw_date = _pick(row, "date")
        if raw_date and re.match(r"^\d{4}-\d{2}-\d{2}", raw_date):
            work["date"] = work["date"] or raw_date[:10]
        raw_mod = _pick(row, "modified")
        if raw_mod:
            try:
                modified = utc_timestamp(raw_mod)
            except ValueError:
                raise ParseError(f"unparseable modification date {raw_mod!r} for {celex}", url) from None
            work["modified"] = max(filter(None, [work["modified"], modified]))
        for key, target in (("type", "types"), ("author", "authors")):
            value = _pick(row, key)
            code = value.rstrip("/").rsplit("/", 1)[-1] if value else None
            if code and code not in work[target]:
                work[target].append(code)
    if rows and not works:
        raise ParseError("SPARQL rows carry no CELEX number (variable 'celex')", url)
    return sorted(works.values(), key=lambda w: (w["modified"] or "", w["celex"]))


# -- documents ----------------------------------------------------------------------------------


def classify(celex: str) -> tuple[str, dict]:
    """(doc_type, details) from a CELEX number: sector, act type, corrigendum."""
    match = CELEX.match(celex)
    if not match:
        return "document", {}
    sector, year, descriptor, number, suffix = match.groups()
    details = {"sector": sector, "year": year, "descriptor": descriptor}
    if suffix.startswith("R("):
        details["corrigendum"] = True
    if sector == "5":
        return PREPARATORY_TYPES.get(descriptor, "preparatory_act"), details
    if sector in ("3", "0") and descriptor in ACT_TYPES:
        details["act_type"] = ACT_TYPES[descriptor]
    return SECTOR_TYPES.get(sector, "document"), details


def institution_for(celex: str, authors: list[str]) -> str:
    """The authoring institutions named in Cellar, else the one implied by the CELEX sector."""
    named = list(dict.fromkeys(AUTHORS[a] for a in authors if a in AUTHORS))
    if named:
        return "; ".join(named)
    match = CELEX.match(celex)
    if match and match.group(1) == "5" and match.group(3) in ("PC", "DC", "SC", "JC"):
        return "European Commission"
    if match and match.group(1) == "6":
        return "Court of Justice of the European Union"
    return DEFAULT_INSTITUTION


def parse_document(work: dict, parts: list[tuple[bytes, str, str]]) -> DocumentRecord:
    """A document record from a discovered work and its Cellar rendition: one or more parts
    ``(body, media type, URL)`` (XHTML, HTML or PDF; several when Cellar answered 300), in order."""
    if not parts:
        raise ParseError(f"no rendition for {work['celex']}")
    texts, warnings = [], []
    for content, content_type, content_url in parts:
        text, part_warnings = extract_text(content, content_type, content_url)
        texts.append(text)
        warnings.extend(part_warnings)
    celex = work["celex"]
    doc_type, details = classify(celex)
    media_types = list(dict.fromkeys(t.split(";")[0].strip().lower() for _, t, _ in parts if t.strip()))
    return DocumentRecord(
        source_id=celex,
        url=EURLEX_URL.format(celex=celex),
        title=(work.get("title") or "").strip() or celex,
        text="\n\n".join(texts),
        doc_type=doc_type,
        institution=institution_for(celex, work.get("authors") or []),
        language="en",
        published_at=work.get("date"),
        updated_at=work.get("modified"),
        same_as=[identity_key("celex", celex)],
        metadata={k: v for k, v in {
            "celex": celex, "cellar_work": work.get("work"), "resource_types": work.get("types"),
            "authors": work.get("authors"), "content_urls": [u for _, _, u in parts],
            "content_type": ", ".join(media_types),
        }.items() if v} | details,
        warnings=warnings,
    )


def parse_multiple_choices(content: bytes, url: str) -> list[str]:
    """The part links of a Cellar ``300 Multiple Choices`` page, in page order."""
    try:
        root = lxml_html.fromstring(content)
    except (ValueError, etree.ParserError) as exc:
        raise ParseError(f"unparseable 300 Multiple Choices page: {exc}", url) from None
    links = [h.strip() for h in root.xpath("//a/@href") if h.strip() and not h.strip().startswith("#")]
    if not links:
        raise ParseError("300 Multiple Choices without links", url)
    return list(dict.fromkeys(links))


# -- the source ---------------------------------------------------------------------------------


class Eurlex(Source):
    """EUR-Lex works whose English title matches a topic term, with their English text from Cellar."""

    id = "eurlex"
    title = "EUR-Lex (Cellar SPARQL + REST)"
    jurisdiction = "EU"
    institution = DEFAULT_INSTITUTION
    kind = "api"
    default_base_url = "https://publications.europa.eu"
    default_interval = "1d"
    parser_version = "1"
    options = {
        "sparql_path": Option("/webapi/rdf/sparql", "Cellar SPARQL endpoint, relative to base_url"),
        "content_path": Option("/resource/celex/", "Cellar REST content path, relative to base_url"),
        "accept_language": Option("eng", "Accept-Language of content requests"),
        "start_date": Option("2019-01-01", "first crawl without --since: works modified from this date"),
        "window_days": Option(180.0, "days per SPARQL window", minimum=1 / 24),
        "page_size": Option(1000, "rows per SPARQL query (a full window is split, never paged)", minimum=1),
        "overlap_hours": Option(0.0, "hours re-read before the lastModificationDate watermark", minimum=0),
        "max_parts": Option(20, "files of a 300 Multiple Choices rendition fetched at most", minimum=1),
    }

    # discovery
    def _range(self) -> tuple[datetime, datetime]:
        if self.ctx.since and not self.ctx.full:
            start = datetime.fromisoformat(utc_timestamp(self.ctx.since).replace("Z", "+00:00"))
            start -= timedelta(hours=self.option("overlap_hours"))
        else:
            start = datetime.combine(date.fromisoformat(self.option("start_date")),
                                     datetime.min.time(), tzinfo=timezone.utc)
        return start, clock.now() + timedelta(days=1)

    def _query(self, terms: list[str], start: datetime, end: datetime) -> list[dict]:
        limit = self.option("page_size")
        response = self.ctx.client.post(
            self.base_url + self.option("sparql_path"),
            data=build_query(terms, _iso(start), _iso(end), limit).encode("utf-8"),
            headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
        )
        rows = parse_sparql_results(response.json(), response.url)
        incomplete = response.headers.get("x-sql-state") == "S1TAT" or "x-sparql-maxrows" in response.headers
        if len(rows) >= limit or incomplete:
            if end - start <= MIN_WINDOW:
                raise ParseError(f"SPARQL result still truncated for the window {_iso(start)}..{_iso(end)}", response.url)
            middle = start + (end - start) / 2
            self.ctx.log and self.ctx.log.info("splitting %s..%s (%d rows, incomplete=%s)", _iso(start), _iso(end), len(rows), incomplete)
            return self._query(terms, start, middle) + self._query(terms, middle, end)
        return works_from_rows(rows, response.url)

    def discover(self) -> Iterator[Item]:
        terms = [t for t in self.ctx.terms if any(ch.isascii() and ch.isalpha() for ch in t)]
        if not terms:
            self.ctx.log and self.ctx.log.warning("no topic term with Latin letters: nothing to search in English titles")
            return
        start, end = self._range()
        step = timedelta(days=self.option("window_days"))
        works: dict[str, dict] = {}
        while start < end:
            stop = min(start + step, end)
            for work in self._query(terms, start, stop):
                previous = works.get(work["celex"])
                if previous is None or (work["modified"] or "") > (previous["modified"] or ""):
                    works[work["celex"]] = work
            start = stop
        for work in sorted(works.values(), key=lambda w: (w["modified"] or "", w["celex"])):
            yield Item(key=work["celex"], url=EURLEX_URL.format(celex=work["celex"]), data=work, watermark=work["modified"])

    # content
    def _get(self, url: str, accept: str) -> Fetched:
        try:
            response = self.ctx.client.get(url, headers={"Accept-Language": self.option("accept_language")}, accept=accept)
        except BlockedError as exc:
            if exc.status == 202 and not any(h in exc.headers for h in WAF_HEADERS):
                raise NotReady("Cellar answered 202 (rendition being generated): retry on a later run", url) from None
            raise
        if response.status == 202 or not response.content.strip():
            raise NotReady(f"Cellar answered {response.status} with {'an empty' if not response.content.strip() else 'a provisional'} body: retry on a later run", url)
        return response

    def _rendition(self, celex: str) -> list[tuple[bytes, str, str]]:
        """The English rendition's parts ``(body, media type, URL)``: XHTML/HTML, else PDF."""
        url = self.base_url + self.option("content_path") + quote(celex, safe="()")
        for accept in (HTML_ACCEPT, PDF_ACCEPT):
            try:
                response = self._get(url, accept)
            except HttpStatusError as exc:
                if exc.status in (404, 406):
                    continue
                raise
            responses = [response]
            if response.status == 300:
                links = parse_multiple_choices(response.content, response.url)[: self.option("max_parts")]
                responses = [self._get(self.resolve(link), accept) for link in links]
            return [(r.content, r.headers.get("content-type", ""), r.url) for r in responses]
        raise NoRendition(celex)

    def fetch(self, item: Item) -> Iterator[DocumentRecord]:
        work = item.data
        known = self.ctx.known(item.key)
        if known and not self.ctx.full and (known.get("updated_at") or "") >= (work.get("modified") or ""):
            self.ctx.skipped += 1
            return
        try:
            parts = self._rendition(work["celex"])
        except NoRendition:
            self.ctx.log and self.ctx.log.warning("no English XHTML, HTML or PDF rendition of %s: skipped", work["celex"])
            return
        yield parse_document(work, parts)


SOURCE = Eurlex
