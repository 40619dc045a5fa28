"""Spam defences: block and allow rules, too many linked hosts, mostly links, and Akismet
(a loopback server speaking its comment-check API); each with a linkback that should
match and one that should not."""

from __future__ import annotations

import time
import xmlrpc.client
from collections.abc import Callable
from typing import Any

import pytest

from linkback.receive.rules import block, matches
from linkback.receive.spam import mostly_links
from linkback.receive.store import Content, Rule, RuleKind, Status
from tests.admin_data import add
from tests.peer import Answer, Peer
from tests.receiver import Receiver, id_of


def entry(body: str, author: str = "http://127.0.0.2/~ann") -> str:
    return (
        "<!DOCTYPE html><html><head><title>A post</title></head><body>"
        f'<article class="h-entry"><a class="p-author h-card" href="{author}">Ann</a>'
        f'<div class="e-content">{body}</div></article></body></html>'
    )


def prose(target: str) -> str:
    return (
        "<p>I read this article over breakfast and wrote a long answer to it, because the "
        f'argument about static sites deserves one: <a href="{target}">the article</a>.</p>'
    )


def fresh_rules(receiver: Receiver) -> None:
    receiver.service._rules = (0.0, [])  # the service keeps rules 2 s; tests do not wait


def webmention(receiver: Receiver, source: str, target: str) -> Status:
    answer = receiver.webmention(source, target)
    assert answer.status_code == 201, answer.text
    return receiver.settled(id_of(answer)).status


def test_patterns_match_hosts_subdomains_and_url_prefixes() -> None:
    assert matches("example.org", "https://example.org/post")
    assert not matches("example.org", "https://www.example.org/post")
    assert matches("*.example.org", "https://www.example.org/post")
    assert matches("*.example.org", "https://example.org/post")
    assert not matches("*.example.org", "https://badexample.org/post")
    assert matches("https://example.org/~bob/", "https://example.org/~bob/post")
    assert not matches("https://example.org/~bob/", "https://example.org/~alice/post")
    assert matches("127.0.0.2", "http://127.0.0.2:8000/x")


def test_block_refuses_new_linkbacks_and_turns_past_ones_into_spam(
    receiver: Receiver, peer: Peer, target: str
) -> None:
    before = add(receiver.store, "http://127.0.0.2/old", target=target)
    other = add(receiver.store, "http://127.0.0.4/fine", target=target)
    assert block(receiver.store, "127.0.0.2") == 1
    fresh_rules(receiver)
    assert receiver.store.get(before).status is Status.SPAM  # type: ignore[union-attr]
    assert receiver.store.get(before).reason == "blocked"  # type: ignore[union-attr]
    assert receiver.store.get(other).status is Status.PENDING  # type: ignore[union-attr]
    source = peer.add_page("/new", entry(prose(target)))
    refused = receiver.webmention(source, target)
    assert (refused.status_code, refused.text) == (400, "blocked")
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.ServerProxy(receiver.url + "/xmlrpc").pingback.ping(source, target)
    assert fault.value.faultCode == 49
    answer = receiver.post(f"/trackback?target={target}", {"url": source, "title": "t"})
    assert "<error>1</error>" in answer.text and "blocked" in answer.text
    assert receiver.store.find(source, target) is None
    with Peer("127.0.0.4") as elsewhere:
        allowed_source = elsewhere.add_page("/post", entry(prose(target), elsewhere.url("/me")))
        assert webmention(receiver, allowed_source, target) is Status.PENDING


def test_allow_by_author_approves_on_arrival(receiver: Receiver, peer: Peer, target: str) -> None:
    receiver.store.add_rule(Rule(RuleKind.ALLOW, "http://127.0.0.2/~ann"))
    fresh_rules(receiver)
    friend = peer.add_page("/friend", entry(prose(target)))
    stranger = peer.add_page("/stranger", entry(prose(target), "http://127.0.0.2/~eve"))
    assert webmention(receiver, friend, target) is Status.APPROVED
    assert webmention(receiver, stranger, target) is Status.PENDING


def test_too_many_hosts_is_spam_even_when_allowed(
    make_receiver: Callable[..., Receiver], peer: Peer, target: str
) -> None:
    receiver = make_receiver(max_links=3)
    receiver.store.add_rule(Rule(RuleKind.ALLOW, "http://127.0.0.2/~ann"))
    fresh_rules(receiver)
    hosts = "".join(
        f'<p>see <a href="https://h{n}.example/">site {n}</a> too</p>' for n in range(5)
    )
    crowded = peer.add_page("/crowded", entry(prose(target) + hosts))
    few = peer.add_page(
        "/few", entry(prose(target) + '<p>and <a href="https://h.example/">h</a></p>')
    )
    answer = receiver.webmention(crowded, target)
    record = receiver.settled(id_of(answer))
    assert record.status is Status.SPAM
    assert record.reason is not None and "more than 3" in record.reason
    assert webmention(receiver, few, target) is Status.APPROVED


def test_content_that_is_mostly_links_is_spam(receiver: Receiver, peer: Peer, target: str) -> None:
    links = " ".join(f'<a href="{target}?p={n}">buy cheap watches {n}</a>' for n in range(4))
    stuffed = peer.add_page("/stuffed", entry(f'<p>{links} <a href="{target}">x</a></p>'))
    answer = receiver.webmention(stuffed, target)
    record = receiver.settled(id_of(answer))
    assert record.status is Status.SPAM
    assert record.reason is not None and "mostly links" in record.reason
    four = " ".join(f'see <a href="{target}?p={n}">this</a>' for n in range(4))
    essay = peer.add_page("/essay", entry(prose(target) * 3 + f"<p>{four}</p>"))
    assert webmention(receiver, essay, target) is Status.PENDING


def test_mostly_links_needs_several_links_and_most_of_the_text() -> None:
    assert mostly_links(Content(html="")) is None
    assert mostly_links(Content(html='<a href="https://a.example/">a link only</a>')) is None
    many = "".join(f'<a href="https://a.example/{n}">link text {n}</a> ' for n in range(3))
    assert mostly_links(Content(html=f"<p>{many}</p>")) is not None
    assert mostly_links(Content(html=f"<p>{many}{'words ' * 20}</p>")) is None


def test_akismet_is_asked_about_verified_linkbacks_only(
    make_receiver: Callable[..., Receiver], peer: Peer, target: str
) -> None:
    api = peer.add_endpoint(
        "/akismet/1.1/comment-check",
        Answer(200, "true"),
        Answer(200, "false"),
        Answer(200, "invalid", headers={"X-akismet-debug-help": "bad key"}),
    )
    receiver = make_receiver(akismet_key="k3y", akismet_url=peer.url("/akismet"))
    spammy = peer.add_page("/spammy", entry(prose(target)))
    assert webmention(receiver, spammy, target) is Status.SPAM
    assert receiver.store.find(spammy, target).reason == "Akismet says spam"  # type: ignore[union-attr]
    form = api.forms()[0]
    assert form["api_key"] == "k3y" and form["blog"] == receiver.config.site_url[0]
    assert form["comment_type"] == "pingback" and form["permalink"] == target
    assert form["comment_author_url"] == "http://127.0.0.2/~ann"
    assert form["user_ip"] == "127.0.0.2"
    ham = peer.add_page("/ham", entry(prose(target)))
    assert webmention(receiver, ham, target) is Status.PENDING
    broken = peer.add_page("/broken", entry(prose(target)))
    assert webmention(receiver, broken, target) is Status.PENDING  # an error holds nothing
    unverified = peer.add_page("/nolink", entry("<p>no link here</p>"))
    assert webmention(receiver, unverified, target) is Status.INVALID
    assert len(api.bodies) == 3


def test_akismet_is_off_by_default(receiver: Receiver, peer: Peer, target: str) -> None:
    api = peer.add_endpoint("/1.1/comment-check", Answer(200, "true"))
    source = peer.add_page("/post", entry(prose(target)))
    assert receiver.service.akismet is None
    assert webmention(receiver, source, target) is Status.PENDING
    assert api.bodies == []


def test_akismet_never_delays_a_pingback_answer(
    make_receiver: Callable[..., Receiver], peer: Peer, target: str
) -> None:
    def slow_spam(handler: Any) -> None:
        handler.read_body()
        time.sleep(1.0)
        handler.reply(200, "true", content_type="text/plain")

    peer.add_handler("/akismet/1.1/comment-check", slow_spam, method="POST")
    receiver = make_receiver(
        akismet_key="k3y", akismet_url=peer.url("/akismet"), verify_timeout_sync=0.8
    )
    source = peer.add_page("/pinged", entry(prose(target)))
    started = time.monotonic()
    answer = xmlrpc.client.ServerProxy(receiver.url + "/xmlrpc").pingback.ping(source, target)
    assert time.monotonic() - started < 0.9 and isinstance(answer, str)
    record = receiver.store.find(source, target)
    assert record is not None and record.status is Status.PENDING
    deadline = time.monotonic() + 10
    while record.status is Status.PENDING and time.monotonic() < deadline:
        time.sleep(0.05)
        record = receiver.store.get(record.id)  # type: ignore[assignment]
    assert record.status is Status.SPAM and record.reason == "Akismet says spam"
