"""PLACEHOLDER: congress-gov is being written by another engineer; replace this whole module."""

from crawler.base import Source


class _Pending(Source):
    id = "congress-gov"
    title = "congress-gov (in progress)"
    jurisdiction = "INT"
    default_base_url = "https://example.invalid"

    def discover(self):
        raise NotImplementedError("congress-gov is not implemented yet")

    def fetch(self, item):
        raise NotImplementedError


SOURCE = _Pending
