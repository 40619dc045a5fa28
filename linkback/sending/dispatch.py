"""Runs discovery and pings over the guarded client, and records each result as it comes.

Every HTTP request is a *step* bound to one host. The scheduler hands steps to a thread
pool only while the host has a free slot (``per_host``) and the run has one
(``concurrency``), so a slow or rate-limiting host holds up nothing but its own steps.
Steps run on worker threads; what follows a step (the next step, or recording the result)
runs on the calling thread, so the run's state needs no locks.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any
from urllib.parse import urlsplit

from ..common.http import Client, FetchError, Response
from ..common.outcome import Outcome, Verdict
from ..common.terminal import printable
from . import links
from .discovery import Endpoints, discover
from .jobs import Job, RunContext
from .progress import ProgressDisplay
from .protocols import SENDERS, failure_of, http_failure
from .sentlog import Entry, Status, now_iso

PAUSE_BUDGET_SECONDS = 60.0  # rate-limit pauses a run accepts before leaving the rest for later


def host_key(url: str) -> str:
    """Politeness is per host name, whatever the port or scheme."""
    return (urlsplit(url).hostname or "").lower()


@dataclass(slots=True)  # every discovery of a big site is queued at once
class _Step:
    host: str
    work: Callable[[], Any]
    then: Callable[[Any], None]


class Scheduler:
    """Runs steps with at most ``concurrency`` in flight, ``per_host`` per host."""

    def __init__(
        self,
        concurrency: int,
        per_host: int,
        stop: Callable[[], bool] = lambda: False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.per_host = per_host
        self.stop = stop  # once true, no step is started; those running are finished
        self.logger = logger or logging.getLogger("linkback")
        self._queues: dict[str, deque[_Step]] = defaultdict(deque)
        self._active: dict[str, int] = defaultdict(int)
        self._ready: deque[str] = deque()
        self._paused_until: dict[str, float] = {}
        self._running: dict[Future[Any], _Step] = {}
        # Each step's future, as it finishes: concurrent.futures.wait() would lock and watch
        # every future in flight again after each one that finishes.
        self._done: SimpleQueue[Future[Any]] = SimpleQueue()
        self.pause_total = 0.0

    def submit(
        self,
        host: str,
        work: Callable[[], Any],
        then: Callable[[Any], None],
        *,
        first: bool = False,
    ) -> None:
        """Queue a step for ``host``; ``first`` puts it ahead of the host's other steps."""
        step = _Step(host, work, then)
        if first:
            self._queues[host].appendleft(step)
        else:
            self._queues[host].append(step)
        self._ready.append(host)

    def pause(self, host: str, seconds: float) -> None:
        self._paused_until[host] = time.monotonic() + seconds
        self.pause_total += seconds

    def drain(self, host: str) -> list[_Step]:
        """Take a host's waiting steps away (its pause would exceed the run's budget)."""
        steps = list(self._queues[host])
        self._queues[host].clear()
        return steps

    def run(self) -> None:
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="linkback") as pool:
            while True:
                self._dispatch(pool)
                if not self._running:
                    if self.stop():
                        return
                    wake = self._next_wake()
                    if wake is None:
                        return
                    time.sleep(max(0.0, wake - time.monotonic()))
                    continue
                wake = self._next_wake()
                timeout = None if wake is None else max(0.0, wake - time.monotonic())
                try:
                    future = self._done.get(timeout=timeout)
                except Empty:  # a paused host may go on
                    continue
                step = self._running.pop(future)
                self._active[step.host] -= 1
                self._ready.append(step.host)
                step.then(self._result(future))

    def _result(self, future: Future[Any]) -> Any:
        """A step's value. A bug in a step is that link's failure, never the build's, and is
        said loudly, with its traceback: it must not pass for a target's fault."""
        try:
            return future.result()
        except Exception as error:  # noqa: BLE001 - recorded against the link, with its type
            self.logger.warning("linkback: internal error in a step (a bug)", exc_info=True)
            detail = f"internal error: {type(error).__name__}: {error}"
            return FetchError(detail, Verdict.PERMANENT)

    def _next_wake(self) -> float | None:
        """When the earliest paused host with waiting steps may go on, if any."""
        times = [until for host, until in self._paused_until.items() if self._queues[host]]
        return min(times) if times else None

    def _dispatch(self, pool: ThreadPoolExecutor) -> None:
        if self.stop():
            return
        now = time.monotonic()
        for host, until in list(self._paused_until.items()):
            if until <= now:
                del self._paused_until[host]
                self._ready.append(host)
        deferred: list[str] = []
        while self._ready and len(self._running) < self.concurrency:
            host = self._ready.popleft()
            queue = self._queues[host]
            if not queue or self._active[host] >= self.per_host:
                continue
            if host in self._paused_until:
                deferred.append(host)
                continue
            step = queue.popleft()
            self._active[host] += 1
            future = pool.submit(step.work)
            self._running[future] = step
            future.add_done_callback(self._done.put)
            if queue:
                self._ready.append(host)
        self._ready.extend(deferred)


@dataclass
class _LiveState:
    served: bool
    detail: str
    links: frozenset[str] = frozenset()
    current: bool = False  # the page serves this build's content byte for byte

    def allows(self, job: Job) -> bool:
        """May the job's ping go out now? A receiver verifies it against the live page, so
        that page must carry the link, or, for a link removed from it, no longer carry it.
        An update of a page that still links must wait for the new version: the old one
        carries the link too (``linkback deliver``, which runs after the upload, sends it)."""
        if not self.served:
            return False
        if job.unlinked:
            return job.ping.target not in self.links
        if job.update and job.content and not self.current:
            return False
        return not job.need_link or job.ping.target in self.links

    def why_not(self, job: Job) -> str:
        if not self.served:
            return self.detail
        if job.unlinked:
            return "live page still carries the removed link"
        if job.ping.target in self.links:
            return "live page is not this build's version yet"
        return self.detail


def _serves_content(content: str, body: bytes) -> bool:
    """True when the served page holds this build's content of the page byte for byte: then
    it carries every link the plan found there, and a search of the bytes spares parsing a
    page that may be mostly a theme's navigation. Otherwise it is parsed."""
    return bool(content) and not content.isspace() and content.encode("utf-8") in body


class _Run:
    """The state of one send or deliver: what is waiting for what."""

    def __init__(self, context: RunContext, progress: ProgressDisplay) -> None:
        settings, log = context.settings, context.log
        self.settings = settings
        self.log = log
        self.report = context.report
        self.logger = logger = context.logger
        self.progress = progress
        self.client = Client(settings)
        # A sent-log that cannot be written stops the run: every ping sent from then on
        # would be sent again by the next build.
        self.scheduler = Scheduler(
            settings.concurrency, settings.per_host, lambda: log.failed, logger
        )
        self.targets_of: dict[str, set[str]] = defaultdict(set)  # what a live check looks for
        self.unlinked_of: dict[str, set[str]] = defaultdict(set)  # links it must not find
        self.deleted: set[str] = set()  # gone sources that answered 404 or 410
        self.live: dict[str, _LiveState] = {}
        self.waiting_for_discovery: dict[str, list[Job]] = defaultdict(list)
        self.waiting_for_live: dict[str, list[Job]] = defaultdict(list)
        # What was tried again after a 429 in this run (a target's discovery, a pair's ping):
        # once only, so a server that answers 429 for ever is not hammered.
        self.rate_limited: set[tuple[str, str]] = set()

    # Building blocks: each schedules one request and says what follows it.

    def discover_then_ping(self, job: Job) -> None:
        """One GET per target, however many pages of the site link to it: every job is
        queued before the scheduler runs, so the jobs of a target all wait for one answer."""
        target = job.ping.target
        self.waiting_for_discovery[target].append(job)
        if len(self.waiting_for_discovery[target]) == 1:
            self._submit_discovery(target)

    def _submit_discovery(self, target: str, *, first: bool = False) -> None:
        self.scheduler.submit(
            host_key(target),
            lambda: self._discover(target),
            lambda answer: self._found(target, answer),
            first=first,
        )

    def _found(self, target: str, answer: Response | FetchError | Endpoints) -> None:
        failure = http_failure(answer) if isinstance(answer, Response) else None
        if failure is not None and self._again_after_pause(
            ("discovery", target), host_key(target), failure.pause
        ):
            self._submit_discovery(target, first=True)
            return
        for job in self.waiting_for_discovery.pop(target, []):
            self._discovered(job, answer)

    def ping_when_live(self, job: Job) -> None:
        if self.settings.dry_run:
            self.report.count_dry_run()
            protocol, endpoint = job.candidates[0]
            self.logger.info(
                "linkback: would send %s -> %s by %s to %s",
                *map(printable, (job.ping.source, job.key, protocol, endpoint)),
            )
            self.progress.advance()
            return
        if not self.settings.check_live or job.deleted:  # a deleted page was just checked
            self._ping(job)
            return
        source = job.ping.source
        state = self.live.get(source)
        if state is not None:
            self._ping_or_wait(job, state)
            return
        self.waiting_for_live[source].append(job)
        if len(self.waiting_for_live[source]) == 1:
            self.scheduler.submit(
                host_key(source),
                lambda: self._fetch_live(source),
                lambda answer: self._live_checked(source, answer),
            )

    # Work done on the worker threads: a request and the parsing of its answer.

    def _discover(self, target: str) -> Response | FetchError | Endpoints:
        try:
            answer = self.client.get(target)
        except FetchError as error:
            return error
        if http_failure(answer) is not None:
            return answer
        return discover(answer.url, answer.headers, answer.body, target, charset=answer.charset)

    def _fetch_live(self, source: str) -> Response | FetchError:
        try:
            return self.client.get(source)
        except FetchError as error:
            return error

    # What follows each step, on the scheduler's thread.

    def _discovered(self, job: Job, answer: Response | FetchError | Endpoints) -> None:
        if isinstance(answer, FetchError):
            self._finish(job, failure_of(answer), protocol=None, endpoint=None)
            return
        if isinstance(answer, Response):
            failure = http_failure(answer) or Outcome(Verdict.PERMANENT, f"HTTP {answer.status}")
            self._finish(job, failure, protocol=None, endpoint=None)
            return
        # An update goes by Webmention alone: pingbacks and trackbacks are never sent again.
        job.candidates = answer.advertised(
            ("webmention",) if job.update else self.settings.protocols
        )
        if not job.candidates:
            detail = "no endpoint advertised"
            self._record(job, Status.NO_ENDPOINT, None, None, detail, retry=False)
            return
        self.ping_when_live(job)

    def _live_checked(self, source: str, answer: Response | FetchError) -> None:
        waiting = self.waiting_for_live.pop(source, [])
        # Every job of a page carries the page's content as built ("" when delivering).
        state = self._live_state(source, answer, waiting[0].content if waiting else "")
        self.live[source] = state
        for job in waiting:
            self._ping_or_wait(job, state)

    def _ping_or_wait(self, job: Job, state: _LiveState) -> None:
        """Ping now if the live page allows it; else the pair waits, recorded pending."""
        if state.allows(job):
            self._ping(job)
        else:
            self._record_pending(job, state)

    def _live_state(self, source: str, answer: Response | FetchError, content: str) -> _LiveState:
        """Is the page served, and with which of its targets? Parsed here, on the scheduler's
        thread: a worker thread that parses a big page (a theme's navigation repeated on every
        page) keeps about a megabyte for good, and all 32 of them would."""
        if isinstance(answer, FetchError):
            return _LiveState(False, f"not live yet: {answer}")
        if not 200 <= answer.status < 300:
            return _LiveState(False, f"not live yet: HTTP {answer.status} at {source}")
        if answer.url == source and _serves_content(content, answer.body):
            return _LiveState(True, "", frozenset(self.targets_of[source]), current=True)
        # A theme's navigation holds hundreds of relative links; only ours matter here.
        raw = links.external_hrefs(links.served_hrefs(answer.body, answer.charset))
        ours = self.targets_of[source] | self.unlinked_of[source]
        found = ours.intersection(links.absolute_targets(raw, answer.url))
        return _LiveState(True, "live page does not carry the link yet", frozenset(found))

    def check_gone(self, source: str, jobs: list[Job]) -> None:
        """A page gone from the build: at 404 or 410 its former targets are told (W3C
        3.1.5); served, or unreachable, nothing is sent and the next build asks again."""
        self.scheduler.submit(
            host_key(source),
            lambda: self._fetch_live(source),
            lambda answer: self._gone_checked(source, jobs, answer),
        )

    def _gone_checked(self, source: str, jobs: list[Job], answer: Response | FetchError) -> None:
        if isinstance(answer, Response) and answer.status in (404, 410):
            self.deleted.add(source)
            self.logger.info(
                "linkback: %s is gone (HTTP %d): Webmentions to its %d targets",
                printable(source),
                answer.status,
                len(jobs),
            )
            self.report.count_updates(len(jobs))
            self.progress.add(len(jobs))
            for job in jobs:
                self.discover_then_ping(job)
            return
        said = f"HTTP {answer.status}" if isinstance(answer, Response) else str(answer)
        self.logger.debug(
            "linkback: %s is not in the build but answers %s: not deleted",
            *map(printable, (source, said)),
        )

    def _ping(self, job: Job, *, first: bool = False) -> None:
        protocol, endpoint = job.candidates[job.index]
        sender = SENDERS[protocol]
        self.scheduler.submit(
            host_key(endpoint),
            lambda: sender(self.client, endpoint, job.ping),
            lambda outcome: self._pinged(job, outcome),
            first=first,
        )

    def _pinged(self, job: Job, outcome: Outcome | FetchError) -> None:
        if isinstance(outcome, FetchError):  # a drained step, or a bug in a sender
            outcome = failure_of(outcome)
        protocol, endpoint = job.candidates[job.index]
        if self._again_after_pause((job.ping.source, job.key), host_key(endpoint), outcome.pause):
            self._ping(job, first=True)
            return
        if outcome.verdict is Verdict.PERMANENT and job.index + 1 < len(job.candidates):
            self._log_result(
                job, f"{protocol} failed ({outcome.detail})", "trying the next protocol"
            )
            job.index += 1
            self._ping(job)
            return
        self._finish(job, outcome, protocol=protocol, endpoint=endpoint)

    def _again_after_pause(self, key: tuple[str, str], host: str, pause: float | None) -> bool:
        """After a 429 (``pause`` is its wait): True when the request goes again after the
        pause, which is once per target or pair in a run, within the run's pause budget."""
        if pause is None or key in self.rate_limited:
            return False
        self.rate_limited.add(key)
        return self._pause_host(host, pause)

    def _pause_host(self, host: str, seconds: float) -> bool:
        """Pause a rate-limiting host if the run's budget allows; else give up its queue."""
        if self.scheduler.pause_total + seconds <= PAUSE_BUDGET_SECONDS:
            self.logger.info(
                "linkback: %s asks to slow down; pausing it %.0f s", printable(host), seconds
            )
            self.scheduler.pause(host, seconds)
            return True
        for step in self.scheduler.drain(host):
            step.then(FetchError("rate limited; left for the next build", Verdict.TRANSIENT))
        return False

    def _finish(
        self,
        job: Job,
        outcome: Outcome,
        *,
        protocol: str | None,
        endpoint: str | None,
    ) -> None:
        if outcome.sent:
            self._record(job, Status.SENT, protocol, endpoint, outcome.detail, retry=False)
        elif outcome.verdict is Verdict.BLOCKED:
            self._record(job, Status.SKIPPED, protocol, endpoint, outcome.detail, retry=False)
        else:
            transient = outcome.verdict is Verdict.TRANSIENT
            retry = transient and job.attempts + 1 < self.settings.max_attempts
            self._record(job, Status.FAILED, protocol, endpoint, outcome.detail, retry=retry)

    def _record_pending(self, job: Job, state: _LiveState) -> None:
        """Pending keeps what ``linkback deliver`` needs to send without the build."""
        protocol, endpoint = job.candidates[0]
        detail = state.why_not(job)
        self.report.wait(job.ping.source, detail)
        self._record(job, Status.PENDING, protocol, endpoint, detail, retry=True, pending=True)

    def _record(
        self,
        job: Job,
        status: Status,
        protocol: str | None,
        endpoint: str | None,
        detail: str,
        *,
        retry: bool,
        pending: bool = False,
    ) -> None:
        """Record the pair's result; a pending one was not attempted, and keeps its ping."""
        stamp = now_iso()
        previous = job.previous or {}
        attempted = not pending
        entry: Entry = {
            "status": status,
            "protocol": protocol,
            "endpoint": endpoint,
            "attempts": job.attempts + (1 if attempted else 0),
            "first_attempt": previous.get("first_attempt") or (stamp if attempted else None),
            "last_attempt": stamp if attempted else previous.get("last_attempt"),
            "detail": detail,
            "retry": retry,
            **(job.pending_fields() if pending else {}),
            **job.marks(),
        }
        self.report.count(entry)
        via = " ".join(filter(None, (protocol, endpoint)))
        self._log_result(job, status, f"{via}: {detail}" if via else detail)
        self.log.record(job.ping.source, job.key, entry)
        self.progress.advance()

    def _log_result(self, job: Job, status: str, detail: str) -> None:
        """One line per target (``--verbose``); ``detail`` may quote a server: escaped."""
        self.logger.debug(
            "linkback: %s -> %s: %s: %s",
            *map(printable, (job.ping.source, job.key, status, detail)),
        )

    def execute(self) -> None:
        try:
            self.scheduler.run()
        finally:
            self.report.requests = self.client.requests_made
            self.client.close()


def execute(
    context: RunContext,
    jobs: list[Job],
    *,
    discover_first: bool,
    gone: Mapping[str, list[Job]],
) -> set[str]:
    """Run the jobs, and check the pages of ``gone``; return those found deleted."""
    logger = context.logger
    display = ProgressDisplay(logger, context.progress)
    run = _Run(context, display)
    for job in jobs:
        (run.unlinked_of if job.unlinked else run.targets_of)[job.ping.source].add(job.ping.target)
    display.start(len(jobs))
    try:
        for source, waiting in gone.items():
            run.check_gone(source, waiting)
        for job in jobs:
            if job.candidates:
                run.ping_when_live(job)
            elif discover_first:
                run.discover_then_ping(job)
            else:
                logger.warning(
                    "linkback: pending %s -> %s has no endpoint saved",
                    *map(printable, (job.ping.source, job.key)),
                )
        run.execute()
    finally:
        display.stop()
    return run.deleted
