"""Spam heuristics beyond verification: a source whose content is mostly links.

The other heuristic, a source linking to more than ``max_links`` distinct hosts, is judged
where the page is parsed (:func:`linkback.receive.verify.judge`); this one looks at the
content kept for display, which is what a spammer stuffs with links.
"""

from __future__ import annotations

import lxml.etree
import lxml.html

from .store import Content

MIN_LINKS = 3  # fewer links than this is an ordinary post, whatever their share
LINKED_SHARE = 0.5  # more of the visible text than this inside links is "mostly links"


def mostly_links(content: Content) -> str | None:
    """Why the content is held as spam (its text is mostly link text), or None."""
    if not content.html.strip():
        return None
    try:
        root = lxml.html.fragment_fromstring(content.html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return None
    anchors = root.findall(".//a")
    if len(anchors) < MIN_LINKS:
        return None
    total = len("".join(root.text_content().split()))
    linked = sum(len("".join(a.text_content().split())) for a in anchors)
    if total and linked / total > LINKED_SHARE:
        return f"content is mostly links ({len(anchors)} links, {linked * 100 // total}% of text)"
    return None
