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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import pagecache
from .pagecache import PageCache
from .report import Report
from .sentlog import (
    Entry,
    SentLog,
    SentLogError,
    Snapshot,
    check_writable,
    is_settled,
    snapshot,
)
from .settings import PROTOCOLS, Settings
from .source import Source

if TYPE_CHECKING:
    from .jobs import Job
    from .progress import ProgressOption


def _logger(logger: logging.Logger | None) -> logging.Logger:
    return logger or logging.getLogger("linkback")


@dataclass
class Plan:
    """What a build has to do: its counts so far, its jobs, and what it learnt of each page
    for the page cache."""

    report: Report
    jobs: list[Job] = field(default_factory=list)
    unchanged: dict[str, tuple[str, int]] = field(default_factory=dict)  # from the cache
    parsed: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # url: mark, keys


def plan(
    sources: Iterable[Source], settings: Settings, log: Snapshot, cache: PageCache | None = None
) -> Plan:
    """What a build has to do, given the sent-log and the page cache written for it.

    A page the cache vouches for counts as already sent without being parsed. Any other page
    is parsed once, here; its trackback excerpt is taken from that same tree, and only when
    it has something left to send.
    """
    result = Plan(Report(sending=settings.send, dry_run=settings.dry_run))
    report = result.report
    for source in sources:
        if not source.enabled:
            continue
        report.pages += 1
        mark = pagecache.fingerprint(source)
        count = cache.links_of(source, mark) if cache is not None else None
        if count is not None:
            report.links += count
            report.already += count
            result.unchanged[source.url] = (mark, count)
            continue
        keys = _plan_page(source, settings, log.links.get(source.url, {}), result)
        result.parsed[source.url] = (mark, keys)
    return result


def _plan_page(
    source: Source, settings: Settings, done: Mapping[str, Entry], result: Plan
) -> list[str]:
    """Count one parsed page's links and queue the open ones; return all its sent-log keys."""
    # Deferred on purpose: a build whose pages are all cached parses nothing and queues nothing.
    from . import links
    from .jobs import Job, Ping

    report = result.report
    tree = links.parse_fragment(source.content)
    pairs = [(target, False) for target in links.outbound(tree, source.url, settings, done)]
    pairs += [(uri, True) for uri in source.manual_trackbacks]
    report.links += len(pairs)
    open_pairs = [(key, manual) for key, manual in pairs if not is_settled(done.get(key))]
    report.already += len(pairs) - len(open_pairs)
    if open_pairs:
        excerpt = links.excerpt_of(source.excerpt, tree)
        for key, manual in open_pairs:
            ping = Ping(source.url, key, source.title, excerpt, settings.blog_name)
            job = Job(ping, done.get(key), need_link=not manual, key=key, content=source.content)
            if manual:  # a trackback URI given by hand needs no discovery
                job.candidates = [("trackback", key)]
            result.jobs.append(job)
    return [key for key, _ in pairs]


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
        current: Snapshot | SentLog = log  # the sent-log as it stands after this run
        if result.jobs:  # nothing to send: no lock taken, no request made
            path = settings.sent_log_path
            with SentLog.open(path, writable=not settings.dry_run, logger=logger) as current:
                jobs = _still_open(result.jobs, current, report)
                _execute(settings, current, report, logger, progress, jobs, discover_first=True)
        if not settings.dry_run:
            _update_cache(settings, result, cache, current)
    report.seconds = time.monotonic() - started
    return report


def _update_cache(
    settings: Settings, result: Plan, cache: PageCache | None, log: Snapshot | SentLog
) -> None:
    """Remember the pages whose links are all settled in ``log``, the sent-log as it is now
    (the snapshot the plan read, or the log this run wrote)."""
    if cache is not None and not result.parsed and log.digest == cache.log_digest:
        return  # nothing learnt
    pages = dict(result.unchanged)
    for url, (mark, keys) in result.parsed.items():
        done = log.links.get(url, {})
        if all(is_settled(done.get(key)) for key in keys):
            pages[url] = (mark, len(keys))
    fresh = PageCache(log.digest, pages)
    if fresh != cache:
        pagecache.save(settings, fresh)


def _still_open(jobs: list[Job], log: SentLog, report: Report) -> list[Job]:
    """Under the lock: drop the pairs that another run settled since the plan was made."""
    still_open = []
    for job in jobs:
        entry = log.get(job.ping.source, job.key)
        if is_settled(entry):
            report.already += 1
        else:
            job.previous = entry
            still_open.append(job)
    return still_open


def deliver(
    settings: Settings, *, logger: logging.Logger | None = None, progress: ProgressOption = None
) -> Report:
    """Send the pings waiting as ``pending`` for pages that are live now; nothing else."""
    from .jobs import Job, Ping  # deferred: see _plan_page

    logger = _logger(logger)
    started = time.monotonic()
    with SentLog.open(settings.sent_log_path, writable=not settings.dry_run, logger=logger) as log:
        todo = []
        sources = set()
        for source, key, entry in log.entries():
            if entry.get("status") != "pending":
                continue
            sources.add(source)
            ping = Ping(
                source,
                key,
                title=entry.get("title", ""),
                excerpt=entry.get("excerpt", ""),
                blog_name=entry.get("blog_name", settings.blog_name),
            )
            job = Job(ping, entry, need_link=entry.get("need_link", True), key=key)
            saved = entry.get("endpoints") or [(entry.get("protocol"), entry.get("endpoint"))]
            job.candidates = [
                (str(pair[0]), str(pair[1]))
                for pair in saved
                if len(pair) == 2 and pair[0] in PROTOCOLS and pair[1]
            ]
            todo.append(job)
        report = Report(pages=len(sources), links=len(todo), dry_run=settings.dry_run)
        _execute(
            settings.replace(check_live=True),
            log,
            report,
            logger,
            progress,
            todo,
            discover_first=False,
        )
    report.seconds = time.monotonic() - started
    return report


def _execute(
    settings: Settings,
    log: SentLog,
    report: Report,
    logger: logging.Logger,
    progress: ProgressOption,
    jobs: list[Job],
    *,
    discover_first: bool,
) -> None:
    if not jobs:
        return  # nothing to send: the network stack is never even imported
    from .dispatch import execute  # deferred on purpose: see the module docstring

    execute(settings, log, report, logger, progress, jobs, discover_first=discover_first)
