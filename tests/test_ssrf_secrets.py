"""Hostile upstreams through real sources (issue 9, item 4): SSRF through links, secrets kept out of
logs and the database, XML entity attacks, and markup in upstream titles.

(a) SSRF: private addresses are refused (``allow_private_addresses = false``) except the trusted
    replay mirror listed in ``private_hosts``; trap servers on 127.0.0.2 and [::1] and a hook on
    urllib3's ``create_connection`` prove nothing else is ever connected to.
(b) Secrets: API keys and the SMTP password never reach logs (``tracker -v``, urllib3 at DEBUG),
    output, the database file (main, -wal, -shm bytes) or stored URLs.
(c) XXE and entity expansion in feeds and XML renditions: nothing of /etc/passwd stored, bounded time.
(d) ``<script>`` in an upstream title: stored verbatim, escaped in Datasette pages and the digest.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path

import pytest
import urllib3.util.connection

from crawler.urls import canonical_url
from tests import test_ep_oeil as oeil
from tests import test_ep_open_data as epod
from tests import test_eurlex as eurlex
from tests import test_federal_register as fr
from tests import test_news_rss as news
from tests.rawserver import RawServer, respond

PAGE = news.NR / "files" / "varnholm-ends-logink-pilot.html"
PASSWD = b"root:x:0:0"


# -- helpers ---------------------------------------------------------------------------------------

class Trap:
    """A listening socket on a private address that records every connection (nothing should come)."""

    def __init__(self, host: str, family: int = socket.AF_INET):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.sock.close()


@pytest.fixture
def traps():
    v4 = Trap("127.0.0.2")
    try:
        v6 = Trap("::1", socket.AF_INET6)
    except OSError:  # no IPv6 loopback on this machine
        v6 = None
    yield v4, v6
    v4.close()
    if v6:
        v6.close()


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every (host, port) urllib3 opens a TCP connection to during the test."""
    seen: list[tuple[str, int]] = []
    original = urllib3.util.connection.create_connection

    def recording(address, *args, **kwargs):
        seen.append((address[0], address[1]))
        return original(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    return seen


def no_private_config(env, replay, sources: dict, extra: str = "") -> str:
    """``env.configure`` with private addresses refused and only the replay mirror trusted."""
    env.configure(sources, extra=extra)
    mirror = replay.url().split("//", 1)[1]
    text = env.config_path.read_text().replace("allow_private_addresses = true",
                                                f'allow_private_addresses = false\nprivate_hosts = ["{mirror}"]')
    env.config_path.write_text(text)
    return mirror


def assert_only_mirror(connections, mirror: str, traps) -> None:
    host, port = mirror.rsplit(":", 1)
    assert connections, "no connection recorded: the hook is not in the path"
    assert {c for c in connections} <= {(host, int(port)), ("127.0.0.1", int(port))}, connections
    assert all(t is None or t.connections == 0 for t in traps)


def rss(items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><description>{title}: LOGINK and port data.</description>"
        f"<pubDate>Thu, 05 Mar 2026 10:00:00 GMT</pubDate></item>" for title, link in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile Ledger</title><link>http://x.example/</link>{entries}</channel></rss>'


# -- (a) SSRF --------------------------------------------------------------------------------------

def test_feed_links_to_private_addresses_are_never_fetched(env, replay, traps, connections):
    v4, v6 = traps
    replay.add("/hostile/article", PAGE.read_text("utf-8"), content_type="text/html; charset=utf-8")
    replay.add("/hostile/redirect", b"", status=302, headers={"Location": f"http://127.0.0.2:{v4.port}/redirected"})
    replay.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    private = {
        "loopback-2": f"http://127.0.0.2:{v4.port}/logink-internal",
        "metadata": "http://169.254.169.254/latest/meta-data/logink",
        "rfc1918": "http://10.0.0.1/logink",
        "ipv6-loopback": f"http://[::1]:{v6.port if v6 else 80}/logink",
        "redirect": replay.url("/hostile/redirect"),
    }
    skipped = {"file": "file:///etc/passwd", "ftp": f"ftp://127.0.0.2:{v4.port}/logink.txt"}
    items = [("LOGINK pilot ends at Varnholm", replay.url("/hostile/article"))]
    items += [(f"LOGINK item {name}", link) for name, link in {**private, **skipped}.items()]
    replay.add("/hostile/feed", rss(items), content_type="application/rss+xml")
    mirror = no_private_config(env, replay, {"news-rss": {"feeds": [replay.url("/hostile/feed")]}}, extra=news.TOPICS)

    result = env.run("crawl", "news-rss", "--no-nlp")
    assert "news-rss: ok" in result.output, result.output
    assert_only_mirror(connections, mirror, traps)
    docs = {d["source_id"]: d for d in env.db()["documents"].rows}
    article = docs[replay.url("/hostile/article")]
    assert json.loads(article["metadata"])["extraction"] == "full" and "Varnholm" in article["text"]
    for name, link in private.items():  # kept as the feed's own snippet, flagged, never fetched
        stored = docs.get(canonical_url(link))
        assert stored, (name, sorted(docs))
        meta = json.loads(stored["metadata"])
        assert meta["extraction"] == "snippet" and "refused" in meta["snippet_reason"], (name, meta)
        assert not meta.get("retry"), name  # a refused address is not retried on later runs
    assert not any(k.startswith(("file:", "ftp:")) for k in docs)
    assert replay.hits("/hostile/redirect") == 1  # the mirror was asked, its redirect target was not


def test_gdelt_article_on_a_private_address_is_not_fetched(env, replay, traps, connections):
    v4, _ = traps
    listing = {"articles": [
        {"url": f"http://127.0.0.2:{v4.port}/logink", "title": "LOGINK links under review", "seendate": "20260305T100000Z",
         "domain": "internal.example", "language": "English", "sourcecountry": "Sweden"},
        {"url": "http://169.254.169.254/latest/meta-data/", "title": "LOGINK metadata", "seendate": "20260305T100500Z"},
    ]}
    replay.add("/api/v2/doc/doc", json.dumps(listing), content_type="application/json")
    mirror = no_private_config(env, replay, {"gdelt": {"base_url": replay.url("/api/v2"), "query_interval_s": 0}},
                               extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]')
    result = env.run("crawl", "gdelt", "--no-nlp")
    assert result.exit_code == 0, result.output
    assert_only_mirror(connections, mirror, traps)
    metas = [json.loads(d["metadata"]) for d in env.db()["documents"].rows]
    assert len(metas) == 2 and all(m["extraction"] == "snippet" and "refused" in m["snippet_reason"] for m in metas)


def test_ep_manifestation_on_a_private_address_is_an_item_error(env, replay, traps, connections):
    v4, _ = traps
    works = epod.upstream_works()
    collection, work = works["TA-10-2026-0102"]
    work["is_realized_by"][0]["is_embodied_by"] = [epod.manifestation("TA-10-2026-0102", "en", "XML", f"http://127.0.0.2:{v4.port}/doc.xml")]
    epod.serve(replay, works)
    epod.configure(env, replay)
    mirror = replay.url().split("//", 1)[1]
    text = env.config_path.read_text().replace("allow_private_addresses = true", f'allow_private_addresses = false\nprivate_hosts = ["{mirror}"]')
    env.config_path.write_text(text)
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert "ep-open-data: partial" in result.output and "refused 127.0.0.2" in result.output, result.output
    assert_only_mirror(connections, mirror, traps)
    docs = epod.documents(env)
    assert "TA-10-2026-0102" not in docs and "A-9-2024-0163" in docs


def bypass_forms(port: int, port6: int) -> dict[str, str]:
    """URLs whose connection goes to a private address however the host is written (the trap
    listens on 127.0.0.2:port and [::1]:port6)."""
    return {
        "backslash-userinfo": f"http://127.0.0.2:{port}\\@1.1.1.1/",  # urllib.parse sees host 1.1.1.1
        "userinfo": f"http://1.1.1.1:80@127.0.0.2:{port}/",
        "decimal": f"http://2130706434:{port}/",
        "octal": f"http://0177.0.0.2:{port}/",
        "hex": f"http://0x7f.0.0.2:{port}/",
        "hex-whole": f"http://0x7f000002:{port}/",
        "short": f"http://127.2:{port}/",
        "trailing-dot": f"http://127.0.0.2.:{port}/",
        "localhost-dot": f"http://localhost.:{port}/",
        "unspecified": f"http://0:{port}/",
        "ipv4-mapped": f"http://[::ffff:127.0.0.2]:{port}/",
        "ipv4-mapped-hex": f"http://[::ffff:7f00:2]:{port}/",
        "ipv4-compatible": f"http://[::127.0.0.2]:{port}/",
        "nat64": f"http://[64:ff9b::7f00:2]:{port}/",
        "6to4": f"http://[2002:7f00:2::]:{port}/",
        "ipv6-loopback": f"http://[::1]:{port6}/",
        "zone-id": f"http://[fe80::1%25lo]:{port}/",
        "metadata-decimal": "http://2852039166/latest/meta-data/",  # 169.254.169.254
    }


@pytest.mark.parametrize("form", sorted(bypass_forms(1, 1)))
def test_every_way_of_writing_a_private_host_is_refused(traps, connections, form):
    from crawler.errors import AddressRefused
    from crawler.http import HttpClient, HttpSettings

    v4, v6 = traps
    url = bypass_forms(v4.port, v6.port if v6 else 1)[form]
    # a trusted mirror that redirects there (a raw server: werkzeug would percent-encode the Location)
    hop = RawServer([respond(b"HTTP/1.1 302 Found\r\nLocation: " + url.encode() + b"\r\nContent-Length: 0\r\n\r\n")])
    mirror = f"127.0.0.1:{hop.port}"
    client = HttpClient(HttpSettings(min_interval_s=0, private_hosts=[mirror], retries=0))
    try:
        with pytest.raises(AddressRefused, match="refused"):
            client.get(url)
        with pytest.raises(AddressRefused, match="refused"):  # and before robots.txt is asked
            client.get(url, robots=True)
        with pytest.raises(AddressRefused, match="refused"):
            client.get(hop.url("/hop"))
        assert hop.connections == 1
    finally:
        hop.close()
    assert_only_mirror(connections, mirror, traps)


def test_bypass_forms_through_federal_register_are_item_errors(env, replay, traps, connections):
    v4, v6 = traps
    forms = bypass_forms(v4.port, v6.port if v6 else 1)
    fr.serve_fr(replay)
    page = json.loads((fr.FR / "documents_page1.json").read_text().replace("https://www.federalregister.gov", replay.url()))
    hostile = [("backslash-userinfo", "decimal"), ("ipv4-mapped", "short")]
    for doc, (text_form, html_form) in zip(page["results"], hostile):
        doc["raw_text_url"], doc["body_html_url"] = forms[text_form], forms[html_form]
    replay.add(fr.LISTING, json.dumps(page), content_type="application/json",
               when=lambda r: r.args.get("conditions[term]") == "LOGINK" and r.args.get("page", "1") == "1")
    fr.configure(env, replay)
    mirror = replay.url().split("//", 1)[1]
    env.config_path.write_text(env.config_path.read_text().replace(
        "allow_private_addresses = true", f'allow_private_addresses = false\nprivate_hosts = ["{mirror}"]'))
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert "federal-register: partial" in result.output and "refused 127.0.0.2" in result.output, result.output
    assert_only_mirror(connections, mirror, traps)
    stored = {d["source_id"]: d for d in env.db()["documents"].rows}
    assert not {d["document_number"] for d in page["results"]} & set(stored)  # nothing from the internal pages
    assert "2025-06927" in stored and all(d["text"].strip() for d in stored.values())


def test_bypass_forms_in_a_news_feed_are_never_fetched(env, replay, traps, connections):
    v4, v6 = traps
    forms = bypass_forms(v4.port, v6.port if v6 else 1)
    replay.add("/hostile/article", PAGE.read_text("utf-8"), content_type="text/html; charset=utf-8")
    replay.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    items = [("LOGINK pilot ends at Varnholm", replay.url("/hostile/article"))]
    items += [(f"LOGINK item {name}", link.replace("&", "&amp;")) for name, link in forms.items()]
    replay.add("/hostile/feed", rss(items), content_type="application/rss+xml")
    mirror = no_private_config(env, replay, {"news-rss": {"feeds": [replay.url("/hostile/feed")]}}, extra=news.TOPICS)
    result = env.run("crawl", "news-rss", "--no-nlp")
    assert "news-rss: ok" in result.output, result.output
    assert_only_mirror(connections, mirror, traps)
    metas = [json.loads(d["metadata"]) for d in env.db()["documents"].rows]
    full = [m for m in metas if m["extraction"] == "full"]
    refused = [m for m in metas if m["extraction"] == "snippet" and "refused" in m.get("snippet_reason", "")]
    assert len(full) == 1 and len(refused) == len(metas) - 1 >= len(forms) - 2, metas  # a form the feed parser drops is fine


def test_a_rebinding_name_is_connected_to_at_its_first_answer_only(replay, traps, connections, monkeypatch):
    """The name resolves to the mirror first and to the trap afterwards: the connection uses the
    checked first answer (pinned), the library never resolves the name again."""
    from crawler.http import HttpClient, HttpSettings

    v4, _ = traps
    replay.add("/ok", b"mirror page")
    port = int(replay.url().rsplit(":", 1)[1])
    original = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example":
            return original(host, *args, **kwargs)
        asked.append(host)
        return original("127.0.0.1" if len(asked) == 1 else "127.0.0.2", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    client = HttpClient(HttpSettings(min_interval_s=0, private_hosts=[f"rebind.example:{port}"], retries=0))
    assert client.get(f"http://rebind.example:{port}/ok").content == b"mirror page"
    assert asked == ["rebind.example"] and connections == [("127.0.0.1", port)]
    assert replay.requests[-1].headers["Host"] == f"rebind.example:{port}"  # the name is still the Host
    assert v4.connections == 0


def test_an_unchecked_host_is_checked_at_connect_time(traps, connections):
    """Defence in depth: a connection to a host the pre-check did not see (e.g. a URL the HTTP
    stack re-parsed differently) is resolved and checked inside the connection itself."""
    from crawler.connection import GuardedAdapter
    from crawler.errors import AddressRefused
    from crawler.http import HttpClient, HttpSettings

    v4, _ = traps
    client = HttpClient(HttpSettings(min_interval_s=0, retries=0))
    adapter = client.session.get_adapter("http://x")
    assert isinstance(adapter, GuardedAdapter)
    with pytest.raises(AddressRefused, match="refused 127.0.0.2"):
        client.session.get(f"http://127.0.0.2:{v4.port}/", timeout=2)  # bypasses HttpClient's pre-check
    assert not connections and v4.connections == 0


def test_without_the_allowlist_even_the_mirror_is_refused(env, replay, connections):
    replay.add("/hostile/feed", rss([("LOGINK", replay.url("/hostile/article"))]), content_type="application/rss+xml")
    env.configure({"news-rss": {"feeds": [replay.url("/hostile/feed")]}}, extra=news.TOPICS)
    env.config_path.write_text(env.config_path.read_text().replace("allow_private_addresses = true", "allow_private_addresses = false"))
    result = env.run("crawl", "news-rss", "--no-nlp")
    assert result.exit_code == 1 and "refused" in result.output and "allow_private_addresses" in result.output
    assert not connections and not replay.requests


# -- (b) secrets -----------------------------------------------------------------------------------

MARKER = "Zq9SECRETmarker7"


def test_secrets_never_reach_logs_output_database_or_urls(env, replay, monkeypatch, tmp_path):
    import tracker.cli
    from tests import test_congress_gov as cg
    from tests import test_govinfo as gi

    cg.serve_all(replay)
    gi.serve_govinfo(replay)
    monkeypatch.setenv("CONGRESS_API_KEY", f"{MARKER}-congress")
    monkeypatch.setenv("GOVINFO_API_KEY", f"{MARKER}-govinfo")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: delivery fails and the error is logged and stored
    monkeypatch.setenv("TRACKER_SMTP_URL", f"smtp://analyst:{MARKER}-smtp@127.0.0.1:{port}?timeout=2")
    env.configure({"congress-gov": {"base_url": replay.url("/v3"), "bills": ["118-s-939"]}, "govinfo": {"base_url": replay.url()}},
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n'
                        '[digest]\nsend_empty = true\n[[digest.subscribers]]\nemail = "analyst@example.org"\ntopics = ["logink"]\n')
    captured = CaptureHandler()
    original_setup = tracker.cli.setup_logging

    def setup_with_everything(verbose: bool = False) -> None:  # -v, and urllib3's own DEBUG lines too
        original_setup(verbose)
        logging.getLogger().addHandler(captured)
        for name in ("urllib3", "requests"):
            logging.getLogger(name).setLevel(logging.DEBUG)

    monkeypatch.setattr(tracker.cli, "setup_logging", setup_with_everything)
    outputs = []
    for args in (["crawl", "congress-gov", "govinfo", "--no-nlp"], ["digest", "send"], ["status", "--json"], ["sources", "--json"]):
        result = env.run("-v", *args)
        outputs += [result.output, result.stderr]
    assert "congress-gov: ok" in outputs[0] and "govinfo: ok" in outputs[0], outputs[0]
    assert "cannot deliver" in "".join(outputs[2:4])  # the SMTP failure was reported (masked)
    assert any("level=debug" in o for o in outputs) and any("urllib3" in r for r in captured.lines)  # DEBUG was on

    everything = "\n".join(outputs + captured.lines)
    assert MARKER not in everything
    # the keys travelled in the X-Api-Key header, never in a URL
    keyed = [r for r in replay.requests if r.headers.get("X-Api-Key", "").startswith(MARKER)]
    assert keyed and not any(MARKER in r.full_path for r in replay.requests)
    # nowhere in the database file: main file, write-ahead log, shared memory
    files = [p for p in env.tmp.iterdir() if p.name.startswith(env.db_path.name)]
    assert any(p.name.endswith("-wal") for p in files) or env.db_path.exists()
    for path in files:
        assert MARKER.encode() not in path.read_bytes(), path.name
    db = env.db()
    assert db["documents"].count >= 2 and db["digests"].count >= 1
    assert MARKER not in "\n".join(db.conn.iterdump())


class CaptureHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.__dict__}")


# -- (c) XML entity attacks through sources ------------------------------------------------------

XXE_DOCTYPE = '<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS_DOCTYPE = ('<!DOCTYPE {root} [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(2, 10)) + "]>")
ATTACKS = {"xxe": (XXE_DOCTYPE, "&xxe;"), "laughs": (LAUGHS_DOCTYPE, "&lol9;")}


def hostile_feed(replay, attack: str) -> str:
    doctype, ref = ATTACKS[attack]
    return (f'<?xml version="1.0"?>{doctype.format(root="rss")}<rss version="2.0"><channel><title>T {ref}</title>'
            f"<item><title>LOGINK {ref}</title><link>{replay.url('/hostile/article')}</link>"
            f"<description>LOGINK {ref}</description></item></channel></rss>")


def assert_nothing_leaked(env) -> None:
    for path in env.tmp.iterdir():
        if path.name.startswith(env.db_path.name):
            data = path.read_bytes()
            assert PASSWD not in data and b"lollollollollollol" not in data, path.name


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_feed_for_news_rss(env, replay, attack):
    replay.add("/hostile/feed", hostile_feed(replay, attack), content_type="application/rss+xml")
    replay.add("/hostile/article", PAGE.read_text("utf-8"), content_type="text/html; charset=utf-8")
    env.configure({"news-rss": {"feeds": [replay.url("/hostile/feed")]}}, extra=news.TOPICS)
    started = time.monotonic()
    result = env.run("crawl", "news-rss", "--no-nlp")
    assert time.monotonic() - started < 10
    assert "news-rss: ok" in result.output, result.output  # feedparser leaves the entity unexpanded
    assert_nothing_leaked(env)
    for doc in env.db()["documents"].rows:  # whatever was kept carries no expansion
        assert "root:" not in doc["title"] + doc["text"] and "lollol" not in doc["title"] + doc["text"]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_xml_manifestation_for_ep_open_data(env, replay, attack):
    doctype, ref = ATTACKS[attack]
    epod.serve(replay)
    replay.add("/distribution/doc/TA-10-2026-0102_en.xml",
               f'<?xml version="1.0"?>{doctype.format(root="doc")}<doc><p>LOGINK and port data {ref}</p></doc>')
    epod.configure(env, replay)
    started = time.monotonic()
    result = env.run("crawl", "ep-open-data", "--no-nlp")
    assert time.monotonic() - started < 15
    assert "ep-open-data: partial" in result.output and "entities" in result.output, result.output
    assert "TA-10-2026-0102" not in epod.documents(env)
    assert_nothing_leaked(env)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_xhtml_rendition_for_eurlex(env, replay, attack):
    doctype, ref = ATTACKS[attack]
    eurlex.serve_cellar(replay)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>{doctype.format(root="html")}<html xmlns="http://www.w3.org/1999/xhtml">'
            f"<body><p>Regulation on foreign direct investments {ref}</p><p>Article 1</p></body></html>")
    replay.add(eurlex.CONTENT + "32019R0452", body, content_type="application/xhtml+xml;charset=UTF-8")
    eurlex.configure(env, replay)
    started = time.monotonic()
    result = env.run("crawl", "eurlex", "--no-nlp")
    assert time.monotonic() - started < 15
    assert "eurlex: ok" in result.output, result.output
    assert_nothing_leaked(env)
    doc = next(env.db()["documents"].rows_where("source_id = ?", ["32019R0452"]))
    # read with the HTML parser: the internal subset is inert text, the reference stays unexpanded
    assert "Regulation on foreign direct investments" in doc["text"] and ref in doc["text"]
    assert "root:" not in doc["text"] and "lollol" not in doc["text"]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_rss_for_ep_oeil(env, replay, attack):
    doctype, ref = ATTACKS[attack]
    oeil.serve(replay)
    rss_body = (oeil.EX / "files" / "rss.xml").read_text("utf-8")
    head, _, rest = rss_body.partition("<rss")
    hostile = f'<?xml version="1.0"?>{doctype.format(root="rss")}<rss' + rest.replace("<title>", f"<title>{ref} ", 2)
    replay.add(oeil.RSS, hostile, content_type="application/rss+xml")
    oeil.configure(env, replay)
    started = time.monotonic()
    result = env.run("crawl", "ep-oeil", "--no-nlp")
    assert time.monotonic() - started < 15
    assert "ep-oeil: partial" in result.output and "XML declares entities" in result.output, result.output
    assert {d["source_id"] for d in env.db()["documents"].rows} == {"2023/2019(INI)"}  # the configured procedure still read
    assert_nothing_leaked(env)


# -- (d) markup in upstream titles -----------------------------------------------------------------

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_script_in_an_upstream_title_is_data_stored_verbatim_and_escaped_on_every_page(env, replay):
    fr.serve_fr(replay)
    listing = fr.FR / "documents_page1.json"
    page = json.loads(listing.read_text().replace("https://www.federalregister.gov", replay.url()))
    page["results"][0]["title"] = PAYLOAD + " LOGINK notice"
    replay.add(fr.LISTING, json.dumps(page), content_type="application/json",
               when=lambda r: r.args.get("conditions[term]") == "LOGINK" and r.args.get("page", "1") == "1")
    fr.configure(env, replay)
    result = env.run("crawl", "federal-register")  # with NLP: the document gets mentions for the digest
    assert result.exit_code == 0, result.output
    db = env.db()
    doc = next(db["documents"].rows_where("title like ?", ["<script>%"]))
    assert doc["title"] == PAYLOAD + " LOGINK notice"  # data is data

    pages = datasette_pages(env.db_path, doc["id"])
    for name, html in pages.items():
        assert "<script>alert(1)" not in html and "<img src=x" not in html, name
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in html for html in pages.values())

    from tracker.config import load_config
    from tracker.digest import build_digest

    config = load_config(env.config_path)
    digest = build_digest(db, config, "analyst@example.org", now=doc["fetched_at"][:10] + "T23:59:59+00:00")
    assert digest.total >= 1 and PAYLOAD in digest.text  # the plain-text part shows the title as it is
    assert "<script>alert(1)" not in digest.html and "<img src=x" not in digest.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in digest.html
    assert "<script>alert(1)" not in digest.html_for_file()


def datasette_pages(db_path: Path, doc_id: int) -> dict[str, str]:
    import asyncio

    from tracker.serve import build_datasette

    ds = build_datasette(db_path)
    name = db_path.stem

    async def fetch() -> dict[str, str]:
        out = {}
        for label, path in {"row": f"/{name}/documents/{doc_id}", "table": f"/{name}/documents",
                            "search": f"/{name}/documents?_search=LOGINK", "mentions": f"/{name}/mentions"}.items():
            response = await ds.client.get(path, follow_redirects=True)  # the search box leads to the ranked page
            assert response.status_code == 200, (label, response.status_code)
            out[label] = response.text
        return out

    return asyncio.run(fetch())


def test_https_to_a_pinned_address_keeps_sni_and_certificate_checks_on_the_name(tmp_path, monkeypatch, connections):
    """The socket goes to the checked address, while TLS still names and verifies the host: a
    certificate for tls.example is accepted for tls.example, and refused for any other name. And a
    status line trickled over TLS ends at the deadline like one over plain TCP."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from crawler.errors import DeadlineExceeded, FetchError
    from crawler.http import HttpClient, HttpSettings

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls.example")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=36500))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("tls.example")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    seen_sni: list[str | None] = []
    context.sni_callback = lambda sock, server_name, ctx: seen_sni.append(server_name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for number in range(3):
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nover TLS."
                    if number < 2:
                        tls.sendall(answer)
                    for byte in answer if number == 2 else b"":  # the third one trickles its status line
                        time.sleep(0.1)
                        tls.sendall(bytes([byte]))
            except (ssl.SSLError, OSError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    original = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: original(
        "127.0.0.1" if host in ("tls.example", "other.example") else host, *a, **k))
    trusted = [f"tls.example:{port}", f"other.example:{port}"]
    client = HttpClient(HttpSettings(min_interval_s=0, private_hosts=trusted, retries=0, timeout_s=5))
    client.session.verify = str(cert_path)
    try:
        assert client.get(f"https://tls.example:{port}/").content == b"over TLS."
        assert seen_sni == ["tls.example"] and connections == [("127.0.0.1", port)]
        with pytest.raises(FetchError, match="connection failed: SSLError"):  # same address, a name the certificate lacks
            client.get(f"https://other.example:{port}/")
        assert seen_sni == ["tls.example", "other.example"]
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="deadline_s = 1 "):  # the watchdog works under TLS too
            client.get(f"https://tls.example:{port}/slow", deadline_s=1)
        assert 1 <= time.monotonic() - started < 1.5
    finally:
        listener.close()
