"""The gazetteer data files: consistency, coverage and the alias rules (offline, no spaCy pipeline)."""

from __future__ import annotations

from collections import Counter

import pytest

from nlp.gazetteer import CONTEXTS, DATA_DIR, TYPES, data_version, entity_rows, load_gazetteer


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer()


def test_loaded_once(gaz):
    assert load_gazetteer() is gaz


def test_coverage_by_type(gaz):
    types = Counter(e.type for e in gaz.entities.values())
    assert types["COMPANY"] + types["GOV_ORG"] >= 150
    assert types["PORT"] > 17_000  # every WPI and UN/LOCODE port
    assert types["LEGISLATION"] >= 15 and types["PLATFORM"] >= 2
    assert set(types) <= set(TYPES)


def test_references_resolve(gaz):
    for ent in gaz.entities.values():
        assert ent.name and ent.aliases, ent.id
        assert ent.parent is None or ent.parent in gaz.entities, (ent.id, ent.parent)
    for aliases in gaz.surfaces.values():
        for alias in aliases:
            assert alias.entity in gaz.entities
            assert alias.context is None or alias.context in CONTEXTS
    assert set(gaz.forms) == set(gaz.surfaces)


def test_logink_names(gaz):
    def entity(text, case=False):
        return [a.entity for a in gaz.surfaces[(text if case else text.lower(), case)]]

    for name in ("LOGINK", "National Transportation and Logistics Public Information Platform",
                 "National Public Information Platform for Transportation & Logistics", "covered logistics platform",
                 "国家交通运输物流公共信息平台", "國家交通運輸物流公共信息平臺", "国家物流信息平台"):
        assert entity(name) == ["platform:logink"], name
    assert entity("Northeast Asia Logistics Information Service Network") == ["platform:neal-net"]


def test_ports_canonical_ids_and_external_ids(gaz):
    ningbo = gaz.entities["port:CNNGB"]
    assert ningbo.external_ids["also_coded"] == ["CNNBO"] and ningbo.external_ids["wpi"] == "59940"
    assert "port:CNNBO" not in gaz.entities  # folded into the curated entity
    assert gaz.entities["port:NLRTM"].external_ids == {"unlocode": "NLRTM", "wpi": "31140"}
    assert gaz.entities["port:CNSHA"].external_ids["wpi"] == "59970"  # WPI's "CN SGH"
    assert any(e.id.startswith("port:wpi-") for e in gaz.entities.values())  # WPI ports without a LOCODE


def test_port_alias_rules(gaz):
    assert gaz.surfaces[("Pusan", True)][0].entity == "port:KRPUS"
    assert gaz.surfaces[("Anvers", True)][0].entity == "port:BEANR"
    bare = gaz.surfaces[("Valencia", True)][0]
    assert (bare.entity, bare.context, bare.bare) == ("port:ESVLC", "maritime", True)
    explicit = gaz.surfaces[("port of valencia", False)][0]
    assert (explicit.entity, explicit.context) == ("port:ESVLC", None)
    assert gaz.surfaces[("Tokyo", True)][0].entity == "port:JPTYO"  # "Tokyo Ko" in WPI
    # common words and country names never become port names
    for word in ("Mobile", "Reading", "Congress", "Section", "Kuwait", "Steel", "Cotton"):
        assert not [a for a in gaz.surfaces.get((word, True), []) if a.entity.startswith("port:")], word


def test_acronyms_are_case_sensitive(gaz):
    for acronym in ("ONE", "MSC", "DOT", "CBP", "PSA", "TIL", "CCP"):
        assert (acronym, True) in gaz.surfaces and (acronym.lower(), False) not in gaz.surfaces, acronym
    assert gaz.surfaces[("ONE", True)][0].context == "maritime"


def test_entity_rows_and_version(gaz):
    rows = list(entity_rows(gaz))
    assert len(rows) == len(gaz.entities)
    cosco = next(r for r in rows if r["id"] == "org:cosco")
    assert cosco["type"] == "COMPANY" and "中远海运" in cosco["aliases"] and cosco["parent"] == "org:cn-sasac"
    assert len(data_version()) == 64 and data_version() == gaz.version


def test_sources_documented():
    sources = (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    assert "NGA World Port Index (Pub 150)" in sources and "UN/LOCODE" in sources and "UNECE" in sources
