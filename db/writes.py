"""The write functions by their long-standing import path (``from db import writes``), for the code
outside ``db`` that uses it (NLP annotation, tests, benches). Each is defined in the module of its
subject, where new code imports it from: `db.documents`, `db.dossiers`, `db.annotations`, `db.runs`.
"""

from db.annotations import replace_annotations, save_entities
from db.documents import upsert_document
from db.dossiers import save_dossier
from db.runs import finish_run, register_sources, remember_url, start_run

__all__ = [
    "finish_run", "register_sources", "remember_url", "replace_annotations", "save_dossier", "save_entities",
    "start_run", "upsert_document",
]
