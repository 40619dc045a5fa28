"""The service's options: one table, three spellings (``--name``, TOML ``name``,
``LINKBACK_NAME``), the command line winning over the environment, which wins over the file.

Rows are :class:`linkback.common.settings.Option`, checked by the same :func:`coerce`, so a
bad value reads the same in both halves of linkback.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from ..common.settings import (
    ConfigError,
    Option,
    coerce,
    required_row,
    row,
    table,
    unknown_setting_message,
)
from ..common.urls import host_of
from ..version import __version__

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ENV_PREFIX = "LINKBACK_"


@dataclass(frozen=True)
class ServiceConfig:
    """Validated options of one service; each field is a row of its table (SERVE_OPTIONS)."""

    site_url: tuple[str, ...] = required_row(
        "the site whose pages may be targets (comma-separated)"
    )
    public_url: str | None = row(
        None, "where senders reach the service (in status URLs)", shown_default="http://HOST:PORT"
    )
    db: str = row("linkback.sqlite", "SQLite path, or postgresql://...")
    host: str = row("127.0.0.1", "where it listens")
    port: int = row(8411, "where it listens", minimum=0)
    workers: int = row(2, "server processes (each with its own threads)", minimum=1)
    admin_token: str | None = row(None, "enables /admin/")
    trusted_proxies: tuple[str, ...] = row((), "peers whose X-Forwarded-For is believed")
    allow_private: bool = row(False, "verify loopback/private sources (local testing)")
    verify_timeout: float = row(
        10.0, "seconds, deadline of a background verification", minimum=0.01
    )
    verify_timeout_sync: float = row(
        2.5, "seconds, the same for pingbacks and trackbacks", minimum=0.01
    )
    verify_per_host: int = row(2, "verification fetches in flight to one host", minimum=1)
    rate_limit: int = row(60, "POSTs a minute from one client address, then 429", minimum=1)
    trackback_verify: bool = row(True, "refuse trackbacks whose page does not link")
    max_links: int = row(100, "a source linking to more hosts is held as spam", minimum=1)
    notify_email: str | None = row(None, "who is told of new pending linkbacks")
    smtp_url: str | None = row(None, "how the notification is sent")
    notify_interval: float = row(3600.0, "seconds between two notifications", minimum=0)
    akismet_key: str | None = row(None, "also ask Akismet about verified linkbacks")
    akismet_url: str = row("https://rest.akismet.com", "the Akismet API (for tests)")
    rebuild_hook: str | None = row(None, "URL POSTed after approvals")

    @property
    def base_url(self) -> str:
        """Where status URLs point."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def site_hosts(self) -> frozenset[str]:
        return frozenset(host_of(url) for url in self.site_url)

    @property
    def agent(self) -> str:
        return f"linkback/{__version__} (+{self.site_url[0]})"

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies)

    def to_mapping(self) -> dict[str, Any]:
        """Plain values, to hand the options to server worker processes."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


SERVE_OPTIONS = table(ServiceConfig)
SERVE_BY_NAME = {row.name: row for row in SERVE_OPTIONS}


def load(
    cli: Mapping[str, Any],
    *,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    require_site: bool = True,
) -> ServiceConfig:
    """The options from the three places; raises :class:`ConfigError` with one line.
    ``linkback mentions`` needs only the store, so it does not require ``site_url``."""
    environ = os.environ if environ is None else environ
    chosen: dict[str, Any] = {}
    if config_file is not None:
        for name, value in _read_toml(Path(config_file)).items():
            option = SERVE_BY_NAME.get(name)
            if option is None:
                raise ConfigError(f"{config_file}: " + unknown_setting_message(name, SERVE_BY_NAME))
            chosen[name] = coerce(option, _listed(option, value), f"{config_file}: {name}")
    for option in SERVE_OPTIONS:
        variable = ENV_PREFIX + option.name.upper()
        if variable in environ:
            chosen[option.name] = coerce(option, _listed(option, environ[variable]), variable)
    for name, value in cli.items():
        option = SERVE_BY_NAME[name]
        chosen[name] = coerce(option, _listed(option, value), option.cli_name)
    return from_mapping(chosen, require_site=require_site)


def from_mapping(values: Mapping[str, Any], *, require_site: bool = True) -> ServiceConfig:
    """Checked values (from :func:`load`, or handed to a worker process) as a config."""
    chosen = dict(values)
    sites = [url.rstrip("/") + "/" for url in chosen.get("site_url") or []]
    if not sites and require_site:
        raise ConfigError("--site-url is required: the site whose pages may be targets")
    for url in sites:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--site-url: {url!r} is not an absolute http(s) URL")
    chosen["site_url"] = tuple(sites)
    chosen["trusted_proxies"] = tuple(chosen.get("trusted_proxies") or ())
    for item in chosen["trusted_proxies"]:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"--trusted-proxies: {item!r} is not an address or network") from None
    _check_moderation(chosen)
    if chosen.get("port", 8411) > 65535:
        raise ConfigError(f"--port must be at most 65535, got {chosen['port']}")
    return ServiceConfig(**chosen)


def _check_moderation(chosen: Mapping[str, Any]) -> None:
    """The notification, hook and Akismet options, refused at start rather than later."""
    if bool(chosen.get("notify_email")) != bool(chosen.get("smtp_url")):
        raise ConfigError("--notify-email and --smtp-url go together: who is told, and how")
    smtp = chosen.get("smtp_url")
    if smtp and (urlsplit(smtp).scheme not in ("smtp", "smtps") or not urlsplit(smtp).hostname):
        raise ConfigError(f"--smtp-url: {smtp!r} is not smtp://HOST[:PORT] or smtps://HOST[:PORT]")
    for name in ("rebuild_hook", "akismet_url"):
        url = chosen.get(name)
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
            raise ConfigError(f"--{name.replace('_', '-')}: {url!r} is not an http(s) URL")


def _listed(option: Option, value: Any) -> Any:
    """Comma-separated strings for list options, wherever they come from."""
    if option.kind is list and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"--config {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"--config {path}: not valid TOML: {error}") from None
