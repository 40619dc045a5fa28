"""The progress bar of a long send: rich on a terminal, a log line every tenth elsewhere."""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.errors import LiveError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

# True / False: a bar or not; None: a bar when stderr is a terminal; a Console: a bar on it
# when it is a terminal. A generator that shows its own live display (Pelican's "Generating...")
# passes its console, so that both share the screen instead of overwriting each other.
ProgressOption = bool | Console | None


class ProgressDisplay:
    """A rich progress bar on a terminal; on a pipe, a log line every tenth of the work."""

    def __init__(self, logger: logging.Logger, enabled: ProgressOption = None) -> None:
        self.logger = logger
        self.console = enabled if isinstance(enabled, Console) else None
        if self.console is not None:
            self.enabled = self.console.is_terminal
        else:
            self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._total = 0
        self._done = 0
        self._next_log = 0

    def start(self, total: int, description: str = "linkback: sending") -> None:
        self._total, self._done = total, 0
        self._next_log = max(1, total // 10)
        if self.enabled and total:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,
                console=self.console,
            )
            try:
                self._bar.start()
            except LiveError:  # rich < 14 shows one live display per console: plain lines
                self._bar = None
                return
            self._task = self._bar.add_task(description, total=total)

    def add(self, more: int) -> None:
        """More work found on the way (the former targets of a page found deleted)."""
        self._total += more
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=self._total)

    def advance(self, steps: int = 1) -> None:
        self._done += steps
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self._done)
        elif self._total >= 20 and self._done >= self._next_log:
            self.logger.info("linkback: %d/%d links done", self._done, self._total)
            self._next_log += max(1, self._total // 10)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
