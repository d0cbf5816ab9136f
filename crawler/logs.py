"""Loggers that carry the source id on every line, merged with the extras of each call."""

from __future__ import annotations

import logging


class SourceLog(logging.LoggerAdapter):
    """A LoggerAdapter whose ``source`` (and other bound fields) are merged with per-call ``extra``
    (the standard adapter replaces them, so counts passed with a message would be lost)."""

    def process(self, msg, kwargs):
        kwargs["extra"] = {**self.extra, **(kwargs.get("extra") or {})}
        return msg, kwargs


def source_log(name: str, source_id: str | None) -> SourceLog:
    """The logger ``name`` bound to ``source_id``."""
    return SourceLog(logging.getLogger(name), {"source": source_id})
