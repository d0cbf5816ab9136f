"""The gazetteer: canonical entities and every surface form that refers to them.

Data files live in ``nlp/data`` (format and provenance: ``docs/nlp.md``, ``nlp/data/SOURCES.md``):
curated YAML for platforms, organisations, legislation and the ports that matter, plus the whole
NGA World Port Index and the UN/LOCODE port list as gzipped CSV. :func:`load_gazetteer` parses
them once per process (``functools.lru_cache``).

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

import csv
import gzip
import hashlib
import marshal
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from pathlib import Path
from typing import Iterator, NamedTuple

import yaml

from nlp import cache
from nlp.text import HANGUL, has_cjk

DATA_DIR = Path(__file__).parent / "data"
YAML_FILES = ("platforms.yaml", "orgs.yaml", "legislation.yaml", "ports.yaml")
PROVINCES_FILE = "cn_provinces.yaml"
WPI_FILE = "wpi_ports.csv.gz"
UNLOCODE_FILE = "unlocode_ports_2022-1.csv.gz"
TYPES = ("PLATFORM", "PORT", "COMPANY", "GOV_ORG", "LEGISLATION", "TOPIC")
CONTEXTS = ("maritime", "anchor", "china", "logink_zh", "eu", "us", "cn", "named")

# Ranks order the entities that share a surface: the first whose context holds wins.
RANK_EXPLICIT, RANK_GENERATED, RANK_CURATED_NAME, RANK_BULK_MAJOR, RANK_BULK = range(5)

# Capitalised words that are port names somewhere but far more often something else.
_NOT_PORT_NAMES = {
    "act", "america", "atlantic", "bar", "bay", "beach", "bridge", "british", "capital", "central", "china",
    "city", "commerce", "congress", "council", "east", "eagle", "european", "federal", "freedom", "general",
    "government", "grand", "harbor", "harbour", "hope", "independence", "island", "liberty", "marine",
    "main", "mobile", "national", "north", "ocean", "orange", "pacific", "paradise", "point", "port",
    "president", "progress", "reading", "republic", "royal", "section", "south", "state", "states",
    "terminal", "union", "unity", "victory", "west", "washington", "beijing", "brussels", "paris", "berlin",
    "moscow", "delta", "alpha", "omega", "sea", "river", "canal", "lake", "gulf", "coast", "inland",
    "waterways", "new", "old", "santa", "san", "saint", "st", "la", "le", "el", "al", "de", "da", "do",
    "steel", "cotton", "johnson", "wilson", "jackson", "lincoln", "franklin", "austin", "newton", "chester",
    "plymouth", "salem", "camden", "hamilton", "clinton", "trump", "biden", "bush", "carter", "taylor",
    "darwin", "nelson", "rose", "grace", "eden", "lucia", "maria", "victoria", "alexandria", "regina",
}

# Large ports whose name far more often means the city (or a person): in a maritime sentence
# "London-based carriers" is no port call, so these need an adjacent port word ("port of London").
_CITY_FIRST = {
    "albany", "algiers", "amsterdam", "andres", "auckland", "augusta", "bangkok", "barry", "beirut", "bombay", "boston",
    "brake", "brisbane", "bristol", "brooklyn", "buffalo", "calcutta", "cardiff", "chennai", "chicago", "christiana",
    "cleveland", "constantinople", "copenhagen", "cork", "dakar", "detroit", "dublin", "duluth", "edinburg", "empire",
    "etienne", "flushing", "gary", "georgetown", "glasgow", "halifax", "havana", "helsinki", "honolulu", "hull",
    "istanbul", "jakarta", "jamestown", "karachi", "kasim", "kiel", "kingston", "kolkata", "lagos", "leningrad",
    "lisboa", "lisbon", "liverpool", "london", "madras", "manchester", "manila", "melbourne", "milwaukee", "montevideo",
    "montreal", "mumbai", "naples", "napoli", "nassau", "newport", "oslo", "philadelphia", "portland", "providence",
    "quebec", "reykjavik", "reykjavík", "saigon", "salvador", "seville", "sevilla", "split", "stalin", "stanley",
    "stockholm", "superior", "sydney", "toledo", "toronto", "trinidad", "tripoli", "tunis", "venezia", "venice",
    "wellington", "wilmington", "windsor", "bone", "bona", "bonny", "deseo", "casablanca", "bordeaux", "nantes",
}
_CHAMBERS = {"org:us-senate": "Senate", "org:us-house": "House of Representatives"}
_PORT_SUFFIX = re.compile(r"\w(?:haven|hafen|havn|hamn)$")  # Dutch, German, Danish, Swedish compounds
_PORT_WORDS = {"port", "puerto", "porto", "harbour", "harbor", "haven", "havn", "hafen", "pelabuhan", "mina"}


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


class _Builder:
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


# --- ports ---------------------------------------------------------------------------------------

_HANGUL_NAME = re.compile(f"[{HANGUL}]")
_LEADING_ARTICLE = re.compile(r"^(?:Le|La|Les|L')\s?([A-Z]\w+)$")
_LATIN_VARIANTS = ("Port of {}", "{} port", "{} Port Authority", "Port Authority of {}", "{} harbour", "{} harbor",
                   "{} seaport", "{} container terminal", "haven van {}", "Hafen {}", "Hafen von {}", "port de {}",
                   "puerto de {}", "porto di {}", "porto de {}")
def _port_variants(name: str) -> list[str]:
    """Port names built from a bare place name: "Port of X", "haven van X", "X港", "X항" ..."""
    if _HANGUL_NAME.search(name):
        return [name + "항", name + "항만"]  # Korean: 로테르담항, 부산항만
    if has_cjk(name):
        return [name + "港", name + "港口"]  # Chinese and Japanese: 鹿特丹港, ロッテルダム港
    out = [v.format(name) for v in _LATIN_VARIANTS]
    if name[0] in "AEIOUaeiou":
        out.append(f"port d'{name}")
    return out


def _clean_names(raw: str) -> list[str]:
    """Bare names from a WPI / UN/LOCODE name field ("Nagoya, Aichi", "Chiwan Pt", "X (Y)", "Port-of-Spain")."""
    out: list[str] = []
    for part in raw.split(";"):
        part = part.strip()
        m = re.match(r"^(.*?)\s*\((.*)\)\s*$", part)
        candidates = [m.group(1), m.group(2)] if m else [part]
        for cand in candidates:
            cand = cand.split(",")[0].strip()
            for suffix in (" Pt", " Ko"):
                if cand.endswith(suffix) and len(cand) > len(suffix) + 2:
                    out.append(cand)
                    cand = cand[: -len(suffix)]
            out.append(cand)
            if "-" in cand and all(w.isalpha() for w in cand.split("-")):
                out.append(cand.replace("-", " "))  # "Port-of-Spain" is also written "Port of Spain"
    return out


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """Our list plus spaCy's stop words (read by path: importing spacy.lang.fr costs seconds)."""
    words: set[str] = set(_NOT_PORT_NAMES)
    lang_dir = Path(find_spec("spacy").origin).parent / "lang"
    for lang in ("en", "de", "fr", "es", "nl", "it", "pt"):
        spec = spec_from_file_location(f"_stop_{lang}", lang_dir / lang / "stop_words.py")
        module = module_from_spec(spec)
        spec.loader.exec_module(module)
        words |= module.STOP_WORDS
    return frozenset(words)


_LETTERS3 = re.compile(r"(?:[^\W\d_].*){3}")


def _usable_bulk_name(name: str, countries: set[str]) -> bool:
    return (_LETTERS3.search(name) is not None and name[:1].isupper() and not any(c.isdigit() for c in name)
            and name.lower() not in _stop_words() and name.lower() not in countries
            and "inland waterways" not in name.lower())


def _read_csv_gz(name: str) -> list[dict]:
    with gzip.open(DATA_DIR / name, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _add_ports(b: _Builder, curated: list[dict]) -> None:
    unlocode = {r["Country"] + r["Location"]: r for r in _read_csv_gz(UNLOCODE_FILE) if r["Location"]}
    wpi = _read_csv_gz(WPI_FILE)
    countries = {r["Country Code"].lower() for r in wpi}
    iso_votes: dict[str, Counter] = defaultdict(Counter)
    for r in wpi:
        code = r["UN/LOCODE"].replace(" ", "")
        if code:
            iso_votes[r["Country Code"]][code[:2]] += 1

    ports: dict[str, dict] = {}  # code or wpi-N -> {"names": [...], "major": bool, ...}
    for code, r in unlocode.items():
        ports[code] = {"name": r["Name"], "country": r["Country"], "names": [r["Name"], r["NameWoDiacritics"]],
                       "major": False, "ext": {"unlocode": code}}
    for r in wpi:
        code = r["UN/LOCODE"].replace(" ", "")
        number = str(int(float(r["World Port Index Number"])))
        key = code or f"wpi-{number}"
        votes = iso_votes.get(r["Country Code"])
        port = ports.setdefault(key, {"name": r["Main Port Name"], "country": code[:2] if code else
                                      (votes.most_common(1)[0][0] if votes else None),
                                      "names": [], "major": False, "ext": {"unlocode": code} if code else {}})
        port["names"] += [r["Main Port Name"], r["Alternate Port Name"]]
        port["major"] |= r["Harbor Size"] in ("Large", "Medium")
        port["ext"]["wpi"] = number

    for raw in curated:
        code = raw["id"].split(":", 1)[1]
        folded = [ports.pop(c) for c in [code, *raw.get("merge", [])] if c in ports]
        ext: dict = {}
        for port in folded:
            ext.update(port["ext"])
        ext["unlocode"] = code
        if raw.get("merge"):
            ext["also_coded"] = list(raw["merge"])
        if raw.get("wpi"):
            ext["wpi"] = str(raw["wpi"])
        eid = b.add({**raw, "external_ids": ext}, type="PORT")
        for name in raw.get("names") or []:
            context = "anchor" if name.lower() in countries else "maritime"  # Singapore, Hong Kong, Djibouti
            b.alias(eid, name, case=not has_cjk(name), context=context, bare=True, rank=RANK_CURATED_NAME)
            if m := _LEADING_ARTICLE.match(name):  # "du Havre", "au Havre": French contracts the article
                b.alias(eid, m.group(1), case=True, context="maritime", bare=True, rank=RANK_CURATED_NAME)
            for variant in _port_variants(name):
                b.alias(eid, variant, case=False, rank=RANK_GENERATED, listed=False)
        for port in folded:
            _add_bulk_names(b, eid, port["names"], countries, "maritime", RANK_CURATED_NAME)

    for key, port in sorted(ports.items()):
        eid = f"port:{key}"
        b.add({"id": eid, "name": port["name"], "country": port["country"], "external_ids": port["ext"]}, type="PORT")
        context, rank = ("maritime", RANK_BULK_MAJOR) if port["major"] else ("anchor", RANK_BULK)
        _add_bulk_names(b, eid, port["names"], countries, context, rank)


def _add_provincial_transport(b: _Builder, provinces: list[dict]) -> None:
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


def _add_bulk_names(b: _Builder, eid: str, names: list[str], countries: set[str], context: str, rank: int) -> None:
    """Match the usable bare names; list the others (common words, country names) without matching them."""
    for name in names:
        for clean in _clean_names(name):
            words = clean.lower().split()
            if not _usable_bulk_name(clean, countries):
                b.list_name(eid, clean)
                if clean.istitle() and clean.isalpha() and len(clean) >= 3 and clean.lower() not in countries:
                    b.alias(eid, f"Port of {clean}", case=True, bare=True, rank=rank, listed=False)  # "Port of Mobile"
            elif len(words) > 1 and _PORT_WORDS & set(words):  # "Port Hedland", "Puerto Cortes": a port by name
                b.alias(eid, clean, case=True, bare=True, rank=rank)
            else:
                ctx = "anchor" if clean.lower() in _CITY_FIRST else context
                if ctx == "anchor" and _PORT_SUFFIX.search(clean):
                    ctx = "maritime"  # "Eemshaven", "Cuxhaven": a harbour by name, a port in a maritime sentence
                b.alias(eid, clean, case=True, context=ctx, bare=True, rank=rank)


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
    b = _Builder()
    for name in YAML_FILES[:-1]:
        for raw in _yaml(name):
            b.add(raw)
    _add_provincial_transport(b, _yaml(PROVINCES_FILE))
    _add_ports(b, _yaml("ports.yaml"))
    return b.finish(version)


def _cache_name(version: str) -> str:
    code = Path(__file__).read_bytes()  # the build rules are part of what the cache holds
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
