"""PLACEHOLDER: govinfo is being written by another engineer; replace this whole module."""

from crawler.base import Source


class _Pending(Source):
    id = "govinfo"
    title = "govinfo (in progress)"
    jurisdiction = "INT"
    default_base_url = "https://example.invalid"

    def discover(self):
        raise NotImplementedError("govinfo is not implemented yet")

    def fetch(self, item):
        raise NotImplementedError


SOURCE = _Pending
