"""PLACEHOLDER: ec-press is being written by another engineer; replace this whole module."""

from crawler.base import Source


class _Pending(Source):
    id = "ec-press"
    title = "ec-press (in progress)"
    jurisdiction = "INT"
    default_base_url = "https://example.invalid"

    def discover(self):
        raise NotImplementedError("ec-press is not implemented yet")

    def fetch(self, item):
        raise NotImplementedError


SOURCE = _Pending
