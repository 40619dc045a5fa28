"""The entry points of a run: what a build would send, and sending it (or delivering).

Everything here is cheap: a build with nothing new reads the sent-log and the page cache,
parses only the pages that changed, and stops. The HTML parser is imported only for a page
the cache does not vouch for, and the network stack (requests, urllib3, the scheduler) only
when there is something to send, so that such a build costs no more than one without
linkback.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..common.settings import Settings
from ..common.terminal import printable
from . import pagecache
from .pagecache import PageCache
from .report import BASELINE, Report, settled_kind
from .sentlog import (
    Entry,
    SentLog,
    SentLogError,
    Snapshot,
    SourceState,
    Status,
    check_writable,
    is_settled,
    require_log,
    snapshot,
)
from .source import Source

if TYPE_CHECKING:
    from .jobs import Job, Ping, RunContext
    from .progress import ProgressOption


def _logger(logger: logging.Logger | None) -> logging.Logger:
    return logger or logging.getLogger("linkback")


@dataclass
class Plan:
    """What a build has to do: its counts so far, its jobs, and what it learnt of each page
    for the page cache and for the sent-log's ``sources``."""

    report: Report
    jobs: list[Job] = field(default_factory=list)
    unchanged: dict[str, tuple[str, Counter[str]]] = field(default_factory=dict)  # from cache
    parsed: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # url: mark, keys
    baseline: list[tuple[str, str]] = field(default_factory=list)  # (source, key), ``since``
    gone: dict[str, list[Job]] = field(default_factory=dict)  # sources gone from the build
    seen: set[str] = field(default_factory=set)  # every page of the build, sources or not


def plan(
    sources: Iterable[Source], settings: Settings, log: Snapshot, cache: PageCache | None = None
) -> Plan:
    """What a build has to do, given the sent-log and the page cache written for it.

    A page the cache vouches for counts as settled without being parsed. Any other page
    is parsed once, here; its trackback excerpt is taken from that same tree, and only when
    it has something left to send. When sending, a page whose content changed since its
    Webmentions were sent gets them sent again (W3C Webmention 3.1.4), and a page gone from
    the build is checked for deletion (3.1.5).
    """
    result = Plan(Report(sending=settings.send, dry_run=settings.dry_run))
    report = result.report
    for source in sources:
        result.seen.add(source.url)
        if not source.enabled:
            continue
        mark = pagecache.fingerprint(source)
        kinds = cache.links_of(source, mark) if cache is not None else None
        if kinds is not None:
            report.count_page(sum(kinds.values()))
            report.count_settled(kinds)
            result.unchanged[source.url] = (mark, kinds)
            continue
        keys = _plan_page(source, settings, log, result, mark)
        result.parsed[source.url] = (mark, keys)
    if _sends_updates(settings):
        watched = cache.watched if cache is not None else None
        if watched is None or not watched <= result.seen:  # else the log need not be parsed
            _plan_deletions(log, result)
    return result


def _sends_updates(settings: Settings) -> bool:
    return settings.send and settings.send_updates and "webmention" in settings.protocols


def updatable(entry: Entry, *, linked: bool = False) -> bool:
    """A pair whose Webmention is sent again when its source changes or is deleted: one sent
    by Webmention (unless it told the target the link was removed, and the page still does
    not link), or an update that failed or waits (the next change sends it again)."""
    if entry.get("protocol") != "webmention":
        return False
    status = entry.get("status")
    if status is Status.SENT:
        return linked or not entry.get("unlinked")
    return entry.get("update", False) and status in (Status.FAILED, Status.PENDING)


def _plan_page(
    source: Source, settings: Settings, log: Snapshot, result: Plan, mark: str
) -> list[str]:
    """Count one parsed page's links and queue the open ones; return all its sent-log keys."""
    # Deferred on purpose: a build whose pages are all cached parses nothing and queues nothing.
    from . import links
    from .jobs import Job, Ping

    report = result.report
    done = log.links.get(source.url, {})
    tree = links.parse_fragment(source.content)
    pairs = [(target, False) for target in links.outbound(tree, source.url, settings, done)]
    pairs += [(uri, True) for uri in source.manual_trackbacks]
    report.count_page(len(pairs))
    open_pairs = [(key, manual) for key, manual in pairs if not is_settled(done.get(key))]
    report.count_settled(
        Counter(settled_kind(done[key]) for key, _ in pairs if is_settled(done.get(key)))
    )
    linked = {key for key, _ in pairs}
    still_open = {key for key, _ in open_pairs}
    since, published = settings.since, source.published
    if since is not None and published is not None and published < since:
        result.baseline += [(source.url, key) for key, _ in open_pairs]
        open_pairs = []
    state = log.sources.get(source.url)
    changed = state is not None and (state["digest"] != mark or state["deleted"])
    updates = (
        [
            target
            for target, entry in done.items()
            if target not in still_open and updatable(entry, linked=target in linked)
        ]
        if changed and _sends_updates(settings)
        else []
    )
    if open_pairs or updates:
        excerpt = links.excerpt_of(source.excerpt, tree)
        for key, manual in open_pairs:
            ping = Ping(source.url, key, source.title, excerpt, settings.blog_name)
            job = Job(ping, done.get(key), need_link=not manual, key=key, content=source.content)
            if manual:  # a trackback URI given by hand needs no discovery
                job.candidates = [("trackback", key)]
            result.jobs.append(job)
        for target in updates:
            ping = Ping(source.url, target, source.title, excerpt, settings.blog_name)
            result.jobs.append(
                _update_job(
                    ping, done[target], unlinked=target not in linked, content=source.content
                )
            )
            report.count_updates(1)
    return [key for key, _ in pairs]


def _update_job(
    ping: Ping, entry: Entry, *, unlinked: bool, content: str = "", deleted: bool = False
) -> Job:
    """A Webmention sent again (W3C 3.1.4, 3.1.5): discovered afresh, by Webmention alone,
    counted from its first attempt again (``max_attempts`` is per sending, not per pair)."""
    from .jobs import Job

    previous: Entry = {"first_attempt": entry.get("first_attempt")}
    return Job(
        ping,
        previous,
        need_link=not unlinked,
        key=ping.target,
        content=content,
        update=True,
        unlinked=unlinked,
        deleted=deleted,
    )


def is_deleted(sources: Mapping[str, SourceState], url: str) -> bool:
    state = sources.get(url)
    return state is not None and state["deleted"]


def _plan_deletions(log: Snapshot, result: Plan) -> None:
    """Sources in the sent-log but not in the build, with Webmentions to take back: each is
    checked at its public URL by the run, and only a 404 or 410 sends anything."""
    from .jobs import Ping

    for url, targets in log.links.items():
        if url in result.seen or is_deleted(log.sources, url):
            continue
        jobs = [
            _update_job(Ping(url, target), entry, unlinked=True, deleted=True)
            for target, entry in targets.items()
            if updatable(entry)
        ]
        if jobs:
            result.gone[url] = jobs


def _read_log(settings: Settings) -> tuple[Snapshot, PageCache | None]:
    """The sent-log and the page cache written for it. A log that no cache vouches for is
    parsed now, so that a bad one stops the build before the generator writes anything."""
    log = snapshot(settings.sent_log_path)
    cache = pagecache.load(settings, log.digest)
    if cache is None:
        log.check()
    return log, cache


def preflight(settings: Settings, output_dir: str | None = None) -> None:
    """Fail before the generator writes anything: what ``send`` would refuse at the end.

    Raises ConfigError (no absolute site URL, a sent-log in the output folder) or
    SentLogError (a sent-log that does not parse, or that could not be written); does
    nothing when not sending.
    """
    if settings.send:
        settings.check_for_sending(output_dir)
        _read_log(settings)
        if not settings.dry_run:
            check_writable(settings.sent_log_path)


def send(
    sources: Iterable[Source],
    settings: Settings,
    *,
    logger: logging.Logger | None = None,
    progress: ProgressOption = None,
    output_dir: str | None = None,
) -> Report:
    """Notify every new target of ``sources`` once; see SPEC "What is sent".

    Without ``settings.send`` nothing touches the network, the sent-log or the page cache;
    the report then only counts the links that a sending build would consider.
    """
    logger = _logger(logger)
    started = time.monotonic()
    if not settings.send:
        try:
            log, cache = _read_log(settings)
        except SentLogError as error:
            logger.warning("linkback: %s", error)
            log, cache = Snapshot(settings.sent_log_path, None), None
        report = plan(sources, settings, log, cache).report
    else:
        settings.check_for_sending(output_dir)
        log, cache = _read_log(settings)
        result = plan(sources, settings, log, cache)
        report = result.report
        digests = _digests_to_record(settings, result, log)
        current: Snapshot | SentLog = log  # the sent-log as it stands after this run
        if result.jobs or result.baseline or result.gone or digests:
            # Else nothing to do: no lock taken, no request made.
            path = settings.sent_log_path
            with SentLog.open(path, writable=not settings.dry_run, logger=logger) as current:
                jobs = _still_open(result, current, report)
                _record_baseline(result.baseline, current, report)
                from .jobs import RunContext  # loaded already when there are jobs

                context = RunContext(settings, current, report, logger, progress)
                deleted = _execute(context, jobs, discover_first=True, gone=result.gone)
                _record_sources(settings, result, deleted, current)
        if not settings.dry_run:
            _update_cache(settings, result, cache, current, logger)
    report.seconds = time.monotonic() - started
    return report


def _digests_to_record(settings: Settings, result: Plan, log: Snapshot | SentLog) -> dict[str, str]:
    """The parsed pages with Webmentions to update one day whose content is not the one the
    log remembers (every such page of a log written before it remembered any: that build
    records them, and re-sends nothing). A page that never sent a Webmention needs none."""
    if not _sends_updates(settings):
        return {}
    digests = {}
    for url, (mark, _) in result.parsed.items():
        if not any(updatable(entry) for entry in log.links.get(url, {}).values()):
            continue
        state = log.sources.get(url)
        if state is None or state["digest"] != mark or state["deleted"]:
            digests[url] = mark
    return digests


def _record_baseline(pairs: list[tuple[str, str]], log: SentLog, report: Report) -> None:
    """The pairs of pages older than ``since``: settled without a request."""
    for source, key in pairs:
        if is_settled(log.get(source, key)):
            continue
        log.record(source, key, baseline_entry())
        report.count_baseline()


def baseline_entry() -> Entry:
    """A pair recorded as done without a request (``linkback baseline``, ``since``)."""
    return {
        "status": Status.SKIPPED,
        "protocol": None,
        "endpoint": None,
        "attempts": 0,
        "first_attempt": None,
        "last_attempt": None,
        "detail": BASELINE,
        "retry": False,
    }


def _record_sources(settings: Settings, result: Plan, deleted: set[str], log: SentLog) -> None:
    """Remember each page's content, and the pages found deleted, once their Webmentions are
    recorded. A page with an update still to retry keeps its old digest (or stays not
    deleted), so the next build sends its updates again: a removed link is in no later plan."""
    log.set_site_url(settings.site_url)
    retry: set[str] = set()
    for job in result.jobs:
        entry = log.get(job.ping.source, job.key) or {}
        if job.update and entry.get("status") is Status.FAILED and entry.get("retry"):
            retry.add(job.ping.source)
    for jobs in result.gone.values():
        for job in jobs:
            entry = log.get(job.ping.source, job.key) or {}
            if entry.get("status") is Status.FAILED and entry.get("retry"):
                retry.add(job.ping.source)
    for url, mark in _digests_to_record(settings, result, log).items():
        if url not in retry:
            log.set_source(url, mark)
    for url in deleted - retry:
        state = log.sources.get(url)
        log.set_source(url, state["digest"] if state else "", deleted=True)


def _update_cache(
    settings: Settings,
    result: Plan,
    cache: PageCache | None,
    log: Snapshot | SentLog,
    logger: logging.Logger,
) -> None:
    """Remember the pages whose links are all settled in ``log``, the sent-log as it is now
    (the snapshot the plan read, or the log this run wrote), and whose content is the one
    the log remembers: an edited page must be parsed, to send its updates."""
    if cache is not None and not result.parsed and log.digest == cache.log_digest:
        return  # nothing learnt
    updates = _sends_updates(settings)
    pages = dict(result.unchanged)
    for url, (mark, keys) in result.parsed.items():
        done = log.links.get(url, {})
        if not all(is_settled(done.get(key)) for key in keys):
            continue
        state = log.sources.get(url)
        remembered = state is not None and state["digest"] == mark and not state["deleted"]
        if updates and not remembered and any(updatable(e) for e in done.values()):
            continue
        pages[url] = (mark, Counter(settled_kind(done[key]) for key in keys))
    watched = (
        frozenset(
            url
            for url, targets in log.links.items()
            if not is_deleted(log.sources, url)
            and any(updatable(entry) for entry in targets.values())
        )
        if updates
        else frozenset()
    )
    fresh = PageCache(log.digest, pages, watched)
    if fresh != cache:
        pagecache.save(settings, fresh, logger)


def _still_open(result: Plan, log: SentLog, report: Report) -> list[Job]:
    """Under the lock: drop the pairs that another run settled since the plan was made, and
    the updates another run has sent."""
    still_open = []
    for job in result.jobs:
        if job.update:
            mark = result.parsed[job.ping.source][0]
            if log.sources.get(job.ping.source) == {"digest": mark, "deleted": False}:
                report.count_updates(-1)
                continue
            still_open.append(job)
            continue
        entry = log.get(job.ping.source, job.key)
        if is_settled(entry):
            report.count_settled({settled_kind(entry): 1})  # type: ignore[arg-type]
        else:
            job.previous = entry
            still_open.append(job)
    return still_open


def deliver(
    settings: Settings, *, logger: logging.Logger | None = None, progress: ProgressOption = None
) -> Report:
    """Send the pings waiting as ``pending`` for pages that are live now; nothing else.

    The sent-log must exist (a missing one is a wrong folder or a mistyped name, never
    "nothing to do"). Requests name the site the log was written for, as the build did.
    """
    from .jobs import Job, RunContext  # deferred: see _plan_page

    logger = _logger(logger)
    started = time.monotonic()
    require_log(settings.sent_log_path)
    with SentLog.open(settings.sent_log_path, writable=not settings.dry_run, logger=logger) as log:
        if log.site_url and not settings.site_url:
            settings = settings.replace(site_url=log.site_url)
        todo = []
        sources = set()
        for source, key, entry in log.entries():
            if entry.get("status") is not Status.PENDING:
                continue
            sources.add(source)
            job = Job.from_pending(source, key, entry, settings.blog_name)
            todo.append(job)
        report = Report(
            pages=len(sources), links=len(todo), dry_run=settings.dry_run, delivering=True
        )
        delivering = settings.replace(check_live=True)
        context = RunContext(delivering, log, report, logger, progress)
        _execute(context, todo, discover_first=False)
    for source, detail in sorted(report.waiting.items()):
        logger.info("linkback: %s still waits: %s", printable(source), printable(detail))
    report.seconds = time.monotonic() - started
    return report


def _execute(
    context: RunContext,
    jobs: list[Job],
    *,
    discover_first: bool,
    gone: Mapping[str, list[Job]] | None = None,
) -> set[str]:
    """Run the jobs (and the deletion checks of ``gone`` pages); the sources found deleted."""
    if not jobs and not gone:
        return set()  # nothing to send: the network stack is never even imported
    from .dispatch import execute  # deferred on purpose: see the module docstring

    return execute(context, jobs, discover_first=discover_first, gone=gone or {})
