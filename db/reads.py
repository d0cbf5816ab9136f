"""The read functions by their long-standing import path (``from db import reads``), for the code
outside ``db`` that still uses it (NLP annotation). Each is defined in the module of its subject,
where new code imports it from (`db.annotations`, `db.search`, `db.documents`, `db.runs`).
"""

from db.annotations import pending_annotation

__all__ = ["pending_annotation"]
