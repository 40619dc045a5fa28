"""The loopback web around the receiver: the source hosts that link to the site, and the site.

Source hosts answer after ``latency`` (``/s/<target id>/<anything>``) or after
``slow_latency`` (``/slow/<target id>/<anything>``) with an h-entry that links to the site's
page ``/post/<target id>/``; the page's address alone says what it links to, so the load
generator needs no shared state. The sources record every fetch: per URL (to find one
verified twice), per host in flight at once (``verify_per_host``), and each fetch's span.
The site answers 200 for its pages, which the receiver checks exist.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit

from ..farm import farm_address
from ..server import LoopbackServers, Request, Response

FILLER = "<p>" + "Some words of a post on another blog, around its link to the site. " * 20 + "</p>"


class Sources:
    """``hosts`` source blogs on distinct loopback addresses, one shared event loop."""

    def __init__(
        self, servers: LoopbackServers, hosts: int, latency: float, slow_latency: float
    ) -> None:
        self.latency = latency
        self.slow_latency = slow_latency
        self.site = ""  # the site's base URL, set once it listens
        self.base_urls: list[str] = []
        self._lock = threading.Lock()
        self._fetches: defaultdict[str, list[float]] = defaultdict(list)  # path: arrivals
        self._in_flight: Counter[str] = Counter()
        self._since = 0.0  # the last reset
        self.peak_per_host = 0
        self.peak_in_flight = 0  # fetches at once over all hosts: the verifiers really at work
        self._busy = 0.0  # sum of fetch durations
        self._first = self._last = 0.0
        for index in range(hosts):
            address = farm_address(index)
            port = servers.listen(address, 0, self._handle)
            self.base_urls.append(f"http://{address}:{port}")

    def reset(self) -> None:
        """Forget every fetch; those still in flight (a slow source) are left out of what
        follows: their ends count neither in flight nor busy."""
        with self._lock:
            self._since = time.monotonic()
            self._in_flight = Counter()
            self._fetches.clear()
            self.peak_per_host = 0
            self.peak_in_flight = 0
            self._busy = 0.0
            self._first = self._last = 0.0

    def fetch_count(self) -> int:
        with self._lock:
            return sum(len(arrivals) for arrivals in self._fetches.values())

    def fetches(self) -> dict[str, list[float]]:
        """Arrival times (``time.monotonic``) of the fetches of each source URL."""
        with self._lock:
            return {url: list(arrivals) for url, arrivals in self._fetches.items()}

    def mean_in_flight(self) -> float:
        with self._lock:
            elapsed = self._last - self._first
            return self._busy / elapsed if elapsed > 0 else 0.0

    async def _handle(self, request: Request) -> Response:
        arrival = time.monotonic()
        url = f"http://{request.host}:{request.port}{urlsplit(request.path).path}"
        parts = [part for part in urlsplit(request.path).path.split("/") if part]
        if len(parts) != 3 or parts[0] not in ("s", "slow") or not parts[1].isdigit():
            return Response(404, b"not found")
        with self._lock:
            in_flight = self._in_flight  # this fetch's generation (see reset)
            self._fetches[url].append(arrival)
            in_flight[request.host] += 1
            self.peak_per_host = max(self.peak_per_host, in_flight[request.host])
            self.peak_in_flight = max(self.peak_in_flight, sum(in_flight.values()))
            self._first = self._first or arrival
        try:
            await asyncio.sleep(self.latency if parts[0] == "s" else self.slow_latency)
        finally:
            with self._lock:
                in_flight[request.host] -= 1
                if arrival >= self._since:
                    self._last = time.monotonic()
                    self._busy += self._last - arrival
        return Response(200, self._page(url, int(parts[1])).encode())

    def _page(self, url: str, target_id: int) -> str:
        target = f"{self.site}/post/{target_id}/"
        return (
            f"<!DOCTYPE html><html><head><title>A post that links to {target_id}</title></head>"
            f'<body><article class="h-entry"><h1 class="p-name">On post {target_id}</h1>'
            f'<a class="u-url" href="{url}">permalink</a>'
            f'<p class="p-author h-card"><a class="u-url p-name" href="{url}">An author</a></p>'
            f'<div class="e-content"><p>As <a href="{target}">this post</a> says.</p>{FILLER}'
            f"</div></article></body></html>"
        )


class Site:
    """The static site whose pages are the targets: 200 for ``/post/<n>/``, 404 otherwise."""

    def __init__(self, servers: LoopbackServers, address: str = "127.0.0.1") -> None:
        self.requests = 0
        port = servers.listen(address, 0, self._handle)
        self.base_url = f"http://{address}:{port}"

    async def _handle(self, request: Request) -> Response:
        self.requests += 1
        parts = [part for part in urlsplit(request.path).path.split("/") if part]
        if len(parts) != 2 or parts[0] != "post" or not parts[1].isdigit():
            return Response(404, b"" if request.method == "HEAD" else b"not found")
        if request.method == "HEAD":  # no body, but the server writes the length it sends
            return Response(200)
        return Response(200, f"<html><body><h1>Post {parts[1]}</h1></body></html>".encode())
