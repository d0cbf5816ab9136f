"""The ep-open-data source: discovery over the portal's lists, detail batches, texts and procedures
(see the package docstring for the order and the upstream's quirks)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from crawler.base import Item, Option, Source
from crawler.errors import BlockedError, FetchError, HttpStatusError, ParseError
from crawler.records import DocumentRecord, Record
from crawler.sources._ep_common import DEFAULT_KEYWORDS, keyword_pattern, normalise_reference, process_id
from crawler.sources.ep_open_data.jsonld import DATA_ROOT, as_list, data_base, date_of, envelope, vocab_code
from crawler.sources.ep_open_data.procedures import parse_procedure
from crawler.sources.ep_open_data.works import (
    COLLECTIONS,
    LANGUAGES,
    SOURCE_ID,
    answer_id,
    answers_of,
    expressions,
    manifestations,
    parse_document,
    parse_listing,
    parse_works,
    procedure_ids,
    source_id_for,
    titles,
    work_id,
)
from db import clock

DEFAULT_BASE_URL = "https://data.europarl.europa.eu/api/v2"
JSON_LD = "application/ld+json"
PORTAL_MIN_INTERVAL_S = 0.6  # 500 requests per 5 minutes
MAX_BATCH = 10
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


class EpOpenData(Source):
    """European Parliament adopted texts, reports, questions with answers, and procedures."""

    id = SOURCE_ID
    title = "European Parliament Open Data Portal (API v2)"
    jurisdiction = "EU"
    institution = "European Parliament"
    kind = "api"
    default_base_url = DEFAULT_BASE_URL
    mirrored_hosts = ("www.europarl.europa.eu",)  # distributions redirect to www.europarl.europa.eu/doceo/...
    default_interval = "1d"
    parser_version = "1"
    options = {
        "procedures": Option([], "procedures always refreshed (references like 2023/2059(INI))", item=str),
        "keywords": Option(list(DEFAULT_KEYWORDS), "title words that make a work of the year pass relevant", item=str),
        "year_pass": Option(list(COLLECTIONS), "collections listed for the current and previous year", item=str),
        "search_languages": Option(["en"], "languages of the adopted-texts full-text search", item=str),
        "page_size": Option(50, "ids per list page", minimum=1),
        "max_pages": Option(200, "pages read per listing and run", minimum=1),
        "detail_batch": Option(MAX_BATCH, "ids per detail request (comma-separated)", minimum=1, maximum=MAX_BATCH),
        "min_interval_s": Option(None, "seconds between requests (unset: 0.6 s on the portal)", kind=float, minimum=0),
    }

    def __init__(self, ctx):
        super().__init__(ctx)
        if self.option("min_interval_s") is not None:
            ctx.client.min_interval_s = self.option("min_interval_s")
        elif urlsplit(self.base_url).netloc == urlsplit(DEFAULT_BASE_URL).netloc:
            ctx.client.min_interval_s = max(ctx.client.min_interval_s, PORTAL_MIN_INTERVAL_S)
        self.limit = self.option("page_size")
        self.batch = self.option("detail_batch")
        self.search_languages = self.option("search_languages")
        self.year_pass = {c: v for c, v in COLLECTIONS.items() if c in self.option("year_pass")}
        self.pattern = keyword_pattern(ctx.terms, self.option("keywords"))
        self.procedures = [r for r in (normalise_reference(p) for p in self.option("procedures")) if r]
        self._procedures: dict[str, str | None] = {}   # process id -> reference (None: not found)
        self._refresh: set[str] = set()                 # process ids of stored documents, re-read once
        self._yielded: set[str] = set()                 # dossier keys already emitted this run

    # -- HTTP ---------------------------------------------------------------------------------
    def _get_json(self, url: str, params: dict | None = None) -> tuple[object, str]:
        response = self.ctx.client.get(url, params={**(params or {}), "format": JSON_LD}, accept=JSON_LD)
        return (None if response.status == 204 else response.json()), response.url

    def _pages(self, collection: str, params: dict) -> Iterator[str]:
        """Ids of a list, paged by ``offset``/``limit`` (no total: a short page, HTTP 204 or 404 ends it)."""
        url = f"{self.base_url}/{collection}"

        def page(offset: int) -> tuple[list[str], int | None]:
            try:
                payload, final_url = self._get_json(url, {**params, "offset": offset, "limit": self.limit})
            except HttpStatusError as exc:
                if exc.status != 404:
                    raise
                self.ctx.log and self.ctx.log.info("%s %s: 404, read as an empty page", collection, params)
                return [], None
            ids = parse_listing(payload, final_url)
            return ids, offset + self.limit if len(ids) >= self.limit else None

        seen: set[str] = set()
        for identifier in self.pages(0, page, f"{collection} {params}"):
            if identifier not in seen:
                seen.add(identifier)
                yield identifier

    def _details(self, collection: str, ids: list[str]) -> Iterator[tuple[str, dict | None, str, FetchError | None]]:
        """(id, work, JSON-LD base, error) for each id: batches of up to 10 ids, one id per request
        for what a batch did not return; a refused batch turns batching off for the rest of the run."""
        for start in range(0, len(ids), self.batch):
            self.ctx.check_budget()  # a long pass of irrelevant works yields nothing to the base's loop
            chunk, works, base = ids[start:start + self.batch], {}, DATA_ROOT
            if len(chunk) > 1:
                try:
                    payload, url = self._get_json(f"{self.base_url}/{collection}/{','.join(chunk)}")
                    works, base = {work_id(w): w for w in parse_works(payload, url)}, data_base(payload)
                except BlockedError:
                    raise
                except (HttpStatusError, ParseError) as exc:
                    self.batch = 1  # not offered here (e.g. a mirror): one id per request from now on
                    self.ctx.log and self.ctx.log.info("batch detail refused (%s); one id per request", exc)
            for identifier in chunk:
                if identifier in works:
                    yield identifier, works[identifier], base, None
                    continue
                try:
                    work, single_base = self._work(collection, identifier)
                    yield identifier, work, single_base, None
                except BlockedError:
                    raise
                except FetchError as exc:
                    yield identifier, None, DATA_ROOT, exc

    def _work(self, collection: str, identifier: str) -> tuple[dict, str]:
        payload, url = self._get_json(self._detail_url(collection, identifier))
        found = [w for w in parse_works(payload, url) if work_id(w) == identifier]
        if not found:
            raise ParseError(f"detail response lacks {identifier}", url)
        return found[0], data_base(payload)

    def _known(self, identifier: str) -> dict | None:
        if self.ctx.full:
            return None
        for lang in self.ctx.languages:
            row = self.ctx.known(source_id_for(identifier, lang))
            if row:
                return row
        return None

    # -- discovery ----------------------------------------------------------------------------
    def _years(self) -> list[int]:
        current = clock.now().year
        first = current - 1
        if self.ctx.since:
            first = min(first, int(self.ctx.since[:4]))
        return list(range(current, first - 1, -1))

    def _relevant(self, work: dict) -> bool:
        return self.pattern is not None and any(self.pattern.search(t) for t in titles(work))

    def _candidates(self, collection: str, ids: Iterable[str], judge: bool) -> Iterator[Item]:
        todo, recheck = [], set()
        for identifier in ids:
            known = self._known(identifier)
            if known:
                self._refresh.update((known.get("metadata") or {}).get("process_ids") or [])
                if collection != "parliamentary-questions" or self._known(f"{identifier}-ASW"):
                    self.ctx.skipped += 1
                    continue
                recheck.add(identifier)  # stored question still waiting for its answer
            elif judge and not self.ctx.full and self.ctx.seen_url(self._detail_url(collection, identifier)):
                continue
            todo.append(identifier)
        for identifier, work, base, error in self._details(collection, todo):
            url = self._detail_url(collection, identifier)
            if error is not None:
                yield Item(key=identifier, url=url, data={"error": error})
                continue
            if judge and identifier not in recheck and not self._relevant(work):
                self.ctx.remember_url(url, "ep-open-data: no title matches a topic term or keyword")
                continue
            yield Item(key=identifier, url=url, watermark=date_of(work.get("document_date")),
                       data={"collection": collection, "work": work, "base": base, "answers_only": identifier in recheck})

    def _detail_url(self, collection: str, identifier: str) -> str:
        return f"{self.base_url}/{collection}/{identifier}"

    def discover(self) -> Iterator[Item]:
        seen: set[str] = set()
        for term in self.ctx.terms:
            if CJK.search(term):
                continue  # the portal indexes the 24 EU languages only
            for lang in self.search_languages:
                ids = [i for i in self._pages("adopted-texts", {"text": term, "search-language": lang}) if i not in seen]
                seen.update(ids)
                yield from self._candidates("adopted-texts", ids, judge=False)
        for collection, (_, work_types) in self.year_pass.items():
            for year in self._years():
                ids = [i for i in self._pages(collection, {"year": year, "work-type": ",".join(work_types)}) if i not in seen]
                seen.update(ids)
                yield from self._candidates(collection, ids, judge=True)
        for reference in self.procedures:
            yield Item(key=f"procedure:{reference}", data={"process_id": process_id(reference), "configured": True})
        for pid in sorted(self._refresh):
            yield Item(key=f"procedure:{pid}", data={"process_id": pid})

    # -- fetching -----------------------------------------------------------------------------
    def _procedure(self, pid: str) -> tuple[str | None, list[Record]]:
        """The reference of process ``pid`` and its records (only the first time in a run)."""
        if pid in self._procedures:
            return self._procedures[pid], []
        url = f"{self.base_url}/procedures/{pid}"
        try:
            payload, final_url = self._get_json(url)
        except HttpStatusError as exc:
            if exc.status != 404:
                raise
            self._procedures[pid] = None
            self.ctx.log and self.ctx.log.warning("procedure %s not found", pid)
            return None, []
        events_payload = None
        if payload is not None and not any(p.get("consists_of") for p in envelope(payload, final_url)):
            try:
                events_payload, _ = self._get_json(f"{url}/events")
            except HttpStatusError as exc:
                if exc.status != 404:
                    raise
                self.ctx.log and self.ctx.log.info("procedure %s has no events (404 on /events)", pid)
        dossier, document = parse_procedure(payload, final_url, events_payload)
        reference = document.source_id
        self._procedures[pid] = reference
        if dossier.key in self._yielded:
            return reference, []
        self._yielded.add(dossier.key)
        return reference, [dossier, document]

    def _language_documents(self, item: Item, work: dict, base: str, default_type: str,
                            procedure: str | None, question: str | None) -> Iterator[DocumentRecord]:
        identifier = work_id(work)
        available = expressions(work)
        wanted = [lang for lang in self.ctx.languages if lang in available]
        if not wanted:
            original = [LANGUAGES.get((vocab_code(x) or "").upper()) for x in as_list(work.get("originalLanguage"))]
            wanted = [lang for lang in original if lang in available][:1] or sorted(available)[:1]
        if not wanted:
            self.ctx.item_error(item, ParseError(f"{identifier} has no language version (is_realized_by)"))
            return
        for lang in wanted:
            if self._known_exact(source_id_for(identifier, lang)):
                self.ctx.skipped += 1
                continue
            candidates = manifestations(available[lang], base)
            failures = []
            for candidate in candidates:
                fmt, url, _ = candidate
                try:
                    body = self.ctx.client.get(self.resolve(url))
                    yield parse_document(work, lang, candidate, body.content, default_doc_type=default_type,
                                         procedure=procedure, question=question)
                    break
                except FetchError as exc:  # BlockedError and ParseError included: an item error, not a run error
                    failures.append(f"{fmt}: {exc}")
            else:
                reason = "; ".join(failures) or "no XML, HTML, DOCX or PDF manifestation"
                if lang == wanted[0]:
                    self.ctx.item_error(item, FetchError(f"{source_id_for(identifier, lang)}: no text: {reason}"))
                else:  # an extra translation the topics ask for: its absence does not make the run partial
                    self.ctx.log and self.ctx.log.warning("%s: no text, translation skipped: %s", source_id_for(identifier, lang), reason)

    def _known_exact(self, source_id: str) -> bool:
        return not self.ctx.full and bool(self.ctx.known(source_id))

    def fetch(self, item: Item) -> Iterator[Record]:
        if "error" in item.data:
            raise item.data["error"]
        if "process_id" in item.data:
            pid = item.data["process_id"]
            _, records = self._procedure(pid)
            if self._procedures.get(pid) is None and item.data.get("configured"):
                raise ParseError(f"procedure {pid} does not exist upstream (404)", f"{self.base_url}/procedures/{pid}")
            yield from records
            return
        work, collection, base = item.data["work"], item.data["collection"], item.data.get("base", DATA_ROOT)
        default_type = COLLECTIONS.get(collection, ("document", []))[0]
        procedure = None
        for pid in procedure_ids(work):
            reference, records = self._procedure(pid)
            yield from records
            procedure = procedure or reference
        if not item.data.get("answers_only"):
            yield from self._language_documents(item, work, base, default_type, procedure, None)
        question = work_id(work)
        for answer in answers_of(work):
            identifier = answer_id(answer)
            if self._known(identifier):
                continue
            answer_base = base
            if not isinstance(answer, dict) or not answer.get("is_realized_by"):
                try:  # the nested answer lacks its manifestations: read it on its own
                    answer, answer_base = self._work(collection, identifier)
                except BlockedError:
                    raise
                except FetchError as exc:
                    self.ctx.item_error(item, exc)
                    continue
            yield from self._language_documents(item, answer, answer_base, "answer", None, question)


SOURCE = EpOpenData
