"""A deterministic synthetic corpus for the scale benchmark (bench/scale.py).

Documents of about 3,000 words of English-like filler (a Zipf-distributed vocabulary of policy,
shipping and everyday words, so the full-text index has common and rare terms) with sentences
that name watched entities at a realistic density: on average `mentions_per_doc` (default 10)
entity sentences per document, a third of them about LOGINK (with stance cues), the rest ports,
companies, government bodies and laws, under the surface forms the packaged gazetteer knows.

Every document comes with the mentions the generator put in it (entity id, sentence, offsets,
topic, stance), so a large database can be bulk-loaded without running NLP on all of it; the NLP
throughput is measured separately on a sample through the real annotator.

Nothing here is third-party text: every sentence is generated. Same seed, same corpus.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

# (entity id, surface form, type): forms recognised by the packaged gazetteer (nlp/data).
LOGINK = [
    ("platform:logink", "LOGINK", "PLATFORM"),
    ("platform:logink", "LOGINK", "PLATFORM"),
    ("platform:logink", "LOGINK", "PLATFORM"),
    ("platform:logink", "National Transportation and Logistics Public Information Platform", "PLATFORM"),
    ("platform:neal-net", "NEAL-NET", "PLATFORM"),
]
OTHERS = [
    ("port:NLRTM", "Port of Rotterdam Authority", "PORT"), ("port:NLRTM", "Maasvlakte", "PORT"),
    ("port:BEANR", "Port of Antwerp-Bruges", "PORT"), ("port:DEHAM", "Hamburg Port Authority", "PORT"),
    ("port:GRPIR", "Piraeus", "PORT"), ("port:CNSHA", "Yangshan", "PORT"), ("port:SGSIN", "Singapore", "PORT"),
    ("port:USLGB", "Long Beach", "PORT"), ("port:USLAX", "Los Angeles", "PORT"),
    ("org:espo", "European Sea Ports Organisation", "GOV_ORG"), ("org:wsc", "World Shipping Council", "GOV_ORG"),
    ("org:aapa", "American Association of Port Authorities", "GOV_ORG"), ("org:bimco", "BIMCO", "GOV_ORG"),
    ("law:eu-nis2", "NIS2 Directive", "LEGISLATION"), ("law:eu-fdi-screening", "FDI Screening Regulation", "LEGISLATION"),
    ("law:us-osra-2022", "Ocean Shipping Reform Act of 2022", "LEGISLATION"),
    ("law:cn-data-security-law", "Data Security Law", "LEGISLATION"),
    ("law:us-hr-1724-118", "Securing Maritime Data from Communist China Act", "LEGISLATION"),
    ("law:eu-cra", "Cyber Resilience Act", "LEGISLATION"),
]
CRITICAL = [
    "Officials warned that {e} could give Beijing access to sensitive shipping data and poses a security threat.",
    "The committee concluded that {e} is a national security risk for allied ports and should be banned.",
    "Lawmakers argued that {e} enables surveillance of cargo flows and undermines supply chain security.",
]
SUPPORTIVE = [
    "Port operators said {e} improves logistics efficiency and welcomed closer cooperation on data exchange.",
    "The ministry praised {e} as a useful platform that reduces paperwork for shippers.",
]
NEUTRAL = [
    "The report describes {e} and lists the agencies that operate it.",
    "A spokesperson said {e} was discussed at the meeting on Tuesday.",
    "The hearing examined how {e} is used by terminal operators.",
]
OTHER = [
    "The delegation visited {e} to discuss terminal capacity and customs procedures.",
    "According to the annual review, {e} handled more containers than in the previous year.",
    "Representatives of {e} attended the consultation on maritime infrastructure.",
    "The proposal refers to {e} in its section on cyber resilience of critical infrastructure.",
]
WORDS = (
    "the of and to in a that for is on by with as be this are from at was it which an or has have not its "
    "will been their also more than were other such may would these into can about between under should "
    "port ports shipping maritime logistics data security cargo container containers terminal terminals "
    "operator operators infrastructure supply chain trade customs vessel vessels freight carrier carriers "
    "digital platform platforms information system systems network access risk risks cyber resilience "
    "government agency ministry committee parliament commission council member states union federal "
    "national international foreign investment ownership control strategic critical economic policy "
    "report review analysis assessment measures regulation directive act law bill amendment provision "
    "section article paragraph text proposal resolution question answer hearing statement notice rule "
    "public private sector companies company market competition transport transportation rail road air "
    "energy technology software hardware cranes sensors tracking monitoring standards interoperability "
    "cooperation partners allies concerns growth capacity efficiency investment funding budget year years "
    "first second new recent current future european american chinese global regional local united "
    "including however therefore although because while during after before within across through "
    "significant important relevant potential possible necessary additional specific particular general "
    "government's agencies' operators' stakeholders consultation implementation enforcement compliance "
    "dredging berth quay hinterland transshipment intermodal feeder deepwater anchorage pilotage tariff "
    "sanctions export controls screening subsidies procurement tender concession lease stake shareholders"
).split()
RARE = [f"{stem}{suffix}" for stem in ("quayside", "gantry", "manifest", "bunker", "reefer", "lashing", "stevedore",
                                        "drayage", "chassis", "demurrage") for suffix in ("", "s", "ing", "ed")]
SOURCES = [
    # (source id, jurisdiction, institution, doc types, weight)
    ("federal-register", "US", "Federal Maritime Commission", ["notice", "rule", "proposed_rule"], 10),
    ("govinfo", "US", "U.S. Congress", ["hearing", "congressional_record", "bill_text"], 10),
    ("congress-gov", "US", "U.S. Congress", ["bill_text"], 5),
    ("ep-open-data", "EU", "European Parliament", ["adopted_text", "question", "answer", "report"], 15),
    ("ep-oeil", "EU", "European Parliament", ["procedure_document"], 3),
    ("eurlex", "EU", "European Union", ["regulation", "directive", "decision", "communication"], 10),
    ("ec-press", "EU", "European Commission", ["press_release", "speech"], 7),
    ("news-rss", "INT", None, ["article"], 25),
    ("gdelt", "INT", None, ["article"], 15),
]
TAIL_WORDS, TAIL_SHARE = 30_000, 0.15
LANGUAGES = [("en", 85), ("fr", 4), ("de", 4), ("nl", 2), ("es", 3), ("zh", 2)]


@dataclass
class GeneratedDoc:
    """One generated document (the fields of db.writes.upsert_document) and the mentions placed in it."""

    doc: dict
    mentions: list[dict] = field(default_factory=list)
    words: int = 0

    @property
    def topics(self) -> list[dict]:
        stances = [m["stance"] for m in self.mentions if m["topic"] == "logink"]
        if not stances:
            return [{"topic": "logink", "stance": "none", "score": 0.0, "mentions": 0}]
        top = max(("critical", "neutral", "supportive"), key=stances.count)
        return [{"topic": "logink", "stance": top, "score": round(stances.count(top) / len(stances), 3), "mentions": len(stances)}]


class Corpus:
    """``Corpus(seed).documents(n)`` yields n documents; deterministic for a seed."""

    def __init__(self, seed: int = 20261126, words_per_doc: int = 3000, mentions_per_doc: float = 10.0,
                 start: date = date(2019, 1, 1), end: date = date(2026, 11, 20)):
        self.seed, self.words_per_doc, self.mentions_per_doc = seed, words_per_doc, mentions_per_doc
        self.start, self.days = start, (end - start).days
        rng = random.Random(seed)
        vocab = WORDS + RARE
        rng.shuffle(vocab)
        self.vocab = vocab
        self.cum_weights = _cumulative(1.0 / (rank + 1) ** 0.9 for rank in range(len(vocab)))  # Zipf-like
        # a long tail of pseudo-words, so that most terms occur in few documents, as in real text
        syllables = ["ka", "lo", "mi", "ne", "ro", "ta", "vi", "shu", "pe", "da", "gor", "lin", "bre", "sto",
                     "qua", "zen", "fa", "hu", "ji", "wo", "ter", "san", "bel", "mon"]
        tail = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(TAIL_WORDS * 2)}
        self.tail = sorted(tail)[:TAIL_WORDS]
        rng.shuffle(self.tail)
        self.tail_cum_weights = _cumulative(1.0 / (rank + 1) ** 1.05 for rank in range(len(self.tail)))

    def _filler_sentence(self, rng: random.Random) -> str:
        words = rng.choices(self.vocab, cum_weights=self.cum_weights, k=rng.randint(12, 26))
        for _ in range(int(len(words) * TAIL_SHARE + rng.random())):
            words[rng.randrange(len(words))] = rng.choices(self.tail, cum_weights=self.tail_cum_weights)[0]
        return words[0].capitalize() + " " + " ".join(words[1:]) + "."

    def _entity_sentence(self, rng: random.Random) -> tuple[str, dict]:
        if rng.random() < 0.34:
            entity, form, kind = rng.choice(LOGINK)
            roll = rng.random()
            stance, templates = ("critical", CRITICAL) if roll < 0.55 else ("supportive", SUPPORTIVE) if roll < 0.7 else ("neutral", NEUTRAL)
            topic = "logink"
        else:
            entity, form, kind = rng.choice(OTHERS)
            stance, templates, topic = None, OTHER, None
        template = rng.choice(templates)
        sentence = template.format(e=form)
        start = template.index("{e}")
        return sentence, {"entity": entity, "type": kind, "text": form, "sentence": sentence, "offset": start,
                          "topic": topic, "stance": stance,
                          "stance_score": round(rng.uniform(0.5, 0.95), 3) if stance else None}

    def document(self, number: int) -> GeneratedDoc:
        rng = random.Random(f"{self.seed}:{number}")
        source, jurisdiction, institution, doc_types, _ = rng.choices(SOURCES, weights=[s[4] for s in SOURCES])[0]
        language = rng.choices([l for l, _ in LANGUAGES], weights=[w for _, w in LANGUAGES])[0]
        published = self.start + timedelta(days=rng.randrange(self.days))
        seen = datetime(published.year, published.month, published.day, 6, tzinfo=timezone.utc) + timedelta(hours=rng.randrange(72))
        n_mentions = min(int(rng.expovariate(1 / self.mentions_per_doc)), 60)
        sentences: list[str] = []
        placed: list[tuple[int, dict]] = []
        words = 0
        target = int(self.words_per_doc * rng.uniform(0.8, 1.2))
        mention_at = sorted(rng.randrange(max(target // 15, 1)) for _ in range(n_mentions))
        i = 0
        while words < target or i < len(mention_at):
            while i < len(mention_at) and mention_at[i] <= len(sentences):
                sentence, mention = self._entity_sentence(rng)
                placed.append((len(sentences), mention))
                sentences.append(sentence)
                words += sentence.count(" ") + 1
                i += 1
            sentence = self._filler_sentence(rng)
            sentences.append(sentence)
            words += sentence.count(" ") + 1
        title_entity = placed[0][1]["text"] if placed else rng.choice(OTHERS)[1]
        title = f"{rng.choice(['Report', 'Notice', 'Question', 'Resolution', 'Statement', 'Analysis'])} on {title_entity} and {rng.choice(self.vocab)} {rng.choice(self.vocab)}"
        # paragraphs of 6 sentences; offsets are computed on the final text
        text_parts, offsets, position = [], {}, 0
        for index, sentence in enumerate(sentences):
            sep = "" if index == 0 else ("\n\n" if index % 6 == 0 else " ")
            position += len(sep)
            offsets[index] = position
            text_parts.append(sep + sentence)
            position += len(sentence)
        text = "".join(text_parts)
        mentions = []
        for index, mention in placed:
            start = offsets[index] + mention.pop("offset")
            mentions.append({**mention, "start": start, "end": start + len(mention["text"])})
        source_id = f"bench-{number:07d}"
        fetched = seen.replace(microsecond=0).isoformat()
        doc = {
            "source": source, "source_id": source_id, "url": f"https://example.org/{source}/{source_id}",
            "title": title, "text": text, "doc_type": rng.choice(doc_types), "jurisdiction": jurisdiction,
            "institution": institution or rng.choice(["Reuters", "Lloyd's List", "Splash247", "Politico Europe", "SCMP"]),
            "language": language, "published_at": published.isoformat(), "updated_at": None, "fetched_at": fetched,
            "content_hash": hashlib.sha256((title + "\n" + text).encode()).hexdigest(), "parser_version": "bench",
        }
        return GeneratedDoc(doc, mentions, words)

    def documents(self, n: int, first: int = 0) -> Iterator[GeneratedDoc]:
        for number in range(first, first + n):
            yield self.document(number)


def _cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def entity_rows() -> list[dict]:
    """Rows for the entities table covering every entity the generator uses."""
    seen = {}
    for entity, form, kind in LOGINK + OTHERS:
        seen.setdefault(entity, {"id": entity, "name": form, "type": kind, "aliases": [form]})
    return list(seen.values())
