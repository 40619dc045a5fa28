"""A minimal asyncio HTTP/1.1 server for many loopback addresses in one event-loop thread.

One thread and one loop serve every host of the farm: a per-request ``asyncio.sleep`` models
the network latency without holding a thread, so 200 hosts with dozens of open keep-alive
connections cost the benchmark almost no CPU next to the build it measures.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Request:
    """What a handler needs of one request: the host it reached, the line, headers, body."""

    host: str
    port: int
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self, keep_alive: bool) -> bytes:
        reason = HTTPStatus(self.status).phrase
        lines = [f"HTTP/1.1 {self.status} {reason}"]
        headers = {"Content-Type": "text/html; charset=utf-8", **self.headers}
        headers["Content-Length"] = str(len(self.body))
        headers["Connection"] = "keep-alive" if keep_alive else "close"
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


Handler = Callable[[Request], Awaitable[Response]]


class LoopbackServers:
    """Starts servers on (address, port) pairs in a background loop; ``stop`` closes them all."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._thread.start()

    def listen(self, address: str, port: int, handler: Handler) -> int:
        """Serve ``handler`` on address:port (0 picks a free port); returns the port."""
        future = asyncio.run_coroutine_threadsafe(self._listen(address, port, handler), self._loop)
        return future.result(timeout=10)

    async def _listen(self, address: str, port: int, handler: Handler) -> int:
        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            bound_port = writer.get_extra_info("sockname")[1]
            await _serve_connection(reader, writer, address, bound_port, handler)

        server = await asyncio.start_server(connected, address, port, backlog=512)
        self._servers.append(server)
        return server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the listeners and the open keep-alive connections, then end the loop."""
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        connections = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)


async def _serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    handler: Handler,
) -> None:
    """Answer requests on one connection until the client closes it or asks to."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, version = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if length else b""
            response = await handler(Request(host, port, method, path, headers, body))
            keep_alive = version == "HTTP/1.1" and headers.get("connection", "") != "close"
            writer.write(response.encode(keep_alive))
            await writer.drain()
            if not keep_alive:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass  # the client went away or spoke nonsense: drop the connection
    except asyncio.CancelledError:
        pass  # shutdown; re-raising makes Python 3.11's stream callback log a traceback
    finally:
        writer.close()


class StaticFiles:
    """Serves a folder without latency: the published site that the live check fetches."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests = 0

    async def __call__(self, request: Request) -> Response:
        self.requests += 1
        path = (self.root / unquote(urlsplit(request.path).path).lstrip("/")).resolve()
        if path.is_dir():
            path = path / "index.html"
        if self.root.resolve() not in path.parents or not path.is_file():
            return Response(404, b"not found")
        return Response(200, path.read_bytes())
