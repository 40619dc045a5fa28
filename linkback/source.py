"""The one value the adapters hand to the core: a published page that may link out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_OFF = {"off", "false", "no", "0", "disabled"}


@dataclass(frozen=True)
class Source:
    """A page of the site: its public URL, title, content HTML, excerpt and metadata.

    ``metadata`` is the page's own (Pelican metadata, MkDocs front matter); only the keys
    ``linkback`` and ``trackbacks`` are read, in any letter case.
    """

    url: str
    title: str
    content: str
    excerpt: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def _meta(self, key: str) -> Any:
        for name, value in self.metadata.items():
            if name.lower() == key:
                return value
        return None

    @property
    def enabled(self) -> bool:
        """False when the page says ``linkback: off`` (the blog editor's "Discussion" box)."""
        value = self._meta("linkback")
        if value is None:
            return True
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() not in _OFF

    @property
    def manual_trackbacks(self) -> tuple[str, ...]:
        """Trackback URIs given by hand (``trackbacks: URI, URI`` or a YAML list)."""
        value = self._meta("trackbacks")
        if not value:
            return ()
        items = (
            value if isinstance(value, (list, tuple)) else str(value).replace("\n", ",").split(",")
        )
        return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
