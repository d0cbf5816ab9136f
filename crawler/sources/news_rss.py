"""PLACEHOLDER: news-rss is being written by another engineer; replace this whole module."""

from crawler.base import Source


class _Pending(Source):
    id = "news-rss"
    title = "news-rss (in progress)"
    jurisdiction = "INT"
    default_base_url = "https://example.invalid"

    def discover(self):
        raise NotImplementedError("news-rss is not implemented yet")

    def fetch(self, item):
        raise NotImplementedError


SOURCE = _Pending
