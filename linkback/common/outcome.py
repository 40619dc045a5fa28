"""What became of one request, in one type for the whole package: the guarded client's
errors, the three senders' answers and the run's records all say it with a :class:`Verdict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    """Sent, or why not, which decides what follows."""

    SENT = "sent"  # the receiver has it (or had it already)
    TRANSIENT = "transient"  # a later try may work: tried again by a later build
    PERMANENT = "permanent"  # this endpoint will never take it: the next protocol may
    BLOCKED = "blocked"  # the address rule refused the request: never tried again


@dataclass(frozen=True)
class Outcome:
    """The result of one ping or discovery; ``pause`` asks the scheduler to rest the host."""

    verdict: Verdict
    detail: str
    pause: float | None = None

    @property
    def sent(self) -> bool:
        return self.verdict is Verdict.SENT


def failure(detail: str, *, transient: bool, pause: float | None = None) -> Outcome:
    """A failure that a later try may or may not cure."""
    return Outcome(Verdict.TRANSIENT if transient else Verdict.PERMANENT, detail, pause)
