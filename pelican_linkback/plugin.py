"""Pelican signals -> the linkback core.

One build goes through these signals:

- ``initialized``: every ``LINKBACK_*`` setting is validated, so that a typo or a bad value
  stops the build before anything is written;
- ``generator_init``: the generator's templates will add, to each HTML page they render, the
  discovery tags and, on a source's own page, the Trackback block. Editing the rendered text
  before Pelican writes it keeps each file written once and never read back;
- ``all_generators_finalized``: the published articles and pages become the sources; each
  gets ``trackback_uri`` for themes that place it themselves, and its Trackback block is
  written once, here, rather than while its page renders;
- ``finalized``: every file is written, so the pings go out (or the "not sending" line).

Several Pelican instances may share a process (autoreload, i18n subsites): each one's state
is found from its settings dict, which Pelican hands to every generator.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, Template
from pelican.contents import Content
from pelican.generators import ArticlesGenerator, PagesGenerator
from pelican.log import console
from pelican.plugins import signals

from linkback import ConfigError, Settings, Source, display, preflight, send
from linkback.common import pages
from linkback.common.settings import PELICAN_PREFIX
from linkback.sending.source import wants_linkbacks

logger = logging.getLogger(__name__)
HTML_SUFFIXES = (".html", ".htm")
# Set by ``linkback baseline`` (pelican_linkback.baseline): a list that takes the build's
# sources instead of sending anything.
COLLECT = "PELICAN_LINKBACK_COLLECT"
# Setting names that only a Pelican settings file defines, to recognise it among modules.
SETTINGS_FILE_MARKERS = ("SITENAME", "SITEURL", "PLUGINS")


class LinkbackError(Exception):
    """A bad LINKBACK_* setting or an unreadable sent-log: the build stops.

    Pelican prints an exception as ``Class: message`` and exits with its ``exitcode``; 2 is
    what the ``linkback`` command returns for the same errors.
    """

    exitcode = 2


@dataclass
class Build:
    """One Pelican instance's linkback state, from ``initialized`` to ``finalized``."""

    conf: Mapping[str, Any]  # Pelican's settings dict (kept: it identifies the instance)
    settings: Settings
    sources: list[Content] = field(default_factory=list)
    blocks: dict[int, str] = field(default_factory=dict)  # source id: its Trackback block
    urls: dict[int, str] = field(default_factory=dict)  # Pelican formats content.url each time
    shown: display.Display | None = None  # the approved linkbacks, when LINKBACK_DISPLAY
    linkbacks: dict[int, display.Linkbacks] = field(default_factory=dict)  # source id: its own
    theme_block: Template | None = None  # the theme's linkback.html

    @property
    def siteurl(self) -> str:
        return self.conf.get("SITEURL") or ""

    @property
    def absolute(self) -> bool:
        """Trackback URIs and RDF identify a page by its absolute URL: no SITEURL, no block."""
        parts = urlsplit(self.siteurl)
        return parts.scheme in ("http", "https") and bool(parts.netloc)

    def page_url(self, content: Content) -> str:
        url = self.urls.get(id(content))
        if url is None:
            url = self.urls[id(content)] = f"{self.siteurl.rstrip('/')}/{content.url}"
        return url

    def source(self, content: Content, body: str, excerpt: str) -> Source:
        date: Any = getattr(content, "date", None)  # a page has one if its metadata says so
        return Source(
            url=self.page_url(content),
            title=content.title,
            content=body,
            excerpt=excerpt,
            metadata=content.metadata,
            published=date.date() if hasattr(date, "date") else None,
        )

    def decorate(self, html: str, context: Mapping[str, Any]) -> str:
        """The discovery tags on an HTML page, and the Trackback block on a source's own page.

        The text is edited at two anchors; every other byte stays as the template rendered it.
        """
        if not str(context.get("output_file", "")).endswith(HTML_SUFFIXES):
            return html
        for key in ("article", "page"):
            content = context.get(key)
            if content is None or not _own_page(content, context):  # a listing: no block
                continue
            block = self.blocks.get(id(content))  # None for any other page
            linkbacks = self.linkbacks.get(id(content))
            if linkbacks is not None:
                html = pages.decorate(html, self.settings, content.content, block or "")
                return self.add_linkbacks(html, content.content, linkbacks, context)
            if block is not None:
                return pages.decorate(html, self.settings, content.content, block)
        return pages.decorate(html, self.settings)

    def add_linkbacks(
        self, html: str, content: str, linkbacks: display.Linkbacks, context: Mapping[str, Any]
    ) -> str:
        """The page's linkbacks after its content: the theme's ``linkback.html``, else the
        built-in block."""
        if self.theme_block is None:
            return display.insert(html, content, display.block(linkbacks), builtin=True)
        # Its class may be the decorating one: render it as Jinja does, or it decorates itself.
        rendered = Template.render(self.theme_block, {**context, "linkbacks": linkbacks})
        return display.insert(html, content, rendered, builtin=False)


def _own_page(content: Any, context: Mapping[str, Any]) -> bool:
    """True when the page being written is ``content``'s own page, not a listing that a
    theme (or a plugin's context) gives an ``article`` or ``page`` too."""
    save_as = getattr(content, "save_as", None)
    return bool(save_as) and str(context.get("output_file", "")) == save_as


_builds: dict[int, Build] = {}


def build_of(conf: Mapping[str, Any]) -> Build | None:
    build = _builds.get(id(conf))
    return build if build is not None and build.conf is conf else None


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    logging.getLogger("pelican").addFilter(one_line_errors)
    signals.initialized.connect(read_settings)
    signals.generator_init.connect(decorate_templates)
    signals.all_generators_finalized.connect(collect_sources)
    signals.finalized.connect(send_pings)


def one_line_errors(record: logging.LogRecord) -> bool:
    """Pelican 4.12 logs the exception that stops a build with its traceback (``exc_info``);
    a LinkbackError is the user's setting or file, said in its one line: no traceback (``-D``
    still prints one)."""
    if record.exc_info and isinstance(record.exc_info[1], LinkbackError):
        record.exc_info = None
        record.exc_text = None
    return True


def read_settings(pelican: Any) -> None:
    """Validate every LINKBACK_* setting now: a bad one fails the build before it starts."""
    conf = pelican.settings
    values = {name: value for name, value in conf.items() if name.startswith(PELICAN_PREFIX)}
    try:
        settings = Settings.from_mapping(
            values,
            spelling="pelican",
            site_url=conf.get("SITEURL") or "",
            blog_name=conf.get("SITENAME") or "",
            base_dir=settings_folder(conf),
        )
        preflight(settings, conf["OUTPUT_PATH"])
        display.check(settings, conf["OUTPUT_PATH"])
    except ConfigError as error:
        raise LinkbackError(str(error)) from None
    _show_info_by_default()
    _builds[id(conf)] = Build(conf=conf, settings=settings)


def settings_folder(conf: Mapping[str, Any]) -> Path:
    """The folder of the settings file, which a relative LINKBACK_SENT_LOG is relative to.

    Pelican does not keep the path of its settings file, but it loads the file as a module
    named after it (``pelicanconf.py`` becomes ``sys.modules["pelicanconf"]``): the file
    modules that look like settings files of this site give the folder. When none or several
    folders match, the current folder is used: ``make publish`` and ``invoke publish`` run
    beside the settings file.
    """
    folders = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if "." in name or not path or os.path.splitext(os.path.basename(path))[0] != name:
            continue  # a settings file is loaded as a top-level module named after it
        if not any(hasattr(module, marker) for marker in SETTINGS_FILE_MARKERS):
            continue
        if getattr(module, "SITENAME", conf.get("SITENAME")) != conf.get("SITENAME"):
            continue
        folders.add(Path(path).resolve().parent)
    return folders.pop() if len(folders) == 1 else Path(os.getcwd())


def _show_info_by_default() -> None:
    """Pelican shows only warnings unless -v; the linkback summary must show in every build.

    A level chosen by the user (-q, -v, -D) is left alone.
    """
    if logger.getEffectiveLevel() == logging.WARNING:
        logger.setLevel(logging.INFO)


class DecoratingTemplate:
    """A Jinja template whose rendering of an HTML page gets linkback's additions."""

    build: Build

    def render(self, *args: Any, **kwargs: Any) -> str:
        html = super().render(*args, **kwargs)  # type: ignore[misc]
        # Pelican passes one dict of some 250 names: read it, do not copy it for every page.
        context = args[0] if len(args) == 1 and not kwargs else dict(*args, **kwargs)
        return self.build.decorate(html, context)


def decorate_templates(generator: Any) -> None:
    """Make the generator's templates decorate what they render (any template class kept)."""
    build = build_of(getattr(generator, "settings", None) or {})
    environment = getattr(generator, "env", None)
    if build is None or not isinstance(environment, Environment):
        return
    if not issubclass(environment.template_class, DecoratingTemplate):
        environment.template_class = type(
            "LinkbackTemplate",
            (DecoratingTemplate, environment.template_class),
            {"build": build},
        )


def collect_sources(generators: Iterable[Any]) -> None:
    """Published articles and pages (with their translations) are the sources.

    Their content is read only in ``finalized``: reading it now would memoize it before
    plugins that edit it later have run.
    """
    build = None
    sources: list[Content] = []
    for generator in generators:
        build = build or build_of(getattr(generator, "settings", None) or {})
        if isinstance(generator, ArticlesGenerator):
            sources += generator.articles + generator.translations
        elif isinstance(generator, PagesGenerator):
            sources += generator.pages + generator.translations
    if build is None:
        return
    build.sources = [content for content in sources if content.status == "published"]
    for content in build.sources:
        try:
            wants_linkbacks(content.metadata)
        except ConfigError as error:  # "Linkback: of" must not ping anyone
            raise LinkbackError(f"{content.source_path}: {error}") from None
    build.blocks = {}
    build.urls = {}
    # linkback baseline wants the sources alone: no request, not even for the linkbacks shown.
    if build.settings.display and not isinstance(build.conf.get(COLLECT), list):
        attach_linkbacks(build, generators)
    endpoint = build.settings.trackback_endpoint
    if endpoint and not build.absolute:
        logger.debug("linkback: SITEURL is not an absolute URL: no trackback URIs")
        return
    for content in build.sources:
        if endpoint and wants_linkbacks(content.metadata):
            url = build.page_url(content)
            content.trackback_uri = uri = pages.trackback_uri(url, endpoint)
            build.blocks[id(content)] = pages.trackback_block(
                url, content.title, build.settings, uri
            )


def attach_linkbacks(build: Build, generators: Iterable[Any]) -> None:
    """Read the approved linkbacks once; each source that has some gets ``linkbacks`` (the
    values themes read), and the theme's ``linkback.html``, if any, is found."""
    try:
        build.shown = shown = display.Display(build.settings, logger)
    except ConfigError as error:  # a damaged cache or an unreadable jf2 file
        raise LinkbackError(str(error)) from None
    build.linkbacks = {}
    for content in build.sources:
        url = display.page_url(build.siteurl, content.url)
        linkbacks = shown.linkbacks(url, content.url)
        if linkbacks is not None:
            content.linkbacks = linkbacks
            build.linkbacks[id(content)] = linkbacks
    build.theme_block = None
    for generator in generators:
        environment = getattr(generator, "env", None)
        if isinstance(environment, Environment):
            build.theme_block = display.theme_template(environment)
            break


def send_pings(pelican: Any) -> None:
    """Every file is written: send (or say why not), then print the one summary line."""
    build = build_of(pelican.settings)
    if build is None:
        return
    if build.shown is not None:
        build.shown.publish(pelican.output_path)
    siteurl = build.siteurl
    sources = [
        build.source(content, content.get_content(siteurl), content.metadata.get("summary", ""))
        for content in build.sources
    ]
    collect = pelican.settings.get(COLLECT)
    if isinstance(collect, list):  # linkback baseline: the sources are all it wants
        collect.extend(sources)
        return
    try:
        report = send(
            sources,
            build.settings,
            logger=logger,
            progress=console,  # Pelican's: the bar shows under its "Generating..." spinner
            output_dir=pelican.output_path,
        )
    except ConfigError as error:  # also an unreadable or locked sent-log
        raise LinkbackError(str(error)) from None
    logger.info("%s", report.summary(send_setting="LINKBACK_SEND"))
