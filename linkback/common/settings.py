"""The settings table, once: names, types, defaults, validation and the environment override.

Pelican spells a setting ``LINKBACK_NAME``, MkDocs and the command line spell it ``name`` /
``--name``; every spelling is checked here so that all three report a bad value the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..version import __version__

PROTOCOLS: tuple[str, ...] = ("webmention", "pingback", "trackback")
AVATARS = ("local", "remote", "none")
PELICAN_PREFIX = "LINKBACK_"
Rule = Callable[[Any], str | None]  # a value's problem, said after the option's name


class ConfigError(ValueError):
    """A setting is unknown, ill-typed or inconsistent; the build must stop."""


@dataclass(frozen=True)
class Option:
    """One row of the settings table."""

    name: str
    kind: type  # bool, int, float, str, date, list (of str)
    default: Any
    help: str
    optional: bool = False  # None is allowed
    minimum: float | None = None
    rule: Rule | None = None  # what else a value must be, beyond its type and minimum
    shown_default: str | None = None  # the default as --help says it, when not the value

    @property
    def required(self) -> bool:
        """A row without a default (:func:`required_row`)."""
        return self.default is None and not self.optional

    @property
    def pelican_name(self) -> str:
        return PELICAN_PREFIX + self.name.upper()

    @property
    def cli_name(self) -> str:
        return "--" + self.name.replace("_", "-")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_WEB = ("http", "https", "")  # an endpoint may be relative to each page
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# LINKBACK_* names of the environment that are not sending settings: the HTTP client's test
# hook, and the receiving service's options (``linkback serve``). They are never a typo.
OTHER_ENVIRONMENT_NAMES = frozenset(
    PELICAN_PREFIX + name.upper()
    for name in (
        "resolve",
        "admin_token",
        "site_url",
        "public_url",
        "db",
        "host",
        "port",
        "workers",
        "trusted_proxies",
        "verify_timeout",
        "verify_timeout_sync",
        "verify_per_host",
        "rate_limit",
        "trackback_verify",
        "max_links",
        "notify_email",
        "smtp_url",
        "notify_interval",
        "akismet_key",
        "rebuild_hook",
        "config",
    )
)


def row(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    rule: Rule | None = None,
    shown_default: str | None = None,
) -> Any:
    """A field of a settings dataclass that is a row of its table: the field gives the name,
    the type and the default, this its help, lowest value, rule and the default as help
    shows it; :func:`table` reads them."""
    return field(
        default=default,
        metadata={"help": help, "minimum": minimum, "rule": rule, "shown_default": shown_default},
    )


def required_row(help: str) -> Any:
    """A row of the table without a default (the service's ``site_url``)."""
    return field(metadata={"help": help, "minimum": None, "rule": None, "shown_default": None})


def _known_protocols(value: tuple[str, ...]) -> str | None:
    unknown = [name for name in value if name not in PROTOCOLS]
    if not unknown:
        return None
    return f": unknown protocol {unknown[0]!r}; known protocols are {', '.join(PROTOCOLS)}"


def _avatar_choice(value: str) -> str | None:
    return None if value in AVATARS else f": must be one of {', '.join(AVATARS)}, got {value!r}"


def _regular_expressions(value: tuple[str, ...]) -> str | None:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as error:
            return f": {pattern!r} is not a regular expression: {error}"
    return None


def _web_address(value: str) -> str | None:
    if is_url(value) and urlsplit(value).scheme in _WEB:
        return None
    return f" must be an http(s) URL, got {value!r}"


def table(cls: type) -> tuple[Option, ...]:
    """The rows of a settings dataclass, in field order: every option is declared once, as a
    field, and the Pelican names, the MkDocs config, the command line's options and the
    ``LINKBACK_<NAME>`` variables are all made from these rows."""
    hints = typing.get_type_hints(cls)
    rows = []
    for item in dataclasses.fields(cls):
        if "help" not in item.metadata:
            continue
        kind, optional = _kind_of(hints[item.name])
        default = None if item.default is dataclasses.MISSING else item.default
        rows.append(
            Option(
                item.name,
                kind,
                default,
                item.metadata["help"],
                optional=optional,
                minimum=item.metadata["minimum"],
                rule=item.metadata["rule"],
                shown_default=item.metadata["shown_default"],
            )
        )
    return tuple(rows)


def _kind_of(hint: Any) -> tuple[type, bool]:
    """The row's kind (``list`` for a tuple of strings) and whether None is allowed."""
    arguments = typing.get_args(hint)
    optional = type(None) in arguments
    if optional:
        hint = next(argument for argument in arguments if argument is not type(None))
    return (list if typing.get_origin(hint) is tuple else hint), optional


@dataclass(frozen=True)
class Settings:
    """Validated settings of one run; build it with :meth:`from_mapping`. Each field made
    with :func:`row` is a row of the settings table (:data:`OPTIONS`)."""

    send: bool = row(False, "send pings in this build (env LINKBACK_SEND=1/0 overrides)")
    sent_log: str = row("linkback-sent.json", "the sent-log file")
    protocols: tuple[str, ...] = row(
        PROTOCOLS, "enabled protocols, in order of preference", rule=_known_protocols
    )
    exclude: tuple[str, ...] = row(
        (), "regular expressions of URLs never pinged", rule=_regular_expressions
    )
    timeout: float = row(15.0, "seconds per HTTP request, as a total deadline", minimum=0.01)
    concurrency: int = row(32, "HTTP requests in flight in all", minimum=1)
    per_host: int = row(2, "HTTP requests in flight to one host", minimum=1)
    max_page_bytes: int = row(1_000_000, "bytes of a page read for discovery", minimum=1)
    max_attempts: int = row(3, "builds in which a failed ping is tried", minimum=1)
    user_agent: str | None = row(
        None, "User-Agent of every request", shown_default="linkback/VERSION (+SITE_URL)"
    )
    allow_private: bool = row(False, "allow loopback and private addresses (testing)")
    dry_run: bool = row(False, "discover and report; send nothing, write nothing")
    check_live: bool = row(True, "wait until the source page is live before pinging")
    webmention_endpoint: str | None = row(
        None, "advertised as <link rel=webmention>", rule=_web_address
    )
    pingback_endpoint: str | None = row(
        None, "advertised as <link rel=pingback>", rule=_web_address
    )
    trackback_endpoint: str | None = row(
        None, "base of each page's trackback URI", rule=_web_address
    )
    show_trackback_uri: bool = row(True, "show the trackback URI after the content")
    display: bool = row(False, "render approved linkbacks under each article")
    mentions_url: str | None = row(None, "jf2 feed of approved linkbacks: URL or file")
    mentions_cache: str = row("linkback-mentions.json", "local copy of the linkbacks shown")
    avatars: str = row("local", "authors' photos: local, remote or none", rule=_avatar_choice)
    since: date | None = row(
        None,
        "articles published before this date (YYYY-MM-DD) send nothing: recorded as baseline",
    )
    send_updates: bool = row(True, "send Webmentions again when a page changes or is deleted")
    # Not in the table: they come from the generator (SITEURL / site_url / --site-url).
    site_url: str = ""
    blog_name: str = ""
    base_dir: Path = field(default_factory=Path.cwd)
    exclude_patterns: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_mapping(
        cls,
        values: Mapping[str, Any],
        *,
        spelling: str = "plain",
        site_url: str = "",
        blog_name: str = "",
        base_dir: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        checked: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Validate raw settings keyed by plain names, or "pelican" (LINKBACK_*) or "cli" names.

        Three layers, each winning over the one before: ``values`` (a settings file), the
        ``LINKBACK_<NAME>`` variables of ``environ`` (the process environment by default),
        and ``overrides`` (the command line's options, keyed by plain names). ``checked``
        holds values already passed through :func:`check_value` (MkDocs checks each option
        as it reads it), taken as they are, under the three layers.

        Unknown names are refused with the closest known one, because a typo such as
        ``LINKBACK_SENTLOG`` would otherwise silently log to the default place.
        """
        environ = os.environ if environ is None else environ
        known = {
            option.pelican_name if spelling == "pelican" else option.name: option
            for option in OPTIONS
        }
        chosen: dict[str, Any] = dict(checked or {})
        for raw_name, raw_value in values.items():
            option = known.get(raw_name)
            if option is None:
                raise ConfigError(unknown_setting_message(raw_name, known))
            chosen[option.name] = check_value(option, raw_value, _spelled(option, spelling))
        chosen.update(environment_values(environ))
        for name, raw_value in (overrides or {}).items():
            option = OPTIONS_BY_NAME[name]
            chosen[name] = check_value(option, raw_value, option.cli_name)
        patterns = tuple(re.compile(pattern) for pattern in chosen.get("exclude", ()))
        if site_url and not is_url(site_url):
            raise ConfigError(f"the site URL {site_url!r} is not a URL")
        return cls(
            **chosen,
            site_url=site_url or "",
            blog_name=blog_name or "",
            base_dir=Path(base_dir) if base_dir is not None else Path.cwd(),
            exclude_patterns=patterns,
        )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def agent(self) -> str:
        """The User-Agent: site operators can tell who pinged them and find the site."""
        if self.user_agent:
            return self.user_agent
        return (
            f"linkback/{__version__} (+{self.site_url})"
            if self.site_url
            else f"linkback/{__version__}"
        )

    @property
    def sent_log_path(self) -> Path:
        path = Path(self.sent_log).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def mentions_cache_path(self) -> Path:
        """Beside the sent-log: a relative path is relative to the settings file's folder."""
        path = Path(self.mentions_cache).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    def check_for_sending(self, output_dir: str | os.PathLike[str] | None = None) -> None:
        """Refuse what would make sending wrong: no absolute site URL, a log in the output."""
        if not is_http_url(self.site_url):
            raise ConfigError(
                "linkback needs the absolute http(s) URL of the site to send pings "
                f"(got {self.site_url!r}); set SITEURL (Pelican), site_url (MkDocs) or --site-url"
            )
        if output_dir is not None:
            check_outside_output("sent_log", self.sent_log_path, output_dir)


OPTIONS = table(Settings)
OPTIONS_BY_NAME = {row.name: row for row in OPTIONS}


def check_outside_output(name: str, path: Path, output_dir: str | os.PathLike[str]) -> None:
    """A file linkback keeps between builds must not live in the output folder: it would be
    published, or deleted with the site by the next clean build."""
    out = Path(output_dir).resolve()
    resolved = path.resolve()
    if resolved == out or out in resolved.parents:
        raise ConfigError(
            f"{name} {path} is inside the output folder {out}; it would be published or "
            "deleted with the site: keep it beside the settings file"
        )


def is_url(text: str) -> bool:
    """True when ``text`` parses as a URL (``http://[::1`` does not, nor does a bad port)."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return True


def is_http_url(text: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    if not is_url(text):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def environment_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings set by ``LINKBACK_<NAME>`` variables, checked like any other value.

    A list is a JSON list (``["a", "b"]``) or comma-separated text; an empty value of a
    setting that may be None (``LINKBACK_USER_AGENT=``) means None. Another ``LINKBACK_*``
    name is ignored (it may be the receiving service's, or another tool's), unless it is so
    close to a setting's name that it must be a typo of it: ``LINKBACK_SNED=0`` would
    otherwise send.
    """
    chosen: dict[str, Any] = {}
    names = {option.pelican_name: option for option in OPTIONS}
    for name, text in environ.items():
        if not name.startswith(PELICAN_PREFIX):
            continue
        option = names.get(name)
        if option is None:
            if name not in OTHER_ENVIRONMENT_NAMES and _close(name, names, 0.8):
                raise ConfigError(
                    "environment: " + unknown_setting_message(name, list(names), cutoff=0.8)
                )
            continue
        value: Any = text
        if option.optional and not text.strip():
            value = None
        elif option.kind is list:
            value = _env_list(name, text)
        chosen[option.name] = check_value(option, value, f"environment variable {name}")
    return chosen


def _env_list(name: str, text: str) -> list[str]:
    if text.lstrip().startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"environment variable {name} is not a JSON list: {error}") from None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        raise ConfigError(f"environment variable {name} must be a list of strings")
    return [item.strip() for item in text.split(",") if item.strip()]


def _close(name: str, known: Mapping[str, Any] | list[str], cutoff: float) -> str | None:
    import difflib  # here: only a typo needs it, and every build imports this module

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return close[0] if close else None


def _spelled(option: Option, spelling: str) -> str:
    """How the user wrote the name: in error messages it must read as they wrote it."""
    if spelling == "cli":
        return option.cli_name
    return option.pelican_name if spelling == "pelican" else option.name


def unknown_setting_message(
    name: str, known: Mapping[str, Any] | list[str], cutoff: float = 0.6
) -> str:
    """The error for an unknown setting, with the closest known name when there is one."""
    close = _close(name, known, cutoff)
    hint = f"; did you mean {close}?" if close else ""
    return f"unknown linkback setting {name}{hint}"


def check_value(option: Option, value: Any, shown_name: str) -> Any:
    """One value checked against its row (type, minimum, rule), in the form a
    :class:`Settings` field holds (a list as a tuple); ``shown_name`` is how the user
    spelled the option, for the message."""
    value = coerce(option, value, shown_name)
    if option.kind is list:
        value = tuple(value)
    problem = option.rule(value) if option.rule is not None and value is not None else None
    if problem:
        raise ConfigError(shown_name + problem)
    return value


def coerce(option: Option, value: Any, shown_name: str) -> Any:
    """Check one value against its row; strings from the environment or CLI are converted."""
    if value is None:
        if option.optional:
            return None
        raise ConfigError(f"{shown_name} must be {_kind_name(option)}, not None")
    kind = option.kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
    elif kind is list:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            return list(value)
    elif kind is date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            with contextlib.suppress(ValueError):
                return date.fromisoformat(value.strip())
    elif kind in (int, float):
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = kind(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):  # inf would overflow a deadline, nan passes every test
                raise ConfigError(f"{shown_name} must be a finite number, got {value!r}")
            if kind is int and value != int(value):
                raise ConfigError(f"{shown_name} must be a whole number, got {value!r}")
            if option.minimum is not None and value < option.minimum:
                raise ConfigError(
                    f"{shown_name} must be at least {option.minimum:g}, got {value!r}"
                )
            return kind(value)
    elif isinstance(value, str):
        return value
    raise ConfigError(f"{shown_name} must be {_kind_name(option)}, got {value!r}")


def _kind_name(option: Option) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        date: "a date (YYYY-MM-DD)",
    }
    name = names.get(option.kind, "a list of strings")
    return f"{name} or None" if option.optional else name
