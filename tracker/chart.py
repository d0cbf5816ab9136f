"""The digest's stance chart: new mentions per week by stance, as a small PNG written with zlib +
struct (no imaging dependency), attached inline to the e-mail (``cid:``). The range fits the data:
from the first week (of the last ``CHART_WEEKS``) with a classified mention to the current week, so
a first crawl gives one bar, not seven empty weeks; each bar has ``CHART_SLOT`` pixels."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from datetime import date, timedelta

from tracker.subscriptions import STANCES

CHART_WEEKS = 8
CHART_SLOT = 40  # pixels per week
CHART_HEIGHT = 96
STANCE_COLOURS = {"critical": "#b3261e", "supportive": "#1e7b34", "neutral": "#6b7280", None: "#9ca3af"}


def chart_start(today: date) -> date:
    """The Monday of the first week shown (the current week is the last of ``CHART_WEEKS``)."""
    return today - timedelta(days=today.weekday()) - timedelta(weeks=CHART_WEEKS - 1)


def weekly_stances(counts: Counter, first: date) -> list[dict]:
    """``{(day ISO, stance): count}`` summed into weeks from the Monday ``first`` (at most ``CHART_WEEKS``),
    leading weeks without data left out (the current week always stays):
    ``[{"week": "2026-10-05", "critical": n, "supportive": n, "neutral": n}, ...]`` (unclassified left out)."""
    weeks = [{"week": (first + timedelta(weeks=i)).isoformat(), **{s: 0 for s in STANCES}} for i in range(CHART_WEEKS)]
    for (day, stance), count in counts.items():
        try:
            offset = (date.fromisoformat(day) - first).days // 7
        except (TypeError, ValueError):
            continue
        if 0 <= offset < CHART_WEEKS and stance in STANCES:
            weeks[offset][stance] += count
    start = next((i for i, w in enumerate(weeks) if any(w[s] for s in STANCES)), CHART_WEEKS - 1)
    return weeks[start:]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def stance_chart_png(weeks: list[dict], width: int | None = None, height: int = CHART_HEIGHT) -> bytes:
    """Stacked bars (critical at the bottom, then neutral, then supportive) per week, as a PNG
    (``width`` defaults to ``CHART_SLOT`` pixels a week)."""
    width = width or CHART_SLOT * max(len(weeks), 1)
    background, axis = (255, 255, 255), (209, 213, 219)
    pixels = [[background] * width for _ in range(height)]
    for x in range(width):
        pixels[height - 1][x] = axis
    peak = max((sum(w[s] for s in STANCES) for w in weeks), default=0) or 1
    slot = width // max(len(weeks), 1)
    bar = max(slot - 8, 2)
    for i, week in enumerate(weeks):
        x0 = i * slot + (slot - bar) // 2
        y = height - 2
        for stance in ("critical", "neutral", "supportive"):
            h = round(week[stance] / peak * (height - 6))
            colour = _rgb(STANCE_COLOURS[stance])
            for row in range(max(y - h + 1, 0), y + 1):
                pixels[row][x0:x0 + bar] = [colour] * bar
            y -= h
    raw = b"".join(b"\x00" + bytes(c for p in row for c in p) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
