"""The entry points of a run: what a build would send, and sending it (or delivering).

Everything here is cheap: a build with nothing new loads the sent-log, extracts links and
stops. The network stack (requests, urllib3, the scheduler) is imported only when there is
something to send, so that such a build costs no more than one without linkback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import links
from .jobs import Job, Ping, excerpt_of
from .report import Report
from .sentlog import SentLog, SentLogError, is_settled, read_links
from .settings import PROTOCOLS, Settings
from .source import Source

if TYPE_CHECKING:
    from .progress import ProgressOption


def _logger(logger: logging.Logger | None) -> logging.Logger:
    return logger or logging.getLogger("linkback")


def plan(
    sources: Iterable[Source], settings: Settings
) -> tuple[int, list[tuple[Source, str, bool]], dict[str, str]]:
    """Every pair a build considers, before the sent-log: (pages, [(source, key, manual)],
    {source url: trackback excerpt}). Each page's content is parsed once, here."""
    pages = 0
    pairs: list[tuple[Source, str, bool]] = []
    excerpts: dict[str, str] = {}
    for source in sources:
        if not source.enabled:
            continue
        pages += 1
        tree = links.parse_fragment(source.content)
        targets = links.outbound(tree, source.url, settings)
        manual = source.manual_trackbacks
        pairs.extend((source, target, False) for target in targets)
        pairs.extend((source, uri, True) for uri in manual)
        if targets or manual:
            excerpts[source.url] = excerpt_of(source.excerpt, tree)
    return pages, pairs, excerpts


def preflight(settings: Settings, output_dir: str | None = None) -> None:
    """Fail before the generator writes anything: what ``send`` would refuse at the end.

    Raises ConfigError (no absolute site URL, a sent-log in the output folder) or
    SentLogError (a sent-log that does not parse); does nothing when not sending.
    """
    if settings.send:
        settings.check_for_sending(output_dir)
        read_links(settings.sent_log_path)


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
    pages, pairs, excerpts = plan(sources, settings)
    report = Report(pages=pages, links=len(pairs), sending=settings.send, dry_run=settings.dry_run)
    if not settings.send:
        try:
            known = read_links(settings.sent_log_path)
        except SentLogError as error:
            logger.warning("linkback: %s", error)
            known = {}
        report.already = sum(1 for s, key, _ in pairs if is_settled(known.get(s.url, {}).get(key)))
        report.seconds = time.monotonic() - started
        return report
    settings.check_for_sending(output_dir)
    with SentLog.open(settings.sent_log_path, writable=not settings.dry_run, logger=logger) as log:
        todo = []
        for source, key, manual in pairs:
            previous = log.get(source.url, key)
            if is_settled(previous):
                report.already += 1
                continue
            ping = Ping(
                source.url,
                key,
                title=source.title,
                excerpt=excerpts[source.url],
                blog_name=settings.blog_name,
            )
            todo.append(Job(ping, previous, need_link=not manual, key=key))
        _execute(settings, log, report, logger, progress, todo, discover_first=True)
    report.seconds = time.monotonic() - started
    return report


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
            candidates = [tuple(pair) for pair in entry.get("endpoints") or [] if len(pair) == 2]
            if not candidates and entry.get("protocol") and entry.get("endpoint"):
                candidates = [(entry["protocol"], entry["endpoint"])]
            job = Job(ping, entry, need_link=entry.get("need_link", True), key=key)
            job.candidates = [(str(p), str(e)) for p, e in candidates if p in PROTOCOLS]
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
