"""The shared HTTP client under faults: each gives a clear FetchError, never a partial body."""

from __future__ import annotations

import gzip
import time

import pytest

from crawler.errors import (
    AddressRefused,
    BlockedError,
    DeadlineExceeded,
    FetchError,
    HttpStatusError,
    ParseError,
    RobotsDisallowed,
    TooLargeError,
)
from crawler.http import Fetched, HttpClient, HttpSettings
from tests.rawserver import RawServer, reset_after, respond, trickle


def client(**overrides) -> HttpClient:
    settings = dict(allow_private_addresses=True, min_interval_s=0, backoff_factor=0.01, retries=3,
                    timeout_s=2, max_retry_after_s=2)
    settings.update(overrides)
    return HttpClient(HttpSettings(**settings), source_id="test")


@pytest.fixture
def raw():
    servers = []

    def make(*behaviours):
        server = RawServer(list(behaviours))
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()


def test_user_agent_and_ok(replay):
    replay.add("/a", b"hello", content_type="text/plain")
    c = client(user_agent="TestBot/1 (ops@example.org)")
    r = c.get(replay.url("/a"))
    assert r.content == b"hello" and r.status == 200
    assert replay.requests[-1].headers["User-Agent"] == "TestBot/1 (ops@example.org)"


def test_retries_5xx_then_succeeds(replay):
    replay.add("/a", b"ok")
    replay.add("/a", b"boom", status=503, times=2)
    assert client().get(replay.url("/a")).content == b"ok"
    assert replay.hits("/a") == 3


def test_5xx_burst_exhausts_retries(replay):
    replay.add("/a", b"boom", status=500)
    with pytest.raises(HttpStatusError) as info:
        client(retries=2).get(replay.url("/a"))
    assert info.value.status == 500 and replay.hits("/a") == 3


def test_429_retry_after_is_honoured(replay):
    replay.add("/a", b"ok")
    replay.add("/a", b"slow down", status=429, headers={"Retry-After": "1"}, times=1)
    started = time.monotonic()
    assert client().get(replay.url("/a")).content == b"ok"
    assert time.monotonic() - started >= 0.9


def test_429_storm_gives_up_with_clear_error(replay):
    replay.add("/a", b"slow down", status=429, headers={"Retry-After": "0"})
    with pytest.raises(HttpStatusError, match="HTTP 429"):
        client(retries=2).get(replay.url("/a"))
    assert replay.hits("/a") == 3  # bounded: no hammering


def test_retry_after_is_capped(replay):
    replay.add("/a", b"ok")
    replay.add("/a", b"", status=503, headers={"Retry-After": "3600"}, times=1)
    started = time.monotonic()
    client(max_retry_after_s=0.5).get(replay.url("/a"))
    assert time.monotonic() - started < 5


def test_timeout_on_slow_response(raw):
    server = raw(respond(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", delay_s=3))
    with pytest.raises(FetchError, match="timed out|connection failed"):
        client(timeout_s=0.5, retries=0).get(server.url())


def test_connection_reset_mid_body(raw):
    server = raw(reset_after(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000))
    with pytest.raises(FetchError, match="body incomplete|connection failed"):
        client(retries=0).get(server.url())


def test_truncated_body_shorter_than_content_length(raw):
    server = raw(respond(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + b'{"count": 3, "res'))
    with pytest.raises(FetchError, match="body incomplete"):
        client(retries=0).get(server.url())


def test_redirect_loop(replay):
    replay.add("/a", b"", status=302, headers={"Location": "/b"})
    replay.add("/b", b"", status=302, headers={"Location": "/a"})
    with pytest.raises(FetchError, match="more than 3 redirects"):
        client(max_redirects=3).get(replay.url("/a"))


def test_every_redirect_hop_is_checked(replay):
    replay.add("/a", b"", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(AddressRefused, match="non-http"):
        client().get(replay.url("/a"))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x", "javascript:alert(1)"])
def test_non_http_schemes_refused(url):
    with pytest.raises(AddressRefused, match="non-http"):
        client().get(url)


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "192.168.1.1", "169.254.169.254", "[::1]", "0.0.0.0"])
def test_private_loopback_link_local_refused_by_default(host):
    c = HttpClient(HttpSettings(min_interval_s=0))
    with pytest.raises(AddressRefused, match="allow_private_addresses"):
        c.get(f"http://{host}/x")


def test_body_over_limit(replay):
    replay.add("/big", b"x" * 5000)
    with pytest.raises(TooLargeError, match="max_bytes=1000"):
        client(max_bytes=1000).get(replay.url("/big"))


def test_gzip_bomb_stops_at_limit(replay):
    bomb = gzip.compress(b"\0" * 20_000_000)
    replay.add("/bomb", bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})
    with pytest.raises(TooLargeError):
        client(max_bytes=1_000_000).get(replay.url("/bomb"))


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (202, {"x-amzn-waf-action": "challenge"}, b""),
        (202, {}, b""),
        (403, {"Content-Type": "text/html"}, b"<html><head><title>Just a moment...</title></head><body>cf</body></html>"),
        (503, {"cf-mitigated": "challenge"}, b"<html></html>"),
    ],
)
def test_challenge_pages_are_blocked(replay, status, headers, body):
    replay.add("/c", body, status=status, headers=headers)
    with pytest.raises(BlockedError):
        client(retries=0).get(replay.url("/c"))


def test_conditional_get_costs_a_304(replay):
    calls = []

    def handler(request):
        from werkzeug import Response

        calls.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(b"feed", headers={"ETag": '"v1"', "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"})

    replay.add("/feed", handler)

    class Store:
        data: dict = {}

        def get_validators(self, url):
            return self.data.get(url)

    store = Store()
    c = HttpClient(HttpSettings(allow_private_addresses=True, min_interval_s=0), validators=store)
    first = c.get(replay.url("/feed"), conditional=True)
    assert first.content == b"feed" and not first.not_modified
    assert c.pending_validators[replay.url("/feed")]["etag"] == '"v1"'
    store.data.update(c.pending_validators)  # what the orchestrator commits after an ok run
    second = c.get(replay.url("/feed"), conditional=True)
    assert second.not_modified and second.content == b""
    assert calls[-1]["If-None-Match"] == '"v1"' and calls[-1]["If-Modified-Since"]


def test_robots_txt_disallow_and_crawl_delay(replay):
    replay.add("/robots.txt", b"User-agent: *\nDisallow: /private\nCrawl-delay: 1\n", content_type="text/plain")
    replay.add("/public", b"ok")
    c = client()
    assert c.get(replay.url("/public"), robots=True).content == b"ok"
    with pytest.raises(RobotsDisallowed):
        c.get(replay.url("/private/x"), robots=True)
    started = time.monotonic()
    c.get(replay.url("/public"), robots=True)
    assert time.monotonic() - started >= 0.8  # Crawl-delay respected per host


def test_robots_txt_5xx_means_disallow_all(replay):
    replay.add("/robots.txt", b"down", status=500)
    with pytest.raises(RobotsDisallowed, match="RFC 9309"):
        client(retries=0).get(replay.url("/page"), robots=True)


def test_robots_txt_404_means_allow(replay):
    replay.add("/page", b"ok")
    assert client().get(replay.url("/page"), robots=True).content == b"ok"


def test_per_host_min_interval(replay):
    replay.add("/a", b"ok")
    c = client(min_interval_s=0.4)
    started = time.monotonic()
    for _ in range(3):
        c.get(replay.url("/a"))
    assert time.monotonic() - started >= 0.75


def test_text_decoding_non_utf8():
    latin = Fetched("http://x", 200, {"content-type": "text/plain"}, "Caf\u00e9 \u00e0 Anvers".encode("cp1252"))
    assert latin.text == "Caf\u00e9 \u00e0 Anvers"
    declared = Fetched("http://x", 200, {"content-type": "text/plain; charset=iso-8859-1"}, "Hafen Br\u00e9men".encode("latin-1"))
    assert declared.text == "Hafen Br\u00e9men"


@pytest.mark.parametrize("body", [b"", b"   ", b"{not json", b'{"a": [1, 2'])
def test_malformed_json_is_a_parse_error(body):
    with pytest.raises(ParseError):
        Fetched("http://x", 200, {}, body).json()


def test_private_hosts_allowlist_trusts_only_the_mirror(replay):
    replay.add("/ok", b"mirror")
    host = replay.url().split("//", 1)[1]
    c = HttpClient(HttpSettings(min_interval_s=0, private_hosts=[host]))
    assert c.get(replay.url("/ok")).content == b"mirror"
    for other in ("http://127.0.0.2/secret", "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/"):
        with pytest.raises(AddressRefused):
            c.get(other)


def test_ordinary_page_with_a_challenge_script_is_not_blocked(replay):
    page = (b"<html><head><title>Ports weigh LOGINK risks</title></head><body><p>Article text.</p>"
            b'<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script></body></html>')
    replay.add("/article", page, content_type="text/html")
    assert client().get(replay.url("/article")).content == page
    replay.add("/wait", b"<html><head><title>Just a moment...</title></head><body>checking</body></html>", content_type="text/html")
    with pytest.raises(BlockedError):
        client().get(replay.url("/wait"))


# -- deadlines: one exchange (connect + status line + headers + body) and the call with its retries ---

SLACK_S = 0.5  # the watchdog's reaction plus thread scheduling on a loaded two-core machine

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 400\r\n\r\n"
TRICKLES = {  # what is sent at once, what follows one byte at a time
    "status-line": (b"", HEAD + b"x" * 400),
    "headers": (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"y" * 400 + b"\r\n"),
    "body": (HEAD, b"x" * 400),
}


@pytest.mark.parametrize("part", sorted(TRICKLES))
def test_a_trickling_upstream_ends_at_the_deadline(raw, part):
    head, rest = TRICKLES[part]
    server = raw(trickle(head, rest, every_s=0.1))  # each read returns within 0.1 s: timeout_s never fires
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"timed out: deadline_s = 1 \(connect \+ status line \+ headers \+ body\)"):
        client(timeout_s=5, deadline_s=1, retries=0).get(server.url())
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.0 + SLACK_S, elapsed
    wait_for(lambda: server.closed_at)  # the connection was really closed, not left trickling
    assert server.closed_at[0] - started < 1.0 + SLACK_S + 0.3


def test_an_exchange_cut_at_its_deadline_is_not_retried(raw):
    server = raw(trickle(b"", HEAD + b"x" * 400, every_s=0.1))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"deadline_s = 1 .*\(http://127.0.0.1:\d+/\)$"):
        client(timeout_s=5, deadline_s=1, retries=3).get(server.url())
    assert 1.0 <= time.monotonic() - started < 1.0 + SLACK_S
    assert server.connections == 1


def test_retries_share_the_total_deadline(raw):
    slow_503 = respond(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy", delay_s=0.6)  # each within deadline_s
    server = raw(slow_503)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"total_deadline_s = 1.5 \(the request with its retries and redirects\)"):
        client(timeout_s=5, deadline_s=1, total_deadline_s=1.5, retries=5, backoff_factor=0).get(server.url())
    elapsed = time.monotonic() - started
    assert server.connections == 3  # 0.6 s + 0.6 s, then the third exchange is cut by the total
    assert 1.5 <= elapsed < 1.5 + SLACK_S, elapsed


def test_retry_after_sleep_stops_at_the_total_deadline(replay):
    replay.add("/a", b"busy", status=503, headers={"Retry-After": "60"})
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="total_deadline_s = 1"):
        client(max_retry_after_s=60, total_deadline_s=1, retries=3).get(replay.url("/a"))
    assert 1.0 <= time.monotonic() - started < 1.0 + SLACK_S
    assert replay.hits("/a") == 1


def test_deadline_per_call_override(raw):
    server = raw(trickle(HEAD, b"x" * 400, every_s=0.1))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="deadline_s = 0.5 "):
        client(timeout_s=5, deadline_s=60, retries=0).get(server.url(), deadline_s=0.5)
    assert 0.5 <= time.monotonic() - started < 0.5 + SLACK_S


def test_a_connection_reused_after_its_deadline_is_fine(replay):
    replay.add("/a", b"ok")
    c = client(deadline_s=0.3)
    assert c.get(replay.url("/a")).content == b"ok"
    time.sleep(0.5)  # the first exchange's deadline passes while the connection idles in the pool
    assert c.get(replay.url("/a")).content == b"ok"
    assert c.post(replay.url("/a"), data=b"q").content == b"ok"


def test_a_fast_body_within_the_deadline_is_read_whole(raw):
    server = raw(trickle(HEAD, b"x" * 400, every_s=0.001))
    assert client(deadline_s=5, retries=0).get(server.url()).content == b"x" * 400


def wait_for(condition, timeout_s: float = 3.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)


# -- [http] configuration: every number finite, the deadlines and limits positive -------------------

@pytest.mark.parametrize(("key", "value"), [("timeout_s", "nan"), ("timeout_s", "inf"), ("extract_timeout_s", "-0.5")])
def test_bad_http_numbers_exit_2_with_one_line_naming_the_key(tmp_path, key, value):
    import subprocess
    import sys

    bad = tmp_path / "bad.toml"
    bad.write_text(f"[http]\n{key} = {value}\n")
    proc = subprocess.run([sys.executable, "-m", "tracker", "--config", str(bad), "sources"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"http.{key}: must be a finite number" in lines[0] and lines[0].endswith(value), proc.stderr


@pytest.mark.parametrize("key", ["timeout_s", "deadline_s", "total_deadline_s", "extract_timeout_s", "min_interval_s"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1.0"])
def test_non_finite_or_negative_http_numbers_are_refused(tmp_path, key, value):
    from tracker.config import ConfigError, load_config

    path = tmp_path / "bad.toml"
    path.write_text(f"[http]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=f"^http.{key}: must be a finite number"):
        load_config(str(path))


@pytest.mark.parametrize("key", ["timeout_s", "deadline_s", "total_deadline_s", "extract_timeout_s", "max_bytes", "extract_max_pages", "extract_max_chars", "extract_max_xml_bytes",
                                 "extract_max_content_bytes", "extract_memory_mb"])
def test_zero_size_limits_are_refused(tmp_path, key):
    from tracker.config import ConfigError, load_config

    path = tmp_path / "bad.toml"
    path.write_text(f"[http]\n{key} = 0\n")
    with pytest.raises(ConfigError, match=f"http.{key}: must be greater than 0"):
        load_config(str(path))


def test_http_keys_reach_the_client_and_the_extraction_limits(tmp_path):
    from crawler import limits
    from tracker.config import load_config

    path = tmp_path / "ok.toml"
    path.write_text("[http]\ndeadline_s = 7\ntotal_deadline_s = 20\nextract_max_pages = 12\nextract_timeout_s = 3.5\n")
    settings = load_config(str(path)).http
    assert (settings.deadline_s, settings.total_deadline_s) == (7, 20)
    before = limits.current()
    try:
        HttpClient(settings)
        assert limits.current().max_pages == 12 and limits.current().timeout_s == 3.5
    finally:
        limits.configure(before)


def test_a_trickling_upstream_fails_the_run_at_the_deadline_and_stores_nothing(env, raw):
    from tests import test_federal_register as fr

    server = raw(trickle(b"", HEAD + b"x" * 400, every_s=0.1))
    env.configure({"federal-register": {"base_url": server.url("/api/v1")}}, http="deadline_s = 1",
                  extra='[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]')
    assert fr.LISTING  # the listing is the first request the source makes
    started = time.monotonic()
    result = env.run("crawl", "federal-register", "--no-nlp")
    assert time.monotonic() - started < 1 + 2  # the deadline, plus start-up and recording the run
    assert result.exit_code == 1 and "timed out: deadline_s = 1 " in result.output, result.output
    db = env.db()
    run = next(db["crawl_runs"].rows)
    assert run["status"] == "failed" and run["finished_at"] and "timed out" in run["message"]
    assert db["documents"].count == 0 and db["sources"].get("federal-register")["watermark"] is None
