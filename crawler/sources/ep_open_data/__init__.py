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
that repeats an earlier page (a server ignoring ``offset``) is a loop and ends it (`crawler.paging`).

Procedures: sitting-level activities (plenary debate, vote) list every document of the sitting in
``based_on_a_realization_of`` (9 to 51 ids): an event keeps only the procedure's own documents
(``created_a_realization_of``); an event given as a bare IRI string in ``consists_of`` is kept
(date and kind read from its id); political groups are read into the ``org/<CODE>`` scheme
(``PPE``) whether given so (2025) or as corporate-body authority IRIs (2021). Titles lose the
``<br/>`` markup ``title_alternative`` carries.

Modules: `jsonld` (JSON-LD value shapes), `works` (lists, details, texts), `procedures`
(dossiers, events), `source` (discovery and fetching).

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

from crawler.sources.ep_open_data.source import EpOpenData
from crawler.sources.ep_open_data.works import answers_of, doc_type_of, expression_language, institution_of

SOURCE = EpOpenData

__all__ = ["SOURCE", "EpOpenData", "answers_of", "doc_type_of", "expression_language", "institution_of"]
