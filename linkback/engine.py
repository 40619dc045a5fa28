"""The entry points of a run: what a build would send, and sending it (or delivering).

Everything here is cheap: a build with nothing new loads the sent-log, extracts links and
stops. The network stack (requests, urllib3, the scheduler) is imported only when there is
something to send, so that such a build costs no more than one without linkback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from . import links
from .jobs import Job, Ping, excerpt_of
from .report import Report
from .sentlog import Entry, SentLog, SentLogError, is_settled, snapshot
from .settings import PROTOCOLS, Settings
from .source import Source

if TYPE_CHECKING:
    from .progress import ProgressOption


def _logger(logger: logging.Logger | None) -> logging.Logger:
    return logger or logging.getLogger("linkback")


def plan(
    sources: Iterable[Source], settings: Settings, known: Mapping[str, Mapping[str, Entry]]
) -> tuple[Report, list[Job]]:
    """What a build has to do, given the sent-log's ``known`` links: its counts, and the jobs.

    Each page's content is parsed once, here; the trackback excerpt is taken from that same
    tree, and only for pages with something left to send.
    """
    report = Report(sending=settings.send, dry_run=settings.dry_run)
    jobs: list[Job] = []
    for source in sources:
        if not source.enabled:
            continue
        report.pages += 1
        tree = links.parse_fragment(source.content)
        done = known.get(source.url, {})
        pairs = [(target, False) for target in links.outbound(tree, source.url, settings, done)]
        pairs += [(uri, True) for uri in source.manual_trackbacks]
        report.links += len(pairs)
        open_pairs = [(key, manual) for key, manual in pairs if not is_settled(done.get(key))]
        report.already += len(pairs) - len(open_pairs)
        if not open_pairs:
            continue
        excerpt = excerpt_of(source.excerpt, tree)
        for key, manual in open_pairs:
            ping = Ping(source.url, key, source.title, excerpt, settings.blog_name)
            job = Job(ping, done.get(key), need_link=not manual, key=key)
            if manual:  # a trackback URI given by hand needs no discovery
                job.candidates = [("trackback", key)]
            jobs.append(job)
    return report, jobs


def preflight(settings: Settings, output_dir: str | None = None) -> None:
    """Fail before the generator writes anything: what ``send`` would refuse at the end.

    Raises ConfigError (no absolute site URL, a sent-log in the output folder) or
    SentLogError (a sent-log that does not parse); does nothing when not sending.
    """
    if settings.send:
        settings.check_for_sending(output_dir)
        snapshot(settings.sent_log_path)


def send(
    sources: Iterable[Source],
    settings: Settings,
    *,
    logger: logging.Logger | None = None,
    progress: ProgressOption = None,
    output_dir: str | None = None,
) -> Report:
    """Notify every new target of ``sources`` once; see SPEC "What is sent".

    Without ``settings.send`` nothing touches the network or the sent-log; the report then
    only counts the links that a sending build would consider.
    """
    logger = _logger(logger)
    started = time.monotonic()
    if not settings.send:
        try:
            known = snapshot(settings.sent_log_path)
        except SentLogError as error:
            logger.warning("linkback: %s", error)
            known = {}
        report, _ = plan(sources, settings, known)
    else:
        settings.check_for_sending(output_dir)
        path = settings.sent_log_path
        report, jobs = plan(sources, settings, snapshot(path))
        if jobs:  # nothing to send: no lock taken, no request made
            with SentLog.open(path, writable=not settings.dry_run, logger=logger) as log:
                jobs = _still_open(jobs, log, report)
                _execute(settings, log, report, logger, progress, jobs, discover_first=True)
    report.seconds = time.monotonic() - started
    return report


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
