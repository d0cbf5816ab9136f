"""ep-oeil: the European Parliament's Legislative Observatory (https://oeil.europarl.europa.eu/oeil/en).

Web pages, not an API: fetched with robots.txt honoured and conditional GET (an unchanged page
costs a 304 and writes nothing). Reuse: "© European Union, [year] – Source: European Parliament".

Discovery: the configured procedures (option ``procedures``, default the European port strategy
``2023/2059(INI)``), then the Observatory's RSS export of new and updated procedures
(``/search/export/RSS``, option ``rss``; a WAF challenge there makes the run ``blocked``, any other
failure of the feed is an item error, after the configured procedures were read). An RSS item's title is the procedure reference, sometimes
with a trailing ``*`` (stripped). An item is kept when its text (title, description, category)
matches a topic term or a keyword (option ``keywords``, whole words: ``port`` matches "ports",
not "report"); when the item says nothing but the reference, the procedure file itself is read
and kept only if its title or subjects match; procedures judged irrelevant are remembered
(``seen_urls``) and not read again unless ``--full``.

Hosts and URLs: the Observatory moved from ``oeil.secure.europarl.europa.eu`` to
``oeil.europarl.europa.eu`` (the default base URL and the canonical document URL); the old host and
the older ``/oeil/popups/ficheprocedure.do?reference=...&l=en`` links redirect to the new
procedure file and are followed (both old forms are recognised wherever a procedure is named: in
the ``procedures`` option, in RSS links).

Parsing ``/procedure-file?reference=...``, in both markups: the 2024-2025 one (classes prefixed
``erpl_``: ``h2.erpl_title-h1``, ``erpl_accordion-item``, ``erpl_badge-committee``) and the current
one (``es_``); ``title-h1`` holds the reference, the next ``title-h2`` the title; sections are found
by their heading text (Basic information, Key players, Key events, Technical information,
Documentation gateway). Key players and gateway documents sit in one accordion item per institution
(European Parliament, Council of the EU, European Commission...): each committee, rapporteur row
and document is attributed to the institution of its item. The markup changes without
notice (a recurring breakage for parltrack and HowTheyVote), so the parser fails loudly
(`ParseError`) on the soft 404 ("This procedure or document does not exist!"), on a page whose
reference differs from the one asked for, and when the title, Basic information or Key events
(with at least one dated event) is missing. Missing optional sections are recorded as warnings.

Records: a DossierRecord ``ep-procedure:<reference>`` (kind ``procedure``, the key ep-open-data
uses too) with the key events, and a DocumentRecord (doc_type ``procedure``, source_id = the
reference) whose text is a readable rendering of the whole file, so search and NLP see it. Events
and documentation-gateway entries that point to a Parliament document (``doceo/document/<ID>_<LANG>``)
are linked to that ep-open-data document (``Link("document", "ep-open-data", <ID>)``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

from lxml import etree, html

from crawler.base import Item, Option, Source
from crawler.errors import BlockedError, FetchError, HttpStatusError, ParseError
from crawler.extract import parse_xml
from crawler.records import DocumentRecord, DossierRecord, Link, Record, identity_key
from crawler.sources._oeil_sections import (
    OPTIONAL,
    REQUIRED,
    clean,
    has_class,
    parse_basic,
    parse_gateway,
    parse_key_events,
    parse_key_players,
    parse_technical,
    render,
    sections,
    text_of,
)
from crawler.sources._ep_common import (
    DEFAULT_KEYWORDS,
    OEIL_URL,
    attribution,
    dossier_key,
    keyword_pattern,
    normalise_reference,
)

DEFAULT_BASE_URL = OEIL_URL
OLD_HOST = "oeil.secure.europarl.europa.eu"
DEFAULT_PROCEDURES = ["2023/2059(INI)"]
SOFT_404 = "This procedure or document does not exist"
DOCEO = re.compile(r"/doceo/document/([A-Z0-9]+(?:-[A-Z0-9]+)+?)_[A-Z]{2}\.(?:html|pdf|docx)", re.IGNORECASE)


def reference_in(value: str) -> str | None:
    """The procedure reference of a reference (``2023/2059(INI)``, starred or spaced) or of an
    Observatory link (``procedure-file?reference=...``, ``ficheprocedure.do?reference=...&l=en``)."""
    direct = normalise_reference(value)
    if direct:
        return direct
    return next((r for v in parse_qs(urlsplit(value or "").query).get("reference", []) if (r := normalise_reference(v))), None)


def procedure_url(base_url: str, reference: str) -> str:
    return f"{base_url.rstrip('/')}/procedure-file?reference={quote(reference, safe='/()')}"


def doceo_id(url: str | None) -> str | None:
    """``A-9-2023-0335`` from ``.../doceo/document/A-9-2023-0335_EN.html``."""
    match = DOCEO.search(url or "")
    return match[1].upper() if match else None


def parse_procedure_file(content: bytes, url: str, reference: str | None = None,
                         canonical_url: str | None = None) -> tuple[DossierRecord, DocumentRecord]:
    """Dossier and procedure document of an OEIL procedure-file page; fails loudly on anything missing."""
    if not content.strip():
        raise ParseError("empty procedure-file page", url)
    try:
        root = html.fromstring(content)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"unparseable HTML: {exc}", url) from None
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    if SOFT_404.lower() in text_of(root).lower():
        raise ParseError(f"soft 404: the Observatory says {SOFT_404!r}", url)
    heading = root.xpath(f"//h2[{has_class('title-h1')}]")
    page_reference = normalise_reference(text_of(heading[0])) if heading else None
    if not page_reference:
        raise ParseError("no procedure reference heading (h2.es_title-h1 or h2.erpl_title-h1): not a procedure file, "
                         "or the markup changed", url)
    if reference and page_reference != normalise_reference(reference):
        raise ParseError(f"page is procedure {page_reference}, not {reference}", url)
    title_nodes = heading[0].xpath(f"following::h2[{has_class('title-h2')}][1]")
    title = text_of(title_nodes[0]) if title_nodes else ""
    found = sections(root)
    if not title or title in REQUIRED + OPTIONAL:
        raise ParseError("procedure title (h2 title-h2 after the reference) is missing", url)
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        raise ParseError(f"procedure file lacks section(s) {', '.join(missing)} (markup changed?)", url)
    warnings = [f"section {name!r} missing" for name in OPTIONAL if name not in found]
    basic = parse_basic(found["Basic information"])
    public_url = canonical_url or url  # relative links resolve against the public page, not a mirror
    events = sorted(parse_key_events(found["Key events"], public_url), key=lambda e: e.date)
    if not events:
        raise ParseError("Key events section holds no dated event", url)
    players = parse_key_players(found["Key players"]) if "Key players" in found else []
    technical = parse_technical(found["Technical information"]) if "Technical information" in found else {}
    documents = parse_gateway(found["Documentation gateway"], public_url) if "Documentation gateway" in found else []
    ptype = technical.get("Procedure type") or basic.get("type")
    stage = technical.get("Stage reached in procedure") or basic.get("status")
    key = dossier_key(page_reference)
    metadata = {k: v for k, v in {
        "reference": page_reference, "type": ptype, "subtype": technical.get("Procedure subtype"),
        "subjects": basic.get("subject"), "status": basic.get("status"), "legal_basis": technical.get("Legal basis"),
        "committee_dossier": technical.get("Committee dossier"), "key_players": players, "documents": documents,
        "attribution": attribution(page_reference[:4]),
    }.items() if v}
    linked = {doceo_id(e.ref_url) for e in events} | {doceo_id(d.get("url")) for d in documents}
    links = [Link("document", "ep-open-data", d) for d in sorted(filter(None, linked))]
    dossier = DossierRecord(
        key=key, kind="procedure", title=title, url=public_url, stage=stage, status=basic.get("status"), updated_at=events[-1].date, metadata=metadata, events=events,
    )
    document = DocumentRecord(
        source_id=page_reference, url=public_url, title=title,
        text=render(page_reference, title, basic, players, events, technical, documents),
        doc_type="procedure", language="en", published_at=events[0].date, updated_at=events[-1].date,
        group_key=key, same_as=[identity_key("ep-procedure", page_reference)], metadata=metadata, links=links,
        warnings=warnings,
    )
    return dossier, document


def parse_rss(content: bytes, url: str) -> list[dict]:
    """Items of the Observatory's RSS export: reference (star stripped), link, and any descriptive text
    (title beyond the reference, description, category) to judge relevance on."""
    root = parse_xml(content)
    if etree.QName(root).localname not in ("rss", "RDF", "feed"):
        raise ParseError(f"not an RSS feed (root element {etree.QName(root).localname!r})", url)
    items = []
    for node in root.iter("{*}item", "item", "{*}entry"):
        def field(name: str) -> str:
            found = node.find(name)
            if found is None:
                found = node.find("{*}" + name)
            return clean("".join(found.itertext())) if found is not None else ""
        title, link = field("title"), field("link")
        if not link:
            link_node = node.find("{*}link")
            link = (link_node.get("href") or "") if link_node is not None else ""
        reference = normalise_reference(title) or reference_in(link)
        if not reference:
            continue
        extra = " ".join(filter(None, [title if not normalise_reference(title) else "", field("description"), field("category")]))
        items.append({"reference": reference, "link": link, "text": extra})
    return items


class EpOeil(Source):
    """Legislative Observatory procedure files: key events, players and the documentation gateway."""

    id = "ep-oeil"
    title = "European Parliament Legislative Observatory (OEIL)"
    jurisdiction = "EU"
    institution = "European Parliament"
    kind = "web"
    default_base_url = DEFAULT_BASE_URL
    default_interval = "1d"
    parser_version = "1"
    mirrored_hosts = (OLD_HOST,)  # old links (and ficheprocedure.do) redirect to the new host
    options = {
        "procedures": Option(list(DEFAULT_PROCEDURES), "procedure files always read (references or Observatory links)", item=str),
        "rss": Option(True, "follow the RSS of new and updated procedures"),
        "keywords": Option(list(DEFAULT_KEYWORDS), "title words that make an RSS procedure relevant", item=str),
    }

    def __init__(self, ctx):
        super().__init__(ctx)
        self.procedures = []
        for value in self.option("procedures"):
            reference = reference_in(value)
            if reference is None:
                raise ParseError(f"sources.ep-oeil.procedures: {value!r} is neither a reference like 2023/2059(INI) nor an Observatory link")
            self.procedures.append(reference)
        self.use_rss = self.option("rss")
        self.pattern = keyword_pattern(ctx.terms, self.option("keywords"))

    def _relevant(self, text: str) -> bool:
        return self.pattern is not None and bool(self.pattern.search(text))

    def discover(self) -> Iterator[Item]:
        wanted = dict.fromkeys(self.procedures)
        for reference in wanted:
            yield Item(key=reference, url=procedure_url(self.base_url, reference), data={"reference": reference})
        if not self.use_rss:
            return
        rss = f"{self.base_url}/search/export/RSS"
        try:
            response = self.ctx.client.get(rss, robots=True, accept="application/rss+xml, application/xml;q=0.9, */*;q=0.5")
            entries = parse_rss(response.content, response.url)
        except BlockedError:
            raise
        except HttpStatusError as exc:
            if exc.status != 404:  # the configured procedures were read already: the run is partial
                self.ctx.item_error(Item(key="rss", url=rss), exc)
            else:  # no feed here (a mirror or recording without it): the configured procedures only
                self.ctx.log and self.ctx.log.warning("RSS %s: HTTP 404, no procedures discovered from it", rss)
            return
        except FetchError as exc:  # the configured procedures were read already: the run is partial
            self.ctx.item_error(Item(key="rss", url=rss), exc)
            return
        for entry in entries:
            reference = entry["reference"]
            if reference in wanted:
                continue
            wanted[reference] = None
            url = procedure_url(self.base_url, reference)
            if entry["text"] and not self._relevant(entry["text"]):
                continue
            if not self.ctx.full and self.ctx.seen_url(url):
                continue  # judged irrelevant on an earlier run
            yield Item(key=reference, url=url, data={"reference": reference, "judge": not entry["text"]})

    def fetch(self, item: Item) -> Iterator[Record]:
        reference = item.data["reference"]
        response = self.ctx.client.get(item.url, robots=True, conditional=not self.ctx.full)
        if response.not_modified:
            self.ctx.skipped += 1
            return
        dossier, document = parse_procedure_file(response.content, response.url, reference,
                                                 canonical_url=procedure_url(DEFAULT_BASE_URL, reference))
        if item.data.get("judge") and not self._relevant(" ".join([document.title, *(document.metadata.get("subjects") or [])])):
            self.ctx.remember_url(item.url, "ep-oeil: procedure title and subjects match no topic term or keyword")
            return
        yield dossier
        yield document


SOURCE = EpOeil
