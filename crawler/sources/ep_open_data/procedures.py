"""EP Open Data procedures: ``/procedures/{id}`` as a dossier with its events and a readable
procedure document. Events keep only the procedure's own documents, every ``consists_of`` entry is
an event whatever its shape, and political groups are read into one id scheme."""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

from crawler.errors import ParseError
from crawler.records import DocumentRecord, DossierRecord, Event, identity_key
from crawler.sources._ep_common import OEIL_URL, attribution, dossier_key, normalise_reference, process_id
from crawler.sources.ep_open_data.jsonld import (
    DATA_ROOT,
    agent_code,
    as_list,
    by_language,
    date_of,
    envelope,
    scalar,
    tail,
    vocab_code,
)

ROLE_ORDER = {r: i for i, r in enumerate((
    "COMMITTEE_LEAD", "RAPPORTEUR", "RAPPORTEUR_CO", "COMMITTEE_OPINION", "RAPPORTEUR_OPINION",
    "COMMITTEE_BUDGETARY_ASSESSMENT", "RAPPORTEUR_SHADOW", "RAPPORTEUR_SHADOW_OPINION"))}
DATE_IN_ID = re.compile(r"\d{4}-\d{2}-\d{2}")


def _humanise(code: str) -> str:
    """``PLENARY_VOTE`` -> ``Plenary vote``."""
    return code.replace("_", " ").replace("-", " ").capitalize()


def _refs(activity: dict, *keys: str) -> list[str]:
    return list(dict.fromkeys(r for key in keys for r in (tail(x, "eli/dl/doc/") for x in as_list(activity.get(key))) if r))


def document_refs(activity: dict, own: set[str]) -> list[str]:
    """The documents an activity is about. A sitting-level activity (a plenary debate or vote, id
    ``MTG-PL-...``) lists every document of the sitting in ``based_on_a_realization_of`` (9 to 51
    ids): of such a list (or any list of several ids) only those in ``own`` (the procedure's
    ``created_a_realization_of``) are kept, possibly none. A single document of the procedure's own
    activity (a committee tabling) and the records of the activity (minutes, decision) are kept."""
    based = _refs(activity, "based_on_a_realization_of")
    event_id = tail(activity.get("id"), "eli/dl/event/") or scalar(activity.get("activity_id")) or ""
    if len(based) > 1 or event_id.startswith("MTG-PL-"):
        based = [r for r in based if r in own]
    specific = _refs(activity, "decided_on_a_realization_of", "documented_by_a_realization_of", "recorded_in_a_realization_of")
    return list(dict.fromkeys(based + specific))


def parse_event(activity: dict | str, own: set[str], url: str = "") -> Event:
    """An Event from one ``consists_of`` entry: an activity object, or a bare event IRI
    (``eli/dl/event/MTG-PL-2020-12-16-VOT-ITM-915693``) whose date and kind are read from its id.
    An entry with no readable date raises `ParseError` (never dropped silently)."""
    if isinstance(activity, str):
        event_id = tail(activity, "eli/dl/event/") or activity
        day = DATE_IN_ID.search(event_id)
        if not day:
            raise ParseError(f"event IRI without a date: {activity!r}", url or None)
        kind = "PLENARY_VOTE" if "-VOT-" in event_id else "ACTIVITY"
        return Event(date=day[0], kind=kind, description=_humanise(kind), ref_id=event_id)
    if not isinstance(activity, dict):
        raise ParseError(f"event of unknown shape: {str(activity)[:120]!r}", url or None)
    event_id = tail(activity.get("id"), "eli/dl/event/") or scalar(activity.get("activity_id"))
    day = date_of(activity.get("activity_date")) or (DATE_IN_ID.search(event_id or "") or [None])[0]
    if not day:
        raise ParseError(f"event without a date: {json.dumps(activity)[:160]}", url or None)
    kind = vocab_code(activity.get("had_activity_type")) or str(activity.get("type") or "ACTIVITY").upper()
    refs = document_refs(activity, own)
    description = _humanise(kind) + (f" ({', '.join(refs)})" if refs else "")
    return Event(
        date=day[:10], kind=kind, description=description, actor=None,
        ref_url=urljoin(DATA_ROOT, f"eli/dl/doc/{refs[0]}") if refs else None,
        ref_id=refs[0] if refs else event_id,
    )


def procedure_reference(process: dict) -> str | None:
    """``2024/2006(REG)`` from the process label, else from its id and type."""
    reference = normalise_reference(scalar(process.get("label")) or "")
    if reference:
        return reference
    pid = process.get("process_id") or tail(process.get("id"), "eli/dl/proc/")
    ptype = vocab_code(process.get("process_type"))
    match = re.match(r"^(\d{4})-(\d{4}[A-Z]?)$", str(pid or ""))
    return f"{match[1]}/{match[2]}({ptype})" if match and ptype else None


def parse_procedure(payload: object, url: str, events_payload: object = None) -> tuple[DossierRecord, DocumentRecord]:
    """The dossier (with events sorted by date) and a readable procedure document of ``/procedures/{id}``."""
    processes = [p for p in envelope(payload, url) if p.get("process_id") or tail(p.get("id"), "eli/dl/proc/")]
    if not processes:
        raise ParseError("procedure response holds no process", url)
    process = processes[0]
    reference = procedure_reference(process)
    if not reference:
        raise ParseError("procedure has neither a reference label nor an id and type", url)
    activities = as_list(process.get("consists_of"))
    if not activities and events_payload is not None:
        activities = envelope(events_payload, url)
    own = {d for d in (tail(x, "eli/dl/doc/") for x in as_list(process.get("created_a_realization_of"))) if d}
    events = sorted((parse_event(a, own, url) for a in activities), key=lambda e: (e.date, e.kind, e.ref_id or ""))
    titles_ = by_language(process.get("process_title"))
    title = " ".join(str(titles_.get("en") or next(iter(titles_.values()), "") or reference).split())
    pid = process.get("process_id") or process_id(reference)
    ptype = vocab_code(process.get("process_type"))
    stage = vocab_code(process.get("current_stage"))
    participants = []
    ranked = sorted((p for p in as_list(process.get("had_participation")) if isinstance(p, dict)),
                    key=lambda p: (ROLE_ORDER.get(vocab_code(p.get("participation_role")) or "", len(ROLE_ORDER)),
                                   p.get("precedenceOrder") if isinstance(p.get("precedenceOrder"), int) else 10**6))
    for participation in ranked:
        persons = [p for p in as_list(participation.get("had_participant_person")) if isinstance(p, str)]
        organisations = [vocab_code(o) for o in as_list(participation.get("had_participant_organization"))]
        participants.append({k: v for k, v in {
            "role": vocab_code(participation.get("participation_role")),
            "who": persons + [o for o in organisations if o],
            "for": agent_code(participation.get("participation_in_name_of")),
            "group": agent_code(participation.get("politicalGroup")),
            "date": participation.get("activity_date"),
        }.items() if v})
    documents = [d for d in (tail(x, "eli/dl/doc/") for x in as_list(process.get("created_a_realization_of"))) if d]
    scheduled = sorted(
        {(date_of(a.get("activity_date")), vocab_code(a.get("had_activity_type")) or "") for a in as_list(process.get("was_scheduled_in"))
         if isinstance(a, dict) and date_of(a.get("activity_date"))}
    )
    metadata = {k: v for k, v in {
        "process_id": pid, "process_type": ptype, "stage": stage, "documents": documents, "participants": participants,
        "scheduled": [{"date": d, "activity": k} for d, k in scheduled],
        "oeil_url": f"{OEIL_URL}/procedure-file?reference={reference}",
        "attribution": attribution(reference[:4]),
    }.items() if v}
    eli = urljoin(DATA_ROOT, process.get("id") or f"eli/dl/proc/{pid}")
    key = dossier_key(reference)
    dossier = DossierRecord(
        key=key, kind="procedure", title=title, url=eli, stage=stage, status=None, updated_at=events[-1].date if events else None, metadata=metadata, events=events,
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
        source_id=reference, url=eli, title=title, text="\n".join(lines), doc_type="procedure", language="en",
        published_at=events[0].date if events else None, updated_at=events[-1].date if events else None,
        group_key=key, same_as=[identity_key("ep-procedure", reference)], metadata=metadata,
    )
    return dossier, document
