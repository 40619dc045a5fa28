"""HTTPS to host names on loopback: a test certificate authority, named servers, and the hook
that makes linkback resolve those names, in this process and in the commands it starts.

The real web is HTTPS to host names; these helpers make the tests the same, offline:

- :class:`TestCA` is a certificate authority made for the test session (``trustme``); it
  issues each server a valid certificate for its name. Its certificate is written to
  ``TestCA.file``.
- :class:`Web` (fixture ``web``) gives each host name its own loopback address (``127.0.1.1``,
  ``127.0.1.2``, ... in the order names are first used) and starts servers under those names:
  ``web.peer("blog.test")`` is a :class:`~tests.peer.Peer` at ``https://blog.test:PORT``,
  ``web.site("site.test", folder)`` a :class:`~tests.peer.StaticSite`. Both record what they
  saw (``.seen``: SNI, ``Host``, request line, headers, body).
- How linkback finds them: the guarded client's resolver hook. In this process and in every
  subprocess (``linkback``, ``pelican``, ``mkdocs build``), the ``web`` fixture sets
  ``LINKBACK_RESOLVE`` (``blog.test:*:127.0.1.1,...,*:*:-``: any other name does not resolve,
  so no test ever asks a real DNS server) and ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` to the
  CA's file, and keeps them current as names are added; a :class:`~linkback.common.http.Client` made
  after that (directly, or inside ``send``) finds them. ``web.resolve`` is the same mapping as
  a resolver to pass as ``Client(settings, resolver=web.resolve)``. ``/etc/hosts`` is never
  touched. The address guard still applies: loopback needs ``allow_private``.
- ``web.open(url)`` fetches a URL as an independent client would (http.client and ssl, not
  linkback's code), through the same names; the peers use it to verify the source of a ping.

Fixtures (tests/conftest.py): ``ca`` (session), ``web``, ``blog`` (``web.peer("blog.test")``),
``https_site`` (``web.site("site.test", site_dir)``), ``make_https_settings`` and
``https_publish`` (as ``make_settings`` / ``publish``, for ``https_site``). Other uses:

- plain HTTP under a name: ``web.peer("plain.test", tls=False)``;
- a server of one's own (a receiver started as a subprocess, say) under a name: listen on
  ``web.address("inbox.test")`` with ``web.ca.server_context("inbox.test")``;
- a subprocess whose environment is built from scratch: add ``web.environ()`` to it.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from pathlib import Path
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import pytest
import trustme

from tests.peer import Peer, StaticSite, remember_sni

FIRST_ADDRESS = ipaddress.IPv4Address("127.0.1.1")
_Server = TypeVar("_Server", Peer, StaticSite)


class TestCA:
    """A certificate authority trusted only by the tests; ``file`` is its certificate (PEM)."""

    __test__ = False  # not a test class, whatever its name says

    def __init__(self, folder: Path) -> None:
        self._ca = trustme.CA(organization_name="linkback tests")
        self.file = folder / "linkback-test-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.file))

    def server_context(self, *names: str) -> ssl.SSLContext:
        """A server's TLS context: a certificate for ``names``, and the SNI it is asked for
        kept on each connection (``Seen.sni``)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(*names).configure_cert(context)
        context.sni_callback = remember_sni
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.file))


class Web:
    """Host names on loopback, each with its own address, and the servers answering as them."""

    def __init__(self, ca: TestCA, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ca = ca
        self.addresses: dict[str, str] = {}
        self._monkeypatch = monkeypatch
        self._running: list[Peer | StaticSite] = []
        monkeypatch.setenv("SSL_CERT_FILE", str(ca.file))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.file))
        monkeypatch.setenv("LINKBACK_RESOLVE", self.spec)

    # Names ------------------------------------------------------------------------------------

    def address(self, name: str) -> str:
        """The loopback address of ``name``, given on first use."""
        name = name.lower()
        if name not in self.addresses:
            self.addresses[name] = str(FIRST_ADDRESS + len(self.addresses))
            self._monkeypatch.setenv("LINKBACK_RESOLVE", self.spec)
        return self.addresses[name]

    @property
    def spec(self) -> str:
        """The ``LINKBACK_RESOLVE`` value: every name, and no other name resolves."""
        return ",".join([*(f"{n}:*:{a}" for n, a in self.addresses.items()), "*:*:-"])

    def resolve(self, host: str, port: int) -> list[str]:
        """A resolver for ``Client(resolver=...)``: known names only, never real DNS."""
        try:
            return [self.addresses[host.lower()]]
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not a test name") from None

    def environ(self) -> dict[str, str]:
        """What a subprocess needs to reach these servers (the fixture sets it already)."""
        return {
            "LINKBACK_RESOLVE": self.spec,
            "SSL_CERT_FILE": str(self.ca.file),
            "REQUESTS_CA_BUNDLE": str(self.ca.file),
        }

    # Servers ----------------------------------------------------------------------------------

    def peer(self, name: str, *, tls: bool = True, **options: object) -> Peer:
        """A started :class:`Peer` serving HTTPS (plain HTTP if not ``tls``) as ``name``; it
        verifies pings through :meth:`open`. ``options`` go to ``Peer`` (``verify``, ...)."""
        peer = Peer(
            self.address(name),
            name=name,
            context=self.ca.server_context(name) if tls else None,
            fetch=self.open,
            **options,  # type: ignore[arg-type]
        )
        return self._start(peer)

    def site(self, name: str, root: Path, *, tls: bool = True) -> StaticSite:
        """A started :class:`StaticSite` serving ``root`` over HTTPS (or HTTP) as ``name``."""
        context = self.ca.server_context(name) if tls else None
        return self._start(StaticSite(root, self.address(name), name=name, context=context))

    def _start(self, server: _Server) -> _Server:
        server.start()
        self._running.append(server)
        return server

    def close(self) -> None:
        for server in reversed(self._running):
            server.stop()

    # An independent client --------------------------------------------------------------------

    def open(self, url: str, *, timeout: float = 2.0, cap: int = 1_000_000) -> tuple[bytes, str]:
        """GET ``url`` through the test names (redirects followed): (body, final URL).
        Raises on a refused certificate, a connection failure or an HTTP error."""
        for _ in range(6):
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = host if _is_ip(host) else self.resolve(host, port)[0]
            sock = socket.create_connection((address, port), timeout=timeout)
            if parts.scheme == "https":
                sock = self.ca.client_context().wrap_socket(sock, server_hostname=host)
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
            connection.sock = sock  # connected already: http.client uses it as it is
            try:
                path = parts.path or "/"
                connection.request(
                    "GET",
                    path + (f"?{parts.query}" if parts.query else ""),
                    headers={"Host": parts.netloc},
                )
                response = connection.getresponse()
                location = response.getheader("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    url = urljoin(url, location)
                    continue
                if response.status >= 400:
                    raise OSError(f"HTTP {response.status} at {url}")
                return response.read(cap), url
            finally:
                connection.close()
        raise OSError(f"too many redirects from {url}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
