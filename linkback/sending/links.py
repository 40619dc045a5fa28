"""Content HTML -> what the pings of one source page carry: its targets and its excerpt."""

from __future__ import annotations

import contextlib
from collections.abc import Container
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from lxml import etree

from ..common.settings import Settings

TRACKBACK_EXCERPT_LIMIT = 255


def parse_fragment(html: str) -> etree._Element | None:
    """Parse content HTML (a fragment or a document); None when there is nothing to parse.

    A plain lxml tree: every build parses every page, and lxml.html's element classes would
    double the cost of reading the links.
    """
    if not html or not html.strip():
        return None
    try:
        return etree.HTML(html)
    except (etree.LxmlError, ValueError):
        return None


def hrefs(tree: etree._Element | None) -> list[str]:
    """Every ``<a href>`` of a parsed tree, in document order, as written."""
    if tree is None:
        return []
    return [href for href in (a.get("href") for a in tree.iter("a")) if href is not None]


if TYPE_CHECKING:  # a protocol of the type stubs only: lxml checks targets by duck typing
    _Target = etree.ParserTarget[list[str]]
else:
    _Target = object


class _HrefCollector(_Target):
    """An lxml parser target that keeps the ``<a href>`` values and builds no tree."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def start(self, tag: str, attrib: dict[str, str], /) -> None:
        if tag == "a" and "href" in attrib:
            self.found.append(attrib["href"])

    def close(self) -> list[str]:
        return self.found


def served_hrefs(body: bytes, charset: str | None) -> list[str]:
    """Every ``<a href>`` of a whole served page, in document order, as written.

    A theme's page can be large (MkDocs repeats the whole navigation on every page), and
    the live check reads hundreds of them: a parser target that keeps only the hrefs builds
    no tree, which is twice as fast and leaves far less memory behind.
    """
    if not body.strip():
        return []
    charset = sniffed_charset(body, charset)
    try:
        parser = etree.HTMLParser(encoding=charset, target=_HrefCollector())
    except LookupError:  # an unknown charset label: let lxml sniff, as discovery does
        parser = etree.HTMLParser(target=_HrefCollector())
    try:
        parser.feed(body)
        return parser.close()
    except etree.LxmlError:  # nothing a browser would call a page
        return []


def sniffed_charset(body: bytes, charset: str | None) -> str | None:
    """The charset a page is read in: the one the server declared, else UTF-8 when the bytes
    are UTF-8. libxml2 reads an undeclared page as Latin-1, and a link to ``…/café/`` would
    not be the link the page carries (browsers sniff UTF-8 the same way)."""
    if charset is not None:
        return charset
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "utf-8"


@lru_cache(maxsize=64)  # the site URL's host is asked for every page
def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


_HTTP = ("http://", "https://")


def external_hrefs(raw_hrefs: list[str]) -> list[str]:
    """The hrefs that may name another host: absolute or scheme-relative ones only."""
    return [href for href in raw_hrefs if href.lstrip()[:8].lower().startswith((*_HTTP, "//"))]


def absolute_targets(raw_hrefs: list[str], page_url: str) -> list[str]:
    """Absolute http(s) URLs without fragment, each once, in order; otherwise as written."""
    targets: dict[str, None] = {}
    for href in raw_hrefs:
        found = _absolute(href, page_url)
        if found is not None:
            targets.setdefault(found[0])
    return list(targets)


def _absolute(href: str, page_url: str) -> tuple[str, str] | None:
    """(URL, host) of an http(s) link: an absolute href as written but for its fragment,
    a relative one joined to the page URL."""
    url = href.strip().partition("#")[0]
    try:
        parts = urlsplit(url)
        if not parts.scheme:
            url = urljoin(page_url, url)
            parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. a malformed IPv6 literal
        return None
    return (url, host) if host and parts.scheme in ("http", "https") else None


def outbound(
    tree: etree._Element | None,
    page_url: str,
    settings: Settings,
    recorded: Container[str] = frozenset(),
) -> list[str]:
    """The targets a source pings: outbound, not excluded, each once (SPEC "What is sent"),
    from content already parsed (a build parses each page once).

    ``recorded`` are the page's keys in the sent-log. Each was an outbound target when it was
    recorded, so a link written exactly so needs no URL parsing, only the checks that the
    settings may have changed since: most links of a rebuilt site are such links.
    """
    page_host = host_of(page_url)
    site_host = host_of(settings.site_url) or page_host
    raw = hrefs(tree)
    if page_host == site_host:  # a relative link resolves to the site itself: never a target
        raw = external_hrefs(raw)
    targets: dict[str, None] = {}
    for href in raw:
        url = href.strip().partition("#")[0]
        known = (
            url in recorded and url[:8].lower().startswith(_HTTP) and site_host not in url.lower()
        )
        if not known:
            found = _absolute(href, page_url)
            if found is None or found[1] == site_host:
                continue
            url = found[0]
        if not any(pattern.search(url) for pattern in settings.exclude_patterns):
            targets.setdefault(url)
    return list(targets)


_text_of = etree.XPath("string()")  # what lxml.html's text_content() does, on any tree


def plain_excerpt(html_or_text: str, limit: int = TRACKBACK_EXCERPT_LIMIT) -> str:
    """Trackback excerpts are plain text of at most 255 characters."""
    text = html_or_text or ""
    if "<" in text:
        with contextlib.suppress(etree.LxmlError, ValueError):
            tree = etree.HTML(text)
            text = text if tree is None else _text_of(tree)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def excerpt_of(excerpt: str, content: etree._Element | None) -> str:
    """What a trackback shows of a page: its own excerpt, else the text of its paragraphs
    (not its headings: the title is sent beside it). ``content`` is the parsed content."""
    if excerpt.strip():
        return plain_excerpt(excerpt)
    if content is None:
        return ""
    texts: list[str] = []
    for paragraph in content.iterfind(".//p"):
        texts.append(_text_of(paragraph))
        if sum(map(len, texts)) > TRACKBACK_EXCERPT_LIMIT:
            break
    return plain_excerpt(" ".join(texts) if texts else _text_of(content))
