"""Sending over HTTPS to host names, as on the real web (tests/tls.py makes the names).

Each test checks what the servers saw on the wire: the TLS server name (SNI) and the ``Host``
header are the host name, never the address linkback connected to.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import urllib3

from linkback import Settings, Source, send
from linkback.common.http import Client, FetchError, MappedResolver, system_resolver
from linkback.common.outcome import Verdict
from tests import test_mkdocs as mkdocs_e2e
from tests import test_pelican as pelican_e2e
from tests.conftest import entry, links_to
from tests.peer import Peer, Seen, StaticSite
from tests.tls import Web

Publish = Callable[..., Source]


def origin(url: str) -> str:
    """``name:port`` of a base URL: what SNI-plus-Host must say."""
    return url.split("://", 1)[1].split("/", 1)[0]


def assert_named(seen: list[Seen], server: Peer | StaticSite, *, tls: bool = True) -> None:
    """Every request came with the server's name as Host, and as SNI over TLS."""
    base = server.base_url if isinstance(server, Peer) else server.url
    host = origin(base)
    assert seen, "the server saw no request"
    for request in seen:
        assert request.host == host, request
        assert request.sni == (host.split(":")[0] if tls else None), request


# The client --------------------------------------------------------------------------------


def test_discovery_get_speaks_tls_and_host_to_the_name(
    blog: Peer, web: Web, make_https_settings: Callable[..., Settings]
) -> None:
    client = Client(make_https_settings(), resolver=web.resolve)
    response = client.get(blog.post_url("webmention"))
    assert (response.status, response.media_type, response.charset) == (200, "text/html", "utf-8")
    assert response.headers["Link"].startswith(f"<{blog.base_url}/webmention>")
    assert_named(blog.seen, blog)
    assert blog.seen[0].request_line == "GET /webmention/post/ HTTP/1.1"
    assert blog.seen[0].headers["Accept-Encoding"] == "identity"


def test_keep_alive_reuses_one_connection_and_keeps_the_host(
    web: Web, make_https_settings: Callable[..., Settings]
) -> None:
    for tls in (True, False):
        peer = web.peer("keep.test" if tls else "plain.test", tls=tls)
        client = Client(make_https_settings(), resolver=web.resolve)
        client.get(peer.post_url("all", "one"))
        client.get(peer.post_url("all", "two"))
        assert len(peer.seen) == 2
        assert len({request.client for request in peer.seen}) == 1  # one pooled connection
        assert_named(peer.seen, peer, tls=tls)


def test_a_name_is_resolved_once_for_a_while(
    blog: Peer, web: Web, make_https_settings: Callable[..., Settings]
) -> None:
    asked: list[tuple[str, int]] = []

    def counting(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return web.resolve(host, port)

    client = Client(make_https_settings(), resolver=counting)
    for kind in ("webmention", "pingback", "trackback"):
        assert client.get(blog.post_url(kind)).status == 200
    port = int(origin(blog.base_url).split(":")[1])
    assert asked == [("blog.test", port)]


def test_names_that_share_an_address_keep_pools_of_their_own(
    web: Web, make_https_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """Shared hosting: the scheduler allows per_host requests per name, so each name needs a
    pool of that size, or urllib3 would drop connections and warn in the user's build."""
    peer = web.peer("shared.test", tls=False, latency=0.3)
    address = web.address("shared.test")
    client = Client(make_https_settings(per_host=2), resolver=lambda host, port: [address])
    urls = [peer.url(f"/{n}/").replace("shared.test", name) for n in range(2) for name in "ab"]
    threads = [threading.Thread(target=client.get, args=(url,)) for url in urls]
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [record.getMessage() for record in caplog.records] == []
    assert sorted(request.host.split(":")[0] for request in peer.seen) == ["a", "a", "b", "b"]


def test_post_carries_the_name_and_the_body(
    blog: Peer, web: Web, make_https_settings: Callable[..., Settings]
) -> None:
    endpoint = blog.add_endpoint("/wm")
    client = Client(make_https_settings(), resolver=web.resolve)
    response = client.post(endpoint.url, data={"source": "https://a/é", "target": "https://b/"})
    assert response.status == 202
    assert blog.seen[0].body == b"source=https%3A%2F%2Fa%2F%C3%A9&target=https%3A%2F%2Fb%2F"
    assert_named(blog.seen, blog)


def test_a_certificate_for_another_name_is_refused(
    web: Web, ca, make_https_settings: Callable[..., Settings]
) -> None:
    impostor = Peer(web.address("bank.test"), name="bank.test", context=ca.server_context("x.test"))
    with impostor, pytest.raises(FetchError, match="certificate not accepted") as refused:
        Client(make_https_settings(), resolver=web.resolve).get(impostor.post_url("all"))
    assert refused.value.verdict is Verdict.TRANSIENT
    assert impostor.seen == []


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"])
def test_the_ca_bundle_comes_from_the_environment(
    variable: str, blog: Peer, web: Web, make_https_settings: Callable[..., Settings]
) -> None:
    settings = make_https_settings()
    with pytest.raises(FetchError, match="certificate not accepted"):  # certifi's CAs only
        Client(settings, resolver=web.resolve, environ={}).get(blog.post_url("all"))
    environ = {variable: str(web.ca.file)}
    assert Client(settings, resolver=web.resolve, environ=environ).get(blog.url("/")).status == 404


def test_proxy_variables_are_never_used(
    blog: Peer, web: Web, make_https_settings: Callable[..., Settings], monkeypatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.9:9")  # nothing listens there
    assert Client(make_https_settings()).get(blog.post_url("all")).status == 200
    assert_named(blog.seen, blog)


def test_a_name_that_does_not_resolve_is_transient_not_blocked(
    make_https_settings: Callable[..., Settings],
) -> None:
    def flaky(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(FetchError, match="cannot resolve blog.test") as failed:
        Client(make_https_settings(), resolver=flaky).get("https://blog.test/")
    assert failed.value.verdict is Verdict.TRANSIENT


def test_a_resolver_that_hangs_is_held_to_the_deadline(
    make_https_settings: Callable[..., Settings],
) -> None:
    def hanging(host: str, port: int) -> list[str]:
        time.sleep(5)
        return ["127.0.0.2"]

    started = time.monotonic()
    with pytest.raises(FetchError, match="within 1 s") as failed:
        Client(make_https_settings(timeout=1), resolver=hanging).get("https://slow.test/")
    assert time.monotonic() - started < 2
    assert failed.value.verdict is Verdict.TRANSIENT


def test_a_name_on_loopback_is_blocked_without_allow_private(
    blog: Peer, web: Web, make_https_settings: Callable[..., Settings]
) -> None:
    client = Client(make_https_settings(allow_private=False), resolver=web.resolve)
    with pytest.raises(FetchError, match="non-public address 127.0.1.1") as refused:
        client.get(blog.post_url("all"))
    assert refused.value.verdict is Verdict.BLOCKED
    assert blog.seen == []


@pytest.mark.parametrize(
    "url", [f"https://{'a' * 64}.test/", "https://a..test/", "http://exa mple.test/", "http:///x"]
)
def test_a_host_that_cannot_be_a_name_is_a_failure_not_a_traceback(
    url: str, make_https_settings: Callable[..., Settings]
) -> None:
    asked: list[str] = []
    client = Client(make_https_settings(), resolver=lambda host, port: asked.append(host) or [])
    with pytest.raises(FetchError, match="invalid") as failed:
        client.get(url)
    assert failed.value.verdict is Verdict.PERMANENT
    assert asked == []  # never looked up


def test_the_urllib3_interface_the_client_relies_on() -> None:
    """Public, but young or little known: each missing would silently weaken a guarantee."""
    major, minor = (int(part) for part in urllib3.__version__.split(".")[:2])
    assert (2, 6) <= (major, minor) < (3, 0)  # 2.6: decompression bounded by what is read
    assert callable(urllib3.HTTPResponse.shutdown)  # 2.3: the deadline cuts a body
    manager = urllib3.PoolManager()
    assert set(manager.pool_classes_by_scheme) == {"http", "https"}  # our connection classes
    pools = [  # one pool per name on one address: SNI and the certificate follow the name
        manager.connection_from_host("127.0.0.1", 443, "https", {"server_hostname": name})
        for name in ("a.test", "b.test")
    ]
    assert [pool.conn_kw["server_hostname"] for pool in pools] == ["a.test", "b.test"]


def test_resolve_rules() -> None:
    resolver = MappedResolver.parse(
        "blog.test:443:127.0.0.2, Blog.test:*:127.0.0.3+::1, gone.test:*:-, *:8080:127.0.0.9",
        fallback=lambda host, port: ["192.0.2.1"],
    )
    assert resolver("blog.test", 443) == ("127.0.0.2",)
    assert resolver("BLOG.test", 80) == ("127.0.0.3", "::1")
    assert resolver("other.test", 8080) == ("127.0.0.9",)
    assert resolver("other.test", 80) == ["192.0.2.1"]
    with pytest.raises(socket.gaierror):
        resolver("gone.test", 443)
    for bad in ("blog.test:127.0.0.2", "blog.test:x:127.0.0.2", "blog.test:*:not-an-ip"):
        with pytest.raises(ValueError):
            MappedResolver.parse(bad)
    assert MappedResolver.parse("").fallback is system_resolver


# Sending ------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["webmention", "pingback", "trackback"])
def test_each_protocol_over_https(
    protocol: str,
    blog: Peer,
    https_site: StaticSite,
    https_publish: Publish,
    make_https_settings: Callable[..., Settings],
) -> None:
    settings = make_https_settings()
    target = blog.post_url(protocol)
    source = https_publish("post", links_to(target))
    report = send([source], settings)
    assert report.sent[protocol] == 1
    assert entry(settings, source.url, target)["status"] == "sent"
    assert [(item.protocol, item.source, item.target) for item in blog.received] == [
        (protocol, source.url, target)
    ]
    assert_named(blog.seen, blog)
    assert_named(https_site.seen, https_site)  # the live check, and the peer verifying
    assert https_site.seen[0].request_line == "GET /post/ HTTP/1.1"  # linkback's live check


def test_redirect_between_hosts(
    web: Web,
    blog: Peer,
    https_site: StaticSite,
    https_publish: Publish,
    make_https_settings: Callable[..., Settings],
) -> None:
    settings = make_https_settings(check_live=False)
    mover = web.peer("peer.test")
    endpoint = blog.add_endpoint("/wm")
    final = blog.add_target("end", webmention=endpoint.url)
    target = mover.add_page("/moved/", "", status=301, headers={"Location": final})
    source = https_publish("post", links_to(target))
    send([source], settings)
    assert entry(settings, source.url, target)["status"] == "sent"
    assert [form["target"] for form in endpoint.forms()] == [target]  # sent as written
    assert_named(mover.seen, mover)
    assert_named(blog.seen, blog)
    assert [request.request_line for request in mover.seen] == ["GET /moved/ HTTP/1.1"]


def test_live_check_of_an_https_site(
    blog: Peer,
    https_site: StaticSite,
    https_publish: Publish,
    make_https_settings: Callable[..., Settings],
    site_dir: Path,
) -> None:
    settings = make_https_settings()
    target = blog.post_url("webmention")
    waiting = https_publish("later", links_to(target), live=False)
    assert send([waiting], settings).pending == 1
    assert blog.received == []
    https_publish("later", links_to(target))  # uploaded now
    assert send([waiting], settings).sent["webmention"] == 1
    assert_named(https_site.seen, https_site)


def test_an_unresolvable_target_is_retried_and_a_bad_label_is_not(
    https_publish: Publish, make_https_settings: Callable[..., Settings], web: Web
) -> None:
    settings = make_https_settings()
    nowhere, bad = "https://nowhere.test/post/", f"https://{'b' * 64}.test/post/"
    source = https_publish("post", links_to(nowhere, bad))
    send([source], settings)
    unresolved = entry(settings, source.url, nowhere)
    assert (unresolved["status"], unresolved["retry"]) == ("failed", True)
    assert "cannot resolve nowhere.test" in unresolved["detail"]
    invalid = entry(settings, source.url, bad)
    assert (invalid["status"], invalid["retry"]) == ("failed", False)


def test_linkback_send_over_https_notifies_each_protocol_once(
    blog: Peer, https_site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    """The command as a user runs it, names and CA reaching it through the environment."""
    targets = [blog.post_url(kind) for kind in ("webmention", "pingback", "trackback")]
    for number, target in enumerate(targets):
        page = site_dir / f"p{number}" / "index.html"
        page.parent.mkdir()
        page.write_text(
            f"<!DOCTYPE html><html><head><title>p{number}</title></head>"
            f"<body><article>{links_to(target)}</article></body></html>",
            encoding="utf-8",
        )
    command = [
        str(Path(sys.executable).with_name("linkback")),
        "send",
        str(site_dir),
        "--site-url",
        https_site.url,
        "--allow-private",
        "--timeout",
        "2",
    ]
    env = {key: value for key, value in os.environ.items() if key != "LINKBACK_SEND"}
    for run in range(2):
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        if run == 0:
            posts = len(blog.ping_requests())
    assert sorted(item.protocol for item in blog.received) == [
        "pingback",
        "trackback",
        "webmention",
    ]
    assert len(blog.ping_requests()) == posts == 3  # once each, and nothing on the second run
    assert_named(blog.seen, blog)
    assert_named(https_site.seen, https_site)


def test_linkback_discover_over_https(blog: Peer, tmp_path: Path) -> None:
    url = blog.post_url("all")
    done = subprocess.run(
        [sys.executable, "-m", "linkback", "discover", url, "--allow-private", "--timeout", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"webmention: {blog.base_url}/webmention" in done.stdout
    assert_named(blog.seen, blog)


def test_mkdocs_build_sends_over_https(blog: Peer, https_site: StaticSite, tmp_path: Path) -> None:
    """The real ``mkdocs build`` sending from https://site.test to https://blog.test."""
    docs = mkdocs_e2e.copy_site(tmp_path / "docs-site", blog.base_url)
    built = mkdocs_e2e.build_live(docs, https_site)
    assert built.returncode == 0, built.stderr
    assert mkdocs_e2e.summary(built).startswith("linkback: 7 links in 3 pages: 6 sent ")
    assert sorted(mkdocs_e2e.received(blog)) == sorted(mkdocs_e2e.expected_pings(blog, https_site))
    assert_named(blog.seen, blog)
    assert_named(https_site.seen, https_site)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LINKBACK_RESOLVE", "blog.test:127.0.0.2", "is not HOST:PORT:ADDRESS"),
        ("LINKBACK_RESOLVE", "blog.test:*:localhost", "has an address that is not an IP"),
        ("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem", "cannot load CA certificates"),
        ("SSL_CERT_FILE", "{tmp}/not-a-certificate.pem", "cannot load CA certificates"),
    ],
)
def test_a_bad_resolve_rule_or_ca_bundle_is_a_configuration_error(
    variable: str, value: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "not-a-certificate.pem").write_text("hello", encoding="utf-8")
    env = {
        key: item
        for key, item in os.environ.items()
        if key not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    env[variable] = value.format(tmp=tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "linkback", "discover", "https://blog.test/", "--allow-private"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert variable in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_pelican_publish_sends_over_https(blog: Peer, web: Web, tmp_path: Path) -> None:
    """The real ``pelican`` publish from https://site.test to https://blog.test."""
    folder = pelican_e2e.copy_site(tmp_path / "site", blog)
    (folder / "output").mkdir()
    site = web.site("site.test", folder / "output")
    result = pelican_e2e.pelican(folder, site.url.rstrip("/"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert pelican_e2e.summary(result).startswith(pelican_e2e.FIRST_SUMMARY)
    assert pelican_e2e.received(blog, site) == pelican_e2e.EXPECTED
    assert_named(blog.seen, blog)
    assert_named(site.seen, site)
