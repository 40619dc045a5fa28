"""Trackback 1.2: ``POST /trackback?target=PAGE_URL`` with ``url``, ``title``, ``excerpt``,
``blog_name``; answered with the spec's XML, after checking that ``url`` links to the
target (``trackback_verify``)."""

from __future__ import annotations

import html
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from ..display.model import Kind, Protocol
from . import claims
from .claims import Problem
from .service import Service
from .store import Author, Content, Status
from .sync import verify_and_store
from .verify import Gone, Refused, Transient, Verified

EXCERPT_CHARS = 300
TITLE_CHARS = 300


def answer(error: str | None = None) -> Response:
    inner = (
        "<error>0</error>"
        if error is None
        else (f"<error>1</error><message>{escape(error)}</message>")
    )
    body = f'<?xml version="1.0" encoding="utf-8"?><response>{inner}</response>'
    return Response(body, media_type="text/xml; charset=utf-8")


def decode_form(body: bytes, content_type: str) -> dict[str, str]:
    """The fields, in the charset the sender named, else UTF-8, else Latin-1 (old blogs
    sent their own encoding without saying so); entities decoded once."""
    declared = None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            declared = value.strip().strip("\"'")
    # Latin-1 maps every byte to one character and back: the bytes survive the parsing.
    fields = parse_qs(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return {
        name: html.unescape(_decode(values[-1].encode("latin-1"), declared)).strip()
        for name, values in fields.items()
    }


def _decode(raw: bytes, declared: str | None) -> str:
    for charset in (declared, "utf-8"):
        if charset:
            try:
                return raw.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    return raw.decode("latin-1")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def receive(service: Service, body: bytes, request: Request) -> Response:
    fields = decode_form(body, request.headers.get("content-type", ""))
    target = request.query_params.get("target", "")
    source = fields.get("url", "")
    if not source:
        return answer("missing url")
    problem = claims.check(source, target, service.config.site_hosts, service.rules())
    if problem is Problem.BLOCKED:
        return answer("blocked")
    if problem is not None:
        return answer(problem.value.replace("source", "url"))
    target = claims.stored_target(target)
    content = Content(
        type=Kind.MENTION,
        author=Author(name=_cut(fields.get("blog_name", ""), 200)),
        title=_cut(fields.get("title", ""), TITLE_CHARS),
        text=_cut(fields.get("excerpt", ""), EXCERPT_CHARS),
    )
    existing = service.store.find(source, target)
    if existing is not None and existing.status not in (Status.INVALID, Status.DELETED):
        service.store.update_excerpt(existing.id, content)  # a repeat: title and excerpt
        return answer()
    if not service.config.trackback_verify:
        if service.verifier.target_exists(target):
            service.store.add(source, target, Protocol.TRACKBACK, Status.PENDING, content)
            return answer()
        return answer("target not found")
    outcome, _ = verify_and_store(service, source, target, Protocol.TRACKBACK, content=content)
    if isinstance(outcome, Verified):
        return answer()
    if isinstance(outcome, Transient):
        if outcome.slow:
            return answer("the url page was too slow to answer")
        return answer(f"the url page is unreachable: {outcome.reason}")
    if isinstance(outcome, Gone) and outcome.reason == "no link to target":
        return answer("the url page does not link to the target")
    assert isinstance(outcome, Gone | Refused)
    return answer(outcome.reason)
