"""What linkback adds to rendered pages, and nothing else: discovery tags, Trackback RDF, URI.

Pages are edited as text at a few places so that every other byte stays as the generator
wrote it; nothing here re-serialises a page. The places are found by :mod:`linkback.common.markup`,
a tokenizer, not by text search.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape
from urllib.parse import quote, urlsplit

from . import markup
from .settings import Settings

_TAIL = 64  # characters of a page's content that _content_end looks for first
_RDF_BLOCK = re.compile(r"<!--\s*<rdf:RDF\b.*?</rdf:RDF>\s*-->", re.DOTALL)
# The Trackback spec's RDF vocabulary, which discovery reads back from other blogs' pages.
RDF_NAMESPACE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC_NAMESPACE = "http://purl.org/dc/elements/1.1/"
TRACKBACK_NAMESPACE = "http://madskills.com/public/xml/rss/module/trackback/"


def trackback_uri(page_url: str, trackback_endpoint: str | None) -> str | None:
    """``ENDPOINT?target=URL`` (``&target=`` when the endpoint has a query already)."""
    return _uri(page_url, trackback_endpoint) if trackback_endpoint else None


def _uri(page_url: str, trackback_endpoint: str) -> str:
    return f"{trackback_endpoint}{_joiner(trackback_endpoint)}target={quote(page_url, safe='')}"


@lru_cache(maxsize=8)
def _joiner(trackback_endpoint: str) -> str:
    return "&" if urlsplit(trackback_endpoint).query else "?"


@lru_cache(maxsize=8)
def _wanted_tags(webmention: str | None, pingback: str | None) -> tuple[tuple[str, str], ...]:
    """(rel, tag) of each endpoint that is set, written once per build, not once per page."""
    wanted = (("webmention", webmention), ("pingback", pingback))
    return tuple(
        (rel, f'<link rel="{rel}" href="{escape(href)}">\n') for rel, href in wanted if href
    )


def _missing_tags(head: markup.Head, settings: Settings) -> str:
    wanted = _wanted_tags(settings.webmention_endpoint, settings.pingback_endpoint)
    return "".join(tag for rel, tag in wanted if rel not in head.link_rels)


def trackback_rdf(page_url: str, title: str, uri: str) -> str:
    """The Trackback spec's auto-discovery block, inside a comment as the spec shows it."""
    about = escape(page_url)
    return (
        "<!--\n"
        f'<rdf:RDF xmlns:rdf="{RDF_NAMESPACE}"\n'
        f'         xmlns:dc="{DC_NAMESPACE}"\n'
        f'         xmlns:trackback="{TRACKBACK_NAMESPACE}">\n'
        f'<rdf:Description rdf:about="{about}"\n'
        f'    dc:identifier="{about}"\n'
        f'    dc:title="{escape(title)}"\n'
        f'    trackback:ping="{escape(uri)}" />\n'
        "</rdf:RDF>\n"
        "-->"
    )


def trackback_block(page_url: str, title: str, settings: Settings, uri: str | None = None) -> str:
    """What follows a source page's content: the RDF comment and, if wanted, the visible URI.

    ``uri`` is the page's trackback URI when the caller has it already.
    """
    if not settings.trackback_endpoint:
        return ""
    uri = uri or _uri(page_url, settings.trackback_endpoint)
    block = "\n" + trackback_rdf(page_url, title, uri)
    if settings.show_trackback_uri:
        link = escape(uri)
        block += (
            f'\n<p class="linkback-trackback-uri">Trackback URI: <a href="{link}">{link}</a></p>'
        )
    return block + "\n"


def has_trackback_block(html: str) -> bool:
    """True when the page already carries a Trackback RDF comment (its theme's, say).

    Every such block declares the Trackback namespace: that long string is found three times
    faster than ``trackback:ping`` in a page, and every page of a build is searched.
    """
    return TRACKBACK_NAMESPACE in html and bool(_RDF_BLOCK.search(html))


def decorate(html: str, settings: Settings, content: str = "", block: str = "") -> str:
    """A rendered page with its discovery tags and, when ``block`` is given, the Trackback
    block after ``content``, both inserted in one call: pages with a site's whole navigation
    are large, and every page of every build goes through here."""
    tags = ""
    head_at = 0
    if _wanted_tags(settings.webmention_endpoint, settings.pingback_endpoint):
        head = markup.head_of(html)
        tags = _missing_tags(head, settings)
        head_at = head.end if head.end is not None else 0
    block_at = _block_position(html, content) if block else None
    if block_at is None:
        return f"{html[:head_at]}{tags}{html[head_at:]}" if tags else html
    if block_at < head_at:  # the content's last copy is inside the head
        return f"{html[:block_at]}{block}{html[block_at:head_at]}{tags}{html[head_at:]}"
    return f"{html[:head_at]}{tags}{html[head_at:block_at]}{block}{html[block_at:]}"


def _block_position(html: str, content: str) -> int | None:
    """Where the Trackback block goes; None when the page has one already."""
    if has_trackback_block(html):
        return None
    end = _content_end(html, content) if content and not content.isspace() else -1
    if end >= 0:
        return end
    body_end = markup.body_end(html)
    return len(html) if body_end is None else body_end


def _content_end(html: str, content: str) -> int:
    """Where the last occurrence of ``content`` ends in ``html``, or -1.

    ``rfind`` compares a long needle at almost every position of the page; the content's
    last characters are found with skips, then checked to end a whole copy of the content
    (a later copy would end with a later copy of them).
    """
    tail = content[-_TAIL:]
    end = html.rfind(tail) + len(tail)
    if end >= len(content) and html.startswith(content, end - len(content)):
        return end
    if len(content) <= _TAIL:  # the tail was the whole content: it is not in the page
        return -1
    position = html.rfind(content)
    return position + len(content) if position >= 0 else -1


def insert_after_content(html: str, content: str, block: str) -> str:
    """``block`` right after the last copy of the page's content (before ``</body>`` when
    the theme changed the content on its way out), whatever the page holds already: the
    displayed linkbacks go there on pages that carry a Trackback block too."""
    end = _content_end(html, content) if content and not content.isspace() else -1
    if end < 0:
        body_end = markup.body_end(html)
        end = len(html) if body_end is None else body_end
    return f"{html[:end]}{block}{html[end:]}"
