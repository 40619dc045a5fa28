"""The guarded HTTP client: every request linkback makes goes through :class:`Client`.

It adds to a pooled ``requests`` session what a polite and safe sender needs:

- the resolved address of every connection (redirects included) is checked before connecting,
  so a hostile page cannot point linkback at the intranet (``allow_private`` lifts this);
- ``timeout`` is a total deadline: a reaper thread shuts the socket of a request that is still
  running at its deadline, so a server dripping one byte a second cannot hold a request;
- bodies are read up to a cap and redirects are followed by hand (at most 5), so an
  intermediate redirect body is never read either.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import socket
import threading
import time
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .settings import Settings

MAX_REDIRECTS = 5
ANSWER_CAP = 64 * 1024  # XML-RPC and trackback answers
_CHUNK = 16 * 1024


class FetchError(Exception):
    """A request that produced no usable answer; ``transient`` says if a later try may work."""

    def __init__(self, message: str, *, transient: bool, blocked: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.blocked = blocked


class BlockedAddressError(Exception):
    """Raised inside a connection attempt; deliberately not an OSError so urllib3 passes it on."""


def is_public(address: str) -> bool:
    """True for globally routable unicast addresses only."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class _RequestContext(threading.local):
    """What the connection classes need to know about the request running on this thread."""

    allow_private: bool = False
    deadline: _Deadline | None = None


_context = _RequestContext()


class _Deadline:
    """The connections a request uses; the reaper shuts them down when time is up."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.expired = False
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self._done = False

    def track(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for connection in self._connections:
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._connections.clear()


class _Reaper:
    """One thread for all deadlines (a timer thread per request would cost a thread each)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._counter = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline) -> None:
        with self._wakeup:
            heapq.heappush(self._heap, (deadline.at, next(self._counter), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="linkback-reaper", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is deadline:  # else the reaper wakes up earlier anyway
                self._wakeup.notify()

    def _run(self) -> None:
        with self._wakeup:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    heapq.heappop(self._heap)[2].expire()
                self._wakeup.wait(self._heap[0][0] - now if self._heap else None)


_reaper = _Reaper()


class _GuardedConnectionMixin:
    """Checks the resolved address before connecting, and joins the request's deadline."""

    def _new_conn(self) -> socket.socket:
        if not _context.allow_private:
            self._dns_host = _checked_address(self._dns_host, self.port)  # type: ignore[attr-defined]
        return super()._new_conn()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        if _context.deadline is not None:
            _context.deadline.track(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


def _checked_address(host: str, port: int) -> str:
    """Resolve once and return the address to connect to, so DNS cannot change in between."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise BlockedAddressError(f"cannot resolve {host}: {error}") from None
    addresses = [info[4][0] for info in infos]
    refused = [address for address in addresses if not is_public(address)]
    if refused:
        raise BlockedAddressError(
            f"{host} resolves to non-public address {refused[0]} (set allow_private to allow)"
        )
    return addresses[0]


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


@dataclass
class Response:
    """An answer read within its cap: enough for discovery and for classifying a ping."""

    url: str
    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes
    truncated: bool = False

    @property
    def media_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for parameter in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


class Client:
    """A pooled, guarded session shared by all the threads of one run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy would hide the address actually contacted
        self.session.headers["User-Agent"] = settings.agent
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = _GuardedAdapter(
            pool_connections=max(256, settings.concurrency * 8),  # hosts kept warm
            pool_maxsize=max(settings.per_host, 2),
            max_retries=0,
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._made = 0
        self._count_lock = threading.Lock()

    @property
    def requests_made(self) -> int:
        return self._made

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, *, cap: int | None = None) -> Response:
        return self.request("GET", url, cap=cap or self.settings.max_page_bytes)

    def post(self, url: str, *, data: Any, headers: dict[str, str] | None = None) -> Response:
        return self.request("POST", url, data=data, headers=headers, cap=ANSWER_CAP)

    def request(
        self,
        method: str,
        url: str,
        *,
        cap: int,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """One request, redirects followed, within one total deadline of ``timeout`` seconds."""
        deadline = _Deadline(time.monotonic() + self.settings.timeout)
        _context.allow_private = self.settings.allow_private
        _context.deadline = deadline
        _reaper.add(deadline)
        try:
            return self._follow(method, url, cap, data, headers, deadline)
        except BlockedAddressError as error:
            raise FetchError(str(error), transient=False, blocked=True) from None
        except (requests.RequestException, OSError) as error:
            if deadline.expired:
                raise FetchError(
                    f"no complete answer within {self.settings.timeout:g} s", transient=True
                ) from None
            raise FetchError(_describe(error), transient=True) from None
        finally:
            deadline.finish()
            _context.deadline = None

    def _headers(self, extra: dict[str, str] | None) -> CaseInsensitiveDict[str]:
        """The session's headers and the request's own, merged here rather than by
        ``Session.request``: it would also merge cookies, auth, proxies and parameters that
        linkback never sets, and that costs a quarter of each request's CPU. Preparing the
        request copies them anyway, so a GET (no headers of its own) passes the session's."""
        if not extra:
            return self.session.headers
        merged = CaseInsensitiveDict(self.session.headers)
        merged.update(extra)
        return merged

    def _follow(
        self,
        method: str,
        url: str,
        cap: int,
        data: Any,
        headers: dict[str, str] | None,
        deadline: _Deadline,
    ) -> Response:
        for _ in range(MAX_REDIRECTS + 1):
            scheme = urlsplit(url).scheme
            if scheme not in ("http", "https"):
                raise FetchError(f"not an http(s) URL: {url}", transient=False)
            remaining = max(deadline.at - time.monotonic(), 0.001)
            with self._count_lock:
                self._made += 1
            prepared = requests.Request(
                method, url, headers=self._headers(headers), data=data
            ).prepare()
            answer = self.session.send(
                prepared, timeout=(remaining, remaining), allow_redirects=False, stream=True
            )
            with answer:
                location = answer.headers.get("Location") if answer.is_redirect else None
                if location is None:
                    body, truncated = _read_capped(answer, cap, deadline)
                    return Response(url, answer.status_code, answer.headers, body, truncated)
            url = urljoin(url, self.session.get_redirect_target(answer) or location)
            if answer.status_code in (301, 302, 303) and method != "GET":
                method, data = "GET", None
        raise FetchError(f"more than {MAX_REDIRECTS} redirects", transient=False)


def _read_capped(answer: requests.Response, cap: int, deadline: _Deadline) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes; a body that goes on is cut and its connection dropped."""
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_content(_CHUNK):
        if deadline.expired:
            raise requests.Timeout("deadline")
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap:
            answer.raw.close()  # not back to the pool: the rest of the body is never read
            return b"".join(chunks)[:cap], True
    return b"".join(chunks), False


def _describe(error: Exception) -> str:
    """A short, readable reason for the sent-log (requests' messages nest several layers)."""
    if isinstance(error, requests.ConnectTimeout | requests.ReadTimeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        text = str(error)
        for marker in ("Connection refused", "Name or service not known", "Connection reset"):
            if marker in text:
                return marker.lower()
        return "connection failed"
    if isinstance(error, requests.exceptions.ContentDecodingError):
        return "undecodable body"
    return type(error).__name__
