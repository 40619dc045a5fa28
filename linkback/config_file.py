"""``--config FILE``: the linkback settings of a Pelican or MkDocs site, for the command line.

A command run beside a site (``linkback deliver`` in a deployment, ``linkback status``,
``linkback forget``...) must use what the site's build uses: its ``LINKBACK_*`` settings or
its ``plugins: - linkback:`` options, its site URL (the User-Agent names it) and the sent-log
where the build keeps it (relative to the settings file's folder). Each generator reads its
own file, so that ``publishconf.py``'s ``from pelicanconf import *`` or mkdocs.yml's ``!ENV``
tags mean what they mean to it: the adapters do the reading, imported only here and only
when asked, so that the core never imports Pelican or MkDocs.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common.settings import ConfigError, Settings

MKDOCS_SUFFIXES = (".yml", ".yaml")
PELICAN_SUFFIXES = (".py",)


@dataclass(frozen=True)
class SiteConfig:
    """What a site's settings file says that the command line needs."""

    path: Path
    generator: str  # "pelican" or "mkdocs"
    values: Mapping[str, Any] = field(default_factory=dict)  # as the file spells them
    spelling: str = "plain"  # "pelican" for LINKBACK_* names
    site_url: str = ""
    blog_name: str = ""
    output_dir: Path | None = None

    @property
    def base_dir(self) -> Path:
        """A relative sent-log is relative to the settings file's folder."""
        return self.path.parent

    def send_name(self) -> str:
        return "LINKBACK_SEND" if self.spelling == "pelican" else "send"


@contextlib.contextmanager
def quiet(name: str) -> Iterator[None]:
    """Only the warnings of a generator's log while an adapter reads or builds the site for
    a command (MkDocs' debug log lists every config value)."""
    chosen = logging.getLogger(name)
    level = chosen.level
    chosen.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        chosen.setLevel(level)


def generator_of(path: Path) -> str:
    if path.suffix in MKDOCS_SUFFIXES:
        return "mkdocs"
    if path.suffix in PELICAN_SUFFIXES:
        return "pelican"
    raise ConfigError(
        f"--config {path}: not a Pelican settings file (.py) nor an mkdocs.yml (.yml, .yaml)"
    )


def adapter(generator: str, part: str) -> Any:
    """The adapter module ``pelican_linkback.<part>`` or ``mkdocs_linkback.<part>``; a
    generator that is not installed is a configuration error that says what to install."""
    package = f"{generator}_linkback"
    try:
        return importlib.import_module(f"{package}.{part}")
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in (generator, "markdown", "yaml"):
            raise ConfigError(
                f'reading a {generator} site needs {generator}: pip install "linkback[{generator}]"'
            ) from None
        raise


def load(path: Path) -> SiteConfig:
    """Read a site's settings file through its generator; errors name the file."""
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file")
    generator = generator_of(path)
    config: SiteConfig = adapter(generator, "config").read(path.resolve())
    return config


def command_settings(
    site: SiteConfig | None,
    overrides: Mapping[str, Any],
    *,
    site_url: str | None = None,
    blog_name: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """A command's settings: the site's file (or nothing), then ``defaults`` (a command's
    own, such as ``send``'s sending), then ``LINKBACK_*`` of the environment, then the
    command line's ``overrides`` and explicit ``site_url`` / ``blog_name``."""
    values: dict[str, Any] = dict(site.values) if site is not None else {}
    spelling = site.spelling if site is not None else "plain"
    for name, value in (defaults or {}).items():
        values["LINKBACK_" + name.upper() if spelling == "pelican" else name] = value
    return Settings.from_mapping(
        values,
        spelling=spelling,
        site_url=site_url or (site.site_url if site is not None else ""),
        blog_name=blog_name or (site.blog_name if site is not None else ""),
        base_dir=site.base_dir if site is not None else Path(os.getcwd()),
        environ=environ,
        overrides=overrides,
    )
