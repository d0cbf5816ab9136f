"""govinfo: the GovInfo API of the U.S. Government Publishing Office (https://api.govinfo.gov).

Discovery: ``POST /search`` for every topic term, restricted to the watched collections
(``"LOGINK" AND collection:(BILLS OR CREC OR FR OR PLAW)``, plus ``AND lastModified:range(<watermark
minus overlap>,)`` on incremental runs), sorted by ``lastModified`` ascending and paged with
``offsetMark``: ``"*"`` first, then the mark the previous page returned, until a page is empty or
brings no new mark. Optionally (option ``collections``, empty by default because a collection
changes by thousands of packages a day) ``GET /collections/{code}/{since}?offsetMark=*&pageSize=N``
following ``nextPage``; CREC and FR packages found that way are expanded into their granules
(``/packages/{id}/granules``) and a text is kept only when it is relevant to a topic.

Fetching: ``/packages/{id}/summary`` or ``/packages/{id}/granules/{granuleId}/summary``, then the
text rendition ``download.txtLink`` (an HTML page wrapping a ``<pre>``), else ``xmlLink``, else the
public content URL ``https://www.govinfo.gov/content/pkg/{id}/html/{granule or id}.htm``. Congressional
Record and Federal Register hits are granules and are stored as their own documents (source_id =
granuleId); bills carry ``group_key = "us-bill:<congress>-<type>-<number>"``, through which the
congress-gov source picks them up (``ctx.related_ids("us-bill")``).

Quirks: the api.data.gov key goes in the ``X-Api-Key`` header, never in a URL (URLs end up in error
messages); ``DEMO_KEY`` (a few dozen requests per window) is used when no key is configured, with a
warning; 503 with ``Retry-After`` (served under load and for zip/mods renditions) is retried by the
shared client; links in responses point at api.govinfo.gov / www.govinfo.gov and are rebased onto
the configured base; a hit whose ``lastModified`` equals the stored one is not fetched again; the
watermark becomes the run's start time, recorded by a final checkpoint item, so it only moves when
every hit before it was processed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from crawler.base import Item, Option, Source
from crawler.errors import FetchError, HttpStatusError, ParseError
from crawler.extract import extract_text
from crawler.records import DocumentRecord, identity_key
from db.clock import now_iso

DOC_TYPES = {"BILLS": "bill_text", "CREC": "congressional_record", "FR": "federal_register", "PLAW": "public_law"}
GRANULAR = {"CREC", "FR"}
DEFAULT_SEARCH_COLLECTIONS = ("BILLS", "CREC", "FR", "PLAW")
CONTENT_BASE = "https://www.govinfo.gov"
CHECKPOINT = "(checkpoint)"
BILL_PACKAGE = re.compile(r"^BILLS-(\d+)(hconres|hjres|hres|hr|sconres|sjres|sres|s)(\d+)([a-z0-9]+)$")
FR_NUMBER = re.compile(r"^(?:19|20)\d{2}-\d{4,6}$")
CHAMBERS = {"HOUSE": "U.S. House of Representatives", "SENATE": "U.S. Senate"}
METADATA_KEYS = (
    "packageId", "granuleId", "collectionCode", "congress", "session", "billType", "billNumber", "billVersion",
    "originChamber", "currentChamber", "granuleClass", "volume", "issue", "pages", "docClass", "citation",
    "detailsLink", "frDocNumber", "billingCode",
)


def search_query(term: str, collections: list[str] | tuple[str, ...], since: str | None = None) -> str:
    """The search query for one term: the quoted phrase, the collections, the lastModified window."""
    phrase = term.replace('"', " ").strip()
    query = f'"{phrase}" AND collection:({" OR ".join(collections)})'
    return query + (f" AND lastModified:range({since},)" if since else "")


def parse_search(payload: object, url: str) -> tuple[list[dict], str | None]:
    """(results, next offsetMark) of a ``POST /search`` page; a malformed page raises `ParseError`."""
    if not isinstance(payload, dict):
        raise ParseError("expected a JSON object", url)
    if "error" in payload:
        raise ParseError(f"upstream reported an error: {payload['error']}", url)
    results = payload.get("results")
    if results is None and payload.get("count") == 0:
        results = []
    if not isinstance(results, list) or not all(isinstance(r, dict) and r.get("packageId") for r in results):
        raise ParseError("search response lacks a 'results' list of packages with packageId", url)
    mark = payload.get("offsetMark")
    return results, mark if isinstance(mark, str) and mark else None


def parse_listing(payload: object, key: str, url: str) -> tuple[list[dict], str | None]:
    """(entries, nextPage) of a ``/collections`` (key ``packages``) or ``/granules`` (key ``granules``) page."""
    if not isinstance(payload, dict):
        raise ParseError("expected a JSON object", url)
    entries = payload.get(key)
    if entries is None and payload.get("count") == 0:
        entries = []
    id_key = "packageId" if key == "packages" else "granuleId"
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get(id_key) for e in entries):
        raise ParseError(f"response lacks a '{key}' list with {id_key}", url)
    return entries, payload.get("nextPage") or None


def parse_summary(payload: object, url: str) -> dict:
    """A package or granule summary, checked for the identifiers everything else relies on."""
    if not isinstance(payload, dict) or not payload.get("packageId"):
        raise ParseError("summary lacks packageId", url)
    return payload


def bill_id(summary: dict) -> str | None:
    """``118-hr-1724`` for a BILLS package, from the summary's fields or else its packageId."""
    congress, kind, number = summary.get("congress"), summary.get("billType"), summary.get("billNumber")
    if not (congress and kind and number):
        match = BILL_PACKAGE.match(summary.get("packageId", ""))
        if not match:
            return None
        congress, kind, number = match.group(1), match.group(2), match.group(3)
    return f"{congress}-{str(kind).lower()}-{number}"


def text_links(summary: dict) -> list[str]:
    """Where the summary says the text is: the HTML rendition, then the XML one, then the public content URL."""
    download = summary.get("download") if isinstance(summary.get("download"), dict) else {}
    links = []
    for key in ("txtLink", "xmlLink"):
        value = download.get(key)
        value = value[0] if isinstance(value, list) and value else value
        if isinstance(value, str) and value:
            links.append(value)
    name = summary.get("granuleId") or summary["packageId"]
    links.append(f"{CONTENT_BASE}/content/pkg/{summary['packageId']}/html/{name}.htm")
    return list(dict.fromkeys(links))


def _institution(collection: str, summary: dict) -> str:
    if collection == "FR":
        agencies = [a.get("name") for a in summary.get("agencies") or [] if isinstance(a, dict) and a.get("name")]
        return "; ".join(agencies) or "Office of the Federal Register"
    if collection == "BILLS":
        return CHAMBERS.get(str(summary.get("originChamber", "")).upper(), "U.S. Congress")
    if collection == "CREC":
        return CHAMBERS.get(str(summary.get("granuleClass", "")).upper(), "U.S. Congress")
    if collection == "PLAW":
        return "U.S. Congress"
    return summary.get("governmentAuthor1") or summary.get("publisher") or "U.S. Government Publishing Office"


def identities(summary: dict, collection: str) -> list[str]:
    """The upstream identities of a package or granule: its GovInfo access id
    (``govinfo:CREC-2024-03-05-pt1-PgH1034``), and ``fr:<FR document number>`` for a Federal
    Register granule (``fr:2025-03134``, the key federal-register gives the same notice), ``bill-version:<congress>-<type>-<number>-<version>`` for a bill text."""
    keys = [identity_key("govinfo", summary.get("granuleId") or summary["packageId"])]
    if collection == "FR":  # an FR granule's id is the document number (frDocNumber when given)
        number = str(summary.get("frDocNumber") or summary.get("granuleId") or "").strip()
        if FR_NUMBER.match(number):
            keys.append(identity_key("fr", number))
    if collection == "BILLS":
        match = BILL_PACKAGE.match(summary.get("packageId", ""))
        if match:
            keys.append(identity_key("bill-version", f"{int(match[1])}-{match[2]}-{int(match[3])}-{match[4]}"))
    return keys


def parse_package(summary: dict, body: bytes, body_url: str, content_type: str = "",
                  listed: dict | None = None) -> DocumentRecord:
    """A document from a package/granule summary and its text rendition (HTML wrapping a ``<pre>``,
    or XML). ``listed`` is the search or collection entry that led here (its title and lastModified
    win when the summary lacks them)."""
    listed = listed or {}
    text, warnings = extract_text(body, content_type, body_url)
    collection = summary.get("collectionCode") or summary["packageId"].split("-", 1)[0]
    ident = summary.get("granuleId") or summary["packageId"]
    bill = bill_id(summary) if collection == "BILLS" else None
    agencies = [a.get("name") for a in summary.get("agencies") or [] if isinstance(a, dict) and a.get("name")]
    metadata = {k: summary[k] for k in METADATA_KEYS if summary.get(k) not in (None, "", [], {})}
    metadata |= {"lastModified": listed.get("lastModified") or summary.get("lastModified"), "text_url": body_url}
    if agencies:
        metadata["agencies"] = agencies
    return DocumentRecord(
        source_id=ident,
        url=summary.get("detailsLink") or body_url,
        title=(summary.get("title") or listed.get("title") or ident).strip(),
        text=text,
        doc_type=DOC_TYPES.get(collection, collection.lower()),
        institution=_institution(collection, summary),
        language="en",
        published_at=summary.get("dateIssued") or listed.get("dateIssued"),
        updated_at=summary.get("lastModified") or listed.get("lastModified"),
        group_key=f"us-bill:{bill}" if bill else None,
        same_as=identities(summary, collection),
        metadata=metadata,
        warnings=warnings,
    )


class GovInfo(Source):
    """Bills, Congressional Record granules, public laws and Federal Register documents matching the topics."""

    id = "govinfo"
    title = "GovInfo API (GPO): bills, Congressional Record, public laws, Federal Register"
    jurisdiction = "US"
    institution = "U.S. Government Publishing Office"
    kind = "api"
    default_base_url = "https://api.govinfo.gov"
    default_interval = "1d"
    parser_version = "1"
    mirrored_hosts = ("www.govinfo.gov", "govinfo.gov")
    options = {
        "search_collections": Option(list(DEFAULT_SEARCH_COLLECTIONS), "collections the topic-term search covers", item=str),
        "collections": Option([], "whole collections walked through /collections/{code}/{since}", item=str),
        "page_size": Option(100, "entries per search or listing page", minimum=1, maximum=1000),
        "overlap_days": Option(2.0, "days re-read before the lastModified watermark", minimum=0),
        "start_date": Option("2019-01-01", "first walk of `collections` starts here"),
    }

    def __init__(self, ctx):
        super().__init__(ctx)
        self.page_size = self.option("page_size")
        self.search_collections = [c.upper() for c in self.option("search_collections")]
        self.collections = [c.upper() for c in self.option("collections")]
        key = ctx.settings.api_key
        if not key and ctx.log:
            ctx.log.warning("no GovInfo API key in the environment variable named by api_key_env: using DEMO_KEY (low rate limit)")
        self.headers = {"X-Api-Key": key or "DEMO_KEY"}

    def _since(self) -> str | None:
        """The lastModified lower bound: watermark (or --since) minus ``overlap_days``; None on a full crawl."""
        if self.ctx.full or not self.ctx.since:
            return None
        since = datetime.fromisoformat(self.ctx.since.replace("Z", "+00:00"))
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
        since -= timedelta(days=self.option("overlap_days"))
        return since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _get(self, url: str, params: dict | None = None, accept: str | None = None):
        return self.ctx.client.get(url, params=params, headers=self.headers, accept=accept)

    def _search(self, query: str) -> Iterator[dict]:
        """Every hit of a search, paged by ``offsetMark`` (``*`` first, then the mark each page returns)."""
        def page(mark: str) -> tuple[list[dict], str | None]:
            body = {"query": query, "pageSize": self.page_size, "offsetMark": mark,
                    "sorts": [{"field": "lastModified", "sortOrder": "ASC"}]}
            response = self.ctx.client.post(f"{self.base_url}/search", json=body, headers=self.headers)
            return parse_search(response.json(), response.url)

        return self.pages("*", page, f"search {query!r}")

    def _listing(self, url: str, key: str) -> Iterator[dict]:
        """Every entry of a ``nextPage``-paged listing (the next link followed as given, rebased)."""
        def page(cursor: tuple[str, dict | None]) -> tuple[list[dict], tuple[str, None] | None]:
            response = self._get(cursor[0], params=cursor[1], accept="application/json")
            entries, following = parse_listing(response.json(), key, response.url)
            return entries, (self.resolve(following), None) if following else None

        return self.pages((url, {"offsetMark": "*", "pageSize": self.page_size}), page, f"{key} {url}")

    def _collection_items(self, code: str, since: str) -> Iterator[Item]:
        for package in self._listing(f"{self.base_url}/collections/{code}/{since}", "packages"):
            package_id = package["packageId"]
            if code not in GRANULAR:
                yield Item(key=package_id, url=package.get("packageLink"), data={**package, "collectionCode": code, "filter": True})
                continue
            try:
                granules = list(self._listing(f"{self.base_url}/packages/{package_id}/granules", "granules"))
            except FetchError as exc:
                self.ctx.item_error(Item(key=package_id), exc)
                continue
            for granule in granules:
                yield Item(key=granule["granuleId"], url=granule.get("granuleLink"), data={
                    "packageId": package_id, "granuleId": granule["granuleId"], "title": granule.get("title"),
                    "collectionCode": code, "lastModified": package.get("lastModified"),
                    "resultLink": granule.get("granuleLink"), "filter": True,
                })

    def discover(self) -> Iterator[Item]:
        started = now_iso().replace("+00:00", "Z")
        since = self._since()
        seen: set[str] = set()
        for term in self.ctx.terms:
            if not any(ch.isascii() and ch.isalpha() for ch in term):
                continue  # GovInfo is English: a term without Latin letters finds nothing
            for hit in self._search(search_query(term, self.search_collections, since)):
                key = hit.get("granuleId") or hit["packageId"]
                if key not in seen:
                    seen.add(key)
                    yield Item(key=key, url=hit.get("resultLink"), data=hit)
        start = since or f"{self.option('start_date')}T00:00:00Z"
        for code in self.collections:
            for item in self._collection_items(code, start):
                if item.key not in seen and not self.ctx.seen_url(self._details(item.data)):
                    seen.add(item.key)
                    yield item
        yield Item(key=CHECKPOINT, watermark=started)

    @staticmethod
    def _details(data: dict) -> str:
        """The public page of a package or granule: the key under which an irrelevant one is remembered."""
        granule = f"/{data['granuleId']}" if data.get("granuleId") else ""
        return f"{CONTENT_BASE}/app/details/{data['packageId']}{granule}"

    def _summary_url(self, data: dict) -> str:
        if data.get("resultLink"):
            return self.resolve(data["resultLink"])
        if data.get("granuleId"):
            return f"{self.base_url}/packages/{data['packageId']}/granules/{data['granuleId']}/summary"
        return f"{self.base_url}/packages/{data['packageId']}/summary"

    def _text(self, summary: dict):
        """(response, upstream link) of the first text rendition that answers; a missing rendition
        (404) falls through to the next."""
        links = text_links(summary)
        for link in links[:-1]:
            try:
                return self._get(self.resolve(link)), link
            except HttpStatusError as exc:
                if exc.status != 404:
                    raise
        return self._get(self.resolve(links[-1])), links[-1]

    def fetch(self, item: Item) -> Iterator[DocumentRecord]:
        if item.key == CHECKPOINT:
            return
        data = item.data
        known = self.ctx.known(item.key)
        if known and not self.ctx.full and known["metadata"].get("lastModified") == data.get("lastModified"):
            self.ctx.skipped += 1
            return
        summary_url = self._summary_url(data)
        summary = parse_summary(self._get(summary_url, accept="application/json").json(), summary_url)
        response, link = self._text(summary)
        record = parse_package(summary, response.content, link, response.content_type, data)
        if data.get("filter") and not self.ctx.is_relevant(record.title + "\n" + record.text):
            self.ctx.remember_url(self._details(data), "irrelevant")
            self.ctx.skipped += 1
            return
        yield record


SOURCE = GovInfo
