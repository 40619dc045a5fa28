"""The adapter for any generator: the pages of an output folder, read back as Sources.

Each page's content is the first element a CSS selector finds (``--content-selector``, else
the first of :data:`DEFAULT_CONTENT_SELECTORS` that matches), taken as the page has it; the
page's URL is its path under the site URL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from .common import markup, pages
from .common.settings import ConfigError, Settings
from .sending.source import Source

logger = logging.getLogger("linkback")

DEFAULT_CONTENT_SELECTORS = ("article", ".h-entry, .e-content", "main", "body")


def read_pages(root: Path, site_url: str, selector: str | None) -> list[tuple[Path, Source]]:
    """Every HTML page below ``root`` that has content, with its file, in path order."""
    chosen = selectors_for(selector)
    found = []
    for path in sorted(root.rglob("*.html")):
        source = read_page(path, root, site_url, chosen)
        if source is not None:
            found.append((path, source))
    return found


def decorate_pages(found: Iterable[tuple[Path, Source]], settings: Settings) -> None:
    """Add the tags and Trackback blocks, after checking that every page can be written: a
    folder left half decorated would be decorated wrongly for good ("never twice")."""
    found = list(found)
    unwritable = [path for path, _ in found if not os.access(path, os.W_OK)]
    if unwritable:
        raise ConfigError(f"cannot write the page {unwritable[0]}; no page was changed")
    for path, source in found:
        decorate_file(path, source, settings)


def selectors_for(chosen: str | None) -> tuple[CSSSelector, ...]:
    """The content selectors, compiled once: a bad one is an error before any page is read."""
    if not chosen:
        return _DEFAULT_SELECTORS
    try:
        return (CSSSelector(chosen),)
    except Exception as error:  # cssselect raises several parse error types
        raise ConfigError(f"--content-selector {chosen!r} is not a CSS selector: {error}") from None


_DEFAULT_SELECTORS = tuple(CSSSelector(selector) for selector in DEFAULT_CONTENT_SELECTORS)
# An XHTML page may start with one; lxml refuses a str that declares its encoding.
_XML_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml\b[^>]*\?>")


def page_url(path: Path, root: Path, site_url: str) -> str:
    """``a/index.html`` is served as ``a/``: the URL readers (and receivers) see."""
    relative = path.relative_to(root).as_posix()
    if relative == "index.html" or relative.endswith("/index.html"):
        relative = relative[: -len("index.html")]
    return site_url.rstrip("/") + "/" + relative


def read_page(
    path: Path, root: Path, site_url: str, selectors: tuple[CSSSelector, ...]
) -> Source | None:
    """A written page as a Source: its content is the first element a selector finds."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        logger.warning("linkback: cannot read %s: %s", path, error)
        return None
    try:
        tree = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text, count=1))
    except (etree.ParserError, ValueError) as error:
        logger.warning("linkback: cannot parse %s (%s); its links are not sent", path, error)
        return None
    content = next((found[0] for found in (select(tree) for select in selectors) if found), None)
    if content is None:
        logger.debug("linkback: %s has no content to send links from", path)
        return None
    title = (tree.findtext(".//title") or "").strip()
    description = tree.xpath("string(//meta[@name='description']/@content)")
    return Source(
        url=page_url(path, root, site_url),
        title=title,
        content=as_written(text, content),
        excerpt=str(description) or content.text_content()[:600],
        published=published_date(tree, content),
    )


def as_written(text: str, element: Any) -> str:
    """The element's markup as the page has it, so that the live check finds it in the served
    page byte for byte; else as the XML serialiser writes it, which keeps attribute values as
    written (the HTML one percent-encodes non-ASCII hrefs, and receivers match the target
    literally)."""
    tag = element.tag
    before = element.xpath("count(preceding::*[name()=$tag] | ancestor::*[name()=$tag])", tag=tag)
    written = markup.element_markup(text, tag, int(before))
    if written is not None and _text_of(written) == element.text_content():
        return written
    return etree.tostring(element, method="xml", encoding="unicode", with_tail=False)


def _text_of(markup_text: str) -> str:
    """The text of a page's markup, as lxml parses it: the check that a slice is the element."""
    return str(lxml.html.document_fromstring(markup_text).text_content())


def published_date(tree: Any, content: Any) -> date | None:
    """A page's date, for ``since``: its ``article:published_time``, else the ``datetime``
    of the content's first ``.dt-published`` (microformats2), else of its first ``<time>``."""
    candidates = [
        tree.xpath("string(//meta[@property='article:published_time']/@content)"),
        content.xpath(
            "string(.//*[contains(concat(' ', @class, ' '), ' dt-published ')]/@datetime)"
        ),
        content.xpath("string(.//time/@datetime)"),
    ]
    for text in candidates:
        text = str(text).strip()
        if len(text) >= 10:
            with contextlib.suppress(ValueError):
                return date.fromisoformat(text[:10])
    return None


def decorate_file(path: Path, source: Source, settings: Settings) -> None:
    """Add the discovery tags and trackback block to a page that does not have them yet."""
    try:
        html = path.read_text(encoding="utf-8", errors="surrogateescape")
        updated = pages.decorate(
            html, settings, block=pages.trackback_block(source.url, source.title, settings)
        )
        if updated != html:
            path.write_text(updated, encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        raise ConfigError(f"cannot write the page {path}: {error.strerror or error}") from None
