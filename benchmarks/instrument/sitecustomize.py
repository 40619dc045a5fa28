"""Counts, inside one build, the HTML parses by calling module and each output HTML file's I/O.

The runner puts this folder on PYTHONPATH for one extra, untimed build per configuration
(BENCH_COUNTS names the JSON written at exit, BENCH_OUTPUT the output folder), and for the
builds that time linkback's hooks (BENCH_TIMES: see ``own_time``). For counting, it wraps the
parser entry points (lxml.html, lxml.etree.HTML, html.parser.HTMLParser.feed, and the live
check's parse through a parser target) and ``open`` / ``os.replace``; only the outermost parse
of a nested call is counted.
"""

from __future__ import annotations

import atexit
import builtins
import io
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any

import own_time  # always, so that builds timed from inside, plain or not, import the same

COUNTS = os.environ.get("BENCH_COUNTS")
OUTPUT = os.path.abspath(os.environ.get("BENCH_OUTPUT", "/nonexistent")) + os.sep
PARSER_FILES = (os.sep + "lxml" + os.sep, os.sep + "bs4" + os.sep, "html/parser.py", __file__)

parses: Counter[str] = Counter()
reads: Counter[str] = Counter()
writes: Counter[str] = Counter()
_state = threading.local()


def _asker() -> tuple[str, str]:
    """``module.function`` of the code that asked for the parse, and of its caller."""
    frame = sys._getframe(2)
    while frame is not None and any(part in frame.f_code.co_filename for part in PARSER_FILES):
        frame = frame.f_back
    if frame is None:
        return "?", "?"
    caller = frame.f_back
    return _name(frame), _name(caller) if caller is not None else "?"


def _name(frame: FrameType) -> str:
    return f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_name}"


def _counted(parse: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
    """``parse``, counted as ``asker ← its caller``; or, when it has a ``name`` of its own
    (a parse none of the wrapped entry points sees), as ``name ← asker``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "inside", False):
            return parse(*args, **kwargs)
        _state.inside = True
        try:
            asker, caller = _asker()
            parses[f"{name} ← {asker}" if name else f"{asker} ← {caller}"] += 1
            return parse(*args, **kwargs)
        finally:
            _state.inside = False

    return wrapper


def _output_html(file: Any) -> str | None:
    if not isinstance(file, (str, os.PathLike)):
        return None
    path = os.path.abspath(os.fspath(file))
    return path if path.startswith(OUTPUT) and path.endswith(".html") else None


_open = io.open
_replace = os.replace


def _counting_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    path = _output_html(file)
    if path:
        (writes if any(flag in mode for flag in "wax+") else reads)[path] += 1
    return _open(file, mode, *args, **kwargs)


def _counting_replace(source: Any, destination: Any, **kwargs: Any) -> None:
    path = _output_html(destination)
    if path:
        writes[path] += 1
    _replace(source, destination, **kwargs)


def _histogram(counter: Counter[str]) -> dict[str, int]:
    return {str(times): files for times, files in sorted(Counter(counter.values()).items())}


def _dump() -> None:
    result = {"parses": dict(parses), "reads": _histogram(reads), "writes": _histogram(writes)}
    with _open(COUNTS, "w", encoding="utf-8") as out:
        json.dump(result, out, indent=1)


def _count_live_check() -> None:
    """The live check parses the served page through a parser target (no tree), which none
    of the wrapped entry points sees: it is counted by its own name (if linkback is here: the
    reference plugin's environment has none)."""
    try:
        import linkback.sending.links
    except ImportError:
        return
    links = linkback.sending.links
    links.served_hrefs = _counted(links.served_hrefs, "linkback.sending.links.served_hrefs")


def _install() -> None:
    import html.parser

    html.parser.HTMLParser.feed = _counted(html.parser.HTMLParser.feed)  # type: ignore[method-assign]
    try:
        import lxml.etree
        import lxml.html
    except ImportError:
        pass
    else:
        for name in ("document_fromstring", "fragment_fromstring", "fragments_fromstring",
                     "fromstring", "parse"):  # fmt: skip
            setattr(lxml.html, name, _counted(getattr(lxml.html, name)))
        lxml.etree.HTML = _counted(lxml.etree.HTML)
        _count_live_check()
    builtins.open = io.open = _counting_open  # type: ignore[assignment]
    os.replace = _counting_replace  # type: ignore[assignment]
    atexit.register(_dump)


if COUNTS:
    _install()
if os.environ.get("BENCH_TIMES"):
    own_time.install(os.environ["BENCH_ADAPTER"], os.environ["BENCH_TIMES"])
