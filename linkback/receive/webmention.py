"""W3C Webmention receiving (§3.2): validate, store, answer 201; verify in the background.
Also the manual form and the status page."""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from ..display.model import Protocol
from . import claims
from .service import Service
from .store import Arrival

FORM = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Send a Webmention</title></head>
<body><h1>Send a Webmention</h1>
<p>Wrote something that links to a page of {site}? Tell it here.</p>
<form method="post" action="{action}">
<p><label>Your page (source) <input type="url" name="source" required size="60"></label></p>
<p><label>Page of this site (target) <input type="url" name="target" required size="60"
 value="{target}"></label></p>
<p><button type="submit">Send</button></p>
</form></body></html>
"""
STATUS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Webmention {id}: {status}</title></head>
<body><h1>Webmention {id}</h1>
<p>Status: <strong>{status}</strong>{reason}</p>
<p>Source: <a href="{source}" rel="nofollow ugc">{source}</a><br>Target: {target}</p>
</body></html>
"""


def form_fields(body: bytes) -> dict[str, str]:
    """A form-encoded body's fields (the last value of each), decoded as UTF-8."""
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[-1].strip() for name, values in parsed.items()}


async def receive(service: Service, body: bytes, request: Request) -> Response:
    """Check the claim at once; answer 201 once it is stored (with others arriving with it)."""
    fields = form_fields(body)
    source, target = fields.get("source", ""), fields.get("target", "")
    problem = claims.check(source, target, service.config.site_hosts, service.rules())
    if problem is not None:
        return PlainTextResponse(problem.value, status_code=400)
    target = claims.stored_target(target)
    linkback_id = await service.intake.receive(Arrival(source, target, Protocol.WEBMENTION))
    service.workers.wake()
    location = service.status_url(linkback_id)
    return PlainTextResponse(
        f"Accepted; verification is queued: {location}\n",
        status_code=201,
        headers={"Location": location},
    )


def form(service: Service, request: Request) -> Response:
    return HTMLResponse(
        FORM.format(
            site=escape(service.config.site_url[0]),
            action=escape(f"{service.config.base_url}/webmention"),
            target=escape(request.query_params.get("target", "")),
        )
    )


def status(service: Service, request: Request) -> Response:
    raw = request.path_params["linkback_id"]
    record = service.store.get(int(raw)) if str(raw).isdigit() else None
    if record is None:
        return PlainTextResponse("no such webmention", status_code=404)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(record.to_json())
    reason = f" ({escape(record.reason)})" if record.reason else ""
    return HTMLResponse(
        STATUS_PAGE.format(
            id=record.id,
            status=escape(record.status.value),
            reason=reason,
            source=escape(record.source),
            target=escape(record.target),
        )
    )
