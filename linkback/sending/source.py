"""The one value the adapters hand to the core: a published page that may link out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..common.settings import ConfigError

_OFF = {"off", "false", "no", "0", "disabled"}
_ON = {"on", "true", "yes", "1", "enabled"}


@dataclass(frozen=True)
class Source:
    """A page of the site: its public URL, title, content HTML, excerpt and metadata.

    ``metadata`` is the page's own (Pelican metadata, MkDocs front matter); only the keys
    ``linkback`` and ``trackbacks`` are read, in any letter case. ``published`` is the date
    the page was first published, when it has one (the ``since`` setting compares it).
    """

    url: str
    title: str
    content: str
    excerpt: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    published: date | None = None

    @property
    def enabled(self) -> bool:
        """False when the page says ``linkback: off`` (the blog editor's "Discussion" box)."""
        return wants_linkbacks(self.metadata)

    @property
    def manual_trackbacks(self) -> tuple[str, ...]:
        """Trackback URIs given by hand (``trackbacks: URI, URI`` or a YAML list)."""
        value = _meta(self.metadata, "trackbacks")
        if not value:
            return ()
        items = (
            value if isinstance(value, (list, tuple)) else str(value).replace("\n", ",").split(",")
        )
        return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def wants_linkbacks(metadata: Mapping[str, Any]) -> bool:
    """:attr:`Source.enabled` from a page's metadata alone, for an adapter that must know it
    before the page's content is final (its trackback URI goes to the theme first).

    Raises ConfigError for a value that is neither on nor off: ``Linkback: of`` (a typo of
    off) must not ping everyone the page links to. The adapter names the page's file.
    """
    value = _meta(metadata, "linkback")
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _OFF | _ON:
        return text in _ON
    raise ConfigError(
        f"Linkback: {str(value)[:40]!r} is neither on nor off "
        "(write on, off, true, false, yes or no)"
    )


def _meta(metadata: Mapping[str, Any], key: str) -> Any:
    for name, value in metadata.items():
        if name.lower() == key:
            return value
    return None
