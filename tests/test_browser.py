"""End to end in a real browser: crawl the recorded Federal Register upstream with NLP, start
`tracker serve` as a subprocess on a free port, then drive headless Chromium: search for LOGINK,
open a document, its mentions and one mention, read the highlighted sentence, follow the versions
link, and check that the dashboard draws its metric and charts.

Needs Debian's chromium at /usr/bin/chromium (.ci/run installs it): the test fails, never skips,
when it is missing.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_federal_register import configure, serve_fr

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"tracker serve exited with {process.returncode}: {process.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"tracker serve did not answer on {url} within {timeout} s")


@pytest.fixture
def served(env, replay):
    """A database filled by a real crawl (with NLP), served by `tracker serve` in a subprocess."""
    serve_fr(replay)
    configure(env, replay)
    assert env.run("init").exit_code == 0
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k != "TRACKER_PASSWORD_HASH"}
    process = subprocess.Popen(  # boots while the crawl runs: Datasette sees the new rows on each request
        [sys.executable, "-m", "tracker", "--config", str(env.config_path), "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        result = env.run("crawl", "federal-register")
        assert result.exit_code == 0, result.output
        assert env.db().execute("select count(*) from mentions where entity_id = 'platform:logink'").fetchone()[0] > 0
        _wait_until_up(base + "/-/versions.json", process)
        yield base, env.db_path.stem, env.db()["mentions"].count
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_search_open_a_mention_and_see_it_highlighted(served, tmp_path):
    assert CHROMIUM.exists(), "chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)"
    from playwright.sync_api import sync_playwright

    base, db, total_mentions = served
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{base}/{db}/documents")
            page.fill("input[name=_search]", "LOGINK")
            page.press("input[name=_search]", "Enter")
            page.wait_for_url("**_search=LOGINK**")
            results = page.locator("table.rows-and-columns tbody tr")
            heading = " ".join(page.locator("h3").first.inner_text().split())
            assert re.fullmatch(r'(\d+) rows? where search matches "LOGINK" sorted by id descending', heading), heading
            assert results.count() == int(heading.split()[0]) == 2  # the proposed action and the final action name LOGINK

            # open the first result, then the mentions found in it
            results.first.locator("td.col-id a").click()
            page.wait_for_url(f"**/{db}/documents/*")
            page.locator("a[href*='/mentions?document_id=']").first.click()
            page.wait_for_url("**/mentions?document_id=*")

            # open a mention of LOGINK and read it in context
            row = page.locator("table.rows-and-columns tbody tr", has=page.locator("td.col-entity_id", has_text="platform:logink")).first
            mention_text = row.locator("td.col-text").inner_text().strip()
            row.locator("td.col-id a").click()
            page.wait_for_url(f"**/{db}/mentions/*")
            mark = page.locator("p.mention-sentence mark")
            assert mark.count() == 1
            assert mark.inner_text() == mention_text
            assert "LOGINK" in mention_text.upper() or "platform" in mention_text.lower()
            sentence = page.locator("p.mention-sentence").inner_text()
            assert len(sentence) > len(mention_text)
            original = page.locator("a.mention-original").get_attribute("href")
            assert original.startswith("http") and "/documents/" in original
            page.locator("a.mention-versions").click()
            page.wait_for_url("**/document_versions?document_id=*")
            assert page.locator("table.rows-and-columns tbody tr").count() == 1

            # the dashboard renders its metric and its Vega-Lite charts from the served data
            page.goto(f"{base}/-/dashboards/mentions")
            page.wait_for_selector("#chart-total-mentions p")
            assert page.locator("#chart-total-mentions p").inner_text() == str(total_mentions)
            page.wait_for_selector("#chart-by-stance canvas, #chart-by-stance svg")
            page.wait_for_selector("#chart-by-jurisdiction canvas, #chart-by-jurisdiction svg")
        finally:
            browser.close()
