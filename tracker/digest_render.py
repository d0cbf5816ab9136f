"""Rendering a digest: the Jinja templates ``templates/digest.html.j2`` (autoescaped; inline styles,
the chart as ``cid:``) and ``templates/digest.txt.j2`` (plain text)."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from tracker.chart import STANCE_COLOURS
from tracker.digest_view import Digest


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("tracker", "templates"),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


def render(digest: Digest, tz: ZoneInfo, week_of: date, link_root: str, sources_total: int) -> tuple[str, str]:
    """(HTML, text) of a digest; times are shown in ``tz``."""
    now_local: datetime = digest.now.astimezone(tz)
    context = {"d": digest, "week_of": week_of, "tz": tz, "link_root": link_root, "colours": STANCE_COLOURS,
               "period_start_local": digest.period_start.astimezone(tz), "now_local": now_local,
               "sources_total": sources_total}
    env = _templates()
    return env.get_template("digest.html.j2").render(**context), env.get_template("digest.txt.j2").render(**context)
