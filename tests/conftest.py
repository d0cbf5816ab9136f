"""Shared fixtures: a replay upstream on loopback, a config writer, an in-process CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.registry import SOURCES
from tests.replay import FIXTURES, Replay
from tests.smtpserver import Inbox, free_port

os.environ.pop("TRACKER_CONFIG", None)


@pytest.fixture
def replay(httpserver) -> Replay:
    return Replay(httpserver)


class TrackerEnv:
    """A temporary installation: config file, database path, and a way to run `tracker`."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.config_path = tmp_path / "tracker.toml"
        self.db_path = tmp_path / "tracker.db"

    def configure(self, sources: dict[str, dict], extra: str = "", http: str = "") -> Path:
        """Write a config enabling only ``sources`` (id -> keys), with loopback allowed and fast retries."""
        lines = [
            "[database]", f'path = "{self.db_path}"',
            "[http]", "allow_private_addresses = true", "min_interval_s = 0", "backoff_factor = 0.01",
            "retries = 2", "timeout_s = 5", "max_retry_after_s = 2", http,
        ]
        for sid in SOURCES:
            lines.append(f"[sources.{sid}]")
            keys = sources.get(sid)
            lines.append(f"enabled = {'true' if keys is not None else 'false'}")
            for key, value in (keys or {}).items():
                lines.append(f"{key} = {_toml(value)}")
        lines.append(extra)
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.config_path

    def run(self, *args: str, input: str | None = None):
        from tracker.cli import cli

        return CliRunner().invoke(cli, ["--config", str(self.config_path), *args], input=input, catch_exceptions=False)

    def db(self):
        from db.schema import connect

        return connect(self.db_path)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def env(tmp_path) -> TrackerEnv:
    return TrackerEnv(tmp_path)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def smtp() -> Inbox:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) for the digest and tick tests."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


# The product's clock (db.clock) is fixed for every test: a Thursday morning, UTC, so no test depends on the
# date or the time of day it runs at. Tests that need another instant use `clock.frozen(...)` or `--now`.
TEST_NOW = "2026-11-26T09:30:00+00:00"


@pytest.fixture(autouse=True)
def fixed_clock():
    from db import clock

    clock.set_clock(clock.aware(TEST_NOW))
    yield clock.aware(TEST_NOW)
    clock.set_clock(None)
