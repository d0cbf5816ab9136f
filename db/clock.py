"""The one clock. Every "now" in the product (crawl runs, first-seen stamps, schedules, health, digests,
provenance) comes from :func:`now`, so a test or ``tracker run --now`` sets the time for the whole process
and nothing reads the wall clock behind its back.

Times are aware UTC ``datetime`` values with whole seconds; stored as ISO 8601 with ``+00:00``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

_source: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time (aware UTC, whole seconds): the injected clock if one is set, else the wall clock."""
    current = _source() if _source is not None else datetime.now(timezone.utc)
    return aware(current).replace(microsecond=0)


def now_iso() -> str:
    """:func:`now` as stored: ISO 8601, seconds, ``+00:00``."""
    return iso(now())


def iso(value: datetime) -> str:
    """An aware time as stored (UTC, ISO 8601, seconds)."""
    return aware(value).astimezone(timezone.utc).replace(microsecond=0).isoformat()


def aware(value: datetime | str) -> datetime:
    """A ``datetime`` or ISO string as an aware time; naive values are taken as UTC. Raises ``ValueError``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def set_clock(source: Callable[[], datetime] | datetime | None) -> None:
    """Inject a clock (a callable, or a fixed instant); ``None`` restores the wall clock."""
    global _source
    if isinstance(source, datetime):
        fixed = aware(source)
        _source = lambda: fixed  # noqa: E731 - a fixed instant is the simplest clock
    else:
        _source = source


@contextmanager
def frozen(at: datetime | str | None) -> Iterator[None]:
    """Within the block, :func:`now` is ``at`` (nothing changes when ``at`` is None)."""
    if at is None:
        yield
        return
    previous = _source
    set_clock(aware(at))
    try:
        yield
    finally:
        set_clock(previous)
