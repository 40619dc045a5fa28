"""What a run tells its user at the end: one summary line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .settings import PROTOCOLS


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
