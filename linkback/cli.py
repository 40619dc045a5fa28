"""The ``linkback`` command: the same job for any generator's output folder.

Exit codes: 0 done (pings left pending are not failures), 1 some pings failed,
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections import Counter
from pathlib import Path

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from . import __version__, pages
from .discovery import discover
from .engine import deliver, preflight, send
from .http import Client, FetchError
from .report import Report
from .sentlog import read_links
from .settings import OPTIONS, ConfigError, Settings
from .source import Source
from .terminal import printable

DEFAULT_CONTENT_SELECTORS = ("article", ".h-entry, .e-content", "main", "body")
NETWORK_OPTIONS = (
    "allow_private",
    "timeout",
    "concurrency",
    "per_host",
    "user_agent",
    "max_page_bytes",
    "dry_run",
)
logger = logging.getLogger("linkback")


def _add_options(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """One flag per row of the settings table (booleans get --x / --no-x)."""
    for option in OPTIONS:
        if names is not None and option.name not in names:
            continue
        flag = option.cli_name
        common = {"dest": option.name, "default": argparse.SUPPRESS}
        if option.kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, help=option.help, **common
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
                help=option.help + " (comma-separated)",
                **common,
            )
        else:
            parser.add_argument(
                flag, metavar=option.kind.__name__.upper(), help=option.help, **common
            )


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkback", description="Webmention, Pingback and Trackback for static sites."
    )
    parser.add_argument("--version", action="version", version=f"linkback {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="one line per target")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, parents=[common])

    send_parser = command("send", "send the pings of a generated site")
    send_parser.add_argument("output_dir", type=Path, help="the generator's output folder")
    send_parser.add_argument("--site-url", required=True, help="public URL of the output folder")
    send_parser.add_argument("--site-name", default="", help="blog name sent with trackbacks")
    send_parser.add_argument("--content-selector", help="CSS selector of each page's content")
    _add_options(send_parser)

    deliver_parser = command("deliver", "send the pings waiting until pages are live")
    _add_options(deliver_parser, ("sent_log", *NETWORK_OPTIONS))

    status_parser = command("status", "what the sent-log holds")
    _add_options(status_parser, ("sent_log",))

    discover_parser = command("discover", "the endpoints a URL advertises")
    discover_parser.add_argument("url")
    _add_options(discover_parser, NETWORK_OPTIONS)
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
    values = {
        option.name: getattr(args, option.name) for option in OPTIONS if hasattr(args, option.name)
    }  # the command line's options: they win over the environment and a settings file
    try:
        if args.command == "send":
            return _send(args, values)
        settings = Settings.from_mapping(values, spelling="cli")
        if args.command == "deliver":
            return _finish(deliver(settings, logger=logger))
        if args.command == "status":
            return _status(settings)
        return _discover(settings, args.url)
    except ConfigError as error:
        print(f"linkback: error: {printable(error)}", file=sys.stderr)  # one line, always
        return 2


def _finish(report: Report) -> int:
    print(report.summary("--send"))
    return report.exit_code


def _send(args: argparse.Namespace, values: dict[str, object]) -> int:
    """Everything is checked before the first page is touched: a bad setting found after
    some pages were decorated would leave them decorated wrongly for good ("never twice")."""
    values.setdefault("send", True)
    settings = Settings.from_mapping(
        values, spelling="cli", site_url=args.site_url, blog_name=args.site_name
    )
    if not args.output_dir.is_dir():
        raise ConfigError(f"{args.output_dir} is not a folder")
    # The page URLs (and the RDF block's rdf:about) come from the site URL, sending or not.
    settings.check_for_sending(args.output_dir)
    preflight(settings, str(args.output_dir))
    selectors = _selectors(args.content_selector)
    found = []
    for path in sorted(args.output_dir.rglob("*.html")):
        source = read_page(path, args.output_dir, settings.site_url, selectors)
        if source is not None:
            found.append((path, source))
    if not settings.dry_run:
        unwritable = [path for path, _ in found if not os.access(path, os.W_OK)]
        if unwritable:
            raise ConfigError(f"cannot write the page {unwritable[0]}; no page was changed")
        for path, source in found:
            decorate_file(path, source, settings)
    sources = [source for _, source in found]
    return _finish(send(sources, settings, logger=logger, output_dir=str(args.output_dir)))


def _selectors(chosen: str | None) -> tuple[CSSSelector, ...]:
    """The content selectors, compiled once: a bad one is an error before any page is read."""
    if not chosen:
        return _DEFAULT_SELECTORS
    try:
        return (CSSSelector(chosen),)
    except Exception as error:  # cssselect raises several parse error types
        raise ConfigError(f"--content-selector {chosen!r} is not a CSS selector: {error}") from None


_DEFAULT_SELECTORS = tuple(CSSSelector(selector) for selector in DEFAULT_CONTENT_SELECTORS)
# An XHTML page may start with one; lxml refuses a str that declares its encoding.
_XML_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml\b[^>]*\?>")


def page_url(path: Path, root: Path, site_url: str) -> str:
    """``a/index.html`` is served as ``a/``: the URL readers (and receivers) see."""
    relative = path.relative_to(root).as_posix()
    if relative == "index.html" or relative.endswith("/index.html"):
        relative = relative[: -len("index.html")]
    return site_url.rstrip("/") + "/" + relative


def read_page(
    path: Path, root: Path, site_url: str, selectors: tuple[CSSSelector, ...]
) -> Source | None:
    """A written page as a Source: its content is the first element a selector finds."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        logger.warning("linkback: cannot read %s: %s", path, error)
        return None
    try:
        tree = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text, count=1))
    except (etree.ParserError, ValueError) as error:
        logger.warning("linkback: cannot parse %s (%s); its links are not sent", path, error)
        return None
    content = next((found[0] for found in (select(tree) for select in selectors) if found), None)
    if content is None:
        logger.debug("linkback: %s has no content to send links from", path)
        return None
    title = (tree.findtext(".//title") or "").strip()
    description = tree.xpath("string(//meta[@name='description']/@content)")
    return Source(
        url=page_url(path, root, site_url),
        title=title,
        # The XML serialiser keeps attribute values as written: the HTML one percent-encodes
        # non-ASCII hrefs, and receivers match the target literally (SPEC "What is sent").
        content=etree.tostring(content, method="xml", encoding="unicode", with_tail=False),
        excerpt=str(description) or content.text_content()[:600],
    )


def decorate_file(path: Path, source: Source, settings: Settings) -> None:
    """Add the discovery tags and trackback block to a page that does not have them yet."""
    try:
        html = path.read_text(encoding="utf-8", errors="surrogateescape")
        updated = pages.decorate(
            html, settings, block=pages.trackback_block(source.url, source.title, settings)
        )
        if updated != html:
            path.write_text(updated, encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        raise ConfigError(f"cannot write the page {path}: {error.strerror or error}") from None


def _status(settings: Settings) -> int:
    entries = [
        (source, target, entry)
        for source, targets in read_links(settings.sent_log_path).items()
        for target, entry in targets.items()
    ]
    print(f"{settings.sent_log_path}: {len(entries)} links")
    by_status = Counter(entry.get("status") for _, _, entry in entries)
    for status, count in sorted(by_status.items(), key=lambda item: str(item[0])):
        protocols = Counter(
            e.get("protocol") or "no protocol" for _, _, e in entries if e.get("status") == status
        )
        detail = ", ".join(f"{n} {p}" for p, n in sorted(protocols.items()))
        print(f"  {status}: {count} ({detail})")
    for source, target, entry in entries:
        if entry.get("status") in ("failed", "pending"):
            retry = (
                " (retry next build)"
                if entry.get("status") == "failed" and entry.get("retry")
                else ""
            )
            line = f"{entry['status']}: {source} -> {target}: {entry.get('detail') or ''}"
            print(printable(line) + retry)
    return 0


def _discover(settings: Settings, url: str) -> int:
    client = Client(settings)
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
