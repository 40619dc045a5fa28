"""``python -m benchmarks.serve``: the receiver under load, side by side with django-wm.

One invocation starts the loopback web (source hosts answering after L ms, the target
site), then runs every scenario: acceptance of new Webmentions by wrk at 32 connections
against django-wm under gunicorn (each worker configuration, the best one kept) and
``linkback serve`` on SQLite and on PostgreSQL; latency at half load; acceptance during
slow pingbacks; memory at two sizes; the verification phase against its ideal time; two
processes on one PostgreSQL store; ``kill -9`` during the load and during verification.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from linkback.receive.config import SERVE_BY_NAME
from linkback.receive.worker import THREADS

from .. import report
from ..__main__ import machine
from ..server import LoopbackServers
from . import djangowm, tables
from .djangowm import DjangoWM, Workers
from .faults import FaultRow, kill_during_load, kill_during_verification
from .linkback_serve import LinkbackServe
from .load import CONNECTIONS, NoWrk
from .process import Failed
from .profile import ensure_py_spy, profile_acceptance
from .scenarios import Bench, LoadRow, MemoryRow, acceptance, half_load, memory, slow_pingbacks
from .sites import Site, Sources
from .two_processes import SharedRow, two_processes
from .verification import VerifyRow, verify_django, verify_linkback

WORK = Path(__file__).parent.parent / "work"
DJANGO_CONFIGS = [
    Workers("sync", 2),
    Workers("sync", 4),
    Workers("sync", 8),
    Workers("gthread", 2, 4),
    Workers("gthread", 4, 4),
]
SLOW_SOURCE = 8.0  # seconds, the slow pingbacks' sources
# The verification fetches linkback serve runs at once with its defaults, which the harness
# starts it with: the ideal time of the issue is for that many "workers".
SERVICE_VERIFIERS = SERVE_BY_NAME["workers"].default * THREADS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short loads and few linkbacks: a smoke run of a few minutes",
    )
    parser.add_argument("--seconds", type=float, help="one timed load (default 10, quick 2)")
    parser.add_argument("--runs", type=int, default=3, help="timed loads per receiver (3)")
    parser.add_argument("--latency", type=float, default=50, help="source latency in ms (50)")
    parser.add_argument("--hosts", type=int, default=100, help="source hosts (100)")
    parser.add_argument(
        "--verify", type=int, help="linkbacks verified by linkback (default 10000, quick 300)"
    )
    parser.add_argument(
        "--django-verify",
        type=int,
        help="linkbacks verified by django-wm, one at a time (default 1000, quick 50)",
    )
    parser.add_argument(
        "--verifiers",
        type=int,
        default=SERVICE_VERIFIERS,
        help="linkback's verification fetches at once, for the ideal time (default: the "
        f"service's, {SERVICE_VERIFIERS}: its default workers × threads of each)",
    )
    parser.add_argument(
        "--linkback-python",
        default=sys.executable,
        help="the Python whose linkback is measured (default: this one)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile linkback serve (SQLite) with py-spy during one load",
    )
    parser.add_argument(
        "--only",
        metavar="TEXT",
        help="run only the scenarios whose name holds TEXT (e.g. memory, kill -9)",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip django-wm")
    parser.add_argument("--no-linkback", action="store_true", help="skip linkback serve")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh_sqlite(name: str) -> str:
    path = WORK / "serve" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return str(path)


def linkback_serve_available(python: str) -> str | None:
    """None when ``linkback serve`` runs here, else why not."""
    done = subprocess.run(
        [python, "-m", "linkback", "serve", "--help"], capture_output=True, text=True
    )
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"`linkback serve` is not available here: {last}"
    return None


T = TypeVar("T")
# What a scenario that went wrong raises: its row is then left out and the failure noted.
SCENARIO_ERRORS = (Failed, RuntimeError, OSError, subprocess.SubprocessError, ValueError, KeyError)


class Results:
    def __init__(self, say: Callable[[str], object], only: str | None = None) -> None:
        self.say = say
        self.only = only  # run only the scenarios whose name holds this text
        self.load: list[LoadRow] = []
        self.memory: list[MemoryRow] = []
        self.verify: list[VerifyRow] = []
        self.shared: list[SharedRow] = []
        self.faults: list[FaultRow] = []
        self.notes: list[str] = []
        self.profile: list[str] = []

    def attempt(
        self, what: str, scenario: Callable[[], T], rows: list[T] | None = None
    ) -> T | None:
        """Run one scenario and keep its row in ``rows``; a failure (a service that does not
        start, a command that fails) becomes a note, and the next scenario runs."""
        if self.only is not None and self.only not in what:
            return None
        self.say(f"  {what}")
        try:
            row = scenario()
        except SCENARIO_ERRORS as error:
            self.say(f"    failed: {error}")
            self.notes.append(f"Failed, {what}: {error}")
            return None
        if rows is not None:
            rows.append(row)
        return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    verify_count = args.verify or (300 if args.quick else 10_000)
    django_count = args.django_verify or (50 if args.quick else 1000)
    memory_sizes = (1_000, 5_000) if args.quick else (10_000, 100_000)
    logs = WORK / "serve-logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.iterdir():
        old.unlink()
    heading = (
        f"Receiver benchmark: wrk with {CONNECTIONS} connections, {seconds:g} s loads × "
        f"{args.runs}, {args.hosts} source hosts answering after {args.latency:g} ms. "
        f"{machine()}; load average (1 min) {os.getloadavg()[0]:.2f} at the start"
    )
    console.print(f"[bold]{heading}[/]")
    results = Results(console.print, args.only)
    servers = LoopbackServers()
    started = time.perf_counter()
    try:
        sources = Sources(servers, args.hosts, args.latency / 1000, SLOW_SOURCE)
        site = Site(servers)
        sources.site = site.base_url
        bench = Bench(sources, site, 100, logs, seconds, console.print)
        if not args.no_reference:
            run_django(args, bench, django_count, results)
        if not args.no_linkback:
            run_linkback(args, bench, verify_count, memory_sizes, results)
    except NoWrk as missing:
        console.print(str(missing))
        return 2
    finally:
        servers.stop()
    heading += (
        f", {os.getloadavg()[0]:.2f} at the end; {time.perf_counter() - started:.0f} s in all."
    )
    show(console, heading, results)
    return 0


def run_django(args: argparse.Namespace, bench: Bench, count: int, results: Results) -> None:
    python = djangowm.ensure_env(WORK / ".venv-djangowm")
    project = djangowm.write_project(WORK / "djangowm")
    results.notes.append(f"Reference: {djangowm.versions(python)}, SQLite (WAL), Celery off.")
    best: tuple[float, Workers] | None = None
    for workers in DJANGO_CONFIGS:
        receiver = DjangoWM(python, project, workers, free_port(), bench.logs)
        row = results.attempt(
            f"{receiver.label}: acceptance",
            partial(acceptance, receiver, bench, args.runs),
            results.load,
        )
        if row is not None and (best is None or row.median_rate > best[0]):
            best = (row.median_rate, workers)
    if best is None:
        return
    results.notes.append(f"django-wm's best configuration here: {best[1]}.")
    receiver = DjangoWM(python, project, best[1], free_port(), bench.logs)
    results.attempt(
        f"{receiver.label}: verification of {count} (mentions_pending)",
        partial(verify_django, receiver, bench, count),
        results.verify,
    )


def run_linkback(
    args: argparse.Namespace,
    bench: Bench,
    verify_count: int,
    memory_sizes: tuple[int, int],
    results: Results,
) -> None:
    missing = linkback_serve_available(args.linkback_python)
    if missing:
        results.load.append(LoadRow("linkback serve", "every scenario", note=missing))
        return
    site = bench.site.base_url
    # as long as one verifier fetching one source after the other would take
    limit = max(120.0, verify_count * bench.sources.latency)

    def sqlite(name: str, label: str = "linkback serve, SQLite") -> LinkbackServe:
        return LinkbackServe(
            label, fresh_sqlite(name), site, [free_port()], bench.logs, args.linkback_python
        )

    name = "linkback serve, SQLite"
    unloaded = results.attempt(
        f"{name}: acceptance",
        partial(acceptance, sqlite("acceptance.sqlite"), bench, args.runs),
        results.load,
    )
    full_rate = unloaded.median_rate if unloaded else 0.0
    if args.profile:
        py_spy = ensure_py_spy(WORK / ".venv-py-spy")
        results.profile = (
            results.attempt(
                f"{name}: one load under py-spy",
                partial(
                    profile_acceptance,
                    sqlite("profile.sqlite"),
                    bench,
                    py_spy,
                    WORK / "serve-profile",
                ),
            )
            or []
        )
    results.attempt(
        f"{name}: latency at half load",
        partial(half_load, sqlite("half.sqlite"), bench, full_rate),
        results.load,
    )
    results.attempt(
        f"{name}: acceptance during slow pingbacks",
        partial(slow_pingbacks, sqlite("slow.sqlite"), bench, full_rate),
        results.load,
    )
    results.attempt(
        f"{name}: memory at {memory_sizes[0]} and {memory_sizes[1]}",
        partial(memory, sqlite("memory.sqlite"), bench, *memory_sizes),
        results.memory,
    )
    results.attempt(
        f"{name}: verification of {verify_count}",
        partial(
            verify_linkback, sqlite("verify.sqlite"), bench, verify_count, args.verifiers, limit
        ),
        results.verify,
    )
    results.attempt(
        f"{name}: kill -9 during the load",
        partial(kill_during_load, sqlite("kill-load.sqlite"), bench, limit),
        results.faults,
    )
    kill_count = max(300, verify_count // 3)
    results.attempt(
        f"{name}: kill -9 during the verification of {kill_count}",
        partial(kill_during_verification, sqlite("kill-verify.sqlite"), bench, kill_count, limit),
        results.faults,
    )
    if not args.no_postgres:
        run_postgres(args, bench, verify_count, limit, results)
    results.notes.append(
        f"The ideal verification time takes {args.verifiers} verification fetches at once "
        f"(--verifiers; the service runs {SERVICE_VERIFIERS}) and verify_per_host 2."
    )


def run_postgres(
    args: argparse.Namespace, bench: Bench, verify_count: int, limit: float, results: Results
) -> None:
    try:
        from tests.postgres import Unavailable, start
    except ImportError as error:  # pytest missing: the dev extra is not installed
        results.load.append(LoadRow("linkback serve, PostgreSQL", "acceptance", note=str(error)))
        return
    try:
        server = start()
    except Unavailable as reason:
        results.load.append(
            LoadRow(
                "linkback serve, PostgreSQL", "acceptance", note=f"PostgreSQL unavailable: {reason}"
            )
        )
        return
    site = bench.site.base_url
    try:
        results.notes.append(f"PostgreSQL {server.bindir.parent.name}, fsync off (as the tests).")

        def postgres(name: str, ports: int = 1) -> LinkbackServe:
            label = "linkback serve, PostgreSQL" + (f", {ports} processes" if ports > 1 else "")
            return LinkbackServe(
                label,
                server.database(name),
                site,
                [free_port() for _ in range(ports)],
                bench.logs,
                args.linkback_python,
            )

        name = "linkback serve, PostgreSQL"
        results.attempt(
            f"{name}: acceptance",
            lambda: acceptance(postgres("acceptance"), bench, args.runs),
            results.load,
        )
        results.attempt(
            f"{name}: verification of {verify_count}",
            lambda: verify_linkback(postgres("verify"), bench, verify_count, args.verifiers, limit),
            results.verify,
        )
        results.attempt(
            f"{name}, 2 processes: load and verification",
            lambda: two_processes(postgres("shared", 2), bench, limit),
            results.shared,
        )
    finally:
        server.stop()


def show(console: Console, heading: str, results: Results) -> None:
    sections = [
        ("Acceptance of new Webmentions", tables.LOAD_HEADER, tables.load_rows(results.load)),
        (
            "Memory (sum of RSS over the server's processes)",
            tables.MEMORY_HEADER,
            tables.memory_rows(results.memory),
        ),
        ("Verification", tables.VERIFY_HEADER, tables.verify_rows(results.verify)),
        (
            "Two linkback serve processes on one PostgreSQL store",
            tables.SHARED_HEADER,
            tables.shared_rows(results.shared),
        ),
        ("kill -9, then restart", tables.FAULT_HEADER, tables.fault_rows(results.faults)),
    ]
    sections = [section for section in sections if section[2]]
    for title, header, rows in sections:
        report.show(console, title, header, rows)
    text = heading + "\n\n" + "".join(f"{note}\n" for note in results.notes)
    if results.profile:
        text += "\nlinkback serve under load, py-spy:\n\n" + "\n".join(results.profile) + "\n"
    console.print(text)
    markdown = text + "\n" + "\n".join(report.markdown(*section) for section in sections)
    (WORK / "serve-results.md").write_text(markdown)
    console.print(f"Markdown tables: {WORK / 'serve-results.md'}; logs in {WORK / 'serve-logs'}")


if __name__ == "__main__":
    sys.exit(main())
