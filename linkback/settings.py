"""The settings table, once: names, types, defaults, validation and the environment override.

Pelican spells a setting ``LINKBACK_NAME``, MkDocs and the command line spell it ``name`` /
``--name``; every spelling is checked here so that all three report a bad value the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import __version__

PROTOCOLS: tuple[str, ...] = ("webmention", "pingback", "trackback")
AVATARS = ("local", "remote", "none")
PELICAN_PREFIX = "LINKBACK_"


class ConfigError(ValueError):
    """A setting is unknown, ill-typed or inconsistent; the build must stop."""


@dataclass(frozen=True)
class Option:
    """One row of the settings table."""

    name: str
    kind: type  # bool, int, float, str, list (of str)
    default: Any
    help: str
    optional: bool = False  # None is allowed
    minimum: float | None = None

    @property
    def pelican_name(self) -> str:
        return PELICAN_PREFIX + self.name.upper()

    @property
    def cli_name(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("send", bool, False, "send pings in this build (env LINKBACK_SEND=1/0 overrides)"),
    Option("sent_log", str, "linkback-sent.json", "the sent-log file"),
    Option("protocols", list, list(PROTOCOLS), "enabled protocols, in order of preference"),
    Option("exclude", list, [], "regular expressions of URLs never pinged"),
    Option("timeout", float, 15, "seconds per HTTP request, as a total deadline", minimum=0.01),
    Option("concurrency", int, 32, "HTTP requests in flight in all", minimum=1),
    Option("per_host", int, 2, "HTTP requests in flight to one host", minimum=1),
    Option("max_page_bytes", int, 1_000_000, "bytes of a page read for discovery", minimum=1),
    Option("max_attempts", int, 3, "builds in which a failed ping is tried", minimum=1),
    Option("user_agent", str, None, "User-Agent of every request", optional=True),
    Option("allow_private", bool, False, "allow loopback and private addresses (testing)"),
    Option("dry_run", bool, False, "discover and report; send nothing, write nothing"),
    Option("check_live", bool, True, "wait until the source page is live before pinging"),
    Option("webmention_endpoint", str, None, "advertised as <link rel=webmention>", optional=True),
    Option("pingback_endpoint", str, None, "advertised as <link rel=pingback>", optional=True),
    Option("trackback_endpoint", str, None, "base of each page's trackback URI", optional=True),
    Option("show_trackback_uri", bool, True, "show the trackback URI after the content"),
    Option("display", bool, False, "render approved linkbacks under each article"),
    Option("mentions_url", str, None, "jf2 feed of approved linkbacks: URL or file", optional=True),
    Option("mentions_cache", str, "linkback-mentions.json", "local copy of the linkbacks shown"),
    Option("avatars", str, "local", "authors' photos: local, remote or none"),
)
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_WEB = ("http", "https", "")  # an endpoint may be relative to each page


@dataclass(frozen=True)
class Settings:
    """Validated settings of one run; build it with :meth:`from_mapping`."""

    send: bool = False
    sent_log: str = "linkback-sent.json"
    protocols: tuple[str, ...] = PROTOCOLS
    exclude: tuple[str, ...] = ()
    timeout: float = 15.0
    concurrency: int = 32
    per_host: int = 2
    max_page_bytes: int = 1_000_000
    max_attempts: int = 3
    user_agent: str | None = None
    allow_private: bool = False
    dry_run: bool = False
    check_live: bool = True
    webmention_endpoint: str | None = None
    pingback_endpoint: str | None = None
    trackback_endpoint: str | None = None
    show_trackback_uri: bool = True
    display: bool = False
    mentions_url: str | None = None
    mentions_cache: str = "linkback-mentions.json"
    avatars: str = "local"
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
    ) -> Settings:
        """Validate raw settings keyed by plain names, or "pelican" (LINKBACK_*) or "cli" names.

        Unknown names are refused with the closest known one, because a typo such as
        ``LINKBACK_SENTLOG`` would otherwise silently log to the default place.
        """
        environ = os.environ if environ is None else environ
        known = {
            option.pelican_name if spelling == "pelican" else option.name: option
            for option in OPTIONS
        }
        chosen: dict[str, Any] = {}
        for raw_name, raw_value in values.items():
            option = known.get(raw_name)
            if option is None:
                raise ConfigError(unknown_setting_message(raw_name, known))
            chosen[option.name] = coerce(option, raw_value, _spelled(option, spelling))
        if "LINKBACK_SEND" in environ:
            chosen["send"] = coerce(
                OPTIONS_BY_NAME["send"], environ["LINKBACK_SEND"], "LINKBACK_SEND"
            )
        for name in ("protocols", "exclude"):
            if name in chosen:
                chosen[name] = tuple(chosen[name])
        unknown = [p for p in chosen.get("protocols", ()) if p not in PROTOCOLS]
        if unknown:
            raise ConfigError(
                f"{_spelled(OPTIONS_BY_NAME['protocols'], spelling)}: unknown protocol "
                f"{unknown[0]!r}; known protocols are {', '.join(PROTOCOLS)}"
            )
        if chosen.get("avatars", "local") not in AVATARS:
            raise ConfigError(
                f"{_spelled(OPTIONS_BY_NAME['avatars'], spelling)}: must be one of "
                f"{', '.join(AVATARS)}, got {chosen['avatars']!r}"
            )
        patterns = []
        for pattern in chosen.get("exclude", ()):
            try:
                patterns.append(re.compile(pattern))
            except re.error as error:
                name = _spelled(OPTIONS_BY_NAME["exclude"], spelling)
                raise ConfigError(
                    f"{name}: {pattern!r} is not a regular expression: {error}"
                ) from None
        for name in ("webmention_endpoint", "pingback_endpoint", "trackback_endpoint"):
            value = chosen.get(name)
            if value is not None and not (is_url(value) and urlsplit(value).scheme in _WEB):
                raise ConfigError(
                    f"{_spelled(OPTIONS_BY_NAME[name], spelling)} must be an http(s) URL, "
                    f"got {value!r}"
                )
        if site_url and not is_url(site_url):
            raise ConfigError(f"the site URL {site_url!r} is not a URL")
        return cls(
            **chosen,
            site_url=site_url or "",
            blog_name=blog_name or "",
            base_dir=Path(base_dir) if base_dir is not None else Path.cwd(),
            exclude_patterns=tuple(patterns),
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


def _spelled(option: Option, spelling: str) -> str:
    """How the user wrote the name: in error messages it must read as they wrote it."""
    if spelling == "cli":
        return option.cli_name
    return option.pelican_name if spelling == "pelican" else option.name


def unknown_setting_message(name: str, known: Mapping[str, Any] | list[str]) -> str:
    """The error for an unknown setting, with the closest known name when there is one."""
    import difflib  # here: only a typo needs it, and every build imports this module

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown linkback setting {name}{hint}"


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
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    name = names.get(option.kind, "a list of strings")
    return f"{name} or None" if option.optional else name
