"""NLP for policy-tracker: language id, gazetteer entity linking and stance (``Annotator``)."""

from nlp.pipeline import Annotator

__all__ = ["Annotator"]
