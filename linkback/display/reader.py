"""``mentions_url`` -> the approved mentions of the site, asking only for what changed.

Three sources speak jf2:

- the project's service (``/api/linkbacks``): its feed carries ``linkback-seq``; the next
  build asks ``changed_since=S`` and gets every entry changed since, the ones no longer
  approved reduced to their id and status, which are dropped from the cache;
- webmention.io (``/api/mentions.jf2?domain=D&token=T``): the next build asks
  ``since_id=N``, N the highest ``wm-id`` seen;
- a local jf2 file (a path, or ``file:``), read whole each build.

A remote source that is down, slow, refuses the token or answers nonsense leaves the cache
as it was: the build goes on with the linkbacks it had, and one warning says why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from ..common.http import Client, FetchError
from ..common.settings import ConfigError, Settings
from . import cache as cache_file
from .cache import Cache, redacted
from .model import Mention, from_jf2

PER_PAGE = 1000  # the service's largest page; webmention.io takes as many
MAX_PAGES = 50  # at most PER_PAGE * MAX_PAGES entries in one build
PAGE_CAP = 32 * 1024 * 1024  # bytes of one page of the feed
FILE_CAP = 64 * 1024 * 1024  # bytes of a local jf2 file
APPROVED = "approved"
# Where a mentions_url on webmention.io (or a service speaking its API) is recognised.
WEBMENTION_IO_PATH = "/api/mentions.jf2"


class ReadError(Exception):
    """The remote source gave no usable answer; the cache stays as it was."""


@dataclass(frozen=True)
class Feed:
    """One page of a jf2 feed, checked: its entries and the service's sequence, if any."""

    children: list[Any]
    seq: int | None


def is_remote(mentions_url: str) -> bool:
    return urlsplit(mentions_url).scheme in ("http", "https")


def local_path(mentions_url: str, base_dir: Path) -> Path:
    """A file path (``file:`` URL or plain), relative to the settings file's folder."""
    parts = urlsplit(mentions_url)
    path = Path(unquote(parts.path) if parts.scheme == "file" else mentions_url).expanduser()
    return path if path.is_absolute() else base_dir / path


def read(settings: Settings, logger: logging.Logger, client: Client) -> Cache:
    """The mentions to show in this build: the cache, updated when the source answers.

    A local file replaces the cache's mentions each build; the cache still keeps the
    avatars its photos became.
    """
    url = settings.mentions_url or ""
    path = settings.mentions_cache_path
    if not is_remote(url):
        file = local_path(url, settings.base_dir)
        cache = cache_file.load(path, str(file))
        cache.mentions = read_file(file, settings.site_url)
        return cache  # written only when an avatar is learnt: the file is the copy
    cache = cache_file.load(path, url)
    before = cache.to_json()
    try:
        update(cache, url, client)
    except ReadError as error:
        logger.warning(
            "linkback: could not update the linkbacks from %s (%s); showing the %d cached",
            redacted(url),
            error,
            len(cache.mentions),
        )
        return cache
    if cache.to_json() != before:
        cache_file.save(path, cache)
    return cache


def read_file(path: Path, site_url: str) -> dict[str, Mention]:
    """Every mention of a local jf2 file; a ``wm-target`` that is a path is on this site."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(FILE_CAP + 1)
    except OSError as error:
        raise ConfigError(f"mentions_url {path}: cannot read it: {error.strerror}") from None
    try:
        if len(raw) > FILE_CAP:
            raise ReadError(f"larger than {FILE_CAP} bytes")
        feed = parse(raw)
    except ReadError as error:
        raise ConfigError(f"mentions_url {path} is not a jf2 feed: {error}") from None
    base = site_url.rstrip("/") + "/" if is_remote(site_url) else "http://localhost/"
    mentions: dict[str, Mention] = {}
    for child in feed.children:
        if not isinstance(child, Mapping) or child.get("linkback-status", APPROVED) != APPROVED:
            continue  # an export of the service holds every status
        if isinstance(child.get("wm-target"), str):
            child = {**child, "wm-target": urljoin(base, child["wm-target"])}
        mention = from_jf2(child)
        if mention is not None:
            mentions[mention.id] = mention
    return mentions


def update(cache: Cache, url: str, client: Client) -> None:
    """Apply what changed at ``url`` since ``cache.cursor``.

    Pages are asked for until one is not full (at most MAX_PAGES); nothing is applied until
    every page has arrived, so a failure half-way leaves the cache exactly as it was.
    """
    webmention_io = urlsplit(url).path.endswith(WEBMENTION_IO_PATH)
    pages: list[Feed] = []
    for number in range(MAX_PAGES):
        feed = fetch(client, request_url(url, cache.cursor, number, webmention_io=webmention_io))
        pages.append(feed)
        if len(feed.children) < PER_PAGE:
            break
    else:
        raise ReadError(f"more than {MAX_PAGES} pages of {PER_PAGE} entries")
    service = pages[0].seq is not None
    if not service and not webmention_io and cache.cursor is None:
        cache.mentions.clear()  # a plain jf2 feed, read whole each time
    for feed in reversed(pages):  # oldest first, so the newest state of an entry wins
        for child in reversed(feed.children):
            apply(cache, child)
    if service:
        cache.cursor = pages[0].seq
    elif webmention_io:  # the highest id seen, private and unusable ones included
        seen = [
            child["wm-id"]
            for feed in pages
            for child in feed.children
            if isinstance(child, Mapping) and type(child.get("wm-id")) is int
        ]
        if seen:
            cache.cursor = max(seen) if cache.cursor is None else max(*seen, cache.cursor)


def apply(cache: Cache, child: object) -> None:
    """One entry of the feed: an approved one is stored, any other is dropped."""
    if not isinstance(child, Mapping) or "wm-id" not in child:
        return
    key = str(child["wm-id"])
    status = child.get("linkback-status", APPROVED)
    mention = from_jf2(child) if status == APPROVED else None
    if mention is None:
        cache.mentions.pop(key, None)
    else:
        cache.mentions[mention.id] = mention


def request_url(url: str, cursor: int | None, page: int, *, webmention_io: bool) -> str:
    """``url`` asking for one page of what changed since ``cursor``."""
    parts = urlsplit(url)
    names = ("since_id", "per-page") if webmention_io else ("changed_since", "per_page")
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name not in (*names, "page")
    ]
    if cursor is not None:
        query.append((names[0], str(cursor)))
    query += [(names[1], str(PER_PAGE)), ("page", str(page))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def fetch(client: Client, url: str) -> Feed:
    try:
        answer = client.get(url, cap=PAGE_CAP + 1)
    except FetchError as error:
        raise ReadError(str(error)) from None
    if answer.status in (401, 403):
        raise ReadError(f"HTTP {answer.status}: the token was refused; is it still valid?")
    if answer.status != 200:
        raise ReadError(f"HTTP {answer.status}")
    if len(answer.body) > PAGE_CAP:
        raise ReadError(f"an answer larger than {PAGE_CAP} bytes")
    return parse(answer.body)


def parse(raw: bytes) -> Feed:
    """A jf2 feed (``{"type": "feed", "children": [...]}``); a bare list of entries too."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ReadError(f"not JSON: {error}") from None
    if isinstance(data, list):
        return Feed(children=data, seq=None)
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise ReadError("not a jf2 feed (no children)")
    seq = data.get("linkback-seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        raise ReadError(f"linkback-seq {seq!r} is not a whole number")
    return Feed(children=data["children"], seq=seq)
