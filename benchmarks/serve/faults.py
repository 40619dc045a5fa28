"""``kill -9`` of the service in the middle of the load and of the verification; after the
restart, the store must hold exactly the linkbacks answered 201, each verified once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .linkback_serve import LinkbackServe
from .load import Counted
from .scenarios import Bench
from .sites import Sources
from .verification import wait_drained


@dataclass
class FaultRow:
    scenario: str
    answered_201: int
    stored: int  # at most CONNECTIONS more than answered_201: POSTs whose answer the kill cut
    not_verified: int  # still queued when the wait ended (or it ended without draining)
    fetched_twice: int  # source URLs fetched more than once
    interrupted: int  # of those: fetched once before the kill and once after it
    seconds: float  # from the restart to an empty queue
    note: str = ""

    @property
    def verified_twice(self) -> int:
        return self.fetched_twice - self.interrupted


def duplicates(sources: Sources, killed_at: float) -> tuple[int, int]:
    """Source URLs fetched more than once, and those of them fetched exactly once before the
    kill and once after it (a verification the kill cut short, which the restart redoes)."""
    twice = interrupted = 0
    for arrivals in sources.fetches().values():
        if len(arrivals) > 1:
            twice += 1
            interrupted += len(arrivals) == 2 and arrivals[0] < killed_at < arrivals[1]
    return twice, interrupted


def _row(
    scenario: str,
    receiver: LinkbackServe,
    bench: Bench,
    counted: Counted,
    killed_at: float,
    limit: float,
) -> FaultRow:
    answered = counted.accepted(201)
    drained = wait_drained(receiver, answered, limit, bench.say)
    stored = receiver.stored()
    twice, interrupted = duplicates(bench.sources, killed_at)
    note = ", ".join(f"{n} {status}" for status, n in sorted(stored.items()))
    if drained is None:
        note += f"; the queue was not empty after {limit:g} s"
    return FaultRow(
        scenario,
        answered,
        sum(stored.values()),
        stored.get("queued", 0),
        twice,
        interrupted,
        drained or limit,
        note,
    )


def kill_during_load(receiver: LinkbackServe, bench: Bench, limit: float) -> FaultRow:
    """wrk sends for ``bench.seconds``; halfway, kill -9 and restart at once. wrk stops
    sending before its end so that every request it sent has its answer counted."""
    receiver.start()
    bench.sources.reset()
    killed: list[float] = []
    sending = max(4, round(bench.seconds))

    def kill_and_restart() -> None:
        time.sleep(sending / 2)
        killed.append(time.monotonic())
        receiver.kill()
        receiver.start()

    killer = threading.Thread(target=kill_and_restart)
    try:
        killer.start()
        load = bench.load(receiver, stop_after=sending, seconds=sending + 8)
        counted = bench.wrk(load)
        killer.join()
        return _row("kill -9 during the load", receiver, bench, counted, killed[0], limit)
    finally:
        killer.join()
        receiver.stop()


def kill_during_verification(
    receiver: LinkbackServe, bench: Bench, count: int, limit: float
) -> FaultRow:
    """``count`` Webmentions accepted; kill -9 once a third of them have been fetched."""
    receiver.start()
    bench.sources.reset()
    try:
        counted = bench.wrk(bench.load(receiver, cap=count, seconds=max(60, count / 50)))
        answered = counted.accepted(201)
        _wait(lambda: bench.sources.fetch_count() >= answered // 3, 120)
        killed_at = time.monotonic()
        before = bench.sources.fetch_count()
        receiver.kill()
        receiver.start()
        row = _row("kill -9 during the verification", receiver, bench, counted, killed_at, limit)
        row.note = f"killed after {before} fetches; " + row.note
        return row
    finally:
        receiver.stop()


def _wait(condition: Callable[[], bool], limit: float) -> None:
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
