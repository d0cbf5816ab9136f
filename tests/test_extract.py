"""Text extraction: real DOCX files built with python-docx, real PDFs with hand-written content
streams (a text layer, an image-only page, glyphs mapped to private-use code points, one letter per
line, encryption), and malformed inputs that must raise `ParseError` instead of yielding nothing.
Then the limits (issue 14): PDF and DOCX bombs under the size limit, refused quickly by the bounded
worker process, directly and through a real source."""

from __future__ import annotations

import io
import logging
import resource
import time
import zipfile
import zlib
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from crawler import bounded, pdfdocx
from crawler import limits as extract_limits
from crawler.errors import ExtractionLimit, ParseError
from crawler.extract import (
    DOCX_MEDIA_TYPE,
    docx_to_text,
    extract_text,
    garbled_reason,
    pdf_to_text,
    sniff_format,
    xml_to_text,
)
from crawler.limits import ExtractLimits

PORT_TEXT = [
    "The Commission shall assess the security of port community systems.",
    "Member States shall report on foreign access to port logistics data, including LOGINK.",
]

# -- builders -------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_stream(lines: list[str], leading: int = 14) -> bytes:
    """A content stream that shows each line with Helvetica, one below the other."""
    ops = ["BT", "/F1 11 Tf", f"{leading} TL", "72 760 Td"]
    for line in lines:
        ops.append(f"({_escape(line)}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


IMAGE_ONLY_STREAM = b"q 0.2 0.2 0.2 rg 72 500 300 200 re f Q"  # a filled rectangle: no text at all


def make_pdf(pages: list[bytes], to_unicode: bytes | None = None) -> bytes:
    """A minimal valid PDF (correct xref) with one page per content stream, font /F1 = Helvetica;
    ``to_unicode`` attaches a ToUnicode CMap to the font."""
    objects: list[bytes] = []  # object n is objects[n-1]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # pages, filled below
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding"
    if to_unicode is not None:
        font += b" /ToUnicode 4 0 R"
    objects.append(font + b" >>")
    objects.append(b"<< /Length %d >>\nstream\n" % len(to_unicode or b"") + (to_unicode or b"") + b"\nendstream")
    kids = []
    for stream in pages:
        content_number = len(objects) + 1
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            b" /Contents %d 0 R >>" % content_number
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(kids)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


PRIVATE_USE_CMAP = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CMapName /Garbled def
/CMapType 2 def
1 begincodespacerange
<00> <FF>
endcodespacerange
1 beginbfrange
<20> <7E> <E020>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end"""


def text_pdf(lines: list[str] = PORT_TEXT) -> bytes:
    return make_pdf([text_stream(lines)])


def encrypt(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Port data security", level=1)
    document.add_paragraph(PORT_TEXT[0])
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Platform", "Operator"
    table.cell(1, 0).text, table.cell(1, 1).text = "LOGINK", "Ministry of Transport of the PRC"
    document.add_paragraph("")
    document.add_paragraph(PORT_TEXT[1])
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# -- DOCX -----------------------------------------------------------------------------------------


def test_docx_paragraphs_and_tables_in_document_order():
    text = docx_to_text(make_docx())
    assert text.split("\n\n") == [
        "Port data security",
        PORT_TEXT[0],
        "Platform | Operator",
        "LOGINK | Ministry of Transport of the PRC",
        PORT_TEXT[1],
    ]


def test_docx_merged_cells_appear_once():
    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "Ports of Rotterdam and Antwerp"
    table.cell(0, 2).text = "port community system"
    out = io.BytesIO()
    document.save(out)
    assert docx_to_text(out.getvalue()) == "Ports of Rotterdam and Antwerp | port community system"


def test_truncated_docx_raises():
    data = make_docx()
    with pytest.raises(ParseError, match="unreadable DOCX|not a DOCX"):
        docx_to_text(data[: len(data) // 2])


def test_zip_that_is_not_a_docx_raises():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("content.xml", "<office:document/>")
    with pytest.raises(ParseError, match="not a DOCX"):
        docx_to_text(out.getvalue())


def test_docx_without_text_raises():
    out = io.BytesIO()
    docx.Document().save(out)
    with pytest.raises(ParseError, match="no text"):
        docx_to_text(out.getvalue())


# -- PDF ------------------------------------------------------------------------------------------


def test_pdf_text_layer_is_extracted_page_by_page():
    pdf = make_pdf([text_stream(PORT_TEXT[:1]), text_stream(PORT_TEXT[1:])])
    text, warnings = pdf_to_text(pdf)
    assert text == PORT_TEXT[0] + "\n\n" + PORT_TEXT[1]
    assert warnings == []


def test_pdf_with_some_image_only_pages_warns():
    pdf = make_pdf([text_stream(PORT_TEXT), IMAGE_ONLY_STREAM])
    text, warnings = pdf_to_text(pdf)
    assert "LOGINK" in text
    assert warnings == ["1 of 2 page(s) have no text layer (scanned?): 2"]


def test_image_only_pdf_raises():
    with pytest.raises(ParseError, match="PDF text layer empty or garbled: no text"):
        pdf_to_text(make_pdf([IMAGE_ONLY_STREAM, IMAGE_ONLY_STREAM]))


def test_private_use_glyphs_are_garbled():
    pdf = make_pdf([text_stream(PORT_TEXT)], to_unicode=PRIVATE_USE_CMAP)
    with pytest.raises(ParseError, match="PDF text layer empty or garbled: mostly replacement or private-use"):
        pdf_to_text(pdf)


def test_one_letter_per_line_is_garbled():
    letters = [ch for ch in "Member States shall report on port data" if ch != " "]
    with pytest.raises(ParseError, match="PDF text layer empty or garbled: one character per line"):
        pdf_to_text(make_pdf([text_stream(letters)]))


def test_pdf_with_empty_user_password_is_read():
    text, _ = pdf_to_text(encrypt(text_pdf(), ""))
    assert text == "\n".join(PORT_TEXT)


def test_pdf_needing_a_password_raises():
    with pytest.raises(ParseError, match="encrypted with a password"):
        pdf_to_text(encrypt(text_pdf(), "secret"))


def test_not_a_pdf_raises():
    with pytest.raises(ParseError, match="not a PDF"):
        pdf_to_text(b"<html><body>Not found</body></html>")


def test_truncated_pdf_raises():
    pdf = text_pdf()
    with pytest.raises(ParseError):
        pdf_to_text(pdf[:120])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no text"),
        ("(cid:12)(cid:44)(cid:3)(cid:9) " * 30, "(cid:NN)"),
        ("\ufffd\ufffd\ufffd abc " * 40, "replacement"),
        ("12.5 Port 33.1 -- 44/12 " * 40, "too few letters"),
        ("T h e  C o m m i s s i o n  s h a l l  a s s e s s  p o r t s", "one letter per word"),
    ],
    ids=["empty", "cid", "replacement", "digits", "spaced"],
)
def test_garbled_reasons(text, reason):
    assert reason in (garbled_reason(text) or "")


def test_ordinary_text_is_not_garbled():
    assert garbled_reason("\n".join(PORT_TEXT * 10)) is None
    assert garbled_reason("国家交通运输物流公共信息平台（LOGINK）是中国交通运输部建设的物流信息平台。" * 3) is None


# -- dispatcher -----------------------------------------------------------------------------------


def test_dispatch_by_magic_bytes_ignores_a_wrong_media_type():
    text, _ = extract_text(text_pdf(), "application/octet-stream", "https://example.org/download")
    assert "LOGINK" in text
    text, _ = extract_text(make_docx(), "application/octet-stream", "https://example.org/download")
    assert "Ministry of Transport" in text


@pytest.mark.parametrize(
    ("body", "media", "url", "kind", "expected"),
    [
        (b'<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>T</title>'
         b"</head><body><p>Article 1</p><p>Ports</p></body></html>", "application/xhtml+xml", "", "html", "Article 1\n\nPorts"),
        (b"<html><body><script>x()</script><p>Port strategy</p></body></html>", "text/html", "", "html", "Port strategy"),
        (b'<?xml version="1.0"?><doc><title>Act</title><para>Port data</para></doc>', "application/xml", "", "xml", "Act\n\nPort data"),
        ("Caf\u00e9 port\r\n\r\n\r\nsecond".encode("cp1252"), "text/plain; charset=windows-1252", "", "text", "Caf\u00e9 port\n\nsecond"),
        (b"plain words about port data", "", "https://example.org/a.txt", "text", "plain words about port data"),
    ],
)
def test_dispatch_text_formats(body, media, url, kind, expected):
    assert sniff_format(body, media, url) == kind
    text, _ = extract_text(body, media, url)
    assert text == expected


def test_dispatch_cp1252_fallback_warns():
    text, warnings = extract_text("na\u00efve port".encode("cp1252"), "text/plain", "")
    assert text == "na\u00efve port" and warnings == ["body is not valid UTF-8: decoded as cp1252"]


def test_dispatch_refuses_empty_binary_and_malformed_bodies():
    with pytest.raises(ParseError, match="empty body"):
        extract_text(b"  \n", "text/html", "https://example.org/x")
    with pytest.raises(ParseError, match="unsupported binary"):
        extract_text(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "application/msword", "")
    with pytest.raises(ParseError, match="no text in html body"):
        extract_text(b"<html><body><script>only()</script></body></html>", "text/html", "")
    with pytest.raises(ParseError, match=r"malformed XML.*\(https://example.org/x.xml\)"):
        extract_text(b"<?xml version='1.0'?><doc><p>cut", "application/xml", "https://example.org/x.xml")
    with pytest.raises(ParseError, match="unreadable DOCX"):
        extract_text(make_docx()[:300], DOCX_MEDIA_TYPE, "")


def test_html_comments_are_not_text():
    page = b'<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><!-- CONVEX # converter_version:9.16.1 -->' \
           b"<body><!-- excerpt L1-2 --><p>Article 1</p>tail<!-- x --> end</body></html>"
    assert extract_text(page, "application/xhtml+xml", "")[0] == "Article 1\ntail end"


def test_xml_elements_are_blocks_unless_inline():
    bill = (b"<bill><official-title>An Act</official-title><section><enum>1.</enum><header>Short title</header>"
            b"<text>This Act may be cited as the <quote>Securing Maritime Data Act</quote>.</text></section></bill>")
    text = xml_to_text(bill)
    assert "An ActTo" not in text and "An Act\n" in text
    assert "cited as the Securing Maritime Data Act." in text  # inline quote stays in its sentence


# -- extraction within limits: bombs under the size limit, refused quickly in the bounded worker -------

FIXTURES = Path(__file__).parent / "fixtures"
PARAGRAPH = b"<w:p><w:r><w:t>Port community systems and LOGINK data.</w:t></w:r></w:p>"


def shared_stream_pdf(pages: int, stream: bytes) -> bytes:
    """A small PDF whose ``pages`` pages all draw one Flate-compressed content stream."""
    packed = zlib.compress(stream, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"]
    kids = []
    for _ in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
                       b" /Contents 4 0 R >>")
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


PDF_BOMB_STREAM = b"BT /F1 11 Tf 72 700 Td " + b"(port data) Tj " * (1_000_000 // 15) + b"ET"  # 1 MB of text operators


def docx_with_document_xml(size: int, level: int = 1, long_paragraphs: bool = False) -> bytes:
    """A real python-docx package whose word/document.xml is replaced by ``size`` bytes of short
    paragraphs, or of 1 MB paragraphs (deflated at ``level``: 1 gives about 170x, 9 about 290x)."""
    base = zipfile.ZipFile(io.BytesIO(make_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for info in base.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info, base.read(info))
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w='
                         b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
            long_one = b"<w:p><w:r><w:t>" + b"port data " * 100_000 + b"</w:t></w:r></w:p>"
            chunk = long_one if long_paragraphs else PARAGRAPH * (1_000_000 // len(PARAGRAPH))
            written = 0
            while written < size:
                member.write(chunk)
                written += len(chunk)
            member.write(b"</w:body></w:document>")
    return out.getvalue()


@pytest.fixture(scope="module")
def docx_bomb() -> bytes:
    return docx_with_document_xml(190_000_000)  # about 1.1 MB on the wire


@pytest.fixture
def with_limits():
    """Apply other extraction limits for one test (as a client built from the config would)."""
    before = extract_limits.current()

    def apply(**changes) -> None:
        extract_limits.configure(ExtractLimits(**{**before.as_dict(), **changes}))

    yield apply
    extract_limits.configure(before)


def test_pdf_pages_sharing_one_huge_content_stream_are_refused_at_once(caplog):
    bomb = shared_stream_pdf(20, PDF_BOMB_STREAM)
    assert len(bomb) < 6000
    before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="crawler.extract"), \
            pytest.raises(ExtractionLimit, match="extract_max_content_bytes = 16000000"):
        extract_text(bomb, "application/pdf", "https://example.org/bomb.pdf")
    assert time.monotonic() - started < 3
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_rss < 50_000  # KiB: the parent did not parse it
    assert any("extraction refused" in r.getMessage() for r in caplog.records)


def test_a_slow_pdf_under_every_size_limit_is_killed_at_the_timeout(with_limits):
    with_limits(max_content_bytes=10**9, timeout_s=2)
    started = time.monotonic()
    with pytest.raises(ExtractionLimit, match="took longer than extract_timeout_s = 2"):
        pdf_to_text(shared_stream_pdf(20, PDF_BOMB_STREAM))
    assert 2 <= time.monotonic() - started < 3.5
    assert pdf_to_text(text_pdf())[0] == "\n".join(PORT_TEXT)  # a fresh worker takes over


def test_pdf_page_and_character_limits(with_limits):
    with_limits(max_pages=3)
    with pytest.raises(ExtractionLimit, match="PDF has 4 pages, more than extract_max_pages = 3"):
        pdf_to_text(make_pdf([text_stream(PORT_TEXT)] * 4))
    with_limits(max_chars=100)
    with pytest.raises(ExtractionLimit, match="extract_max_chars = 100 on page 2 of 2"):
        pdf_to_text(make_pdf([text_stream(PORT_TEXT[:1]), text_stream(PORT_TEXT[1:])]))


def test_docx_with_a_huge_document_xml_is_refused_from_its_zip_directory(docx_bomb):
    assert len(docx_bomb) < 2_000_000
    started = time.monotonic()
    with pytest.raises(ExtractionLimit, match=r"DOCX XML expands to \d+ bytes \(word/document.xml: \d+\), more than extract_max_xml_bytes"):
        extract_text(docx_bomb, DOCX_MEDIA_TYPE, "https://example.org/bomb.docx")
    assert time.monotonic() - started < 3


def test_docx_whose_directory_lies_about_its_size_is_refused(docx_bomb):
    """The central directory says document.xml is 4 KB: the inflated bytes are counted, not believed."""
    data = bytearray(docx_bomb)
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo("word/document.xml")
    at = data.rfind(b"PK\x01\x02", 0, data.rfind(b"word/document.xml"))  # its central directory entry
    assert info.file_size > 0xFFFFFFFF or data[at + 24:at + 28] != b"\xff\xff\xff\xff"
    data[at + 24:at + 28] = (4096).to_bytes(4, "little")  # uncompressed size
    started = time.monotonic()
    with pytest.raises(ParseError, match="DOCX"):
        docx_to_text(bytes(data))
    assert time.monotonic() - started < 5


def test_docx_over_the_ratio_guard_is_refused(with_limits):
    with_limits(max_xml_bytes=10**9)
    with pytest.raises(ExtractionLimit, match="inflates .*x \\(more than 200x"):
        docx_to_text(docx_with_document_xml(5_000_000, level=9))


def test_docx_parse_that_needs_too_much_memory_is_refused(with_limits):
    with_limits(memory_mb=120, max_chars=10**9)
    data = docx_with_document_xml(18_000_000, long_paragraphs=True)  # under the byte limits: bounded by memory
    with pytest.raises(ExtractionLimit, match="extract_memory_mb = 120"):
        docx_to_text(data)
    assert "Ministry of Transport" in docx_to_text(make_docx())  # a fresh worker takes over


ORDINARY = sorted(FIXTURES.glob("*/examples/files/*.pdf")) + sorted(FIXTURES.glob("*/examples/files/*.docx"))


@pytest.mark.parametrize("path", ORDINARY, ids=lambda p: p.name)
def test_fixture_documents_extract_identically_through_the_worker(path):
    content = path.read_bytes()
    through_worker = extract_text(content, "", path.name)
    run = pdfdocx.pdf_text if path.suffix == ".pdf" else pdfdocx.docx_text
    assert bounded._worker is not None and bounded._worker.alive()  # it went through the worker process
    assert through_worker == run(content, ExtractLimits())  # the same code in-process gives the same text


def test_bombs_through_a_real_source_are_item_errors_and_nothing_is_stored(env, replay, docx_bomb):
    from tests import test_ep_open_data as epod

    epod.serve(replay)
    replay.add("/distribution/doc/TA-10-2026-0101_en.pdf", shared_stream_pdf(20, PDF_BOMB_STREAM))
    replay.add("/distribution/reds_iMaQp/E-9-2021-001464-ASW/E-9-2021-001464-ASW_en.docx", docx_bomb)
    epod.configure(env, replay)
    started = time.monotonic()
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert time.monotonic() - started < 20
    assert "ep-open-data: partial" in result.output, result.output
    message = next(env.db()["crawl_runs"].rows)["message"]
    assert message.startswith("2 item(s) failed") and "extract_max_content_bytes" in message, message
    assert "extraction refused: DOCX XML expands" in result.output  # the warning names the other one
    docs = epod.documents(env)
    assert "TA-10-2026-0101" not in docs and "E-9-2021-001464-ASW" not in docs
    assert {"TA-9-2024-0025", "A-9-2024-0163"} <= set(docs) and all(d["text"].strip() for d in docs.values())


def test_a_worker_that_dies_mid_document_is_an_extraction_limit_and_is_replaced(with_limits):
    import os
    import signal
    import threading

    with_limits(max_content_bytes=10**9, timeout_s=20)
    pdf_to_text(text_pdf())  # the worker is up
    pid = bounded._worker.proc.pid
    killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))  # as the kernel's OOM killer would
    killer.start()
    started = time.monotonic()
    with pytest.raises(ExtractionLimit, match=r"ended the extraction process \(signal SIGKILL"):
        pdf_to_text(shared_stream_pdf(20, PDF_BOMB_STREAM))
    assert time.monotonic() - started < 5
    assert pdf_to_text(text_pdf())[0] == "\n".join(PORT_TEXT) and bounded._worker.proc.pid != pid
