"""Helpers shared by the two European Parliament sources (`ep-open-data`, `ep-oeil`).

Procedure references: OEIL and the API label a procedure ``2023/2059(INI)``; the API's process id
is ``2023-2059`` (no type). Both sources key the procedure's dossier ``ep-procedure:<reference>`` so
an analyst finds the API's events and the Observatory's key events on one dossier. Keyword
matching (used to judge titles) is case-insensitive and whole-word, so ``port`` matches "Port",
"ports" but not "report" or "transport".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ATTRIBUTION = "© European Union, {year} – Source: European Parliament"
# The Legislative Observatory's public root (it moved from oeil.secure.europarl.europa.eu, which redirects).
OEIL_URL = "https://oeil.europarl.europa.eu/oeil/en"
# Title keywords that make a work or procedure relevant beside the topic terms (option ``keywords``).
DEFAULT_KEYWORDS = [
    "port", "seaport", "maritime", "shipping", "logistics", "container terminal",
    "strategic infrastructure", "critical infrastructure", "Chinese investment",
]
REFERENCE = re.compile(r"^\s*(\d{4})/(\d{4}[A-Z]?)\s*\(\s*([A-Z]{3,4})\s*\)\s*\**\s*$")


def dossier_key(reference: str) -> str:
    """The dossier key both EP sources use for a procedure."""
    return f"ep-procedure:{reference}"


def normalise_reference(value: str) -> str | None:
    """``2023/2059(INI)`` from a reference possibly spaced or starred (RSS titles end in ``*``)."""
    match = REFERENCE.match(value or "")
    return f"{match[1]}/{match[2]}({match[3]})" if match else None


def process_id(reference: str) -> str:
    """The API's process id (``2023-2059``) of a reference (``2023/2059(INI)``)."""
    match = REFERENCE.match(reference)
    if not match:
        raise ValueError(f"not a procedure reference: {reference!r}")
    return f"{match[1]}-{match[2]}"


def keyword_pattern(terms: Iterable[str], keywords: Iterable[str]) -> re.Pattern | None:
    """One regex matching any topic term (as a phrase) or keyword (whole word, optional plural ``s``)."""
    parts = [re.escape(t.strip()) for t in terms if t and t.strip()]
    parts += [re.escape(k.strip()) + "s?" for k in keywords if k and k.strip()]
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(parts, key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE)


def attribution(year: str | int | None) -> str:
    """The reuse notice the EP legal notice and CC BY 4.0 ask for."""
    return ATTRIBUTION.format(year=year or "")
