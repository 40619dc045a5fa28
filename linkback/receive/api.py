"""``GET /api/linkbacks``: approved linkbacks as jf2, with webmention.io's fields plus
``linkback-protocol``, ``linkback-status`` and ``linkback-seq``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..common.urls import page_key
from ..display.model import Kind
from .service import Service
from .store import Linkback, Status

PER_PAGE = 100
MAX_PER_PAGE = 1000
PROPERTY_OF = {
    Kind.REPLY: "in-reply-to",
    Kind.LIKE: "like-of",
    Kind.REPOST: "repost-of",
    Kind.BOOKMARK: "bookmark-of",
    Kind.RSVP: "rsvp",
    Kind.MENTION: "mention-of",
}


def to_jf2(record: Linkback) -> dict[str, Any]:
    """One entry; a linkback that is not approved shows only what a cache needs to drop it."""
    if record.status is not Status.APPROVED:
        return {
            "wm-id": record.id,
            "wm-target": record.target,
            "linkback-seq": record.seq,
            "linkback-status": record.status.value,
        }
    content = record.content
    return {
        "type": "entry",
        "author": {
            "type": "card",
            "name": content.author.name,
            "url": content.author.url,
            "photo": content.author.photo,
        },
        "url": content.url or record.source,
        "published": content.published,
        "wm-received": record.received,
        "wm-id": record.id,
        "wm-source": record.source,
        "wm-target": record.target,
        "wm-property": PROPERTY_OF[content.type],
        "wm-private": False,
        "rsvp": content.rsvp,
        "content": {"html": content.html, "text": content.text},
        "name": content.title,
        "linkback-protocol": record.protocol.value,
        "linkback-status": record.status.value,
        "linkback-seq": record.seq,
    }


def _number(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.lstrip("-").isdigit():
        raise ValueError(f"{name} must be a whole number")
    return int(raw)


def linkbacks(service: Service, request: Request) -> Response:
    try:
        page = max(0, _number(request, "page", 0) or 0)
        per_page = min(max(1, _number(request, "per_page", PER_PAGE) or PER_PAGE), MAX_PER_PAGE)
        since_id = _number(request, "since_id", None)
        changed_since = _number(request, "changed_since", None)
    except ValueError as error:
        return PlainTextResponse(str(error), status_code=400)
    target = request.query_params.get("target")
    key = page_key(target) if target else None
    if target and key is None:
        return PlainTextResponse("target is not an http(s) URL", status_code=400)
    seq = service.store.last_seq()
    records = service.store.list(
        statuses=None if changed_since is not None else [Status.APPROVED],
        target_key=key,
        since_id=since_id,
        changed_since=changed_since,
        offset=page * per_page,
        limit=per_page,
    )
    return JSONResponse(
        {"type": "feed", "children": [to_jf2(r) for r in records], "linkback-seq": seq}
    )
