"""Group commit: Webmentions arriving together are stored in one transaction, and each is
answered only once its row is committed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from linkback.display.model import Protocol
from linkback.receive import sqlite as sqlite_engine
from linkback.receive.intake import Intake
from linkback.receive.sqlite import SqliteStore
from linkback.receive.store import Arrival, StoreError

TARGET = "https://site.example/article/"


class CountedStore(SqliteStore):
    """A real SQLite store that also notes the size of each batch it was given."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.batches: list[int] = []

    def receive_many(self, arrivals: Sequence[Arrival]) -> list[int]:
        self.batches.append(len(arrivals))
        return super().receive_many(arrivals)


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "linkback.sqlite")


@pytest.fixture
def store(path: str) -> Iterator[CountedStore]:
    opened = CountedStore(path)
    opened.migrate()
    yield opened
    opened.close()


class WriteLock:
    """Another connection holding the file's write lock, as another server process does."""

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.close()


def arrival(n: int) -> Arrival:
    return Arrival(f"https://blog.example/post/{n}", TARGET, Protocol.WEBMENTION)


def stored_sources(path: str) -> set[str]:
    with sqlite3.connect(path) as reader:
        return {row[0] for row in reader.execute("SELECT source FROM linkbacks")}


def test_arrivals_wait_for_the_lock_then_share_one_commit(store: CountedStore, path: str) -> None:
    intake = Intake(store)
    intake.start()
    lock = WriteLock(path)
    answered_while_locked: list[int] = []

    async def arrive() -> list[int]:
        tasks = [asyncio.ensure_future(intake.receive(arrival(n))) for n in range(40)]
        await asyncio.sleep(0.5)
        answered_while_locked.extend(n for n, task in enumerate(tasks) if task.done())
        lock.release()
        return await asyncio.gather(*tasks)

    try:
        ids = asyncio.run(arrive())
    finally:
        intake.stop()
    assert answered_while_locked == []  # no answer before its row is committed
    assert len(set(ids)) == 40
    assert stored_sources(path) == {arrival(n).source for n in range(40)}
    assert sum(store.batches) == 40
    assert len(store.batches) < 40  # those that waited were written together
    assert max(store.batches) > 1


def test_a_failed_batch_fails_each_of_its_requests_and_the_next_is_stored(
    store: CountedStore, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_engine, "LOCK_TIMEOUT", 0.3)
    intake = Intake(store)
    intake.start()
    lock = WriteLock(path)

    async def arrive(numbers: range) -> list[int | BaseException]:
        return await asyncio.gather(
            *(intake.receive(arrival(n)) for n in numbers), return_exceptions=True
        )

    try:
        failed = asyncio.run(arrive(range(3)))
        lock.release()
        stored = asyncio.run(arrive(range(3, 5)))
    finally:
        intake.stop()
    assert all(isinstance(error, StoreError) for error in failed)
    assert "database is locked" in str(failed[0])
    assert failed[0] is not failed[1]  # each request raises its own
    assert all(isinstance(linkback_id, int) for linkback_id in stored)
    assert stored_sources(path) == {arrival(3).source, arrival(4).source}


def test_stop_stores_what_is_waiting(store: CountedStore, path: str) -> None:
    intake = Intake(store)
    intake.start()
    lock = WriteLock(path)
    loop = asyncio.new_event_loop()
    tasks = [loop.create_task(intake.receive(arrival(n))) for n in range(5)]
    loop.run_until_complete(asyncio.sleep(0.1))  # all five are queued
    threading.Timer(0.3, lock.release).start()
    intake.stop()  # returns once the queue is written
    assert stored_sources(path) == {arrival(n).source for n in range(5)}
    loop.run_until_complete(asyncio.gather(*tasks))
    loop.close()


def test_an_intake_that_was_not_started_says_so(store: CountedStore) -> None:
    with pytest.raises(StoreError, match="not started"):
        asyncio.run(Intake(store).receive(arrival(1)))
