"""MkDocs events -> linkback core: options, discovery tags, trackback URIs, the pings, and
the approved linkbacks shown under each page (``page.meta.linkbacks``).

Every page is a source. Pings go out once the whole site is written (``on_post_build``) and
only in ``mkdocs build`` / ``mkdocs gh-deploy``: a ``mkdocs serve`` rebuild on every save
must never notify anyone nor touch the sent-log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click
from jinja2 import Template
from mkdocs.config import base
from mkdocs.config.config_options import ValidationError
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin

import linkback
from linkback import ConfigError, Settings, Source, display
from linkback.common import pages
from linkback.common.settings import (
    OPTIONS,
    OPTIONS_BY_NAME,
    check_value,
    unknown_setting_message,
)
from linkback.sending.source import wants_linkbacks

if TYPE_CHECKING:
    from jinja2 import Environment
    from mkdocs.config.base import ConfigErrors, ConfigWarnings
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.plugins.linkback")

T = TypeVar("T")


class Setting(base.BaseConfigOption[T]):
    """One row of linkback's settings table, checked by the core so that MkDocs, Pelican and
    the command line accept and refuse exactly the same values, with the same messages."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.option = OPTIONS_BY_NAME[name]
        self.default = self.option.default

    def run_validation(self, value: object) -> T:
        if self.option.kind is bool and value in (0, 1) and not isinstance(value, bool):
            value = bool(value)  # `!ENV [LINKBACK_SEND, false]` reads LINKBACK_SEND=1 as 1
        try:
            checked: T = check_value(self.option, value, self.option.name)
        except ConfigError as error:
            raise ValidationError(str(error)) from None
        return checked


class LinkbackConfig(base.Config):
    """The options under ``- linkback:`` in mkdocs.yml: one per row of linkback's settings
    table, made from the table (MkDocs reads a config's options from its class namespace)."""

    vars().update({row.name: Setting[Any](row.name) for row in OPTIONS})


class LinkbackPlugin(BasePlugin[LinkbackConfig]):
    """Makes every page discoverable by other blogs, and pings the pages it links to."""

    def __init__(self) -> None:
        self.command = "build"
        self.settings = Settings()
        self.sources: list[Source] = []
        self.display: display.Display | None = None
        self.theme_block: Template | None = None  # the theme's linkback.html
        self.collect_only = False  # ``linkback baseline``: gather the sources, send nothing

    def load_config(
        self, options: dict[str, Any], config_file_path: str | None = None
    ) -> tuple[ConfigErrors, ConfigWarnings]:
        """MkDocs only warns about an unknown option, but a typo such as ``sentlog`` would
        silently keep the sent-log elsewhere: make it an error that suggests the right name."""
        errors, warnings = super().load_config(options, config_file_path)
        known = [name for name, _ in self.config_scheme]
        unknown = [name for name in options if name not in known]
        errors.extend(
            (name, ValidationError(unknown_setting_message(name, known))) for name in unknown
        )
        return errors, [item for item in warnings if item[0] not in unknown]

    def on_startup(self, *, command: Literal["build", "gh-deploy", "serve"], dirty: bool) -> None:
        self.command = command

    def serving(self) -> bool:
        """True under ``mkdocs serve``, which announces itself as "build" when run with
        ``--clean``; its command line context still names it."""
        context = click.get_current_context(silent=True)
        return self.command == "serve" or (context is not None and context.info_name == "serve")

    def on_config(self, config: MkDocsConfig) -> None:
        config_file = config.config_file_path
        try:
            self.settings = Settings.from_mapping(
                {},
                checked=dict(self.config),  # each value checked as MkDocs read it
                spelling="plain",
                site_url=config.site_url or "",
                blog_name=config.site_name,
                base_dir=Path(config_file).parent if config_file else Path.cwd(),
            )
            if not self.serving():
                linkback.preflight(self.settings, config.site_dir)
            display.check(self.settings, config.site_dir)
        except ConfigError as error:
            raise PluginError(str(error)) from None
        if self.settings.display and not self.collect_only:  # baseline: no request at all
            try:
                self.display = display.Display(self.settings, log)
            except ConfigError as error:  # no mentions_url, a damaged cache, a bad jf2 file
                raise PluginError(str(error)) from None
        if self.settings.trackback_endpoint and not config.site_url:
            log.warning("linkback: trackback_endpoint needs site_url; no trackback URI is added")
        self.sources = []

    def on_env(self, env: Environment, *, config: MkDocsConfig, files: Files) -> Environment:
        """Find the theme's own ``linkback.html`` (its ``custom_dir`` included)."""
        self.theme_block = display.theme_template(env) if self.display is not None else None
        return env

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Give themes ``page.meta.trackback_uri`` and ``page.meta.linkbacks`` before the
        page is rendered."""
        try:
            wanted = wants_linkbacks(page.meta)
        except ConfigError as error:  # "linkback: of" must not ping anyone
            raise PluginError(f"{page.file.src_path}: {error}") from None
        if page.canonical_url and wanted and not is_listing(page):
            uri = pages.trackback_uri(page.canonical_url, self.settings.trackback_endpoint)
            if uri:
                page.meta["trackback_uri"] = uri
        if self.display is not None:
            url = page.canonical_url or display.page_url("", page.url)
            linkbacks = self.display.linkbacks(url, page.url)
            if linkbacks is not None:
                page.meta["linkbacks"] = linkbacks
        return html

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str:
        output = self.decorate(output, page)
        linkbacks = page.meta.get("linkbacks") if self.display is not None else None
        if not linkbacks:
            return output
        if self.theme_block is None:
            rendered = display.block(linkbacks)
        else:
            context = {"page": page, "config": config, "linkbacks": linkbacks}
            rendered = self.theme_block.render(context)
        builtin = self.theme_block is None
        return display.insert(output, page.content or "", rendered, builtin=builtin)

    def decorate(self, output: str, page: Page) -> str:
        """The discovery tags, and a source's Trackback block."""
        source = self.source(page)
        if source is not None:
            self.sources.append(source)  # a page closed to linkbacks is still in the build
        if source is None or not source.enabled:
            return pages.decorate(output, self.settings)
        uri = page.meta.get("trackback_uri")  # set by on_page_content
        block = pages.trackback_block(source.url, source.title, self.settings, uri)
        return pages.decorate(output, self.settings, page.content or "", block)

    def on_post_template(
        self, output_content: str, *, template_name: str, config: MkDocsConfig
    ) -> str:
        """The theme's own HTML pages (404.html) advertise the endpoints too."""
        if not template_name.endswith(".html"):
            return output_content
        return pages.decorate(output_content, self.settings)

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        if self.display is not None:
            self.display.publish(config.site_dir)
        if self.collect_only:
            return
        if self.serving():
            log.debug("linkback: nothing is sent while serving")
            return
        if not config.site_url:  # "0 new links in 0 pages" would hide why
            log.info(
                "linkback: mkdocs.yml has no site_url, so pages have no absolute URL and "
                "no linkback can be sent from them (set site_url to send)"
            )
            return
        try:
            report = linkback.send(
                self.sources, self.settings, logger=log, output_dir=config.site_dir
            )
        except ConfigError as error:  # also an unreadable or locked sent-log
            raise PluginError(str(error)) from None
        log.info(report.summary(send_setting="send"))

    def source(self, page: Page) -> Source | None:
        """The page as the core sees it; None when it has no absolute URL (no site_url), or
        is a listing of other pages."""
        if not page.canonical_url or is_listing(page):
            return None
        return Source(
            url=page.canonical_url,
            title=page.title or "",
            content=page.content or "",
            excerpt=str(page.meta.get("description") or ""),
            metadata=page.meta,
            published=published(page.meta),
        )


def is_listing(page: Page) -> bool:
    """True for the pages of Material's blog plugin that list posts (the blog's index, its
    archive, category and author pages, and their pagination): they repeat the posts'
    excerpts but are not articles, so they neither send nor carry a trackback block. Told by
    class, without importing Material: it is an optional theme."""
    return any(
        cls.__name__ == "View" and cls.__module__.startswith("material.plugins.blog")
        for cls in type(page).__mro__
    )


def published(meta: Mapping[str, Any]) -> date | None:
    """A page's ``date`` (Material's blog: a date, or ``{created: ...}``), for ``since``."""
    value = meta.get("date")
    if isinstance(value, dict):
        value = value.get("created")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.strip()).date()
    return None
