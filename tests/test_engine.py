"""The run as a whole: sending or not, dry runs, the report, limits, logging (SPEC "Output",
"How it is sent" Concurrency)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from linkback import ConfigError, Settings, Source, send
from tests.conftest import entry, links_to
from tests.peer import Peer, PeerHandler

Publish = Callable[..., Source]


def test_not_sending_touches_neither_network_nor_log(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings], site
) -> None:
    settings = make_settings(send=False)
    sources = [publish("one", links_to(peer.post_url("all"))), publish("two", "<p>none</p>")]
    report = send(sources, settings)
    assert peer.requests == [] and site.requests == []
    assert not settings.sent_log_path.exists()
    assert report.sending is False
    assert (report.pages, report.links) == (2, 1)
    line = report.summary(send_setting="LINKBACK_SEND")
    assert "not sending" in line and "LINKBACK_SEND" in line
    assert "1 new link" in line


def test_not_sending_needs_no_site_url(peer: Peer) -> None:
    settings = Settings.from_mapping({}, environ={})
    report = send([Source("/a/", "A", links_to(peer.post_url("all")))], settings)
    assert report.sending is False
    assert peer.requests == []


def test_sending_without_an_absolute_site_url_is_a_configuration_error(
    peer: Peer, tmp_path: Path
) -> None:
    settings = Settings.from_mapping(
        {"send": True, "allow_private": True}, site_url="/blog", base_dir=tmp_path, environ={}
    )
    with pytest.raises(ConfigError, match="site"):
        send([Source("/blog/a/", "A", links_to(peer.post_url("all")))], settings)
    assert peer.requests == []


def test_sent_log_inside_the_output_is_refused_before_any_request(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(sent_log="output/linkback-sent.json")
    source = publish("post", links_to(peer.post_url("all")))
    with pytest.raises(ConfigError, match="output"):
        send([source], settings, output_dir=str(tmp_path / "output"))
    assert peer.requests == []


def test_dry_run_discovers_but_sends_and_writes_nothing(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(dry_run=True)
    targets = [peer.post_url("webmention"), peer.post_url("pingback"), peer.post_url("none")]
    report = send([publish("post", links_to(*targets))], settings)
    assert peer.ping_requests() == []
    assert sorted(path for _, path in peer.requests) == sorted(
        "/" + t.split("/", 3)[3] for t in targets
    )
    assert not settings.sent_log_path.exists()
    assert report.would_send == 2
    assert report.no_endpoint == 1
    assert "would be sent" in report.summary()


def test_summary_line(peer: Peer, publish: Publish, settings: Settings) -> None:
    sources = [
        publish("one", links_to(peer.post_url("webmention"), peer.post_url("none"))),
        publish("two", links_to(peer.post_url("pingback"), peer.post_url("trackback"))),
    ]
    report = send(sources, settings)
    assert re.fullmatch(
        r"linkback: 4 links in 2 pages: 3 sent \(1 webmention, 1 pingback, 1 trackback\), "
        r"0 already sent, 1 without endpoint in \d+\.\d s",
        report.summary(),
    ), report.summary()
    assert report.exit_code == 0
    again = send(sources, settings)
    assert "0 sent, 3 already sent, 1 without endpoint in" in again.summary()


def test_summary_counts_failures(peer: Peer, publish: Publish, settings: Settings) -> None:
    target = peer.add_page("/gone/", "gone", status=500)
    report = send([publish("post", links_to(target))], settings)
    assert report.failed == 1
    assert report.exit_code == 1
    assert "1 failed (1 retry next build)" in report.summary()


def test_one_discovery_per_target_however_many_pages_link_to_it(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.post_url("webmention")
    sources = [publish(f"p{n}", links_to(target)) for n in range(3)]
    report = send(sources, settings)
    assert report.sent["webmention"] == 3
    assert peer.requests.count(("GET", "/webmention/post/")) == 1
    assert sorted(r.source for r in peer.received) == sorted(s.url for s in sources)


def test_at_most_per_host_requests_to_one_host(
    publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    with Peer("127.0.0.4", latency=0.2, verify=False) as slow:
        targets = [slow.post_url("webmention", f"p{n}") for n in range(6)]
        send([publish("post", links_to(*targets))], make_settings(per_host=2))
        assert len(slow.received) == 6
        assert slow.max_in_flight == 2


def test_at_most_concurrency_requests_in_all(
    publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    with Peer("127.0.0.4", latency=0.2, verify=False) as slow:
        targets = [slow.post_url("webmention", f"p{n}") for n in range(6)]
        send([publish("post", links_to(*targets))], make_settings(per_host=8, concurrency=3))
        assert len(slow.received) == 6
        assert slow.max_in_flight == 3


def test_a_slow_host_holds_up_no_other(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    answered: list[float] = []

    def quick(handler: PeerHandler) -> None:
        handler.read_body()
        answered.append(time.monotonic())
        handler.reply(202)

    peer.add_handler("/wm", quick, method="POST")
    quick_targets = [peer.add_target(f"q{n}", webmention=peer.url("/wm")) for n in range(6)]
    with Peer("127.0.0.4", latency=1.0, verify=False) as slow:
        slow_targets = [slow.post_url("webmention", f"s{n}") for n in range(4)]
        links = [t for pair in zip(slow_targets, quick_targets, strict=False) for t in pair]
        source = publish("post", links_to(*links, *quick_targets[4:]))
        started = time.monotonic()
        report = send([source], make_settings(per_host=2, check_live=False))
        took = time.monotonic() - started
    assert sum(report.sent.values()) == 10
    assert took >= 4  # the slow host: 4 targets x (GET + POST) x 1 s / 2 at a time
    assert len(answered) == 6
    assert max(answered) - started < 1.5


def test_debug_log_has_one_line_per_target(
    peer: Peer, publish: Publish, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    target = peer.post_url("webmention")
    source = publish("post", links_to(target))
    with caplog.at_level(logging.DEBUG, logger="tests.linkback"):
        send([source], settings, logger=logging.getLogger("tests.linkback"))
    lines = [r.getMessage() for r in caplog.records if target in r.getMessage()]
    assert len(lines) == 1
    assert "webmention" in lines[0] and "sent" in lines[0]
    assert peer.url("/webmention") in lines[0]


def test_progress_bar_does_not_disturb_the_run(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    targets = [peer.post_url("webmention", f"p{n}") for n in range(25)]
    source = publish("post", links_to(*targets))
    report = send([source], settings, progress=True)
    assert report.sent["webmention"] == 25
    assert {entry(settings, source.url, t)["status"] for t in targets} == {"sent"}


def test_exclude_and_self_links_are_not_contacted(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings], site
) -> None:
    settings = make_settings(exclude=["/pingback/"])
    source = publish(
        "post",
        links_to(peer.post_url("pingback"), f"{site.url}other/", peer.post_url("webmention")),
    )
    report = send([source], settings)
    assert report.links == 1
    assert ("GET", "/pingback/post/") not in peer.requests
    assert [r.protocol for r in peer.received] == ["webmention"]


def test_connections_are_reused(publish: Publish, make_settings: Callable[..., Settings]) -> None:
    with Peer("127.0.0.4", verify=False) as other:
        targets = [other.post_url("webmention", f"p{n}") for n in range(10)]
        send([publish("post", links_to(*targets))], make_settings(per_host=1))
        assert len(other.requests) == 20
        assert len(other.connections) <= 2


def test_no_temporary_file_is_left_beside_the_sent_log(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    send([publish("post", links_to(peer.post_url("webmention")))], settings)
    leftovers = [
        path.name
        for path in settings.sent_log_path.parent.iterdir()
        if path.name.startswith(".linkback-sent") or path.suffix == ".tmp"
    ]
    assert leftovers == []
