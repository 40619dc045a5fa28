"""Allow and block patterns: which sources are refused, whose linkbacks are approved.

``example.org`` matches that host only; ``*.example.org`` it and every subdomain; a
pattern with a scheme matches the URLs that start with it; an IP address is a host.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..common.urls import host_of, normalise
from .store import Rule, RuleKind, Status, Store


def matches(pattern: str, url: str) -> bool:
    pattern = pattern.strip()
    if "://" in pattern:
        canonical = normalise(url) or url
        prefix = normalise(pattern) or pattern
        if (
            not pattern.endswith("/")
            and prefix.endswith("/")
            and "/" not in pattern.split("://")[1]
        ):
            prefix = prefix[:-1]  # "https://example.org" names the host's root too
        return canonical.startswith(prefix)
    host = host_of(url)
    wanted = pattern.lower().strip("[]")
    if wanted.startswith("*."):
        base = wanted[2:]
        return host == base or host.endswith("." + base)
    return host == wanted


def blocked(rules: Iterable[Rule], source: str) -> bool:
    return any(r.kind is RuleKind.BLOCK and matches(r.pattern, source) for r in rules)


def allowed(rules: Iterable[Rule], author_url: str | None, source: str) -> bool:
    url = author_url or source
    return any(r.kind is RuleKind.ALLOW and matches(r.pattern, url) for r in rules)


def valid_pattern(pattern: str) -> bool:
    pattern = pattern.strip()
    if "://" in pattern:
        return normalise(pattern) is not None
    bare = pattern[2:] if pattern.startswith("*.") else pattern
    return bool(bare) and " " not in bare and "/" not in bare


def block(store: Store, pattern: str) -> int:
    """Add a block rule and turn the past linkbacks from matching sources into spam; how
    many were turned."""
    store.add_rule(Rule(RuleKind.BLOCK, pattern))
    past = [r for r in store.list() if matches(pattern, r.source) and r.status is not Status.SPAM]
    for record in past:
        store.set_status(record.id, Status.SPAM, "blocked")
    return len(past)
