"""The gazetteer: canonical entities and every surface form that refers to them.

Data files live in ``nlp/data`` (format and provenance: ``docs/nlp.md``, ``nlp/data/SOURCES.md``):
curated YAML for platforms, organisations, legislation and the ports that matter, plus the whole
NGA World Port Index and the UN/LOCODE port list as gzipped CSV (ports: ``nlp/ports.py``; the data
model and builder: ``nlp/entities.py``). :func:`load_gazetteer` loads them once per process, from
the disk cache (``nlp/cache.py``) when it holds this version of the data and of the build code.

Every surface form becomes an :class:`Alias` with a matching mode (case-sensitive or not) and an
optional *context* that must hold for a match to count:

- ``maritime``: the sentence has a port/shipping word (outside the match itself);
- ``anchor``: a port word right next to the match ("port of X", "X harbour", "X港");
- ``china`` / ``logink_zh``: the sentence mentions China / the Chinese platform;
- ``eu`` / ``us`` / ``cn``: the document mentions the EU / the United States / China (an English
  document that names no jurisdiction at all counts as American for ``us``);
- ``named``: the document names the entity by another of its explicit names ("the Commission" in a
  document that names the Federal Maritime Commission or the FMC).

A US congressional committee named "Committee on X" is also matched as "Committee on X of the
Senate" / "... of the House of Representatives", the form bills use.
"""

from __future__ import annotations

import hashlib
import marshal
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import yaml

from nlp import cache
from nlp.entities import CONTEXTS, TYPES, Alias, Builder, Entity, Gazetteer
from nlp.ports import DATA_DIR, UNLOCODE_FILE, WPI_FILE, add_ports

__all__ = ["CONTEXTS", "DATA_DIR", "TYPES", "Alias", "Entity", "Gazetteer", "build_gazetteer", "data_version",
           "entity_rows", "load_gazetteer"]

YAML_FILES = ("platforms.yaml", "orgs.yaml", "legislation.yaml", "ports.yaml")
PROVINCES_FILE = "cn_provinces.yaml"
_CODE = ("entities.py", "ports.py", "gazetteer.py")  # the build rules: part of what the disk cache holds


def _add_provincial_transport(b: Builder, provinces: list[dict]) -> None:
    """One GOV_ORG per Chinese provincial-level transport department, with its Chinese and English names:
    浙江省交通运输厅 / "Zhejiang Provincial Department of Transport", 广西壮族自治区交通运输厅, 上海市交通委员会."""
    for p in provinces:
        en, kind = p["en"], p["kind"]
        spellings = [p["zh"], *([p["zh_t"]] if p.get("zh_t") else [])]
        if kind == "municipality":
            zh = [f"{z}市{office}" for z in spellings for office in ("交通委员会", "交通运输委员会", "交通委", "交通运输局")]
            names = [f"{en} Municipal Transportation Commission", f"{en} Municipal Transport Commission",
                     f"{en} Municipal Commission of Transport", f"{en} Municipal Commission of Transportation",
                     f"{en} Transport Commission", f"{en} Transportation Commission"]
            name = f"{en} Municipal Transportation Commission"
        else:
            unit = "省" if kind == "province" else "自治区"
            zh = [f"{z}{unit}交通运输厅" for z in spellings] + [f"{z}交通运输厅" for z in spellings]
            zh += [f"{p['full']}交通运输厅"] if p.get("full") else []
            adjective = "Provincial" if kind == "province" else "Regional"
            names = [f"{en} {adjective} Department of {t}" for t in ("Transport", "Transportation")]
            names += [f"{en} {adjective} {t} Department" for t in ("Transport", "Transportation")]
            names += [f"{en} Department of {t}" for t in ("Transport", "Transportation")]
            names += [f"Department of {t} of {en} {'Province' if kind == 'province' else 'Autonomous Region'}"
                      for t in ("Transport", "Transportation")]
            name = f"{en} {adjective} Department of Transportation"
        slug = en.lower().replace(" ", "-")
        b.add({"id": f"org:cn-{slug}-transport", "name": name, "type": "GOV_ORG", "country": "CN",
               "aliases": {"en": names, "zh": zh}})


# --- loading -------------------------------------------------------------------------------------

def data_version() -> str:
    """SHA-256 over the data files: changes whenever any alias or entity changes."""
    digest = hashlib.sha256()
    for name in (*YAML_FILES, PROVINCES_FILE, WPI_FILE, UNLOCODE_FILE):
        digest.update(name.encode())
        digest.update((DATA_DIR / name).read_bytes())
    return digest.hexdigest()


def _yaml(name: str) -> list[dict]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    return yaml.load((DATA_DIR / name).read_text(encoding="utf-8"), Loader=loader)


def build_gazetteer(version: str) -> Gazetteer:
    """Parse all data files (about 0.7 s)."""
    b = Builder()
    for name in YAML_FILES[:-1]:
        for raw in _yaml(name):
            b.add(raw)
    _add_provincial_transport(b, _yaml(PROVINCES_FILE))
    add_ports(b, _yaml("ports.yaml"))
    return b.finish(version)


def _cache_name(version: str) -> str:
    code = b"".join((Path(__file__).parent / name).read_bytes() for name in _CODE)
    key = hashlib.sha256(version.encode() + code).hexdigest()[:16]
    return f"gazetteer-{key}-py{sys.version_info[0]}{sys.version_info[1]}-m{marshal.version}.marshal"


def _to_plain(gaz: Gazetteer) -> bytes:
    return marshal.dumps(({k: tuple(e) for k, e in gaz.entities.items()},
                          {k: [tuple(a) for a in refs] for k, refs in gaz.surfaces.items()}, gaz.forms, gaz.version,
                          gaz.named))


def _from_plain(data: bytes) -> Gazetteer:
    entities, surfaces, forms, version, named = marshal.loads(data)
    new = tuple.__new__
    return Gazetteer({k: new(Entity, e) for k, e in entities.items()},
                     {k: [new(Alias, a) for a in refs] for k, refs in surfaces.items()}, forms, version, named)


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The gazetteer (once per process): from the disk cache (``nlp.cache``, ~0.1 s) when it holds this
    version of the data files and of this module, else built (~0.7 s) and cached."""
    version = data_version()
    name = _cache_name(version)
    data = cache.read(name)
    with cache.gc_paused():
        if data is not None:
            try:
                return _from_plain(data)
            except (ValueError, EOFError, TypeError):
                pass  # a damaged entry: rebuilt below
        gaz = build_gazetteer(version)
        cache.write(name, _to_plain(gaz), stale_prefix="gazetteer-")
    return gaz


def entity_rows(gaz: Gazetteer) -> Iterator[dict]:
    """Rows for the ``entities`` table (aliases as a list, external ids as a dict)."""
    for ent in gaz.entities.values():
        yield {"id": ent.id, "name": ent.name, "type": ent.type, "country": ent.country,
               "aliases": list(ent.aliases), "external_ids": dict(ent.external_ids), "parent": ent.parent}
