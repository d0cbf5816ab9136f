"""Pure parsers of Congress.gov API v3 bill responses: bill ids, list pages (plain and
``{"item": ...}``-wrapped), actions as events (actors are chambers or committees; the system that
recorded an action is kept apart), the bill's stage, dossier and text versions."""

from __future__ import annotations

import re

from lxml import etree

from crawler.errors import ParseError
from crawler.extract import extract_text, looks_like_html, parse_xml
from crawler.records import DocumentRecord, DossierRecord, Event, identity_key

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
