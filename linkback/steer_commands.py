"""The commands that steer the sent-log: ``forget``, ``retry`` and ``baseline``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import folder
from .common.settings import ConfigError
from .common.terminal import printable
from .config_file import SiteConfig, adapter, command_settings
from .sending import steer
from .sending.sentlog import STATUSES
from .sending.source import Source

COMMANDS = ("forget", "retry", "baseline")
Command = Callable[..., argparse.ArgumentParser]
AddOptions = Callable[[argparse.ArgumentParser, tuple[str, ...]], None]


def register(command: Command, add_options: AddOptions) -> None:
    """Add the three commands to the ``linkback`` parser."""
    forget = command("forget", "remove entries from the sent-log, so they are tried again")
    forget.add_argument("--source", metavar="URL", help="the source page's URL, exactly")
    forget.add_argument(
        "--target", metavar="REGEX", help="a regular expression searched in the target URL"
    )
    forget.add_argument("--status", choices=STATUSES, help="entries with this status only")
    add_options(forget, ("sent_log", "dry_run"))

    retry = command(
        "retry", "forget the failed entries and the skipped ones that are not a baseline"
    )
    add_options(retry, ("sent_log", "dry_run"))

    baseline = command(
        "baseline",
        "record every current link as skipped (baseline), without a request, so that only "
        "links added afterwards are sent",
    )
    baseline.add_argument(
        "output_dir",
        type=Path,
        nargs="?",
        help="a generated site's output folder (with --site-url; else --config)",
    )
    baseline.add_argument("--site-url", help="public URL of the output folder")
    baseline.add_argument(
        "--content-selector", help="CSS selector of each page's content (as for send)"
    )
    add_options(baseline, ("sent_log", "exclude", "dry_run", "send_updates"))


def run(
    args: argparse.Namespace,
    site: SiteConfig | None,
    overrides: Mapping[str, Any],
    logger: logging.Logger,
) -> int:
    if args.command == "baseline":
        return _baseline(args, site, overrides, logger)
    settings = command_settings(site, overrides)
    if args.command == "forget":
        selection = steer.Selection(
            source=args.source, target=steer.target_pattern(args.target), status=args.status
        )
        removed = steer.forget(settings, selection.matches, logger=logger)
    else:
        removed = steer.forget(settings, steer.retriable, logger=logger)
    verb = "would forget" if settings.dry_run else "forgot"
    for source, key, entry in removed:
        detail = f" ({entry['detail']})" if entry.get("detail") else ""
        print(printable(f"{verb} {entry.get('status')}: {source} -> {key}{detail}"))
    print(
        f"linkback: {verb} {len(removed)} entries of {settings.sent_log_path}"
        + ("; the next build tries them again" if removed and not settings.dry_run else "")
    )
    return 0


def _baseline(
    args: argparse.Namespace,
    site: SiteConfig | None,
    overrides: Mapping[str, Any],
    logger: logging.Logger,
) -> int:
    if site is None and (args.output_dir is None or not args.site_url):
        raise ConfigError("baseline needs OUTPUT_DIR and --site-url URL, or --config FILE")
    settings = command_settings(site, overrides, site_url=args.site_url)
    settings.check_for_sending()  # the pages' URLs are made from it: refuse before building
    sources: list[Source]
    if args.output_dir is not None:
        if not args.output_dir.is_dir():
            raise ConfigError(f"{args.output_dir} is not a folder")
        found = folder.read_pages(args.output_dir, settings.site_url, args.content_selector)
        sources = [source for _, source in found]
    else:
        assert site is not None
        logger.info("linkback: building %s to read its pages (nothing is written)", site.path)
        sources = adapter(site.generator, "baseline").sources(site.path)
    report = steer.baseline(sources, settings, logger=logger)
    print(report.summary(settings.dry_run))
    return 0
