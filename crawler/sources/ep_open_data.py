"""PLACEHOLDER: ep-open-data is being written by another engineer; replace this whole module."""

from crawler.base import Source


class _Pending(Source):
    id = "ep-open-data"
    title = "ep-open-data (in progress)"
    jurisdiction = "INT"
    default_base_url = "https://example.invalid"

    def discover(self):
        raise NotImplementedError("ep-open-data is not implemented yet")

    def fetch(self, item):
        raise NotImplementedError


SOURCE = _Pending
