"""Datasette plugins shipped with policy-tracker (registered by tracker.serve.build_datasette)."""
