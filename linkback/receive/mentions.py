"""``linkback mentions``: list, show, moderate, allow, block, import and export."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..common.settings import ConfigError
from ..common.urls import normalise, page_key
from ..display.model import Kind, Protocol, sanitise
from .api import to_jf2
from .config import ServiceConfig
from .rules import block, valid_pattern
from .store import (
    MODERATION,
    Author,
    Content,
    Linkback,
    Rule,
    RuleKind,
    Status,
    Store,
    open_store,
)

KIND_OF = {
    "in-reply-to": Kind.REPLY,
    "reply": Kind.REPLY,
    "like-of": Kind.LIKE,
    "like": Kind.LIKE,
    "repost-of": Kind.REPOST,
    "repost": Kind.REPOST,
    "bookmark-of": Kind.BOOKMARK,
    "bookmark": Kind.BOOKMARK,
    "rsvp": Kind.RSVP,
}


def run(args: argparse.Namespace, config: ServiceConfig) -> int:
    store = open_store(config.db)
    try:
        return _ACTIONS[args.action](args, store)
    finally:
        store.close()


def _list(args: argparse.Namespace, store: Store) -> int:
    statuses = None if args.status == "all" else [Status(args.status)]
    key = page_key(args.target) if args.target else None
    if args.target and key is None:
        raise ConfigError(f"--target {args.target!r} is not an http(s) URL")
    records = store.list(statuses=statuses, target_key=key)
    if args.json:
        print(json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False))
        return 0
    for record in records:
        print(_line(record))
    if not records:
        print(f"no {args.status if args.status != 'all' else ''} linkbacks".replace("  ", " "))
    return 0


def _line(record: Linkback) -> str:
    who = record.content.author.name or record.content.title or ""
    return (
        f"{record.id:>6}  {record.status.value:<8} {record.protocol.value:<10} "
        f"{record.content.type.value:<8} {record.source} -> {record.target}"
        + (f"  ({who})" if who else "")
        + (f"  [{record.reason}]" if record.reason else "")
    )


def _show(args: argparse.Namespace, store: Store) -> int:
    record = store.get(args.id)
    if record is None:
        print(f"linkback: no linkback {args.id}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(record.to_json(), indent=2, ensure_ascii=False))
        return 0
    for name, value in record.to_json().items():
        print(f"{name}: {value}")
    return 0


def _moderate(args: argparse.Namespace, store: Store) -> int:
    status = MODERATION[args.action]
    missing = [n for n in args.ids if not store.set_status(n, status)]
    done = len(args.ids) - len(missing)
    print(f"{done} linkback{'s' if done != 1 else ''} {status.value}")
    for number in missing:
        print(f"linkback: no linkback {number}", file=sys.stderr)
    return 1 if missing else 0


def _rule(args: argparse.Namespace, store: Store) -> int:
    if not valid_pattern(args.pattern):
        raise ConfigError(
            f"{args.pattern!r} is not a pattern: a host, *.domain, or a URL with its scheme"
        )
    kind = RuleKind(args.action)
    if kind is RuleKind.BLOCK:
        turned = block(store, args.pattern.strip())
        print(f"blocked {args.pattern}; {turned} past linkbacks marked spam")
    else:
        store.add_rule(Rule(kind, args.pattern.strip()))
        print(f"allowed {args.pattern}: its linkbacks are approved from now on")
    return 0


def _import(args: argparse.Namespace, store: Store) -> int:
    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{args.file}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{args.file}: not JSON: {error}") from None
    entries = _entries(data)
    if entries is None:
        raise ConfigError(f"{args.file}: neither a jf2 feed nor a webmention.io export")
    status = Status(args.status)
    added = skipped = 0
    for entry in entries:
        parsed = _imported(entry)
        if parsed is None:
            skipped += 1
            continue
        source, target, content, received, protocol = parsed
        if store.add(source, target, protocol, status, content, received=received).created:
            added += 1
        else:
            skipped += 1
    print(f"imported {added} linkbacks ({skipped} already present or unreadable)")
    return 0


def _entries(data: Any) -> list[Any] | None:
    for key in ("children", "links"):
        found = data.get(key) if isinstance(data, dict) else None
        if isinstance(found, list):
            return found
    if isinstance(data, list):
        return data
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _imported(entry: Any) -> tuple[str, str, Content, str | None, Protocol] | None:
    """One jf2 entry or webmention.io ``links`` item as what the store keeps."""
    if not isinstance(entry, dict):
        return None
    if "data" in entry or "activity" in entry:  # webmention.io's /api/links shape
        data = entry.get("data") or {}
        source, target = _text(entry.get("source")), _text(entry.get("target"))
        kind = KIND_OF.get(_text((entry.get("activity") or {}).get("type")), Kind.MENTION)
        author = data.get("author") or {}
        html = _text(data.get("content"))
        received = _text(entry.get("verified_date")) or None
        title, published, url, rsvp = (
            _text(data.get("name")),
            _text(data.get("published")) or None,
            _text(data.get("url")) or None,
            _text(entry.get("rsvp")) or None,
        )
        text = ""
        protocol = Protocol.WEBMENTION
    else:
        source = _text(entry.get("wm-source")) or _text(entry.get("url"))
        target = _text(entry.get("wm-target"))
        kind = KIND_OF.get(_text(entry.get("wm-property")), Kind.MENTION)
        author = entry.get("author") or {}
        content = entry.get("content") or {}
        html = _text(content.get("html")) if isinstance(content, dict) else ""
        text = _text(content.get("text")) if isinstance(content, dict) else _text(content)
        received = _text(entry.get("wm-received")) or None
        title, published, url, rsvp = (
            _text(entry.get("name")),
            _text(entry.get("published")) or None,
            _text(entry.get("url")) or None,
            _text(entry.get("rsvp")) or None,
        )
        try:
            protocol = Protocol(entry.get("linkback-protocol") or "webmention")
        except ValueError:
            protocol = Protocol.WEBMENTION
    if not normalise(source) or not normalise(target) or not isinstance(author, dict):
        return None
    content_value = Content(
        type=kind,
        rsvp=rsvp if kind is Kind.RSVP else None,
        author=Author(
            _text(author.get("name")),
            _text(author.get("url")) or None,
            _text(author.get("photo")) or None,
        ),
        title=title,
        html=sanitise(html, 10_000) if html else "",
        text=text,
        published=published,
        url=url if url and url != source else None,
    )
    return source, target.split("#", 1)[0], content_value, received, protocol


def _export(args: argparse.Namespace, store: Store) -> int:
    records = store.list()
    if args.format == "json":
        print(json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False))
        return 0
    children = []
    for record in records:
        shown = to_jf2(_as_approved(record))
        shown["linkback-status"] = record.status.value
        children.append(shown)
    print(json.dumps({"type": "feed", "children": children}, indent=2, ensure_ascii=False))
    return 0


def _as_approved(record: Linkback) -> Linkback:
    return replace(record, status=Status.APPROVED)


_ACTIONS = {
    "list": _list,
    "show": _show,
    "approve": _moderate,
    "reject": _moderate,
    "spam": _moderate,
    "delete": _moderate,
    "allow": _rule,
    "block": _rule,
    "import": _import,
    "export": _export,
}
