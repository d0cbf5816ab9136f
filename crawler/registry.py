"""The explicit source registry: source id -> source class. Adding a source means adding a line here."""

from __future__ import annotations

from crawler.base import Source
from crawler.sources import (
    congress_gov,
    ec_press,
    ep_oeil,
    ep_open_data,
    eurlex,
    federal_register,
    gdelt,
    govinfo,
    news_rss,
    uscode,
)

SOURCES: dict[str, type[Source]] = {
    module.SOURCE.id: module.SOURCE
    for module in (
        ep_open_data,
        ep_oeil,
        eurlex,
        ec_press,
        congress_gov,
        govinfo,
        federal_register,
        news_rss,
        gdelt,
        uscode,
    )
}


def get_source(source_id: str) -> type[Source]:
    """The class registered under ``source_id``; `KeyError` names the known ids."""
    try:
        return SOURCES[source_id]
    except KeyError:
        raise KeyError(f"unknown source {source_id!r}; known: {', '.join(SOURCES)}") from None
