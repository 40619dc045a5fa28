"""The verification phase: N queued linkbacks from H source hosts, each answering after L,
against the ideal time fetches × L / min(verifiers, H × verify_per_host)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .djangowm import DjangoWM
from .linkback_serve import LinkbackServe
from .scenarios import Bench, Say

VERIFY_PER_HOST = 2  # the contract's default


@dataclass
class VerifyRow:
    receiver: str
    linkbacks: int  # accepted, then verified
    seconds: float | None  # None: not all verified within the limit
    ideal: float
    peak_per_host: int
    peak_in_flight: int
    mean_in_flight: float
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.ideal if self.seconds and self.ideal else None


def ideal(fetches: int, latency: float, verifiers: int, hosts: int, per_host: int) -> float:
    return fetches * latency / min(verifiers, hosts * per_host)


def wait_drained(receiver: LinkbackServe, expected: int, limit: float, say: Say) -> float | None:
    """Seconds until ``/health`` first shows an empty queue with the store holding
    ``expected`` linkbacks, none queued (the store is listed only once the queue looks empty,
    and that listing is not timed); None when ``limit`` seconds pass first."""
    started = last_said = time.monotonic()
    while time.monotonic() - started < limit:
        queue = receiver.queue_length()
        if queue == 0:
            emptied = time.monotonic()
            stored = receiver.stored()
            if sum(stored.values()) >= expected and not stored.get("queued"):
                return emptied - started
        if time.monotonic() - last_said > 10:
            say(f"    {receiver.label}: queue {queue}")
            last_said = time.monotonic()
        time.sleep(0.2)
    return None


def verify_linkback(
    receiver: LinkbackServe, bench: Bench, count: int, verifiers: int, limit: float
) -> VerifyRow:
    """Post ``count`` Webmentions as fast as they are taken, then wait until every one is
    verified; timed from the first POST (verification starts as soon as one is stored)."""
    receiver.start()
    bench.sources.reset()
    try:
        started = time.monotonic()
        counted = bench.wrk(bench.load(receiver, cap=count, seconds=max(60, count / 50)))
        accepted = counted.accepted(201)
        loaded = time.monotonic() - started
        drained = wait_drained(receiver, accepted, limit, bench.say)
        seconds = None if drained is None else loaded + drained
        stored = receiver.stored()
    finally:
        receiver.stop()
    hosts = len(bench.sources.base_urls)
    fetches = bench.sources.fetch_count()
    verified = sum(n for status, n in stored.items() if status not in ("queued", "invalid"))
    note = (
        f"{accepted} accepted in {counted.seconds:.1f} s; {fetches} source fetches; "
        f"stored: {', '.join(f'{n} {s}' for s, n in sorted(stored.items()))}"
    )
    if verified != accepted:
        note += f"; only {verified} verified"
    return VerifyRow(
        receiver.label,
        accepted,
        seconds,
        ideal(accepted, bench.sources.latency, verifiers, hosts, VERIFY_PER_HOST),
        bench.sources.peak_per_host,
        bench.sources.peak_in_flight,
        bench.sources.mean_in_flight(),
        note,
    )


def verify_django(receiver: DjangoWM, bench: Bench, count: int) -> VerifyRow:
    """django-wm: ``count`` Webmentions accepted, the server stopped, then ``manage.py
    mentions_pending`` timed: it verifies one after the other (one verifier)."""
    receiver.start()
    try:
        counted = bench.wrk(bench.load(receiver, cap=count, seconds=max(60, count / 20)))
    finally:
        receiver.stop()
    bench.sources.reset()
    seconds = receiver.verify()
    stored = receiver.stored()
    accepted = counted.accepted(202)
    hosts = len(bench.sources.base_urls)
    note = (
        f"{accepted} accepted; after mentions_pending: {stored['verified']} verified, "
        f"{stored['invalid']} not, {stored['queued']} still pending"
    )
    return VerifyRow(
        receiver.label,
        accepted,
        seconds,
        ideal(accepted, bench.sources.latency, 1, hosts, VERIFY_PER_HOST),
        bench.sources.peak_per_host,
        bench.sources.peak_in_flight,
        bench.sources.mean_in_flight(),
        note,
    )
