"""Content HTML -> the outbound targets of one source page."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from .settings import Settings


def parse_fragment(html: str) -> etree._Element | None:
    """Parse content HTML (a fragment or a document); None when there is nothing to parse."""
    if not html or not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def hrefs(tree: etree._Element | None) -> list[str]:
    """Every ``<a href>`` of a parsed tree, in document order, as written."""
    if tree is None:
        return []
    return [href for href in tree.xpath("//a/@href") if isinstance(href, str)]


class _HrefCollector:
    """An lxml parser target that keeps the ``<a href>`` values and builds no tree."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == "a" and "href" in attrib:
            self.found.append(attrib["href"])

    def close(self) -> list[str]:
        return self.found


def served_hrefs(body: bytes, charset: str | None) -> list[str]:
    """Every ``<a href>`` of a whole served page, in document order, as written.

    A theme's page can be large (MkDocs repeats the whole navigation on every page), and
    the live check reads hundreds of them on the sending threads: streaming the parser's
    events keeps no tree, which is both faster and leaves no megabytes behind per thread.
    """
    if not body.strip():
        return []
    try:
        parser = etree.HTMLParser(encoding=charset, target=_HrefCollector())
    except LookupError:  # an unknown charset label: let lxml sniff, as discovery does
        parser = etree.HTMLParser(target=_HrefCollector())
    try:
        parser.feed(body)
        return parser.close()
    except etree.LxmlError:  # nothing a browser would call a page
        return []


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def external_hrefs(raw_hrefs: list[str]) -> list[str]:
    """The hrefs that may name another host: absolute or scheme-relative ones only."""
    return [
        href
        for href in raw_hrefs
        if href.lstrip()[:8].lower().startswith(("http://", "https://", "//"))
    ]


def absolute_targets(raw_hrefs: list[str], page_url: str) -> list[str]:
    """Absolute http(s) URLs without fragment, each once, in order; otherwise as written."""
    return list(_with_hosts(raw_hrefs, page_url))


def _with_hosts(raw_hrefs: list[str], page_url: str) -> dict[str, str]:
    """{url: host} of :func:`absolute_targets`; one urlsplit per link (this runs every build).

    An absolute href is kept as written, only its fragment cut; a relative one is joined.
    """
    targets: dict[str, str] = {}
    for href in raw_hrefs:
        url = href.strip().partition("#")[0]
        try:
            parts = urlsplit(url)
            if not parts.scheme:
                url = urljoin(page_url, url)
                parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # e.g. a malformed IPv6 literal
            continue
        if host and parts.scheme in ("http", "https") and url not in targets:
            targets[url] = host
    return targets


def extract_links(content_html: str, page_url: str, settings: Settings) -> list[str]:
    """The targets a source pings: outbound, not excluded, each once (SPEC "What is sent")."""
    return outbound(parse_fragment(content_html), page_url, settings)


def outbound(tree: etree._Element | None, page_url: str, settings: Settings) -> list[str]:
    """:func:`extract_links` on content already parsed (a build parses each page once)."""
    site_host = host_of(settings.site_url) or host_of(page_url)
    return [
        url
        for url, host in _with_hosts(hrefs(tree), page_url).items()
        if host != site_host
        and not any(pattern.search(url) for pattern in settings.exclude_patterns)
    ]
