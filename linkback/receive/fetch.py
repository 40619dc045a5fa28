"""Verification fetches: the guarded client built once from the service's options, the
per-host limit, and the 30-second window per source URL.

The client is the sender's own (:class:`linkback.common.http.Client`): the same resolved-address
checks, total deadline and byte cap. The site's own addresses are exempt from the address
rule for the "does the target exist" request only: the owner named them with --site-url.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from ..common.http import Client, FetchError, Response
from ..common.settings import Settings
from .config import ServiceConfig
from .store import Store

PAGE_CAP = 1_000_000
VERIFY_REDIRECTS = 10  # a receiver follows more than a sender (5): sources move more often
SOURCE_WINDOW = 30.0  # seconds: a source URL is fetched at most once in this window


def make_client(config: ServiceConfig, *, sync: bool, site: bool = False) -> Client:
    """The one place a verification client is made: background (verify_timeout) or
    synchronous (verify_timeout_sync); ``site`` for the site's own pages."""
    settings = Settings.from_mapping(
        {
            "timeout": config.verify_timeout_sync if sync else config.verify_timeout,
            "allow_private": config.allow_private or site,
            "max_page_bytes": PAGE_CAP,
            "per_host": max(config.verify_per_host, 2),
            "user_agent": config.agent,
        },
        environ={},
    )
    return Client(settings, max_redirects=VERIFY_REDIRECTS)


class HostSlots:
    """At most ``limit`` fetches in flight to one source host, across every thread of every
    process on the store: uvicorn's workers, or several services on one PostgreSQL. A slot
    is a row of the store, leased, so that a process killed in the middle of a fetch frees
    its slots when the lease ends."""

    POLL = 0.05  # seconds between two tries of a fetch that may wait (a pingback's)

    def __init__(self, store: Store, limit: int, lease: float) -> None:
        self.store = store
        self.limit = limit
        self.lease = lease

    def acquire(self, host: str, timeout: float = 0.0) -> str | None:
        """A slot of ``host`` (its holder's name, for :meth:`release`), waiting up to
        ``timeout`` seconds for one; None when none came free."""
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        while not self.store.take_slot(host, holder, self.limit, self.lease):
            if time.monotonic() + self.POLL > deadline:
                return None
            time.sleep(self.POLL)
        return holder

    def release(self, holder: str) -> None:
        self.store.give_slot(holder)


@dataclass(frozen=True)
class Fetched:
    """One fetch of a source, kept for the window: its answer or its error."""

    at: float
    response: Response | None
    error: FetchError | None


class SourceWindow:
    """The last fetch of each source URL in the last 30 s (memory only: a restart forgets)."""

    def __init__(self, window: float = SOURCE_WINDOW) -> None:
        self.window = window
        self._fetched: dict[str, Fetched] = {}
        self._in_flight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def begin(self, url: str) -> bool:
        """Mark ``url`` as being fetched; False when another thread is fetching it already."""
        with self._lock:
            if url in self._in_flight:
                return False
            self._in_flight[url] = threading.Event()
            return True

    def end(self, url: str) -> None:
        with self._lock:
            done = self._in_flight.pop(url, None)
        if done is not None:
            done.set()

    def wait(self, url: str, timeout: float) -> bool:
        """Wait for another thread's fetch of ``url``; False if it is still running."""
        with self._lock:
            running = self._in_flight.get(url)
        return running is None or running.wait(timeout)

    def recent(self, url: str) -> Fetched | None:
        now = time.monotonic()
        with self._lock:
            fetched = self._fetched.get(url)
            if fetched is not None and now - fetched.at >= self.window:
                del self._fetched[url]
                return None
            return fetched

    def wait_for(self, url: str) -> float:
        """Seconds until ``url`` may be fetched again (0 when it may now)."""
        fetched = self.recent(url)
        return 0.0 if fetched is None else max(0.0, fetched.at + self.window - time.monotonic())

    def keep(self, url: str, response: Response | None, error: FetchError | None) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._fetched) > 10_000:  # a flood of distinct URLs cannot grow it forever
                for old in [u for u, f in self._fetched.items() if now - f.at >= self.window]:
                    del self._fetched[old]
            self._fetched[url] = Fetched(now, response, error)
