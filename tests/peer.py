"""A little blog on loopback that receives linkbacks, and a static file server.

Tests, the demo and the benchmarks ping these instead of the internet. ``Peer`` behaves like
WordPress where it matters: each post advertises one protocol (or all, or none), every ping
is verified by fetching the source and looking for a link to the target, and refusals use
each protocol's own codes. ``add_page`` / ``add_handler`` serve hostile or odd answers.

Both servers speak plain HTTP on an IP literal by default; given a ``name`` and a TLS
``context`` (see ``tests/tls.py``, which makes both) they serve HTTPS as that host name. Each
request they answer is kept as a :class:`Seen`: the TLS server name (SNI), the ``Host``
header, the request line, the headers and the body, for tests to assert what went on the wire.
"""

from __future__ import annotations

import ssl
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from functools import partial
from html import escape
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urldefrag, urljoin, urlsplit
from urllib.request import ProxyHandler, build_opener

import lxml.html

KINDS = ("webmention", "pingback", "trackback", "all", "none")
PROTOCOLS_OF = {
    "webmention": {"webmention"},
    "pingback": {"pingback"},
    "trackback": {"trackback"},
    "all": {"webmention", "pingback", "trackback"},
    "none": set(),
}
# Pingback 1.0 fault codes.
SOURCE_MISSING, NO_LINK, NO_TARGET, NOT_ENABLED, ALREADY_REGISTERED = 16, 17, 32, 33, 48
VERIFY_TIMEOUT = 2.0
VERIFY_MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class Received:
    """One accepted linkback; ``url`` is the trackback's ``url`` field ("" for the others)."""

    protocol: str
    source: str
    target: str
    title: str = ""
    excerpt: str = ""
    blog_name: str = ""
    url: str = ""


@dataclass
class Seen:
    """One request as a server saw it. ``sni`` is the name the client asked for in the TLS
    handshake (None on plain HTTP, or when the client sent none, as for an IP address)."""

    sni: str | None
    host: str
    request_line: str
    headers: Message
    client: tuple[str, int]
    body: bytes = field(default=b"", repr=False)

    @property
    def method(self) -> str:
        return self.request_line.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.request_line.split(" ")[1]


def _seen(handler: BaseHTTPRequestHandler) -> Seen:
    return Seen(
        sni=getattr(handler.connection, "sni", None),
        host=handler.headers.get("Host", ""),
        request_line=handler.requestline,
        headers=handler.headers,
        client=handler.client_address[:2],
    )


def remember_sni(sock: ssl.SSLSocket | ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
    """An ``sni_callback`` that keeps the server name on the socket for :class:`Seen`."""
    sock.sni = name  # type: ignore[union-attr]


Fetch = Callable[[str], tuple[bytes, str]]  # url -> (body, final URL)
Route = Callable[["PeerHandler"], None]
Headers = Mapping[str, str] | Iterable[tuple[str, str]]  # pairs: a header may repeat


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """With TLS, the handshake happens here, on the connection's own thread."""
        if self.ssl_context is not None:
            request.settimeout(30)
            request = self.ssl_context.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up (a time-out, a killed run) or refuses the certificate is
        expected, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError | TimeoutError):
            super().handle_error(request, client_address)


def _origin(server: _Server, host: str, name: str | None, context: ssl.SSLContext | None) -> str:
    """The server's base URL; with a TLS context it serves HTTPS as ``name``."""
    server.ssl_context = context
    scheme = "https" if context is not None else "http"
    shown = name or (f"[{host}]" if ":" in host else host)
    return f"{scheme}://{shown}:{server.server_address[1]}"


class _Background:
    """Runs an HTTP server in a thread; subclasses set ``self.server`` before ``start``."""

    server: ThreadingHTTPServer

    def start(self) -> None:
        # A short poll interval: shutdown() waits for it, once per test.
        serve = partial(self.server.serve_forever, poll_interval=0.02)
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Peer(_Background):
    """A blog at ``base_url`` with posts at ``/<kind>/<slug>/`` and the three endpoints.

    ``name`` and ``context`` make it serve HTTPS as that name; ``fetch`` is how it fetches a
    source to verify a ping (by default urllib, which knows no test names)."""

    def __init__(
        self,
        host: str = "127.0.0.2",
        *,
        verify: bool = True,
        latency: float = 0.0,
        name: str | None = None,
        context: ssl.SSLContext | None = None,
        fetch: Fetch | None = None,
    ):
        self.verify = verify
        self.latency = latency
        self.received: list[Received] = []
        self.removed: list[Received] = []  # webmentions taken back by an update or a delete
        self.requests: list[tuple[str, str]] = []
        self.headers: list[Message] = []  # the headers of each request, in order
        self.seen: list[Seen] = []  # each request as it came, SNI and body included
        self.connections: set[tuple[str, int]] = set()  # client (address, port) pairs
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at one time
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, str], Route] = {}
        self.server = _Server((host, 0), PeerHandler)
        self.server.peer = self  # type: ignore[attr-defined]
        self.base_url = _origin(self.server, host, name, context)
        self._fetch = fetch or _urllib_fetch

    # What tests use -------------------------------------------------------------------------

    def post_url(self, kind: str, slug: str = "post") -> str:
        """A post page that advertises exactly ``kind`` (one of KINDS)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        return f"{self.base_url}/{kind}/{slug}/"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add_page(
        self,
        path: str,
        body: bytes | str,
        *,
        headers: Headers | None = None,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        method: str = "GET",
    ) -> str:
        """Serve a fixed answer at ``path``; returns its URL."""

        def answer(handler: PeerHandler) -> None:
            handler.reply(status, body, content_type=content_type, headers=headers)

        return self.add_handler(path, answer, method=method)

    def add_trickle(self, path: str, spaces: int) -> str:
        """A page whose body comes one space every 0.1 s, ``spaces`` of them, without a
        Content-Length: a source too slow for a deadline. It stops when the client goes."""

        def trickle(handler: PeerHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.end_headers()
            for _ in range(spaces):
                try:
                    handler.wfile.write(b" ")
                    handler.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)

        return self.add_handler(path, trickle)

    def add_handler(self, path: str, route: Route, *, method: str = "GET") -> str:
        """Let ``route(handler)`` write the whole answer to requests for ``path``."""
        self._routes[(method.upper(), path)] = route
        return self.url(path)

    def add_endpoint(self, path: str, *answers: Answer) -> ScriptedEndpoint:
        """A POST endpoint giving ``answers`` in turn (the last one repeats)."""
        endpoint = ScriptedEndpoint(self.url(path), answers or (Answer(),))
        self.add_handler(path, endpoint, method="POST")
        return endpoint

    def add_target(
        self,
        name: str,
        *,
        webmention: str | None = None,
        pingback: str | None = None,
        trackback: str | None = None,
    ) -> str:
        """A page at ``/t/<name>/`` that advertises the given endpoint URLs; returns its URL."""
        url = self.url(f"/t/{name}/")
        headers = {}
        if webmention:
            headers["Link"] = f'<{webmention}>; rel="webmention"'
        if pingback:
            headers["X-Pingback"] = pingback
        rdf = trackback_rdf(url, trackback) if trackback else ""
        html = f"<!DOCTYPE html><html><head><title>{name}</title></head><body>{rdf}</body></html>"
        return self.add_page(f"/t/{name}/", html, headers=headers)

    def received_by(self, protocol: str) -> list[Received]:
        with self._lock:
            return [item for item in self.received if item.protocol == protocol]

    def ping_requests(self) -> list[tuple[str, str]]:
        """The POST requests: the pings, whatever their outcome."""
        with self._lock:
            return [request for request in self.requests if request[0] == "POST"]

    # Internals ------------------------------------------------------------------------------

    def _log(self, handler: PeerHandler) -> Seen:
        seen = _seen(handler)
        with self._lock:
            self.requests.append((handler.command, handler.path))
            self.headers.append(handler.headers)
            self.seen.append(seen)
            self.connections.add(handler.client_address[:2])
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return seen

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _record(self, item: Received) -> bool:
        """Keep an accepted ping; False when this pingback was registered before."""
        with self._lock:
            if item.protocol == "pingback" and any(
                old.protocol == "pingback"
                and (old.source, old.target) == (item.source, item.target)
                for old in self.received
            ):
                return False
            self.received.append(item)
            return True

    def _take_back(self, source: str, target: str) -> bool:
        """Remove the webmentions of (source, target); False when there was none."""
        with self._lock:
            kept = [
                item
                for item in self.received
                if (item.protocol, item.source, item.target) != ("webmention", source, target)
            ]
            if len(kept) == len(self.received):
                return False
            self.removed.append(Received("webmention", source, target))
            self.received[:] = kept
            return True

    def post_kind(self, target: str) -> str | None:
        """The kind of the post ``target`` names on this peer, or None."""
        target = urldefrag(target).url
        if not target.startswith(self.base_url + "/"):
            return None
        parts = target[len(self.base_url) :].split("/")
        if len(parts) == 4 and parts[0] == "" and parts[1] in KINDS and parts[2] and parts[3] == "":
            return parts[1]
        return None

    def check_source(self, source: str, target: str) -> str | None:
        """What WordPress checks: the source is served and links to the target. None if so."""
        if not self.verify:
            return None
        try:
            body, final_url = self._fetch(source)
        except Exception as error:  # noqa: BLE001 - any failure means "source missing"
            return f"source not served: {error}"
        try:
            tree = lxml.html.document_fromstring(body)
        except Exception:  # noqa: BLE001 - an empty or broken page links to nothing
            return "source does not link to target"
        links = {urldefrag(urljoin(final_url, href)).url for href in tree.xpath("//a/@href")}
        if urldefrag(target).url not in links:
            return "source does not link to target"
        return None


def _urllib_fetch(url: str) -> tuple[bytes, str]:
    with build_opener(ProxyHandler({})).open(url, timeout=VERIFY_TIMEOUT) as response:
        return response.read(VERIFY_MAX_BYTES), response.geturl()


@dataclass(frozen=True)
class Answer:
    """One scripted HTTP answer."""

    status: int = 202
    body: bytes | str = ""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] | None = None


class ScriptedEndpoint:
    """Answers POSTs with chosen answers and keeps each request body."""

    def __init__(self, url: str, answers: tuple[Answer, ...]) -> None:
        self.url = url
        self.answers = answers
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()

    def __call__(self, handler: PeerHandler) -> None:
        body = handler.read_body()
        with self._lock:
            self.bodies.append(body)
            answer = self.answers[min(len(self.bodies), len(self.answers)) - 1]
        handler.reply(
            answer.status, answer.body, content_type=answer.content_type, headers=answer.headers
        )

    def forms(self) -> list[dict[str, str]]:
        """The bodies as forms (webmention, trackback)."""
        return [
            {name: values[0] for name, values in parse_qs(body.decode("utf-8")).items()}
            for body in self.bodies
        ]

    def calls(self) -> list[tuple[object, ...]]:
        """The bodies as XML-RPC parameters (pingback)."""
        return [xmlrpc.client.loads(body)[0] for body in self.bodies]


def xmlrpc_answer(result: str | int, *, fault: bool = False) -> Answer:
    """An XML-RPC answer: a string result, or with ``fault`` a fault of code ``result``."""
    value = xmlrpc.client.Fault(result, f"fault {result}") if fault else (result,)
    body = xmlrpc.client.dumps(value, methodresponse=True)  # type: ignore[arg-type]
    return Answer(200, body, "text/xml; charset=utf-8")


def trackback_rdf(url: str, ping: str) -> str:
    """The Trackback auto-discovery block of the page ``url``, inside an HTML comment."""
    return (
        '<!--\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        ' xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/">\n'
        f'<rdf:Description rdf:about="{escape(url)}" dc:identifier="{escape(url)}"\n'
        f' dc:title="post" trackback:ping="{escape(ping)}" />\n'
        "</rdf:RDF>\n-->"
    )


def post_page(peer: Peer, kind: str, slug: str) -> tuple[str, dict[str, str]]:
    """The HTML and headers of one post; each protocol advertised as WordPress does."""
    url = peer.post_url(kind, slug)
    protocols = PROTOCOLS_OF[kind]
    headers: dict[str, str] = {}
    head = [f"<title>{escape(kind)} {escape(slug)}</title>"]
    extra = ""
    if "webmention" in protocols:
        headers["Link"] = f'<{peer.url("/webmention")}>; rel="webmention"'
        head.append('<link rel="webmention" href="/webmention">')
    if "pingback" in protocols:
        headers["X-Pingback"] = peer.url("/xmlrpc")
        head.append(f'<link rel="pingback" href="{escape(peer.url("/xmlrpc"))}">')
    if "trackback" in protocols:
        extra = trackback_rdf(url, peer.url(f"/trackback/{kind}/{slug}"))
    html = (
        f"<!DOCTYPE html>\n<html><head>{''.join(head)}</head><body>"
        f"<article><h1>{escape(slug)}</h1><p>A post that accepts {escape(kind)}.</p></article>"
        f"{extra}</body></html>"
    )
    return html, headers


class PeerHandler(BaseHTTPRequestHandler):
    """Serves the peer's posts, endpoints and custom routes."""

    protocol_version = "HTTP/1.1"  # keep-alive, so that connection reuse can happen
    timeout = 30  # an idle kept-alive connection ends eventually
    server_version = "peer/1.0"

    @property
    def peer(self) -> Peer:
        return self.server.peer  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet: tests read ``peer.requests`` instead."""

    def reply(
        self,
        status: int,
        body: bytes | str = b"",
        *,
        content_type: str = "text/html; charset=utf-8",
        headers: Headers | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
        for name, value in pairs:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._seen.body = body
        return body

    def form(self) -> dict[str, str]:
        charset = self.headers.get_content_charset() or "utf-8"
        fields = parse_qs(self.read_body().decode(charset, "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in fields.items()}

    def _dispatch(self) -> None:
        self._seen = self.peer._log(self)
        try:
            self._answer()
        finally:
            self.peer._done()

    def _answer(self) -> None:
        if self.peer.latency:
            time.sleep(self.peer.latency)
        path = urlsplit(self.path).path
        route = self.peer._routes.get((self.command, self.path)) or self.peer._routes.get(
            (self.command, path)
        )
        if route is not None:
            route(self)
        elif self.command in ("GET", "HEAD") and self.peer.post_kind(self.peer.url(path)):
            kind, slug = path.split("/")[1:3]
            html, headers = post_page(self.peer, kind, slug)
            self.reply(200, html, headers=headers)
        elif self.command == "POST" and path == "/webmention":
            self.webmention()
        elif self.command == "POST" and path == "/xmlrpc":
            self.pingback()
        elif self.command == "POST" and path.startswith("/trackback/"):
            self.trackback(path)
        else:
            if self.command == "POST":
                self.read_body()
            self.reply(404, "<p>not found</p>")

    do_GET = do_POST = do_HEAD = _dispatch

    def webmention(self) -> None:
        form = self.form()
        source, target = form.get("source", ""), form.get("target", "")
        kind = self.peer.post_kind(target)
        if not source.startswith(("http://", "https://")) or source == target:
            self.reply(
                400,
                "source must be an http(s) URL other than the target",
                content_type="text/plain",
            )
        elif kind is None or "webmention" not in PROTOCOLS_OF[kind]:
            self.reply(400, "target does not accept webmentions", content_type="text/plain")
        elif problem := self.peer.check_source(source, target):
            # W3C 3.2.3: a source that no longer links (or is gone) takes a mention back.
            if self.peer._take_back(source, target):
                self.reply(202, "mention deleted", content_type="text/plain")
            else:
                self.reply(400, problem, content_type="text/plain")
        else:
            self.peer._record(Received("webmention", source, target))
            self.reply(202, "accepted", content_type="text/plain")

    def pingback(self) -> None:
        try:
            params, method = xmlrpc.client.loads(self.read_body())
        except Exception:  # noqa: BLE001 - the client sent something that is not XML-RPC
            self._xmlrpc(xmlrpc.client.Fault(-32700, "parse error"))
            return
        if method != "pingback.ping" or len(params) != 2:
            self._xmlrpc(xmlrpc.client.Fault(-32601, f"unknown method {method}"))
            return
        source, target = (str(param) for param in params)
        kind = self.peer.post_kind(target)
        if kind is None:
            self._xmlrpc(xmlrpc.client.Fault(NO_TARGET, "The specified target URL does not exist."))
        elif "pingback" not in PROTOCOLS_OF[kind]:
            self._xmlrpc(xmlrpc.client.Fault(NOT_ENABLED, "The target cannot be used as a target."))
        elif problem := self.peer.check_source(source, target):
            code = NO_LINK if "link" in problem else SOURCE_MISSING
            self._xmlrpc(xmlrpc.client.Fault(code, problem))
        elif not self.peer._record(Received("pingback", source, target)):
            self._xmlrpc(
                xmlrpc.client.Fault(ALREADY_REGISTERED, "The pingback has already been registered.")
            )
        else:
            self._xmlrpc(f"Pingback from {source} to {target} registered.")

    def _xmlrpc(self, result: str | xmlrpc.client.Fault) -> None:
        answer = xmlrpc.client.dumps(
            result if isinstance(result, xmlrpc.client.Fault) else (result,), methodresponse=True
        )
        self.reply(200, answer, content_type="text/xml; charset=utf-8")

    def trackback(self, path: str) -> None:
        form = self.form()
        parts = path.strip("/").split("/")
        target = (
            self.peer.post_url(parts[1], parts[2]) if len(parts) == 3 and parts[1] in KINDS else ""
        )
        url = form.get("url", "")
        if not target or "trackback" not in PROTOCOLS_OF[self.peer.post_kind(target) or "none"]:
            self._trackback("This post does not accept trackbacks.")
        elif not url:
            self._trackback("The url field is required.")
        elif problem := self.peer.check_source(url, target):
            self._trackback(problem)
        else:
            item = Received(
                "trackback",
                url,
                target,
                title=form.get("title", ""),
                excerpt=form.get("excerpt", ""),
                blog_name=form.get("blog_name", ""),
                url=url,
            )
            self.peer._record(item)
            self._trackback(None)

    def _trackback(self, error: str | None) -> None:
        self.reply(200, trackback_answer(error), content_type="text/xml; charset=utf-8")


def trackback_answer(error: str | None) -> str:
    """The Trackback spec's response: ``<error>0</error>``, or 1 with a ``<message>``."""
    inner = (
        "<error>0</error>"
        if error is None
        else f"<error>1</error><message>{escape(error)}</message>"
    )
    return f'<?xml version="1.0" encoding="utf-8"?><response>{inner}</response>'


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet: tests read ``site.requests`` instead."""

    def send_head(self):  # type: ignore[no-untyped-def]
        site = self.server.site  # type: ignore[attr-defined]
        site.requests.append((self.command, self.path))
        site.seen.append(_seen(self))
        return super().send_head()


class StaticSite(_Background):
    """Serves ``root`` at ``url`` (with a trailing slash): the site as deployed; with ``name``
    and ``context`` over HTTPS as that name."""

    def __init__(
        self,
        root: str | Path,
        host: str = "127.0.0.3",
        *,
        name: str | None = None,
        context: ssl.SSLContext | None = None,
    ):
        self.root = Path(root)
        self.requests: list[tuple[str, str]] = []
        self.seen: list[Seen] = []
        self.server = _Server((host, 0), partial(_QuietFiles, directory=str(self.root)))
        self.server.site = self  # type: ignore[attr-defined]
        self.url = _origin(self.server, host, name, context) + "/"
