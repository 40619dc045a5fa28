"""The load generator: Debian's ``wrk`` with ``post.lua``, and what it counted.

Every request posts a Webmention from a source URL never sent before, so no receiver can
answer from a cache or fold repeats together. wrk's own latency histogram gives p50 and
p99; the script counts the answers by status, which wrk alone does not.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).parent / "post.lua"
CONNECTIONS = 32
THREADS = 2


class NoWrk(Exception):
    """wrk is not installed (``make bench-serve`` installs it)."""


@dataclass(frozen=True)
class Load:
    """One wrk run against one endpoint."""

    url: str  # the receiver's base URL
    path: str  # "/webmention" or django-wm's "/webmention/"
    sources: list[str]  # base URLs of the source hosts
    target_base: str
    targets: int  # target pages on the site
    tag: str  # makes this run's source URLs unlike any other run's
    seconds: float  # wrk's duration
    cap: int = 0  # requests per wrk thread, then it stops sending (0: none)
    stop_after: int = 0  # seconds, then every thread stops sending (0: never)
    pause_ms: int = 0  # before each next request on a connection: a lower, steadier load
    connections: int = CONNECTIONS
    idle_path: str = "/health"  # GET once done; answered 200, stores nothing


@dataclass(frozen=True)
class Counted:
    """What one wrk run saw: answers by status, socket errors, latency in seconds."""

    answered: int
    by_status: dict[int | str, int]  # 201, 202, 400, 429, "5xx", "other"
    socket_errors: int
    timeouts: int
    seconds: float
    p50: float
    p99: float

    def accepted(self, status: int) -> int:
        return self.by_status.get(status, 0)

    def errors(self, status: int) -> int:
        """Answers other than ``status`` and connections that failed."""
        return self.answered - self.accepted(status) + self.socket_errors

    def rate(self, status: int) -> float:
        return self.accepted(status) / self.seconds


def run(load: Load, log: Path) -> Counted:
    """Run wrk once; its console output goes to ``log``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise NoWrk("wrk is not installed: apt-get install wrk (make bench-serve does it)")
    per_thread_cap = -(-load.cap // THREADS) if load.cap else 0
    args = [
        load.path,
        ",".join(load.sources),
        load.target_base,
        str(load.targets),
        load.tag,
        str(per_thread_cap),
        str(load.stop_after),
        str(load.pause_ms),
        load.idle_path,
    ]
    with tempfile.NamedTemporaryFile("r", suffix=".wrk", delete=False) as results:
        results_path = Path(results.name)
    command = [
        wrk,
        f"-t{THREADS}",
        f"-c{load.connections}",
        f"-d{math.ceil(load.seconds)}s",  # wrk refuses a fraction (66.66s: usage, exit 1)
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        load.url,
        "--",
        *args,
    ]
    env = {**os.environ, "WRK_RESULTS": str(results_path)}
    marks = [Path(f"{results_path}.done{thread}") for thread in range(1, THREADS + 1)]
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command[: -len(args) - 1])} -- {load.path} ... {load.tag}\n")
        out.flush()
        process = subprocess.Popen(command, stdout=out, stderr=out, env=env)
        deadline = time.monotonic() + load.seconds + 60
        while process.poll() is None and time.monotonic() < deadline:
            if all(mark.exists() for mark in marks):  # every thread is done: stop waiting
                process.send_signal(signal.SIGINT)  # wrk then reports as at its end
                break
            time.sleep(0.05)
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(f"wrk did not end; see {log}") from None
    for mark in marks:
        mark.unlink(missing_ok=True)
    if process.returncode:
        raise RuntimeError(f"wrk failed with exit code {process.returncode}; see {log}")
    values = dict(line.split() for line in results_path.read_text().splitlines())
    results_path.unlink()
    number = {name: int(float(value)) for name, value in values.items()}
    by_status: dict[int | str, int] = {
        201: number["c201"],
        202: number["c202"],
        400: number["c400"],
        429: number["c429"],
        "5xx": number["c5xx"],
        "other": number["cother"],
    }
    return Counted(
        answered=number["answered"],
        by_status=by_status,
        socket_errors=number["socket_errors"],
        timeouts=number["timeouts"],
        seconds=number["duration_us"] / 1e6,
        p50=number["p50_us"] / 1e6,
        p99=number["p99_us"] / 1e6,
    )
