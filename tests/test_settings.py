"""The settings table: names, types, defaults, the environment override (SPEC "Settings")."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from linkback import OPTIONS, ConfigError, Settings
from tests.conftest import SPEC_TABLE


def test_defaults_are_those_of_the_spec() -> None:
    settings = Settings.from_mapping({}, environ={})
    for name, default in SPEC_TABLE.items():
        assert getattr(settings, name) == default, name
    assert settings.user_agent is None
    assert {option.name for option in OPTIONS} == set(SPEC_TABLE) | {"user_agent"}


def test_pelican_names_are_read() -> None:
    settings = Settings.from_mapping(
        {"LINKBACK_SEND": True, "LINKBACK_TIMEOUT": 3, "LINKBACK_PROTOCOLS": ["pingback"]},
        spelling="pelican",
        environ={},
    )
    assert settings.send is True
    assert settings.timeout == 3
    assert settings.protocols == ("pingback",)


@pytest.mark.parametrize(
    ("name", "spelling", "closest"),
    [
        ("LINKBACK_SENTLOG", "pelican", "LINKBACK_SENT_LOG"),
        ("LINKBACK_TIMEOUTS", "pelican", "LINKBACK_TIMEOUT"),
        ("sentlog", "plain", "sent_log"),
        ("check_lives", "plain", "check_live"),
    ],
)
def test_unknown_name_suggests_the_closest(name: str, spelling: str, closest: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_mapping({name: "x"}, spelling=spelling, environ={})
    message = str(error.value)
    assert name in message
    assert closest in message


def test_unknown_name_without_a_close_one_is_still_refused() -> None:
    with pytest.raises(ConfigError, match="LINKBACK_ZZZZZZZZ"):
        Settings.from_mapping({"LINKBACK_ZZZZZZZZ": 1}, spelling="pelican", environ={})


def test_a_plain_name_is_unknown_in_pelican_spelling() -> None:
    with pytest.raises(ConfigError, match="send"):
        Settings.from_mapping({"send": True}, spelling="pelican", environ={})


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("LINKBACK_TIMEOUT", "soon", "number"),
        ("LINKBACK_CONCURRENCY", 2.5, "whole number"),
        ("LINKBACK_CONCURRENCY", [1], "integer"),
        ("LINKBACK_SEND", "maybe", "boolean"),
        ("LINKBACK_SEND", 2, "boolean"),
        ("LINKBACK_PROTOCOLS", [1, 2], "list of strings"),
        ("LINKBACK_SENT_LOG", 12, "string"),
        ("LINKBACK_EXCLUDE", {"a": 1}, "list of strings"),
    ],
)
def test_ill_typed_value_names_setting_and_type(name: str, value: object, kind: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_mapping({name: value}, spelling="pelican", environ={})
    message = str(error.value)
    assert name in message
    assert kind in message


def test_ill_typed_value_in_plain_spelling_names_the_plain_setting() -> None:
    with pytest.raises(ConfigError, match=r"^timeout\b.*number"):
        Settings.from_mapping({"timeout": "soon"}, environ={})


def test_zero_or_negative_limits_are_refused() -> None:
    for name in ("timeout", "concurrency", "per_host", "max_page_bytes", "max_attempts"):
        with pytest.raises(ConfigError, match=name):
            Settings.from_mapping({name: 0}, environ={})


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ConfigError, match="smoke-signal"):
        Settings.from_mapping({"protocols": ["webmention", "smoke-signal"]}, environ={})


def test_bad_exclude_pattern_is_refused() -> None:
    with pytest.raises(ConfigError, match="exclude"):
        Settings.from_mapping({"exclude": ["("]}, environ={})


def test_strings_from_the_command_line_are_converted() -> None:
    settings = Settings.from_mapping(
        {"send": "yes", "timeout": "2.5", "per_host": "4", "check_live": "off"}, environ={}
    )
    assert settings.send is True
    assert settings.timeout == 2.5
    assert settings.per_host == 4
    assert settings.check_live is False


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False)])
@pytest.mark.parametrize("configured", [True, False])
def test_environment_overrides_send(value: str, expected: bool, configured: bool) -> None:
    settings = Settings.from_mapping(
        {"LINKBACK_SEND": configured}, spelling="pelican", environ={"LINKBACK_SEND": value}
    )
    assert settings.send is expected


def test_environment_override_is_read_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKBACK_SEND", "1")
    assert Settings.from_mapping({}).send is True
    monkeypatch.setenv("LINKBACK_SEND", "0")
    assert Settings.from_mapping({"send": True}).send is False


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="LINKBACK_SEND"):
        Settings.from_mapping({}, environ={"LINKBACK_SEND": "perhaps"})


def test_sent_log_is_relative_to_the_settings_folder(tmp_path: Path) -> None:
    settings = Settings.from_mapping({}, base_dir=tmp_path, environ={})
    assert settings.sent_log_path == tmp_path / "linkback-sent.json"
    absolute = tmp_path / "elsewhere" / "log.json"
    settings = Settings.from_mapping({"sent_log": str(absolute)}, base_dir=tmp_path, environ={})
    assert settings.sent_log_path == absolute


@pytest.mark.parametrize("site_url", ["", "/blog", "my.blog", "ftp://my.blog"])
def test_sending_needs_an_absolute_http_site_url(site_url: str, tmp_path: Path) -> None:
    settings = Settings.from_mapping({}, site_url=site_url, base_dir=tmp_path, environ={})
    with pytest.raises(ConfigError, match="site"):
        settings.check_for_sending()


def test_sent_log_inside_the_output_folder_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "output"
    settings = Settings.from_mapping(
        {"sent_log": "output/linkback-sent.json"},
        site_url="https://my.blog",
        base_dir=tmp_path,
        environ={},
    )
    with pytest.raises(ConfigError, match="output"):
        settings.check_for_sending(output)
    settings.check_for_sending(tmp_path / "elsewhere")


def test_user_agent_names_linkback_and_the_site() -> None:
    settings = Settings.from_mapping({}, site_url="https://my.blog", environ={})
    assert settings.agent.startswith("linkback/")
    assert "https://my.blog" in settings.agent
    custom = Settings.from_mapping({"user_agent": "Mine/1"}, environ={})
    assert custom.agent == "Mine/1"


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", float("inf"), float("nan")])
@pytest.mark.parametrize(
    ("name", "spelling"),
    [
        ("LINKBACK_TIMEOUT", "pelican"),
        ("timeout", "plain"),
        ("--timeout", "cli"),
        ("LINKBACK_CONCURRENCY", "pelican"),
        ("max_page_bytes", "plain"),
    ],
)
def test_numbers_must_be_finite_in_every_spelling(name: str, spelling: str, value: object) -> None:
    """inf would kill the deadline thread; nan compares false with every limit."""
    key = name.removeprefix("--").replace("-", "_")
    with pytest.raises(ConfigError) as error:
        Settings.from_mapping({key: value}, spelling=spelling, environ={})
    message = str(error.value)
    assert name in message
    assert "finite" in message or "integer" in message


@pytest.mark.parametrize("site_url", ["http://[::1", "https://my.blog:port/"])
def test_a_site_url_that_does_not_parse_is_a_configuration_error(site_url: str) -> None:
    with pytest.raises(ConfigError, match="URL"):
        Settings.from_mapping({}, site_url=site_url, environ={})


@pytest.mark.parametrize("endpoint", ["ftp://my.blog/wm", "javascript:alert(1)", "http://[::1/"])
def test_endpoints_must_be_http_urls(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="LINKBACK_WEBMENTION_ENDPOINT"):
        Settings.from_mapping(
            {"LINKBACK_WEBMENTION_ENDPOINT": endpoint}, spelling="pelican", environ={}
        )
    relative = Settings.from_mapping({"webmention_endpoint": "/webmention"}, environ={})
    assert relative.webmention_endpoint == "/webmention"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("LINKBACK_TIMEOUT", "2.5", 2.5),
        ("LINKBACK_ALLOW_PRIVATE", "yes", True),
        ("LINKBACK_PROTOCOLS", "pingback, webmention", ("pingback", "webmention")),
        ("LINKBACK_EXCLUDE", '["a{1,3}", "b"]', ("a{1,3}", "b")),
        ("LINKBACK_USER_AGENT", "", None),
        ("LINKBACK_SINCE", "2024-02-29", date(2024, 2, 29)),
        ("LINKBACK_SEND_UPDATES", "0", False),
    ],
)
def test_every_setting_has_an_environment_variable(name: str, text: str, expected: object) -> None:
    settings = Settings.from_mapping({}, environ={name: text})
    assert getattr(settings, name.removeprefix("LINKBACK_").lower()) == expected


def test_the_environment_wins_over_the_file_and_the_command_line_over_both() -> None:
    environ = {"LINKBACK_TIMEOUT": "4", "LINKBACK_PER_HOST": "3"}
    settings = Settings.from_mapping(
        {"LINKBACK_TIMEOUT": 9, "LINKBACK_CONCURRENCY": 5},
        spelling="pelican",
        environ=environ,
        overrides={"per_host": "7"},
    )
    assert (settings.timeout, settings.per_host, settings.concurrency) == (4, 7, 5)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LINKBACK_CONCURRENCY": "many"}, "environment variable LINKBACK_CONCURRENCY"),
        ({"LINKBACK_SINCE": "2024-13-01"}, "LINKBACK_SINCE must be a date"),
        ({"LINKBACK_SINCE": "last year"}, "LINKBACK_SINCE must be a date"),
        ({"LINKBACK_EXCLUDE": "[1"}, "LINKBACK_EXCLUDE is not a JSON list"),
        ({"LINKBACK_SNED": "0"}, "LINKBACK_SNED; did you mean LINKBACK_SEND"),
        ({"LINKBACK_SENTLOG": "x.json"}, "did you mean LINKBACK_SENT_LOG"),
    ],
)
def test_a_bad_environment_variable_is_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_mapping({}, environ=environ)


def test_other_linkback_variables_of_the_environment_are_not_errors() -> None:
    """The HTTP client's test hook, the receiving service's options, other tools' names."""
    environ = {
        "LINKBACK_RESOLVE": "blog.test:*:127.0.0.1",
        "LINKBACK_ADMIN_TOKEN": "secret",
        "LINKBACK_VERIFY_TIMEOUT": "3",
        "LINKBACK_DB": "linkback.sqlite",
        "LINKBACK_SOMETHING_ELSE": "x",
    }
    assert Settings.from_mapping({}, environ=environ) == Settings.from_mapping({}, environ={})


@pytest.mark.parametrize(
    "value", [date(2020, 5, 1), datetime(2020, 5, 1, 12, 30), "2020-05-01", " 2020-05-01 "]
)
def test_since_is_a_date_however_it_is_written(value: object) -> None:
    """MkDocs' YAML reads an unquoted date as a date; a Pelican file may write a datetime."""
    settings = Settings.from_mapping({"LINKBACK_SINCE": value}, spelling="pelican", environ={})
    assert settings.since == date(2020, 5, 1)


@pytest.mark.parametrize("value", ["2020-5-1", "01/05/2020", 2020, "2020-02-30"])
def test_since_must_be_a_real_iso_date(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^since must be a date \(YYYY-MM-DD\)"):
        Settings.from_mapping({"since": value}, environ={})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LINKBACK_PROTOCOLS", "webmention,smoke", "LINKBACK_PROTOCOLS: unknown protocol 'smoke'"),
        ("LINKBACK_AVATARS", "gravatar", "LINKBACK_AVATARS: must be one of local, remote, none"),
        ("LINKBACK_EXCLUDE", "(unclosed", "LINKBACK_EXCLUDE: '(unclosed' is not a regular"),
        ("LINKBACK_PINGBACK_ENDPOINT", "ftp://x/", "LINKBACK_PINGBACK_ENDPOINT must be an http"),
    ],
)
def test_an_environment_value_meets_its_options_own_rules(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape("environment variable " + message)):
        Settings.from_mapping({}, environ={variable: value})


def test_values_checked_as_they_were_read_are_kept_under_the_environment() -> None:
    """MkDocs checks each option as it reads mkdocs.yml; the core takes those values as they
    are, and the environment still wins over them."""
    settings = Settings.from_mapping(
        {}, checked={"timeout": 7.0, "send": True}, environ={"LINKBACK_SEND": "0"}
    )
    assert (settings.timeout, settings.send) == (7.0, False)
