"""What a run tells its user: a progress bar on a terminal, and one summary line at the end."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.errors import LiveError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .settings import PROTOCOLS

# True / False: a bar or not; None: a bar when stderr is a terminal; a Console: a bar on it
# when it is a terminal. A generator that shows its own live display (Pelican's "Generating...")
# passes its console, so that both share the screen instead of overwriting each other.
ProgressOption = bool | Console | None


@dataclass
class Report:
    """Counts of one run; ``summary()`` is the line printed at the end of a build."""

    pages: int = 0
    links: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    already: int = 0
    no_endpoint: int = 0
    failed: int = 0
    failed_retry: int = 0
    pending: int = 0
    skipped: int = 0
    would_send: int = 0
    requests: int = 0
    seconds: float = 0.0
    sending: bool = True
    dry_run: bool = False

    @property
    def new(self) -> int:
        """Links that are not settled in the sent-log yet."""
        return self.links - self.already

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def summary(self, send_setting: str = "send") -> str:
        """One line, e.g. ``linkback: 12 links in 3 pages: 10 sent (...), 2 already sent``."""
        head = f"linkback: {self.links} links in {self.pages} pages"
        if not self.sending:
            return (
                f"linkback: {self.new} new links in {self.pages} pages; "
                f"not sending ({send_setting} is off)"
            )
        parts = []
        if self.dry_run:
            parts.append(f"{self.would_send} would be sent (dry run)")
        else:
            by_protocol = ", ".join(f"{self.sent[p]} {p}" for p in PROTOCOLS if self.sent[p])
            total = sum(self.sent.values())
            parts.append(f"{total} sent" + (f" ({by_protocol})" if by_protocol else ""))
        parts.append(f"{self.already} already sent")
        parts.append(f"{self.no_endpoint} without endpoint")
        if self.pending:
            parts.append(
                f"{self.pending} pending until live (run `linkback deliver` after the upload)"
            )
        if self.skipped:
            parts.append(f"{self.skipped} skipped by safety rules")
        if self.failed:
            later = f"{self.failed_retry} retry next build" if self.failed_retry else "no retry"
            parts.append(f"{self.failed} failed ({later})")
        return f"{head}: {', '.join(parts)} in {self.seconds:.1f} s"


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
        self._task = None
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

    def advance(self, steps: int = 1) -> None:
        self._done += steps
        if self._bar is not None:
            self._bar.update(self._task, completed=self._done)
        elif self._total >= 20 and self._done >= self._next_log:
            self.logger.info("linkback: %d/%d links done", self._done, self._total)
            self._next_log += max(1, self._total // 10)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
