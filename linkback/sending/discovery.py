"""A target's response -> the endpoints it advertises for each protocol.

Webmention follows the W3C Recommendation, section 3.1.2; Pingback follows Pingback 1.0,
section "Autodiscovery"; Trackback follows the Trackback spec's RDF auto-discovery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml import etree
from requests.utils import parse_header_links

from ..common.pages import DC_NAMESPACE, RDF_NAMESPACE, TRACKBACK_NAMESPACE
from .links import sniffed_charset

HTML_TYPES = ("text/html", "application/xhtml+xml")
_SAFE_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
)


@dataclass(frozen=True)
class Endpoints:
    """Where a target accepts each protocol, and where each was found (for `discover`)."""

    webmention: str | None = None
    pingback: str | None = None
    trackback: str | None = None
    found: tuple[tuple[str, str], ...] = ()

    def get(self, protocol: str) -> str | None:
        endpoint: str | None = getattr(self, protocol)
        return endpoint

    def advertised(self, protocols: tuple[str, ...]) -> list[tuple[str, str]]:
        """(protocol, endpoint) pairs in the order of preference given."""
        return [(p, self.get(p)) for p in protocols if self.get(p)]  # type: ignore[misc]


def _rels(value: str | None) -> list[str]:
    return value.lower().split() if value else []


def webmention_from_headers(headers: Mapping[str, str], base_url: str) -> str | None:
    """The first Link header value whose rel includes webmention."""
    raw = headers.get("Link")
    if not raw:
        return None
    for link in parse_header_links(raw):
        rel = next((v for k, v in link.items() if k.strip().lower() == "rel"), None)
        if "webmention" in _rels(rel):
            return urljoin(base_url, link.get("url", ""))
    return None


def parse_html(body: bytes, charset: str | None) -> etree._Element | None:
    """Parse a page as a browser would: broken markup and bad bytes do not stop discovery."""
    if not body.strip():
        return None
    charset = sniffed_charset(body, charset)
    try:
        parser = lxml.html.HTMLParser(encoding=charset, recover=True) if charset else None
        return lxml.html.document_fromstring(body, parser=parser)
    except (etree.ParserError, LookupError, ValueError):
        try:  # an unknown charset label: let lxml sniff
            return lxml.html.document_fromstring(body)
        except (etree.ParserError, ValueError):
            return None


def webmention_from_html(tree: etree._Element, base_url: str) -> str | None:
    """The first <link> or <a> in document order with rel webmention and an href."""
    for element in tree.iter("link", "a"):
        href = element.get("href")
        if href is not None and "webmention" in _rels(element.get("rel")):
            return urljoin(base_url, href.strip())  # an empty href is the page itself
    return None


def pingback_from_html(tree: etree._Element, base_url: str) -> str | None:
    for element in tree.iter("link"):
        href = element.get("href")
        if href and "pingback" in _rels(element.get("rel")):
            return urljoin(base_url, href.strip())
    return None


def trackback_from_html(tree: etree._Element, target: str, base_url: str) -> str | None:
    """The ``trackback:ping`` of the RDF block whose identifier is the target, resolved
    against ``base_url`` (the page's final URL) as every other endpoint is.

    A page listing several posts carries one block per post; only the block about this
    target counts. A lone block counts when its identifier is missing.
    """
    ping = _trackback_ping(tree, target)
    return urljoin(base_url, ping) if ping else None


def _trackback_ping(tree: etree._Element, target: str) -> str | None:
    wanted = {_normalise(target)}
    candidates: list[tuple[str | None, str]] = []
    for comment in tree.iter(etree.Comment):
        text = comment.text or ""
        start = text.find("<rdf:RDF")
        while start >= 0:
            end = text.find("</rdf:RDF>", start)
            if end < 0:
                break
            candidates.extend(_rdf_descriptions(text[start : end + len("</rdf:RDF>")]))
            start = text.find("<rdf:RDF", end)
    for identifier, ping in candidates:
        if identifier is not None and _normalise(identifier) in wanted:
            return ping
    if len(candidates) == 1 and candidates[0][0] is None:
        return candidates[0][1]
    return None


def _rdf_descriptions(block: str) -> list[tuple[str | None, str]]:
    try:
        root = etree.fromstring(block.encode("utf-8"), parser=_SAFE_XML)
    except etree.XMLSyntaxError:
        return []
    found = []
    for description in root.iter(f"{{{RDF_NAMESPACE}}}Description"):
        ping = description.get(f"{{{TRACKBACK_NAMESPACE}}}ping")
        if ping:
            identifier = description.get(f"{{{DC_NAMESPACE}}}identifier") or description.get(
                f"{{{RDF_NAMESPACE}}}about"
            )
            found.append((identifier, ping.strip()))
    return found


def _normalise(url: str) -> str:
    return urldefrag(url.strip()).url.rstrip("/")


def discover(
    final_url: str,
    headers: Mapping[str, str],
    body: bytes,
    target: str,
    *,
    charset: str | None = None,
) -> Endpoints:
    """Endpoints of a fetched target: headers first, then the HTML body if it is HTML.

    Relative endpoints resolve against ``final_url``, the URL after redirects.
    """
    found: list[tuple[str, str]] = []
    webmention = webmention_from_headers(headers, final_url)
    if webmention:
        found.append(("webmention", "HTTP Link header"))
    pingback = headers.get("X-Pingback", "").strip() or None
    if pingback:
        pingback = urljoin(final_url, pingback)
        found.append(("pingback", "X-Pingback header"))
    trackback = None
    media_type = headers.get("Content-Type", "text/html").split(";", 1)[0].strip().lower()
    tree = parse_html(body, charset) if media_type in HTML_TYPES else None
    if tree is not None:
        if webmention is None:
            webmention = webmention_from_html(tree, final_url)
            if webmention is not None:
                found.append(("webmention", "<link>/<a> rel=webmention"))
        if pingback is None:
            pingback = pingback_from_html(tree, final_url)
            if pingback:
                found.append(("pingback", '<link rel="pingback">'))
        trackback = trackback_from_html(tree, target, final_url)
        if trackback:
            found.append(("trackback", "RDF trackback:ping"))
    return Endpoints(webmention, pingback, trackback, tuple(found))
