"""The default store: one SQLite file in WAL mode, one connection per thread.

WAL lets readers (the API, the status page) run beside the one writer; ``synchronous=NORMAL``
keeps every committed transaction across a crash or ``kill -9`` of the process (only a power
cut may lose the last ones), which is the promise made to senders. Writers take the lock at
the start of each transaction (``BEGIN IMMEDIATE``), so a claim cannot race another.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .store import SqlStore, StoreError

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
            connection.execute("PRAGMA busy_timeout=30000")
            # 256 KiB of pages a connection (SQLite's default is 2 MiB): every thread of
            # every worker has one, and a count of the queue fills it as the table grows; the
            # pages are in the operating system's cache anyway.
            connection.execute("PRAGMA cache_size=-256")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"--db {self.path}: {error}") from None
        return connection

    def _begin(self, connection: Any) -> None:
        connection.execute("BEGIN IMMEDIATE")

    def _claim_sql(self) -> str:
        return _CLAIM
