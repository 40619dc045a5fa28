"""The command line's parser: help that shows defaults, examples and exit codes, and the
closest option suggested for a mistyped one (argparse does that only from Python 3.14)."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from typing import Any, NoReturn

from .common.settings import Option

EXIT_CODES = """exit codes:
  0  done (pings left pending until the pages are live are not failures)
  1  some pings failed
  2  usage or configuration error (a bad option or setting, a missing or unreadable sent-log)"""


def default_text(option: Option) -> str:
    """A settings row's default as a user writes it, for its option's help."""
    if option.shown_default is not None:
        return option.shown_default
    value = option.default
    if option.kind is bool:
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs keep their lines (the examples); option help is wrapped as usual."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose unknown options get a "did you mean" from the options of the
    command they were given to."""

    commands: dict[str, argparse.ArgumentParser]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)
        self.commands = {}

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self.commands.get(getattr(parsed, "command", None) or "", self)
            parser.error(unrecognized(extras, parser))
        return parsed

    def error(self, message: str) -> NoReturn:
        """argparse's error, with the closest command for a mistyped one."""
        if "invalid choice:" in message and self.commands:
            wrong = message.split("invalid choice:", 1)[1].split("'")[1:2]
            close = difflib.get_close_matches(wrong[0], list(self.commands), n=1) if wrong else []
            if close:
                message += f"; did you mean {close[0]}?"
        super().error(message)


def unrecognized(extras: list[str], parser: argparse.ArgumentParser) -> str:
    """argparse's message, and the closest option of ``parser`` to the first unknown one."""
    message = "unrecognized arguments: " + " ".join(extras)
    known = [name for action in parser._actions for name in action.option_strings]
    for extra in extras:
        if extra.startswith("-"):
            close = difflib.get_close_matches(extra.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                return f"{message}; did you mean {close[0]}?"
            break
    return message
