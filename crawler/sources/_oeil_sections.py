"""The sections of a Legislative Observatory procedure-file page, in both markups (``es_`` classes,
current, and ``erpl_``, 2024-2025): Basic information, Key players, Key events, Technical
information and Documentation gateway, found by their heading text, and the readable rendering of
the whole file. Pure functions over lxml elements; `crawler.sources.ep_oeil` assembles the records."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from crawler.errors import ParseError
from crawler.records import Event
from crawler.sources._ep_common import normalise_reference

DATE = re.compile(r"^\s*(\d{2})/(\d{2})/(\d{4})\s*$")
REQUIRED = ("Basic information", "Key events")
OPTIONAL = ("Key players", "Technical information", "Documentation gateway")


def has_class(name: str) -> str:
    """An XPath test for class ``es_<name>`` or ``erpl_<name>`` (the current and the 2024-2025 markup)."""
    return " or ".join(f"contains(concat(' ', normalize-space(@class), ' '), ' {prefix}_{name} ')" for prefix in ("es", "erpl"))


def clean(text: str | None) -> str:
    """``text`` with white space folded (None -> "")."""
    return " ".join((text or "").split())


def text_of(node) -> str:
    """The folded text content of an element ("" for None)."""
    return clean(node.text_content()) if node is not None else ""


def iso_date(value: str) -> str | None:
    """``2023-02-16`` from the Observatory's ``16/02/2023``, else None."""
    match = DATE.match(value or "")
    return f"{match[3]}-{match[2]}-{match[1]}" if match else None


def sections(root) -> dict[str, object]:
    """Section name -> its container element, found by the heading text (not by position)."""
    found = {}
    for heading in root.xpath("//h2"):
        name = text_of(heading)
        if name in REQUIRED + OPTIONAL and name not in found:
            containers = heading.xpath("ancestor::div[contains(concat(' ', @class, ' '), ' erpl-product-content ')"
                                       f" or {has_class('product-section')}][1]")
            if containers:
                found[name] = containers[0]
    return found


def table_rows(table) -> tuple[list[str], list]:
    """(header texts, body rows) of a table."""
    headers = [text_of(th) for th in table.xpath("./thead//th")]
    return headers, table.xpath("./tbody/tr")


def parse_basic(section) -> dict:
    """Reference, type, subjects, status (and any other bold label) of Basic information."""
    info: dict = {}
    paragraphs = section.xpath(".//p")
    label = None
    for p in paragraphs:
        if "font-weight-bold" in (p.get("class") or ""):
            label = text_of(p)
            if "reference" not in info and normalise_reference(label):
                info["reference"], label = normalise_reference(label), "type"
            continue
        if label:
            lines = [clean(t) for t in p.xpath(".//text()") if clean(t)]
            key = label.lower().replace(" ", "_")
            info[key] = lines if key in ("subject", "geographical_area", "legislative_priorities") else " ".join(lines)
            label = None
    return info


def institution_items(section) -> list[tuple[str | None, object]]:
    """(institution, element) per accordion item of a section (the institution is the item's title);
    a section without items is one element of unknown institution."""
    found = []
    for item in section.xpath(f".//li[{has_class('accordion-item')}]"):
        title = item.xpath(f".//button[{has_class('accordion-item-title')}]//span[contains(@class, 't-x')]")
        found.append((text_of(title[0]) or None if title else None, item))
    return found or [(None, section)]


def parse_key_players(section) -> list[dict]:
    """One entry per committee (responsible, opinion) with its rapporteurs, and the Commission/Council
    rows, each with the institution whose accordion item it sits in."""
    players: list[dict] = []
    for institution, container in institution_items(section):
        for table in container.xpath(".//table"):
            headers, rows = table_rows(table)
            if not headers:
                continue
            role = headers[0]
            for row in rows:
                badge = row.xpath(f".//span[{has_class('badge-committee')}]")
                shadow = row.xpath(".//button[contains(., 'Shadow rapporteur')]")
                if shadow and players:
                    players[-1]["shadow_rapporteurs"] = [text_of(a) for a in row.xpath(".//a[contains(@class, 'rapporteur')]")]
                    continue
                cells = row.xpath("./th|./td")
                if badge:
                    names = row.xpath("./th//span[contains(@class, 'font-weight-normal')]")
                    entry = {
                        "institution": institution, "role": role, "committee": text_of(badge[0]),
                        "name": text_of(names[0]) if names else None,
                        "associated": any("Associated committee" in text_of(n) for n in names),
                        "rapporteurs": [text_of(a) for a in cells[1].xpath(".//a[contains(@class, 'rapporteur')]")] if len(cells) > 1 else [],
                        "appointed": [d for d in (iso_date(text_of(s)) for s in cells[2].xpath(".//span")) if d] if len(cells) > 2 else [],
                    }
                    if len(cells) > 1 and not entry["rapporteurs"] and text_of(cells[1]):
                        entry["note"] = text_of(cells[1])
                    players.append({k: v for k, v in entry.items() if v not in (None, [], False)})
                elif cells and any(text_of(c) for c in cells):
                    entry = {h or f"column {i}": text_of(c) for i, (h, c) in enumerate(zip(headers, cells)) if text_of(c)}
                    players.append({"institution": institution, **entry} if institution else entry)
    return players


def parse_key_events(section, page_url: str) -> list[Event]:
    """Dated key events with their document reference; a row whose date is unreadable is an error."""
    events = []
    for table in section.xpath(".//table"):
        headers, rows = table_rows(table)
        if not headers or headers[0] != "Date":
            continue
        for row in rows:
            cells = row.xpath("./td|./th")
            if len(cells) < 2:
                continue
            day = iso_date(text_of(cells[0]))
            if not day:
                raise ParseError(f"key event without a dd/mm/yyyy date: {text_of(row)[:120]!r}", page_url)
            description = text_of(cells[1])
            links = cells[2].xpath(".//a[@href]") if len(cells) > 2 else []
            ref_id = next((text_of(a) for a in links if text_of(a)), None)
            ref_url = urljoin(page_url, links[0].get("href")) if links else None
            events.append(Event(date=day, kind=description, description=description + (f" ({ref_id})" if ref_id else ""),
                                actor=None, ref_url=ref_url, ref_id=ref_id))
    return events


def parse_technical(section) -> dict:
    """Technical information: label -> value (a list for several values and legal bases)."""
    info = {}
    for row in section.xpath(".//tr"):
        head, cells = row.xpath("./th"), row.xpath("./td")
        if head and cells:
            values = [clean(s.text_content()) for s in cells[0].xpath(".//span")] or [text_of(cells[0])]
            values = [v for v in values if v]
            info[text_of(head[0])] = values if len(values) > 1 or text_of(head[0]).endswith("basis") else (values[0] if values else "")
    return info


def parse_gateway(section, page_url: str) -> list[dict]:
    """Documents of the documentation gateway, each with the institution whose item lists it."""
    documents = []
    for institution, container in institution_items(section):
        for table in container.xpath(".//table"):
            headers, rows = table_rows(table)
            for row in rows:
                cells = row.xpath("./th|./td")
                entry: dict = {"institution": institution}
                for header, cell in zip(headers, cells):
                    value = text_of(cell)
                    if header == "Reference":
                        link = cell.xpath(".//a[@href]")
                        entry["reference"] = value or None
                        entry["url"] = urljoin(page_url, link[0].get("href")) if link else None
                    elif header == "Date":
                        entry["date"] = iso_date(value)
                    elif header == "Summary":
                        link = cell.xpath(".//a[@href]")
                        entry["summary_url"] = urljoin(page_url, link[0].get("href")) if link else None
                    elif value:
                        entry[header.lower().replace(" ", "_")] = value
                if entry.get("document_type") or entry.get("reference"):
                    documents.append({k: v for k, v in entry.items() if v})
    return documents


def render(reference: str, title: str, basic: dict, players: list[dict], events: list[Event],
           technical: dict, documents: list[dict]) -> str:
    """The procedure file as readable text: what search and NLP see."""
    lines = [f"Procedure file {reference}", title, ""]
    if basic.get("type"):
        lines.append(f"Type: {basic['type']}")
    if basic.get("subject"):
        lines.append("Subjects: " + "; ".join(basic["subject"]))
    if basic.get("status"):
        lines.append(f"Status: {basic['status']}")
    if players:
        lines += ["", "Key players"]
        for p in players:
            if p.get("committee"):
                line = f"{p.get('institution') or 'Committee'}, {p['role']}: {p['committee']} {p.get('name') or ''}".rstrip()
                if p.get("rapporteurs"):
                    line += " — rapporteur " + ", ".join(p["rapporteurs"])
                if p.get("shadow_rapporteurs"):
                    line += "; shadow rapporteurs " + ", ".join(p["shadow_rapporteurs"])
            else:
                line = "; ".join(f"{k}: {v}" for k, v in p.items())
            lines.append(line)
    lines += ["", "Key events"] + [f"{e.date} {e.description}" for e in events]
    if technical:
        lines += ["", "Technical information"]
        lines += [f"{k}: {'; '.join(v) if isinstance(v, list) else v}" for k, v in technical.items()]
    if documents:
        lines += ["", "Documentation gateway"]
        for d in documents:
            parts = [d.get("institution"), d.get("document_type"), d.get("committee"), d.get("reference"), d.get("date")]
            lines.append(" | ".join(p for p in parts if p))
    return "\n".join(lines)
