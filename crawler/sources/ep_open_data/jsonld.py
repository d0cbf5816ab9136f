"""JSON-LD helpers for the EP Open Data Portal's responses: single values, language maps, vocabulary
codes and IRI tails, whichever of the shapes JSON-LD allows the portal uses (a string, a list, a
``{"@value": ...}`` or an ``{"id": ...}`` object), and the response envelope ``{"data": [...]}``."""

from __future__ import annotations

import re
from html import unescape

from crawler.errors import ParseError

DATA_ROOT = "https://data.europarl.europa.eu/"
CORPORATE_BODY = "http://publications.europa.eu/resource/authority/corporate-body/"
# Political groups named by corporate-body authority codes (EP_GROUP_<code>, 2019-2021 records)
# whose portal code (``org/<code>``, current records) differs.
GROUP_CODES = {"EPP": "PPE", "SD": "S-D", "GREEN-EFA": "VERTS-ALE", "GREENS-EFA": "VERTS-ALE", "LEFT": "THE-LEFT"}
_MARKUP = re.compile(r"<[^>]+>")


def tail(value: object, marker: str) -> str | None:
    """``TA-9-2024-0025`` from ``eli/dl/doc/TA-9-2024-0025`` (or its absolute IRI)."""
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or marker not in value:
        return None
    return value.split(marker, 1)[1].strip("/") or None


def scalar(value: object) -> str | None:
    """A JSON-LD single value as a string: ``"x"``, ``["x"]``, ``{"@value": "x"}``, ``{"id": "x"}`` -> ``x``."""
    if isinstance(value, list):
        value = next((v for v in value if scalar(v)), None)
    if isinstance(value, dict):
        value = value.get("@value", value.get("id", value.get("@id")))
    return value.strip() if isinstance(value, str) and value.strip() else None


def vocab_code(value: object) -> str | None:
    """Last path segment of a vocabulary IRI: ``def/ep-document-types/QUESTION_WRITTEN`` -> ``QUESTION_WRITTEN``."""
    value = scalar(value)
    return value.rstrip("/").rsplit("/", 1)[-1] if value else None


def date_of(value: object) -> str | None:
    """A ``YYYY-MM-DD...`` date (plain, in a list, or typed ``{"@value": ...}``), else None."""
    value = scalar(value)
    return value if value and re.match(r"\d{4}-\d{2}-\d{2}", value) else None


def by_language(value: object) -> dict[str, str]:
    """A language-tagged JSON-LD value as ``{lang: text}``: a language map ``{"en": "..."}`` (values may
    be lists), a list of ``{"@language": "en", "@value": "..."}``, or plain strings (language ``""``)."""
    found: dict[str, str] = {}
    if isinstance(value, dict) and ("@value" in value or "@language" in value):
        value = [value]
    if isinstance(value, dict):
        for lang, text in value.items():
            if (text := scalar(text)) and not str(lang).startswith("@"):
                found.setdefault(str(lang).lower(), text)
    else:
        for entry in as_list(value):
            lang = str(entry.get("@language") or "").lower() if isinstance(entry, dict) else ""
            if text := scalar(entry.get("@value") if isinstance(entry, dict) else entry):
                found.setdefault(lang, text)
    return found


def as_list(value: object) -> list:
    """``value`` as a list (None -> [], a single value -> [value])."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def envelope(payload: object, url: str) -> list:
    """The ``data`` list of a response; any other shape raises `ParseError`."""
    if not isinstance(payload, dict) or "data" not in payload:
        raise ParseError("expected a JSON-LD object with a 'data' list", url)
    data = payload["data"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ParseError("'data' is not a list of objects", url)
    return data


def data_base(payload: object) -> str:
    """The JSON-LD ``@base`` relative ids and distribution paths resolve against."""
    for entry in as_list(payload.get("@context") if isinstance(payload, dict) else None):
        if isinstance(entry, dict) and isinstance(entry.get("@base"), str):
            return entry["@base"]
    return DATA_ROOT


def clean_text(value: str | None) -> str | None:
    """A title without markup (``title_alternative`` carries ``<br/>``) and entities, spaces folded."""
    if value is None:
        return None
    text = " ".join(unescape(_MARKUP.sub(" ", value)).split())
    return text or None


def agent_code(value: object) -> str | None:
    """One id scheme for the bodies a participation names, the portal's ``org/<CODE>`` codes:
    ``PPE`` from ``org/PPE`` and from the authority IRI ``.../corporate-body/EP_GROUP_EPP``,
    ``VERTS-ALE`` from ``EP_GROUP_GREEN_EFA``, ``PECH`` from ``EP_PECH``; another IRI scheme raises
    `ParseError`."""
    raw = scalar(value)
    if raw is None:
        return None
    if raw.startswith(CORPORATE_BODY.replace("http://", "https://")):
        raw = "http://" + raw[len("https://"):]
    if raw.startswith(CORPORATE_BODY):
        body = raw[len(CORPORATE_BODY):].strip("/").upper()
        if body.startswith("EP_GROUP_"):
            group = body.removeprefix("EP_GROUP_").replace("_", "-")
            return GROUP_CODES.get(group, group)
        return body.removeprefix("EP_")
    if "://" in raw and "/org/" not in raw:
        raise ParseError(f"participant id of unknown scheme: {raw!r}")
    return vocab_code(raw)


def agent(value: str) -> str:
    """A participant id in the portal's scheme: ``person/…`` as given, a body as ``org/<CODE>``."""
    return value if value.startswith("person/") else f"org/{agent_code(value)}"
