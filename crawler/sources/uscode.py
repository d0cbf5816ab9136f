"""uscode: sections of the United States Code from the Office of the Law Revision Counsel (https://uscode.house.gov).

No API: each configured section (option ``sections``, ``"TITLE/SECTION"``, default ``46/50309``, the
LOGINK prohibition "Securing logistics information data of the United States") is read from the
OLRC section view ``/view.xhtml?req=granuleid:USC-prelim-title46-section50309&num=0&edition=prelim``
with a conditional GET (an unchanged page costs a 304) and robots.txt honoured. The section is one
versioned document (source_id ``46-usc-50309``, doc_type ``statute``): when Congress amends it, the
changed text becomes version 2 with a ``document_versions`` row, never a silent overwrite.

Extraction: the page wraps the section in navigation, a search-result header and the editorial
notes. The OLRC marks the parts of a section with comments (``<!-- field-start:head -->`` ...
``<!-- field-end:sourcecredit -->``); the text kept is the heading, the statute body and the source
credit (the notes are editorial and change without the law changing). Without those markers the
``section-head`` heading and the blocks after it up to the first note heading are taken. A page
without the section (an unknown section answers 200 with an empty result) raises `ParseError`.
"The text contains those laws in effect on <date>" gives ``updated_at``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from lxml import etree, html

from crawler.base import Item, Option, Source
from crawler.errors import ParseError
from crawler.extract import html_to_text, tidy
from crawler.records import DocumentRecord, identity_key

UPSTREAM = "https://uscode.house.gov"
SECTION_SPEC = re.compile(r"^\s*(\d+[A-Za-z]?)\s*/\s*(\d+[0-9A-Za-z\-\u2013]*)\s*$")
FIELD = r"<!--\s*field-{}:{}\s*-->"
IN_EFFECT = re.compile(r"laws in effect on\s+([A-Z][a-z]+\.? \d{1,2}, \d{4})")
CURRENT_THROUGH = re.compile(r"currentthrough:(\d{8})")
EXPCITE = re.compile(r"<!--\s*expcite:(.*?)\s*-->", re.S)
NOTE_MARKERS = ("note-head", "notes", "editorial-notes", "statutory-notes")
NOTE_HEADINGS = ("Editorial Notes", "Statutory Notes", "Amendments")


def parse_spec(spec: str) -> tuple[str, str]:
    """``"46/50309"`` -> ("46", "50309"); anything else raises `ParseError` naming the option."""
    match = SECTION_SPEC.match(str(spec))
    if not match:
        raise ParseError(f"sources.uscode.sections: {spec!r} is not TITLE/SECTION like \"46/50309\"")
    return match.group(1), match.group(2)


def granule_id(title: str, section: str, edition: str = "prelim") -> str:
    return f"USC-{edition}-title{title}-section{section}"


def view_url(base: str, title: str, section: str, edition: str = "prelim") -> str:
    return f"{base}/view.xhtml?req=granuleid:{granule_id(title, section, edition)}&num=0&edition={edition}"


def _marked_fragment(page: str) -> str | None:
    """The HTML between the OLRC field markers: head (or statute) start to source-credit (or statute) end."""
    start = re.search(FIELD.format("start", "head"), page) or re.search(FIELD.format("start", "statute"), page)
    if not start:
        return None
    for field in ("sourcecredit", "statute"):
        end = re.compile(FIELD.format("end", field)).search(page, start.end())
        if end:
            return page[start.start():end.end()]
    return None


def _is_note(element) -> bool:
    classes = (element.get("class") or "").lower()
    text = (element.text_content() or "").strip() if isinstance(element.tag, str) else ""
    return any(m in classes for m in NOTE_MARKERS) or (element.tag in ("h3", "h4", "h5") and text in NOTE_HEADINGS)


def _heading_fallback(content: bytes, section: str) -> str | None:
    """Without field markers: the section heading and the blocks after it, up to the first note."""
    try:
        root = html.fromstring(content)  # bytes: an XHTML page may start with an encoding declaration
    except (etree.ParserError, ValueError):
        return None
    pattern = re.compile(rf"^\s*§\s*{re.escape(section)}\b")
    heading = next((h for h in root.xpath("//*[contains(@class, 'section-head')]") if pattern.match(h.text_content())), None)
    if heading is None:
        heading = next((h for h in root.xpath("//h1|//h2|//h3|//h4") if pattern.match(h.text_content())), None)
    if heading is None:
        return None
    parts = [etree.tostring(heading, encoding="unicode", with_tail=False)]
    for sibling in heading.itersiblings():
        if not isinstance(sibling.tag, str):
            continue
        if _is_note(sibling):
            break
        parts.append(etree.tostring(sibling, encoding="unicode", with_tail=False))
    return "<div>" + "".join(parts) + "</div>" if len(parts) > 1 else None


def _in_effect(page: str) -> str | None:
    match = IN_EFFECT.search(page)
    if match:
        try:
            return datetime.strptime(match.group(1).replace(".", ""), "%B %d, %Y").date().isoformat()
        except ValueError:
            pass
    match = CURRENT_THROUGH.search(page)
    return f"{match.group(1)[:4]}-{match.group(1)[4:6]}-{match.group(1)[6:]}" if match else None


def parse_section(content: bytes, url: str, title: str, section: str, edition: str = "prelim") -> DocumentRecord:
    """The section as a versioned statute document: heading, body and source credit, no navigation."""
    if not content.strip():
        raise ParseError("empty page", url)
    page = content.decode("utf-8", errors="replace")
    fragment = _marked_fragment(page) or _heading_fallback(content, section)
    if fragment is None:
        raise ParseError(f"no text of {title} U.S.C. {section} on the page (unknown section?)", url)
    text = html_to_text(fragment)
    first_line = text.split("\n", 1)[0].strip()
    if not first_line.lstrip("§ ").startswith(section) or len(text) <= len(first_line):
        raise ParseError(f"section heading or body of {title} U.S.C. {section} not found", url)
    heading = re.sub(rf"^§\s*{re.escape(section)}\.?\s*", "", first_line).strip()
    credit = next((line for line in reversed(text.splitlines()) if line.startswith("(") and "Pub. L." in line), None)
    expcite = EXPCITE.search(page)
    return DocumentRecord(
        source_id=f"{title}-usc-{section}",
        url=view_url(UPSTREAM, title, section, edition),
        title=f"{title} U.S.C. {section}: {heading}" if heading else f"{title} U.S.C. {section}",
        text=tidy(text),
        doc_type="statute",
        language="en",
        updated_at=_in_effect(page),
        group_key=f"us-code:{title}-{section}",
        same_as=[identity_key("usc", f"{title}-{section}")],
        metadata={k: v for k, v in {
            "citation": f"{title} U.S.C. {section}", "usc_title": title, "section": section, "edition": edition,
            "granule_id": granule_id(title, section, edition), "in_effect_on": _in_effect(page),
            "source_credit": credit,
            "hierarchy": [p.strip() for p in expcite.group(1).split("!@!")] if expcite else None,
        }.items() if v},
    )


class USCode(Source):
    """Configured US Code sections, each a versioned statute document."""

    id = "uscode"
    title = "US Code sections (Office of the Law Revision Counsel)"
    jurisdiction = "US"
    institution = "Office of the Law Revision Counsel"
    kind = "web"
    default_base_url = UPSTREAM
    default_interval = "1d"
    parser_version = "1"
    options = {
        "sections": Option(["46/50309"], "US Code sections watched, TITLE/SECTION"),
        "edition": Option("prelim", "edition of the section view"),
    }

    def discover(self) -> Iterator[Item]:
        edition = self.option("edition")
        for spec in self.option("sections"):
            title, section = parse_spec(spec)
            yield Item(key=f"{title}-usc-{section}", url=view_url(self.base_url, title, section, edition),
                       data={"title": title, "section": section, "edition": edition})

    def fetch(self, item: Item) -> Iterator[DocumentRecord]:
        data = item.data
        response = self.ctx.client.get(item.url, conditional=not self.ctx.full, robots=True, accept="text/html")
        if response.not_modified:
            self.ctx.skipped += 1
            return
        yield parse_section(response.content, response.url, data["title"], data["section"], data["edition"])


SOURCE = USCode
