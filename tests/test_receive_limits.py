"""Abuse limits: body cap, rate limit, forwarded addresses, private addresses, huge pages."""

from __future__ import annotations

import ipaddress
import time
import xmlrpc.client
from pathlib import Path

import pytest

from linkback.common.http import is_public
from linkback.receive.limits import RateLimiter, client_address
from linkback.receive.store import Rule, RuleKind, Status
from tests.peer import Peer, StaticSite
from tests.receiver import id_of

TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


@pytest.mark.parametrize("path", ["/webmention", "/xmlrpc", "/trackback?target=x"])
def test_bodies_over_64_kib_are_refused_with_413(receiver, path: str) -> None:  # type: ignore[no-untyped-def]
    answer = receiver.post(path, b"source=" + b"x" * (64 * 1024))
    assert answer.status_code == 413
    assert receiver.store.list() == []


def test_a_chunked_body_over_the_cap_is_refused_too(receiver) -> None:  # type: ignore[no-untyped-def]
    chunks = iter([b"x" * 32 * 1024] * 4)
    assert receiver.post("/webmention", chunks).status_code == 413


def test_rate_limit_with_retry_after_and_forged_forwarded_for(make_receiver) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(rate_limit=3)
    for n in range(3):
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert receiver.post("/webmention", {}, headers=forged).status_code == 400
    refused = receiver.post("/webmention", {}, headers={"X-Forwarded-For": "203.0.113.9"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert receiver.get("/health").status_code == 200  # GETs are not limited


def test_trusted_proxies_pass_the_client_address(make_receiver) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(rate_limit=2, trusted_proxies=["127.0.0.0/8"])
    for n in range(4):
        answer = receiver.post("/webmention", {}, headers={"X-Forwarded-For": f"203.0.113.{n}"})
        assert answer.status_code == 400
    for _ in range(2):
        receiver.post("/webmention", {}, headers={"X-Forwarded-For": "203.0.113.50"})
    again = receiver.post("/webmention", {}, headers={"X-Forwarded-For": "203.0.113.50"})
    assert again.status_code == 429


def test_client_address_rule() -> None:
    assert client_address("198.51.100.7", "1.2.3.4", TRUSTED) == "198.51.100.7"
    assert client_address("127.0.0.1", "1.2.3.4", ()) == "127.0.0.1"
    assert client_address("127.0.0.1", "1.2.3.4", TRUSTED) == "1.2.3.4"
    assert client_address("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", TRUSTED) == "1.2.3.4"
    assert client_address("127.0.0.1", "garbage", TRUSTED) == "127.0.0.1"
    assert client_address("127.0.0.1", None, TRUSTED) == "127.0.0.1"


def test_the_window_slides_and_refusals_do_not_count() -> None:
    limiter = RateLimiter(2, window=0.2)
    assert limiter.hit("a") is None and limiter.hit("a") is None
    assert limiter.hit("a") is not None
    assert limiter.hit("b") is None
    time.sleep(0.21)
    assert limiter.hit("a") is None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1", "fc00::1"]
)
def test_private_and_loopback_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


def test_sources_on_private_addresses_are_refused_without_allow_private(
    make_receiver,
    peer: Peer,
    target: str,  # type: ignore[no-untyped-def]
) -> None:
    receiver = make_receiver(allow_private=False)
    source = peer.add_page("/post", f'<a href="{target}">x</a>')
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.INVALID
    assert "non-public address" in (record.reason or "")
    assert not any(path == "/post" for _, path in peer.requests)
    # The target check went to the site itself (exempt: the owner named it) and passed.


def test_a_huge_page_is_read_only_to_the_cap(receiver, peer: Peer, target: str) -> None:  # type: ignore[no-untyped-def]
    body = "<p>" + "x" * 1_200_000 + f'</p><a href="{target}">late link</a>'
    source = peer.add_page("/huge", body)
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.INVALID and record.reason == "no link to target"


def test_at_most_verify_per_host_fetches_to_one_source_host(make_receiver, target: str) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver()
    with Peer("127.0.0.8", latency=0.2) as slow:
        sources = [slow.add_page(f"/p/{n}", f'<a href="{target}">x</a>') for n in range(8)]
        ids = [id_of(receiver.webmention(source, target)) for source in sources]
        records = [receiver.settled(n) for n in ids]
        assert all(r.status is Status.PENDING for r in records)
        assert slow.max_in_flight == 2


def test_a_flood_of_pingbacks_from_one_source_fetches_it_once(
    receiver,
    peer: Peer,
    site: StaticSite,
    site_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    targets = []
    for n in range(5):
        (site_dir / f"a{n}").mkdir()
        (site_dir / f"a{n}" / "index.html").write_text("<title>A</title>", encoding="utf-8")
        targets.append(f"{site.url}a{n}/")
    links = "".join(f'<a href="{t}">x</a>' for t in targets)
    source = peer.add_page("/post", links)
    server = xmlrpc.client.ServerProxy(receiver.url + "/xmlrpc")
    for target_url in targets:
        assert isinstance(server.pingback.ping(source, target_url), str)
    assert [path for _, path in peer.requests].count("/post") == 1


def test_redirects_are_capped(receiver, peer: Peer, target: str) -> None:  # type: ignore[no-untyped-def]
    loop = peer.url("/loop")
    peer.add_page("/loop", "", status=302, headers={"Location": loop})
    record = receiver.settled(id_of(receiver.webmention(loop, target)))
    assert record.status is Status.INVALID and "redirects" in (record.reason or "")


def test_a_source_linking_to_too_many_hosts_is_held_as_spam(
    make_receiver,
    peer: Peer,
    target: str,  # type: ignore[no-untyped-def]
) -> None:
    receiver = make_receiver(max_links=3)
    many = "".join(f'<a href="https://h{n}.example/">x</a>' for n in range(5))
    source = peer.add_page("/post", many + f'<a href="{target}">x</a>')
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.SPAM and "more than 3" in (record.reason or "")


def test_an_allow_rule_approves_and_a_block_rule_refuses(
    receiver,
    peer: Peer,
    target: str,  # type: ignore[no-untyped-def]
) -> None:
    receiver.store.add_rule(Rule(RuleKind.ALLOW, "127.0.0.2"))
    receiver.service._rules = (0.0, [])
    source = peer.add_page("/post", f'<a href="{target}">x</a>')
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.APPROVED
    receiver.store.add_rule(Rule(RuleKind.BLOCK, peer.url("/bad")))
    receiver.service._rules = (0.0, [])
    answer = receiver.webmention(peer.url("/bad/post"), target)
    assert answer.status_code == 400 and answer.text == "blocked"
    trackback = receiver.post(f"/trackback?target={target}", {"url": peer.url("/bad/x")})
    assert "<message>blocked</message>" in trackback.text
