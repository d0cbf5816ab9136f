"""ep-open-data: the European Parliament Open Data Portal API v2 (https://data.europarl.europa.eu/api/v2).

No key; JSON-LD (``Accept: application/ld+json`` and ``format=application/ld+json``); CC BY 4.0,
attribution "© European Union, [year] – Source: European Parliament" (kept in each document's
metadata). Published limit: 500 requests per 5 minutes, so the client waits at least 0.6 s between
requests to the portal (option ``min_interval_s``; a mirror or a replay server is not held to the
portal's limit unless the option says so).

Discovery, in this order:
1. ``/adopted-texts?text=<term>`` for every topic term (the API's only full-text search): every hit
   is relevant.
2. A pass over the current and previous year (from the ``--since`` year if older) of
   ``/adopted-texts``, ``/plenary-documents`` (reports) and ``/parliamentary-questions``: list items
   are minimal (id, label), so their details are fetched (comma-separated ids, at most 10 per
   request; a refused batch switches to one id per request for the rest of the run) and a work
   is kept when one of its titles matches a topic term or a configured keyword (whole word:
   ``port`` matches "ports", not "report"). Works judged irrelevant are remembered (``seen_urls``) and not fetched
   again unless ``--full``.
3. The configured procedures (option ``procedures``, none by default) plus every procedure a
   crawled or stored document belongs to
   (``inverse_created_a_realization_of``): ``/procedures/{process-id}`` -> a dossier
   ``ep-procedure:<2023/2059(INI)>`` with its events sorted by ``activity_date`` (upstream order
   is arbitrary) and a searchable ``procedure`` document.

Paging is ``offset``/``limit`` without a total: a short page, HTTP 204 or HTTP 404 ends it (the
OpenAPI lists 404 beside 204 for the list endpoints; it is read as an empty page, logged); a page
that repeats ids already seen also ends it, so a server ignoring ``offset`` cannot loop us.

Text: each Work's ``is_realized_by`` holds one Expression per language; each Expression's
``is_embodied_by`` Manifestations give ``is_exemplified_by`` (a path relative to the JSON-LD
``@base``; it cannot be built from the id: old texts live under ``reds_iPlTa_Itm/...-FNL_en.xml``).
Formats are tried in the order XML, HTML, DOCX, PDF (DOC is not extracted); a failing format
(404, WAF challenge after the distribution redirect, empty text layer) falls back to the next, and a
language whose every format fails is an item error (run ``partial``), never an empty document.
English is fetched first, then the other languages the topics ask for; when none of them exists
the work's original language is used.

Records: one DocumentRecord per work and language. ``source_id`` is the upstream identifier
(``TA-9-2024-0025``) for English and ``<identifier>/<lang>`` (``TA-9-2024-0025/de``) for the others,
mirroring the ELI expression ids, so links to ``TA-9-2024-0025`` resolve to the English text.
Questions carry their Commission (or Council) answers nested under ``inverse_answers_to`` (id
ending ``-ASW``); an answer is its own document (doc_type ``answer``, institution from its creator)
with ``Link("answers", "ep-open-data", <question id>)``; question and answer share the group key
``ep-question:<question id>``. Documents of a procedure get ``Link("procedure", "ep-open-data",
<reference>)`` and the group key ``ep-procedure:<reference>``.

Incremental: documents already stored are skipped (``ctx.known``) unless ``--full``; a stored
question whose answer is not stored yet is re-read (detail only) until the answer appears. The
watermark is the largest ``document_date`` seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from crawler import extract
from crawler.base import Item, Source
from crawler.errors import BlockedError, FetchError, HttpStatusError, ParseError
from crawler.records import DocumentRecord, DossierRecord, Event, Link, Record
from db import clock
from crawler.sources._ep_common import (
    DEFAULT_KEYWORDS,
    attribution,
    dossier_key,
    keyword_pattern,
    normalise_reference,
    process_id,
)

SOURCE_ID = "ep-open-data"
PARSER_VERSION = "1"
DEFAULT_BASE_URL = "https://data.europarl.europa.eu/api/v2"
DATA_ROOT = "https://data.europarl.europa.eu/"
JSON_LD = "application/ld+json"
PORTAL_MIN_INTERVAL_S = 0.6  # 500 requests per 5 minutes
MAX_BATCH = 10

# The collections of the year pass and the document type of their works.
COLLECTIONS = {
    "adopted-texts": ("adopted_text", ["TEXT_ADOPTED"]),
    "plenary-documents": ("report", ["REPORT_PLENARY"]),
    "parliamentary-questions": ("question", ["QUESTION_WRITTEN", "QUESTION_WRITTEN_PRIORITY", "QUESTION_ORAL"]),
}
WORK_TYPES = {
    "TEXT_ADOPTED": "adopted_text",
    "REPORT_PLENARY": "report",
    "RESOLUTION_MOTION": "motion", "RESOLUTION_MOTION_JOINT": "motion", "QUESTION_RESOLUTION_MOTION": "motion",
    "QUESTION_WRITTEN": "question", "QUESTION_WRITTEN_PRIORITY": "question", "QUESTION_ORAL": "question",
    "QUESTION_TIME": "question", "INTERPELLATION_MAJOR": "question", "INTERPELLATION_MINOR": "question",
}
LANGUAGES = {
    "BUL": "bg", "CES": "cs", "DAN": "da", "DEU": "de", "ELL": "el", "ENG": "en", "EST": "et", "FIN": "fi",
    "FRA": "fr", "GLE": "ga", "HRV": "hr", "HUN": "hu", "ITA": "it", "LAV": "lv", "LIT": "lt", "MLT": "mt",
    "NLD": "nl", "POL": "pl", "POR": "pt", "RON": "ro", "SLK": "sk", "SLV": "sl", "SPA": "es", "SWE": "sv",
}
FORMAT_RANK = {"XML": 0, "HTML": 1, "XHTML": 1, "DOCX": 2, "PDF": 3}
MEDIA_FORMATS = (("wordprocessingml", "DOCX"), ("pdf", "PDF"), ("xhtml", "XHTML"), ("html", "HTML"), ("xml", "XML"))
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
ROLE_ORDER = {r: i for i, r in enumerate((
    "COMMITTEE_LEAD", "RAPPORTEUR", "RAPPORTEUR_CO", "COMMITTEE_OPINION", "RAPPORTEUR_OPINION",
    "COMMITTEE_BUDGETARY_ASSESSMENT", "RAPPORTEUR_SHADOW", "RAPPORTEUR_SHADOW_OPINION"))}
INSTITUTIONS = {"COUNCIL": "Council of the European Union", "EU_COUNCIL": "Council of the European Union"}


# -- pure parsing -----------------------------------------------------------------------------

def _tail(value: object, marker: str) -> str | None:
    """``TA-9-2024-0025`` from ``eli/dl/doc/TA-9-2024-0025`` (or its absolute IRI)."""
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or marker not in value:
        return None
    return value.split(marker, 1)[1].strip("/") or None


def _scalar(value: object) -> str | None:
    """A JSON-LD single value as a string: ``"x"``, ``["x"]``, ``{"@value": "x"}``, ``{"id": "x"}`` -> ``x``."""
    if isinstance(value, list):
        value = next((v for v in value if _scalar(v)), None)
    if isinstance(value, dict):
        value = value.get("@value", value.get("id", value.get("@id")))
    return value.strip() if isinstance(value, str) and value.strip() else None


def _code(value: object) -> str | None:
    """Last path segment of a vocabulary IRI: ``def/ep-document-types/QUESTION_WRITTEN`` -> ``QUESTION_WRITTEN``."""
    value = _scalar(value)
    return value.rstrip("/").rsplit("/", 1)[-1] if value else None


def _date(value: object) -> str | None:
    """A ``YYYY-MM-DD...`` date (plain, in a list, or typed ``{"@value": ...}``), else None."""
    value = _scalar(value)
    return value if value and re.match(r"\d{4}-\d{2}-\d{2}", value) else None


def _by_language(value: object) -> dict[str, str]:
    """A language-tagged JSON-LD value as ``{lang: text}``: a language map ``{"en": "..."}`` (values may
    be lists), a list of ``{"@language": "en", "@value": "..."}``, or plain strings (language ``""``)."""
    found: dict[str, str] = {}
    if isinstance(value, dict) and ("@value" in value or "@language" in value):
        value = [value]
    if isinstance(value, dict):
        for lang, text in value.items():
            if (text := _scalar(text)) and not str(lang).startswith("@"):
                found.setdefault(str(lang).lower(), text)
    else:
        for entry in _as_list(value):
            lang = str(entry.get("@language") or "").lower() if isinstance(entry, dict) else ""
            if text := _scalar(entry.get("@value") if isinstance(entry, dict) else entry):
                found.setdefault(lang, text)
    return found


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _envelope(payload: object, url: str) -> list:
    if not isinstance(payload, dict) or "data" not in payload:
        raise ParseError("expected a JSON-LD object with a 'data' list", url)
    data = payload["data"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ParseError("'data' is not a list of objects", url)
    return data


def data_base(payload: object) -> str:
    """The JSON-LD ``@base`` relative ids and distribution paths resolve against."""
    for entry in _as_list(payload.get("@context") if isinstance(payload, dict) else None):
        if isinstance(entry, dict) and isinstance(entry.get("@base"), str):
            return entry["@base"]
    return DATA_ROOT


def parse_listing(payload: object, url: str) -> list[str]:
    """Document identifiers of one list page (``None`` = HTTP 204: an empty page)."""
    if payload is None:
        return []
    identifiers = []
    for item in _envelope(payload, url):
        identifier = work_id(item)
        if not identifier:
            raise ParseError(f"list item without identifier: {json.dumps(item)[:200]}", url)
        identifiers.append(identifier.strip())
    return identifiers


def work_id(work: dict) -> str | None:
    return _scalar(work.get("identifier")) or _tail(work.get("id"), "eli/dl/doc/")


def parse_works(payload: object, url: str) -> list[dict]:
    """The Works of a detail response (one per requested id); none at all is an error."""
    works = [w for w in _envelope(payload, url) if work_id(w)]
    if not works:
        raise ParseError("detail response holds no document", url)
    return works


def expression_language(expression: dict) -> str | None:
    """ISO 639-1 code from ``language`` (an EU authority IRI ``.../ENG`` or a bare code), else from the
    expression id's suffix (``.../en`` or ``.../eng``)."""
    for code in (_code(expression.get("language")), _code(expression.get("id"))):
        if code and code.upper() in LANGUAGES:
            return LANGUAGES[code.upper()]
        if code and len(code) == 2 and code.isalpha():
            return code.lower()
    return None


def expressions(work: dict) -> dict[str, dict]:
    """The work's Expressions by ISO 639-1 language."""
    found: dict[str, dict] = {}
    for expression in _as_list(work.get("is_realized_by")):
        if isinstance(expression, dict) and (lang := expression_language(expression)):
            found.setdefault(lang, expression)
    return found


def manifestation_format(manifestation: dict) -> str | None:
    code = (_code(manifestation.get("format")) or "").upper()
    if code in FORMAT_RANK or code == "DOC":
        return code
    media = str(manifestation.get("media_type") or "").lower()
    return next((fmt for marker, fmt in MEDIA_FORMATS if marker in media), None)


def manifestations(expression: dict, base: str = DATA_ROOT) -> list[tuple[str, str, dict]]:
    """(format, absolute URL, manifestation) of the extractable renditions, best format first."""
    found = []
    for manifestation in _as_list(expression.get("is_embodied_by")):
        if not isinstance(manifestation, dict):
            continue
        fmt = manifestation_format(manifestation)
        target = _scalar(manifestation.get("is_exemplified_by"))
        if fmt in FORMAT_RANK and target:
            found.append((fmt, urljoin(base, target), manifestation))
    return sorted(found, key=lambda f: FORMAT_RANK[f[0]])


def text_of(content: bytes, fmt: str, url: str) -> tuple[str, list[str]]:
    """Text (and extraction warnings) of a manifestation body in ``fmt``; empty text raises."""
    warnings: list[str] = []
    if fmt == "XML":
        try:
            text = extract.xml_to_text(content)
        except ParseError:
            if not extract.looks_like_html(content):
                raise
            text = extract.html_to_text(content)
    elif fmt in ("HTML", "XHTML"):
        text = extract.html_to_text(content)
    elif fmt == "DOCX":
        text = extract.docx_to_text(content)
    elif fmt == "PDF":
        text, warnings = extract.pdf_to_text(content)
    else:
        raise ParseError(f"no extractor for {fmt}", url)
    if not (text or "").strip():
        raise ParseError(f"{fmt} rendition has no text", url)
    return text, list(warnings)


def _title(work: dict, expression: dict | None, lang: str) -> str:
    """The expression's title in ``lang``, else the work's title in ``lang``, English, any language."""
    candidates = []
    for source in ((expression or {}).get("title"), work.get("title_dcterms")):
        tagged = _by_language(source)
        candidates += [tagged.get(lang), tagged.get(""), tagged.get("en"), *tagged.values()]
    title = next((c for c in candidates if isinstance(c, str) and c.strip()), None)
    return " ".join(title.split()) if title else str(work.get("label") or work_id(work))


def titles(work: dict) -> list[str]:
    """Every title of a work (all languages, alternatives included): what relevance is judged on."""
    found = []
    for value in (work.get("title_dcterms"), *(e.get(k) for e in expressions(work).values() for k in ("title", "title_alternative"))):
        found += _by_language(value).values()
    return found


def doc_type_of(work: dict, default: str = "document") -> str:
    code = _code(work.get("work_type")) or ""
    if code.endswith("_ANSWER") or (work_id(work) or "").endswith("-ASW"):
        return "answer"
    return WORK_TYPES.get(code, default)


def institution_of(work: dict) -> str:
    """European Parliament for its own documents; for answers the answering institution."""
    if doc_type_of(work) != "answer":
        return "European Parliament"
    for creator in _as_list(work.get("creator")):
        name = INSTITUTIONS.get((_code(creator) or "").upper())
        if name:
            return name
    return "European Commission"


def procedure_ids(work: dict) -> list[str]:
    """API process ids (``2024-2006``) of the procedures that created this work."""
    found = [_tail(p, "eli/dl/proc/") for p in _as_list(work.get("inverse_created_a_realization_of"))]
    return list(dict.fromkeys(p for p in found if p))


def answers_of(work: dict) -> list[dict | str]:
    """The answers nested in a question (full Works, or bare ids when upstream gives only those)."""
    found: list[dict | str] = []
    for answer in _as_list(work.get("inverse_answers_to")):
        if isinstance(answer, dict) and work_id(answer) or isinstance(answer, str) and _tail(answer, "eli/dl/doc/"):
            found.append(answer)
    return found


def answer_id(answer: dict | str) -> str | None:
    return work_id(answer) if isinstance(answer, dict) else _tail(answer, "eli/dl/doc/")


def _participants(work: dict, role: str) -> list[str]:
    found = []
    for participation in _as_list(work.get("workHadParticipation")):
        if isinstance(participation, dict) and (_code(participation.get("participation_role")) or "") == role:
            for key in ("had_participant_person", "had_participant_organization"):
                found += [p for p in _as_list(participation.get(key)) if isinstance(p, str)]
    return found


def source_id_for(identifier: str, lang: str) -> str:
    """``TA-9-2024-0025`` for English, ``TA-9-2024-0025/de`` for the other languages."""
    return identifier if lang == "en" else f"{identifier}/{lang}"


def parse_document(work: dict, lang: str, manifestation: tuple[str, str, dict], body: bytes, *,
                   default_doc_type: str = "document", procedure: str | None = None,
                   question: str | None = None, fetched_at: str | None = None) -> DocumentRecord:
    """One language version of a work, from its Work JSON-LD and the body of the chosen manifestation."""
    fmt, url, manif = manifestation
    identifier = work_id(work)
    if not identifier:
        raise ParseError("work without identifier", url)
    expression = expressions(work).get(lang)
    text, warnings = text_of(body, fmt, url)
    doc_type = doc_type_of(work, default_doc_type)
    links, group_key = [], None
    if question:
        links.append(Link("answers", SOURCE_ID, question))
        group_key = f"ep-question:{question}"
    elif doc_type == "question":
        group_key = f"ep-question:{identifier}"
    if procedure:
        links.append(Link("procedure", SOURCE_ID, procedure))
        group_key = dossier_key(procedure)
    published = _date(work.get("document_date"))
    answers = [answer_id(a) for a in answers_of(work)]
    metadata = {
        "identifier": identifier,
        "label": work.get("label"),
        "eli": urljoin(DATA_ROOT, work.get("id") or f"eli/dl/doc/{identifier}"),
        "expression": urljoin(DATA_ROOT, expression["id"]) if isinstance((expression or {}).get("id"), str) else None,
        "manifestation": urljoin(DATA_ROOT, manif["id"]) if isinstance(manif.get("id"), str) else None,
        "format": fmt,
        "issued": _scalar(manif.get("issued")),
        "work_type": _code(work.get("work_type")),
        "parliamentary_term": _code(work.get("parliamentary_term")),
        "ep_number": work.get("epNumber"),
        "public_register": work.get("notation_publicRegister"),
        "title_alternative": _by_language((expression or {}).get("title_alternative")).get(lang),
        "original_language": [LANGUAGES.get((_code(x) or "").upper()) for x in _as_list(work.get("originalLanguage"))] or None,
        "authors": _participants(work, "AUTHOR") or None,
        "addressees": _participants(work, "ADDRESSEE") or None,
        "rapporteurs": _participants(work, "RAPPORTEUR") or None,
        "creator": _as_list(work.get("creator")) or None,
        "eurovoc": _as_list(work.get("is_about")) or None,
        "procedure": procedure,
        "process_ids": procedure_ids(work) or None,
        "answers": [a for a in answers if a] or None,
        "question": question,
        "attribution": attribution((published or "")[:4] or None),
    }
    record = DocumentRecord(
        source=SOURCE_ID,
        source_id=source_id_for(identifier, lang),
        url=url,
        title=_title(work, expression, lang),
        text=text,
        doc_type=doc_type,
        jurisdiction="EU",
        institution=institution_of(work),
        language=lang,
        published_at=published,
        updated_at=_scalar(manif.get("issued")),
        parser_version=PARSER_VERSION,
        group_key=group_key,
        metadata={k: v for k, v in metadata.items() if v not in (None, "", [])},
        links=links,
        warnings=warnings,
    )
    if fetched_at:
        record.fetched_at = fetched_at
    return record


def _humanise(code: str) -> str:
    return code.replace("_", " ").replace("-", " ").capitalize()


def _document_refs(activity: dict) -> list[str]:
    refs = []
    for key in ("based_on_a_realization_of", "decided_on_a_realization_of", "recorded_in_a_realization_of",
                "documented_by_a_realization_of"):
        refs += [r for r in (_tail(x, "eli/dl/doc/") for x in _as_list(activity.get(key))) if r]
    return list(dict.fromkeys(refs))


def parse_event(activity: dict) -> Event | None:
    """An Event from one ``consists_of`` activity; an activity without date is dropped."""
    day = _date(activity.get("activity_date"))
    if not day:
        return None
    kind = _code(activity.get("had_activity_type")) or str(activity.get("type") or "ACTIVITY").upper()
    refs = _document_refs(activity)
    description = _humanise(kind) + (f" ({', '.join(refs)})" if refs else "")
    return Event(
        date=day[:10], kind=kind, description=description, actor=None,
        ref_url=urljoin(DATA_ROOT, f"eli/dl/doc/{refs[0]}") if refs else None,
        ref_id=refs[0] if refs else _tail(activity.get("id"), "eli/dl/event/"),
    )


def procedure_reference(process: dict) -> str | None:
    """``2024/2006(REG)`` from the process label, else from its id and type."""
    reference = normalise_reference(_scalar(process.get("label")) or "")
    if reference:
        return reference
    pid = process.get("process_id") or _tail(process.get("id"), "eli/dl/proc/")
    ptype = _code(process.get("process_type"))
    match = re.match(r"^(\d{4})-(\d{4}[A-Z]?)$", str(pid or ""))
    return f"{match[1]}/{match[2]}({ptype})" if match and ptype else None


def parse_procedure(payload: object, url: str, events_payload: object = None,
                    fetched_at: str | None = None) -> tuple[DossierRecord, DocumentRecord]:
    """The dossier (with events sorted by date) and a readable procedure document of ``/procedures/{id}``."""
    processes = [p for p in _envelope(payload, url) if p.get("process_id") or _tail(p.get("id"), "eli/dl/proc/")]
    if not processes:
        raise ParseError("procedure response holds no process", url)
    process = processes[0]
    reference = procedure_reference(process)
    if not reference:
        raise ParseError("procedure has neither a reference label nor an id and type", url)
    activities = _as_list(process.get("consists_of"))
    if not activities and events_payload is not None:
        activities = _envelope(events_payload, url)
    events = sorted(filter(None, (parse_event(a) for a in activities if isinstance(a, dict))),
                    key=lambda e: (e.date, e.kind, e.ref_id or ""))
    titles_ = _by_language(process.get("process_title"))
    title = " ".join(str(titles_.get("en") or next(iter(titles_.values()), "") or reference).split())
    pid = process.get("process_id") or process_id(reference)
    ptype = _code(process.get("process_type"))
    stage = _code(process.get("current_stage"))
    participants = []
    ranked = sorted((p for p in _as_list(process.get("had_participation")) if isinstance(p, dict)),
                    key=lambda p: (ROLE_ORDER.get(_code(p.get("participation_role")) or "", len(ROLE_ORDER)),
                                   p.get("precedenceOrder") if isinstance(p.get("precedenceOrder"), int) else 10**6))
    for participation in ranked:
        persons = [p for p in _as_list(participation.get("had_participant_person")) if isinstance(p, str)]
        organisations = [_code(o) for o in _as_list(participation.get("had_participant_organization"))]
        participants.append({k: v for k, v in {
            "role": _code(participation.get("participation_role")),
            "who": persons + [o for o in organisations if o],
            "for": _code(participation.get("participation_in_name_of")),
            "group": _code(participation.get("politicalGroup")),
            "date": participation.get("activity_date"),
        }.items() if v})
    documents = [d for d in (_tail(x, "eli/dl/doc/") for x in _as_list(process.get("created_a_realization_of"))) if d]
    scheduled = sorted(
        {(_date(a.get("activity_date")), _code(a.get("had_activity_type")) or "") for a in _as_list(process.get("was_scheduled_in"))
         if isinstance(a, dict) and _date(a.get("activity_date"))}
    )
    metadata = {k: v for k, v in {
        "process_id": pid, "process_type": ptype, "stage": stage, "documents": documents, "participants": participants,
        "scheduled": [{"date": d, "activity": k} for d, k in scheduled],
        "oeil_url": f"https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference={reference}",
        "attribution": attribution(reference[:4]),
    }.items() if v}
    eli = urljoin(DATA_ROOT, process.get("id") or f"eli/dl/proc/{pid}")
    key = dossier_key(reference)
    dossier = DossierRecord(
        key=key, source=SOURCE_ID, kind="procedure", title=title, url=eli, parser_version=PARSER_VERSION,
        stage=stage, status=None, updated_at=events[-1].date if events else None, metadata=metadata, events=events,
    )
    lines = [f"Procedure {reference}: {title}", f"Procedure type: {ptype or 'unknown'}", f"Current stage: {stage or 'unknown'}"]
    for p in participants:
        lines.append(f"{_humanise(p.get('role', 'participant'))}: {', '.join(p.get('who', []))}"
                     + (f" for {p['for']}" if p.get("for") else "") + (f" ({p['group']})" if p.get("group") else ""))
    if documents:
        lines.append("Documents: " + ", ".join(documents))
    lines += ["", "Events:"] + [f"{e.date} {e.description}" for e in events]
    lines += [f"{d} scheduled: {_humanise(k or 'activity')}" for d, k in scheduled]
    document = DocumentRecord(
        source=SOURCE_ID, source_id=reference, url=eli, title=title, text="\n".join(lines), doc_type="procedure",
        jurisdiction="EU", institution="European Parliament", language="en",
        published_at=events[0].date if events else None, updated_at=events[-1].date if events else None,
        parser_version=PARSER_VERSION, group_key=key, metadata=metadata,
    )
    if fetched_at:
        dossier.fetched_at = document.fetched_at = fetched_at
    return dossier, document


def parse_example(path: Path) -> list[Record]:
    """Records of a recorded response: a procedure, or a work whose manifestation bodies lie in
    ``files/`` under the basename of their ``is_exemplified_by`` (languages without a file are skipped)."""
    payload = json.loads(path.read_bytes())
    fetched_at = "2025-01-01T00:00:00+00:00"
    data = _envelope(payload, path.name)
    if data and data[0].get("type") == "Process":
        return list(parse_procedure(payload, path.name, fetched_at=fetched_at))
    records: list[Record] = []
    base = data_base(payload)
    for work in parse_works(payload, path.name):
        collection_type = doc_type_of(work)
        nested = [a for a in answers_of(work) if isinstance(a, dict)]
        for item, question in [(work, None), *((a, work_id(work)) for a in nested)]:
            for lang, expression in sorted(expressions(item).items()):
                for manifestation in manifestations(expression, base):
                    body = path.parent / "files" / urlsplit(manifestation[1]).path.rsplit("/", 1)[-1]
                    if body.exists():
                        records.append(parse_document(item, lang, manifestation, body.read_bytes(),
                                                      default_doc_type=collection_type, question=question,
                                                      fetched_at=fetched_at))
                        break
    return records


# -- the source -------------------------------------------------------------------------------

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
    parser_version = PARSER_VERSION

    def __init__(self, ctx):
        super().__init__(ctx)
        options = ctx.settings.options
        if "min_interval_s" in options:
            ctx.client.min_interval_s = float(options["min_interval_s"])
        elif urlsplit(self.base_url).netloc == urlsplit(DEFAULT_BASE_URL).netloc:
            ctx.client.min_interval_s = max(ctx.client.min_interval_s, PORTAL_MIN_INTERVAL_S)
        self.limit = max(1, int(options.get("page_size", 50)))
        self.max_pages = max(1, int(options.get("max_pages", 200)))
        self.batch = min(MAX_BATCH, max(1, int(options.get("detail_batch", MAX_BATCH))))
        self.search_languages = [str(x) for x in options.get("search_languages", ["en"])]
        self.year_pass = {c: v for c, v in COLLECTIONS.items() if c in options.get("year_pass", list(COLLECTIONS))}
        self.pattern = keyword_pattern(ctx.terms, options.get("keywords", DEFAULT_KEYWORDS))
        self.procedures = [r for r in (normalise_reference(str(p)) for p in options.get("procedures", [])) if r]
        self._procedures: dict[str, str | None] = {}   # process id -> reference (None: not found)
        self._refresh: set[str] = set()                 # process ids of stored documents, re-read once
        self._yielded: set[str] = set()                 # dossier keys already emitted this run

    @classmethod
    def parse_example(cls, path: Path) -> list[Record]:
        return parse_example(path)

    # -- HTTP ---------------------------------------------------------------------------------
    def _get_json(self, url: str, params: dict | None = None) -> tuple[object, str]:
        response = self.ctx.client.get(url, params={**(params or {}), "format": JSON_LD}, accept=JSON_LD)
        return (None if response.status == 204 else response.json()), response.url

    def _pages(self, collection: str, params: dict) -> Iterator[str]:
        url, offset, seen = f"{self.base_url}/{collection}", 0, set()
        for _ in range(self.max_pages):
            try:
                payload, final_url = self._get_json(url, {**params, "offset": offset, "limit": self.limit})
            except HttpStatusError as exc:
                if exc.status != 404:
                    raise
                self.ctx.log and self.ctx.log.info("%s %s: 404, read as an empty page", collection, params)
                return
            ids = parse_listing(payload, final_url)
            new = [i for i in ids if i not in seen]
            seen.update(new)
            yield from new
            if len(ids) < self.limit or not new:
                return
            offset += self.limit
        self.ctx.log and self.ctx.log.warning("stopped %s %s after max_pages=%d", collection, params, self.max_pages)

    def _details(self, collection: str, ids: list[str]) -> Iterator[tuple[str, dict | None, str, FetchError | None]]:
        """(id, work, JSON-LD base, error) for each id: batches of up to 10 ids, one id per request
        for what a batch did not return; a refused batch turns batching off for the rest of the run."""
        for start in range(0, len(ids), self.batch):
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
            yield Item(key=identifier, url=url, watermark=_date(work.get("document_date")),
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
        if payload is not None and not any(p.get("consists_of") for p in _envelope(payload, final_url)):
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
            original = [LANGUAGES.get((_code(x) or "").upper()) for x in _as_list(work.get("originalLanguage"))]
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
