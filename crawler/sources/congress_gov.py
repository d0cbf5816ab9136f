"""congress-gov: the Congress.gov API v3 of the Library of Congress (https://api.congress.gov/v3).

The API has no keyword search, so the bills come from elsewhere: the option ``bills`` (ids like
``118-hr-1724``) plus every bill another source stored a document for (GovInfo search hits, through
``ctx.related_ids("us-bill")``). For each bill: the record ``/bill/{congress}/{type}/{number}``,
``/titles``, ``/committees``, ``/actions`` and ``/text``; one `DossierRecord` per bill (stage derived
from the actions, status = the latest action, actions as events so the ``bill_actions`` view shows
where the bill stands) and one `DocumentRecord` per text version (source_id ``118-hr-1724/ih``).

Incremental runs list ``/bill?fromDateTime=<watermark minus overlap>&sort=updateDate+asc&limit=250``
(paging through ``pagination.next``) and fetch only the tracked bills that appear in it, plus tracked
bills never fetched before. A text version is re-fetched only when the bill's
``updateDateIncludingText`` differs from the one stored with it (``updateDate`` ignores text changes
and moves on bulk reprocessing). The watermark becomes the run's start time through a final
checkpoint item, so it only moves when every bill before it was processed.

Quirks: ``format=json`` is always sent (XML is the default since April 2026); some errors come back
as HTTP 200 with an ``{"error": ...}`` body; new bills have an empty ``textVersions`` list for days
(the dossier is stored, no document, no error), and a version can be listed with no ``formats`` before
its text is published (skipped, no error); text is taken from "Formatted Text" (htm), else
"Formatted XML", else the PDF; www.congress.gov may answer text URLs with a Cloudflare challenge
page, in which case the same file is fetched from govinfo
(``https://www.govinfo.gov/content/pkg/BILLS-.../html/BILLS-....htm``) instead of failing; ``title``
can be ""; the key goes in the ``X-Api-Key`` header (``DEMO_KEY``, with a warning, when unset).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from crawler.base import Item, Option, Source
from crawler.errors import BlockedError, FetchError, HttpStatusError, ParseError
from crawler.records import DocumentRecord, DossierRecord
from crawler.sources._congress_bills import (
    bill_title,
    build_dossier,
    choose_format,
    file_stem,
    govinfo_url,
    listed_bill_id,
    normalise_bill_id,
    parse_bill,
    parse_page,
    parse_text_version,
    public_url,
    text_marker,
    version_code,
)
from db.clock import now_iso

DEFAULT_BILLS = ("118-hr-1724", "118-s-939", "118-hr-6228", "117-hr-8431", "118-hr-2670")
CHECKPOINT = "(checkpoint)"


class CongressGov(Source):
    """Tracked bills: record, titles, committees, actions (as dossier events) and every text version."""

    id = "congress-gov"
    title = "Congress.gov API v3: bills, actions, text versions"
    jurisdiction = "US"
    institution = "U.S. Congress"
    kind = "api"
    default_base_url = "https://api.congress.gov/v3"
    default_interval = "1d"
    parser_version = "1"
    mirrored_hosts = ("www.congress.gov", "congress.gov", "www.govinfo.gov", "govinfo.gov")
    options = {
        "bills": Option(list(DEFAULT_BILLS), "bills always followed (CONGRESS-TYPE-NUMBER)", item=str),
        "overlap_days": Option(1.0, "days re-read before the watermark in the /bill update listing", minimum=0),
        "page_size": Option(250, "entries per /bill update listing page", minimum=1, maximum=250),
    }

    def __init__(self, ctx):
        super().__init__(ctx)
        key = ctx.settings.api_key
        if not key and ctx.log:
            ctx.log.warning("no Congress.gov API key in the environment variable named by api_key_env: using DEMO_KEY (low rate limit)")
        self.headers = {"X-Api-Key": key or "DEMO_KEY"}

    # -- discovery ------------------------------------------------------------------------------
    def tracked(self) -> list[str]:
        """Configured bills, then every bill another source stored a document for, deduplicated."""
        ids = []
        for raw in [*self.option("bills"), *self.ctx.related_ids("us-bill")]:
            bid = normalise_bill_id(raw)
            if bid is None:
                self.ctx.log and self.ctx.log.warning("ignoring %r: not a bill id like 118-hr-1724", raw)
            else:
                ids.append(bid)
        return list(dict.fromkeys(ids))

    def _from_datetime(self) -> str:
        since = datetime.fromisoformat(self.ctx.since.replace("Z", "+00:00"))
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
        since -= timedelta(days=self.option("overlap_days"))
        return since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def updated_since(self, from_datetime: str) -> set[str]:
        """Ids of every bill updated since ``from_datetime`` (``/bill`` listing, all pages)."""
        params = {"fromDateTime": from_datetime, "sort": "updateDate asc", "limit": self.option("page_size")}
        return {bid for entry in self._all(f"{self.base_url}/bill", "bills", params) if (bid := listed_bill_id(entry))}

    def discover(self) -> Iterator[Item]:
        started = now_iso().replace("+00:00", "Z")
        tracked = self.tracked()
        if not self.ctx.full and self.ctx.since:
            try:
                updated = self.updated_since(self._from_datetime())
            except HttpStatusError as exc:  # no listing at all (404: a mirror without /bill): re-read every bill
                if exc.status != 404:
                    raise
                self.ctx.log and self.ctx.log.warning("no update listing (HTTP 404), re-reading every tracked bill: %s", exc)
                updated = set(tracked)
            tracked = [b for b in tracked if b in updated or self.ctx.known_dossier(f"us-bill:{b}") is None]
        for bid in tracked:
            yield Item(key=bid, url=public_url(bid))
        yield Item(key=CHECKPOINT, watermark=started)

    # -- fetching -------------------------------------------------------------------------------
    def _json(self, url: str, params: dict | None = None) -> tuple[object, str]:
        query = {"format": "json", **(params or {})}
        if "format=" in url:
            query.pop("format")
        response = self.ctx.client.get(url, params=query or None, headers=self.headers, accept="application/json")
        return response.json(), response.url

    def _all(self, url: str, key: str, params: dict | None = None) -> Iterator[dict]:
        """Every entry of a paged list, following ``pagination.next`` as given (rebased)."""
        def page(cursor: tuple[str, dict | None]) -> tuple[list[dict], tuple[str, None] | None]:
            payload, final_url = self._json(*cursor)
            entries, following = parse_page(payload, key, final_url)
            return entries, (self.resolve(following), None) if following else None

        return self.pages((url, {"limit": 250, **(params or {})}), page, f"{key} {url}")

    def _optional(self, url: str, key: str) -> list[dict]:
        """A list the dossier can do without: a 404 (not every bill has the sub-resource) gives []."""
        try:
            return list(self._all(url, key))
        except HttpStatusError as exc:
            if exc.status != 404:
                raise
            self.ctx.log and self.ctx.log.warning("no %s for this bill (HTTP 404): %s", key, url)
            return []

    def _text(self, bid: str, version: dict) -> tuple[bytes, str, str, str]:
        """(body, upstream URL, format, via) of a text version; a challenge page at congress.gov
        falls back to the same file on govinfo."""
        fmt, url = choose_format(version)
        if url:
            try:
                return self.ctx.client.get(self.resolve(url)).content, url, fmt, "congress.gov"
            except BlockedError as exc:
                self.ctx.log and self.ctx.log.warning("congress.gov served a challenge page, trying govinfo: %s", exc)
        fallback = govinfo_url(bid, version)
        if fallback is None:
            raise ParseError(f"text version {version.get('type')!r} has no usable format", url)
        try:
            return self.ctx.client.get(self.resolve(fallback)).content, fallback, "Formatted Text", "govinfo"
        except BlockedError as exc:  # both hosts blocked: this version fails, the run goes on
            raise FetchError(f"text blocked at congress.gov and govinfo: {exc}", fallback) from None

    def fetch(self, item: Item) -> Iterator[DocumentRecord | DossierRecord]:
        if item.key == CHECKPOINT:
            return
        congress, kind, number = item.key.split("-")
        api = f"{self.base_url}/bill/{congress}/{kind}/{number}"
        payload, url = self._json(api)
        bill = parse_bill(payload, url)
        titles = self._optional(f"{api}/titles", "titles")
        committees = self._optional(f"{api}/committees", "committees")
        actions = list(self._all(f"{api}/actions", "actions"))
        versions = list(self._all(f"{api}/text", "textVersions"))
        yield build_dossier(bill, actions, titles, committees, versions)
        title = bill_title(bill, titles)
        for version in versions:
            if choose_format(version)[1] is None and file_stem(version) is None:  # listed before its text is out
                self.ctx.log and self.ctx.log.info("text version %r of %s has no file yet", version.get("type"), item.key)
                continue
            source_id = f"{item.key}/{version_code(item.key, version)}"
            known = self.ctx.known(source_id)
            if known and not self.ctx.full and known["metadata"].get("update_date_including_text") == text_marker(bill):
                self.ctx.skipped += 1
                continue
            try:
                body, body_url, fmt, via = self._text(item.key, version)
                yield parse_text_version(bill, version, body, body_url, fmt, title, via=via)
            except FetchError as exc:  # one version failing leaves the bill and its other versions stored
                self.ctx.item_error(Item(key=source_id), exc)


SOURCE = CongressGov
