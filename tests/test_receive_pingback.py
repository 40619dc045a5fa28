"""Pingback over XML-RPC from a real ``xmlrpc.client.ServerProxy``, and Trackback 1.2."""

from __future__ import annotations

import time
import xmlrpc.client
from collections.abc import Callable

import pytest

from linkback.receive.store import Rule, RuleKind, Status
from tests.peer import Peer, StaticSite
from tests.receiver import Receiver


def page(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>Their post</title></head><body>{body}</body></html>"


def proxy(receiver: Receiver) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(receiver.url + "/xmlrpc")


def fault_of(call: Callable[[], object]) -> int:
    with pytest.raises(xmlrpc.client.Fault) as raised:
        call()
    return raised.value.faultCode


def test_a_verified_pingback_is_a_string_and_stored_pending(
    receiver: Receiver, peer: Peer, target: str
) -> None:
    source = peer.add_page(
        "/post",
        page(f'<p>Read <a href="{target}">th<b>is</b></a> today.<script>var x;</script></p>'),
    )
    result = proxy(receiver).pingback.ping(source, target)
    assert isinstance(result, str)
    record = receiver.store.find(source, target)
    assert record is not None and record.status is Status.PENDING
    assert record.content.title == "Their post" and "Read this today." in record.content.text
    # Stored once whatever the protocol: a repeat is fault 48, without a fetch.
    fetches = len(peer.requests)
    assert fault_of(lambda: proxy(receiver).pingback.ping(source, target)) == 48
    assert len(peer.requests) == fetches


def test_each_fault_code(
    make_receiver,
    peer: Peer,
    target: str,
    site: StaticSite,  # type: ignore[no-untyped-def]
) -> None:
    receiver = make_receiver(verify_timeout_sync=0.5)
    server = proxy(receiver)
    assert fault_of(lambda: server.pingback.ping(peer.url("/missing"), target)) == 16
    gone = peer.add_page("/gone", "gone", status=410)
    assert fault_of(lambda: server.pingback.ping(gone, target)) == 16
    nolink = peer.add_page("/nolink", page(f"<p>{target}</p>"))
    assert fault_of(lambda: server.pingback.ping(nolink, target)) == 17
    links = peer.add_page("/links", page(f'<a href="{site.url}nothing/">x</a>'))
    assert fault_of(lambda: server.pingback.ping(links, site.url + "nothing/")) == 32
    assert fault_of(lambda: server.pingback.ping(links, "https://elsewhere.example/")) == 33
    receiver.store.add_rule(Rule(RuleKind.BLOCK, "127.0.0.2"))
    receiver.service._rules = (0.0, [])
    assert fault_of(lambda: server.pingback.ping(links, target)) == 49
    receiver.store.add_rule(Rule(RuleKind.ALLOW, "127.0.0.9"))
    broken = peer.add_page("/broken", "oops", status=503)
    other = make_receiver(verify_timeout_sync=0.5)
    assert fault_of(lambda: proxy(other).pingback.ping(broken, target)) == 50

    slow = peer.add_trickle("/slow", 30)
    started = time.monotonic()
    with pytest.raises(xmlrpc.client.Fault) as raised:
        proxy(other).pingback.ping(slow, target)
    assert raised.value.faultCode == 50 and "too slow" in raised.value.faultString
    assert time.monotonic() - started < 2
    assert fault_of(lambda: proxy(other).pingback.ping("not a url", target)) == 16
    assert fault_of(lambda: proxy(other).pingback.ping(target, target)) == 0
    assert fault_of(lambda: proxy(other).pingback.ping(target)) == 0
    assert fault_of(lambda: proxy(other).no.such.method()) == 0


def test_list_methods_and_get_pingbacks(receiver: Receiver, peer: Peer, target: str) -> None:
    server = proxy(receiver)
    assert "pingback.ping" in server.system.listMethods()
    source = peer.add_page("/post", page(f'<a href="{target}">x</a>'))
    server.pingback.ping(source, target)
    assert server.pingback.extensions.getPingbacks(target) == []
    record = receiver.store.find(source, target)
    assert record is not None
    receiver.store.set_status(record.id, Status.APPROVED)
    assert server.pingback.extensions.getPingbacks(target.rstrip("/")) == [source]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>&lol9;</string></value></param>
<param><value><string>&lol9;</string></value></param></params></methodCall>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>&e;</string></value></param></params></methodCall>"""


@pytest.mark.parametrize("body", [BOMB, EXTERNAL])
def test_an_entity_bomb_or_a_dtd_is_refused_quickly(receiver: Receiver, body: bytes) -> None:
    started = time.monotonic()
    answer = receiver.post("/xmlrpc", body, headers={"Content-Type": "text/xml"})
    assert time.monotonic() - started < 1
    params, method = None, None
    with pytest.raises(xmlrpc.client.Fault) as raised:
        params, method = xmlrpc.client.loads(answer.content)
    assert raised.value.faultCode == 0 and "DTD" in raised.value.faultString
    assert "root:" not in answer.text and receiver.store.list() == []
    assert params is None and method is None


def trackback(receiver: Receiver, target: str, data: dict[str, str] | bytes, **headers: str):  # type: ignore[no-untyped-def]
    return receiver.post(f"/trackback?target={target}", data, headers=headers or None)


def test_trackback_success_and_repeat(receiver: Receiver, peer: Peer, target: str) -> None:
    source = peer.add_page("/post", page(f'<a href="{target}">x</a>'))
    form = {
        "url": source,
        "title": "Don&#8217;t miss",
        "excerpt": "A " + "long " * 100,
        "blog_name": "Peer",
    }
    answer = trackback(receiver, target, form)
    assert answer.headers["Content-Type"].startswith("text/xml")
    assert answer.text == (
        '<?xml version="1.0" encoding="utf-8"?><response><error>0</error></response>'
    )
    record = receiver.store.find(source, target)
    assert record is not None and record.status is Status.PENDING
    assert record.content.title == "Don\u2019t miss" and record.content.author.name == "Peer"
    assert len(record.content.text) <= 300
    again = trackback(receiver, target, {**form, "title": "New title"})
    assert "<error>0</error>" in again.text
    record = receiver.store.find(source, target)
    assert record is not None and record.content.title == "New title"


def test_trackback_refusals(receiver: Receiver, peer: Peer, target: str) -> None:
    answer = trackback(receiver, target, {"title": "no url"})
    assert "<error>1</error><message>missing url</message>" in answer.text
    nolink = peer.add_page("/nolink", page("<p>nothing</p>"))
    answer = trackback(receiver, target, {"url": nolink})
    assert "<error>1</error>" in answer.text and "does not link" in answer.text
    assert receiver.store.list() == []


def test_trackback_in_latin_1(receiver: Receiver, peer: Peer, target: str) -> None:
    source = peer.add_page("/post", page(f'<a href="{target}">x</a>'))
    body = b"url=" + source.encode() + b"&title=Caf%E9+cr%E8me&blog_name=%C9t%E9"
    answer = trackback(
        receiver, target, body, **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert "<error>0</error>" in answer.text
    record = receiver.store.find(source, target)
    assert record is not None
    assert record.content.title == "Café crème" and record.content.author.name == "Été"
