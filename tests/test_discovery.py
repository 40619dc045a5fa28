"""Endpoint discovery (SPEC "Discovery"), served over real HTTP by the peer.

The webmention cases are the 23 discovery tests of webmention.rocks, rebuilt on the peer:
``/test/N`` advertises the right endpoint ``/test/N/webmention`` (or as noted) and, where the
test is about precedence or false positives, wrong ones under ``/test/N/wrong``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

import pytest

from linkback import Settings, Source, send
from linkback.common.http import Client
from linkback.sending.discovery import Endpoints, discover
from tests.conftest import entry, links_to
from tests.peer import Peer, PeerHandler

HTML = "text/html; charset=utf-8"
PAGE = "<!DOCTYPE html><html><head><title>t</title>{head}</head><body>{body}</body></html>"

# number -> (headers, <head> markup, <body> markup, path of the right endpoint)
WEBMENTION_ROCKS: dict[int, tuple[list[tuple[str, str]], str, str, str]] = {
    1: ([("Link", "</test/1/webmention>; rel=webmention")], "", "", "/test/1/webmention"),
    2: ([("Link", "<{base}/test/2/webmention>; rel=webmention")], "", "", "/test/2/webmention"),
    3: ([], '<link rel="webmention" href="/test/3/webmention">', "", "/test/3/webmention"),
    4: ([], '<link rel="webmention" href="{base}/test/4/webmention">', "", "/test/4/webmention"),
    5: ([], "", '<a rel="webmention" href="/test/5/webmention">e</a>', "/test/5/webmention"),
    6: ([], "", '<a rel="webmention" href="{base}/test/6/webmention">e</a>', "/test/6/webmention"),
    7: ([("LinK", "<{base}/test/7/webmention>; REL=webmention")], "", "", "/test/7/webmention"),
    8: ([("Link", '<{base}/test/8/webmention>; rel="webmention"')], "", "", "/test/8/webmention"),
    9: (
        [],
        '<link rel="webmention somethingelse" href="/test/9/webmention">',
        "",
        "/test/9/webmention",
    ),
    10: (
        [("Link", '<{base}/test/10/webmention>; rel="webmention somethingelse"')],
        "",
        "",
        "/test/10/webmention",
    ),
    11: (
        [("Link", "<{base}/test/11/webmention>; rel=webmention")],
        '<link rel="webmention" href="/test/11/wrong">',
        '<a rel="webmention" href="/test/11/wrong">e</a>',
        "/test/11/webmention",
    ),
    12: (
        [],
        '<link rel="not-webmention" href="/test/12/wrong">'
        '<link rel="webmention" href="/test/12/webmention">',
        "",
        "/test/12/webmention",
    ),
    13: (
        [],
        "",
        '<!-- <a rel="webmention" href="/test/13/wrong">e</a> -->'
        '<a rel="webmention" href="/test/13/webmention">e</a>',
        "/test/13/webmention",
    ),
    14: (
        [],
        "",
        '<code>&lt;a href="/test/14/wrong" rel="webmention"&gt;&lt;/a&gt;</code>'
        '<a rel="webmention" href="/test/14/webmention">e</a>',
        "/test/14/webmention",
    ),
    15: ([], '<link rel="webmention" href="">', "", "/test/15"),
    16: (
        [],
        "",
        '<a rel="webmention" href="/test/16/webmention">e</a>'
        '<link rel="webmention" href="/test/16/wrong">',
        "/test/16/webmention",
    ),
    17: (
        [],
        "",
        '<link rel="webmention" href="/test/17/webmention">'
        '<a rel="webmention" href="/test/17/wrong">e</a>',
        "/test/17/webmention",
    ),
    18: (
        [
            ("Link", "<{base}/test/18/wrong>; rel=other"),
            ("Link", "<{base}/test/18/webmention>; rel=webmention"),
        ],
        "",
        "",
        "/test/18/webmention",
    ),
    19: (
        [
            (
                "Link",
                '<{base}/test/19/wrong>; rel="other", '
                '<{base}/test/19/webmention>; rel="webmention"',
            )
        ],
        "",
        "",
        "/test/19/webmention",
    ),
    20: (
        [],
        '<link rel="webmention">',
        '<a rel="webmention" href="/test/20/webmention">e</a>',
        "/test/20/webmention",
    ),
    21: (
        [],
        '<link rel="webmention" href="/test/21/webmention?query=yes&amp;second=2">',
        "",
        "/test/21/webmention?query=yes&second=2",
    ),
    22: ([], '<link rel="webmention" href="22/webmention">', "", "/test/22/webmention"),
    # 23: /test/23 redirects to /test/23/page/, whose relative endpoint resolves against it.
    23: ([], '<link rel="webmention" href="webmention">', "", "/test/23/page/webmention"),
}


def serve_webmention_rocks(peer: Peer) -> dict[int, str]:
    """Serve the 23 test pages on ``peer``; returns each page's URL (the target)."""
    urls = {}
    for number, (headers, head, body, _endpoint) in WEBMENTION_ROCKS.items():
        pairs = [(name, value.format(base=peer.base_url)) for name, value in headers]
        html = PAGE.format(
            head=head.format(base=peer.base_url), body=body.format(base=peer.base_url)
        )
        path = f"/test/{number}"
        if number == 23:
            peer.add_page(path, "", status=302, headers={"Location": "/test/23/page/"})
            peer.add_page("/test/23/page/", html, headers=pairs)
        else:
            peer.add_page(path, html, headers=pairs)
        urls[number] = peer.url(path)
    return urls


@pytest.fixture
def fetch(settings: Settings) -> Callable[[str], Endpoints]:
    """GET a target through linkback's client and discover its endpoints."""
    client = Client(settings)

    def run(url: str, target: str | None = None) -> Endpoints:
        response = client.get(url)
        return discover(
            response.url, response.headers, response.body, target or url, charset=response.charset
        )

    return run


@pytest.mark.parametrize("number", sorted(WEBMENTION_ROCKS))
def test_webmention_rocks_discovery(
    number: int, peer: Peer, fetch: Callable[..., Endpoints]
) -> None:
    urls = serve_webmention_rocks(peer)
    endpoints = fetch(urls[number])
    assert endpoints.webmention == peer.url(WEBMENTION_ROCKS[number][3])


def test_webmention_rocks_end_to_end(
    peer: Peer, publish: Callable[..., Source], settings: Settings
) -> None:
    """One page links to all 23 tests; each right endpoint gets one webmention, no wrong one."""
    urls = serve_webmention_rocks(peer)
    posted: dict[str, list[dict[str, str]]] = {}

    def endpoint(handler: PeerHandler) -> None:
        form = dict(parse_qsl(handler.read_body().decode()))
        posted.setdefault(handler.path, []).append(form)
        handler.reply(202)

    for _headers, _head, _body, path in WEBMENTION_ROCKS.values():
        peer.add_handler(path, endpoint, method="POST")
    source = publish("rocks", links_to(*urls.values()))
    report = send([source], settings)
    assert report.sent["webmention"] == len(WEBMENTION_ROCKS)
    assert sorted(path for _, path in peer.ping_requests()) == sorted(
        path for *_, path in WEBMENTION_ROCKS.values()
    )
    for number, url in urls.items():
        path = WEBMENTION_ROCKS[number][3]
        assert posted[path] == [{"source": source.url, "target": url}], number
        assert entry(settings, source.url, url)["endpoint"] == peer.url(path)


def test_link_header_counts_whatever_the_content_type(peer: Peer, fetch: Callable) -> None:
    url = peer.add_page(
        "/image.png",
        b"\x89PNG\r\n\x1a\n",
        content_type="image/png",
        headers={"Link": "</wm>; rel=webmention", "X-Pingback": "/xmlrpc"},
    )
    endpoints = fetch(url)
    assert (endpoints.webmention, endpoints.pingback) == (peer.url("/wm"), peer.url("/xmlrpc"))


def test_only_html_bodies_are_parsed(peer: Peer, fetch: Callable) -> None:
    body = '<link rel="webmention" href="/wm"><link rel="pingback" href="/xmlrpc">'
    url = peer.add_page("/plain", body, content_type="text/plain; charset=utf-8")
    endpoints = fetch(url)
    assert (endpoints.webmention, endpoints.pingback, endpoints.trackback) == (None, None, None)


def test_xhtml_bodies_are_parsed(peer: Peer, fetch: Callable) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        '<head><title>x</title><link rel="webmention" href="/wm" /></head><body/></html>'
    )
    url = peer.add_page("/xhtml", body, content_type="application/xhtml+xml")
    assert fetch(url).webmention == peer.url("/wm")


@pytest.mark.parametrize(
    "markup",
    [
        '<script>document.write(\'<link rel="webmention" href="/wrong">\')</script>',
        "<textarea><a rel=webmention href=/wrong>x</a></textarea>",
        "<template-not><!-- <link rel=webmention href=/wrong> --></template-not>",
        '<a rel="webmentions" href="/wrong">x</a><a rel="xwebmention" href="/wrong">x</a>',
    ],
)
def test_no_false_webmention_endpoint(markup: str, peer: Peer, fetch: Callable) -> None:
    url = peer.add_page("/false", PAGE.format(head="", body=markup))
    assert fetch(url).webmention is None


def test_link_header_rel_in_any_case_and_anchor_rel_in_any_case(
    peer: Peer, fetch: Callable
) -> None:
    header = peer.add_page(
        "/h", PAGE.format(head="", body=""), headers={"Link": "</wm>; rel=WebMention"}
    )
    anchor = peer.add_page("/a", PAGE.format(head="", body='<a rel="WEBMENTION" href="/wm2">x</a>'))
    assert fetch(header).webmention == peer.url("/wm")
    assert fetch(anchor).webmention == peer.url("/wm2")


def test_pingback_header_beats_the_link_element(peer: Peer, fetch: Callable) -> None:
    html = PAGE.format(head='<link rel="pingback" href="/from-link">', body="")
    url = peer.add_page("/pb", html, headers={"X-Pingback": peer.url("/from-header")})
    assert fetch(url).pingback == peer.url("/from-header")


def test_pingback_link_element_with_entities_decoded(peer: Peer, fetch: Callable) -> None:
    html = PAGE.format(head='<link rel="pingback" href="/xmlrpc.php?a=1&amp;b=2">', body="")
    url = peer.add_page("/pb", html)
    assert fetch(url).pingback == peer.url("/xmlrpc.php?a=1&b=2")


def test_pingback_is_not_taken_from_anchors(peer: Peer, fetch: Callable) -> None:
    url = peer.add_page("/pb", PAGE.format(head="", body='<a rel="pingback" href="/xmlrpc">x</a>'))
    assert fetch(url).pingback is None


def rdf(about: str, ping: str, *, identifier: str | None = None) -> str:
    identifier_attribute = f' dc:identifier="{identifier}"' if identifier is not None else ""
    return (
        '<!--\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/">\n'
        f'<rdf:Description rdf:about="{about}"{identifier_attribute} dc:title="t"'
        f' trackback:ping="{ping}" />\n</rdf:RDF>\n-->'
    )


def test_trackback_is_matched_on_dc_identifier(peer: Peer, fetch: Callable) -> None:
    first, second = peer.url("/blog/first/"), peer.url("/blog/second/")
    blocks = rdf(first, peer.url("/tb/1"), identifier=first) + rdf(
        second, peer.url("/tb/2"), identifier=second
    )
    page = PAGE.format(head="", body=blocks)
    peer.add_page("/blog/first/", page)
    peer.add_page("/blog/second/", page)
    assert fetch(second).trackback == peer.url("/tb/2")
    assert fetch(first).trackback == peer.url("/tb/1")


def test_trackback_of_another_page_does_not_count(peer: Peer, fetch: Callable) -> None:
    other = peer.url("/blog/other/")
    page = PAGE.format(head="", body=rdf(other, peer.url("/tb/other"), identifier=other))
    url = peer.add_page("/blog/this/", page)
    assert fetch(url).trackback is None


def test_trackback_by_rdf_about_when_no_identifier(peer: Peer, fetch: Callable) -> None:
    url = peer.url("/blog/about/")
    peer.add_page("/blog/about/", PAGE.format(head="", body=rdf(url, peer.url("/tb/about"))))
    assert fetch(url).trackback == peer.url("/tb/about")


@pytest.mark.parametrize(
    ("ping", "expected"),
    [
        ("/tb/relative?p=1", "/tb/relative?p=1"),
        ("../tb/up", "/blog/tb/up"),
        ("tb", "/blog/moved/tb"),
    ],
)
def test_a_relative_trackback_ping_resolves_against_the_final_page_url(
    ping: str, expected: str, peer: Peer, fetch: Callable
) -> None:
    """Like every other endpoint, after redirects (the block is about the page asked for)."""
    url = peer.url("/blog/about/")
    peer.add_page("/blog/about/", "", status=301, headers={"Location": "/blog/moved/"})
    peer.add_page("/blog/moved/", PAGE.format(head="", body=rdf(url, ping, identifier=url)))
    assert fetch(url).trackback == peer.url(expected)


def test_peer_posts_advertise_what_they_say(peer: Peer, fetch: Callable) -> None:
    every = fetch(peer.post_url("all"))
    assert every.webmention == peer.url("/webmention")
    assert every.pingback == peer.url("/xmlrpc")
    assert every.trackback == peer.url("/trackback/all/post")
    assert fetch(peer.post_url("none")) == Endpoints()


def test_discover_relative_to_final_url_directly() -> None:
    """The rule of webmention.rocks 23 without HTTP: relative to the URL after redirects."""
    endpoints = discover(
        "https://o.example/a/final/",
        {"Content-Type": HTML, "X-Pingback": "../xmlrpc"},
        b'<link rel="webmention" href="wm?x=1">',
        "https://o.example/a",
    )
    assert endpoints.webmention == "https://o.example/a/final/wm?x=1"
    assert endpoints.pingback == "https://o.example/a/xmlrpc"


def test_discover_survives_broken_html_and_bad_bytes() -> None:
    body = b'<html><head><link rel="webmention" href="/wm"\xff\xfe><body><p><div></span>\x00'
    endpoints = discover("https://o.example/", {"Content-Type": HTML}, body, "https://o.example/")
    assert endpoints.webmention == "https://o.example/wm"
    empty = discover("https://o.example/", {"Content-Type": HTML}, b"", "https://o.example/")
    assert empty == Endpoints()


@pytest.mark.parametrize("element", ["link", "a"])
def test_whitespace_around_an_endpoint_href_is_ignored(element: str) -> None:
    """URL parsing (WHATWG, which the Recommendation cites) strips leading and trailing spaces."""
    body = f'<{element} rel="webmention" href=" \n https://o.example/wm?x=1 \t">e</{element}>'
    endpoints = discover("https://o.example/", {"Content-Type": HTML}, body.encode(), "x")
    assert endpoints.webmention == "https://o.example/wm?x=1"
    relative = f'<{element} rel="webmention" href="  wm  ">e</{element}>'
    endpoints = discover("https://o.example/p/", {"Content-Type": HTML}, relative.encode(), "x")
    assert endpoints.webmention == "https://o.example/p/wm"
