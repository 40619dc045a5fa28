"""What the scenarios need of a receiver, whichever it is: start, stop, kill, count."""

from __future__ import annotations

from collections import Counter
from typing import Protocol


class Receiver(Protocol):
    label: str  # the table's row name, with its configuration
    url: str  # base URL
    accept_path: str  # where Webmentions are POSTed
    idle_path: str  # answered 200 without storing anything: what wrk GETs once done
    accepted: int  # the status of an accepted Webmention: 201 (linkback) or 202 (django-wm)

    def start(self) -> None: ...

    def stop(self) -> int | None: ...

    def kill(self) -> None: ...

    def pids(self) -> list[int]:
        """Roots of the process trees whose memory counts."""
        ...

    def stored(self) -> Counter[str]:
        """Linkbacks in the store, by status."""
        ...
