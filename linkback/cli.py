"""The ``linkback`` command: the same job for any generator's output folder.

Exit codes: 0 done (pings left pending are not failures), 1 some pings failed,
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import folder, steer_commands
from .argparser import EXIT_CODES, Formatter, Parser, default_text
from .common.http import Client, FetchError
from .common.settings import OPTIONS, ConfigError, Settings, is_http_url
from .common.terminal import printable
from .config_file import SiteConfig, command_settings
from .config_file import load as load_config
from .receive import commands as receive_commands
from .sending.discovery import discover
from .sending.engine import deliver, preflight, send
from .sending.report import Report
from .sending.sentlog import Status, read_links, require_log
from .version import __version__

NETWORK_OPTIONS = (
    "allow_private",
    "timeout",
    "concurrency",
    "per_host",
    "user_agent",
    "max_page_bytes",
    "dry_run",
)
# What one GET needs: discover sends nothing and runs one request.
DISCOVER_OPTIONS = ("allow_private", "timeout", "user_agent", "max_page_bytes")
SEND_HELP = (
    "send the pings (default: on for this command, unlike a build, whose send setting is "
    "off unless publishconf.py or mkdocs.yml turns it on; --no-send or LINKBACK_SEND=0 only "
    "counts the links)"
)
EXAMPLES = {
    "send": """examples:
  linkback send public --site-url https://my.blog/
  linkback send _site --site-url https://my.blog/ --content-selector 'main .post-content'
  linkback send --config publishconf.py --dry-run""",
    "deliver": """examples:
  linkback deliver --config publishconf.py     (after the upload, with the site's settings)
  linkback deliver --sent-log linkback-sent.json --allow-private""",
    "status": """examples:
  linkback status
  linkback status --config mkdocs.yml""",
    "forget": """examples:
  linkback forget --status skipped
  linkback forget --source https://my.blog/2026/11/a-post/ --target 'other\\.blog'""",
    "retry": """examples:
  linkback retry --config publishconf.py --dry-run""",
    "baseline": """examples:
  linkback baseline --config publishconf.py     (a Pelican site: every article as built)
  linkback baseline --config mkdocs.yml
  linkback baseline public --site-url https://my.blog/""",
    "discover": """examples:
  linkback discover https://other.blog/their-post/""",
}
logger = logging.getLogger("linkback")


def _add_options(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """One flag per row of the settings table (booleans get --x / --no-x), default shown."""
    for option in OPTIONS:
        if names is not None and option.name not in names:
            continue
        flag = option.cli_name
        common: dict[str, Any] = {"dest": option.name, "default": argparse.SUPPRESS}
        shown = f" (default: {default_text(option)})"
        if option.kind is bool:
            help_text = SEND_HELP if flag == "--send" else option.help + shown
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, help=help_text, **common
            )
        elif option.name == "exclude":
            parser.add_argument(
                flag, action="append", metavar="REGEX", help=option.help + " (repeatable)", **common
            )
        elif option.kind is list:
            parser.add_argument(
                flag,
                type=_comma_list,
                metavar="A,B",
                help=option.help + " (comma-separated)" + shown,
                **common,
            )
        else:
            parser.add_argument(
                flag, metavar=option.kind.__name__.upper(), help=option.help + shown, **common
            )


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def build_parser() -> Parser:
    parser = Parser(
        prog="linkback",
        description=(
            "Webmention, Pingback and Trackback for static sites. Every setting can also be "
            "given as LINKBACK_<NAME> in the environment, or read from a site's settings "
            "file with --config; the command line wins over both."
        ),
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"linkback {__version__}")
    common = Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="one line per target")
    config = Parser(add_help=False)
    config.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read the linkback settings, the site URL and the sent-log's place from a Pelican "
        "settings file (pelicanconf.py, publishconf.py) or an mkdocs.yml",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, *, configurable: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            parents=[common, config] if configurable else [common],
            formatter_class=Formatter,
            epilog=f"{EXAMPLES[name]}\n\n{EXIT_CODES}",
        )
        parser.commands[name] = sub
        return sub

    send_parser = command("send", "send the pings of a generated site")
    send_parser.add_argument(
        "output_dir",
        type=Path,
        nargs="?",
        help="the generator's output folder (default: the one --config names)",
    )
    send_parser.add_argument(
        "--site-url", help="public URL of the output folder (required without --config)"
    )
    send_parser.add_argument("--site-name", default="", help="blog name sent with trackbacks")
    send_parser.add_argument(
        "--content-selector",
        help="CSS selector of each page's content (default: the first <article>, else "
        ".h-entry/.e-content, else <main>, else <body>)",
    )
    _add_options(send_parser)

    deliver_parser = command("deliver", "send the pings waiting until pages are live")
    _add_options(deliver_parser, ("sent_log", *NETWORK_OPTIONS))

    status_parser = command("status", "what the sent-log holds")
    _add_options(status_parser, ("sent_log",))

    steer_commands.register(command, _add_options)
    receive_commands.add_parsers(commands, common)
    parser.commands.update({name: commands.choices[name] for name in receive_commands.COMMANDS})

    discover_parser = command("discover", "the endpoints a URL advertises", configurable=False)
    discover_parser.add_argument("url", help="an absolute http(s) URL")
    _add_options(discover_parser, DISCOVER_OPTIONS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    for noisy in ("urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command in receive_commands.COMMANDS:
        return receive_commands.run(args)
    # The command line's options: they win over the environment and a settings file.
    overrides = {
        option.name: getattr(args, option.name) for option in OPTIONS if hasattr(args, option.name)
    }
    try:
        if args.command == "discover":
            return _discover(args.url, overrides)
        site = load_config(args.config) if args.config is not None else None
        if args.command == "send":
            return _send(args, site, overrides)
        if args.command in steer_commands.COMMANDS:
            return steer_commands.run(args, site, overrides, logger)
        settings = command_settings(site, overrides)
        if args.command == "deliver":
            return _finish(deliver(settings, logger=logger))
        return _status(settings)
    except ConfigError as error:
        print(f"linkback: error: {printable(error)}", file=sys.stderr)  # one line, always
        return 2


def _finish(report: Report, reason: str | None = None) -> int:
    print(report.summary("--send", reason=reason))
    return report.exit_code


def _why_not_sending(overrides: Mapping[str, object]) -> str:
    """Who turned sending off: the user must be able to tell the option from the variable."""
    if "send" in overrides:
        return "--no-send"
    if "LINKBACK_SEND" in os.environ:
        return f"LINKBACK_SEND={os.environ['LINKBACK_SEND']} in the environment"
    return "the send setting is off"


def _send(args: argparse.Namespace, site: SiteConfig | None, overrides: dict[str, object]) -> int:
    """Everything is checked before the first page is touched: a bad setting found after
    some pages were decorated would leave them decorated wrongly for good ("never twice")."""
    output_dir = args.output_dir or (site.output_dir if site is not None else None)
    if output_dir is None:
        raise ConfigError("send needs the output folder (OUTPUT_DIR), or --config FILE")
    if site is None and not args.site_url:
        raise ConfigError("send needs --site-url URL (the public URL of OUTPUT_DIR), or --config")
    settings = command_settings(
        site,
        overrides,
        site_url=args.site_url,
        blog_name=args.site_name,
        defaults={"send": True},  # on the command line, sending is what "send" means
    )
    if not output_dir.is_dir():
        raise ConfigError(f"{output_dir} is not a folder")
    # The page URLs (and the RDF block's rdf:about) come from the site URL, sending or not.
    settings.check_for_sending(output_dir)
    preflight(settings, str(output_dir))
    found = folder.read_pages(output_dir, settings.site_url, args.content_selector)
    if not settings.dry_run:
        folder.decorate_pages(found, settings)
    sources = [source for _, source in found]
    report = send(sources, settings, logger=logger, output_dir=str(output_dir))
    return _finish(report, None if settings.send else _why_not_sending(overrides))


def _status(settings: Settings) -> int:
    require_log(settings.sent_log_path)
    entries = [
        (source, target, entry)
        for source, targets in read_links(settings.sent_log_path).items()
        for target, entry in targets.items()
    ]
    print(f"{settings.sent_log_path}: {len(entries)} links")
    by_status = Counter(entry["status"] for _, _, entry in entries)
    for status, count in sorted(by_status.items(), key=lambda item: item[0].value):
        protocols = Counter(
            e.get("protocol") or "no protocol" for _, _, e in entries if e["status"] is status
        )
        detail = ", ".join(f"{n} {p}" for p, n in sorted(protocols.items()))
        print(f"  {status}: {count} ({detail})")
    for source, target, entry in entries:
        status = entry["status"]
        if status in (Status.FAILED, Status.PENDING):
            retry = " (retry next build)" if status is Status.FAILED and entry.get("retry") else ""
            line = f"{status}: {source} -> {target}: {entry.get('detail') or ''}"
            print(printable(line) + retry)
    return 0


def _discover(url: str, overrides: Mapping[str, object]) -> int:
    if not is_http_url(url):
        raise ConfigError(f"discover needs an absolute http(s) URL, got {url!r}")
    client = Client(command_settings(None, overrides))
    try:
        response = client.get(url)
    except FetchError as error:
        print(printable(f"{url}: {error}"), file=sys.stderr)
        return 1
    finally:
        client.close()
    if not 200 <= response.status < 300:
        print(printable(f"{url}: HTTP {response.status}"), file=sys.stderr)
        return 1
    endpoints = discover(
        response.url, response.headers, response.body, url, charset=response.charset
    )
    where = dict(endpoints.found)
    for protocol in ("webmention", "pingback", "trackback"):
        endpoint = endpoints.get(protocol)
        # The endpoints are the server's words: a header may carry terminal escapes.
        print(
            printable(
                f"{protocol}: {endpoint} ({where[protocol]})" if endpoint else f"{protocol}: none"
            )
        )
    return 0
