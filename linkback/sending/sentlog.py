"""The sent-log: load, lock, record, atomic save.

Results are saved as they complete, by a writer thread, so a build killed at any moment
loses at most the pings in flight. Each save replaces the file atomically (temporary file,
fsync, rename). Serialising a big log on every result would cost O(links) each time, so the
JSON text of each source is cached and only the sources that changed are serialised again.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, TypedDict

from ..common.files import replace_file
from ..common.settings import PROTOCOLS, ConfigError

VERSION = 1
LOCK_WAIT_SECONDS = 60.0


class Status(str, Enum):
    """A pair's state in the sent-log; a ``str``, so the JSON holds its value as it is."""

    SENT = "sent"
    NO_ENDPOINT = "no-endpoint"
    FAILED = "failed"  # tried again by a later build when its entry says "retry"
    SKIPPED = "skipped"  # refused by a safety rule, or a baseline: no request
    PENDING = "pending"  # waits for its page to be live (``linkback deliver``)

    def __str__(self) -> str:
        return self.value


STATUSES = tuple(status.value for status in Status)
SETTLED = frozenset((Status.SENT, Status.NO_ENDPOINT, Status.SKIPPED))


class Entry(TypedDict, total=False):
    """One (source, target) pair's record, as the JSON holds it (SPEC "The sent-log").
    ``status`` is always there; the other fields as the status and the protocol need."""

    status: Status
    protocol: str | None
    endpoint: str | None
    attempts: int
    first_attempt: str | None
    last_attempt: str | None
    detail: str | None
    retry: bool
    # A pending ping: what ``linkback deliver`` needs to send it without the build.
    endpoints: list[list[str]]
    title: str
    excerpt: str
    blog_name: str
    need_link: bool
    # A Webmention sent again (W3C 3.1.4): an update, and whether the page still links.
    update: bool
    unlinked: bool


Links = dict[str, dict[str, Entry]]


class SourceState(TypedDict):
    """What the log keeps of a source page itself (SPEC "The sent-log", updates and deletes):
    the digest of the content its Webmentions were last sent from, and whether it is gone."""

    digest: str
    deleted: bool


Sources = dict[str, SourceState]


@dataclass
class LogData:
    """A parsed sent-log: the pairs, the sources' states, and the site it was written for
    (``linkback deliver`` names the site in its User-Agent as the build did)."""

    links: Links = field(default_factory=dict)
    sources: Sources = field(default_factory=dict)
    site_url: str = ""


class SentLogError(ConfigError):
    """The sent-log cannot be read or is held by another run; sending must not start."""


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_links(path: Path) -> Links:
    """Parse and check a sent-log; a missing file is an empty log, a bad one an error."""
    return read_log(path).links


def read_log(path: Path) -> LogData:
    """The whole sent-log; a missing file is an empty log, a bad one an error."""
    raw = _read_bytes(path)
    return LogData() if raw is None else parse_log(path, raw)


def require_log(path: Path) -> None:
    """For commands that only work on an existing log (``deliver``, ``status``...): a
    missing file is a mistake (the wrong folder, a mistyped name), never "nothing to do"."""
    if not path.exists():
        raise SentLogError(
            f"there is no sent-log at {path}; give its place with --sent-log or --config "
            "(a build that sends creates it)"
        )


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SentLogError(f"cannot read the sent-log {path}: {error}") from None


# The digest of "there is no sent-log file", and of "the file this run wrote was removed
# before it was closed": a page cache written then must not vouch for pages when a later
# build finds no log (its owner deleted it to send everything again).
NO_LOG = ""
LOG_REMOVED = "removed"


def digest_of(raw: bytes | None) -> str:
    """What identifies one exact sent-log (see :mod:`.pagecache`); ``None``: none."""
    return NO_LOG if raw is None else hashlib.sha256(raw).hexdigest()


def parse_links(path: Path, raw: bytes) -> Links:
    """The ``links`` of a sent-log's bytes, checked; ``path`` only names it in errors."""
    return parse_log(path, raw).links


def parse_log(path: Path, raw: bytes) -> LogData:
    """A sent-log's bytes, checked; ``path`` only names it in errors."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SentLogError(
            f"the sent-log {path} is not valid JSON ({error}); it was left untouched. "
            "Repair it or move it away (an empty log would ping every link again)"
        ) from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise SentLogError(
            f"the sent-log {path} has unknown version {version!r} (expected {VERSION}); "
            "it was left untouched"
        )
    links = data.get("links", {})
    if not isinstance(links, dict) or not all(
        isinstance(targets, dict) and all(isinstance(entry, dict) for entry in targets.values())
        for targets in links.values()
    ):
        raise SentLogError(
            f"the sent-log {path} does not have the shape "
            '{"version": 1, "links": {source: {target: entry}}}; it was left untouched'
        )
    for source, targets in links.items():
        for target, entry in targets.items():
            problem = entry_problem(entry)
            if problem is not None:
                raise SentLogError(
                    f"the sent-log {path} has a bad entry for {source} -> {target}: {problem}; "
                    "it was left untouched"
                )
            entry["status"] = Status(entry["status"])
    site_url = data.get("site_url", "")
    if not isinstance(site_url, str):
        raise SentLogError(
            f'the sent-log {path} has a "site_url" that is not a string; it was left untouched'
        )
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not all(
        isinstance(state, dict)
        and isinstance(state.get("digest"), str)
        and isinstance(state.get("deleted"), bool)
        for state in sources.values()
    ):
        raise SentLogError(
            f'the sent-log {path} has "sources" not of the shape '
            '{source: {"digest": text, "deleted": true or false}}; it was left untouched'
        )
    return LogData(links, sources, site_url)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_endpoint_list(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
        for pair in value
    )


# What each field of an entry may hold; a field that is absent is not checked, except status.
_FIELDS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "status": (f"one of {', '.join(STATUSES)}", lambda v: v in STATUSES),
    "protocol": (
        f"null or one of {', '.join(PROTOCOLS)}",
        lambda v: v is None or v in PROTOCOLS,
    ),
    "endpoint": ("null or a string", lambda v: v is None or isinstance(v, str)),
    "attempts": ("a whole number, 0 or more", _is_count),
    "first_attempt": ("null or a string", lambda v: v is None or isinstance(v, str)),
    "last_attempt": ("null or a string", lambda v: v is None or isinstance(v, str)),
    "detail": ("null or a string", lambda v: v is None or isinstance(v, str)),
    "retry": ("true or false", lambda v: isinstance(v, bool)),
    "endpoints": ("a list of [protocol, endpoint] pairs", _is_endpoint_list),
    "title": ("a string", lambda v: isinstance(v, str)),
    "excerpt": ("a string", lambda v: isinstance(v, str)),
    "blog_name": ("a string", lambda v: isinstance(v, str)),
    "need_link": ("true or false", lambda v: isinstance(v, bool)),
    "update": ("true or false", lambda v: isinstance(v, bool)),
    "unlinked": ("true or false", lambda v: isinstance(v, bool)),
}


def entry_problem(entry: Mapping[str, object]) -> str | None:
    """What is wrong with one entry, or None. Checked when the log is read: a bad value found
    only after its ping was sent would stop the run before the result is recorded."""
    if "status" not in entry:
        return '"status" is missing'
    for name, value in entry.items():
        rule = _FIELDS.get(name)  # other fields are kept as they are
        if rule is not None and not rule[1](value):
            return f'"{name}" must be {rule[0]}, got {json.dumps(value)[:80]}'
    return None


class Snapshot:
    """The sent-log as a build read it, without the lock: the digest of its bytes, and its
    links, parsed when first asked for (raising SentLogError if it is not a good log).

    A build whose pages are all in the page cache never asks: the digest alone shows that
    the file is the very one that parsed when the cache was written.
    """

    def __init__(self, path: Path, raw: bytes | None) -> None:
        self.path = path
        self.digest = digest_of(raw)
        self._raw = raw
        self._data: LogData | None = None if raw is not None else LogData()

    def check(self) -> None:
        """Parse now: raises SentLogError for a file that is not a good sent-log."""
        self._parsed()

    @property
    def links(self) -> Mapping[str, Mapping[str, Entry]]:
        return self._parsed().links

    @property
    def sources(self) -> Mapping[str, SourceState]:
        return self._parsed().sources

    @property
    def site_url(self) -> str:
        return self._parsed().site_url

    @property
    def parsed(self) -> bool:
        """True once the file was parsed (always for a missing file)."""
        return self._data is not None

    def _parsed(self) -> LogData:
        if self._data is None:
            assert self._raw is not None
            self._data = parse_log(self.path, self._raw)
            self._raw = None  # the parsed log is all that is needed from now on
        return self._data


_snapshots: dict[Path, tuple[tuple[int, int, int], Snapshot]] = {}


def snapshot(path: Path) -> Snapshot:
    """The sent-log, read once while the file is unchanged.

    A build reads the log when it starts, to fail before anything is written, and again to
    plan: that is one read. Read without the lock: a plan that finds work checks it again
    under the lock (:meth:`SentLog.open`), and a pair settled in a snapshot stays settled.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return Snapshot(path, None)
    except OSError:
        return Snapshot(path, _read_bytes(path))  # which says what is wrong
    key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    cached = _snapshots.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    taken = Snapshot(path, _read_bytes(path))
    _snapshots[path] = (key, taken)
    return taken


def is_settled(entry: Entry | None) -> bool:
    """True when a pair must not be contacted again in a build."""
    if entry is None:
        return False
    status = entry.get("status")
    return status in SETTLED or (status is Status.FAILED and not entry.get("retry"))


class SentLog:
    """An open sent-log: held under a cross-process lock from load to close.

    Use :meth:`open` (which locks and loads) as a context manager. ``writable=False`` (dry
    runs) keeps everything in memory. A write that fails stops the log for good: ``failed``
    tells the run to start nothing more, and closing raises SentLogError naming what was
    sent but could not be recorded.
    """

    def __init__(self, path: Path, *, writable: bool = True, logger: logging.Logger | None = None):
        self.path = path
        self.writable = writable
        self.logger = logger or logging.getLogger("linkback")
        self.links: Links = {}
        self.sources: Sources = {}
        self.site_url = ""
        self.digest = NO_LOG  # of the file as this run read it, or as it left it
        self._lock = _file_lock(path) if writable else None
        self._text = _LogText()
        self._changed: dict[str, set[str]] = {}  # source -> targets changed since the last write
        self._version = 0
        self._written = 0
        self._unwritten: deque[tuple[int, str, str]] = deque()  # (version, source, target)
        self._cond = threading.Condition()
        self._closing = False
        self._error: OSError | None = None
        self._writer: threading.Thread | None = None

    @classmethod
    def open(
        cls, path: Path, *, writable: bool = True, logger: logging.Logger | None = None
    ) -> SentLog:
        _snapshots.pop(path, None)  # the log is about to change: no second copy in memory
        log = cls(path, writable=writable, logger=logger)
        log._acquire()
        try:
            if writable:
                check_writable(path)
            raw = _read_bytes(path)
            if raw is not None:
                data, log.digest = parse_log(path, raw), digest_of(raw)
                log.links, log.sources, log.site_url = data.links, data.sources, data.site_url
            log._changed = {source: set(targets) for source, targets in log.links.items()}
            log._text.meta(log.sources, log.site_url)
        except BaseException:
            log._release()
            raise
        return log

    def __enter__(self) -> SentLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _acquire(self) -> None:
        if self._lock is None:
            return
        from filelock import Timeout

        try:
            Path(self._lock.lock_file).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._lock.acquire(timeout=0)
                return
            except Timeout:
                self.logger.warning(
                    "linkback: waiting for another run that holds %s", self._lock.lock_file
                )
            self._lock.acquire(timeout=LOCK_WAIT_SECONDS)
        except Timeout:
            raise SentLogError(
                f"another linkback run holds {self._lock.lock_file} (waited "
                f"{LOCK_WAIT_SECONDS:g} s); try again when it has finished"
            ) from None
        except OSError as error:
            raise SentLogError(
                f"cannot lock the sent-log {self.path} ({self._lock.lock_file}: "
                f"{error.strerror or error}); nothing was sent"
            ) from None

    def _release(self) -> None:
        if self._lock is not None and self._lock.is_locked:
            self._lock.release()

    @property
    def failed(self) -> bool:
        """True once a write has failed: nothing more may be sent in this run."""
        return self._error is not None

    def get(self, source: str, target: str) -> Entry | None:
        return self.links.get(source, {}).get(target)

    def entries(self) -> Iterator[tuple[str, str, Entry]]:
        for source, targets in self.links.items():
            for target, entry in targets.items():
                yield source, target, entry

    def record(self, source: str, target: str, entry: Entry) -> None:
        """Store one result; the writer thread saves it at once (coalescing bursts)."""
        with self._cond:
            self.links.setdefault(source, {})[target] = entry
            self._changed.setdefault(source, set()).add(target)
            self._version += 1
            if self.writable:
                self._unwritten.append((self._version, source, target))
            self._wake_writer()

    def remove(self, source: str, target: str) -> Entry | None:
        """Forget one pair (``linkback forget``); a later build tries it again."""
        with self._cond:
            entry = self.links.get(source, {}).pop(target, None)
            if entry is None:
                return None
            if not self.links[source]:
                del self.links[source]
            self._changed.setdefault(source, set()).add(target)
            self._version += 1
            self._wake_writer()
            return entry

    def set_source(self, source: str, digest: str, *, deleted: bool = False) -> None:
        """Remember the content a source's Webmentions were last sent from."""
        with self._cond:
            state = SourceState(digest=digest, deleted=deleted)
            if self.sources.get(source) == state:
                return
            self.sources[source] = state
            self._meta_changed()

    def set_site_url(self, site_url: str) -> None:
        """The site the log belongs to: ``deliver`` names it in its User-Agent."""
        with self._cond:
            if site_url and site_url != self.site_url:
                self.site_url = site_url
                self._meta_changed()

    def _meta_changed(self) -> None:
        self._text.meta(self.sources, self.site_url)
        self._version += 1
        self._wake_writer()

    def _wake_writer(self) -> None:
        """Called holding ``_cond``: the writer thread saves what changed."""
        if not self.writable:
            return
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name="linkback-sentlog", daemon=True
            )
            self._writer.start()
        self._cond.notify_all()

    def flush(self) -> None:
        """Wait until everything recorded so far is on disk."""
        with self._cond:
            while self._writer is not None and self._written < self._version and not self._error:
                self._cond.wait()
            if self._error is not None:
                raise SentLogError(self._failure_message(self._error))

    def _failure_message(self, error: OSError) -> str:
        """One line: why, and every ping that went out but is not in the file."""
        lost = [
            f"{source} -> {target}"
            for _, source, target in self._unwritten
            if self.links.get(source, {}).get(target, {}).get("status") is Status.SENT
        ]
        said = (
            f"{len(lost)} sent but not recorded (the next build sends them again): "
            + ", ".join(lost)
            if lost
            else "every ping sent is recorded"
        )
        reason = error.strerror or str(error)
        return f"cannot write the sent-log {self.path} ({reason}); sending stopped; {said}"

    def close(self) -> None:
        try:
            self.flush()
            if self._written:
                # Once, still under the lock: a big send rewrites the log hundreds of times.
                self.digest = digest_of(_read_bytes(self.path)) or LOG_REMOVED
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            if self._writer is not None:
                self._writer.join()
            self._release()

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while self._written == self._version and not self._closing:
                    self._cond.wait()
                if self._written == self._version:
                    return
                version = self._version
                changed = {
                    source: {target: self.links.get(source, {}).get(target) for target in targets}
                    for source, targets in self._changed.items()
                }
                self._changed = {}
            try:  # serialised and written outside the lock: results keep coming meanwhile
                replace_file(self.path, self._text.update(changed))
            except OSError as error:
                with self._cond:
                    self._error = error
                    self._cond.notify_all()
                return
            with self._cond:
                self._written = version
                while self._unwritten and self._unwritten[0][0] <= version:
                    self._unwritten.popleft()
                self._cond.notify_all()


class _LogText:
    """The sent-log's JSON text, kept per entry, so that a rewrite serialises only the entries
    that changed: re-serialising a page's 30,000 entries on each of its results was quadratic.

    Joined in order the pieces make ``json.dumps(data, indent=2, sort_keys=True)``.
    """

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, str]] = {}  # source -> target -> its text
        self._order: dict[str, list[str]] = {}  # source -> its targets, sorted
        self._sources: list[str] = []  # sorted
        self._fragments: dict[str, str] = {}  # source -> its text
        self._meta = ""  # the top-level fields other than links and version

    def meta(self, sources: Mapping[str, SourceState], site_url: str) -> None:
        """The text of ``site_url`` and ``sources`` (written only when they hold something,
        so that a log without them stays as it was)."""
        parts = []
        if site_url:
            parts.append(f',\n  "site_url": {json.dumps(site_url, ensure_ascii=False)}')
        if sources:
            text = json.dumps(sources, indent=2, sort_keys=True, ensure_ascii=False)
            parts.append(f',\n  "sources": {text.replace(chr(10), chr(10) + "  ")}')
        self._meta = "".join(parts)

    def update(self, changed: Mapping[str, Mapping[str, Entry | None]]) -> list[str]:
        """Take in the changed entries (source -> target -> entry, None for one removed); the
        pieces of the whole document."""
        for source, targets in changed.items():
            texts = self._entries.get(source)
            if texts is None:
                texts = self._entries[source] = {}
                self._order[source] = []
                bisect.insort(self._sources, source)
            order = self._order[source]
            fresh = [target for target in targets if target not in texts]
            removed = False
            for target, entry in targets.items():
                if entry is None:
                    if texts.pop(target, None) is not None:
                        order.remove(target)
                    removed = True
                    continue
                text = json.dumps(entry, indent=2, sort_keys=True, ensure_ascii=False)
                key = json.dumps(target, ensure_ascii=False)
                texts[target] = f"{key}: {text.replace(chr(10), _ENTRY_LINE)}"
            fresh = [target for target in fresh if target in texts]
            if removed and not texts:  # its last pair was forgotten
                del self._entries[source], self._order[source]
                self._fragments.pop(source, None)
                self._sources.remove(source)
                continue
            if len(fresh) > 8:
                order.extend(fresh)
                order.sort()
            else:
                for target in fresh:
                    bisect.insort(order, target)
            body = f",{_ENTRY_LINE}".join(texts[target] for target in order)
            key = json.dumps(source, ensure_ascii=False)
            self._fragments[source] = (
                f"{key}: {{{_ENTRY_LINE}{body}\n    }}" if body else f"{key}: {{}}"
            )
        return list(_document([self._fragments[source] for source in self._sources], self._meta))


_ENTRY_LINE = "\n      "  # a new line inside an entry, which sits three levels deep


def check_writable(path: Path) -> None:
    """Refuse a sent-log that cannot be written before anything is sent: its folder (the
    link target's, for a symbolic link) must be writable, or creatable."""
    folder = Path(os.path.realpath(path)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SentLogError(
            f"cannot write the sent-log {path}: the folder {folder} is not writable; "
            "nothing was sent"
        )


def _file_lock(path: Path) -> Any:
    """Beside the file the log really is (a symbolic link's target): two runs that reach one
    log through different links must still exclude each other. Imported here: a build with
    nothing to send never takes the lock."""
    from filelock import FileLock

    return FileLock(os.path.realpath(path) + ".lock")


def _document(fragments: list[str], meta: str = "") -> Iterator[str]:
    yield '{\n  "links": '
    if not fragments:
        yield "{}"
    else:
        yield "{\n    "
        for index, fragment in enumerate(fragments):
            yield ",\n    " + fragment if index else fragment
        yield "\n  }"
    yield meta
    yield f',\n  "version": {VERSION}\n}}\n'
