"""Text extraction from the formats upstreams serve: HTML, XML, plain text (DOCX and PDF are added beside).

Pure functions from bytes to text. They normalise white space inside paragraphs but keep paragraph
breaks, because sentence segmentation and the analyst's reading both need them. XML is parsed
with external entities and network access disabled.
"""

from __future__ import annotations

import re

from lxml import etree, html

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


def _block_text(root) -> str:
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        local = tag.rsplit("}", 1)[-1].lower()
        block = local in BLOCK_TAGS
        if block:
            parts.append("\n")
        if node.text:
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
    """Text of an XML document, one paragraph per block-like element."""
    return _block_text(parse_xml(content))


def looks_like_html(content: bytes) -> bool:
    """True when a body that claims to be text is an HTML page."""
    head = content[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<pre", b"<body", b"<div", b"<p>"))
