"""Checks of command-line arguments, each failing with a one-line `UsageProblem` (exit status 2).

Cheap to import (click only): heavy modules (the language list, the gazetteer) load inside the check
that needs them, so `tracker --help` stays fast.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING

from db import clock
from tracker.app import UsageProblem

if TYPE_CHECKING:
    import sqlite_utils

MIN_LOOP_S = 60  # `tracker run --loop --every`: below a minute a loop only spins (issue 14: 148,727 ticks in 10 min)


def check_date(value: str, option: str) -> str:
    """``value`` when it is a date (YYYY-MM-DD) or an ISO date-time; an empty or malformed value is refused."""
    text = value.strip()
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(text)
            return text
        except ValueError:
            continue
    raise UsageProblem(f"{option}: expected a date like 2024-01-31, got {value!r}")


def instant(value: str | None) -> datetime | None:
    """The hidden ``--now`` test option as an aware time (None when not given)."""
    try:
        return clock.aware(value) if value else None
    except ValueError:
        raise UsageProblem(f"--now: expected an ISO date-time like 2026-11-30T07:00:00+01:00, got {value!r}") from None


def frozen(now_iso: str | None) -> AbstractContextManager[None]:
    """The product clock frozen at ``--now`` for the block (unchanged without it)."""
    return clock.frozen(instant(now_iso))


def interval(value: str, option: str, minimum_s: float = 0) -> float:
    """An interval like ``15m`` in seconds; below ``minimum_s`` is refused."""
    from tracker.config import ConfigError, parse_interval  # the source registry loads only when needed

    try:
        seconds = parse_interval(value, option)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    if seconds < minimum_s:
        raise UsageProblem(f"{option}: at least {minimum_s / 60:g}m, got {value!r}")
    return seconds


def check_language(code: str | None) -> str | None:
    """``--lang``: one of the pipeline's languages (`nlp.langid.SUPPORTED`), lower-cased."""
    if code is None:
        return None
    from nlp.langid import SUPPORTED

    if code.strip().lower() not in SUPPORTED:
        raise UsageProblem(f"--lang: unknown language code {code!r}; supported: {', '.join(sorted(SUPPORTED))}")
    return code.strip().lower()


def check_entity(db: sqlite_utils.Database, entity_id: str) -> str:
    """``--entity``: an id in the database's ``entities`` table or, before any annotation filled it, the gazetteer."""
    if db.execute("select 1 from entities where id = ?", [entity_id]).fetchone():
        return entity_id
    from nlp.gazetteer import load_gazetteer

    if entity_id in load_gazetteer().entities:
        return entity_id
    kind = entity_id.partition(":")[0]
    examples = [row[0] for row in db.execute("select id from entities where id like ? order by id limit 3", [f"{kind}:%"])]
    raise UsageProblem(f"--entity: unknown entity id {entity_id!r} (ids look like platform:logink, port:NLRTM"
                       + (f"; e.g. {', '.join(examples)}" if examples and kind else "") + ")")


def read_text(stream, name: str) -> str:
    """The whole of a text input; a file that is not UTF-8 text (binary, another encoding) is refused."""
    try:
        text = stream.read()
    except UnicodeDecodeError as exc:
        raise UsageProblem(f"{name}: not UTF-8 text (a binary file?): undecodable byte at offset {exc.start}") from None
    if "\x00" in text:
        raise UsageProblem(f"{name}: not text (contains NUL bytes; a binary file?)")
    return text
