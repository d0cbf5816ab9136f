"""Structured logging: one logfmt line per event, always carrying the source id when there is one.
Time stamps come from the product clock (`db.clock`, UTC), like every row the event writes."""

from __future__ import annotations

import logging
import sys

from db import clock

STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=... logger=... source=... msg="..." key=value`` (extras appended)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "ts": clock.now_iso(),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        extras = {k: v for k, v in record.__dict__.items() if k not in STANDARD and v is not None}
        if "source" in extras:
            fields["source"] = extras.pop("source")
        fields["msg"] = record.getMessage()
        fields.update(extras)
        if record.exc_info and record.levelno >= logging.ERROR:
            fields["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return " ".join(f"{k}={_quote(v)}" for k, v in fields.items())


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def setup_logging(verbose: bool = False) -> None:
    """Send logfmt lines to stderr (INFO, or DEBUG with ``-v``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("urllib3", "trafilatura", "htmldate", "charset_normalizer", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
