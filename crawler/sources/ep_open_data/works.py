"""EP Open Data Works (adopted texts, reports, questions and answers): list pages, detail records,
language versions (Expressions) and renditions (Manifestations), and one document per language."""

from __future__ import annotations

import json
from urllib.parse import urljoin

from crawler.errors import ParseError
from crawler.extract import extract_text
from crawler.records import DocumentRecord, Link, identity_key
from crawler.sources._ep_common import attribution, dossier_key
from crawler.sources.ep_open_data.jsonld import (
    DATA_ROOT,
    agent,
    as_list,
    by_language,
    clean_text,
    date_of,
    envelope,
    scalar,
    tail,
    vocab_code,
)

SOURCE_ID = "ep-open-data"

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
INSTITUTIONS = {"COUNCIL": "Council of the European Union", "EU_COUNCIL": "Council of the European Union"}


def parse_listing(payload: object, url: str) -> list[str]:
    """Document identifiers of one list page (``None`` = HTTP 204: an empty page)."""
    if payload is None:
        return []
    identifiers = []
    for item in envelope(payload, url):
        identifier = work_id(item)
        if not identifier:
            raise ParseError(f"list item without identifier: {json.dumps(item)[:200]}", url)
        identifiers.append(identifier.strip())
    return identifiers


def work_id(work: dict) -> str | None:
    """The document identifier of a Work (``TA-9-2024-0025``)."""
    return scalar(work.get("identifier")) or tail(work.get("id"), "eli/dl/doc/")


def parse_works(payload: object, url: str) -> list[dict]:
    """The Works of a detail response (one per requested id); none at all is an error."""
    works = [w for w in envelope(payload, url) if work_id(w)]
    if not works:
        raise ParseError("detail response holds no document", url)
    return works


def expression_language(expression: dict) -> str | None:
    """ISO 639-1 code from ``language`` (an EU authority IRI ``.../ENG`` or a bare code), else from the
    expression id's suffix (``.../en`` or ``.../eng``)."""
    for code in (vocab_code(expression.get("language")), vocab_code(expression.get("id"))):
        if code and code.upper() in LANGUAGES:
            return LANGUAGES[code.upper()]
        if code and len(code) == 2 and code.isalpha():
            return code.lower()
    return None


def expressions(work: dict) -> dict[str, dict]:
    """The work's Expressions by ISO 639-1 language."""
    found: dict[str, dict] = {}
    for expression in as_list(work.get("is_realized_by")):
        if isinstance(expression, dict) and (lang := expression_language(expression)):
            found.setdefault(lang, expression)
    return found


def manifestation_format(manifestation: dict) -> str | None:
    """``XML``, ``HTML``, ``XHTML``, ``DOCX``, ``PDF`` or ``DOC`` from a manifestation's format or media type."""
    code = (vocab_code(manifestation.get("format")) or "").upper()
    if code in FORMAT_RANK or code == "DOC":
        return code
    media = str(manifestation.get("media_type") or "").lower()
    return next((fmt for marker, fmt in MEDIA_FORMATS if marker in media), None)


def manifestations(expression: dict, base: str = DATA_ROOT) -> list[tuple[str, str, dict]]:
    """(format, absolute URL, manifestation) of the extractable renditions, best format first."""
    found = []
    for manifestation in as_list(expression.get("is_embodied_by")):
        if not isinstance(manifestation, dict):
            continue
        fmt = manifestation_format(manifestation)
        target = scalar(manifestation.get("is_exemplified_by"))
        if fmt in FORMAT_RANK and target:
            found.append((fmt, urljoin(base, target), manifestation))
    return sorted(found, key=lambda f: FORMAT_RANK[f[0]])


FORMAT_MEDIA = {"XML": "application/xml", "HTML": "text/html", "XHTML": "application/xhtml+xml",
                "DOCX": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "PDF": "application/pdf"}


def text_of(content: bytes, fmt: str, url: str) -> tuple[str, list[str]]:
    """Text (and extraction warnings) of a manifestation body declared as ``fmt`` (`extract_text`
    reads what the bytes really are: an "XML" rendition served as HTML is read as HTML)."""
    if fmt not in FORMAT_MEDIA:
        raise ParseError(f"no extractor for {fmt}", url)
    return extract_text(content, FORMAT_MEDIA[fmt], url)


def _title(work: dict, expression: dict | None, lang: str) -> str:
    """The expression's title in ``lang``, else the work's title in ``lang``, English, any language."""
    candidates = []
    for source in ((expression or {}).get("title"), work.get("title_dcterms")):
        tagged = by_language(source)
        candidates += [tagged.get(lang), tagged.get(""), tagged.get("en"), *tagged.values()]
    title = next((clean_text(c) for c in candidates if isinstance(c, str) and clean_text(c)), None)
    return title or str(work.get("label") or work_id(work))


def titles(work: dict) -> list[str]:
    """Every title of a work (all languages, alternatives included): what relevance is judged on."""
    found = []
    for value in (work.get("title_dcterms"), *(e.get(k) for e in expressions(work).values() for k in ("title", "title_alternative"))):
        found += [t for t in map(clean_text, by_language(value).values()) if t]
    return found


def doc_type_of(work: dict, default: str = "document") -> str:
    """The document type of a Work: ``answer`` for answers, else from its work type."""
    code = vocab_code(work.get("work_type")) or ""
    if code.endswith("_ANSWER") or (work_id(work) or "").endswith("-ASW"):
        return "answer"
    return WORK_TYPES.get(code, default)


def institution_of(work: dict) -> str:
    """European Parliament for its own documents; for answers the answering institution."""
    if doc_type_of(work) != "answer":
        return "European Parliament"
    for creator in as_list(work.get("creator")):
        name = INSTITUTIONS.get((vocab_code(creator) or "").upper())
        if name:
            return name
    return "European Commission"


def procedure_ids(work: dict) -> list[str]:
    """API process ids (``2024-2006``) of the procedures that created this work."""
    found = [tail(p, "eli/dl/proc/") for p in as_list(work.get("inverse_created_a_realization_of"))]
    return list(dict.fromkeys(p for p in found if p))


def answers_of(work: dict) -> list[dict | str]:
    """The answers nested in a question (full Works, or bare ids when upstream gives only those)."""
    found: list[dict | str] = []
    for answer in as_list(work.get("inverse_answers_to")):
        if isinstance(answer, dict) and work_id(answer) or isinstance(answer, str) and tail(answer, "eli/dl/doc/"):
            found.append(answer)
    return found


def answer_id(answer: dict | str) -> str | None:
    """The identifier of a nested answer (a Work or a bare IRI)."""
    return work_id(answer) if isinstance(answer, dict) else tail(answer, "eli/dl/doc/")


def _participants(work: dict, role: str) -> list[str]:
    found = []
    for participation in as_list(work.get("workHadParticipation")):
        if isinstance(participation, dict) and (vocab_code(participation.get("participation_role")) or "") == role:
            for key in ("had_participant_person", "had_participant_organization"):
                found += [agent(p) for p in as_list(participation.get(key)) if isinstance(p, str)]
    return found


def source_id_for(identifier: str, lang: str) -> str:
    """``TA-9-2024-0025`` for English, ``TA-9-2024-0025/de`` for the other languages."""
    return identifier if lang == "en" else f"{identifier}/{lang}"


def parse_document(work: dict, lang: str, manifestation: tuple[str, str, dict], body: bytes, *,
                   default_doc_type: str = "document", procedure: str | None = None,
                   question: str | None = None) -> DocumentRecord:
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
    published = date_of(work.get("document_date"))
    answers = [answer_id(a) for a in answers_of(work)]
    metadata = {
        "identifier": identifier,
        "label": work.get("label"),
        "eli": urljoin(DATA_ROOT, work.get("id") or f"eli/dl/doc/{identifier}"),
        "expression": urljoin(DATA_ROOT, expression["id"]) if isinstance((expression or {}).get("id"), str) else None,
        "manifestation": urljoin(DATA_ROOT, manif["id"]) if isinstance(manif.get("id"), str) else None,
        "format": fmt,
        "issued": scalar(manif.get("issued")),
        "work_type": vocab_code(work.get("work_type")),
        "parliamentary_term": vocab_code(work.get("parliamentary_term")),
        "ep_number": work.get("epNumber"),
        "public_register": work.get("notation_publicRegister"),
        "title_alternative": clean_text(by_language((expression or {}).get("title_alternative")).get(lang)),
        "original_language": [LANGUAGES.get((vocab_code(x) or "").upper()) for x in as_list(work.get("originalLanguage"))] or None,
        "authors": _participants(work, "AUTHOR") or None,
        "addressees": _participants(work, "ADDRESSEE") or None,
        "rapporteurs": _participants(work, "RAPPORTEUR") or None,
        "creator": as_list(work.get("creator")) or None,
        "eurovoc": as_list(work.get("is_about")) or None,
        "procedure": procedure,
        "process_ids": procedure_ids(work) or None,
        "answers": [a for a in answers if a] or None,
        "question": question,
        "attribution": attribution((published or "")[:4] or None),
    }
    return DocumentRecord(
        source_id=source_id_for(identifier, lang),
        url=url,
        title=_title(work, expression, lang),
        text=text,
        doc_type=doc_type,
        institution=institution_of(work),
        language=lang,
        published_at=published,
        updated_at=scalar(manif.get("issued")),
        group_key=group_key,
        same_as=[identity_key("ep", source_id_for(identifier, lang))],
        metadata={k: v for k, v in metadata.items() if v not in (None, "", [])},
        links=links,
        warnings=warnings,
    )
