"""The default store: one SQLite file in WAL mode, one connection per thread.

WAL lets readers (the API, the status page) run beside the one writer, each reading a
snapshot with a plain ``BEGIN``; ``synchronous=NORMAL`` keeps every committed transaction
across a crash or ``kill -9`` of the process (only a power cut may lose the last ones),
which is the promise made to senders. Writers take the lock at the start of each
transaction (``BEGIN IMMEDIATE``), so a claim cannot race another.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from .store import SqlStore, StoreError

LOCK_TIMEOUT = 30.0  # seconds a write waits for the lock before it fails
LOCK_RETRY = 0.0005  # seconds between two tries to take it

_CLAIM = (
    "UPDATE linkbacks SET lease_until = ?, claimed_by = ? WHERE id IN ("
    "SELECT id FROM linkbacks WHERE due IS NOT NULL AND due <= ? "
    "AND (lease_until IS NULL OR lease_until < ?) ORDER BY due LIMIT ?) "
    "RETURNING id, source, target, protocol, attempts, status"
)


class SqliteStore(SqlStore):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        if not self.path.parent.is_dir():
            raise StoreError(f"--db {path}: folder {self.path.parent} does not exist")

    def _connect(self) -> Any:
        try:
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT * 1000:.0f}")
            # 256 KiB of pages a connection (SQLite's default is 2 MiB): every thread of
            # every worker has one, and a count of the queue fills it as the table grows; the
            # pages are in the operating system's cache anyway.
            connection.execute("PRAGMA cache_size=-256")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"--db {self.path}: {error}") from None
        return connection

    def _begin(self, connection: Any, *, write: bool) -> None:
        """A reader reads a snapshot (WAL: it neither waits for the writer nor holds it up);
        a writer takes the write lock, trying again every half millisecond while another
        holds it.

        SQLite's own wait sleeps longer and longer between tries (up to 100 ms), so under a
        steady stream of writes from the other server processes a waiter could lose every
        round: short, even tries keep the wait near the length of the transactions ahead.
        """
        if not write:
            connection.execute("BEGIN")
            return
        deadline = time.monotonic() + LOCK_TIMEOUT
        connection.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if not _locked(error) or time.monotonic() > deadline:
                        raise
                time.sleep(LOCK_RETRY)
        finally:
            connection.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT * 1000:.0f}")

    def _claim_sql(self) -> str:
        return _CLAIM


def _locked(error: sqlite3.OperationalError) -> bool:
    return str(error).startswith(("database is locked", "database table is locked"))
