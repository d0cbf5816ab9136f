"""Rendering a digest: the Jinja templates ``templates/digest.html.j2`` (autoescaped; inline styles,
the chart as ``cid:``) and ``templates/digest.txt.j2`` (plain text)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from tracker.chart import CHART_HEIGHT, CHART_SLOT, STANCE_COLOURS
from tracker.digest_view import Digest


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("tracker", "templates"),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


def render(digest: Digest, tz: ZoneInfo, link_root: str) -> tuple[str, str]:
    """(HTML, text) of a digest; times are shown in ``tz``."""
    now_local: datetime = digest.now.astimezone(tz)
    context = {"d": digest, "tz": tz, "link_root": link_root, "colours": STANCE_COLOURS,
               "period_start_local": digest.period_start.astimezone(tz), "now_local": now_local,
               "chart_width": CHART_SLOT * len(digest.chart), "chart_height": CHART_HEIGHT}
    env = _templates()
    return env.get_template("digest.html.j2").render(**context), env.get_template("digest.txt.j2").render(**context)
