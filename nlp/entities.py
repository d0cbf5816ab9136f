"""The gazetteer's data model: canonical entities, their aliases (surface forms) and the builder that
collects them from the data files (``nlp/gazetteer.py`` loads; ``nlp/ports.py`` adds the ports).

An :class:`Alias` carries a matching mode (case-sensitive or not) and an optional *context* that
must hold for a match to count (the contexts: ``nlp/gazetteer.py`` docstring, ``docs/nlp.md``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from nlp.text import has_cjk

TYPES = ("PLATFORM", "PORT", "COMPANY", "GOV_ORG", "LEGISLATION", "TOPIC")
CONTEXTS = ("maritime", "anchor", "china", "logink_zh", "eu", "us", "cn", "named")

# Ranks order the entities that share a surface: the first whose context holds wins.
RANK_EXPLICIT, RANK_GENERATED, RANK_CURATED_NAME, RANK_BULK_MAJOR, RANK_BULK = range(5)
_CHAMBERS = {"org:us-senate": "Senate", "org:us-house": "House of Representatives"}


class Entity(NamedTuple):
    """A canonical entity (one row of the ``entities`` table). A tuple: the disk cache rebuilds 18,000 fast."""

    id: str
    name: str
    type: str
    country: str | None = None
    aliases: tuple[str, ...] = ()
    external_ids: dict = {}
    parent: str | None = None


class Alias(NamedTuple):
    """One surface form of an entity and the condition under which it counts."""

    entity: str
    context: str | None = None
    bare: bool = False  # a bare name (place, "Congress"): rejected inside a longer proper name
    rank: int = RANK_EXPLICIT


@dataclass
class Gazetteer:
    """Entities by id and aliases by surface: ``(text, case_sensitive)``, best first."""

    entities: dict[str, Entity]
    surfaces: dict[tuple[str, bool], list[Alias]]
    forms: dict[tuple[str, bool], str]  # a surface as written (what the tokenizer sees)
    version: str
    named: dict[str, tuple[str, ...]]  # entity -> its explicit full names, for aliases with the "named" context


def _surface(text: str, case_sensitive: bool) -> tuple[str, bool]:
    text = " ".join(text.split())
    return (text, True) if case_sensitive else (text.lower(), False)


def _is_acronym(text: str) -> bool:
    return text.isupper() and len(text) <= 5 and " " not in text


class Builder:
    """Collects entities and aliases from the data files; ``finish`` makes the :class:`Gazetteer`."""

    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.surfaces: dict[tuple[str, bool], list[Alias]] = defaultdict(list)
        self.forms: dict[tuple[str, bool], str] = {}
        self.names: dict[str, list[str]] = defaultdict(list)

    def alias(self, entity: str, text: str, *, case: bool | None = None, context: str | None = None,
              bare: bool = False, rank: int = RANK_EXPLICIT, listed: bool = True) -> None:
        text = " ".join(str(text).split())
        if not text:
            return
        if context is not None and context not in CONTEXTS:
            raise ValueError(f"{entity}: unknown context {context!r}")
        key = _surface(text, _is_acronym(text) if case is None else case)
        ref = Alias(entity, context, bare, rank)
        self.forms.setdefault(key, text)
        if ref not in self.surfaces[key]:
            self.surfaces[key].append(ref)
        if listed:
            self.list_name(entity, text)
        if " and " in text and rank == RANK_EXPLICIT:  # "Transportation & Logistics", "Science & Transportation"
            self.alias(entity, text.replace(" and ", " & "), case=case, context=context, bare=bare, listed=False)

    def list_name(self, entity: str, text: str) -> None:
        """Record a name for the entity's alias list (whether or not it is matched)."""
        if text and text not in self.names[entity]:
            self.names[entity].append(text)

    def add(self, raw: dict, **defaults) -> str:
        data = {**defaults, **raw}
        eid = data["id"]
        if eid in self.entities:
            raise ValueError(f"duplicate entity id {eid}")
        if data["type"] not in TYPES:
            raise ValueError(f"{eid}: unknown type {data['type']!r}")
        ext = dict(data.get("external_ids") or {})
        if data.get("scac"):
            ext["scac"] = data["scac"]
        self.entities[eid] = Entity(eid, data["name"], data["type"], data.get("country"), (), ext, data.get("parent"))
        chamber = _CHAMBERS.get(data.get("parent"))
        for items in (data.get("aliases") or {}).values():
            for item in items:
                if isinstance(item, dict):
                    self.alias(eid, item["text"], case=item.get("case"), context=item.get("context"),
                               bare=item.get("bare", False))
                else:
                    self.alias(eid, item)
                    if chamber and item.startswith("Committee on "):  # bill style: "the Committee on X of the Senate"
                        self.alias(eid, f"{item} of the {chamber}", listed=False)
        return eid

    def finish(self, version: str) -> Gazetteer:
        for eid, ent in self.entities.items():
            self.entities[eid] = Entity(ent.id, ent.name, ent.type, ent.country, tuple(self.names[eid]),
                                        ent.external_ids, ent.parent)
        named: dict[str, list[str]] = {}
        for refs in self.surfaces.values():
            refs.sort(key=lambda a: a.rank)
            named.update((a.entity, []) for a in refs if a.context == "named")
        for key, refs in self.surfaces.items():
            for a in refs:
                if (a.entity in named and a.context != "named" and a.rank == RANK_EXPLICIT
                        and (" " in key[0] or has_cjk(key[0]))):  # full names, not the acronym a "named" alias may be
                    named[a.entity].append(self.forms[key])
        return Gazetteer(self.entities, dict(self.surfaces), self.forms, version,
                         {eid: tuple(forms) for eid, forms in named.items()})
