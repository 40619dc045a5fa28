"""The total deadline on every read path, over HTTP and HTTPS (SPEC ``timeout``).

Each server here drips its answer faster than a socket time-out would notice (a byte every
0.2 s) and for far longer than the deadline, in each shape an answer can take: with and without
Content-Length, chunked, ``Connection: close``, HTTP/1.0, gzip, dripping headers, and a TLS
handshake that never ends. Each request must end within ``timeout`` plus a second as a
transient failure, never as an answer that looks whole: a cut-off page would otherwise be
recorded ``no-endpoint`` for ever.
"""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import pytest

from linkback import Settings, Source, send
from linkback.common.http import Client, FetchError
from linkback.common.outcome import Verdict
from tests.conftest import entry, links_to
from tests.peer import Peer, PeerHandler, Route
from tests.tls import Web

TIMEOUT = 1.0
EVERY = 0.2  # seconds between two bytes: well under the time-out of one socket read
LONG = 150  # bytes dripped: 30 s, far past the deadline
HTML = b"text/html; charset=utf-8"


def dripping(head: bytes, body: Callable[[int], bytes] = lambda _: b"<") -> Route:
    """An answer that sends ``head`` at once, then ``body(i)`` every EVERY seconds."""

    def answer(handler: PeerHandler) -> None:
        handler.close_connection = True
        handler.wfile.write(head)
        handler.wfile.flush()
        for number in range(LONG):
            time.sleep(EVERY)
            handler.wfile.write(body(number))
            handler.wfile.flush()

    return answer


def _gzip_bytes() -> Iterator[bytes]:
    page = b'<html><head><link rel="webmention" href="/wm"></head><body>' + b"<p>x</p>" * 5000
    compressed = gzip.compress(page)
    return iter(compressed[i : i + 1] for i in range(len(compressed)))


def gzip_drip(handler: PeerHandler) -> None:
    chunks = _gzip_bytes()
    dripping(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Connection: close\r\n\r\n",
        lambda _: next(chunks, b""),
    )(handler)


SHAPES: dict[str, Route] = {
    "content-length": dripping(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n"
    ),
    "connection-close": dripping(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
    ),
    "chunked": dripping(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n",
        lambda _: b"1\r\n<\r\n",
    ),
    "http-1.0": dripping(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n"),
    "gzip": gzip_drip,
    "headers": dripping(b"HTTP/1.1 200 OK\r\n", lambda n: b"X-Pad-%d: a\r\n" % n),
    "status-line": dripping(b"", lambda n: b"HTTP/1.1 200 OK\r\n"[n : n + 1] or b" "),
}


@pytest.fixture(params=["https", "http"])
def server(request: pytest.FixtureRequest, web: Web) -> Peer:
    return web.peer("slow.test", tls=request.param == "https")


@pytest.fixture
def quick(make_https_settings: Callable[..., Settings]) -> Settings:
    return make_https_settings(timeout=TIMEOUT)


def ends_as_a_transient_failure(client: Client, url: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=f"no complete answer within {TIMEOUT:g} s") as failed:
        client.get(url)
    assert time.monotonic() - started < TIMEOUT + 1
    assert failed.value.verdict is Verdict.TRANSIENT


@pytest.mark.parametrize("shape", SHAPES)
def test_every_read_path_ends_at_the_deadline(
    shape: str, server: Peer, web: Web, quick: Settings
) -> None:
    url = server.add_handler(f"/{shape}/", SHAPES[shape])
    ends_as_a_transient_failure(Client(quick, resolver=web.resolve), url)


def test_a_tls_handshake_that_drips_ends_at_the_deadline(web: Web, quick: Settings) -> None:
    """A server that starts a TLS record of 16 KiB and sends it a byte at a time."""
    listener = socket.create_server((web.address("handshake.test"), 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            record = b"\x16\x03\x03\x40\x00" + bytes(LONG)
            for byte in record:
                if stop.wait(EVERY):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        client = Client(quick, resolver=web.resolve)
        ends_as_a_transient_failure(client, f"https://handshake.test:{port}/")
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def test_a_deadline_during_redirects_covers_them_all(
    server: Peer, web: Web, quick: Settings
) -> None:
    """Each hop is quick, but the chain is not: one deadline for the whole request."""

    def slow_hop(handler: PeerHandler) -> None:
        time.sleep(0.4)
        handler.reply(302, "", headers={"Location": "/hop/"})

    url = server.add_handler("/hop/", slow_hop)
    client = Client(quick, resolver=web.resolve, max_redirects=10)
    started = time.monotonic()
    with pytest.raises(FetchError) as failed:
        client.get(url)
    assert time.monotonic() - started < TIMEOUT + 1
    assert failed.value.verdict is Verdict.TRANSIENT


def cut_short(head: bytes, body: bytes) -> Route:
    """An answer that ends (the server closes) before the body it announced."""

    def answer(handler: PeerHandler) -> None:
        handler.close_connection = True
        handler.wfile.write(head + body)

    return answer


@pytest.mark.parametrize(
    "route",
    [
        cut_short(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", b"<html>"),
        cut_short(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"6\r\n<html>\r\n"),
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_the_server_cuts_short_is_a_transient_failure(
    route: Route, server: Peer, web: Web, quick: Settings
) -> None:
    url = server.add_handler("/short/", route)
    with pytest.raises(FetchError) as failed:
        Client(quick, resolver=web.resolve).get(url)
    assert failed.value.verdict is Verdict.TRANSIENT


# What the engine records for a cut-off page --------------------------------------------------


def late_link_header(handler: PeerHandler) -> None:
    """The endpoint is announced in a header that comes after the deadline."""
    handler.close_connection = True
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n")
    handler.wfile.flush()
    time.sleep(TIMEOUT + 0.5)
    handler.wfile.write(b'Link: </wm>; rel="webmention"\r\n\r\n')


def late_link_element(handler: PeerHandler) -> None:
    """A page without length whose ``<link rel="webmention">`` comes after the deadline."""
    handler.close_connection = True
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
    handler.wfile.write(b"<html><head><title>slow</title>")
    handler.wfile.flush()
    time.sleep(TIMEOUT + 0.5)
    handler.wfile.write(b'<link rel="webmention" href="/wm"></head></html>')


@pytest.mark.parametrize("route", [late_link_header, late_link_element])
def test_a_cut_off_page_is_retried_not_settled_as_no_endpoint(
    route: Route,
    web: Web,
    https_publish: Callable[..., Source],
    make_https_settings: Callable[..., Settings],
) -> None:
    peer = web.peer("late.test")
    peer.add_endpoint("/wm")
    target = peer.add_handler("/late/", route)
    settings = make_https_settings(timeout=TIMEOUT)
    source = https_publish("post", links_to(target))
    send([source], settings)
    result = entry(settings, source.url, target)
    assert (result["status"], result["retry"]) == ("failed", True)
    assert result["detail"] == f"no complete answer within {TIMEOUT:g} s"


# Decompressed bytes -------------------------------------------------------------------------


def nested_gzip_bomb() -> bytes:
    """200 MB of zeros, gzipped twice (``Content-Encoding: gzip, gzip``): a few hundred bytes."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    layer = b"".join(inner.compress(zeros) for _ in range(200)) + inner.flush()
    return gzip.compress(layer)


def test_a_nested_gzip_bomb_never_exceeds_the_cap_in_memory(
    blog: Peer, web: Web, make_https_settings: Callable[..., Settings]
) -> None:
    url = blog.add_page("/bomb/", nested_gzip_bomb(), headers={"Content-Encoding": "gzip, gzip"})
    client = Client(make_https_settings(max_page_bytes=100_000), resolver=web.resolve)
    client.get(blog.url("/"))  # the connection and TLS set up outside the measure
    tracemalloc.start()
    try:
        response = client.get(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(response.body) == 100_000
    assert peak < 10_000_000
    assert blog.seen[-1].headers["Accept-Encoding"] == "identity"


def test_linkback_discover_ends_at_the_deadline(server: Peer, tmp_path) -> None:
    """The command as a user runs it: a page without length used to hold it for a minute."""
    url = server.add_handler("/close/", SHAPES["connection-close"])
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "linkback", "discover", url, "--allow-private", "--timeout", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 5  # a second, and the interpreter's start
    assert done.returncode == 1
    assert done.stderr.strip() == f"{url}: no complete answer within 1 s"


HANGING_RESOLVER = """
import time
from linkback import Settings
from linkback.common.http import Client, FetchError

def hanging(host, port):
    time.sleep(30)
    return ["127.0.0.2"]

settings = Settings.from_mapping({"timeout": 1}, spelling="plain", site_url="https://a.test")
try:
    Client(settings, resolver=hanging).get("https://stuck.test/")
except FetchError as error:
    print(error)
"""


def test_a_hanging_resolver_holds_neither_the_request_nor_the_exit(tmp_path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", HANGING_RESOLVER],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "cannot resolve stuck.test within 1 s", done.stderr
    assert time.monotonic() - started < 5  # not the resolver's 30 s
