"""The ``serve`` and ``mentions`` subcommands of ``linkback``: their parsers need nothing
beyond argparse, so ``linkback --help`` works without the ``serve`` extra installed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..argparser import Formatter, default_text
from ..common.settings import ConfigError
from .config import SERVE_OPTIONS

COMMANDS = ("serve", "mentions")
SERVE_EPILOG = """examples:
  linkback serve --site-url https://my.blog/      (on 127.0.0.1:8411, in ./linkback.sqlite)
  linkback serve --site-url https://my.blog/ --public-url https://mentions.my.blog \\
      --host 0.0.0.0 --db postgresql://linkback@localhost/linkback
  linkback serve --config /etc/linkback/serve.toml
  The admin page needs --admin-token TOKEN; LINKBACK_ADMIN_TOKEN keeps it out of `ps`.

exit codes:
  0  stopped by SIGTERM or Ctrl-C, what was being verified finished or queued again
  2  usage or configuration error (a bad option, an unusable --db)"""
STATUSES = ("queued", "invalid", "pending", "approved", "rejected", "spam", "deleted")


def add_parsers(commands: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        help="receive linkbacks for a site",
        description="Receive Webmentions, Pingbacks and Trackbacks for a site, verify them\n"
        "and keep them for moderation.",
        parents=[common],
        formatter_class=Formatter,
        epilog=SERVE_EPILOG,
    )
    serve.add_argument(
        "--config", type=Path, metavar="FILE", help="a TOML file with the same options"
    )
    for option in SERVE_OPTIONS:
        shown = " (required)" if option.required else f" (default: {default_text(option)})"
        if option.kind is bool:
            serve.add_argument(
                option.cli_name,
                action=argparse.BooleanOptionalAction,
                dest=option.name,
                default=argparse.SUPPRESS,
                help=option.help + shown,
            )
        else:
            serve.add_argument(
                option.cli_name,
                metavar=option.kind.__name__.upper(),
                dest=option.name,
                default=argparse.SUPPRESS,
                help=option.help + shown,
            )
    mentions = commands.add_parser("mentions", help="moderate received linkbacks", parents=[common])
    actions = mentions.add_subparsers(dest="action", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=help)
        parser.add_argument("--db", default=argparse.SUPPRESS, help="SQLite path or postgresql://")
        parser.add_argument("--config", type=Path, help="the service's TOML file")
        return parser

    listing = action("list", "list linkbacks (pending ones unless --status says otherwise)")
    listing.add_argument("--status", choices=(*STATUSES, "all"), default="pending")
    listing.add_argument("--target", help="only those of this page")
    listing.add_argument("--json", action="store_true", help="a JSON array")
    show = action("show", "one linkback")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", help="a JSON object")
    for name in ("approve", "reject", "spam", "delete"):
        moderate = action(name, f"{name} linkbacks")
        moderate.add_argument("ids", type=int, nargs="+", metavar="ID")
    allow = action("allow", "auto-approve an author URL or a domain (*.example.org)")
    allow.add_argument("pattern")
    block = action("block", "refuse a domain or URL prefix; past ones become spam")
    block.add_argument("pattern")
    importing = action("import", "a webmention.io JSON export or a jf2 feed (idempotent)")
    importing.add_argument("file", type=Path)
    importing.add_argument("--status", choices=("approved", "pending"), default="approved")
    export = action("export", "every linkback, to standard output")
    export.add_argument("--format", choices=("jf2", "json"), default="jf2")


def run(args: argparse.Namespace) -> int:
    """Run ``serve`` or ``mentions``; configuration errors are one line and exit 2."""
    try:
        from . import mentions, server
        from .config import load
        from .store import StoreError
    except ModuleNotFoundError as error:
        print(
            f"linkback: error: {error.name} is missing: pip install 'linkback[serve]'",
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "serve":
            values = {o.name: getattr(args, o.name) for o in SERVE_OPTIONS if hasattr(args, o.name)}
            return server.serve(load(values, config_file=args.config))
        values = {"db": args.db} if hasattr(args, "db") else {}
        return mentions.run(args, load(values, config_file=args.config, require_site=False))
    except (ConfigError, StoreError) as error:
        print(f"linkback: error: {error}", file=sys.stderr)
        return 2
