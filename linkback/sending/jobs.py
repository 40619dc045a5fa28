"""The values a run works on: what one ping carries, a pair on its way to its result, and
the run's context.

They are plain values so that a build with nothing to send never loads the network stack,
nor the HTML parser.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..common.settings import PROTOCOLS, Settings
from .report import Report
from .sentlog import Entry, SentLog

if TYPE_CHECKING:
    from .progress import ProgressOption


@dataclass(frozen=True)
class RunContext:
    """What every part of one send or deliver works with, handed over whole: the settings,
    the open sent-log, the report it counts into, the caller's logger and progress bar."""

    settings: Settings
    log: SentLog
    report: Report
    logger: logging.Logger
    progress: ProgressOption = None


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
    previous: Entry | None
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
        return (self.previous or {}).get("attempts", 0)

    def marks(self) -> Entry:
        """What an entry of an update carries, so that a later change sends it again."""
        return {"update": True, "unlinked": self.unlinked} if self.update else {}

    def pending_fields(self) -> Entry:
        """What a pending entry keeps so that ``linkback deliver`` can send it without the
        build: read back by :meth:`from_pending`."""
        return {
            "endpoints": [list(candidate) for candidate in self.candidates],
            "title": self.ping.title,
            "excerpt": self.ping.excerpt,
            "blog_name": self.ping.blog_name,
            "need_link": self.need_link,
        }

    @classmethod
    def from_pending(cls, source: str, key: str, entry: Entry, blog_name: str) -> Job:
        """The job of a pending entry, as :meth:`pending_fields` and the update marks left
        it; ``blog_name`` stands in for an entry written before it kept its own."""
        ping = Ping(
            source,
            key,
            title=entry.get("title", ""),
            excerpt=entry.get("excerpt", ""),
            blog_name=entry.get("blog_name", blog_name),
        )
        saved = entry.get("endpoints") or [
            [entry.get("protocol") or "", entry.get("endpoint") or ""]
        ]
        return cls(
            ping,
            entry,
            need_link=entry.get("need_link", True),
            candidates=[(pair[0], pair[1]) for pair in saved if pair[0] in PROTOCOLS and pair[1]],
            key=key,
            update=entry.get("update", False),
            unlinked=entry.get("unlinked", False),
        )
