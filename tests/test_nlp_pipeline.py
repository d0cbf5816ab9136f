"""The Annotator end to end on text written for these tests (offline; one Annotator per module)."""

from __future__ import annotations

import itertools
import json

import pytest

from nlp import Annotator

TOPICS = {
    "logink": {"entities": ["platform:logink", "platform:neal-net"], "terms": ["LOGINK", "port data security"]},
    "cranes": {"entities": ["org:zpmc"], "terms": ["ship-to-shore cranes"]},
}


@pytest.fixture(scope="module")
def ann() -> Annotator:
    return Annotator(topics=TOPICS)


def ids(result: dict) -> list[str]:
    return [m["entity"] for m in result["mentions"]]


def found(result: dict, entity: str) -> list[str]:
    return [m["text"] for m in result["mentions"] if m["entity"] == entity]


def check_offsets(text: str, result: dict) -> None:
    for m in result["mentions"]:
        assert text[m["start"] : m["end"]] == m["text"], m
        assert m["text"] in m["sentence"] and m["sentence"] in text, m


# --- LOGINK under its names --------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("LOGINK's reach worries lawmakers.", ["LOGINK"]),
    ("Ports using the Logink platform share data.", ["Logink"]),
    ("The National Transportation and Logistics Public Information Platform collects data.",
     ["National Transportation and Logistics Public Information Platform"]),
    ("known as the National Public Information Platform for Transportation &\n    Logistics (``LOGINK'')",
     ["National Public Information Platform for Transportation &\n    Logistics"]),
    ("A covered entity shall not use a covered logistics platform.", ["covered logistics platform"]),
    ("the national transportation logistics public information platform (commonly referred to as LOGINK)",
     ["national transportation logistics public information platform"]),
    ("Officials called the LOG-INK system a risk; #LOGINK trended.", ["LOG-INK", "LOGINK"]),
])
def test_logink_english(ann, text, expected):
    result = ann.annotate(text, lang="en")
    assert found(result, "platform:logink") == expected
    check_offsets(text, result)


@pytest.mark.parametrize("lang, text, expected", [
    ("zh", "国家交通运输物流公共信息平台（LOGINK）由交通运输部管理。", ["国家交通运输物流公共信息平台"]),
    ("zh", "國家交通運輸物流公共信息平臺正式交由中國交通通信信息中心管理，國家物流信息平台擴大合作。",
     ["國家交通運輸物流公共信息平臺", "國家物流信息平台"]),
    ("de", "Die chinesische Logistikplattform LOGINK und die Nationale Verkehrs- und Logistik-Informationsplattform "
           "sammeln Daten.", ["Nationale Verkehrs- und Logistik-Informationsplattform"]),
    ("de", "Die Logink-Plattform wird in europäischen Häfen genutzt.", ["Logink"]),
    ("fr", "La Plateforme nationale d'information publique sur les transports et la logistique, appelée LOGINK, "
           "inquiète Washington.", ["Plateforme nationale d'information publique sur les transports et la logistique"]),
    ("es", "La Plataforma Nacional de Información Pública para el Transporte y la Logística (Logink) crece.",
     ["Plataforma Nacional de Información Pública para el Transporte y la Logística"]),
    ("nl", "Het Chinese LOGINK-platform deelt gegevens over containers.", ["LOGINK"]),
    ("ja", "ロジンク（国家交通運輸物流公共情報プラットフォーム）は港湾データを集める。",
     ["国家交通運輸物流公共情報プラットフォーム"]),
])
def test_logink_other_languages(ann, lang, text, expected):
    result = ann.annotate(text)
    assert result["lang"] == lang
    assert found(result, "platform:logink") == expected
    check_offsets(text, result)


def test_neal_net_and_context_only_chinese_name(ann):
    text = "NEAL-NET links ports. 东北亚物流信息服务网络由中日韩共同建设。"
    assert ids(ann.annotate(text)).count("platform:neal-net") == 2
    assert "platform:logink" not in ids(ann.annotate("该省建设了物流公共信息平台。", lang="zh"))
    assert "platform:logink" in ids(ann.annotate("国家交通运输部建设了物流公共信息平台。", lang="zh"))


def test_mixed_language_document_uses_chinese_pipeline_for_chinese_paragraph(ann):
    text = ("The report quotes a Chinese notice about the platform.\n\n"
            "交通运输部表示，国家物流信息平台已与多个港口对接。\n\nIt ends in English.")
    result = ann.annotate(text)
    assert result["lang"] == "en"
    assert found(result, "platform:logink") == ["国家物流信息平台"]
    assert "org:cn-mot" in ids(result)
    check_offsets(text, result)


# --- ports ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, entity, surface", [
    ("Ships bound for Anvers wait at anchor.", "port:BEANR", "Anvers"),
    ("Container traffic at Pusan grew.", "port:KRPUS", "Pusan"),
    ("The Port of Rotterdam signed a memorandum.", "port:NLRTM", "Port of Rotterdam"),
    ("Havenbedrijf Rotterdam reageerde.", "org:port-of-rotterdam-authority", "Havenbedrijf Rotterdam"),
    ("宁波舟山港的吞吐量居世界首位。", "port:CNNGB", "宁波舟山港"),
    ("The Hamburger Hafen und Logistik AG sold a stake; shipping lines use Hamburg.", "port:DEHAM", "Hamburg"),
    ("COSCO invested in the ports of Piraeus and Genoa.", "port:ITGOA", "Genoa"),
])
def test_ports_by_alternate_and_local_names(ann, text, entity, surface):
    result = ann.annotate(text)
    assert surface in found(result, entity)
    check_offsets(text, result)


def test_city_name_is_a_port_only_in_maritime_context(ann):
    assert "port:ESVLC" not in ids(ann.annotate("The mayor of Valencia spoke.", lang="en"))
    assert found(ann.annotate("Container ships calling at Valencia were delayed.", lang="en"), "port:ESVLC") == ["Valencia"]
    assert "port:CNNGB" not in ids(ann.annotate("宁波的市长发表讲话。", lang="zh"))
    assert found(ann.annotate("宁波的集装箱码头很忙。", lang="zh"), "port:CNNGB") == ["宁波"]
    # a cue inside the alias itself does not count: "港" of 香港 is no context for 上海
    assert "port:CNSHA" not in ids(ann.annotate("上海和香港的市长会面。", lang="zh"))


def test_person_names_are_not_ports(ann):
    text = "Senator Tom Cotton and Mr. Houston discussed port security with Santos Rivera."
    result = ann.annotate(text, lang="en")
    assert not [m for m in result["mentions"] if m["type"] == "PORT"]


def test_city_sense_of_a_port_name(ann):
    text = "Hong Kong-based OOCL and Singapore's PSA run container terminals; Rotterdam's port handles ships."
    ports = [m["text"] for m in ann.annotate(text, lang="en")["mentions"] if m["type"] == "PORT"]
    assert ports == ["Rotterdam"]


def test_longest_match_wins(ann):
    result = ann.annotate("The Hamburger Hafen und Logistik AG (HHLA) runs terminals in the port.", lang="en")
    assert found(result, "org:hhla") == ["Hamburger Hafen und Logistik AG"]  # with its acronym: one mention
    assert "port:DEHAM" not in ids(result)


# --- organisations, acronyms, legislation ------------------------------------------------------------

def test_short_acronyms_are_case_sensitive_and_need_context(ann):
    maritime = ann.annotate("ONE and MSC ships called at the terminal run by PSA and TIL.", lang="en")
    assert {"org:one", "org:msc", "org:psa", "org:til"} <= set(ids(maritime))
    lower = ann.annotate("one ship, msc vessels and psa terminals called at the port.", lang="en")
    assert not {"org:one", "org:msc", "org:psa"} & set(ids(lower))
    no_context = ann.annotate("ONE thing is clear: the MSC degree takes a year.", lang="en")
    assert not {"org:one", "org:msc"} & set(ids(no_context))


def test_organisations_and_parents_are_linked(ann):
    text = ("CargoSmart, a subsidiary of OOIL, and Cainiao (菜鸟) signed with Portbase. "
            "The U.S.-China Economic and Security Review Commission (USCC) and CBP reviewed it; "
            "the Department of Transportation (DOT) in Washington agreed.")
    result = ann.annotate(text, lang="en")
    assert {"org:cargosmart", "org:ooil", "org:cainiao", "org:portbase", "org:uscc", "org:cbp", "org:us-dot"} <= set(ids(result))
    assert found(result, "org:cainiao") == ["Cainiao"]  # a name and its gloss in brackets: one mention
    assert found(result, "org:uscc") == ["U.S.-China Economic and Security Review Commission"]
    check_offsets(text, result)


def test_context_restricted_ministry(ann):
    assert "org:cn-mot" in ids(ann.annotate("LOGINK is run by China's Ministry of Transport.", lang="en"))
    assert "org:cn-mot" not in ids(ann.annotate("The Dutch Ministry of Transport issued rules.", lang="en"))


def test_legislation(ann):
    text = ("Section 50309 of title 46, United States Code, was added by the National Defense Authorization Act "
            "for Fiscal Year 2024 (Public Law 118–31). H.R. 1724 and S. 939 were introduced; see also H.R. 6228 and "
            "the Securing Maritime Data from Communist China Act. The EP adopted 2023/2059(INI) on a comprehensive "
            "European port strategy; NIS2 and Regulation (EU) 2019/452 apply.")
    result = ann.annotate(text, lang="en")
    expected = {"law:46-usc-50309", "law:us-ndaa-fy2024", "law:us-hr-1724-118", "law:us-s-939-118", "law:us-hr-6228-118",
                "law:eu-ep-port-strategy-2023-2059", "law:eu-nis2", "law:eu-fdi-screening"}
    assert expected <= set(ids(result))
    assert {m["type"] for m in result["mentions"] if m["entity"].startswith("law:")} == {"LEGISLATION"}
    check_offsets(text, result)


# --- output contract ------------------------------------------------------------------------------------

def test_output_shape_offsets_and_topics(ann):
    text = ("  LOGINK\tis a Chinese platform.\r\n\r\nZPMC builds ship-to-shore cranes, and\n"
            "port data security matters.\n\n\nIt is\u00a0used at Rotterdam port.  ")
    result = ann.annotate(text)
    json.dumps(result)
    assert set(result) >= {"lang", "entities", "mentions", "topics"}
    check_offsets(text, result)
    by_entity = {e["id"]: e for e in result["entities"]}
    assert by_entity["platform:logink"] == {"id": "platform:logink", "name": "LOGINK", "type": "PLATFORM", "count": 1}
    assert by_entity["topic:logink"]["type"] == "TOPIC"  # "port data security" is a term, not an entity
    assert by_entity["topic:cranes"]["count"] == 1
    for m in result["mentions"]:
        assert set(m) >= {"entity", "name", "type", "text", "start", "end", "sentence", "topic", "stance", "stance_score"}
    topics = {t["topic"]: t for t in result["topics"]}
    assert topics["logink"]["mentions"] == 2 and topics["cranes"]["mentions"] == 2
    port = [m for m in result["mentions"] if m["entity"] == "port:NLRTM"][0]
    assert port["topic"] is None and port["stance"] is None


def test_topic_without_mentions_has_stance_none(ann):
    topics = {t["topic"]: t for t in ann.annotate("Nothing relevant here at all.", lang="en")["topics"]}
    assert topics["logink"] == {"topic": "logink", "stance": "none", "score": 0.0, "mentions": 0}


def test_without_stance_model_stance_fields_are_null(monkeypatch):
    from nlp import pipeline

    annotator = Annotator(topics=TOPICS)
    monkeypatch.setattr(annotator, "_stance", pipeline._StanceLoader("nlp.no_such_stance_module"))
    result = annotator.annotate("LOGINK threatens port data security.", lang="en")
    assert all(m["stance"] is None and m["stance_score"] is None for m in result["mentions"])
    assert {t["topic"]: t["stance"] for t in result["topics"]} == {"logink": None, "cranes": "none"}
    assert annotator.model_version.endswith("+stance-none")


def test_model_version(ann):
    assert ann.model_version.startswith("gaz-") and "+stance-" in ann.model_version
    assert len(ann.model_version.split("+")[0]) == len("gaz-") + 8


def test_entity_rows(ann):
    rows = {r["id"]: r for r in ann.entity_rows()}
    assert {r["type"] for r in rows.values()} == {"PLATFORM", "PORT", "COMPANY", "GOV_ORG", "LEGISLATION", "TOPIC"}
    assert rows["topic:cranes"]["aliases"] == ["ship-to-shore cranes"]
    assert rows["port:BEANR"]["external_ids"]["wpi"] == "31250" and "Anvers" in rows["port:BEANR"]["aliases"]
    assert rows["org:oocl"]["parent"] == "org:ooil" and rows["org:oocl"]["external_ids"]["scac"] == "OOLU"
    assert set(rows["org:cosco"]) == {"id", "name", "type", "country", "aliases", "external_ids", "parent"}


def test_is_relevant(ann):
    assert ann.is_relevant("Ports adopting Logink\nraise questions.")
    assert ann.is_relevant("国家交通运输物流公共信息平台")
    assert ann.is_relevant("We discuss port  data\nsecurity today.")
    assert not ann.is_relevant("The loginkeeper logged in.")
    assert not ann.is_relevant("A report on fisheries and tourism.")


def test_annotate_many_streams_in_order(ann):
    def stream():
        for i in itertools.count():
            yield (f"d{i}", "LOGINK at Piraeus port." if i % 2 else "Plain text.", "en" if i % 3 else None)

    results = list(itertools.islice(ann.annotate_many(stream()), 130))
    assert [r["id"] for r in results] == [f"d{i}" for i in range(130)]
    assert [bool(r["mentions"]) for r in results[:4]] == [False, True, False, True]
    assert ann.annotate_many([]) is not None and list(ann.annotate_many([])) == []


def test_pipeline_rebuilt_when_vocabulary_grows(ann, monkeypatch):
    from nlp import tokenizers

    monkeypatch.setattr(tokenizers, "VOCAB_GROWTH", 50)
    before = tokenizers.lang_model("en").nlp
    text = " ".join(f"word{i}" for i in range(200)) + ". LOGINK ships call at the Port of Rotterdam."
    first = ann.annotate(text, lang="en")
    assert tokenizers.lang_model("en").nlp is not before  # dropped after the batch, rebuilt on use
    assert ann.annotate(text, lang="en")["mentions"] == first["mentions"]
    assert ids(first) == ["platform:logink", "port:NLRTM"]


def test_language_argument_overrides_and_is_normalised(ann):
    assert ann.annotate("LOGINK", lang="EN")["lang"] == "en"
    assert ann.annotate("Die Plattform LOGINK.", lang="de-DE")["lang"] == "de"
    assert ann.annotate("國家物流信息平台", lang="zh-Hant")["lang"] == "zh"
    assert ann.annotate("", lang=None)["mentions"] == []
