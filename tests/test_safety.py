"""Hostile targets and the private-address rule (SPEC "Safety").

A bad target must end as that link's recorded failure within the time-out, while the run
goes on and ends normally.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable

import pytest

from linkback import Settings, Source, send
from linkback.common.http import Client, FetchError, is_public
from linkback.common.outcome import Verdict
from tests.conftest import entry, links_to
from tests.peer import Answer, Peer, PeerHandler, Route

Publish = Callable[..., Source]
TIMEOUT = 1.0

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
XMLRPC_BOMB = BOMB + (
    "<methodResponse><params><param><value><string>&lol9;</string></value></param>"
    "</params></methodResponse>"
)
TRACKBACK_BOMB = BOMB + "<response><error>0</error><message>&lol9;</message></response>"


@pytest.fixture
def hostile_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(timeout=TIMEOUT, max_page_bytes=100_000)


def dripping(seconds_a_byte: float) -> Route:
    """A page of 60 bytes that come one every ``seconds_a_byte``."""

    def drip(handler: PeerHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", "60")
        handler.end_headers()
        for _ in range(60):
            handler.wfile.write(b"<")
            handler.wfile.flush()
            time.sleep(seconds_a_byte)

    return drip


drip = dripping(1)  # a minute in all


def drip_headers(handler: PeerHandler) -> None:
    """An answer whose status line and headers come one byte a second."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" * 3:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(1)


class Flood:
    """A page far larger than max_page_bytes; counts the bytes it managed to send."""

    size = 200_000_000
    chunk = 64 * 1024

    def __init__(self, head: bytes = b"") -> None:
        self.head = head
        self.sent = 0
        self.done = threading.Event()

    def __call__(self, handler: PeerHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(self.size))
        handler.end_headers()
        try:
            handler.wfile.write(self.head)
            self.sent += len(self.head)
            filler = b"<p>" + b"x" * (self.chunk - 3)
            while self.sent < self.size:
                handler.wfile.write(filler)
                self.sent += len(filler)
        finally:
            self.done.set()


def run_one(source: Source, settings: Settings, target: str) -> tuple[dict, float]:
    started = time.monotonic()
    report = send([source], settings)
    assert report.links == 1
    return entry(settings, source.url, target), time.monotonic() - started


@pytest.mark.parametrize(("path", "handler"), [("/drip/", drip), ("/drip-headers/", drip_headers)])
def test_dripping_page_or_headers_end_within_the_time_out(
    peer: Peer, publish: Publish, hostile_settings: Settings, path: str, handler: Route
) -> None:
    target = peer.add_handler(path, handler)
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["retry"]) == ("failed", True)
    assert seconds < 4


def test_dripping_endpoint_ends_within_the_time_out(
    peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    peer.add_handler("/wm", drip, method="POST")
    target = peer.add_target("t", webmention=peer.url("/wm"))
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["protocol"], result["retry"]) == ("failed", "webmention", True)
    assert seconds < 4


def test_huge_page_is_read_no_further_than_the_cap(
    peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm")
    flood = Flood(f'<html><head><link rel="webmention" href="{endpoint.url}"></head>'.encode())
    target = peer.add_handler("/huge/", flood)
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert result["status"] == "sent"  # the endpoint was in the part that was read
    assert flood.done.wait(5)
    assert flood.sent < Flood.size / 20
    assert seconds < 4


def test_huge_page_without_endpoint_in_reach(
    peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    flood = Flood()
    target = peer.add_handler("/huge/", flood)
    result, _ = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert result["status"] in ("no-endpoint", "failed")
    assert flood.done.wait(5)
    assert flood.sent < Flood.size / 20


def test_huge_xmlrpc_answer_is_capped(
    peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    flood = Flood(b"<?xml version='1.0'?><methodResponse><params><param><value><string>")
    peer.add_handler("/xmlrpc", flood, method="POST")
    target = peer.add_target("t", pingback=peer.url("/xmlrpc"))
    result, _ = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["protocol"]) == ("failed", "pingback")
    assert flood.done.wait(5)
    assert flood.sent < Flood.size / 20


def test_redirect_loop(peer: Peer, publish: Publish, hostile_settings: Settings) -> None:
    target = peer.add_page("/loop/", "", status=302, headers={"Location": "/loop/"})
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["retry"]) == ("failed", False)
    assert "redirect" in result["detail"]
    assert len(peer.requests) == 6  # the first request and 5 redirects
    assert seconds < 4


def test_five_redirects_are_followed(peer: Peer, publish: Publish, settings: Settings) -> None:
    endpoint = peer.add_endpoint("/wm")
    final = peer.add_target("end", webmention=endpoint.url)
    for hop in range(5):
        following = f"/hop/{hop + 1}/" if hop < 4 else final
        peer.add_page(f"/hop/{hop}/", "", status=307, headers={"Location": following})
    target = peer.url("/hop/0/")
    result, _ = run_one(publish("post", links_to(target)), settings, target)
    assert result["status"] == "sent"
    assert endpoint.forms()[0]["target"] == target


@pytest.mark.parametrize("protocol", ["pingback", "trackback"])
def test_entity_bomb_in_an_answer_is_not_expanded(
    protocol: str, peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    bomb = XMLRPC_BOMB if protocol == "pingback" else TRACKBACK_BOMB
    endpoint = peer.add_endpoint("/endpoint", Answer(200, bomb, "text/xml"))
    target = peer.add_target("t", **{protocol: endpoint.url})
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["protocol"], result["retry"]) == ("failed", protocol, False)
    assert "lollol" not in result["detail"]
    assert seconds < 4


def test_entity_bomb_in_a_target_page_is_not_expanded(
    peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    page = (
        "<html><body><!--\n"
        + BOMB.replace('<?xml version="1.0"?>\n', "")
        + '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/">'
        '<rdf:Description dc:title="&lol9;" trackback:ping="/tb" /></rdf:RDF>\n--></body></html>'
    )
    target = peer.add_page("/bomb/", page)
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert result["status"] in ("no-endpoint", "failed", "sent")
    assert seconds < 4


@pytest.mark.parametrize(("status", "retry"), [(500, True), (503, True), (404, False)])
def test_target_page_errors(
    status: int, retry: bool, peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    target = peer.add_page("/broken/", "<h1>error</h1>", status=status)
    result, _ = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["retry"]) == ("failed", retry)
    assert str(status) in result["detail"]


def closed_port(host: str) -> int:
    """A port on ``host`` where nothing listens."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def test_refused_connection(publish: Publish, hostile_settings: Settings) -> None:
    target = f"http://127.0.0.5:{closed_port('127.0.0.5')}/post/"
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["retry"]) == ("failed", True)
    assert "refused" in result["detail"]
    assert seconds < 4


def test_refused_endpoint(peer: Peer, publish: Publish, hostile_settings: Settings) -> None:
    endpoint = f"http://127.0.0.5:{closed_port('127.0.0.5')}/webmention"
    target = peer.add_target("t", webmention=endpoint)
    result, _ = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["protocol"], result["retry"]) == ("failed", "webmention", True)


def test_invalid_utf8_and_broken_html_still_give_their_endpoint(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm")
    page = (
        b"<html><head><title>\xff\xfe\xc3(</title><meta charset=utf-8>"
        b'<link rel="webmention" href="/wm"><body><div><p>caf\xe9 <b><i></div></span>\x00\x01'
    )
    target = peer.add_page("/bad-bytes/", page, content_type="text/html; charset=utf-8")
    result, _ = run_one(publish("post", links_to(target)), settings, target)
    assert result["status"] == "sent"
    assert len(endpoint.bodies) == 1


def test_unknown_charset_label_is_sniffed(peer: Peer, publish: Publish, settings: Settings) -> None:
    endpoint = peer.add_endpoint("/wm")
    page = b'<html><head><link rel="webmention" href="/wm"></head><body>caf\xe9</body></html>'
    target = peer.add_page("/odd-charset/", page, content_type="text/html; charset=x-nonsense")
    result, _ = run_one(publish("post", links_to(target)), settings, target)
    assert result["status"] == "sent"
    assert len(endpoint.bodies) == 1


def test_binary_garbage_has_no_endpoint(peer: Peer, publish: Publish, settings: Settings) -> None:
    target = peer.add_page("/binary/", bytes(range(256)) * 40, content_type="text/html")
    result, _ = run_one(publish("post", links_to(target)), settings, target)
    assert result["status"] == "no-endpoint"


def test_a_run_with_every_hostile_target_ends_normally(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(timeout=TIMEOUT, max_page_bytes=100_000, per_host=8)
    good = peer.post_url("webmention")
    flood = Flood()
    peer.add_endpoint("/bomb-rpc", Answer(200, XMLRPC_BOMB, "text/xml"))
    hostile = [
        peer.add_handler("/drip/", drip),
        peer.add_handler("/huge/", flood),
        peer.add_page("/loop/", "", status=302, headers={"Location": "/loop/"}),
        peer.add_page("/error/", "no", status=500),
        peer.add_target("bomb", pingback=peer.url("/bomb-rpc")),
        f"http://127.0.0.5:{closed_port('127.0.0.5')}/",
        peer.add_page("/bytes/", b"\xff\xfe<html><p>\x00<a", content_type="text/html"),
    ]
    source = publish("post", links_to(*hostile, good))
    started = time.monotonic()
    report = send([source], settings)
    assert time.monotonic() - started < 6
    assert report.sent["webmention"] == 1
    assert report.links == len(hostile) + 1
    assert entry(settings, source.url, good)["status"] == "sent"
    for target in hostile:
        assert entry(settings, source.url, target)["status"] in ("failed", "no-endpoint")
    assert report.exit_code == 1  # some pings failed; the run itself finished


# The private-address rule ------------------------------------------------------------------


def test_nothing_reaches_a_loopback_target_without_allow_private(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings], site
) -> None:
    settings = make_settings(allow_private=False)
    targets = [peer.post_url("all"), peer.post_url("webmention")]
    source = publish("post", links_to(*targets))
    report = send([source], settings)
    assert peer.requests == []
    assert site.requests == []
    assert report.skipped == 2
    assert report.exit_code == 0
    for target in targets:
        result = entry(settings, source.url, target)
        assert result["status"] == "skipped"
        assert result["retry"] is False
        assert "allow_private" in result["detail"]
    # Skipped is settled: the next build does not try again.
    assert send([source], settings).already == 2


def test_localhost_by_name_is_refused(publish: Publish, make_settings: Callable) -> None:
    settings = make_settings(allow_private=False)
    with Peer("127.0.0.1") as local:
        target = local.base_url.replace("127.0.0.1", "localhost") + "/webmention/post/"
        source = publish("post", links_to(target))
        send([source], settings)
        assert local.requests == []
        assert entry(settings, source.url, target)["status"] == "skipped"


@pytest.fixture
def public_peer(monkeypatch: pytest.MonkeyPatch) -> Peer:
    """A peer on 127.0.0.6 that the address check takes for a public host."""
    with Peer("127.0.0.6") as running:
        monkeypatch.setattr(
            "linkback.common.http.is_public",
            lambda address: address == "127.0.0.6" or is_public(address),
        )
        yield running


def test_redirect_to_a_private_address_is_refused(
    public_peer: Peer, peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(allow_private=False, check_live=False)
    target = public_peer.add_page(
        "/moved/", "", status=302, headers={"Location": peer.post_url("webmention")}
    )
    source = publish("post", links_to(target))
    send([source], settings)
    assert public_peer.requests == [("GET", "/moved/")]
    assert peer.requests == []
    assert entry(settings, source.url, target)["status"] == "skipped"


def test_private_endpoint_of_a_public_target_is_refused(
    public_peer: Peer, peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(allow_private=False, check_live=False)
    target = public_peer.add_target("t", webmention=peer.url("/webmention"))
    source = publish("post", links_to(target))
    send([source], settings)
    assert peer.requests == []
    result = entry(settings, source.url, target)
    assert (result["status"], result["protocol"]) == ("skipped", "webmention")


def test_live_check_follows_the_same_rule(
    public_peer: Peer, publish: Publish, make_settings: Callable[..., Settings], site
) -> None:
    settings = make_settings(allow_private=False)  # the site is on loopback: not checkable
    endpoint = public_peer.add_endpoint("/wm")
    target = public_peer.add_target("t", webmention=endpoint.url)
    source = publish("post", links_to(target))
    send([source], settings)
    assert site.requests == []
    assert endpoint.bodies == []
    assert entry(settings, source.url, target)["status"] in ("pending", "skipped")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_client_total_deadline_and_redirect_limit(peer: Peer, settings: Settings) -> None:
    client = Client(settings.replace(timeout=TIMEOUT))
    peer.add_handler("/drip/", drip)
    peer.add_page("/loop/", "", status=301, headers={"Location": "/loop/"})
    started = time.monotonic()
    with pytest.raises(FetchError) as slow:
        client.get(peer.url("/drip/"))
    assert time.monotonic() - started < TIMEOUT + 1.5
    assert slow.value.verdict is Verdict.TRANSIENT
    with pytest.raises(FetchError) as looping:
        client.get(peer.url("/loop/"))
    assert looping.value.verdict is Verdict.PERMANENT


def test_a_short_deadline_is_kept_while_a_longer_one_is_running(
    peer: Peer, settings: Settings
) -> None:
    """All clients share one reaper thread, woken only by a deadline earlier than all the
    others: a 0.5 s request that starts while a 30 s one runs must still end at 0.5 s. Its
    page drips faster than the socket time-out, so only the reaper can end it."""

    def slow(handler: PeerHandler) -> None:
        time.sleep(2)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    peer.add_handler("/slow/", slow)
    peer.add_handler("/quick-drip/", dripping(0.1))  # 6 s in all
    long_request = threading.Thread(
        target=Client(settings.replace(timeout=30)).get, args=(peer.url("/slow/"),)
    )
    long_request.start()
    time.sleep(0.2)  # the 30 s deadline is in the reaper's heap
    try:
        started = time.monotonic()
        with pytest.raises(FetchError, match="within 0.5 s"):
            Client(settings.replace(timeout=0.5)).get(peer.url("/quick-drip/"))
        assert time.monotonic() - started < 2.0
    finally:
        long_request.join()


def test_client_caps_the_body(peer: Peer, settings: Settings) -> None:
    peer.add_page("/big/", b"a" * 300_000)
    client = Client(settings.replace(max_page_bytes=1000))
    response = client.get(peer.url("/big/"))
    assert len(response.body) == 1000
    assert client.get(peer.url("/big/"), cap=10).body == b"a" * 10


def test_live_check_reads_a_huge_served_page_no_further_than_the_cap(
    peer: Peer, hostile_settings: Settings
) -> None:
    flood = Flood(b"<html><body>")
    page = peer.add_handler("/huge-source/", flood)
    target = peer.post_url("webmention")
    source = Source(url=page, title="Huge", content=links_to(target))
    started = time.monotonic()
    report = send([source], hostile_settings)
    assert report.pending == 1  # served, but the link is not in the part read
    assert flood.done.wait(5)
    assert flood.sent < Flood.size / 20
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.2/x", "gopher://x/"])
def test_redirect_to_another_scheme_is_refused(
    location: str, peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    target = peer.add_page("/elsewhere/", "", status=302, headers={"Location": location})
    result, _ = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["retry"]) == ("failed", False)


@pytest.mark.parametrize(
    "endpoint", ["file:///etc/passwd", "javascript:alert(1)", "mailto:x@example.org"]
)
def test_endpoint_with_another_scheme_is_refused(
    endpoint: str, peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    target = peer.add_target("t", webmention=endpoint)
    result, _ = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert result["status"] in ("failed", "no-endpoint")
    assert result["retry"] is False
    assert peer.ping_requests() == []


def test_compressed_bomb_is_read_no_further_than_the_cap(
    peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    body = gzip.compress(b"\0" * 1_000_000) * 1000  # 1000 gzip members: 1 GB inflated
    target = peer.add_page(
        "/bomb.gz/", body, headers={"Content-Encoding": "gzip"}, content_type="text/html"
    )
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert result["status"] in ("no-endpoint", "failed")
    assert seconds < 4


def test_huge_webmention_answer_is_capped(
    peer: Peer, publish: Publish, hostile_settings: Settings
) -> None:
    flood = Flood()
    peer.add_handler("/wm", flood, method="POST")
    target = peer.add_target("t", webmention=peer.url("/wm"))
    result, seconds = run_one(publish("post", links_to(target)), hostile_settings, target)
    assert (result["status"], result["detail"]) == ("sent", "HTTP 200")
    assert flood.done.wait(5)
    assert flood.sent < Flood.size / 20
    assert seconds < 4
