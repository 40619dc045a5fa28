"""The values a run works on: what one ping carries, and a pair on its way to its result.

They are plain values so that a build with nothing to send never loads the network stack.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

TRACKBACK_EXCERPT_LIMIT = 255


@dataclass(frozen=True, slots=True)
class Ping:
    """Everything a ping needs, so a pending one can be sent later without the build."""

    source: str
    target: str
    title: str = ""
    excerpt: str = ""
    blog_name: str = ""


@dataclass(slots=True)  # a big site has tens of thousands at once
class Job:
    """One (source, target) pair on its way from discovery to a recorded result."""

    ping: Ping
    previous: dict[str, Any] | None
    need_link: bool = True  # manual trackbacks only need the page to be served
    candidates: list[tuple[str, str]] = field(default_factory=list)
    index: int = 0
    key: str = ""  # the sent-log key: the target, or the trackback URI given by hand

    @property
    def attempts(self) -> int:
        return int((self.previous or {}).get("attempts", 0) or 0)


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
