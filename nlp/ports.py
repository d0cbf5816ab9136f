"""Port entities: the whole NGA World Port Index and UN/LOCODE port list, merged on the UN/LOCODE,
under the curated layer (``ports.yaml``), with the rules that decide which names are matched and in
which context (format and choices: ``docs/nlp.md``, "ports.yaml" and "bulk").
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter, defaultdict
from functools import lru_cache
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from pathlib import Path

from nlp.entities import RANK_BULK, RANK_BULK_MAJOR, RANK_CURATED_NAME, RANK_GENERATED, Builder
from nlp.text import HANGUL, has_cjk

DATA_DIR = Path(__file__).parent / "data"
WPI_FILE = "wpi_ports.csv.gz"
UNLOCODE_FILE = "unlocode_ports_2022-1.csv.gz"

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
_PORT_SUFFIX = re.compile(r"\w(?:haven|hafen|havn|hamn)$")  # Dutch, German, Danish, Swedish compounds
_PORT_WORDS = {"port", "puerto", "porto", "harbour", "harbor", "haven", "havn", "hafen", "pelabuhan", "mina"}


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


def add_ports(b: Builder, curated: list[dict]) -> None:
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


def _add_bulk_names(b: Builder, eid: str, names: list[str], countries: set[str], context: str, rank: int) -> None:
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
