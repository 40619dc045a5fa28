"""The linkbacks of one page as plain values for themes, and the built-in block.

Themes get :class:`Linkbacks` (dicts, lists and strings: any template language reads them);
the built-in block renders the same values with Jinja2, autoescaped, so every field is
escaped and only a reply's already-sanitised HTML is inserted as markup. Its stylesheet uses
``:where()`` selectors, which weigh nothing, so any rule of a theme wins over them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib.resources import files
from typing import TypedDict
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape

from .model import Kind, Mention

MAX_FACES = 100  # likes and reposts shown as faces on one page
MAX_ENTRIES = 200  # replies, mentions, pingbacks... listed on one page
SEPARATOR = " · "
STYLE_ID = "linkback-style"
TEMPLATE_NAME = "linkback.html"  # a theme's own block
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


class AuthorData(TypedDict):
    name: str
    url: str | None
    photo: str | None  # what an <img src> should say: a local file, a remote URL, or None


class EntryData(TypedDict):
    id: str
    kind: str
    protocol: str
    via: str | None  # "pingback" or "trackback"; None for a Webmention
    url: str
    host: str
    author: AuthorData
    published: str
    date: str
    title: str
    content: str  # sanitised HTML (all the strings are Markup: escaped already)
    excerpt: str
    rsvp: str | None


class CountData(TypedDict):
    kind: str
    count: int
    label: str


class Linkbacks(TypedDict):
    """What a theme gets as ``article.linkbacks`` / ``page.meta.linkbacks``."""

    total: int
    summary: str  # "3 replies · 5 likes · 2 reposts · 1 pingback"
    counts: list[CountData]
    kinds: dict[str, list[EntryData]]  # every entry, grouped by kind
    faces: list[EntryData]  # likes and reposts, as a row of avatars
    entries: list[EntryData]  # the others, as a list


def linkbacks(mentions: Iterable[Mention], photo: Callable[[str | None], str | None]) -> Linkbacks:
    """The values of one page; ``photo`` turns an author's photo URL into an ``src``."""
    ordered = sorted(mentions, key=lambda mention: (mention.published, mention.id))
    kinds: dict[str, list[EntryData]] = {}
    for kind in Kind:
        chosen = [entry(mention, photo) for mention in ordered if mention.kind is kind]
        if chosen:
            kinds[kind.value] = chosen
    counts = [
        CountData(kind=kind, count=len(items), label=Kind(kind).counted(len(items)))
        for kind, items in kinds.items()
    ]
    return Linkbacks(
        total=sum(count["count"] for count in counts),
        summary=SEPARATOR.join(count["label"] for count in counts),
        counts=counts,
        kinds=kinds,
        faces=[item for kind, items in kinds.items() if Kind(kind).as_avatar for item in items][
            :MAX_FACES
        ],
        entries=[
            item for kind, items in kinds.items() if not Kind(kind).as_avatar for item in items
        ][:MAX_ENTRIES],
    )


def entry(mention: Mention, photo: Callable[[str | None], str | None]) -> EntryData:
    """One mention's values, every string already escaped (``Markup``): a theme whose
    Jinja environment does not autoescape (Pelican's default) still shows them inert, and
    one that does escapes nothing twice. ``content`` is the sanitised HTML itself."""
    via = mention.protocol.value if mention.protocol.value != "webmention" else None
    picture = photo(mention.author.photo)
    return EntryData(
        id=escape(mention.id),
        kind=mention.kind.value,
        protocol=mention.protocol.value,
        via=via,
        url=escape(mention.source),
        host=escape(urlsplit(mention.source).hostname or mention.source),
        author=AuthorData(
            name=escape(mention.author.name),
            url=_escaped(mention.author.url),
            photo=_escaped(picture),
        ),
        published=escape(mention.published),
        date=escape(mention.date),
        title=escape(mention.title),
        content=Markup(mention.content),
        excerpt=escape(mention.excerpt),
        rsvp=mention.rsvp,
    )


def _escaped(value: str | None) -> str | None:
    return None if value is None else escape(value)


def theme_template(environment: jinja2.Environment) -> jinja2.Template | None:
    """A theme's own ``linkback.html`` among the templates of its environment, or None."""
    try:
        return environment.get_template(TEMPLATE_NAME)
    except jinja2.TemplateNotFound:
        return None


@cache
def _template() -> jinja2.Template:
    source = files(__package__).joinpath("templates", "linkback.html").read_text("utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(source)


@cache
def stylesheet() -> str:
    """The small default stylesheet, as one ``<style>`` element for the page's head."""
    css = files(__package__).joinpath("templates", "linkback.css").read_text("utf-8")
    return f'<style id="{STYLE_ID}">\n{css}</style>\n'


def block(data: Linkbacks) -> str:
    """The built-in block (empty for a page without linkbacks)."""
    if not data["total"]:
        return ""
    return "\n" + _template().render(linkbacks=data) + "\n"


def add_stylesheet(html: str) -> str:
    """The default stylesheet before ``</head>``, once (a theme's own rules come later in
    the cascade or weigh more, and win)."""
    if f'id="{STYLE_ID}"' in html:
        return html
    match = _HEAD_END.search(html)
    return html if match is None else html[: match.start()] + stylesheet() + html[match.start() :]


def root_of(page_path: str) -> str:
    """The relative path from a page (its URL path in the site, ``2026/11/post/`` or
    ``about.html``) back to the site's root, so that local avatars work under any
    SITEURL, in a sub-folder, and from files opened on disk."""
    folder = page_path.split("?", 1)[0].split("#", 1)[0].lstrip("/").rsplit("/", 1)
    depth = len([part for part in folder[0].split("/") if part]) if len(folder) == 2 else 0
    return "../" * depth
