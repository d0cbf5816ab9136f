"""Labelled stance data: frames (the source), ``stance.jsonl`` (built), guideline, builder."""
