"""Each row of the receiver's tables: one scenario run against one receiver.

Every load is bounded twice: wrk's duration, and for the rows that count exactly, a request
cap or a deadline after which wrk stops sending and waits for the answers.
"""

from __future__ import annotations

import http.client
import itertools
import statistics
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .linkback_serve import LinkbackServe
from .load import CONNECTIONS, Counted, Load, run
from .memory import Sampler
from .receiver import Receiver
from .sites import Site, Sources

MB = 1024 * 1024
Say = Callable[[str], object]
_tags = itertools.count(1)


@dataclass(frozen=True)
class Bench:
    """What every scenario shares: the loopback web, where logs go, how long a load lasts."""

    sources: Sources
    site: Site
    targets: int
    logs: Path
    seconds: float  # one timed load
    say: Say

    def load(
        self,
        receiver: Receiver,
        *,
        url: str | None = None,
        seconds: float | None = None,
        cap: int = 0,
        stop_after: int = 0,
        pause_ms: int = 0,
        connections: int = CONNECTIONS,
    ) -> Load:
        """A load of new Webmentions for ``receiver`` (at ``url``, one of its processes);
        the options are :class:`Load`'s."""
        return Load(
            url=url or receiver.url,
            path=receiver.accept_path,
            idle_path=receiver.idle_path,
            sources=self.sources.base_urls,
            target_base=self.site.base_url,
            targets=self.targets,
            tag=f"r{next(_tags)}-{time.time_ns() % 10**9}",
            seconds=seconds or self.seconds,
            cap=cap,
            stop_after=stop_after,
            pause_ms=pause_ms,
            connections=connections,
        )

    def wrk(self, load: Load) -> Counted:
        counted = run(load, self.logs / "wrk.log")
        statuses = ", ".join(f"{k}: {v}" for k, v in counted.by_status.items() if v)
        self.say(
            f"    wrk {load.tag}: {counted.answered} answers ({statuses}), "
            f"{counted.socket_errors} socket errors, {counted.seconds:.1f} s, "
            f"p50 {counted.p50 * 1000:.1f} ms, p99 {counted.p99 * 1000:.1f} ms"
        )
        return counted


@dataclass
class LoadRow:
    """Acceptance under load: one line of the first table."""

    receiver: str
    scenario: str
    runs: list[Counted] = field(default_factory=list)
    accepted_status: int = 201
    peak_mb: float = 0.0
    note: str = ""

    @property
    def rates(self) -> list[float]:
        return [counted.rate(self.accepted_status) for counted in self.runs]

    @property
    def median_run(self) -> Counted:
        """The run of median rate, whose latencies the table shows."""
        ranked = sorted(self.runs, key=lambda counted: counted.rate(self.accepted_status))
        return ranked[len(ranked) // 2]

    @property
    def median_rate(self) -> float:
        return statistics.median(self.rates) if self.runs else 0.0

    @property
    def errors(self) -> int:
        return sum(counted.errors(self.accepted_status) for counted in self.runs)


def acceptance(receiver: Receiver, bench: Bench, runs: int) -> LoadRow:
    """``runs`` timed loads of new Webmentions, 32 connections, against a fresh receiver."""
    row = LoadRow(receiver.label, "acceptance", accepted_status=receiver.accepted)
    receiver.start()
    sampler = Sampler(receiver.pids())
    try:
        for _ in range(runs):
            row.runs.append(bench.wrk(bench.load(receiver)))
    finally:
        row.peak_mb = sampler.stop() / MB
        receiver.stop()
    return row


def half_load(receiver: Receiver, bench: Bench, full_rate: float) -> LoadRow:
    """Latency at about half the full rate: each connection pauses between its requests.

    wrk's timers and the answer time stretch each pause, so a short paced probe measures what
    one request really costs a connection besides its pause, and the timed load's pause is
    set from it."""
    row = LoadRow(receiver.label, "latency at half load", accepted_status=receiver.accepted)
    if full_rate <= 0:
        row.note = "no full rate to halve"
        return row
    aim = full_rate / 2
    per_request = CONNECTIONS / aim  # seconds between two requests on one connection
    receiver.start()
    sampler = Sampler(receiver.pids())
    try:
        first = round(per_request * 1000)
        probe = bench.wrk(bench.load(receiver, seconds=min(bench.seconds, 3.0), pause_ms=first))
        reached = probe.rate(receiver.accepted)
        besides = CONNECTIONS / reached - first / 1000 if reached else 0.0
        pause = max(0, round((per_request - besides) * 1000))
        row.runs.append(bench.wrk(bench.load(receiver, pause_ms=pause)))
        row.note = (
            f"aimed at {aim:.0f}/s: {pause} ms pause per connection (a {first} ms probe "
            f"reached {reached:.0f}/s)"
        )
    finally:
        row.peak_mb = sampler.stop() / MB
        receiver.stop()
    return row


def slow_pingbacks(
    receiver: LinkbackServe, bench: Bench, unloaded_rate: float, count: int = 50
) -> LoadRow:
    """Acceptance while ``count`` pingbacks from sources that take 8 s are being verified:
    each of ``count`` threads sends one after the other, from sources on distinct hosts."""
    row = LoadRow(receiver.label, f"acceptance during {count} slow pingbacks")
    receiver.start()
    sampler = Sampler(receiver.pids())
    stop = threading.Event()
    answers: list[str] = []
    lock = threading.Lock()
    hosts = bench.sources.base_urls

    def ping(index: int) -> None:
        proxy = xmlrpc.client.ServerProxy(f"{receiver.url}/xmlrpc", transport=_Transport())
        for number in itertools.count():
            if stop.is_set():
                return
            source = f"{hosts[index % len(hosts)]}/slow/{index % bench.targets}/p{index}-{number}"
            target = f"{bench.site.base_url}/post/{index % bench.targets}/"
            try:
                proxy.pingback.ping(source, target)
                outcome = "success"
            except xmlrpc.client.Fault as fault:
                outcome = f"fault {fault.faultCode}"
            except (OSError, xmlrpc.client.ProtocolError) as error:
                outcome = type(error).__name__
            with lock:
                answers.append(outcome)

    threads = [threading.Thread(target=ping, args=(i,), daemon=True) for i in range(count)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # every pingback in flight before the load starts
        row.runs.append(bench.wrk(bench.load(receiver)))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        row.peak_mb = sampler.stop() / MB
        receiver.stop()
    outcomes = ", ".join(f"{answers.count(o)} {o}" for o in sorted(set(answers)))
    ratio = row.median_rate / unloaded_rate if unloaded_rate else 0.0
    row.note = f"{ratio:.2f} × the unloaded rate; pingbacks answered: {outcomes or 'none'}"
    return row


class _Transport(xmlrpc.client.Transport):
    """A bounded wait for each pingback (the service answers within verify_timeout_sync)."""

    def make_connection(self, host: str) -> http.client.HTTPConnection:  # type: ignore[override]
        connection = super().make_connection(host)
        connection.timeout = 30
        return connection


@dataclass
class MemoryRow:
    receiver: str
    small: int  # accepted requests at the first sample
    small_mb: float
    large: int
    large_mb: float
    peak_mb: float

    @property
    def growth(self) -> float:
        return self.large_mb / self.small_mb - 1 if self.small_mb else 0.0


def memory(receiver: Receiver, bench: Bench, small: int, large: int) -> MemoryRow:
    """Memory (sum of RSS over the tree) after ``small`` and after ``large`` accepted
    requests, on one receiver; each load is capped in requests and in time."""
    receiver.start()
    sampler = Sampler(receiver.pids())
    try:
        first = bench.wrk(bench.load(receiver, cap=small, seconds=max(60, small / 100)))
        small_mb = sampler.now() / MB
        rest = large - first.accepted(receiver.accepted)
        second = bench.wrk(bench.load(receiver, cap=rest, seconds=max(120, rest / 100)))
        large_mb = sampler.now() / MB
    finally:
        peak = sampler.stop() / MB
        receiver.stop()
    accepted = first.accepted(receiver.accepted)
    return MemoryRow(
        receiver.label,
        accepted,
        small_mb,
        accepted + second.accepted(receiver.accepted),
        large_mb,
        peak,
    )
