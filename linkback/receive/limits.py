"""Abuse limits of the request path: the body cap, the per-address sliding window, and
which peer's ``X-Forwarded-For`` is believed."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Sequence

from starlette.requests import Request

from .config import Network

BODY_CAP = 64 * 1024
WINDOW = 60.0


class TooLarge(Exception):
    """The request body is over :data:`BODY_CAP` (answered 413)."""


async def read_body(request: Request, cap: int = BODY_CAP) -> bytes:
    """The body, read no further than ``cap`` bytes whatever Content-Length says."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class RateLimiter:
    """At most ``limit`` accepted requests from one address in the last 60 s; refused ones
    do not count. Kept in memory, per server process."""

    def __init__(self, limit: int, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, address: str) -> float | None:
        """None when the request may go on, else the seconds to wait (Retry-After)."""
        now = time.monotonic()
        with self._lock:
            times = self._seen.setdefault(address, deque())
            while times and now - times[0] >= self.window:
                times.popleft()
            if len(times) >= self.limit:
                return times[0] + self.window - now
            times.append(now)
            if len(self._seen) > 100_000:
                self._forget(now)
            return None

    def _forget(self, now: float) -> None:
        for address in [a for a, t in self._seen.items() if not t or now - t[-1] >= self.window]:
            del self._seen[address]


def client_address(peer: str, forwarded: str | None, trusted: Sequence[Network]) -> str:
    """The client: the peer, unless the peer is a trusted proxy; then the rightmost address
    of ``X-Forwarded-For`` that is not a trusted proxy itself (a client can forge the left)."""
    if not trusted or not _trusted(peer, trusted) or not forwarded:
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return hops[0] if hops and _is_address(hops[0]) else peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
