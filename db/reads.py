"""The read functions by their long-standing import path (``from db import reads``), for the code
outside ``db`` that uses it (NLP annotation, the front-end plugin, tests). Each is defined in the
module of its subject, where new code imports it from: `db.annotations`, `db.search`.
"""

from db.annotations import pending_annotation
from db.search import fts_query, search

__all__ = ["fts_query", "pending_annotation", "search"]
