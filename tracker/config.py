"""Configuration: TOML merged over the packaged defaults, validated into typed objects.

Lookup order: ``--config PATH``, else ``$TRACKER_CONFIG``, else ``./tracker.toml``, else the packaged
defaults alone. Secrets never live in the file: a source names the environment variable that holds
its key (``api_key_env``) and the digest names the one holding the SMTP URL (``smtp_url_env``).
Every validation failure is a `ConfigError` whose message names the key; the CLI prints it on one
line and exits with status 2.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from crawler.base import SourceSettings, Topic, read_options
from crawler.http import HttpSettings
from crawler.registry import SOURCES
from tracker.subscriptions import DigestSettings, InvalidSetting, parse_digest

INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
HTTP_TYPES = {
    "user_agent": str, "min_interval_s": (int, float), "timeout_s": (int, float), "max_bytes": int,
    "allow_private_addresses": bool, "retries": int, "backoff_factor": (int, float), "max_retry_after_s": (int, float),
    "max_redirects": int, "private_hosts": list, "deadline_s": (int, float), "total_deadline_s": (int, float),
    "extract_max_pages": int, "extract_max_chars": int, "extract_max_xml_bytes": int, "extract_max_content_bytes": int,
    "extract_timeout_s": (int, float), "extract_memory_mb": int,
}
HTTP_POSITIVE = {"timeout_s", "max_bytes", "deadline_s", "total_deadline_s"} | {k for k in HTTP_TYPES if k.startswith("extract_")}
SECTIONS = {"database", "http", "nlp", "topics", "sources", "digest"}
TRACKER_KEYS = ("enabled", "base_url", "interval", "api_key_env", "expect_results", "retry_backoff")  # the rest are the source's options
DEFAULT_RETRY_BACKOFF = "15m"  # documented in defaults.toml: first retry after a failed run, doubling, capped at the interval
MIN_RETRY_BACKOFF_S = 60


class ConfigError(Exception):
    """Invalid configuration; the message starts with the offending key."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


@dataclass
class SourceConfig:
    """One ``[sources.<id>]`` section."""

    id: str
    enabled: bool
    base_url: str
    interval: str
    interval_s: float
    api_key_env: str | None
    options: dict = field(default_factory=dict)
    expect_results: bool = True  # source health: zero results from a successful run is a warning
    retry_backoff_s: float = 900.0  # `tracker run`: a failed source is retried after this, doubling per failure

    def settings(self) -> SourceSettings:
        """What the crawler sees: the base URL, the key read from the environment, the other options."""
        api_key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return SourceSettings(base_url=self.base_url, api_key=api_key, options=dict(self.options))


@dataclass
class Config:
    """The whole validated configuration."""

    path: Path | None
    database_path: str
    http: HttpSettings
    sources: dict[str, SourceConfig]
    topics: dict[str, Topic]
    digest: DigestSettings
    nlp: dict
    raw: dict

    def topic_list(self) -> list[Topic]:
        return list(self.topics.values())


def parse_interval(value: object, key: str) -> float:
    """``"6h"`` -> 21600.0; units s, m, h, d, w."""
    match = INTERVAL.match(str(value))
    if not match:
        raise ConfigError(key, f"expected an interval like '30m', '6h', '1d' or '1w', got {value!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def packaged_defaults() -> dict:
    """The defaults shipped in the package."""
    return tomllib.loads(resources.files("tracker").joinpath("defaults.toml").read_text("utf-8"))


def find_config_path(explicit: str | None) -> Path | None:
    """The config file to read: --config, else $TRACKER_CONFIG, else ./tracker.toml if present."""
    if explicit:
        return Path(explicit)
    if os.environ.get("TRACKER_CONFIG"):
        return Path(os.environ["TRACKER_CONFIG"])
    local = Path("tracker.toml")
    return local if local.exists() else None


def load_config(explicit: str | None = None, db_override: str | None = None) -> Config:
    """Read, merge and validate the configuration; raises `ConfigError`."""
    path = find_config_path(explicit)
    user: dict = {}
    if path is not None:
        try:
            user = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError("--config", f"file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("--config", f"cannot read {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), f"invalid TOML: {exc}") from None
        except RecursionError:  # tomllib recurses once per nesting level ("a = [[[[...]]]]")
            raise ConfigError(str(path), "invalid TOML: arrays or tables nested too deeply") from None
    for key in user:
        if key not in SECTIONS:
            raise ConfigError(key, f"unknown section; expected one of {', '.join(sorted(SECTIONS))}")
    _check_finite(user, "")
    raw = _merge(packaged_defaults(), user)
    if user.get("topics"):  # a user's topics replace the packaged ones
        raw["topics"] = user["topics"]

    http_raw = _table(raw, "http")
    for key, value in http_raw.items():
        expected = HTTP_TYPES.get(key)
        if expected is None:
            raise ConfigError(f"http.{key}", "unknown key")
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ConfigError(f"http.{key}", f"expected {_type_name(expected)}, got {value!r}")
        if expected is list:
            if not all(isinstance(v, str) and v for v in value):
                raise ConfigError(f"http.{key}", "expected a list of host or host:port strings")
            continue
        if expected is not bool and expected is not str and not (0 <= value < float("inf")):  # NaN fails too
            raise ConfigError(f"http.{key}", f"must be a finite number, not negative, got {value!r}")
        if key in HTTP_POSITIVE and value == 0:
            raise ConfigError(f"http.{key}", "must be greater than 0")
    http = HttpSettings(**http_raw)

    sources = {}
    for source_id, section in _table(raw, "sources").items():
        if source_id not in SOURCES:
            raise ConfigError(f"sources.{source_id}", f"unknown source id; known: {', '.join(SOURCES)}")
        sources[source_id] = _source(source_id, section, SOURCES[source_id])
    for source_id, cls in SOURCES.items():
        sources.setdefault(source_id, _source(source_id, {}, cls))

    topics = {}
    for name, section in _table(raw, "topics").items():
        if not isinstance(section, dict):
            raise ConfigError(f"topics.{name}", "expected a table with entities and terms")
        for key in ("entities", "terms", "languages"):
            value = section.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ConfigError(f"topics.{name}.{key}", "expected a list of non-empty strings")
        if not section.get("entities") and not section.get("terms"):
            raise ConfigError(f"topics.{name}", "needs at least one of entities or terms")
        topics[name] = Topic(name, list(section.get("entities", [])), list(section.get("terms", [])),
                             list(section.get("languages", ["en"])))

    database_path = db_override or _table(raw, "database").get("path") or "tracker.db"
    if not isinstance(database_path, str):
        raise ConfigError("database.path", f"expected a string, got {database_path!r}")
    try:
        digest = parse_digest(_table(raw, "digest"), topics, sources)
    except InvalidSetting as exc:
        raise ConfigError(exc.key, exc.message) from None
    _check_followed_dossiers(digest, sources, database_path)
    return Config(path, database_path, http, sources, topics, digest, _table(raw, "nlp"), raw)


def configured_dossiers(sources: dict[str, "SourceConfig"]) -> set[str]:
    """The dossier keys the sources are configured to crawl (congress-gov ``bills``, ep-oeil ``procedures``)."""
    from crawler.sources._congress_bills import normalise_bill_id  # only when a subscriber follows a dossier
    from crawler.sources._ep_common import dossier_key, normalise_reference

    bills = sources["congress-gov"].options.get("bills", SOURCES["congress-gov"].options["bills"].default)
    procedures = sources["ep-oeil"].options.get("procedures", SOURCES["ep-oeil"].options["procedures"].default)
    return ({f"us-bill:{b}" for b in map(normalise_bill_id, bills) if b}
            | {dossier_key(r) for r in map(normalise_reference, procedures) if r})


def _check_followed_dossiers(digest: DigestSettings, sources: dict[str, "SourceConfig"], database_path: str) -> None:
    """A followed dossier must exist: stored in the database, or configured for a source to crawl. Before
    the database exists only the id's form is checked (`tracker.subscriptions`)."""
    followed = [(i, d) for i, sub in enumerate(digest.subscribers) for d in sub.dossiers]
    if not followed or not Path(database_path).is_file():
        return
    from db.dossiers import dossier_keys  # only when a subscriber follows a dossier
    from db.schema import connect

    try:
        db = connect(database_path, read_only=True)
        try:
            known = dossier_keys(db)
        finally:
            db.conn.close()
    except Exception:  # sqlite3.DatabaseError and the like: the commands that open it report the file
        return
    known |= configured_dossiers(sources)
    for i, dossier in followed:
        if dossier not in known:
            raise ConfigError(f"digest.subscribers[{i}].dossiers", f"unknown dossier {dossier!r}: not in {database_path} "
                              "and not configured for a source to crawl (congress-gov bills, ep-oeil procedures)")


def _source(source_id: str, section: object, cls) -> SourceConfig:
    key = f"sources.{source_id}"
    if not isinstance(section, dict):
        raise ConfigError(key, "expected a table")
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{key}.enabled", f"expected true or false, got {enabled!r}")
    base_url = section.get("base_url", cls.default_base_url)
    if not isinstance(base_url, str) or (base_url and not re.match(r"^https?://", base_url)):
        raise ConfigError(f"{key}.base_url", f"expected an http(s) URL, got {base_url!r}")
    interval = section.get("interval", cls.default_interval)
    interval_s = parse_interval(interval, f"{key}.interval")
    api_key_env = section.get("api_key_env")
    if api_key_env is not None and not (isinstance(api_key_env, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", api_key_env)):
        raise ConfigError(f"{key}.api_key_env", f"expected an environment variable name, got {api_key_env!r}")
    if "api_key" in section:
        raise ConfigError(f"{key}.api_key", "secrets are not read from the file: name an environment variable with api_key_env")
    expect_results = section.get("expect_results", True)
    if not isinstance(expect_results, bool):
        raise ConfigError(f"{key}.expect_results", f"expected true or false, got {expect_results!r}")
    backoff = section.get("retry_backoff", DEFAULT_RETRY_BACKOFF)
    backoff_s = parse_interval(backoff, f"{key}.retry_backoff")
    if backoff_s < MIN_RETRY_BACKOFF_S:
        raise ConfigError(f"{key}.retry_backoff", f"must be at least 1m, got {backoff!r}")
    options = {k: v for k, v in section.items() if k not in TRACKER_KEYS}
    try:  # the source's own declared options, checked now rather than when it first runs
        read_options(source_id, cls.option_specs(), options)
    except ValueError as exc:
        name, _, message = str(exc).partition(": ")
        raise ConfigError(name, message) from None
    return SourceConfig(source_id, enabled, base_url, str(interval), interval_s, api_key_env, options, expect_results,
                        backoff_s)


def _check_finite(value: object, key: str) -> None:
    """Every number in the user's file is finite: TOML's ``nan`` and ``inf`` are refused for any key
    (the typed checks then judge ranges), naming the key."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if isinstance(value, dict):
        for name, item in value.items():
            _check_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(item, f"{key}[{index}]")


def _table(raw: dict, key: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(key, "expected a table")
    return value


def _type_name(expected) -> str:
    names = {str: "a string", bool: "true or false", int: "an integer", list: "a list"}
    return names.get(expected, "a number")
