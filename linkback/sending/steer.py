"""Steering the sent-log by hand: forget pairs so that a later build tries them again, and
record a site's current links as done without a request (``linkback baseline``).

Each command takes the sent-log's lock and writes it atomically, like a build; none makes a
network request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..common.settings import ConfigError, Settings
from . import links, pagecache
from .engine import baseline_entry, updatable
from .report import BASELINE
from .sentlog import STATUSES, Entry, SentLog, Status, require_log
from .source import Source

Removed = list[tuple[str, str, Entry]]  # (source, key, the entry as it was)


@dataclass(frozen=True)
class Selection:
    """Which pairs ``linkback forget`` removes: all of the given conditions hold."""

    source: str | None = None  # the source page's URL, exactly
    target: re.Pattern[str] | None = None  # searched in the target URL (or trackback URI)
    status: str | None = None

    def __post_init__(self) -> None:
        if self.source is None and self.target is None and self.status is None:
            raise ConfigError(
                "forget needs at least one of --source, --target and --status "
                "(to start again from nothing, move the sent-log away)"
            )
        if self.status is not None and self.status not in STATUSES:
            raise ConfigError(f"--status must be one of {', '.join(STATUSES)}")

    def matches(self, source: str, key: str, entry: Entry) -> bool:
        return (
            (self.source is None or source == self.source)
            and (self.target is None or self.target.search(key) is not None)
            and (self.status is None or entry.get("status") == self.status)
        )


def target_pattern(text: str | None) -> re.Pattern[str] | None:
    """``--target``: a regular expression, checked before the log is touched."""
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as error:
        raise ConfigError(f"--target {text!r} is not a regular expression: {error}") from None


def retriable(source: str, key: str, entry: Entry) -> bool:
    """What ``linkback retry`` forgets: failures, and pairs refused by a safety rule (a run
    without ``--allow-private``, say), never a baseline."""
    status = entry.get("status")
    return status is Status.FAILED or (status is Status.SKIPPED and entry.get("detail") != BASELINE)


def forget(
    settings: Settings,
    choose: Callable[[str, str, Entry], bool],
    *,
    logger: logging.Logger | None = None,
) -> Removed:
    """Remove the pairs ``choose`` picks, under the lock; with ``dry_run`` only list them."""
    require_log(settings.sent_log_path)
    with SentLog.open(settings.sent_log_path, writable=not settings.dry_run, logger=logger) as log:
        chosen = [
            (source, key, entry)
            for source, key, entry in log.entries()
            if choose(source, key, entry)
        ]
        for source, key, _ in chosen:
            log.remove(source, key)
    return chosen


@dataclass
class BaselineReport:
    """What ``linkback baseline`` did."""

    pages: int = 0
    links: int = 0
    recorded: int = 0  # pairs new to the log, now skipped (baseline)
    known: int = 0  # pairs the log held already, left as they were

    def summary(self, dry_run: bool = False) -> str:
        verb = "would be recorded" if dry_run else "recorded"
        return (
            f"linkback: {self.links} links in {self.pages} pages: {self.recorded} {verb} as "
            f"baseline (never sent), {self.known} already in the sent-log"
        )


def baseline(
    sources: Iterable[Source], settings: Settings, *, logger: logging.Logger | None = None
) -> BaselineReport:
    """Record every current link of ``sources`` as skipped (baseline), without a request, so
    that only links added afterwards are sent. Pairs already in the log keep their entry.

    The content of each page with Webmentions sent is remembered too, unless the log has it
    already: an edit made after the baseline sends its updates, an edit made before does not.
    """
    settings.check_for_sending()
    report = BaselineReport()
    with SentLog.open(settings.sent_log_path, writable=not settings.dry_run, logger=logger) as log:
        for source in sources:
            if not source.enabled:
                continue
            report.pages += 1
            done = log.links.get(source.url, {})
            tree = links.parse_fragment(source.content)
            keys = links.outbound(tree, source.url, settings, done)
            keys += [uri for uri in source.manual_trackbacks if uri not in keys]
            for key in keys:
                report.links += 1
                if log.get(source.url, key) is not None:
                    report.known += 1
                    continue
                log.record(source.url, key, baseline_entry())
                report.recorded += 1
            sent = any(updatable(entry) for entry in log.links.get(source.url, {}).values())
            if sent and settings.send_updates and source.url not in log.sources:
                log.set_source(source.url, pagecache.fingerprint(source))
        log.set_site_url(settings.site_url)
    return report
