"""Context cues and the per-document state the linking rules read.

Cues are ``(text, mode)`` pairs with mode 0 = anywhere (compounds: "Containerhafen"), 1 = whole
word, 2 = word start ("Chin" -> China, chinois, chinesisch). Sentence cues are matched on
lower-cased text, document cues as written. Plain ``str.find`` scans: an order of magnitude faster
than one regex over all cues.
"""

from __future__ import annotations

from spacy.tokens import Doc

from nlp.sentences import Sentences
from nlp.text import Block

SENTENCE_CUES: dict[str, tuple[tuple[str, int], ...]] = {
    "maritime": tuple(
        [(w, 1) for w in ("port", "ports", "ship", "ships", "berth", "berths", "quay", "quays", "carrier", "carriers",
                          "freight", "liner", "liners", "teu", "teus", "dock", "docks", "docked", "porto", "porti",
                          "portos", "navi", "nave", "portu", "portów", "statek", "statki", "haven", "havens",
                          "shipped", "shipment", "shipments", "ferry", "ferries", "seaports")]
        + [(w, 2) for w in ("docker", "dockworker", "longshore", "stevedor", "estibador", "havenarbeid")]
        + [(w, 0) for w in ("seaport", "harbour", "harbor", "terminal", "shipping", "vessel", "container", "maritime",
                            "cargo", "hafen", "häfen", "schiff", "reeder", "frachter", "puerto", "contenedor",
                            "conteneur", "portuari", "portuale", "portuaire", "marítim", "marittim", "maritiem", "zeehaven", "havenbedrijf", "scheepvaart",
                            "rederij", "navire", "armateur", "buque", "navier", "żeglug", "morsk", "港", "码头", "碼頭",
                            "航运", "航運", "集装箱", "貨櫃", "货柜", "船", "コンテナ", "海運", "埠頭", "fähre", "umschlag",
                            "overslag", "veerdienst", "항만", "항구", "컨테이너", "해운", "선박", "부두", "터미널")]),
    "china": tuple([(w, 2) for w in ("chin", "beijing", "peking", "communist", "kommunist", "comunist")]
                   + [(w, 1) for w in ("prc", "ccp", "cpc")]
                   + [(w, 0) for w in ("people's republic", "中国", "中國", "中共", "北京", "中华", "中華", "중국", "베이징")]),
    "logink_zh": (("国家", 0), ("國家", 0), ("交通运输", 0), ("交通運輸", 0), ("logink", 0)),
}
SENTENCE_CUES["china"] += (("logink", 0),)  # the platform is Chinese: "the Foreign Ministry defended LOGINK"
DOC_CUES: dict[str, tuple[tuple[str, int], ...]] = {
    "eu": (("Europ", 0), ("europ", 0), ("EU", 1), ("E.U.", 1), ("UE", 1), ("Brussels", 1), ("Bruxelles", 1),
           ("Brüssel", 1), ("Bruselas", 1), ("Brussel", 1), ("Member State", 2), ("États membres", 1),
           ("Estados miembros", 1), ("Mitgliedstaat", 2), ("lidstaten", 1), ("MEP", 2),
           ("欧盟", 0), ("歐盟", 0), ("欧洲", 0), ("歐洲", 0)),
    "us": (("US", 1), ("USA", 1), ("U.S.", 2), ("米下院", 0), ("米上院", 0), ("米議会", 0), ("米政府", 0), ("미국", 0), ("United States", 1), ("America", 2), ("Washington", 1), ("WASHINGTON", 1),
           ("Senator", 1), ("Rep.", 1), ("Pentagon", 1), ("美国", 0), ("美國", 0), ("米国", 0), ("アメリカ", 0), ("美方", 0), ("华盛顿", 0),
           ("華盛頓", 0), ("ワシントン", 0),
           ("Vereinigte", 2), ("États-Unis", 1), ("Etats-Unis", 1), ("Estados Unidos", 1), ("EE. UU.", 1),
           ("EE.UU.", 1), ("EEUU", 1), ("Verenigde Staten", 1), ("Amerika", 2), ("amerikan", 2), ("américain", 2),
           ("estadounidense", 2), ("Amerikaan", 2)),
    # other jurisdictions with a Senate, a Coast Guard or a Department of Transportation of their own
    "other": (("Australia", 2), ("Canberra", 1), ("Canad", 2), ("Ottawa", 1), ("UK", 1), ("U.K.", 1), ("Britain", 1),
              ("British", 1), ("Westminster", 1), ("Parliament", 1), ("Philippin", 2), ("India", 2), ("Ireland", 1),
              ("Irish", 1), ("New Zealand", 1), ("Nigeria", 2), ("Kenya", 2), ("Pakistan", 2), ("Malaysia", 2),
              ("Singapore", 1), ("Sri Lanka", 1), ("Jamaica", 2)),
    "cn": (("중국", 0), ("Chin", 2), ("chin", 2), ("Beijing", 1), ("Peking", 2), ("Pékin", 1), ("Pekín", 1), ("PRC", 1),
           ("Xi Jinping", 1), ("LOGINK", 0), ("Logink", 0), ("中国", 0), ("中國", 0), ("中共", 0), ("北京", 0)),
}


class DocState:
    """Per-document caches: document contexts and sentence cue positions."""

    def __init__(self, text: str, lang: str = "", named: dict[str, tuple[str, ...]] | None = None) -> None:
        self.text = text
        self.lang = lang
        self.named = named or {}
        self._names_entity: dict[str, bool] = {}
        self.doc_context: dict[str, bool] = {}
        self.cue_counts: dict[str, int] = {}
        self.cues: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
        self.sentences: Sentences | None = None  # of the spaCy doc being matched
        self.block: Block | None = None  # the paragraph of that doc
        self.block_text = ""  # its text
        self._lowered: str | None = None

    def start_block(self, block: Block) -> None:
        self.sentences, self.block, self.block_text, self._lowered = None, block, block.text, None

    def line_break_between(self, end: int, start: int) -> bool:
        """Whether the original text has a line break between two normalised positions of the block."""
        if start <= end:
            return False
        return "\n" in self.text[self.block.to_original(end - 1) + 1 : self.block.to_original(start)]

    def lowered(self) -> str:
        """The block text in lower case, position for position."""
        if self._lowered is None:
            low = self.block_text.lower()
            self._lowered = low if len(low) == len(self.block_text) else "".join(c.lower()[:1] for c in self.block_text)
        return self._lowered

    def sentences_of(self, doc: Doc) -> Sentences:
        if self.sentences is None or self.sentences.doc is not doc:
            self.sentences = Sentences(doc)
        return self.sentences

    def has_doc_context(self, name: str) -> bool:
        """Document context ``name``: "us" = the United States is mentioned; "us_default" = that, or the
        document is English and names neither the EU nor another English-speaking jurisdiction (a bill
        or an American news item rarely says "U.S." before "the Coast Guard"); "eu" = the EU more often
        than the US; "cn" = China is mentioned."""
        if name not in self.doc_context:
            count = self._cue_count
            if name == "eu":
                value = count("eu") > count("us")
            elif name == "us_default":
                value = count("us") > 0 or (self.lang == "en" and count("eu") == 0 and count("other") == 0)
            else:
                value = count(name) > 0
            self.doc_context[name] = value
        return self.doc_context[name]

    def names_entity(self, entity: str) -> bool:
        """Whether the document names ``entity`` in full or by its acronym somewhere (the ``named`` context:
        "the Commission" in a document that names the Federal Maritime Commission)."""
        if entity not in self._names_entity:
            forms = tuple((form, 1) for form in self.named.get(entity, ()))
            self._names_entity[entity] = bool(forms) and bool(cue_spans(self.text, 0, len(self.text), forms))
        return self._names_entity[entity]

    def _cue_count(self, group: str) -> int:
        """How often the document cues of ``group`` occur (each group scanned once, when first needed)."""
        if group not in self.cue_counts:
            self.cue_counts[group] = len(cue_spans(self.text, 0, len(self.text), DOC_CUES[group]))
        return self.cue_counts[group]



def cue_spans(text: str, start: int, end: int, cues: tuple[tuple[str, int], ...]) -> list[tuple[int, int]]:
    """Spans of ``cues`` in ``text[start:end]``."""
    spans = []
    for cue, mode in cues:
        i = text.find(cue, start, end)
        while i >= 0:
            j = i + len(cue)
            word_ok = mode == 0 or ((i == 0 or not text[i - 1].isalnum())
                                    and (mode == 2 or j >= len(text) or not text[j].isalnum()))
            if word_ok and not (cue == "港" and text[i - 1 : i] == "香"):  # 香港 is Hong Kong, not a harbour
                spans.append((i, j))
            i = text.find(cue, j, end)
    return spans
