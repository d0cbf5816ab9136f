"""Structured logs: logfmt lines that carry the source id and the extras of each call."""

from __future__ import annotations

import logging

from crawler.logs import source_log
from tracker.logs import LogfmtFormatter


def test_source_id_and_call_extras_are_both_kept():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("crawler.test-source")
    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        source_log("crawler.test-source", "federal-register").info("crawl %s", "failed", extra={"new": 0, "error": "HTTP 500: boom"})
    finally:
        logger.removeHandler(handler)
    line = LogfmtFormatter().format(records[0])
    assert "source=federal-register" in line and 'msg="crawl failed"' in line
    assert "new=0" in line and 'error="HTTP 500: boom"' in line
    assert "\n" not in line
