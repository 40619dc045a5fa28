"""Abuse limits: body cap, rate limit, forwarded addresses, private addresses, huge pages."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from linkback.http import is_public
from linkback.receive.limits import RateLimiter, client_address
from linkback.receive.store import Status
from tests.peer import Peer, StaticSite
from tests.receiver import id_of

TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


@pytest.fixture
def target(site: StaticSite, site_dir: Path) -> str:
    (site_dir / "article").mkdir()
    (site_dir / "article" / "index.html").write_text("<title>A</title>", encoding="utf-8")
    return site.url + "article/"


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
    import time

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
