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

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from lxml import etree

from crawler.base import Item, Option, Source
from crawler.errors import BlockedError, FetchError, HttpStatusError, ParseError
from crawler.extract import extract_text, looks_like_html, parse_xml
from crawler.records import DocumentRecord, DossierRecord, Event, identity_key
from db.clock import now_iso

DEFAULT_BILLS = ("118-hr-1724", "118-s-939", "118-hr-6228", "117-hr-8431", "118-hr-2670")
BILL_TYPES = {
    "hr": ("H.R.", "house-bill"), "s": ("S.", "senate-bill"),
    "hjres": ("H.J.Res.", "house-joint-resolution"), "sjres": ("S.J.Res.", "senate-joint-resolution"),
    "hconres": ("H.Con.Res.", "house-concurrent-resolution"), "sconres": ("S.Con.Res.", "senate-concurrent-resolution"),
    "hres": ("H.Res.", "house-resolution"), "sres": ("S.Res.", "senate-resolution"),
}
BILL_ID = re.compile(r"^(?:us-bill:)?(\d{1,3})-?(hconres|hjres|hres|hr|sconres|sjres|sres|s)-?(\d+)$")
FORMATS = ("Formatted Text", "Formatted XML", "PDF")
FILE_STEM = re.compile(r"/((?:BILLS|PLAW)-[0-9a-z]+)\.(?:htm|html|xml|pdf)$")
CONTENT_BASE = "https://www.govinfo.gov"
PUBLIC_BASE = "https://www.congress.gov"
CHECKPOINT = "(checkpoint)"
# ``sourceSystem`` of an action: who recorded it. Only the chambers' systems name an actor; the
# Library of Congress (code 9) re-records actions under its own codes and is no actor.
SOURCE_SYSTEMS = {"senate": "Senate", "house committee actions": "House", "house floor actions": "House",
                  "library of congress": None}


def normalise_bill_id(value: str) -> str | None:
    """``118-hr-1724`` from ``118-HR-1724``, ``us-bill:118-hr-1724`` or ``118hr1724``; None if not a bill id."""
    match = BILL_ID.match(str(value).strip().lower())
    return f"{int(match.group(1))}-{match.group(2)}-{int(match.group(3))}" if match else None


def check(payload: object, url: str) -> dict:
    """The payload as a dict; an ``{"error": ...}`` body (served with HTTP 200) raises `ParseError`."""
    if not isinstance(payload, dict):
        raise ParseError("expected a JSON object", url)
    if "error" in payload:
        raise ParseError(f"upstream reported an error: {payload['error']}", url)
    return payload


def parse_bill(payload: object, url: str) -> dict:
    """The ``bill`` object of a bill record, checked for congress, type and number."""
    bill = check(payload, url).get("bill")
    if not isinstance(bill, dict) or not all(bill.get(k) for k in ("congress", "type", "number")):
        raise ParseError("response lacks bill.congress / bill.type / bill.number", url)
    return bill


def parse_page(payload: object, key: str, url: str) -> tuple[list[dict], str | None]:
    """(entries, pagination.next) of a list response keyed ``key`` (``actions``, ``bills``, ...)."""
    payload = check(payload, url)
    if key not in payload:
        raise ParseError(f"response lacks the '{key}' list", url)
    entries = items(payload[key], key, url)
    pagination = payload.get("pagination") if isinstance(payload.get("pagination"), dict) else {}
    return entries, pagination.get("next") or None


def listed_bill_id(entry: dict) -> str | None:
    """The id of a ``/bill`` list entry."""
    return normalise_bill_id(f"{entry.get('congress')}-{entry.get('type')}-{entry.get('number')}")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def public_url(bid: str) -> str:
    """The bill's page on congress.gov."""
    congress, kind, number = bid.split("-")
    return f"{PUBLIC_BASE}/bill/{_ordinal(int(congress))}-congress/{BILL_TYPES[kind][1]}/{number}"


def citation(bid: str) -> str:
    _, kind, number = bid.split("-")
    return f"{BILL_TYPES[kind][0]} {number}"


def bill_title(bill: dict, titles: list[dict]) -> str:
    """The bill's title; ``title`` can be "", then the display or official title, then the citation."""
    if (bill.get("title") or "").strip():
        return bill["title"].strip()
    for wanted in ("Display Title", "Official Title as Introduced"):
        for t in titles:
            if t.get("titleType") == wanted and (t.get("title") or "").strip():
                return t["title"].strip()
    bid = normalise_bill_id(f"{bill['congress']}-{bill['type']}-{bill['number']}")
    return citation(bid) if bid else f"{bill['type']} {bill['number']}"


def items(value: object, what: str, url: str = "") -> list[dict]:
    """The entries of a list the API gives plain (``[...]``), wrapped (``{"item": [...]}`` or
    ``{"item": {...}}``, the XML-derived shape) or as one object; anything else raises `ParseError`."""
    if value is None:
        return []
    if isinstance(value, dict) and set(value) == {"item"}:
        value = value["item"]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ParseError(f"{what}: expected a list of objects or {{'item': ...}}, got {str(value)[:120]!r}", url or None)
    return value


def source_system(action: dict) -> tuple[str | None, str | None]:
    """(chamber or None, the recording system's name) of an action; an unknown system raises."""
    system = action.get("sourceSystem")
    if system is None:
        return None, None
    name = system.get("name") if isinstance(system, dict) else None
    if not isinstance(name, str) or name.strip().lower() not in SOURCE_SYSTEMS:
        raise ParseError(f"action with an unknown sourceSystem {system!r}")
    return SOURCE_SYSTEMS[name.strip().lower()], name.strip()


def action_events(actions: list[dict]) -> list[Event]:
    """One event per distinct (date, type, text): the API repeats a referral once per committee and the
    Library of Congress repeats some actions under its own codes. The actor is the committees
    (either shape), else the chamber whose system recorded it; the recording systems are kept apart
    in ``source_system``."""
    merged: dict[tuple, tuple[dict, list[str], list[str]]] = {}
    for action in actions:
        date, text = action.get("actionDate"), (action.get("text") or "").strip()
        if not date or not text:
            continue
        key = (date, action.get("type") or "Action", text)
        first, actors, systems = merged.setdefault(key, (action, [], []))
        committees = [c["name"] for c in items(action.get("committees"), "action committees") if c.get("name")]
        chamber, system = source_system(action)
        for actor in committees or [chamber]:
            if actor and actor not in actors:
                actors.append(actor)
        if system and system not in systems:
            systems.append(system)
    return [Event(date=date, kind=kind, description=text, actor="; ".join(actors) or None, ref_id=first.get("actionCode"),
                  source_system="; ".join(systems) or None)
            for (date, kind, text), (first, actors, systems) in merged.items()]


def bill_stage(bill: dict, actions: list[dict]) -> str:
    """Where the bill stands, from its actions: introduced ... became law."""
    types = {a.get("type") for a in actions}
    texts = [a.get("text") or "" for a in actions]
    if bill.get("laws") or "BecameLaw" in types:
        return "Became law"
    if "Veto" in types:
        return "Vetoed"
    if "President" in types:
        return "Presented to President"
    house = any(t.startswith("Passed/agreed to in House") for t in texts)
    senate = any(t.startswith("Passed/agreed to in Senate") for t in texts)
    if house or senate:
        return "Passed both chambers" if house and senate else "Passed House" if house else "Passed Senate"
    if any(t.startswith(("Reported", "Ordered to be Reported")) for t in texts):
        return "Reported by committee"
    return "Introduced"


def build_dossier(bill: dict, actions: list[dict], titles: list[dict], committees: list[dict],
                  versions: list[dict]) -> DossierRecord:
    """The bill as a dossier: title, stage, latest action, sponsors, committees, titles, actions as events."""
    bid = normalise_bill_id(f"{bill['congress']}-{bill['type']}-{bill['number']}")
    if bid is None:
        raise ParseError(f"unknown bill type {bill.get('type')!r}")
    latest = bill.get("latestAction") if isinstance(bill.get("latestAction"), dict) else {}
    sponsors = [
        {k: s.get(src) for k, src in (("name", "fullName"), ("bioguide_id", "bioguideId"), ("party", "party"),
                                      ("state", "state"), ("district", "district")) if s.get(src) is not None}
        for s in bill.get("sponsors") or [] if isinstance(s, dict)
    ]
    cosponsors = bill.get("cosponsors") if isinstance(bill.get("cosponsors"), dict) else {}
    policy = bill.get("policyArea") if isinstance(bill.get("policyArea"), dict) else {}
    metadata = {
        "congress": int(bill["congress"]), "type": bid.split("-")[1], "number": str(bill["number"]),
        "citation": citation(bid), "introduced_date": bill.get("introducedDate"),
        "origin_chamber": bill.get("originChamber"), "policy_area": policy.get("name"),
        "sponsors": sponsors, "cosponsors_count": cosponsors.get("count"),
        "committees": [
            {"name": c.get("name"), "chamber": c.get("chamber"), "system_code": c.get("systemCode"),
             "activities": [a.get("name") for a in c.get("activities") or [] if isinstance(a, dict)]}
            for c in committees
        ],
        "titles": [{"type": t.get("titleType"), "title": t.get("title")} for t in titles if t.get("title")],
        "latest_action": {"date": latest.get("actionDate"), "text": latest.get("text")} if latest else None,
        "laws": [{"type": law.get("type"), "number": law.get("number")} for law in bill.get("laws") or [] if isinstance(law, dict)],
        "text_versions": [{"type": v.get("type"), "date": v.get("date"), "code": version_code(bid, v)} for v in versions],
        "update_date": bill.get("updateDate"), "update_date_including_text": bill.get("updateDateIncludingText"),
    }
    return DossierRecord(
        key=f"us-bill:{bid}", kind="bill", title=bill_title(bill, titles), url=public_url(bid),
        stage=bill_stage(bill, actions), status=latest.get("text"),
        updated_at=bill.get("updateDate"), metadata={k: v for k, v in metadata.items() if v not in (None, [], "")},
        events=action_events(actions),
    )


def choose_format(version: dict) -> tuple[str | None, str | None]:
    """(format type, URL) of the preferred rendition: Formatted Text, else Formatted XML, else PDF."""
    formats = {f.get("type"): f.get("url") for f in version.get("formats") or [] if isinstance(f, dict) and f.get("url")}
    for wanted in FORMATS:
        if formats.get(wanted):
            return wanted, formats[wanted]
    return None, None


def file_stem(version: dict) -> str | None:
    """``BILLS-118hr1724ih``: the GPO file name of a text version, from any of its format URLs."""
    for fmt in version.get("formats") or []:
        match = FILE_STEM.search(str(fmt.get("url") or "") if isinstance(fmt, dict) else "")
        if match:
            return match.group(1)
    return None


def version_code(bid: str, version: dict) -> str:
    """``ih``, ``rfs``, ``enr``...: the version code from the file name, else a slug of the version type."""
    stem = file_stem(version)
    congress, kind, number = bid.split("-")
    prefix = f"BILLS-{congress}{kind}{number}"
    if stem and stem.startswith(prefix) and len(stem) > len(prefix):
        return stem[len(prefix):]
    if stem and stem.startswith("PLAW-"):
        return "pl"
    return re.sub(r"[^a-z0-9]+", "-", str(version.get("type") or "text").lower()).strip("-")


def govinfo_url(bid: str, version: dict) -> str | None:
    """The same text version on govinfo (the fallback when congress.gov serves a challenge page)."""
    stem = file_stem(version)
    if stem is None:
        congress, kind, number = bid.split("-")
        code = version_code(bid, version)
        stem = f"BILLS-{congress}{kind}{number}{code}" if re.fullmatch(r"[a-z]+", code) else None
    return f"{CONTENT_BASE}/content/pkg/{stem}/html/{stem}.htm" if stem else None


def version_text(body: bytes, fmt: str, url: str) -> tuple[str, list[str]]:
    """Text and warnings of a text version body; a bill XML loses its Dublin Core header first (it is
    metadata, not the bill's text), then `extract_text` reads whatever format the body is."""
    if fmt == "Formatted XML" and body[:5] != b"%PDF-" and not looks_like_html(body):
        root = parse_xml(body)
        for metadata in root.xpath("//metadata"):
            metadata.getparent().remove(metadata)
        body = etree.tostring(root)
    media = {"PDF": "application/pdf", "Formatted XML": "application/xml"}.get(fmt, "text/html")
    return extract_text(body, media, url)


def parse_text_version(bill: dict, version: dict, body: bytes, body_url: str, fmt: str, title: str,
                       via: str = "congress.gov") -> DocumentRecord:
    """One text version of a bill as a document (source_id ``118-hr-1724/ih``)."""
    bid = normalise_bill_id(f"{bill['congress']}-{bill['type']}-{bill['number']}")
    if bid is None:
        raise ParseError(f"unknown bill type {bill.get('type')!r}", body_url)
    text, warnings = version_text(body, fmt, body_url)
    code, kind = version_code(bid, version), version.get("type") or "Text"
    return DocumentRecord(
        source_id=f"{bid}/{code}",
        url=body_url,
        title=f"{citation(bid)} ({kind}): {title}",
        text=text,
        doc_type="bill_text",
        institution="U.S. House of Representatives" if bid.split("-")[1].startswith("h") else "U.S. Senate",
        language="en",
        published_at=(version.get("date") or "")[:10] or None,
        updated_at=bill.get("updateDateIncludingText") or bill.get("updateDate"),
        group_key=f"us-bill:{bid}",
        same_as=[identity_key("bill-version", f"{bid}-{code}")],
        metadata={
            "congress": int(bill["congress"]), "type": bid.split("-")[1], "number": str(bill["number"]),
            "version_code": code, "version_type": kind, "format": fmt, "text_via": via,
            "update_date_including_text": text_marker(bill),
        },
        warnings=warnings,
    )


def text_marker(bill: dict) -> str | None:
    """What says whether the text changed: ``updateDateIncludingText`` (older payloads: ``updateDate``)."""
    return bill.get("updateDateIncludingText") or bill.get("updateDate")


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
