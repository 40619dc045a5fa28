"""Group commit for accepted Webmentions: one writer thread a server process.

Each Webmention still gets its 201 only once its own row is committed (so it survives
``kill -9``), but the requests that arrive while one transaction is being written are
stored together in the next: one write lock and one commit for many, instead of one each
with every process queueing on SQLite's lock. The event loop never waits on the store; it
awaits a future that the writer settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from dataclasses import dataclass

from .store import Arrival, Store, StoreError

BATCH = 64  # arrivals stored in one transaction at most


@dataclass(frozen=True)
class _Waiting:
    """An arrival and the request waiting for its id."""

    arrival: Arrival
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[int]

    def settle(self, linkback_id: int | None, error: Exception | None) -> None:
        with contextlib.suppress(RuntimeError):  # its loop has closed: nobody is waiting
            self.loop.call_soon_threadsafe(_settle, self.future, linkback_id, error)


def _settle(future: asyncio.Future[int], linkback_id: int | None, error: Exception | None) -> None:
    if future.done():  # the request was cancelled (its client left); the row is stored
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert linkback_id is not None
        future.set_result(linkback_id)


class Intake:
    """Stores arrivals in batches on its own thread; :meth:`receive` awaits one's id."""

    def __init__(self, store: Store, *, batch: int = BATCH) -> None:
        self.store = store
        self.batch = batch
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="linkback-intake", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Store what is waiting, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    async def receive(self, arrival: Arrival) -> int:
        """The arrival's id, once it is committed; a store error is raised here."""
        if not self._thread.is_alive():  # an app whose lifespan never ran would hang here
            raise StoreError("the service is not started (its ASGI lifespan did not run)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._queue.put(_Waiting(arrival, loop, future))
        return await future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            waiting = [first]
            while len(waiting) < self.batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                waiting.append(item)
            self._store(waiting)

    def _store(self, waiting: list[_Waiting]) -> None:
        try:
            ids = self.store.receive_many([item.arrival for item in waiting])
        except Exception as error:  # every request of the batch answers 500, each its own
            for item in waiting:
                failure = StoreError(f"the webmention was not stored: {error}")
                failure.__cause__ = error
                item.settle(None, failure)
            return
        for item, linkback_id in zip(waiting, ids, strict=True):
            item.settle(linkback_id, None)
