"""What a run tells its user at the end: one summary line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..common.settings import PROTOCOLS
from .sentlog import Entry, Status

BASELINE = "baseline"  # the detail of a pair recorded without a request (baseline, since)


def settled_kind(entry: Entry) -> str:
    """What a pair settled in an earlier run counts as in a summary: its status, with the
    baseline told apart from a refusal by a safety rule ("already sent" is only ``sent``)."""
    status = entry["status"]
    if status is Status.SKIPPED and entry.get("detail") == BASELINE:
        return BASELINE
    return status.value


@dataclass
class Report:
    """Counts of one run; ``summary()`` is the line printed at the end of a build."""

    pages: int = 0
    links: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    already: int = 0  # pairs settled before this run, whatever their status
    earlier: Counter[str] = field(default_factory=Counter)  # those, by :func:`settled_kind`
    no_endpoint: int = 0
    failed: int = 0
    failed_retry: int = 0
    pending: int = 0
    skipped: int = 0
    baseline: int = 0  # recorded without a request in this run (``since``)
    updates: int = 0  # Webmentions sent again for pages that changed or were deleted
    would_send: int = 0
    requests: int = 0
    seconds: float = 0.0
    sending: bool = True
    dry_run: bool = False
    delivering: bool = False  # ``linkback deliver``: pending pings are its own business
    waiting: dict[str, str] = field(default_factory=dict)  # source: why its pings still wait

    @property
    def new(self) -> int:
        """Links that are not settled in the sent-log yet."""
        return self.links - self.already

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def count_page(self, links: int) -> None:
        """A page of the build that sends, with its links."""
        self.pages += 1
        self.links += links

    def count_updates(self, count: int) -> None:
        """Webmentions planned again for changed or deleted pages (less, when another run
        sent them meanwhile)."""
        self.updates += count

    def count_baseline(self) -> None:
        """A pair recorded without a request (``since``)."""
        self.baseline += 1

    def count_dry_run(self) -> None:
        """A ping a dry run would have sent."""
        self.would_send += 1

    def wait(self, source: str, why: str) -> None:
        """A page whose pings wait (pending), and the first reason given."""
        self.waiting.setdefault(source, why)

    def count(self, entry: Entry) -> None:
        """Count a pair this run recorded."""
        status = entry["status"]
        if status is Status.SENT:
            self.sent[entry.get("protocol") or ""] += 1
        elif status is Status.NO_ENDPOINT:
            self.no_endpoint += 1
        elif status is Status.PENDING:
            self.pending += 1
        elif status is Status.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1
            self.failed_retry += entry.get("retry", False)

    def count_settled(self, kinds: Mapping[str, int]) -> None:
        """Count pairs settled before this run (``kinds`` as :func:`settled_kind` names them)."""
        for kind, count in kinds.items():
            self.already += count
            self.earlier[kind] += count

    def summary(self, send_setting: str = "send", *, reason: str | None = None) -> str:
        """One line, e.g. ``linkback: 12 links in 3 pages: 10 sent (...), 2 already sent``.

        When not sending, ``reason`` says why (else ``send_setting`` is named as off)."""
        head = f"linkback: {self.links} links in {self.pages} pages"
        if not self.sending:
            return (
                f"linkback: {self.new} new links in {self.pages} pages; "
                f"not sending ({reason or f'{send_setting} is off'})"
            )
        parts = []
        if self.dry_run:
            parts.append(f"{self.would_send} would be sent (dry run)")
        else:
            by_protocol = ", ".join(f"{self.sent[p]} {p}" for p in PROTOCOLS if self.sent[p])
            total = sum(self.sent.values())
            parts.append(f"{total} sent" + (f" ({by_protocol})" if by_protocol else ""))
        if self.updates:
            parts.append(f"{self.updates} Webmention updates for changed or deleted pages")
        parts.append(f"{self.earlier[Status.SENT]} already sent")
        parts.append(f"{self.no_endpoint + self.earlier[Status.NO_ENDPOINT]} without endpoint")
        if self.baseline or self.earlier[BASELINE]:
            parts.append(f"{self.baseline + self.earlier[BASELINE]} skipped as baseline")
        if self.pending:
            later = (
                "still waiting for the page to be live"
                if self.delivering
                else "run `linkback deliver` after the upload"
            )
            parts.append(f"{self.pending} pending until live ({later})")
        if self.skipped or self.earlier[Status.SKIPPED]:
            parts.append(
                f"{self.skipped + self.earlier[Status.SKIPPED]} skipped by safety rules"
                + (" (`linkback retry` tries them again)" if self.earlier[Status.SKIPPED] else "")
            )
        if self.failed:
            later = f"{self.failed_retry} retry next build" if self.failed_retry else "no retry"
            parts.append(f"{self.failed} failed ({later})")
        if self.earlier[Status.FAILED]:
            parts.append(
                f"{self.earlier[Status.FAILED]} failed earlier, not retried "
                "(`linkback retry` tries them again)"
            )
        return f"{head}: {', '.join(parts)} in {self.seconds:.1f} s"
