"""Paging, once: the loop every paginated listing runs, with its page cap and loop detection.

A source declares how to read one page and where the next one is (``fetch_page(cursor) ->
(entries, next cursor or None)``; the cursor is whatever the upstream pages by: a URL, an offset,
an ``offsetMark``, a ``search_after_cursor`` link, a start time); `paginate` runs the loop:

- it stops when the page says there is no next one, or the page is empty;
- it stops, as a *loop*, when a cursor comes back (the same next link, offset or mark) or a page
  repeats the entries of an earlier page (a server that ignores the page parameter);
- it stops, as a *cap*, after ``max_pages`` pages (``[sources.<id>] max_pages``);
- before every page it checks the run's wall-clock budget (``CrawlContext.check_budget``).

A loop or a cap is reported as an item error of the run (status ``partial``, the watermark stays
put, the message names the listing), never silently: what was read so far is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any

from crawler.errors import FetchError

if TYPE_CHECKING:  # the context lives in crawler.base, which imports this module
    from crawler.base import CrawlContext

FetchPage = Callable[[Any], tuple[list, Any]]


class ListingCut(FetchError):
    """A listing was cut short by the page cap or because it looped."""


def _signature(value: object) -> str:
    """A stable digest of a cursor or a page's entries (dicts compared by content, not identity)."""
    payload = json.dumps(value, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def paginate(ctx: CrawlContext, first: Hashable | object, fetch_page: FetchPage, *, what: str,
             max_pages: int) -> Iterator:
    """Every entry of a paged listing, starting at cursor ``first``; ``what`` names the listing in
    messages (e.g. ``"documents.json for 'LOGINK'"``)."""
    cursors: set[str] = set()
    pages: set[str] = set()
    cursor = first
    for number in range(1, max_pages + 1):
        ctx.check_budget()
        key = _signature(cursor)
        if key in cursors:
            _cut(ctx, what, f"loop: page {number} would repeat cursor {str(cursor)[:160]!r}")
            return
        cursors.add(key)
        entries, following = fetch_page(cursor)
        if not entries:
            return
        content = _signature(entries)
        if content in pages:
            _cut(ctx, what, f"loop: page {number} repeats the entries of an earlier page")
            return
        pages.add(content)
        yield from entries
        if following is None:
            return
        cursor = following
    _cut(ctx, what, f"page cap: stopped after max_pages={max_pages} pages")


def _cut(ctx: CrawlContext, what: str, reason: str) -> None:
    ctx.error(f"(listing) {what}", ListingCut(f"{what}: {reason}; what was read is kept"))
