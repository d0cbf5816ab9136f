"""Entity kinds of issue 12 (gaps and false positives), each rule on at least two sentences written for
these tests; the names are chosen so that a rule, not one alias, has to carry them."""

from __future__ import annotations

import pytest

from nlp import Annotator


@pytest.fixture(scope="module")
def ann() -> Annotator:
    return Annotator()


def pairs(text: str, lang: str | None, ann: Annotator) -> set[tuple[str, str]]:
    result = ann.annotate(text, lang=lang)
    for m in result["mentions"]:
        assert text[m["start"] : m["end"]] == m["text"]
    return {(m["text"], m["entity"]) for m in result["mentions"]}


# --- gaps --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, text, expected", [
    # port names with 港 / 항, from the curated local-script names and the suffix rule
    ("ja", "ピレウス港とバレンシア港で新しい岸壁が完成した。", {("ピレウス港", "port:GRPIR"), ("バレンシア港", "port:ESVLC")}),
    ("ja", "貨物はジェノヴァ港からハンブルク港へ運ばれた。", {("ジェノヴァ港", "port:ITGOA"), ("ハンブルク港", "port:DEHAM")}),
    ("zh", "货物经格但斯克港转运至里加港。", {("格但斯克港", "port:PLGDN"), ("里加港", "port:LVRIX")}),
    ("ko", "함부르크항과 피레우스항의 물동량이 늘었다.", {("함부르크항", "port:DEHAM"), ("피레우스항", "port:GRPIR")}),
    ("ko", "선박이 싱가포르항을 떠나 로테르담항에 도착했다.", {("싱가포르항", "port:SGSIN"), ("로테르담항", "port:NLRTM")}),
    # secondary ports listed with a port, in a maritime sentence
    ("en", "Grain moves through the ports of Delfzijl, Moerdijk and Harlingen.", {("Delfzijl", "port:NLDZL"),
                                                                               ("Moerdijk", "port:NLMOE")}),
    ("de", "Die Fähre verbindet die Häfen Kiel, Wismar und Sassnitz.", {("Kiel", "port:DEKEL"), ("Wismar", "port:DEWIS")}),
    ("en", "Moerdijk's port and Delfzijl harbour both expanded.", {("Moerdijk", "port:NLMOE"), ("Delfzijl", "port:NLDZL")}),
    ("en", "The vessel sailed from Eemshaven to Cuxhaven with wind turbine blades.", {("Eemshaven", "port:NLEEM"),
                                                                                    ("Cuxhaven", "port:DECUX")}),
    # Chinese central government bodies in English and Chinese
    ("en", "Officials from the Ministry of Public Security and China's Ministry of State Security attended.",
     {("Ministry of Public Security", "org:cn-mps"), ("China's Ministry of State Security", "org:cn-mss")}),
    ("zh", "国家数据局和海关总署联合发布通知，财政部提供资金。", {("国家数据局", "org:cn-nda"), ("海关总署", "org:cn-gacc"),
                                               ("财政部", "org:cn-mof")}),
    # Japanese ministries and the US houses of Congress written in Japanese
    ("ja", "防衛省と経済産業省は港湾の安全について協議した。", {("防衛省", "org:jp-mod"), ("経済産業省", "org:jp-meti")}),
    ("ja", "米国下院に続き、米上院も中国の物流プラットフォームを審議した。", {("米国下院", "org:us-house"), ("米上院", "org:us-senate")}),
    ("ja", "米国では上院が法案を可決し、下院に送った。", {("上院", "org:us-senate"), ("下院", "org:us-house")}),
    # exchanges, federations and trade associations
    ("en", "The Ningbo Shipping Exchange and the China Ports & Harbours Association met FIATA.",
     {("Ningbo Shipping Exchange", "org:nbse"), ("China Ports & Harbours Association", "org:cpha"), ("FIATA", "org:fiata")}),
    ("zh", "上海航运交易所与中国物流与采购联合会发布了指数。", {("上海航运交易所", "org:sse"), ("中国物流与采购联合会", "org:cflp")}),
    # short and variant forms of US commissions and agencies
    ("en", "The Federal Maritime Commission fined the carrier. The Commission also warned ports.",
     {("Federal Maritime Commission", "org:fmc"), ("Commission", "org:fmc")}),
    ("en", "In its annual report the U.S.-China Commission urged action; the Commission cited LOGINK.",
     {("U.S.-China Commission", "org:uscc"), ("Commission", "org:uscc")}),
    ("en", "In Washington, U.S. Customs and the TSA briefed the NSA and Homeland Security staff on port cranes.",
     {("U.S. Customs", "org:cbp"), ("TSA", "org:tsa"), ("NSA", "org:nsa"), ("Homeland Security", "org:dhs")}),
    # Chinese provincial transport departments, generated for every province
    ("zh", "江苏省交通运输厅与广东省交通运输厅签署合作协议。", {("江苏省交通运输厅", "org:cn-jiangsu-transport"),
                                             ("广东省交通运输厅", "org:cn-guangdong-transport")}),
    ("en", "The Fujian Provincial Department of Transportation and the Shanghai Municipal Transportation Commission "
           "joined.", {("Fujian Provincial Department of Transportation", "org:cn-fujian-transport"),
                       ("Shanghai Municipal Transportation Commission", "org:cn-shanghai-transport")}),
])
def test_gaps_are_found(ann, lang, text, expected):
    assert expected <= pairs(text, lang, ann)


@pytest.mark.parametrize("lang, text, expected", [
    ("ko", "중국 국가교통운수물류공공정보플랫폼(LOGINK)은 항만 데이터를 모은다.", "국가교통운수물류공공정보플랫폼"),
    ("ko", "미국 의회는 중국의 물류 플랫폼(LOGINK) 사용을 금지했다.", "LOGINK"),
    ("nl", "Het Nationale Publieke Informatieplatform voor Transport en Logistiek deelt havendata.",
     "Nationale Publieke Informatieplatform voor Transport en Logistiek"),
    ("fr", "La Plateforme nationale d'information publique sur le transport et la logistique inquiète.",
     "Plateforme nationale d'information publique sur le transport et la logistique"),
])
def test_logink_names_in_more_languages(ann, lang, text, expected):
    """Korean names and brackets written without spaces ("플랫폼(LOGINK)"), inflected Dutch and French names."""
    assert (expected, "platform:logink") in pairs(text, lang, ann)


def test_bare_house_is_the_us_house_only_in_us_context(ann):
    us = "WASHINGTON - House lawmakers advanced the bill on Tuesday; the Senate will vote next week."
    assert {("House", "org:us-house"), ("Senate", "org:us-senate")} <= pairs(us, "en", ann)
    uk = "In London, the House of Commons debated port security, and a U.S. delegation watched."
    assert not {e for _, e in pairs(uk, "en", ann)} & {"org:us-house"}
    assert not {e for _, e in pairs("House prices rose in Sydney and Toronto.", "en", ann)} & {"org:us-house"}


def test_commission_without_a_named_us_commission_stays_european(ann):
    text = "The European Commission proposed a port strategy. The Commission will consult the EU Member States."
    assert ("Commission", "org:eu-commission") in pairs(text, "en", ann)
    assert ("Commission", "org:fmc") not in pairs("The Commission met on Tuesday.", "en", ann)


# --- false positives -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, text, forbidden", [
    # a city named as a city
    ("en", "The mayor of Antwerp spoke at a shipping conference in Rotterdam.", {"port:BEANR", "port:NLRTM"}),
    ("en", "She was born in Hamburg; her shipping firm is headquartered in Valencia.", {"port:DEHAM", "port:ESVLC"}),
    ("de", "Der Bürgermeister von Hamburg eröffnete in der Stadt Bremen eine Hafenkonferenz.", {"port:DEHAM", "port:DEBRE"}),
    ("zh", "上海市政府与宁波市政府讨论了集装箱运输。", {"port:CNSHA", "port:CNNGB"}),
    ("ja", "横浜市と神戸市の市長がコンテナ船の誘致を話し合った。", {"port:JPYOK", "port:JPUKB"}),
    # a body of another country written in CJK
    ("ja", "米国の報道によると、英下院も港湾データを審議した。", {"org:us-house"}),
    ("zh", "美国媒体称，日本众议院和韩国国会讨论了港口数据。", {"org:us-house"}),
    # "the port said" is not Port Said
    ("en", "The port said container volumes fell, and the Port said it would expand.", {"port:EGPSD"}),
    ("en", "Shipping lines said the port said nothing about delays.", {"port:EGPSD"}),
    # datelines
    ("en", "Hamburg, Dec 3 (Reuters) - Container throughput at the port rose.", {"port:DEHAM"}),
    ("en", "Antwerp/Rotterdam (dpa) - Dock workers at both ports went on strike.", {"port:BEANR", "port:NLRTM"}),
    ("de", "Hamburg, 3. Dezember 2024 (dpa) - Der Containerumschlag im Hafen sank.", {"port:DEHAM"}),
    # a company name inside a vessel's name
    ("en", "The COSCO Shipping Taurus and the CMA CGM Marco Polo called at the terminal.", {"org:cosco", "org:cma-cgm"}),
    ("en", "Crew aboard the Maersk Kensington reported a fire on the container ship.", {"org:maersk"}),
    # a port's name at the start of a company's name
    ("en", "Dalian Port Group and Yantian Port Holdings bought cranes for their terminals.", {"port:CNDLC", "port:CNYTN"}),
    ("en", "Shares of Xiamen Port Development rose as container volumes grew.", {"port:CNXMN"}),
    # a place inside a longer proper name
    ("en", "Students at the University of Antwerp studied port logistics at the container terminal.", {"port:BEANR"}),
    ("es", "El Consorcio de la Zona Franca de Valencia gestiona un parque logístico junto al puerto.", {"port:ESVLC"}),
])
def test_false_positives_are_not_tagged(ann, lang, text, forbidden):
    assert not {e for _, e in pairs(text, lang, ann)} & forbidden


@pytest.mark.parametrize("text", ["Les dockers du Havre ont voté la grève.",
                                  "Le trafic de conteneurs du Havre a augmenté, selon le port."])
def test_du_havre_is_le_havre_not_a_belgian_town(ann, text):
    found = {e for _, e in pairs(text, "fr", ann)}
    assert "port:FRLEH" in found and not {e for e in found if e.startswith("port:BE")}


def test_the_positive_forms_still_hold(ann):
    assert ("Port Said", "port:EGPSD") in pairs("Ships queued near Port Said before entering the canal.", "en", ann)
    assert ("COSCO Shipping Ports", "org:cosco-shipping-ports") in pairs(
        "The COSCO Shipping Ports terminal in Piraeus expanded.", "en", ann)
    assert ("Hamburg", "port:DEHAM") in pairs("Container ships bound for Hamburg waited off the port.", "en", ann)


# --- a full name and its acronym are one mention --------------------------------------------------------

@pytest.mark.parametrize("lang, text, name", [
    ("en", "The Federal Maritime Commission (FMC) reviewed the rule.", "Federal Maritime Commission"),
    ("en", "CISA, the Cybersecurity and Infrastructure Security Agency, issued guidance.",
     "Cybersecurity and Infrastructure Security Agency"),
    ("zh", "东北亚物流信息服务网络（NEAL-NET）发布年度报告。", "东北亚物流信息服务网络"),
])
def test_name_and_acronym_are_one_mention(ann, lang, text, name):
    result = ann.annotate(text, lang=lang)
    assert [m["text"] for m in result["mentions"]] == [name]
