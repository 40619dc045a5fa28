"""The store: typed records, statuses, moderation rules, and the verification queue.

Both engines (SQLite, PostgreSQL) share one schema and one implementation of every query
(:class:`SqlStore`); an engine only says how to connect, how to spell a placeholder and how
to claim jobs. The queue lives in the linkbacks table itself (``due`` and ``lease_until``),
so a linkback and its pending verification are written in one transaction: an acknowledged
linkback is never lost, and a job claimed by a process that died is claimed again once its
lease has run out (or at once, by :meth:`Store.requeue_claims`, when the service starts).
"""

from __future__ import annotations

import builtins
import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from ..common.urls import page_key
from ..display.model import Author, Kind, Protocol

SCHEMA_VERSION = 2  # 2: fetch_slots (every statement below runs again: they are idempotent)
RETRY_DELAYS = (60.0, 600.0, 3600.0)  # back-off after the 1st, 2nd and 3rd transient failure


class Status(str, Enum):
    QUEUED = "queued"
    INVALID = "invalid"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SPAM = "spam"
    DELETED = "deleted"


MODERATED = (Status.PENDING, Status.APPROVED, Status.REJECTED, Status.SPAM)


class RuleKind(str, Enum):
    ALLOW = "allow"
    BLOCK = "block"


# What the owner may do to a linkback, by the word the command line and the admin page use.
MODERATION = {
    "approve": Status.APPROVED,
    "reject": Status.REJECTED,
    "spam": Status.SPAM,
    "delete": Status.DELETED,
}


class StoreError(Exception):
    """The store cannot be opened or its schema is newer than this linkback."""


@dataclass(frozen=True)
class Content:
    """What verification learnt about a source (or what a trackback or an import brings)."""

    type: Kind = Kind.MENTION
    rsvp: str | None = None
    author: Author = field(default_factory=Author)
    title: str = ""
    html: str = ""
    text: str = ""
    published: str | None = None
    url: str | None = None  # the entry's own URL (u-url), when it differs from the source


@dataclass(frozen=True)
class Linkback:
    """One (source, target) pair as stored."""

    id: int
    source: str
    target: str
    protocol: Protocol
    status: Status
    content: Content
    received: str
    updated: str
    reason: str | None
    seq: int
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        """The object of ``mentions show --json`` and of the status page."""
        return {
            "id": self.id,
            "status": self.status.value,
            "protocol": self.protocol.value,
            "type": self.content.type.value,
            "rsvp": self.content.rsvp,
            "source": self.source,
            "target": self.target,
            "author": {
                "name": self.content.author.name,
                "url": self.content.author.url,
                "photo": self.content.author.photo,
            },
            "title": self.content.title,
            "content": {"html": self.content.html, "text": self.content.text},
            "published": self.content.published,
            "received": self.received,
            "updated": self.updated,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Job:
    """A claimed verification: the linkback and how many transient failures it has had."""

    id: int
    source: str
    target: str
    protocol: Protocol
    attempts: int
    worker: str
    status: Status = Status.QUEUED  # QUEUED: never verified; else this is an update


@dataclass(frozen=True)
class Arrival:
    """A claim to store for verification: ``due`` is when to verify it (None: now)."""

    source: str
    target: str
    protocol: Protocol
    due: float | None = None


@dataclass(frozen=True)
class Rule:
    kind: RuleKind
    pattern: str


@dataclass(frozen=True)
class Stored:
    """The answer to :meth:`Store.add`: the record's id, whether it was new, its status."""

    id: int
    created: bool
    status: Status


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_COLUMNS = (
    "id, source, target, protocol, status, type, rsvp, author_name, author_url, author_photo, "
    "title, content_html, content_text, published, entry_url, received, updated, reason, seq, "
    "attempts"
)

_TABLES = (
    """CREATE TABLE IF NOT EXISTS linkbacks (
        id {serial},
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        target_key TEXT NOT NULL,
        protocol TEXT NOT NULL,
        status TEXT NOT NULL,
        moderation TEXT,
        type TEXT NOT NULL DEFAULT 'mention',
        rsvp TEXT,
        author_name TEXT NOT NULL DEFAULT '',
        author_url TEXT,
        author_photo TEXT,
        title TEXT NOT NULL DEFAULT '',
        content_html TEXT NOT NULL DEFAULT '',
        content_text TEXT NOT NULL DEFAULT '',
        published TEXT,
        entry_url TEXT,
        received TEXT NOT NULL,
        updated TEXT NOT NULL,
        reason TEXT,
        seq BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        due DOUBLE PRECISION,
        lease_until DOUBLE PRECISION,
        claimed_by TEXT,
        UNIQUE (source, target)
    )""",
    "CREATE INDEX IF NOT EXISTS linkbacks_due ON linkbacks (due) WHERE due IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS linkbacks_seq ON linkbacks (seq)",
    "CREATE INDEX IF NOT EXISTS linkbacks_target ON linkbacks (target_key, received)",
    "CREATE INDEX IF NOT EXISTS linkbacks_status ON linkbacks (status, received)",
    """CREATE TABLE IF NOT EXISTS rules (
        kind TEXT NOT NULL,
        pattern TEXT NOT NULL,
        PRIMARY KEY (kind, pattern)
    )""",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    "INSERT INTO counters (name, value) VALUES ('seq', 0) ON CONFLICT (name) DO NOTHING",
    # A fetch in flight to a source host, from any process on the store (verify_per_host).
    """CREATE TABLE IF NOT EXISTS fetch_slots (
        holder TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        until DOUBLE PRECISION NOT NULL
    )""",
)


class Store(ABC):
    """What the service, the workers and ``linkback mentions`` need from a store."""

    @abstractmethod
    def receive_many(self, arrivals: Sequence[Arrival]) -> list[int]:
        """Store (or re-queue) pairs for verification in one transaction, durably, before
        any is acknowledged; a pair being verified right now is queued again (its source
        announced a change). The ids are in the order of ``arrivals``."""

    def receive(
        self, source: str, target: str, protocol: Protocol, *, due: float | None = None
    ) -> int:
        """:meth:`receive_many` for one pair."""
        return self.receive_many([Arrival(source, target, protocol, due)])[0]

    @abstractmethod
    def find(self, source: str, target: str) -> Linkback | None: ...

    @abstractmethod
    def get(self, linkback_id: int) -> Linkback | None: ...

    @abstractmethod
    def claim(self, worker: str, lease: float, limit: int = 1) -> list[Job]:
        """Jobs due now, leased to ``worker`` for ``lease`` seconds; each to one claimer."""

    @abstractmethod
    def release(self, job: Job, due: float) -> None:
        """Give a claimed job back, to be tried at ``due`` (a busy host, a 30 s window)."""

    @abstractmethod
    def verified(self, job: Job, content: Content, status_if_new: Status) -> Status:
        """The source links: keep the moderation status, or ``status_if_new`` for a new one."""

    @abstractmethod
    def failed(self, job: Job, reason: str) -> Status:
        """The source does not link (any more): ``invalid`` if never verified, else deleted."""

    @abstractmethod
    def refused(self, job: Job, reason: str) -> Status:
        """Verification refuses the claim outright (target not found, blocked source)."""

    @abstractmethod
    def retry(self, job: Job, reason: str) -> Status:
        """A transient failure: back off, never delete; give up after the last delay."""

    @abstractmethod
    def requeue_claims(self, *, expired_only: bool, claimer: str | None = None) -> int:
        """Claims left by a process that stopped (or by ``claimer``'s threads, a prefix of
        their names) are queued again."""

    @abstractmethod
    def queue_length(self) -> int: ...

    @abstractmethod
    def take_slot(self, host: str, holder: str, limit: int, lease: float) -> bool:
        """One of the ``limit`` fetch slots of ``host`` for ``holder``, if one is free; shared
        by every process on the store, and freed by itself after ``lease`` seconds."""

    @abstractmethod
    def give_slot(self, holder: str) -> None: ...

    @abstractmethod
    def free_slots(self, *, expired_only: bool) -> None:
        """At start: the slots a killed process held (all on SQLite, which one service owns;
        the expired ones on PostgreSQL, which other machines may be using)."""

    @abstractmethod
    def set_status(self, linkback_id: int, status: Status, reason: str | None = None) -> bool: ...

    @abstractmethod
    def add(
        self,
        source: str,
        target: str,
        protocol: Protocol,
        status: Status,
        content: Content,
        *,
        received: str | None = None,
    ) -> Stored:
        """A linkback verified already (pingback, trackback) or imported; an existing pair is
        left as it is unless it is ``invalid`` or ``deleted``."""

    @abstractmethod
    def update_excerpt(self, linkback_id: int, content: Content) -> None:
        """A repeated trackback: its title, excerpt and blog name replace the stored ones."""

    @abstractmethod
    def list(
        self,
        *,
        statuses: Sequence[Status] | None = None,
        target_key: str | None = None,
        since_id: int | None = None,
        changed_since: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Linkback]:
        """Newest first by received time."""

    @abstractmethod
    def last_seq(self) -> int: ...

    @abstractmethod
    def add_rule(self, rule: Rule) -> None: ...

    @abstractmethod
    def rules(self) -> builtins.list[Rule]: ...

    @abstractmethod
    def remove_rule(self, rule: Rule) -> bool: ...

    @abstractmethod
    def counts(self) -> dict[Status, int]:
        """How many linkbacks have each status (the admin page's tabs)."""

    @abstractmethod
    def counter(self, name: str) -> int:
        """A named number kept for the service's chores (0 when never set)."""

    @abstractmethod
    def swap_counter(self, name: str, expected: int, value: int) -> bool:
        """Set ``name`` to ``value`` only if it is still ``expected``: one process wins."""

    @abstractmethod
    def close(self) -> None: ...


class SqlStore(Store):
    """Every query, written once; engines supply connections and the claim statement."""

    placeholder = "?"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: dict[threading.Thread, Any] = {}  # each live thread's connection
        self._all_lock = threading.Lock()

    # Engine hooks ---------------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def _begin(self, connection: Any, *, write: bool) -> None: ...

    @abstractmethod
    def _claim_sql(self) -> str: ...

    def _lock_schema(self, cursor: Any) -> None:
        """Serialise migrations of processes starting together (SQLite's BEGIN IMMEDIATE
        does already)."""

    def _lock_slots(self, cursor: Any) -> None:
        """Serialise the counting of a host's fetch slots (SQLite's BEGIN IMMEDIATE does)."""

    # Plumbing -------------------------------------------------------------------------------

    def _connection(self) -> Any:
        """This thread's connection. The server's thread pool ends idle threads and starts
        new ones for years: the connections of threads that ended are closed here, else
        each would keep its file handles (a PostgreSQL backend) and its page cache."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
            with self._all_lock:
                for ended in [thread for thread in self._all if not thread.is_alive()]:
                    with contextlib.suppress(Exception):  # it may be broken already
                        self._all.pop(ended).close()
                self._all[threading.current_thread()] = connection
        return connection

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Any]:
        """One transaction on this thread's connection; ``write=False`` for one that only
        reads, which need not wait for (nor hold up) the writers."""
        connection = self._connection()
        self._begin(connection, write=write)
        cursor = connection.cursor()
        try:
            yield cursor
        except BaseException:
            connection.rollback()
            raise
        else:
            connection.commit()
        finally:
            cursor.close()

    def _run(self, cursor: Any, text: str, parameters: Sequence[Any] = ()) -> Any:
        cursor.execute(self._sql(text), tuple(parameters))
        return cursor

    def _next_seq(self, cursor: Any) -> int:
        row = self._run(
            cursor, "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
        ).fetchone()
        return int(row[0])

    def migrate(self) -> None:
        """Create the schema, or refuse one written by a newer linkback."""
        with self._transaction() as cursor:
            self._lock_schema(cursor)
            self._run(
                cursor, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            row = self._run(cursor, "SELECT max(version) FROM schema_version").fetchone()
            version = row[0] or 0
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store has schema version {version}; this linkback knows "
                    f"{SCHEMA_VERSION} (upgrade linkback)"
                )
            for statement in _TABLES:  # version 1 creates everything; later ones will alter
                self._run(cursor, statement.format(serial=self.serial))
            self._run(cursor, "DELETE FROM schema_version")
            self._run(cursor, "INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))

    def close(self) -> None:
        with self._all_lock:
            for connection in self._all.values():
                with contextlib.suppress(Exception):  # another thread may have broken it
                    connection.close()
            self._all.clear()
        self._local = threading.local()

    # Receiving ------------------------------------------------------------------------------

    def receive_many(self, arrivals: Sequence[Arrival]) -> list[int]:
        stamp = now_iso()
        now = time.time()
        ids = []
        with self._transaction() as cursor:
            for arrival in arrivals:
                seq = self._next_seq(cursor)
                due = now if arrival.due is None else arrival.due
                row = self._run(
                    cursor,
                    "INSERT INTO linkbacks (source, target, target_key, protocol, status, "
                    "received, updated, seq, due) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?) "
                    "ON CONFLICT (source, target) DO UPDATE SET due = excluded.due, "
                    "lease_until = NULL, claimed_by = NULL, attempts = 0, seq = excluded.seq, "
                    "updated = excluded.updated RETURNING id",
                    (
                        arrival.source,
                        arrival.target,
                        _key(arrival.target),
                        arrival.protocol.value,
                        stamp,
                        stamp,
                        seq,
                        due,
                    ),
                ).fetchone()
                ids.append(int(row[0]))
        return ids

    def add(
        self,
        source: str,
        target: str,
        protocol: Protocol,
        status: Status,
        content: Content,
        *,
        received: str | None = None,
    ) -> Stored:
        stamp = now_iso()
        with self._transaction() as cursor:
            existing = self._run(
                cursor,
                "SELECT id, status FROM linkbacks WHERE source = ? AND target = ?",
                (source, target),
            ).fetchone()
            if existing is not None and existing[1] not in ("invalid", "deleted", "queued"):
                return Stored(int(existing[0]), False, Status(existing[1]))
            seq = self._next_seq(cursor)
            values = (*_content_values(content), stamp, seq)
            if existing is not None:
                self._run(
                    cursor,
                    "UPDATE linkbacks SET status = ?, moderation = ?, reason = NULL, due = NULL, "
                    "lease_until = NULL, claimed_by = NULL, type = ?, rsvp = ?, "
                    "author_name = ?, author_url = ?, author_photo = ?, title = ?, "
                    "content_html = ?, content_text = ?, published = ?, entry_url = ?, "
                    "updated = ?, seq = ? WHERE id = ?",
                    (status.value, status.value, *values, existing[0]),
                )
                return Stored(int(existing[0]), False, status)
            row = self._run(
                cursor,
                "INSERT INTO linkbacks (source, target, target_key, protocol, status, moderation, "
                "type, rsvp, author_name, author_url, author_photo, title, content_html, "
                "content_text, published, entry_url, updated, seq, received) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    source,
                    target,
                    _key(target),
                    protocol.value,
                    status.value,
                    status.value,
                    *values,
                    received or stamp,
                ),
            ).fetchone()
            return Stored(int(row[0]), True, status)

    def update_excerpt(self, linkback_id: int, content: Content) -> None:
        with self._transaction() as cursor:
            seq = self._next_seq(cursor)
            self._run(
                cursor,
                "UPDATE linkbacks SET title = ?, content_text = ?, author_name = ?, "
                "updated = ?, seq = ? WHERE id = ?",
                (content.title, content.text, content.author.name, now_iso(), seq, linkback_id),
            )

    # The queue ------------------------------------------------------------------------------

    def claim(self, worker: str, lease: float, limit: int = 1) -> list[Job]:
        now = time.time()
        with self._transaction() as cursor:
            rows = self._run(
                cursor, self._claim_sql(), (now + lease, worker, now, now, limit)
            ).fetchall()
        return [
            Job(int(r[0]), r[1], r[2], Protocol(r[3]), int(r[4]), worker, Status(r[5]))
            for r in rows
        ]

    def release(self, job: Job, due: float) -> None:
        with self._transaction() as cursor:
            self._run(
                cursor,
                "UPDATE linkbacks SET due = ?, lease_until = NULL, claimed_by = NULL "
                "WHERE id = ? AND claimed_by = ?",
                (due, job.id, job.worker),
            )

    def _dequeue(self, cursor: Any, job: Job) -> None:
        """The job is done, unless the pair was received again meanwhile (then it waits)."""
        self._run(
            cursor,
            "UPDATE linkbacks SET due = NULL, lease_until = NULL, claimed_by = NULL, "
            "attempts = 0 WHERE id = ? AND claimed_by = ?",
            (job.id, job.worker),
        )

    def _finish(self, cursor: Any, job: Job, status: str, reason: str | None) -> None:
        seq = self._next_seq(cursor)
        self._run(
            cursor,
            "UPDATE linkbacks SET status = ?, reason = ?, updated = ?, seq = ? WHERE id = ?",
            (status, reason, now_iso(), seq, job.id),
        )
        self._dequeue(cursor, job)

    def _current(self, cursor: Any, job_id: int) -> tuple[str, str | None]:
        row = self._run(
            cursor, "SELECT status, moderation FROM linkbacks WHERE id = ?", (job_id,)
        ).fetchone()
        return (row[0], row[1]) if row else ("invalid", None)

    def verified(self, job: Job, content: Content, status_if_new: Status) -> Status:
        with self._transaction() as cursor:
            status, moderation = self._current(cursor, job.id)
            if status in ("pending", "approved", "rejected", "spam"):
                chosen = status
            elif moderation is not None:  # a deleted or invalidated one comes back as it was
                chosen = moderation
            else:
                chosen = status_if_new.value
            seq = self._next_seq(cursor)
            self._run(
                cursor,
                "UPDATE linkbacks SET status = ?, moderation = ?, reason = NULL, type = ?, "
                "rsvp = ?, author_name = ?, author_url = ?, author_photo = ?, title = ?, "
                "content_html = ?, content_text = ?, published = ?, entry_url = ?, "
                "updated = ?, seq = ? WHERE id = ?",
                (chosen, chosen, *_content_values(content), now_iso(), seq, job.id),
            )
            self._dequeue(cursor, job)
        return Status(chosen)

    def failed(self, job: Job, reason: str) -> Status:
        with self._transaction() as cursor:
            status, moderation = self._current(cursor, job.id)
            chosen = "deleted" if moderation is not None else "invalid"
            self._finish(cursor, job, chosen, reason)
        return Status(chosen)

    def refused(self, job: Job, reason: str) -> Status:
        with self._transaction() as cursor:
            self._finish(cursor, job, "invalid", reason)
        return Status.INVALID

    def retry(self, job: Job, reason: str) -> Status:
        with self._transaction() as cursor:
            status, _ = self._current(cursor, job.id)
            if job.attempts < len(RETRY_DELAYS):
                self._run(
                    cursor,
                    "UPDATE linkbacks SET attempts = ?, due = ?, lease_until = NULL, "
                    "claimed_by = NULL WHERE id = ? AND claimed_by = ?",
                    (
                        job.attempts + 1,
                        time.time() + RETRY_DELAYS[job.attempts],
                        job.id,
                        job.worker,
                    ),
                )
                return Status(status)
            # Given up: a verified one keeps its status (a transient failure never deletes).
            final = "invalid" if status == "queued" else status
            self._finish(cursor, job, final, reason if final == "invalid" else None)
            return Status(final)

    def requeue_claims(self, *, expired_only: bool, claimer: str | None = None) -> int:
        with self._transaction() as cursor:
            condition = " AND lease_until < ?" if expired_only else ""
            parameters: tuple[Any, ...] = (time.time(),) if expired_only else ()
            if claimer is not None:
                condition += " AND claimed_by LIKE ?"
                parameters += (claimer.replace("%", "") + ":%",)
            return int(
                self._run(
                    cursor,
                    "UPDATE linkbacks SET lease_until = NULL, claimed_by = NULL "
                    f"WHERE lease_until IS NOT NULL{condition}",
                    parameters,
                ).rowcount
            )

    def take_slot(self, host: str, holder: str, limit: int, lease: float) -> bool:
        now = time.time()
        with self._transaction() as cursor:
            self._lock_slots(cursor)
            self._run(cursor, "DELETE FROM fetch_slots WHERE until < ?", (now,))
            taken = self._run(cursor, "SELECT count(*) FROM fetch_slots WHERE host = ?", (host,))
            if int(taken.fetchone()[0]) >= limit:
                return False
            self._run(
                cursor,
                "INSERT INTO fetch_slots (holder, host, until) VALUES (?, ?, ?)",
                (holder, host, now + lease),
            )
            return True

    def give_slot(self, holder: str) -> None:
        with self._transaction() as cursor:
            self._run(cursor, "DELETE FROM fetch_slots WHERE holder = ?", (holder,))

    def free_slots(self, *, expired_only: bool) -> None:
        until = time.time() if expired_only else float("inf")
        with self._transaction() as cursor:
            self._run(cursor, "DELETE FROM fetch_slots WHERE until < ?", (until,))

    def queue_length(self) -> int:
        with self._transaction(write=False) as cursor:
            row = self._run(cursor, "SELECT count(*) FROM linkbacks WHERE due IS NOT NULL")
            return int(row.fetchone()[0])

    # Reading and moderating -----------------------------------------------------------------

    def find(self, source: str, target: str) -> Linkback | None:
        return self._one("source = ? AND target = ?", (source, target))

    def get(self, linkback_id: int) -> Linkback | None:
        return self._one("id = ?", (linkback_id,))

    def _one(self, where: str, parameters: Sequence[Any]) -> Linkback | None:
        with self._transaction(write=False) as cursor:
            row = self._run(
                cursor, f"SELECT {_COLUMNS} FROM linkbacks WHERE {where}", parameters
            ).fetchone()
        return _record(row) if row else None

    def list(
        self,
        *,
        statuses: Sequence[Status] | None = None,
        target_key: str | None = None,
        since_id: int | None = None,
        changed_since: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Linkback]:
        conditions: list[str] = []
        parameters: list[Any] = []
        if statuses is not None:
            conditions.append(f"status IN ({', '.join('?' for _ in statuses)})")
            parameters.extend(status.value for status in statuses)
        if since_id is not None:
            conditions.append("id > ?")
            parameters.append(since_id)
        if changed_since is not None:
            conditions.append("seq > ?")
            parameters.append(changed_since)
        if target_key is not None:
            conditions.append("target_key = ?")
            parameters.append(target_key)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        page = ""
        if limit is not None:
            page = " LIMIT ? OFFSET ?"
            parameters.extend((limit, offset))
        with self._transaction(write=False) as cursor:
            rows = self._run(
                cursor,
                f"SELECT {_COLUMNS} FROM linkbacks {where} ORDER BY received DESC, id DESC{page}",
                parameters,
            ).fetchall()
        return [_record(row) for row in rows]

    def set_status(self, linkback_id: int, status: Status, reason: str | None = None) -> bool:
        with self._transaction() as cursor:
            seq = self._next_seq(cursor)
            moderation = ", moderation = ?" if status in MODERATED else ""
            extra = (status.value,) if moderation else ()
            changed = self._run(
                cursor,
                f"UPDATE linkbacks SET status = ?, reason = ?, updated = ?, seq = ?{moderation} "
                "WHERE id = ?",
                (status.value, reason, now_iso(), seq, *extra, linkback_id),
            ).rowcount
        return bool(changed)

    def last_seq(self) -> int:
        with self._transaction(write=False) as cursor:
            row = self._run(cursor, "SELECT value FROM counters WHERE name = 'seq'").fetchone()
        return int(row[0])

    def add_rule(self, rule: Rule) -> None:
        with self._transaction() as cursor:
            self._run(
                cursor,
                "INSERT INTO rules (kind, pattern) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (rule.kind.value, rule.pattern),
            )

    def rules(self) -> builtins.list[Rule]:
        with self._transaction(write=False) as cursor:
            rows = self._run(cursor, "SELECT kind, pattern FROM rules ORDER BY kind, pattern")
            return [Rule(RuleKind(kind), pattern) for kind, pattern in rows.fetchall()]

    def remove_rule(self, rule: Rule) -> bool:
        with self._transaction() as cursor:
            return bool(
                self._run(
                    cursor,
                    "DELETE FROM rules WHERE kind = ? AND pattern = ?",
                    (rule.kind.value, rule.pattern),
                ).rowcount
            )

    def counts(self) -> dict[Status, int]:
        with self._transaction(write=False) as cursor:
            rows = self._run(cursor, "SELECT status, count(*) FROM linkbacks GROUP BY status")
            found = {Status(status): int(number) for status, number in rows.fetchall()}
        return {status: found.get(status, 0) for status in Status}

    def counter(self, name: str) -> int:
        with self._transaction(write=False) as cursor:
            row = self._run(cursor, "SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def swap_counter(self, name: str, expected: int, value: int) -> bool:
        with self._transaction() as cursor:
            self._run(
                cursor,
                "INSERT INTO counters (name, value) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
                (name,),
            )
            return bool(
                self._run(
                    cursor,
                    "UPDATE counters SET value = ? WHERE name = ? AND value = ?",
                    (value, name, expected),
                ).rowcount
            )


def _key(target: str) -> str:
    """What groups a target's spellings (http and https, trailing slash) as one page."""
    return page_key(target) or target


def _content_values(content: Content) -> tuple[Any, ...]:
    return (
        content.type.value,
        content.rsvp,
        content.author.name,
        content.author.url,
        content.author.photo,
        content.title,
        content.html,
        content.text,
        content.published,
        content.url,
    )


def _record(row: Sequence[Any]) -> Linkback:
    content = Content(
        type=Kind(row[5]),
        rsvp=row[6],
        author=Author(row[7] or "", row[8], row[9]),
        title=row[10] or "",
        html=row[11] or "",
        text=row[12] or "",
        published=row[13],
        url=row[14],
    )
    return Linkback(
        id=int(row[0]),
        source=row[1],
        target=row[2],
        protocol=Protocol(row[3]),
        status=Status(row[4]),
        content=content,
        received=row[15],
        updated=row[16],
        reason=row[17],
        seq=int(row[18]),
        attempts=int(row[19]),
    )


def open_store(db: str) -> SqlStore:
    """The store named by ``--db``: a ``postgresql://`` URL, else a SQLite file path."""
    if db.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        store: SqlStore = PostgresStore(db)
    else:
        from .sqlite import SqliteStore

        store = SqliteStore(db)
    try:
        store.migrate()
    except StoreError:
        store.close()
        raise
    except Exception as error:  # sqlite3 and psycopg errors share no base class
        store.close()
        raise StoreError(f"--db {db}: cannot open the store: {error}") from None
    return store


__all__ = [
    "Arrival",
    "Author",
    "Content",
    "Job",
    "Linkback",
    "Rule",
    "RuleKind",
    "Status",
    "Store",
    "StoreError",
    "Stored",
    "open_store",
]
