"""What makes a (source, target) claim refused on arrival, whatever its protocol."""

from __future__ import annotations

from enum import Enum

from ..common.urls import host_of, normalise, page_key
from .rules import blocked
from .store import Rule

MAX_URL = 2048


class Problem(str, Enum):
    """The short reasons of Webmention's 400 answers (pingback maps them to faults)."""

    MISSING_SOURCE = "missing source"
    MISSING_TARGET = "missing target"
    SOURCE_NOT_HTTP = "source is not an http(s) URL"
    TARGET_NOT_HTTP = "target is not an http(s) URL"
    SOURCE_TOO_LONG = "source is longer than 2048 characters"
    TARGET_TOO_LONG = "target is longer than 2048 characters"
    SAME = "source and target are the same"
    NOT_ON_SITE = "target is not on this site"
    BLOCKED = "blocked"


def check(
    source: str, target: str, site_hosts: frozenset[str], rules: list[Rule]
) -> Problem | None:
    if not source:
        return Problem.MISSING_SOURCE
    if not target:
        return Problem.MISSING_TARGET
    if len(source) > MAX_URL:
        return Problem.SOURCE_TOO_LONG
    if len(target) > MAX_URL:
        return Problem.TARGET_TOO_LONG
    if normalise(source) is None:
        return Problem.SOURCE_NOT_HTTP
    if normalise(target) is None:
        return Problem.TARGET_NOT_HTTP
    if page_key(source) == page_key(target):
        return Problem.SAME
    if host_of(target) not in site_hosts:
        return Problem.NOT_ON_SITE
    if blocked(rules, source):
        return Problem.BLOCKED
    return None


def stored_target(target: str) -> str:
    """The target as kept: without its fragment."""
    return target.split("#", 1)[0]
