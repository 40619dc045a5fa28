"""The local copy of the approved linkbacks (``mentions_cache``), beside the sent-log.

It keeps what the last build received, where to resume (the service's ``linkback-seq`` or
webmention.io's last ``wm-id``) and which avatar file each photo URL became, so that a
build with nothing new asks one small question and downloads nothing. Every write replaces
the file atomically; a file that does not parse stops the build and is left as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..common.files import replace_file
from ..common.settings import ConfigError
from .model import Mention

VERSION = 1
SECRET_PARAMETERS = ("token",)


@dataclass
class Cache:
    """What a build starts from; ``source`` is the mentions_url it came from, token removed."""

    source: str = ""
    cursor: int | None = None  # changed_since S, or since_id N
    mentions: dict[str, Mention] = field(default_factory=dict)
    avatars: dict[str, str] = field(default_factory=dict)  # photo URL: file name, "" failed

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "source": self.source,
            "cursor": self.cursor,
            "mentions": {key: self.mentions[key].to_json() for key in sorted(self.mentions)},
            "avatars": dict(sorted(self.avatars.items())),
        }


def redacted(url: str) -> str:
    """``url`` without its secrets: for the cache file and for log lines."""
    parts = urlsplit(url)
    query = [
        (name, "***" if name in SECRET_PARAMETERS else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def load(path: Path, source: str) -> Cache:
    """The cache for ``source``; an empty one when there is none yet or it was made for
    another mentions_url. ConfigError when the file exists and is not a cache."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Cache(source=redacted(source))
    except OSError as error:
        raise ConfigError(f"mentions_cache {path}: cannot read it: {error.strerror}") from None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} linkback mentions cache")
        cache = Cache(
            source=str(data["source"]),
            cursor=_cursor(data["cursor"]),
            mentions={str(k): Mention.from_json(v) for k, v in data["mentions"].items()},
            avatars={str(k): str(v) for k, v in data["avatars"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(
            f"mentions_cache {path} is damaged ({error}); remove it to fetch every linkback again"
        ) from None
    if cache.source != redacted(source):
        return Cache(source=redacted(source), avatars=cache.avatars)
    return cache


def _cursor(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"cursor {value!r} is not a whole number")
    return value


def save(path: Path, cache: Cache) -> None:
    """Replace the file in one step (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(cache.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
    replace_file(path, [text, "\n"])
