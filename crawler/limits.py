"""Limits of PDF and DOCX text extraction (``[http] extract_*`` keys), process-wide.

Sources call `crawler.extract` with bytes only, so the limits are not passed along: constructing an
`crawler.http.HttpClient` applies its settings' limits here (`configure`), and the extraction
worker (crawler/bounded.py) reads `current()`. Until a client exists the defaults apply.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ExtractLimits:
    """How much one PDF or DOCX may cost; a document over any limit is refused as a whole.

    - ``max_pages``: pages of a PDF.
    - ``max_chars``: characters of the extracted text.
    - ``max_xml_bytes``: decompressed XML of a DOCX (each member and all together, as declared in
      the zip directory and as actually inflated).
    - ``max_content_bytes``: decompressed page content of a PDF (content streams and the form
      XObjects each page uses, summed over pages: a stream shared by 1,000 pages counts 1,000 times).
    - ``timeout_s``: wall time of one extraction (the worker process is killed past it).
    - ``memory_mb``: address space of the worker process (RLIMIT_AS).
    """

    max_pages: int = 3000
    max_chars: int = 10_000_000
    max_xml_bytes: int = 20_000_000
    max_content_bytes: int = 16_000_000
    timeout_s: float = 60.0
    memory_mb: int = 1024

    def as_dict(self) -> dict:
        return asdict(self)


_lock = threading.Lock()
_current = ExtractLimits()


def configure(limits: ExtractLimits) -> None:
    """Make ``limits`` apply to every later extraction in this process."""
    global _current
    with _lock:
        _current = limits


def current() -> ExtractLimits:
    """The limits extraction runs with now."""
    return _current
