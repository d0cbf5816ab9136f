"""The annotator: language id, tokenisation, gazetteer matching, entity linking, stance, output.

Paragraphs are matched on whitespace-normalised text (``nlp.text``) and offsets mapped back to
the original. A paragraph is tokenized only when it contains a key word of some surface form
(``nlp.matching``); candidate matches pass their alias's rules (``nlp.rules``), then the longest
non-overlapping ones win. Contract: ``docs/ARCHITECTURE.md``; details: ``docs/nlp.md``.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
from functools import cached_property, lru_cache
from pathlib import Path
from itertools import islice
from typing import Iterable, Iterator

from spacy.tokens import Doc

from nlp.gazetteer import Alias, Gazetteer, entity_rows, load_gazetteer
from nlp.langid import SUPPORTED, detect
from nlp.matching import Patterns, gazetteer_patterns
from nlp import cache, mentions
from nlp.sentences import sentence_bounds
from nlp.rules import DEFER, Candidate, accept, rescue, shape_ok
from nlp.cues import DocState
from nlp.text import CJK_CHARS, CJK_PUNCT, Block, cjk_language, fold_cjk, has_cjk, paragraphs
from nlp.tokenizers import CJK_LANGUAGES, lang_model, model_key, recycle_if_grown

log = logging.getLogger(__name__)


# The topic of an Annotator built without topics: the tracker's packaged default topic
# (``tracker/defaults.toml`` ``[topics.logink]``), which the tracker always passes in itself;
# tests/test_nlp_consistency.py keeps the two equal (nlp does not read the tracker's files).
DEFAULT_TOPICS: dict[str, dict] = {
    "logink": {
        "entities": ["platform:logink", "platform:neal-net"],
        "terms": ["LOGINK", "NEAL-NET", "National Transportation and Logistics Public Information Platform",
                  "National Public Information Platform for Transportation and Logistics",
                  "covered logistics platform", "国家交通运输物流公共信息平台"],
    }
}
DOC_BATCH = 64


_PACKAGE = Path(__file__).parent


class _StanceLoader:
    """The stance module (``nlp/stance.py``, another engineer's) and its packaged model, imported on
    first use: scikit-learn alone takes ~0.7 s to import, and a stream without topic mentions never
    needs it. The model's version (part of every result) is kept in the disk cache under a
    fingerprint of the stance module and model files, so it is known without loading the model."""

    def __init__(self, module_name: str = "nlp.stance") -> None:
        self.module_name = module_name
        self.module = None
        self.model = None
        self._loaded = False

    def load(self):
        """The model, or None when the module cannot be imported or no trained model exists."""
        if not self._loaded:
            self._loaded = True
            try:
                module = importlib.import_module(self.module_name)
            except Exception as exc:  # noqa: BLE001 - the stance module is optional and owned elsewhere
                log.warning("stance disabled: %s", exc)
                return None
            self.module, self.model = module, module.StanceModel.load_default()
            cache.write(self._cache_name(), (self.model.version if self.model else "").encode(),
                        stale_prefix="stance-version-")
        return self.model

    @cached_property
    def version(self) -> str | None:
        """The model's version without loading it when the cache knows it; None without a model."""
        known = cache.read(self._cache_name())
        if known is None:
            return self.load().version if self.load() else None
        return known.decode() or None

    def _cache_name(self) -> str:
        files = [_PACKAGE / "stance.py", *sorted((_PACKAGE / "models").glob("*"))]
        stats = [self.module_name] + [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
        return "stance-version-" + hashlib.sha256(repr(stats).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _stance_loader() -> _StanceLoader:
    return _StanceLoader()



class Annotator:
    """Annotates documents with linked entity mentions, per-mention stance and per-topic stance."""

    def __init__(self, topics: dict[str, dict] | None = None) -> None:
        self.gazetteer: Gazetteer = load_gazetteer()
        self.topics = DEFAULT_TOPICS if topics is None else topics
        self._stance = _stance_loader()
        self._topic_of: dict[str, str] = {}
        self._term_surfaces: dict[tuple[str, bool], list[Alias]] = {}
        self._term_forms: dict[str, tuple[str, bool]] = {}
        for name, spec in self.topics.items():
            for eid in spec.get("entities", []):
                if eid not in self.gazetteer.entities:
                    log.warning("topic %s: unknown entity id %s (not in the gazetteer)", name, eid)
                self._topic_of.setdefault(eid, name)
            for term in spec.get("terms", []):
                self._add_term(name, term)
        self._terms = Patterns(self._term_forms.items()) if self._term_forms else None
        self._patterns = [gazetteer_patterns(), *([self._terms] if self._terms else [])]
        self._relevance = self._relevance_patterns()

    # --- configuration -------------------------------------------------------------------------

    def _add_term(self, topic: str, term: str) -> None:
        term = " ".join(term.split())
        linked = self.gazetteer.surfaces.get((term, True)) or self.gazetteer.surfaces.get((term.lower(), False))
        if linked:
            self._topic_of.setdefault(linked[0].entity, topic)
            return
        key = (term.lower(), False)
        self._term_surfaces.setdefault(key, []).append(Alias(f"topic:{topic}"))
        self._term_forms[term] = key

    def _relevance_patterns(self) -> list[re.Pattern]:
        exact, folded = set(), set(self._term_forms)
        wanted = set(self._topic_of)
        for key, aliases in self.gazetteer.surfaces.items():
            if any(a.entity in wanted for a in aliases):
                form = self.gazetteer.forms[key]
                (exact if key[1] else folded).add(form)
                if has_cjk(form):
                    folded.add(fold_cjk(form))
        return [p for p in (_compile_any(exact, 0), _compile_any(folded, re.IGNORECASE)) if p is not None]

    @property
    def model_version(self) -> str:
        """Gazetteer version + stance model version, stored on every mention."""
        version = self._stance.version
        stance = version.removeprefix("stance-") if version else "none"
        return f"gaz-{self.gazetteer.version[:8]}+stance-{stance}"

    def warm_up(self) -> None:
        """Load now what is otherwise loaded on first use (the stance model, the language identifier, the
        English tokenizer): before forking worker processes, so that they share it instead of each
        loading it again."""
        if self._stance.version:
            self._stance.load()
        detect("warm up the language identifier")
        lang_model("en")

    def entity_rows(self) -> Iterator[dict]:
        """Rows for the ``entities`` table: the gazetteer plus one TOPIC row per configured topic."""
        yield from entity_rows(self.gazetteer)
        for name, spec in self.topics.items():
            yield {"id": f"topic:{name}", "name": name, "type": "TOPIC", "country": None,
                   "aliases": list(spec.get("terms", [])), "external_ids": {}, "parent": None}

    def is_relevant(self, text: str) -> bool:
        """True when ``text`` names a topic entity or term (a fast, slightly generous pre-filter)."""
        if any(p.search(text) for p in self._relevance):
            return True
        return has_cjk(text) and any(p.search(fold_cjk(text)) for p in self._relevance)

    # --- annotation --------------------------------------------------------------------------------

    def annotate(self, text: str, lang: str | None = None) -> dict:
        """The DESIGN.md annotation object for one document (without ``id``)."""
        result = next(self.annotate_many([(None, text, lang)]))
        del result["id"]
        return result

    def annotate_many(self, items: Iterable[tuple]) -> Iterator[dict]:
        """Annotate ``(id, text[, lang])`` tuples in batches; yields one object per item, in order."""
        it = iter(items)
        while batch := list(islice(it, DOC_BATCH)):
            yield from self._annotate_batch([(item[0], item[1] or "", item[2] if len(item) > 2 else None)
                                             for item in batch])

    def _annotate_batch(self, batch: list[tuple]) -> list[dict]:
        plans = [self._plan(text, lang) for _, text, lang in batch]
        by_lang: dict[str, list[tuple[int, Block]]] = {}
        for i, (_, blocks) in enumerate(plans):
            for block_lang, block in blocks:
                by_lang.setdefault(block_lang, []).append((i, block))
        states = [DocState(text, plan[0], self.gazetteer.named) for (_, text, _), plan in zip(batch, plans)]
        mentions: list[list[dict]] = [[] for _ in batch]
        gazetteer = gazetteer_patterns()
        for lang, blocks in by_lang.items():
            nlp = lang_model(lang).nlp
            for patterns in self._patterns:
                patterns.use_language(model_key(lang), nlp)
            # a paragraph without a key word of any form cannot match: it is not tokenized at all
            wanted = [(i, block) for i, block in blocks
                      if gazetteer.prepare(block.text) | bool(self._terms and self._terms.prepare(block.text))]
            docs = nlp.tokenizer.pipe((block.text for _, block in wanted), batch_size=256)  # no components
            for (i, block), doc in zip(wanted, docs):
                mentions[i] += self._mentions(doc, block, states[i])
            recycle_if_grown(lang)
        self._add_stance(batch, mentions)
        return [self._result(doc_id, plan[0], found) for (doc_id, _, _), plan, found in zip(batch, plans, mentions)]

    def _plan(self, text: str, lang: str | None) -> tuple[str, list[tuple[str, Block]]]:
        lang = lang.lower().replace("_", "-").split("-")[0] if lang else None  # "EN", "zh-Hant", "pt_BR"
        doc_lang = lang if lang in SUPPORTED else detect(text)
        blocks = paragraphs(text)
        if doc_lang in CJK_LANGUAGES:
            planned = [(cjk_language(b.text) or (detect(b.text) if b.text.isascii() else doc_lang), b) for b in blocks]
        elif has_cjk(text):
            planned = [(cjk_language(b.text) or doc_lang, b) for b in blocks]
        else:
            return doc_lang, [(doc_lang, b) for b in blocks]
        return doc_lang, [("cjk" if has_cjk(b.text) else lang_, b) for lang_, b in planned]

    # --- matching ------------------------------------------------------------------------------------

    def _mentions(self, doc: Doc, block: Block, state: DocState) -> list[dict]:
        candidates: list[Candidate] = []
        sources = [(gazetteer_patterns(), self.gazetteer.surfaces)]
        if self._terms:
            sources.append((self._terms, self._term_surfaces))
        deferred: list[Candidate] = []
        state.start_block(block)
        for patterns, surfaces in sources:
            for key, start, end in patterns(doc):
                first_deferred = None
                form = self.gazetteer.forms.get(key)
                for alias in surfaces[key]:
                    ent = self.gazetteer.entities.get(alias.entity)
                    if not shape_ok(ent.type if ent else None, form, key[1], doc, start, end):
                        continue
                    verdict = accept(alias, doc, start, end, state)
                    if verdict is True:
                        candidates.append(Candidate(start, end, alias))
                        break
                    if verdict == DEFER and first_deferred is None:
                        first_deferred = Candidate(start, end, alias)
                else:
                    if first_deferred:
                        deferred.append(first_deferred)
        if deferred:
            candidates += rescue(doc, candidates, deferred, state, self.gazetteer.entities)
        if not candidates:
            return []
        chosen = mentions.select(doc, candidates, state.sentences_of(doc))
        return [self._mention(doc, block, c, state) for c in chosen]

    def _mention(self, doc: Doc, block: Block, c: Candidate, state: DocState) -> dict:
        original = state.text
        last = doc[c.end - 1]
        start, end = block.span(doc[c.start].idx, last.idx + len(last))
        sent_start, sent_end = sentence_bounds(original, start, end)  # the stance window's sentence
        entity = c.alias.entity
        ent = self.gazetteer.entities.get(entity)
        topic = entity.split(":", 1)[1] if entity.startswith("topic:") else self._topic_of.get(entity)
        return {"entity": entity, "name": ent.name if ent else topic, "type": ent.type if ent else "TOPIC",
                "text": original[start:end], "start": start, "end": end,
                "sentence": original[sent_start:sent_end].strip(), "topic": topic,
                "stance": None, "stance_score": None}

    # --- stance and output -----------------------------------------------------------------------------

    def _add_stance(self, batch: list[tuple], mentions: list[list[dict]]) -> None:
        """Classify every topic mention of the batch in one ``predict`` call.

        Mentions of the same entity in the same sentence share the first one's window: the stance
        labels are defined per sentence and target (``nlp/stance_data/GUIDELINE.md``).
        """
        if not any(m["topic"] for found in mentions for m in found) or not self._stance.version:
            return
        model = self._stance.load()
        if model is None:
            return
        groups: dict[tuple, list[dict]] = {}
        windows: dict[tuple, str] = {}
        for i, ((_, text, _), found) in enumerate(zip(batch, mentions)):
            for m in found:
                if m["topic"]:
                    key = (i, m["sentence"], m["entity"])
                    if key not in groups:
                        windows[key] = self._stance.module.make_window(text, m["start"], m["end"])
                    groups.setdefault(key, []).append(m)
        unique = list(dict.fromkeys(windows.values()))  # boilerplate repeats: classify each window once
        predicted = dict(zip(unique, model.predict(unique))) if unique else {}
        for key, group in groups.items():
            label, score = predicted[windows[key]]
            for m in group:
                m["stance"], m["stance_score"] = label, round(float(score), 4)

    def _result(self, doc_id, lang: str, mentions: list[dict]) -> dict:
        entities: dict[str, dict] = {}
        for m in mentions:
            row = entities.setdefault(m["entity"], {"id": m["entity"], "name": m["name"], "type": m["type"], "count": 0})
            row["count"] += 1
        topics = []
        for name in self.topics:
            found = [m for m in mentions if m["topic"] == name]
            if not found:
                topics.append({"topic": name, "stance": "none", "score": 0.0, "mentions": 0})
            elif self._stance.load():
                label, score = self._stance.module.aggregate([(m["stance"], m["stance_score"]) for m in found])
                topics.append({"topic": name, "stance": label, "score": round(float(score), 4), "mentions": len(found)})
            else:
                topics.append({"topic": name, "stance": None, "score": None, "mentions": len(found)})
        return {"id": doc_id, "lang": lang, "model_version": self.model_version,
                "entities": sorted(entities.values(), key=lambda e: -e["count"]),
                "mentions": mentions, "topics": topics}



def _compile_any(forms: set[str], flags: int) -> re.Pattern | None:
    """One regex matching any of ``forms`` (Latin ones on word boundaries, any whitespace inside).

    A CJK character next to a Latin name is a boundary: Chinese and Japanese write "对LOGINK的".
    """
    if not forms:
        return None
    ordered = sorted(forms, key=len, reverse=True)
    alt = {f: r"\s+".join(map(re.escape, f.split())) for f in ordered}
    parts = []
    if latin := [alt[f] for f in ordered if not has_cjk(f)]:
        word = f"[^\\W_{CJK_CHARS}{CJK_PUNCT}]"  # a letter or digit that is not CJK
        parts.append(f"(?<!{word})(?:" + "|".join(latin) + f")(?!{word})")
    if cjk := [alt[f] for f in ordered if has_cjk(f)]:
        parts.append("|".join(cjk))
    return re.compile("|".join(parts), flags)
