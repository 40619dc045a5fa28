"""Typed mention records, parsed once from untrusted jf2 entries and bounded on arrival.

A jf2 entry comes from the network (the project's service, webmention.io, a file): every
field is checked, URLs must be http(s), text is cut to a bound, and HTML is sanitised with an
allow-list, so that what is cached and rendered is already inert.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import nh3

from ..common.urls import normalise, page_key

NAME_CHARS = 200  # an author's name
TITLE_CHARS = 300  # a mention's name (its title)
EXCERPT_CHARS = 300  # the text shown for a mention without HTML
CONTENT_CHARS = 2_000  # the HTML of a reply shown under an article
URL_CHARS = 2_048
_NOT_IN_URLS = " \"'<>`\\"  # never in a well-formed URL; often in an attempt to break out
# What a reply's HTML may keep: text structure and links; no images, media, forms or styles,
# so that nothing in it makes a reader's browser call anyone.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "del", "em", "i", "ins", "li",
    "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href"}, "abbr": {"title"}}
LINK_REL = "nofollow ugc"


class Kind(str, Enum):
    """What a linkback is, in the order the counts are shown."""

    REPLY = "reply"
    LIKE = "like"
    REPOST = "repost"
    BOOKMARK = "bookmark"
    RSVP = "rsvp"
    MENTION = "mention"
    PINGBACK = "pingback"
    TRACKBACK = "trackback"

    @property
    def plural(self) -> str:
        return "replies" if self is Kind.REPLY else self.value + "s"

    def counted(self, number: int) -> str:
        """``1 reply``, ``3 replies``."""
        return f"{number} {self.value if number == 1 else self.plural}"

    @property
    def as_avatar(self) -> bool:
        """Likes and reposts say nothing: a row of faces shows them best."""
        return self in (Kind.LIKE, Kind.REPOST)


class Protocol(str, Enum):
    WEBMENTION = "webmention"
    PINGBACK = "pingback"
    TRACKBACK = "trackback"


_KIND_OF_PROPERTY = {
    "in-reply-to": Kind.REPLY,
    "like-of": Kind.LIKE,
    "repost-of": Kind.REPOST,
    "bookmark-of": Kind.BOOKMARK,
    "rsvp": Kind.RSVP,
    "mention-of": Kind.MENTION,
}
RSVP_VALUES = ("yes", "no", "maybe", "interested")


@dataclass(frozen=True)
class Author:
    name: str = ""
    url: str | None = None
    photo: str | None = None


@dataclass(frozen=True)
class Mention:
    """One approved linkback, as shown: every field already checked and bounded."""

    id: str
    kind: Kind
    protocol: Protocol
    target: str
    source: str  # the page to link to (the entry's url, else wm-source)
    author: Author
    published: str  # ISO 8601 as received ("" when unknown); shown as its date
    title: str
    content: str  # sanitised HTML, "" when there is none
    excerpt: str  # plain text
    rsvp: str | None = None

    @property
    def page(self) -> str:
        """The key of the page it is about (see :func:`linkback.common.urls.page_key`)."""
        return page_key(self.target) or ""

    @property
    def date(self) -> str:
        return self.published[:10]

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kind"], data["protocol"] = self.kind.value, self.protocol.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Mention:
        """A record of the cache (written by :meth:`to_json`), checked again as if it came
        from the network: a file edited by hand cannot put a script on a page either.
        KeyError, TypeError or ValueError when it is not such a record."""
        author = data["author"]
        source, target = _url(data["source"]), _url(data["target"])
        if source is None or target is None:
            raise ValueError(f"mention {data['id']!r} has no http(s) source or target")
        rsvp = data.get("rsvp")
        return cls(
            id=str(data["id"]),
            kind=Kind(data["kind"]),
            protocol=Protocol(data["protocol"]),
            target=target,
            source=source,
            author=Author(
                name=_text(author["name"], NAME_CHARS),
                url=_url(author["url"]),
                photo=_url(author["photo"]),
            ),
            published=_text(data["published"], 40),
            title=_text(data["title"], TITLE_CHARS),
            content=_clean(str(data["content"])[: CONTENT_CHARS * 2]),
            excerpt=_text(data["excerpt"], EXCERPT_CHARS),
            rsvp=rsvp if rsvp in RSVP_VALUES else None,
        )


def from_jf2(entry: object) -> Mention | None:
    """The mention an untrusted jf2 entry describes, or None when it cannot be shown (no
    id, no http(s) target or source, private on webmention.io)."""
    if not isinstance(entry, Mapping) or entry.get("wm-private") is True:
        return None
    wm_id = entry.get("wm-id")
    if isinstance(wm_id, bool) or not isinstance(wm_id, (int, str)) or str(wm_id) == "":
        return None
    target = _url(entry.get("wm-target"))
    source = _url(entry.get("url")) or _url(entry.get("wm-source"))
    if target is None or source is None:
        return None
    protocol = _protocol(entry.get("linkback-protocol") or entry.get("wm-protocol"))
    kind = _KIND_OF_PROPERTY.get(_text(entry.get("wm-property"), 20), Kind.MENTION)
    if kind is Kind.MENTION and protocol is not Protocol.WEBMENTION:
        kind = Kind.PINGBACK if protocol is Protocol.PINGBACK else Kind.TRACKBACK
    content = entry.get("content")
    html = text = ""
    if isinstance(content, Mapping):
        html, text = _text(content.get("html"), None), _text(content.get("text"), None)
    elif isinstance(content, str):
        text = content
    raw_author = entry.get("author")
    author: Mapping[str, Any] = raw_author if isinstance(raw_author, Mapping) else {}
    rsvp = _text(entry.get("rsvp"), 20).lower()
    return Mention(
        id=str(wm_id)[:40],
        kind=kind,
        protocol=protocol,
        target=target,
        source=source,
        author=Author(
            name=_text(author.get("name"), NAME_CHARS),
            url=_url(author.get("url")),
            photo=_url(author.get("photo")),
        ),
        published=_text(entry.get("published") or entry.get("wm-received"), 40),
        title=_text(entry.get("name"), TITLE_CHARS),
        content=sanitise(html) if html else "",
        excerpt=_squeezed(text or (_plain(html) if html else ""), EXCERPT_CHARS),
        rsvp=rsvp if rsvp in RSVP_VALUES else None,
    )


def sanitise(html: str, limit: int = CONTENT_CHARS) -> str:
    """Allow-listed HTML, cut to about ``limit`` characters without breaking the markup:
    the cut text is parsed again, which closes what the cut left open."""
    clean = _clean(html[: limit * 20])  # the parser's work stays bounded too
    if len(clean) > limit:
        clean = _clean(clean[:limit] + "…")
    return clean


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel=LINK_REL,
        strip_comments=True,
    )


def _plain(html: str) -> str:
    """The text of sanitised HTML (no tags kept), for an excerpt."""
    import lxml.html  # only for entries that carry HTML and no text

    fragment = _clean(html[: EXCERPT_CHARS * 20])
    if not fragment.strip():
        return ""
    return str(lxml.html.fragment_fromstring(fragment, create_parent="div").text_content())


def _squeezed(text: str, limit: int) -> str:
    """Whitespace runs as one space, cut at ``limit`` characters with an ellipsis."""
    words = " ".join(text[: limit * 4].split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


def _text(value: object, limit: int | None) -> str:
    if not isinstance(value, str):
        return ""
    return value if limit is None else _squeezed(value, limit)


def _url(value: object) -> str | None:
    """An http(s) URL as given, or None (``javascript:``, ``data:``, too long, not a URL)."""
    if not isinstance(value, str) or len(value) > URL_CHARS:
        return None
    value = value.strip()
    if not value.isprintable() or any(char in value for char in _NOT_IN_URLS):
        return None
    return value if normalise(value) is not None else None


def _protocol(value: object) -> Protocol:
    try:
        return Protocol(value)
    except ValueError:
        return Protocol.WEBMENTION
