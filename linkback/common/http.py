"""The guarded HTTP client: every request linkback makes goes through :class:`Client`.

It is a thin layer over urllib3's connection pools that adds what a polite and safe sender
needs, using only urllib3's public interface:

- **Resolved addresses are checked.** The client resolves a URL's host itself (through a
  resolver it is given, else the system's), refuses the request if any address is not public
  (:func:`is_public`; ``allow_private`` lifts this), and connects to the checked address: a
  pool is keyed by that address (and the name), so no connection (redirects and pooled
  reconnects included) can reach an address that was not checked. TLS still speaks to the
  *name*: the pool's ``server_hostname`` carries it into SNI and the certificate check, and
  every request carries ``Host: name[:port]`` itself.
- **Names are resolved within the deadline.** A resolver that hangs holds a daemon thread, not
  the request (nor the process at exit). A name that does not resolve is a transient failure
  (DNS may be back on the next build); an address refused by the rule is ``blocked``; a name
  that cannot be a DNS name (a 64-letter label) is a permanent failure.
- **``timeout`` is a total deadline** over resolution, connection, TLS handshake, headers,
  body and redirects. A reaper thread shuts the sockets of a request that is still running at
  its deadline (the connection's while it connects or reads headers, the response's once
  http.client has handed the socket over), and keeps doing so until the request gives up.
  An answer cut off that way is never returned as if whole: it is a transient
  ``no complete answer within N s``. Only the byte cap truncates a body on purpose.
- **Bodies are capped**, decompressed bytes included: ``Accept-Encoding: identity`` is asked
  for, and a server that compresses anyway is decoded chunk by chunk (urllib3 >= 2.6 inflates
  no more than it is asked for), never past the cap.
- **Redirects are followed by hand** (at most ``max_redirects``), each hop checked again; a
  redirect's body is never read.
- **Certificates**: the CA bundle is ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``,
  ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` from the environment, as requests and OpenSSL read
  them, else certifi's. Proxy variables are never read: a proxy would step around the guard.

The test hook: ``LINKBACK_RESOLVE`` in the environment (or ``Client(resolver=...)``) maps host
names to addresses, in the style of curl's ``--resolve``::

    LINKBACK_RESOLVE="blog.test:*:127.0.0.2,peer.test:8443:127.0.0.3,*:*:-"

Each entry is ``HOST:PORT:ADDRESS[+ADDRESS...]``; ``*`` as the port matches any port, ``*``
as the host any host without an entry of its own, and ``-`` as the address means "does not
resolve" (so a test run can forbid every other DNS look-up). Names without an entry go to the
system resolver. The address guard applies to mapped addresses like any other (a loopback
address still needs ``allow_private``).
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, HTTPError, NewConnectionError, SSLError

from .outcome import Verdict
from .settings import ConfigError, Settings

MAX_REDIRECTS = 5
ANSWER_CAP = 64 * 1024  # XML-RPC and trackback answers
RESOLVE_ENV = "LINKBACK_RESOLVE"
RESOLVED_FOR = 30.0  # seconds an answer of the resolver is used again
_CHUNK = 16 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a request target may carry as it is; anything else (non-ASCII, spaces) is
# percent-encoded as UTF-8, as browsers and requests do.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")  # after IDNA; "_" is common

Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> addresses``; raises ``socket.gaierror`` (or any OSError) if none."""


class FetchError(Exception):
    """A request that produced no usable answer, and whether a later try may work
    (:attr:`Verdict.TRANSIENT`), may not (``PERMANENT``), or was refused by the address rule
    (``BLOCKED``, never tried again)."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


# The address rule ---------------------------------------------------------------------------

_DENIED_V4 = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (cloud metadata services live here)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments (192.0.0.8 and the like)
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_DENIED_V6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/8",  # unspecified, loopback, IPv4-compatible and -translated (mapped: decoded first)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001:2::/48",  # benchmarking
        "2001:10::/28",  # ORCHID
        "2001:20::/28",  # ORCHIDv2
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing identifiers
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated, still routed inside some networks)
        "ff00::/8",  # multicast
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def is_public(address: str) -> bool:
    """True for a globally routable unicast address only, by an explicit list (the tables of
    the running Python version differ). An IPv6 address that carries an IPv4 one (mapped,
    NAT64, 6to4, Teredo) is judged by what it carries, since that is where it leads."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in network for network in _DENIED_V4)
    return all(_is_public_v4(carried) for carried in _embedded_v4(ip)) and _is_public_v6(ip)


def _is_public_v4(ip: ipaddress.IPv4Address) -> bool:
    return not any(ip in network for network in _DENIED_V4)


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: mapped, NAT64, 6to4, Teredo (server and
    client)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in _SIX_TO_FOUR:
        return [ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)]
    if ip in _TEREDO:
        server = ipaddress.IPv4Address((int(ip) >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~int(ip) & 0xFFFFFFFF)
        return [server, client]
    return []


def _is_public_v6(ip: ipaddress.IPv6Address) -> bool:
    if ip.ipv4_mapped is not None or ip in _NAT64:
        return True  # judged by the IPv4 address it carries
    return ip in _GLOBAL_UNICAST_V6 and not any(ip in network for network in _DENIED_V6)


# Resolution ---------------------------------------------------------------------------------


def system_resolver(host: str, port: int) -> list[str]:
    """The system's answer (getaddrinfo), in its order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class ResolveRule:
    """One entry of ``LINKBACK_RESOLVE``: ``host`` and ``port`` (None: any) to ``addresses``
    (empty: the name does not resolve)."""

    host: str
    port: int | None
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class MappedResolver:
    """Names mapped to addresses by rules (curl's ``--resolve``); others go to ``fallback``."""

    rules: tuple[ResolveRule, ...]
    fallback: Resolver = field(default=system_resolver)

    @classmethod
    def parse(cls, spec: str, fallback: Resolver = system_resolver) -> MappedResolver:
        """Read ``HOST:PORT:ADDRESS[+ADDRESS...]`` entries separated by commas."""
        rules = []
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            host, sep1, rest = entry.partition(":")
            port, sep2, addresses = rest.partition(":")
            if not (sep1 and sep2 and host and addresses) or not (port == "*" or port.isdigit()):
                raise ValueError(f"{RESOLVE_ENV}: {entry!r} is not HOST:PORT:ADDRESS")
            chosen = () if addresses == "-" else tuple(addresses.split("+"))
            if not all(_is_ip(address) for address in chosen):
                raise ValueError(f"{RESOLVE_ENV}: {entry!r} has an address that is not an IP")
            rules.append(ResolveRule(host.lower(), None if port == "*" else int(port), chosen))
        return cls(tuple(rules), fallback)

    def __call__(self, host: str, port: int) -> Sequence[str]:
        host = host.lower()
        for wanted in (host, "*"):
            for rule in self.rules:
                if rule.host == wanted and rule.port in (None, port):
                    if not rule.addresses:
                        raise socket.gaierror(socket.EAI_NONAME, f"{host} does not resolve")
                    return rule.addresses
        return self.fallback(host, port)


def resolver_from(environ: Mapping[str, str]) -> Resolver:
    """``LINKBACK_RESOLVE``'s rules over the system resolver; ConfigError if it is malformed."""
    spec = environ.get(RESOLVE_ENV, "").strip()
    try:
        return MappedResolver.parse(spec) if spec else system_resolver
    except ValueError as error:
        raise ConfigError(str(error)) from None


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """Certificates checked with the CA bundle the environment names, as requests and OpenSSL
    read it (so that a site behind a company CA can be reached), else certifi's."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        if path := environ.get(name, ""):
            break
    else:
        name, path = "certifi", certifi.where()
    folder = os.path.isdir(path)
    try:
        return ssl.create_default_context(
            cafile=None if folder else path, capath=path if folder else None
        )
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"{name}: cannot load CA certificates from {path}: {error}") from None


# Deadlines ----------------------------------------------------------------------------------


class _Deadline:
    """What one request holds open; the reaper shuts it all when time is up."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.expired = False
        self.done = False
        self._connections: list[_DeadlineConnectionMixin] = []
        self._responses: list[urllib3.BaseHTTPResponse] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.001)

    def track_connection(self, connection: _DeadlineConnectionMixin) -> None:
        with self._lock:
            connection.deadline = self
            self._connections.append(connection)
            if self.expired:
                _shut(connection.sock)

    def track_response(self, response: urllib3.BaseHTTPResponse) -> None:
        with self._lock:
            self._responses.append(response)
            if self.expired:
                _shut_response(response)

    def expire(self) -> bool:
        """Shut everything; False once the request is over (nothing left to shut)."""
        with self._lock:
            if self.done:
                return False
            self.expired = True
            for connection in self._connections:
                if connection.deadline is self:  # not since reused by another request
                    _shut(connection.sock)  # connecting, handshaking, or reading headers
            for response in self._responses:
                _shut_response(response)  # reading a body http.client was handed
            return True

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._connections.clear()
            self._responses.clear()


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError, ValueError):
            sock.shutdown(socket.SHUT_RDWR)


def _shut_response(response: urllib3.BaseHTTPResponse) -> None:
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        response.shutdown()


class _Reaper:
    """One thread for all deadlines (a timer thread per request would cost a thread each).

    An expired request is shut again every ``AGAIN`` seconds until it ends: a socket that
    appeared just after the deadline (a connection completing) is caught that way too."""

    AGAIN = 0.1

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
                    deadline = heapq.heappop(self._heap)[2]
                    if deadline.expire():
                        entry = (now + self.AGAIN, next(self._counter), deadline)
                        heapq.heappush(self._heap, entry)
                self._wakeup.wait(self._heap[0][0] - now if self._heap else None)


_reaper = _Reaper()


class _Current(threading.local):
    """The deadline of the request running on this thread: urllib3 builds and reuses the
    connections, so this is how a connection learns whose deadline it serves."""

    deadline: _Deadline | None = None


_current = _Current()


class _DeadlineConnectionMixin:
    """Joins the current request's deadline whenever it connects or sends a request (public
    methods of http.client's connection; a pooled connection only does the latter).
    ``deadline`` is the request it serves now: an older request's deadline leaves it alone."""

    sock: socket.socket | None
    deadline: _Deadline | None = None

    def connect(self) -> None:
        self._join_deadline()
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._join_deadline()
        super().request(*args, **kwargs)  # type: ignore[misc]

    def _join_deadline(self) -> None:
        if _current.deadline is not None:
            _current.deadline.track_connection(self)


class _HTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


# The client ---------------------------------------------------------------------------------


@dataclass
class Response:
    """An answer read whole, or up to its cap: enough for discovery and for classifying a
    ping (a deadline that cuts the body is a FetchError, never a Response)."""

    url: str
    status: int
    headers: urllib3.HTTPHeaderDict
    body: bytes

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


@dataclass(frozen=True)
class _Target:
    """Where one hop goes: the URL's scheme, host (IDNA, lower case), port and the rest."""

    scheme: str
    host: str
    port: int
    host_header: str
    request_target: str

    @classmethod
    def of(cls, url: str) -> _Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise FetchError(f"not an http(s) URL: {url}", Verdict.PERMANENT)
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
            host = (parts.hostname or "").rstrip(".")
            host = host if _is_ip(host) else host.encode("idna").decode("ascii")
        except (ValueError, UnicodeError) as error:
            raise FetchError(f"invalid URL {url}: {error}", Verdict.PERMANENT) from None
        if not _HOST_NAME.fullmatch(host) and not _is_ip(host):
            raise FetchError(f"invalid host name in URL {url}", Verdict.PERMANENT)
        shown = f"[{host}]" if ":" in host else host
        if parts.port is not None and parts.port != _DEFAULT_PORTS[scheme]:
            shown = f"{shown}:{port}"
        path = quote(parts.path or "/", safe=_URL_SAFE)
        query = "?" + quote(parts.query, safe=_URL_SAFE) if parts.query else ""
        return cls(scheme, host, port, shown, path + query)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class Client:
    """A pooled, guarded HTTP client shared by all the threads of one run.

    ``resolver`` replaces the system resolver (tests map ``*.test`` names to loopback);
    ``environ`` (default ``os.environ``) gives ``LINKBACK_RESOLVE`` and the CA bundle; either
    malformed is a ConfigError."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_redirects: int = MAX_REDIRECTS,
        resolver: Resolver | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.settings = settings
        self.max_redirects = max_redirects
        self.resolver = resolver or resolver_from(environ)
        self._pools = urllib3.PoolManager(
            num_pools=max(256, settings.concurrency * 8),  # hosts kept warm
            maxsize=max(settings.per_host, 2),
            ssl_context=tls_context(environ),
        )
        self._pools.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        self._headers = {
            "User-Agent": settings.agent,
            "Accept": "*/*",
            "Accept-Encoding": "identity",
        }
        self._resolved: dict[tuple[str, int], tuple[float, Sequence[str]]] = {}
        self._made = 0
        self._count_lock = threading.Lock()  # also guards _resolved

    @property
    def requests_made(self) -> int:
        return self._made

    def close(self) -> None:
        self._pools.clear()

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
        """One request, redirects followed, within one total deadline of ``timeout`` seconds.

        ``data`` is bytes, text (sent as UTF-8) or a mapping (sent as a URL-encoded form)."""
        deadline = _Deadline(time.monotonic() + self.settings.timeout)
        _current.deadline = deadline
        _reaper.add(deadline)
        try:
            return self._follow(method, url, cap, _encode(data), headers or {}, deadline)
        except (HTTPError, OSError, http.client.HTTPException, ValueError) as error:
            if deadline.expired:
                raise self._cut_off() from None
            raise FetchError(_describe(error), Verdict.TRANSIENT) from None
        finally:
            deadline.finish()
            _current.deadline = None

    def _cut_off(self) -> FetchError:
        return FetchError(
            f"no complete answer within {self.settings.timeout:g} s", Verdict.TRANSIENT
        )

    def _follow(
        self,
        method: str,
        url: str,
        cap: int,
        body: bytes | None,
        headers: dict[str, str],
        deadline: _Deadline,
    ) -> Response:
        for _ in range(self.max_redirects + 1):
            target = _Target.of(url)
            address = self._address(target, deadline)
            with self._count_lock:
                self._made += 1
            # One pool per (address, name): TLS speaks to the name, and the per-host limit
            # of the scheduler (by name) is the pool's size, even when names share an address.
            pool = self._pools.connection_from_host(
                address, target.port, target.scheme, {"server_hostname": target.host}
            )
            remaining = deadline.remaining()
            answer = pool.urlopen(
                method,
                target.request_target,
                body=body,
                headers={**self._headers, **headers, "Host": target.host_header},
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                timeout=urllib3.Timeout(connect=remaining, read=remaining),
            )
            deadline.track_response(answer)
            if deadline.expired:  # the headers may be cut short: nothing in them counts
                _discard(answer)
                raise self._cut_off()
            location = answer.headers.get("Location")
            if answer.status not in _REDIRECTS or location is None:
                return self._read(url, answer, cap, deadline)
            _discard(answer)
            url = urljoin(url, _redirect_location(location))
            if answer.status in (301, 302, 303) and method != "GET":
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        raise FetchError(f"more than {self.max_redirects} redirects", Verdict.PERMANENT)

    def _address(self, target: _Target, deadline: _Deadline) -> str:
        """The one address this hop connects to, resolved within the deadline and checked."""
        addresses = [target.host] if _is_ip(target.host) else self._resolve(target, deadline)
        if not self.settings.allow_private:
            refused = [address for address in addresses if not is_public(address)]
            if refused:
                raise FetchError(
                    f"{target.host} resolves to non-public address {refused[0]} "
                    "(set allow_private to allow)",
                    Verdict.BLOCKED,
                )
        return addresses[0]

    def _resolve(self, target: _Target, deadline: _Deadline) -> Sequence[str]:
        """The addresses of a name, asked for within the deadline and kept a short while (a
        page and its endpoints are usually on one host)."""
        key = (target.host, target.port)
        with self._count_lock:
            known = self._resolved.get(key)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        lookup = _in_background(self.resolver, target.host, target.port)
        try:
            addresses = lookup.result(timeout=deadline.remaining())
        except FutureTimeout:
            raise FetchError(
                f"cannot resolve {target.host} within {self.settings.timeout:g} s",
                Verdict.TRANSIENT,
            ) from None
        except (OSError, UnicodeError) as error:
            # NXDOMAIN included: a name may be registered, or DNS back, by the next build.
            raise FetchError(f"cannot resolve {target.host}: {error}", Verdict.TRANSIENT) from None
        if not addresses:
            raise FetchError(f"cannot resolve {target.host}: no address", Verdict.TRANSIENT)
        now = time.monotonic()
        with self._count_lock:
            if len(self._resolved) >= 4096:  # a long-running service sees many hosts
                self._resolved = {k: v for k, v in self._resolved.items() if v[0] > now}
            self._resolved[key] = (now + RESOLVED_FOR, addresses)
        return addresses

    def _read(
        self, url: str, answer: urllib3.BaseHTTPResponse, cap: int, deadline: _Deadline
    ) -> Response:
        """Read at most ``cap`` (decoded) bytes; a body that goes on is cut and its connection
        dropped. A body the deadline cut is an error, whatever it looked like."""
        chunks: list[bytes] = []
        size = 0
        truncated = False
        for chunk in answer.stream(_CHUNK, decode_content=True):
            chunks.append(chunk)
            size += len(chunk)
            if size >= cap:
                truncated = True
                break
        if deadline.expired:
            _discard(answer)
            raise self._cut_off()
        deadline.finish()  # read whole: the connection may serve another request now
        if truncated:
            _discard(answer)  # not back to the pool: the rest of the body is never read
        else:
            answer.release_conn()
        body = b"".join(chunks)[:cap]
        return Response(url, answer.status, answer.headers, body)


def _in_background(resolver: Resolver, host: str, port: int) -> Future[Sequence[str]]:
    """Run a look-up on a daemon thread of its own: one that hangs past the deadline is left
    behind, and cannot hold the process at exit as a pool's worker would."""
    future: Future[Sequence[str]] = Future()

    def run() -> None:
        try:
            future.set_result(resolver(host, port))
        except BaseException as error:  # noqa: BLE001 - handed to the waiting request
            future.set_exception(error)

    threading.Thread(target=run, name="linkback-resolve", daemon=True).start()
    return future


def _discard(answer: urllib3.BaseHTTPResponse) -> None:
    """Close an answer without reading it; its connection goes back to the pool closed."""
    answer.close()
    answer.release_conn()


def _encode(data: Any) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, Mapping):
        return urlencode(list(data.items())).encode("ascii")
    if isinstance(data, Iterable):
        return urlencode(list(data)).encode("ascii")
    raise TypeError(f"cannot send {type(data).__name__} as a request body")


def _redirect_location(location: str) -> str:
    """http.client reads header bytes as Latin-1; a UTF-8 Location is decoded as meant."""
    try:
        return location.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return location


def _describe(error: BaseException) -> str:
    """A short, readable reason for the sent-log (urllib3's messages nest several layers)."""
    if isinstance(error, DecodeError):
        return "undecodable body"
    if isinstance(error, SSLError | ssl.SSLError):
        cause = error.args[0] if isinstance(error, SSLError) and error.args else error
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate not accepted: {cause.verify_message}"
        return f"TLS failed: {cause}"
    cause = error.__cause__ if isinstance(error, NewConnectionError) else error
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ConnectionResetError):
        return "connection reset"
    if isinstance(cause, TimeoutError | socket.timeout | urllib3.exceptions.TimeoutError):
        return "timed out"
    return "connection failed"
