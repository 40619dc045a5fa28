"""The values a run works on: what one ping carries, and a pair on its way to its result.

They are plain values so that a build with nothing to send never loads the network stack,
nor the HTML parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    content: str = ""  # the source page's content as this build rendered it; "" in deliver
    update: bool = False  # a Webmention sent again: the source changed or was deleted
    unlinked: bool = False  # the source no longer links the target (an update, W3C 3.1.4)
    deleted: bool = False  # the source is gone (404 or 410): no live check (W3C 3.1.5)

    @property
    def attempts(self) -> int:
        return int((self.previous or {}).get("attempts", 0) or 0)
