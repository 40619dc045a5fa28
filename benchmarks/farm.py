"""The target farm: H blogs on distinct loopback addresses, each answering after L ms.

Every post page is ``/post/<id>/``; its id alone decides which endpoints it advertises
(:func:`kind_of`), so the site generator, the farm and the correctness check agree without
sharing state. The endpoints record every ping without verifying the source: the farm only
models network latency, and a verifying fetch would add requests the ideal time ignores.
"""

from __future__ import annotations

import asyncio
import threading
import time
import xmlrpc.client
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from .server import LoopbackServers, Request, Response

# "both" is a WordPress with the Webmention plugin: a Link header and an X-Pingback header.
KINDS = ("webmention", "pingback", "trackback", "both", "none")
PREFERRED = {"webmention": "webmention", "pingback": "pingback", "trackback": "trackback",
             "both": "webmention", "none": None}  # fmt: skip
FILLER = "<p>" + "A post on a blog of the farm, long enough to look like one. " * 60 + "</p>\n"


def kind_of(target_id: int, hosts: int) -> str:
    """The endpoints of post ``target_id``: cycles so that every host has every kind."""
    return KINDS[(target_id // hosts) % len(KINDS)]


def farm_address(index: int) -> str:
    """127.0.1.1 ... 127.0.1.254, then 127.0.2.1 ...: each a distinct host."""
    return f"127.0.{1 + index // 254}.{1 + index % 254}"


@dataclass(frozen=True)
class Ping:
    protocol: str
    source: str
    target: str


class Farm:
    """``hosts`` blogs answering after ``latency`` seconds; ``pings`` and ``requests`` count."""

    def __init__(self, servers: LoopbackServers, hosts: int, latency: float) -> None:
        self.hosts = hosts
        self.latency = latency
        self.base_urls: list[str] = []
        self.pings: list[Ping] = []
        self.requests: Counter[str] = Counter()  # by method
        self.spans: list[tuple[float, float]] = []  # (arrival, answer) of each request
        self._lock = threading.Lock()
        for index in range(hosts):
            address = farm_address(index)
            port = servers.listen(address, 0, self._handle)
            self.base_urls.append(f"http://{address}:{port}")

    def post_url(self, target_id: int) -> str:
        return f"{self.base_urls[target_id % self.hosts]}/post/{target_id}/"

    def reset(self) -> None:
        with self._lock:
            self.pings.clear()
            self.requests.clear()
            self.spans.clear()

    def mean_in_flight(self) -> float:
        """Requests the farm was answering at once, on average, from first to last request.

        The ideal time assumes ``min(concurrency, H × per_host)`` all along; this says how
        close the sender came.
        """
        with self._lock:
            if not self.spans:
                return 0.0
            busy = sum(end - start for start, end in self.spans)
            elapsed = max(end for _, end in self.spans) - min(start for start, _ in self.spans)
        return busy / elapsed if elapsed > 0 else 0.0

    def snapshot(self) -> tuple[list[Ping], Counter[str]]:
        with self._lock:
            return list(self.pings), Counter(self.requests)

    async def _handle(self, request: Request) -> Response:
        arrival = time.monotonic()
        with self._lock:
            self.requests[request.method] += 1
        await asyncio.sleep(self.latency)
        response = self._answer(request)
        with self._lock:
            self.spans.append((arrival, time.monotonic()))
        return response

    def _answer(self, request: Request) -> Response:
        base = f"http://{request.host}:{request.port}"
        parts = [part for part in urlsplit(request.path).path.split("/") if part]
        if request.method == "GET" and len(parts) == 2 and parts[0] == "post":
            return self._post_page(base, int(parts[1]))
        if request.method == "POST" and parts == ["webmention"]:
            form = _form(request.body)
            return self._record("webmention", form["source"], form["target"], Response(202))
        if request.method == "POST" and parts == ["xmlrpc"]:
            (source, target), _method = xmlrpc.client.loads(request.body)
            answer = xmlrpc.client.dumps(("Pingback registered",), methodresponse=True)
            return self._record("pingback", source, target, Response(200, answer.encode()))
        if request.method == "POST" and len(parts) == 2 and parts[0] == "trackback":
            target = f"{base}/post/{parts[1]}/"
            answer = b'<?xml version="1.0" encoding="utf-8"?><response><error>0</error></response>'
            ok = Response(200, answer, {"Content-Type": "text/xml"})
            return self._record("trackback", _form(request.body)["url"], target, ok)
        return Response(404, b"not found")

    def _record(self, protocol: str, source: str, target: str, response: Response) -> Response:
        with self._lock:
            self.pings.append(Ping(protocol, source, target))
        return response

    def _post_page(self, base: str, target_id: int) -> Response:
        url = f"{base}/post/{target_id}/"
        kind = kind_of(target_id, self.hosts)
        head, headers, rdf = "", {}, ""
        if kind == "webmention":
            head = f'<link rel="webmention" href="{base}/webmention">'
        elif kind == "pingback":
            head = f'<link rel="pingback" href="{base}/xmlrpc">'
        elif kind == "both":
            headers = {
                "Link": f'<{base}/webmention>; rel="webmention"',
                "X-Pingback": f"{base}/xmlrpc",
            }
        elif kind == "trackback":
            rdf = _trackback_rdf(url, f"{base}/trackback/{target_id}")
        page = (
            f"<!DOCTYPE html><html><head><title>Post {target_id}</title>{head}</head>"
            f"<body><article><h1>Post {target_id}</h1>{FILLER}</article>{rdf}</body></html>"
        )
        return Response(200, page.encode(), headers)


def _form(body: bytes) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(body.decode("utf-8")).items()}


def _trackback_rdf(url: str, ping: str) -> str:
    return (
        '<!--\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        ' xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/">\n'
        f'<rdf:Description rdf:about="{url}" dc:identifier="{url}" dc:title="A post"\n'
        f' trackback:ping="{ping}" />\n</rdf:RDF>\n-->'
    )


@dataclass(frozen=True)
class Correctness:
    """How the pings received compare with one preferred-protocol ping per endpoint target."""

    by_protocol: Counter[str]
    expected: int
    exact: int  # pairs pinged exactly once with the preferred protocol
    missing: int
    duplicates: int  # extra pings to a pair already pinged
    wrong_protocol: int
    unexpected: int  # pings to pairs that should get none

    @property
    def correct(self) -> bool:
        return self.exact == self.expected and not (
            self.duplicates or self.wrong_protocol or self.unexpected
        )


def check(pings: list[Ping], links: list[tuple[str, str]], farm: Farm) -> Correctness:
    """Compare ``pings`` with what the ``links`` (source, target) of the site deserve."""
    expected: dict[tuple[str, str], str] = {}
    for source, target in links:
        protocol = PREFERRED[kind_of(int(target.rstrip("/").rsplit("/", 1)[1]), farm.hosts)]
        if protocol:
            expected[(source, target)] = protocol
    received: dict[tuple[str, str], list[str]] = {}
    for ping in pings:
        received.setdefault((ping.source, ping.target), []).append(ping.protocol)
    exact = missing = duplicates = wrong = 0
    for pair, protocol in expected.items():
        got = received.get(pair, [])
        missing += not got
        duplicates += max(0, len(got) - 1)
        wrong += bool(got) and got[0] != protocol
        exact += got == [protocol]
    unexpected = sum(len(got) for pair, got in received.items() if pair not in expected)
    return Correctness(
        Counter(ping.protocol for ping in pings), len(expected), exact, missing, duplicates, wrong,
        unexpected,
    )  # fmt: skip
