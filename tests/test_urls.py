"""URL canonicalisation and redirect unwrapping (crawler/urls.py)."""

from __future__ import annotations

import base64

import pytest

from crawler.urls import canonical_url, page_canonical, site_of, unwrap_redirect


@pytest.mark.parametrize(("url", "expected"), [
    ("https://www.harbourledger.example/news/a-story/?utm_source=rss&utm_medium=feed&utm_campaign=x",
     "https://www.harbourledger.example/news/a-story"),
    ("https://quayreview.example/a?fbclid=IwAR0x&gclid=Cj0&mc_cid=1&mc_eid=2&ocid=msn&cmpid=nl&id=42#comments",
     "https://quayreview.example/a?id=42"),
    ("HTTPS://QuayReview.Example:443/Path/Case", "https://quayreview.example/Path/Case"),
    ("http://quayreview.example:80/x/", "http://quayreview.example/x"),
    ("http://quayreview.example:8080/x", "http://quayreview.example:8080/x"),
    ("https://quayreview.example/x?b=2&a=1", "https://quayreview.example/x?a=1&b=2"),
    ("https://quayreview.example/x?platform=hootsuite", "https://quayreview.example/x"),
    ("https://quayreview.example/x?platform=ios", "https://quayreview.example/x?platform=ios"),
    ("https://tidewaterpost.example/2026/03/story/amp/", "https://tidewaterpost.example/2026/03/story"),
    ("https://tidewaterpost.example/2026/03/story.amp.html", "https://tidewaterpost.example/2026/03/story.html"),
    ("https://tidewaterpost.example/2026/03/story?amp=1", "https://tidewaterpost.example/2026/03/story"),
    ("https://tidewaterpost.example/2026/03/story?outputType=amp", "https://tidewaterpost.example/2026/03/story"),
    ("https://tidewaterpost.example/amp", "https://tidewaterpost.example/amp"),  # a section called amp stays
    ("https://tidewaterpost-example.cdn.ampproject.org/c/s/tidewaterpost.example/2026/03/story/amp/",
     "https://tidewaterpost.example/2026/03/story"),
    ("https://quayreview.example/", "https://quayreview.example/"),
    ("https://quayreview.example", "https://quayreview.example/"),
    ("https://quayreview.example//a//b/", "https://quayreview.example/a/b"),
    ("https://quayreview.example/caf%c3%a9/%7Euser", "https://quayreview.example/caf%C3%A9/~user"),
])
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent


def test_google_alerts_redirect_is_unwrapped():
    wrapped = ("https://www.google.com/url?rct=j&sa=t&url=https://tidewaterpost.example/2026/03/04/eu-ports-logink-probe/"
               "&ct=ga&cd=CAIyGjk3ZmQ0ZTkzMGQ0NzE5ZDA6Y29tOmVuOlVT&usg=AOvVaw0x")
    assert unwrap_redirect(wrapped) == "https://tidewaterpost.example/2026/03/04/eu-ports-logink-probe/"
    assert canonical_url(wrapped) == "https://tidewaterpost.example/2026/03/04/eu-ports-logink-probe"
    search = "https://www.google.de/url?q=https%3A%2F%2Fquayreview.example%2Fa%3Futm_source%3Dg&sa=D"
    assert canonical_url(search) == "https://quayreview.example/a"


def test_other_wrappers_are_unwrapped():
    assert unwrap_redirect("https://l.facebook.com/l.php?u=https%3A%2F%2Fquayreview.example%2Fx&h=AT0") == "https://quayreview.example/x"
    assert unwrap_redirect("https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fquayreview.example%2Fy") == "https://quayreview.example/y"
    assert unwrap_redirect("https://www.google.com/search?q=logink") == "https://www.google.com/search?q=logink"


def test_google_news_links():
    token = base64.urlsafe_b64encode(b"\x08\x13\x22\x2fhttps://quayreview.example/analysis/story?utm_source=gn\xd2\x01\x00").decode().rstrip("=")
    assert canonical_url(f"https://news.google.com/rss/articles/{token}?oc=5") == "https://quayreview.example/analysis/story"
    opaque = "https://news.google.com/rss/articles/CBMiWkFVX3lxTE1hYmNkZWZnaGlqa2xtbm9w?oc=5"
    assert unwrap_redirect(opaque) == opaque  # newer opaque tokens carry no URL: kept as they are


def test_page_canonical_is_adopted_only_when_safe():
    page = "https://www.quayreview.example/analysis/story?utm_source=x"
    same_site = b'<html><head><link rel="canonical" href="https://quayreview.example/analysis/story/"></head><body>x</body></html>'
    assert page_canonical(same_site, page) == "https://quayreview.example/analysis/story"
    relative = b'<html><head><link rel="Canonical" href="/analysis/story"></head></html>'
    assert page_canonical(relative, page) == "https://www.quayreview.example/analysis/story"
    cross_site = b'<html><head><link rel="canonical" href="https://tidewaterpost.example/analysis/story"></head></html>'
    assert page_canonical(cross_site, page) is None  # a syndicated copy stays its own outlet's document
    home = b'<html><head><link rel="canonical" href="https://www.quayreview.example/"></head></html>'
    assert page_canonical(home, page) is None  # a CMS pointing every page at the home page
    assert page_canonical(b"<html><head></head><body>no link</body></html>", page) is None
    assert page_canonical(b"", page) is None
    uk = b'<html><head><link rel="canonical" href="https://news.quay.co.uk/a"></head></html>'
    assert page_canonical(uk, "https://amp.quay.co.uk/a/amp") == "https://news.quay.co.uk/a"
    assert page_canonical(uk, "https://www.harbour.co.uk/a") is None


def test_an_ip_address_is_its_own_site():
    """Two outlets on different addresses (a replay or mirror on 127.0.0.1 and 127.0.0.2, or 127.0.0.1 and
    10.0.0.1) are different sites: the last two labels of an address are not a registrable domain."""
    assert site_of("127.0.0.1") == "127.0.0.1" and site_of("127.0.0.1") != site_of("10.0.0.1")
    assert site_of("[::1]") == "::1" and site_of("News.Example.com.") == "example.com"
    copy = b'<html><head><link rel="canonical" href="http://127.0.0.1:8000/wire/original-story"></head></html>'
    assert page_canonical(copy, "http://10.0.0.1:8000/outlet/copy") is None  # a syndicated copy keeps its own key
    assert page_canonical(copy, "http://127.0.0.1:8000/wire/original-story?utm_source=x") == "http://127.0.0.1:8000/wire/original-story"


def test_same_host_canonical_to_another_path_is_not_adopted():
    """Outlets behind one origin (a mirror or a replay with a path per outlet): a syndicated copy's
    canonical link to its original on the same host is another article, so the copy keeps its own URL;
    same-path variants (tracking, trailing slash, AMP) are still adopted."""
    copy = b'<html><head><link rel="canonical" href="http://127.0.0.1:8000/wire/2026/03/original-story/"></head></html>'
    assert page_canonical(copy, "http://127.0.0.1:8000/daily/syndicated/original-story") is None
    assert page_canonical(copy, "http://127.0.0.1:8000/wire/2026/03/original-story?utm_source=rss") == \
        "http://127.0.0.1:8000/wire/2026/03/original-story"
    assert page_canonical(copy, "http://127.0.0.1:8000/wire/2026/03/original-story/amp/") == \
        "http://127.0.0.1:8000/wire/2026/03/original-story"
