"""Run one build as a child process and measure it: wall time and the child's own peak memory."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float  # user + system time of the build process
    peak_mb: float
    exit_code: int


def run_build(command: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path) -> Measured:
    """Time ``command``; ``os.wait4`` gives the rusage of this child alone.

    ``getrusage(RUSAGE_CHILDREN)`` would be the maximum over every child the runner ever
    had, so the first large build would hide all later ones.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, cpu, usage.ru_maxrss / 1024, process.returncode)  # Linux: KiB


@dataclass(frozen=True)
class Spread:
    """Median, min and max of the wall times of one configuration."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def __str__(self) -> str:
        if self.count == 1:
            return f"{self.median:.2f} (1 run)"
        return f"{self.median:.2f} ({self.low:.2f}–{self.high:.2f})"
