"""The ASGI application: routes, limits on every POST, and the workers' lifetime.

``create_app(config)`` builds it for any ASGI server; ``app_from_environment()`` is the
factory for a server started by name (``uvicorn --factory
linkback.receive.app:app_from_environment``), reading the same options as ``linkback serve``
from ``LINKBACK_*`` variables and ``LINKBACK_CONFIG`` (a TOML file).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import api, pingback, trackback, webmention
from .admin import routes as admin
from .config import ServiceConfig, from_mapping, load
from .limits import TooLarge, client_address, read_body
from .service import Service

SERVED_CONFIG = "LINKBACK_SERVE_OPTIONS"  # how `linkback serve` hands options to its workers

Handler = Callable[[Service, bytes, Request], Awaitable[Response]]
BlockingHandler = Callable[[Service, bytes, Request], Response]


def threaded(handler: BlockingHandler) -> Handler:
    """A handler that waits (on a fetch of the source), run on the thread pool."""

    async def run(service: Service, body: bytes, request: Request) -> Response:
        return await run_in_threadpool(handler, service, body, request)

    return run


def create_app(config: ServiceConfig, *, service: Service | None = None) -> Starlette:
    """The service as an ASGI app; verification threads run while the app is up."""
    running = service or Service(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        running.start()
        try:
            yield
        finally:
            await run_in_threadpool(running.stop)

    def post(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            peer = request.client.host if request.client else ""
            address = client_address(peer, request.headers.get("x-forwarded-for"), running.proxies)
            wait = running.limiter.hit(address)
            if wait is not None:
                return PlainTextResponse(
                    "too many requests",
                    status_code=429,
                    headers={"Retry-After": str(max(1, int(wait + 0.999)))},
                )
            try:
                body = await read_body(request)
            except TooLarge:
                return PlainTextResponse("request body too large", status_code=413)
            return await handler(running, body, request)

        return endpoint

    def get(handler: Callable[[Service, Request], Response]) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await run_in_threadpool(handler, running, request)

        return endpoint

    async def health(request: Request) -> Response:
        length = await run_in_threadpool(running.store.queue_length)
        return JSONResponse({"status": "ok", "queue": length})

    routes = [
        Route("/webmention", post(webmention.receive), methods=["POST"]),
        Route("/webmention", get(webmention.form), methods=["GET"]),
        Route("/webmention/status/{linkback_id}", get(webmention.status), methods=["GET"]),
        Route("/xmlrpc", post(threaded(pingback.receive)), methods=["POST"]),
        Route("/trackback", post(threaded(trackback.receive)), methods=["POST"]),
        Route("/api/linkbacks", get(api.linkbacks), methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        *admin.routes(running),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = running
    return app


def app_from_environment() -> Starlette:
    """The factory for ASGI servers: options from ``linkback serve`` or the environment."""
    handed = os.environ.get(SERVED_CONFIG)
    if handed:
        return create_app(from_mapping(json.loads(handed)))
    return create_app(load({}, config_file=os.environ.get("LINKBACK_CONFIG")))
