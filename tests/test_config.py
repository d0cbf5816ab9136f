"""Configuration: packaged defaults, lookup order, overrides, and one-line errors naming the key (exit 2)."""

from __future__ import annotations

import pytest

from tracker.config import ConfigError, load_config


def write(tmp_path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_packaged_defaults_cover_every_source():
    from crawler.registry import SOURCES

    config = load_config(None)
    assert set(config.sources) == set(SOURCES)
    assert config.topics["logink"].entities[0] == "platform:logink"
    assert "LOGINK" in config.topics["logink"].terms
    assert config.http.allow_private_addresses is False


def test_user_file_merges_over_defaults(tmp_path):
    config = load_config(write(tmp_path, '[sources.federal-register]\nbase_url = "http://127.0.0.1:9/api"\n[http]\ntimeout_s = 5\n'))
    assert config.sources["federal-register"].base_url == "http://127.0.0.1:9/api"
    assert config.sources["federal-register"].options["overlap_days"] == 3  # default kept
    assert config.http.timeout_s == 5 and config.http.max_bytes == 50_000_000


def test_topics_are_configuration(tmp_path):
    config = load_config(write(tmp_path, '[topics.nuctech]\nterms = ["Nuctech", "scanner"]\n'))
    assert list(config.topics) == ["nuctech"] and config.topics["nuctech"].terms == ["Nuctech", "scanner"]


def test_env_var_and_db_override(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_CONFIG", write(tmp_path, '[database]\npath = "/tmp/x.db"\n'))
    assert load_config(None).database_path == "/tmp/x.db"
    assert load_config(None, db_override="/tmp/y.db").database_path == "/tmp/y.db"


def test_secret_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "s3cret")
    config = load_config(write(tmp_path, '[sources.govinfo]\napi_key_env = "MY_KEY"\n'))
    assert config.sources["govinfo"].settings().api_key == "s3cret"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[http]\ntimeout_s = 'soon'\n", "http.timeout_s"),
        ("[http]\nmax_bytes = -1\n", "http.max_bytes"),
        ("[http]\ntimout_s = 3\n", "http.timout_s"),
        ("[http]\nallow_private_addresses = 'yes'\n", "http.allow_private_addresses"),
        ("[sources.nope]\nenabled = true\n", "sources.nope"),
        ("[sources.gdelt]\nbase_url = 'ftp://x'\n", "sources.gdelt.base_url"),
        ("[sources.gdelt]\ninterval = 'weekly'\n", "sources.gdelt.interval"),
        ("[sources.gdelt]\nenabled = 'no'\n", "sources.gdelt.enabled"),
        ("[sources.govinfo]\napi_key = 'abc'\n", "sources.govinfo.api_key"),
        ("[topics.x]\nterms = 'LOGINK'\n", "topics.x.terms"),
        ("[topics.x]\nlanguages = ['en']\n", "topics.x"),
        ("[digest]\nsubscribers = [{email = 'nobody'}]\n", "digest.subscribers[0].email"),
        ("[[digest.subscribers]]\nemail = 'a@b.org'\ntopics = ['nope']\n", "digest.subscribers[0].topics"),
        ("[wat]\nx = 1\n", "wat"),
        ("[digest]\ntimezone = ''\n", "digest.timezone"),  # no silent fallback to UTC: the default is in defaults.toml
        ("[digest]\nmax_documents = 0\n", "digest.max_documents"),
        ("[sources.gdelt]\nexpect_results = 'no'\n", "sources.gdelt.expect_results"),
    ],
)
def test_invalid_config_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert str(info.value).startswith(key + ":")
    assert "\n" not in str(info.value)


def test_unreadable_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[http\n"))
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read|invalid TOML"):
        load_config(str(binary))


def test_digest_section_is_typed_with_the_packaged_defaults(tmp_path):
    config = load_config(write(tmp_path, "[digest]\nschedule = 'daily 18:30'\n"))
    assert config.digest.schedule.days == tuple(range(7)) and (config.digest.schedule.hour, config.digest.schedule.minute) == (18, 30)
    assert config.digest.timezone == "Europe/Brussels" and config.digest.tz.key == "Europe/Brussels"  # from defaults.toml
    assert config.digest.sender == "policy-tracker <tracker@localhost>" and config.digest.smtp_url_env == "TRACKER_SMTP_URL"
    assert (config.digest.max_documents, config.digest.first_digest_days, config.digest.send_empty) == (10, 7, False)
    assert config.digest.find_subscriber("X@example.org").topics == []  # an ad-hoc subscriber gets every topic
