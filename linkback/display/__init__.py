"""Approved linkbacks under each article, rendered into the static HTML at build time.

An adapter makes one :class:`Display` per build (it reads ``mentions_url``, updating the
cache, and fetches new avatars), asks :meth:`Display.linkbacks` for each page's values,
renders them with :func:`block` (or the theme's ``linkback.html``), inserts the result
with :func:`insert`, and calls :meth:`Display.publish` once the output folder is written.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from ..common.http import Client
from ..common.pages import insert_after_content
from ..common.settings import ConfigError, Settings, check_outside_output
from ..common.urls import page_key
from . import avatars, reader, render
from . import cache as cache_file
from .model import Kind, Mention
from .render import TEMPLATE_NAME, Linkbacks, add_stylesheet, block, root_of, theme_template

__all__ = [
    "TEMPLATE_NAME",
    "ConfigError",
    "Display",
    "Kind",
    "Linkbacks",
    "Mention",
    "block",
    "check",
    "insert",
    "page_url",
    "root_of",
    "theme_template",
]


def check(settings: Settings, output_dir: str | Path | None = None) -> None:
    """Refuse a display that cannot work, before the build starts; the cache, like the
    sent-log, must live outside the output folder (it would be published, or emptied)."""
    if not settings.display:
        return
    if not settings.mentions_url:
        raise ConfigError(
            "display needs mentions_url: the service's /api/linkbacks, webmention.io's "
            "https://webmention.io/api/mentions.jf2?domain=D&token=T, or a jf2 file"
        )
    if output_dir is not None:
        check_outside_output("mentions_cache", settings.mentions_cache_path, output_dir)


class Display:
    """One build's linkbacks: read once, then asked for page by page."""

    def __init__(self, settings: Settings, logger: logging.Logger) -> None:
        check(settings)
        self.settings = settings
        self.store = avatars.store_of(settings.mentions_cache_path)
        client = Client(settings)
        try:
            self.cache = reader.read(settings, logger, client)
            if settings.avatars == "local":
                photos = [m.author.photo for m in self.cache.mentions.values() if m.author.photo]
                if avatars.download(photos, self.cache, self.store, client, logger):
                    cache_file.save(settings.mentions_cache_path, self.cache)
        finally:
            client.close()
        self.pages: dict[str, list[Mention]] = defaultdict(list)
        for mention in self.cache.mentions.values():
            self.pages[mention.page].append(mention)
        self.shown: set[str] = set()  # avatar files the pages use

    def linkbacks(self, page_url: str, page_path: str) -> Linkbacks | None:
        """The values of the page at ``page_url`` (its path in the site: ``page_path``), or
        None when it has no approved linkback."""
        mentions = self.pages.get(page_key(page_url) or "")
        if not mentions:
            return None
        root = root_of(page_path)
        return render.linkbacks(mentions, lambda url: self._src(url, root))

    def _src(self, photo: str | None, root: str) -> str | None:
        if photo is None or self.settings.avatars == "none":
            return None
        if self.settings.avatars == "remote":
            return photo
        name = self.cache.avatars.get(photo, "")
        if not name:
            return avatars.PLACEHOLDER
        self.shown.add(name)
        return f"{root}{avatars.FOLDER}/{name}"

    def publish(self, output_dir: str | Path) -> None:
        """Copy the avatars the pages show into the output folder (those missing only)."""
        avatars.publish(self.shown, self.store, Path(output_dir))


def page_url(site_url: str, path: str) -> str:
    """A page's absolute URL; a stand-in host when the site has no absolute URL (a preview
    build), under which a local jf2 file's path targets still match."""
    base = site_url.rstrip("/") if reader.is_remote(site_url) else "http://localhost"
    return f"{base}/{path.lstrip('/')}"


def insert(html: str, content: str, rendered: str, *, builtin: bool) -> str:
    """``rendered`` right after the page's content (its last copy in ``html``), and the
    default stylesheet in the head when it is the built-in block. A theme that placed its
    ``linkback.html`` itself already has that text in the page: it is not added twice."""
    if not rendered.strip() or (not builtin and rendered.strip() in html):
        return html
    html = insert_after_content(html, content, rendered)
    return add_stylesheet(html) if builtin else html
