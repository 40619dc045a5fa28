"""Steering the sent-log by hand: ``linkback forget`` and ``linkback retry``.

One wrong run must not stick for ever: a first ``send`` without ``--allow-private`` records
its loopback targets ``skipped``, a receiver that was down for a week leaves pairs
``failed`` past ``max_attempts``. Forgetting an entry makes its pair new again, so the
next build (or ``send``) tries it; nothing here makes a request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .sentlog import BASELINE, STATUSES, Entry, SentLog
from .settings import ConfigError


@dataclass(frozen=True)
class Selection:
    """Which entries to forget: every given condition must hold (``None`` is any)."""

    source: str | None = None
    target: re.Pattern[str] | None = None
    status: str | None = None
    retryable: bool = False  # `retry`: failed, or skipped for a reason other than a baseline

    @classmethod
    def of(cls, source: str | None, target: str | None, status: str | None) -> Selection:
        """A selection from the command line's words; ConfigError for a bad one."""
        if source is None and target is None and status is None:
            raise ConfigError(
                "forget needs --source, --target or --status (to forget everything, "
                "delete the sent-log)"
            )
        if status is not None and status not in STATUSES:
            raise ConfigError(f"--status {status!r} is not one of {', '.join(STATUSES)}")
        try:
            pattern = re.compile(target) if target is not None else None
        except re.error as error:
            raise ConfigError(f"--target {target!r} is not a regular expression: {error}") from None
        return cls(source=source, target=pattern, status=status)

    def matches(self, source: str, target: str, entry: Entry) -> bool:
        status = entry.get("status")
        if self.retryable and not (
            status == "failed" or (status == "skipped" and entry.get("detail") != BASELINE)
        ):
            return False
        return (
            (self.source is None or source == self.source)
            and (self.target is None or self.target.search(target) is not None)
            and (self.status is None or status == self.status)
        )


RETRY = Selection(retryable=True)


def forget(path: Path, selection: Selection, *, dry_run: bool = False) -> list[tuple[str, str]]:
    """Remove the matching entries under the log's lock; the pairs removed, in order."""
    if not path.is_file():
        raise ConfigError(f"no sent-log at {path} (run in the site's folder, or give --sent-log)")
    with SentLog.open(path, writable=not dry_run) as log:
        chosen = [
            (source, target)
            for source, target, entry in log.entries()
            if selection.matches(source, target, entry)
        ]
        log.remove(chosen)
    return chosen
