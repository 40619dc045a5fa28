"""The receiver's tables, from the rows the scenarios return."""

from __future__ import annotations

from ..report import Rows
from .faults import FaultRow
from .scenarios import LoadRow, MemoryRow
from .two_processes import SharedRow
from .verification import VerifyRow

LOAD_HEADER = [
    "Receiver",
    "Scenario",
    "Accepted/s: median (min–max)",
    "p50 ms",
    "p99 ms",
    "Errors",
    "Peak MB",
    "Notes",
]
MEMORY_HEADER = ["Receiver", "Accepted", "RSS MB", "Accepted", "RSS MB", "Growth", "Peak MB"]
VERIFY_HEADER = [
    "Receiver",
    "Linkbacks",
    "Seconds",
    "Ideal s",
    "÷ ideal",
    "Peak per host",
    "Peak in flight",
    "Mean in flight",
    "Notes",
]
SHARED_HEADER = [
    "201 answers",
    "Accepted/s",
    "p99 ms",
    "Errors",
    "Stored",
    "Fetched once",
    "Fetched twice or more",
    "Never fetched",
    "Drained in s",
    "Peak MB",
    "Statuses",
]
FAULT_HEADER = [
    "Scenario",
    "201 answers",
    "Stored",
    "Stored − 201 (≤ 32: answers the kill cut)",
    "Still queued",
    "Fetched twice",
    "of which cut by the kill",
    "Verified twice",
    "Drained in s",
    "Notes",
]


def _spread(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    if len(values) == 1:
        return f"{median:.0f} (1 run)"
    return f"{median:.0f} ({ordered[0]:.0f}–{ordered[-1]:.0f})"


def load_rows(rows: list[LoadRow]) -> Rows:
    table = []
    for row in rows:
        if not row.runs:
            table.append([row.receiver, row.scenario, "—", "", "", "", "", row.note])
            continue
        median = row.median_run
        table.append(
            [
                row.receiver,
                row.scenario,
                _spread(row.rates),
                f"{median.p50 * 1000:.1f}",
                f"{median.p99 * 1000:.1f}",
                str(row.errors),
                f"{row.peak_mb:.0f}",
                row.note,
            ]
        )
    return table


def memory_rows(rows: list[MemoryRow]) -> Rows:
    return [
        [
            row.receiver,
            str(row.small),
            f"{row.small_mb:.1f}",
            str(row.large),
            f"{row.large_mb:.1f}",
            f"{row.growth:+.1%}",
            f"{row.peak_mb:.1f}",
        ]
        for row in rows
    ]


def verify_rows(rows: list[VerifyRow]) -> Rows:
    return [
        [
            row.receiver,
            str(row.linkbacks),
            "not done" if row.seconds is None else f"{row.seconds:.1f}",
            f"{row.ideal:.1f}",
            "—" if row.ratio is None else f"{row.ratio:.2f}×",
            str(row.peak_per_host),
            str(row.peak_in_flight),
            f"{row.mean_in_flight:.1f}",
            row.note,
        ]
        for row in rows
    ]


def shared_rows(rows: list[SharedRow]) -> Rows:
    return [
        [
            str(row.answered_201),
            f"{row.rate:.0f}",
            f"{row.p99 * 1000:.1f}",
            str(row.errors),
            str(row.stored),
            str(row.fetched_once),
            str(row.fetched_more),
            str(row.not_fetched),
            "not drained" if row.drained is None else f"{row.drained:.1f}",
            f"{row.peak_mb:.0f}",
            row.note,
        ]
        for row in rows
    ]


def fault_rows(rows: list[FaultRow]) -> Rows:
    return [
        [
            row.scenario,
            str(row.answered_201),
            str(row.stored),
            f"{row.stored - row.answered_201:+d}",
            str(row.not_verified),
            str(row.fetched_twice),
            str(row.interrupted),
            str(row.verified_twice),
            f"{row.seconds:.1f}",
            row.note,
        ]
        for row in rows
    ]
