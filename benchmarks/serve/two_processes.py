"""Two ``linkback serve`` processes on one PostgreSQL store: their throughput together, and
every linkback verified by exactly one of them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .linkback_serve import LinkbackServe
from .load import CONNECTIONS
from .memory import Sampler
from .scenarios import MB, Bench
from .verification import wait_drained


@dataclass
class SharedRow:
    answered_201: int
    seconds: float  # of the load
    p99: float  # the larger of the two loads' p99
    errors: int
    stored: int
    fetched_once: int
    fetched_more: int  # source URLs fetched more than once: verified twice
    not_fetched: int  # accepted linkbacks whose source was never fetched
    drained: float | None  # seconds from the end of the load to an empty queue
    peak_mb: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.answered_201 / self.seconds


def two_processes(receiver: LinkbackServe, bench: Bench, limit: float) -> SharedRow:
    """Half the connections to each process, at once; both loads stop sending before their
    end, so the 201 answers are counted exactly."""
    receiver.start()
    bench.sources.reset()
    sampler = Sampler(receiver.pids())
    sending = max(3, round(bench.seconds))
    loads = [
        bench.load(
            receiver, url=url, connections=CONNECTIONS // 2, stop_after=sending, seconds=sending + 5
        )
        for url in receiver.urls
    ]
    try:
        with ThreadPoolExecutor(len(loads)) as pool:
            counted = list(pool.map(bench.wrk, loads))
        answered = sum(c.accepted(201) for c in counted)
        drained = wait_drained(receiver, answered, limit, bench.say)
        stored = receiver.stored()
    finally:
        peak = sampler.stop() / MB
        receiver.stop()
    fetches = bench.sources.fetches()
    once = sum(1 for arrivals in fetches.values() if len(arrivals) == 1)
    more = sum(1 for arrivals in fetches.values() if len(arrivals) > 1)
    # sending time: the later of the two stops, wrk's soft deadline (whole seconds)
    return SharedRow(
        answered,
        float(sending),
        max(c.p99 for c in counted),
        sum(c.errors(201) for c in counted),
        sum(stored.values()),
        once,
        more,
        max(0, answered - len(fetches)),
        drained,
        peak,
        ", ".join(f"{n} {status}" for status, n in sorted(stored.items())),
    )
