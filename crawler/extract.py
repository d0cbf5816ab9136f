"""Text extraction from the formats upstreams serve: HTML, XML, DOCX, PDF, plain text.

Functions from bytes to text. PDF and DOCX go to a child process with hard limits
(crawler/bounded.py running crawler/pdfdocx.py); the rest is parsed here. They normalise white space inside paragraphs but keep paragraph
breaks, because sentence segmentation and the analyst's reading both need them. XML is parsed
with external entities and network access disabled.
"""

from __future__ import annotations

import re
import unicodedata

from lxml import etree, html

from crawler import bounded, limits
from crawler.errors import ParseError

BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "section", "article",
    "blockquote", "table", "ul", "ol", "dd", "dt", "header", "footer", "title", "td", "th",
}
DROP_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "head")
_INLINE_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def tidy(text: str) -> str:
    """Fold spaces within lines, keep single blank lines between paragraphs."""
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# Inline elements of the XML vocabularies we read (XHTML, USLM and bill DTDs, EP/Akoma Ntoso); in XML
# every other element is a block, so that "<official-title>An Act</official-title><section>To..."
# does not read "An ActTo...".
XML_INLINE_TAGS = {
    "a", "b", "i", "u", "em", "strong", "sup", "sub", "span", "abbr", "cite", "code", "small", "br",
    "term", "quote", "ref", "inline", "date", "short-title", "external-xref", "internal-xref",
    "enum", "num", "marker", "fillin", "pagebreak", "footnote-ref", "noteref", "docnumber", "docstage",
}


def _block_text(root, xml: bool = False) -> str:
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        local = tag.rsplit("}", 1)[-1].lower()
        block = local not in XML_INLINE_TAGS if xml and tag else local in BLOCK_TAGS
        if block:
            parts.append("\n")
        if node.text and isinstance(node.tag, str):  # comments and processing instructions are not text
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    walk(root)
    return tidy("".join(parts))


def html_to_text(content: bytes | str) -> str:
    """Visible text of an HTML page or fragment, paragraphs kept."""
    if isinstance(content, bytes) and not content.strip() or isinstance(content, str) and not content.strip():
        raise ParseError("empty HTML body")
    try:
        root = html.fromstring(content)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"unparseable HTML: {exc}") from None
    for bad in root.xpath("|".join(f"//{t}" for t in DROP_TAGS)):
        bad.drop_tree()
    return _block_text(root)


def safe_xml_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entities, reads no DTDs and touches no network (XXE-safe)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False)


def parse_xml(content: bytes) -> etree._Element:
    """Parse XML safely; malformed, truncated or entity-laden payloads raise `ParseError`."""
    if b"<!ENTITY" in content[:4096]:
        raise ParseError("XML declares entities (refused: XXE / entity expansion guard)")
    try:
        return etree.fromstring(content, parser=safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"malformed XML: {exc}") from None


def xml_to_text(content: bytes) -> str:
    """Text of an XML document, one paragraph per element that is not an inline one."""
    return _block_text(parse_xml(content), xml=True)


def looks_like_html(content: bytes) -> bool:
    """True when a body that claims to be text is an HTML page."""
    head = content[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<pre", b"<body", b"<div", b"<p>"))


# -- DOCX, PDF and the dispatcher ------------------------------------------------------------------

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
GARBLED = "PDF text layer empty or garbled"
_CID = re.compile(r"\(cid:\d+\)")


def docx_to_text(content: bytes) -> str:
    """Text of a Word (OOXML) document: body paragraphs and table rows in document order, one
    paragraph per block. A truncated or non-DOCX archive raises `ParseError`; one over the
    extraction limits (zip member sizes, inflated XML, characters, time, memory) raises
    `ExtractionLimit`. Runs in the bounded worker process (crawler/bounded.py)."""
    return bounded.extract("docx", content, limits.current())[0]


def garbled_reason(text: str) -> str | None:
    """Why an extracted text layer is unusable (empty, (cid:NN) glyph ids, replacement or
    private-use characters, too few letters, one letter per line or word), or None when it reads."""
    cid_chars = sum(len(m) for m in _CID.findall(text))
    visible = [ch for ch in text if not ch.isspace()]
    if not visible:
        return "no text"
    if cid_chars > 0.1 * len(visible):
        return "unmapped glyphs ((cid:NN) runs)"
    bad = sum(1 for ch in visible if ch == "\ufffd" or unicodedata.category(ch) in ("Co", "Cc", "Cs"))
    if bad > 0.1 * len(visible):
        return "mostly replacement or private-use characters"
    letters = sum(1 for ch in visible if ch.isalpha())
    if letters < 20:
        return "no text"
    if letters < 0.3 * len(visible):
        return f"too few letters ({letters / len(visible):.0%} of characters)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) >= 20 and sum(1 for line in lines if len(line) <= 2) > 0.5 * len(lines):
        return "one character per line"
    words = text.split()
    if len(words) >= 20 and sum(1 for w in words if len(w) == 1 and w.isalpha()) > 0.6 * len(words):
        return "one letter per word (spaced-out glyphs)"
    return None


def pdf_to_text(content: bytes) -> tuple[str, list[str]]:
    """Text of a PDF's text layer, pages separated by blank lines, plus warnings (pages without
    text or that failed). A PDF without a usable text layer (scanned, or glyphs without a Unicode
    map) raises `ParseError` ("PDF text layer empty or garbled: ..."), so no empty document is
    stored. Encrypted PDFs are opened with the empty user password (permission-only encryption);
    a PDF that needs a real password raises `ParseError`. Over the extraction limits (pages,
    decompressed page content, characters, time, memory): `ExtractionLimit`, never a truncated
    text. Runs in the bounded worker process (crawler/bounded.py)."""
    return bounded.extract("pdf", content, limits.current())


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def decode_text(content: bytes, content_type: str = "") -> tuple[str, list[str]]:
    """Bytes decoded with the declared charset, else UTF-8 (BOM honoured), else cp1252 with a warning."""
    for encoding in filter(None, [_charset(content_type), "utf-8-sig"]):
        try:
            return content.decode(encoding), []
        except (UnicodeDecodeError, LookupError):
            continue
    return content.decode("cp1252", errors="replace"), ["body is not valid UTF-8: decoded as cp1252"]


def sniff_format(content: bytes, content_type: str = "", url: str = "") -> str:
    """``pdf``, ``docx``, ``html``, ``xml``, ``text``, or ``binary``: magic bytes first, then the
    declared media type, then the URL's extension."""
    media = content_type.split(";")[0].strip().lower()
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    path = url.split("?")[0].lower()
    if b"%PDF-" in content[:1024]:
        return "pdf"
    if content.startswith(b"PK\x03\x04") or media == DOCX_MEDIA_TYPE:
        return "docx"
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        return "binary"  # legacy OLE (.doc): not supported
    if media in ("text/html", "application/xhtml+xml") or looks_like_html(content) or (
        head.startswith(b"<?xml") and b"<html" in head
    ):
        return "html"
    if media.endswith(("/xml", "+xml")) or head.startswith(b"<?xml") or path.endswith(".xml"):
        return "xml"
    if media == "application/pdf" or path.endswith(".pdf"):
        return "pdf"
    if b"\x00" in content[:4096]:
        return "binary"
    return "text"


def readable(text: str) -> bool:
    """True when ``text`` has at least one word of two letters and is not mostly undecodable bytes
    (U+FFFD) or control characters: garbage never becomes a document or a new version."""
    if not re.search(r"[^\W\d_]{2}", text):
        return False
    junk = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\t\r"))
    return junk * 10 < len(text)


def extract_text(content: bytes, content_type: str = "", url: str = "") -> tuple[str, list[str]]:
    """Text and warnings of a fetched body, whatever its format (XML, XHTML, HTML, DOCX, PDF, plain
    text), chosen by magic bytes and media type. Unsupported, malformed or empty bodies raise
    `ParseError`: the caller records an item error instead of storing an empty document."""
    if not content or not content.strip():
        raise ParseError("empty body", url or None)
    kind = sniff_format(content, content_type, url)
    warnings: list[str] = []
    try:
        if kind == "pdf":
            text, warnings = pdf_to_text(content)
        elif kind == "docx":
            text = docx_to_text(content)
        elif kind == "html":
            text = html_to_text(content)
        elif kind == "xml":
            text = xml_to_text(content)
        elif kind == "text":
            decoded, warnings = decode_text(content, content_type)
            text = tidy(decoded)
        else:
            raise ParseError(f"unsupported binary content ({content_type or 'no media type'})")
    except ParseError as exc:
        if exc.url or not url:
            raise
        raise type(exc)(str(exc), url) from None  # ExtractionLimit stays an ExtractionLimit
    if not text.strip():
        raise ParseError(f"no text in {kind} body", url or None)
    if not readable(text):
        raise ParseError(f"no readable text in {kind} body (markup, control characters or undecodable bytes only)", url or None)
    return text, warnings
