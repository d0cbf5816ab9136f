"""Telling "no network here" apart from upstream trouble, so an offline `tracker crawl` says so in one line.

A run is *unreachable* when it stored nothing and its error is a failure to reach the host at all: the
name did not resolve (``cannot resolve host``, from the client's address check) or the connection was
refused or reset before any answer (``connection failed``, or ``robots.txt unreachable`` for sources
that read robots.txt first; the client words a robots.txt answering 5xx the same way, so that case is
counted too). HTTP errors, timeouts, challenges and malformed bodies are upstream trouble, never "no
network". When every run of a crawl is unreachable, `offline_summary` gives the one line to print
instead of a line per source.

While a crawl runs, `held_network_logs` holds the log records of such failures (the per-item
warnings and the per-run lines that carry them) instead of writing them at once; afterwards they are
written as they were, or, when the whole crawl was offline, at DEBUG (shown with ``-v``) so the
terminal gets the one line. Runs are recorded in ``crawl_runs`` either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

NETWORK_MARKERS = ("cannot resolve host", "connection failed", "robots.txt unreachable")
# urllib3's own retry warnings for the same failures (held with the rest, never used to classify a run)
LOG_MARKERS = ("failed to establish a new connection", "nameresolutionerror")


class RunOutcome(Protocol):
    """What `offline_summary` reads of a run (`tracker.crawl.RunResult` has it)."""

    status: str
    counts: dict
    message: str | None


def is_network_failure(message: str | None) -> bool:
    """Whether an error message says the host could not be reached at all (DNS, refused connection)."""
    text = (message or "").lower()
    return any(marker in text for marker in NETWORK_MARKERS)


def unreachable(run: RunOutcome) -> bool:
    """A run that got nothing because its upstream could not be reached (not an HTTP or parse error)."""
    return run.status in ("failed", "partial") and not run.counts.get("fetched") and is_network_failure(run.message)


def offline_summary(runs: Iterable[RunOutcome]) -> str | None:
    """The one line for a crawl where no source could be reached, else None."""
    runs = list(runs)
    if not runs or not all(unreachable(r) for r in runs):
        return None
    return (f"crawl: no source could be reached (no network?): {len(runs)} of {len(runs)} sources failed to connect; "
            "try `tracker demo` to see the product offline")


class HeldLogs(logging.Filter):
    """A handler filter keeping back network-failure records until `release`."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.handlers: list[logging.Handler] = []
        self._held: set[int] = set()  # one record reaches every root handler: held once

    def filter(self, record: logging.LogRecord) -> bool:
        text = f"{record.getMessage()} {getattr(record, 'error', '') or ''}"
        if is_network_failure(text) or any(marker in text.lower() for marker in LOG_MARKERS):
            if id(record) not in self._held:
                self._held.add(id(record))
                self.records.append(record)
            return False
        return True

    def release(self, quiet: bool) -> None:
        """Write the held records: as they were, or (``quiet``) at DEBUG, i.e. only when DEBUG is on."""
        for handler in self.handlers:
            handler.removeFilter(self)
        self.handlers = []
        root = logging.getLogger()
        for record in self.records:
            if quiet:
                if not root.isEnabledFor(logging.DEBUG):
                    continue
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            logging.getLogger(record.name).handle(record)
        self.records, self._held = [], set()


@contextmanager
def held_network_logs() -> Iterator[HeldLogs]:
    """Hold network-failure log records during the block; the caller calls ``release`` (else they are
    written as they were on exit)."""
    held = HeldLogs()
    held.handlers = list(logging.getLogger().handlers)
    for handler in held.handlers:
        handler.addFilter(held)
    try:
        yield held
    finally:
        if held.handlers:
            held.release(quiet=False)
