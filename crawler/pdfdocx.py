"""PDF (pypdf) and DOCX (python-docx) text, within `crawler.limits.ExtractLimits`.

These run inside the extraction worker process (crawler/bounded.py), which adds the wall-time,
CPU and memory bounds; call them through `crawler.extract.pdf_to_text` / `docx_to_text`. What
they check themselves, before the expensive part where possible:

- DOCX: the zip directory (declared sizes of XML members against ``max_xml_bytes``, the whole
  archive against `DOCX_MAX_UNCOMPRESSED`, and the compression ratio of large members), then the
  actual inflated size of each XML member (a directory may lie), then the text length;
- PDF: the page count, the decompressed page content (content streams and the form XObjects a page
  uses, summed over pages, so pages sharing one huge stream are counted once per page), then the
  text length page by page.
Over a limit: `ExtractionLimit` naming the limit. Broken input: `ParseError`.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from lxml import etree

from crawler.errors import ExtractionLimit, ParseError
from crawler.extract import GARBLED, garbled_reason, tidy
from crawler.limits import ExtractLimits

DOCX_MAX_UNCOMPRESSED = 200_000_000  # every member of the archive (media included), as declared
DOCX_MAX_RATIO = 200  # a large member inflating more than this is a bomb (real document.xml: 3-20x)
DOCX_RATIO_FLOOR = 1_000_000  # members smaller than this may compress as well as they like
XML_MEMBER = (".xml", ".rels")


def _check_zip(archive: zipfile.ZipFile, limits: ExtractLimits) -> None:
    infos = archive.infolist()
    if "word/document.xml" not in {info.filename for info in infos}:
        raise ParseError("zip archive is not a DOCX (no word/document.xml)")
    if sum(info.file_size for info in infos) > DOCX_MAX_UNCOMPRESSED:
        raise ExtractionLimit(f"DOCX expands beyond {DOCX_MAX_UNCOMPRESSED} bytes (zip bomb guard)")
    xml = [info for info in infos if info.filename.lower().endswith(XML_MEMBER)]
    declared = sum(info.file_size for info in xml)
    if declared > limits.max_xml_bytes:
        biggest = max(xml, key=lambda info: info.file_size)
        raise ExtractionLimit(f"DOCX XML expands to {declared} bytes ({biggest.filename}: {biggest.file_size}), "
                              f"more than extract_max_xml_bytes = {limits.max_xml_bytes}")
    for info in xml:
        if info.file_size > DOCX_RATIO_FLOOR and info.file_size > DOCX_MAX_RATIO * max(1, info.compress_size):
            raise ExtractionLimit(f"DOCX member {info.filename} inflates {info.file_size // max(1, info.compress_size)}x "
                                  f"(more than {DOCX_MAX_RATIO}x: zip bomb guard)")
    actual = 0
    for info in xml:  # the directory may lie: count what really comes out
        with archive.open(info) as member:
            while chunk := member.read(1 << 20):
                actual += len(chunk)
                if actual > limits.max_xml_bytes:
                    raise ExtractionLimit(f"DOCX XML inflates beyond extract_max_xml_bytes = {limits.max_xml_bytes} "
                                          f"(the zip directory declared {declared})")


def _docx_blocks(container) -> list[str]:
    """Paragraphs and tables of a python-docx block container, in document order; a table row is
    one line with its cells separated by " | " (merged cells once), nested tables included."""
    from docx.table import Table

    blocks: list[str] = []
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells, seen = [], set()
                for cell in row.cells:
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    text = " ".join(b.replace("\n", " ") for b in _docx_blocks(cell)).strip()
                    if text:
                        cells.append(text)
                if cells:
                    blocks.append(" | ".join(cells))
        elif block.text.strip():
            blocks.append(block.text)
    return blocks


def docx_text(content: bytes, limits: ExtractLimits) -> tuple[str, list[str]]:
    """Text of a Word (OOXML) document: body paragraphs and table rows in document order."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            _check_zip(archive, limits)
        document = docx.Document(io.BytesIO(content))
    except ParseError:
        raise
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, EOFError, etree.XMLSyntaxError,
            zlib.error, NotImplementedError) as exc:
        raise ParseError(f"unreadable DOCX: {type(exc).__name__}: {exc}") from None
    text = tidy("\n\n".join(_docx_blocks(document)))
    if len(text) > limits.max_chars:
        raise ExtractionLimit(f"DOCX text has {len(text)} characters, more than extract_max_chars = {limits.max_chars}")
    if not text:
        raise ParseError("DOCX contains no text")
    return text, []


def _stream_size(obj, seen: dict) -> int:
    """Decompressed bytes of a content stream or array of streams (cached per indirect object)."""
    key = (obj.idnum, obj.generation) if hasattr(obj, "idnum") else None
    if key in seen:
        return seen[key]
    resolved = obj.get_object()
    parts = resolved if isinstance(resolved, list) else [resolved]
    size = sum(len(part.get_object().get_data()) for part in parts)
    if key is not None:
        seen[key] = size
    return size


def _page_content_bytes(page, seen: dict) -> int:
    size = _stream_size(page.raw_get("/Contents"), seen) if "/Contents" in page else 0
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    for ref in (xobjects.get_object().values() if xobjects is not None else []):
        if ref.get_object().get("/Subtype") == "/Form":
            size += _stream_size(ref, seen)
    return size


def pdf_text(content: bytes, limits: ExtractLimits) -> tuple[str, list[str]]:
    """Text of a PDF's text layer, pages separated by blank lines, plus warnings (pages without
    text or that failed). No usable text layer raises `ParseError` ("PDF text layer empty or
    garbled: ..."); permission-only encryption is opened with the empty password."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, PdfReadError, PyPdfError

    if b"%PDF-" not in content[:1024]:
        raise ParseError("not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ParseError("PDF is encrypted with a password")
        pages = list(reader.pages)
        if len(pages) > limits.max_pages:
            raise ExtractionLimit(f"PDF has {len(pages)} pages, more than extract_max_pages = {limits.max_pages}")
        seen: dict = {}
        total = 0
        for page in pages:
            total += _page_content_bytes(page, seen)
            if total > limits.max_content_bytes:
                raise ExtractionLimit(f"PDF page content expands beyond extract_max_content_bytes = "
                                      f"{limits.max_content_bytes} ({len(pages)} pages)")
    except ParseError:
        raise
    except (PdfReadError, PyPdfError, DependencyError, ValueError, KeyError, TypeError, AttributeError,
            RecursionError, zlib.error) as exc:
        raise ParseError(f"unreadable PDF: {type(exc).__name__}: {exc}") from None
    if not pages:
        raise ParseError(f"{GARBLED}: no pages")
    texts, empty, failed, chars = [], [], [], 0
    for number, page in enumerate(pages, 1):
        try:
            page_text = tidy(page.extract_text() or "")
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken page streams
            failed.append(f"{number} ({type(exc).__name__})")
            continue
        chars += len(page_text)
        if chars > limits.max_chars:
            raise ExtractionLimit(f"PDF text passes extract_max_chars = {limits.max_chars} on page {number} of {len(pages)}")
        if page_text:
            texts.append(page_text)
        else:
            empty.append(str(number))
    warnings = [f"text extraction failed on page(s) {', '.join(failed)}"] if failed else []
    text = "\n\n".join(texts)
    reason = garbled_reason(text)
    if reason:
        raise ParseError(f"{GARBLED}: {reason}")
    if empty:
        warnings.append(f"{len(empty)} of {len(pages)} page(s) have no text layer (scanned?): {', '.join(empty[:20])}")
    return text, warnings
