"""How each protocol is sent and each answer classified (SPEC "How it is sent").

Each test serves a target on the peer that advertises scripted endpoints, sends from a
deployed page that links to it, and reads the outcome from the sent-log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from linkback import Settings, Source, send
from linkback.sending import dispatch
from tests.conftest import entry, links_to
from tests.peer import Answer, Peer, PeerHandler, trackback_answer, xmlrpc_answer

Publish = Callable[..., Source]


def run(source: Source, settings: Settings, target: str) -> dict:
    send([source], settings)
    return entry(settings, source.url, target)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_webmention_any_2xx_is_sent(
    status: int, peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm", Answer(status, "ok"))
    target = peer.add_target("t", webmention=endpoint.url)
    source = publish("post", links_to(target))
    result = run(source, settings, target)
    assert result["status"] == "sent"
    assert result["protocol"] == "webmention"
    assert result["endpoint"] == endpoint.url
    assert result["detail"] == f"HTTP {status}"
    assert result["retry"] is False
    assert result["attempts"] == 1
    assert endpoint.forms() == [{"source": source.url, "target": target}]


@pytest.mark.parametrize(
    ("status", "retry"), [(400, False), (404, False), (410, False), (500, True), (503, True)]
)
def test_webmention_errors(
    status: int, retry: bool, peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm", Answer(status, "no"))
    target = peer.add_target("t", webmention=endpoint.url)
    result = run(publish("post", links_to(target)), settings, target)
    assert result["status"] == "failed"
    assert result["protocol"] == "webmention"
    assert str(status) in result["detail"]
    assert result["retry"] is retry


def test_webmention_429_pauses_the_host_for_retry_after_then_sends(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint(
        "/wm", Answer(429, "slow down", headers={"Retry-After": "1"}), Answer(202)
    )
    target = peer.add_target("t", webmention=endpoint.url)
    started = time.monotonic()
    result = run(publish("post", links_to(target)), settings, target)
    assert result["status"] == "sent"
    assert len(endpoint.bodies) == 2
    assert 1.0 <= time.monotonic() - started < 6


def test_webmention_429_beyond_the_pause_budget_waits_for_the_next_build(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm", Answer(429, "later", headers={"Retry-After": "3600"}))
    target = peer.add_target("t", webmention=endpoint.url)
    started = time.monotonic()
    result = run(publish("post", links_to(target)), settings, target)
    assert time.monotonic() - started < 6
    assert result["status"] == "failed"
    assert result["retry"] is True
    assert len(endpoint.bodies) == 1


def test_webmention_to_the_peer_blog_is_verified_and_received(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.post_url("webmention")
    source = publish("post", links_to(target))
    result = run(source, settings, target)
    assert result["status"] == "sent"
    assert result["detail"] == "HTTP 202"
    assert [(r.protocol, r.source, r.target) for r in peer.received] == [
        ("webmention", source.url, target)
    ]


def test_target_is_sent_as_written_not_as_redirected(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm")
    final = peer.add_target("final", webmention=endpoint.url)
    written = peer.add_page("/old-address", "", status=301, headers={"Location": final})
    source = publish("post", links_to(written))
    assert run(source, settings, written)["status"] == "sent"
    assert endpoint.forms() == [{"source": source.url, "target": written}]


PINGBACK_FAULTS = [
    # (code, status, retry): SPEC "How it is sent".
    (48, "sent", False),
    (0, "failed", True),
    (16, "failed", True),
    (17, "failed", True),
    (50, "failed", True),
    (32, "failed", False),
    (33, "failed", False),
    (49, "failed", False),
]


def test_pingback_string_result_is_sent(peer: Peer, publish: Publish, settings: Settings) -> None:
    endpoint = peer.add_endpoint("/xmlrpc", xmlrpc_answer("Thanks!"))
    target = peer.add_target("t", pingback=endpoint.url)
    source = publish("post", links_to(target))
    result = run(source, settings, target)
    assert result["status"] == "sent"
    assert result["protocol"] == "pingback"
    assert result["endpoint"] == endpoint.url
    assert endpoint.calls() == [(source.url, target)]


@pytest.mark.parametrize(("code", "status", "retry"), PINGBACK_FAULTS)
def test_pingback_faults(
    code: int, status: str, retry: bool, peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/xmlrpc", xmlrpc_answer(code, fault=True))
    target = peer.add_target("t", pingback=endpoint.url)
    result = run(publish("post", links_to(target)), settings, target)
    assert result["status"] == status
    assert result["protocol"] == "pingback"
    assert result["retry"] is retry
    assert str(code) in result["detail"]


def test_pingback_fault_429_pauses_then_sends(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    """WordPress refuses a second ping within 15 s with fault 429; Retry-After is honoured."""
    refused = xmlrpc_answer(429, fault=True)
    refused = Answer(refused.status, refused.body, refused.content_type, {"Retry-After": "1"})
    endpoint = peer.add_endpoint("/xmlrpc", refused, xmlrpc_answer("ok"))
    target = peer.add_target("t", pingback=endpoint.url)
    started = time.monotonic()
    result = run(publish("post", links_to(target)), settings, target)
    assert result["status"] == "sent"
    assert len(endpoint.bodies) == 2
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, "<html>not xml-rpc</html>", "text/html"),
        Answer(200, "<?xml version='1.0'?><methodResponse><params/></methodResponse>", "text/xml"),
        Answer(200, "", "text/xml"),
    ],
)
def test_pingback_malformed_answer_is_permanent(
    answer: Answer, peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/xmlrpc", answer)
    target = peer.add_target("t", pingback=endpoint.url)
    result = run(publish("post", links_to(target)), settings, target)
    assert result["status"] == "failed"
    assert result["retry"] is False


def test_pingback_http_500_is_transient(peer: Peer, publish: Publish, settings: Settings) -> None:
    endpoint = peer.add_endpoint("/xmlrpc", Answer(500, "oops"))
    target = peer.add_target("t", pingback=endpoint.url)
    result = run(publish("post", links_to(target)), settings, target)
    assert (result["status"], result["retry"]) == ("failed", True)


def test_pingback_to_the_peer_blog_and_the_duplicate(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings], tmp_path
) -> None:
    target = peer.post_url("pingback")
    source = publish("post", links_to(target))
    first = make_settings()
    assert run(source, first, target)["status"] == "sent"
    # Another sent-log (a lost one): the peer answers fault 48, which counts as sent.
    second = make_settings(sent_log=str(tmp_path / "other-log.json"))
    result = run(source, second, target)
    assert result["status"] == "sent"
    assert "48" in result["detail"]
    assert len(peer.received_by("pingback")) == 1


def test_trackback_success_and_form(peer: Peer, publish: Publish, settings: Settings) -> None:
    endpoint = peer.add_endpoint("/tb", Answer(200, trackback_answer(None), "text/xml"))
    target = peer.add_target("t", trackback=endpoint.url)
    words = " ".join(["déjà-vu"] * 80)
    source = publish(
        "post",
        links_to(target),
        title="Crème brûlée & co",
        excerpt=f"<p>An <em>excerpt</em> {words}</p>",
    )
    result = run(source, settings, target)
    assert result["status"] == "sent"
    assert result["protocol"] == "trackback"
    assert result["endpoint"] == endpoint.url
    (form,) = endpoint.forms()
    assert form["url"] == source.url
    assert form["title"] == "Crème brûlée & co"
    assert form["blog_name"] == "Test blog"
    assert form["excerpt"].startswith("An excerpt déjà-vu")
    assert "<" not in form["excerpt"]
    assert len(form["excerpt"]) <= 255


def test_trackback_excerpt_defaults_to_the_content_text(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.post_url("trackback")
    source = publish("post", f"<p>Read <b>this</b>: {links_to(target)}</p>", excerpt="")
    assert run(source, settings, target)["status"] == "sent"
    (received,) = peer.received
    assert received.excerpt.startswith("Read this: See this post.")


def test_trackback_error_gives_its_message(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    answer = Answer(200, trackback_answer("Sorry, trackbacks are closed."), "text/xml")
    endpoint = peer.add_endpoint("/tb", answer)
    target = peer.add_target("t", trackback=endpoint.url)
    result = run(publish("post", links_to(target)), settings, target)
    assert result["status"] == "failed"
    assert "Sorry, trackbacks are closed." in result["detail"]


@pytest.mark.parametrize("body", ["<html>hello</html", "<response><message>x</message></response>"])
def test_trackback_malformed_answer_is_permanent(
    body: str, peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/tb", Answer(200, body, "text/xml"))
    target = peer.add_target("t", trackback=endpoint.url)
    result = run(publish("post", links_to(target)), settings, target)
    assert (result["status"], result["retry"]) == ("failed", False)


def test_trackback_to_the_peer_blog(peer: Peer, publish: Publish, settings: Settings) -> None:
    target = peer.post_url("trackback")
    source = publish("post", links_to(target), title="Mine", excerpt="Short.")
    assert run(source, settings, target)["status"] == "sent"
    (received,) = peer.received
    assert (received.protocol, received.url, received.target) == ("trackback", source.url, target)
    assert (received.title, received.excerpt, received.blog_name) == ("Mine", "Short.", "Test blog")


def test_webmention_is_preferred_when_all_are_advertised(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.post_url("all")
    assert run(publish("post", links_to(target)), settings, target)["protocol"] == "webmention"
    assert [r.protocol for r in peer.received] == ["webmention"]
    assert peer.ping_requests() == [("POST", "/webmention")]


def test_protocols_setting_orders_and_limits(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    target = peer.post_url("all")
    settings = make_settings(protocols=["trackback", "pingback"])
    assert run(publish("post", links_to(target)), settings, target)["protocol"] == "trackback"
    only_webmention = make_settings(protocols=["webmention"], sent_log="wm-only.json")
    pingback_only = peer.post_url("pingback")
    result = run(publish("other", links_to(pingback_only)), only_webmention, pingback_only)
    assert result["status"] == "no-endpoint"


def test_permanent_failure_falls_back_to_the_next_protocol(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    webmention = peer.add_endpoint("/wm", Answer(400, "not here"))
    pingback = peer.add_endpoint("/xmlrpc", xmlrpc_answer(33, fault=True))
    trackback = peer.add_endpoint("/tb", Answer(200, trackback_answer(None), "text/xml"))
    target = peer.add_target(
        "t", webmention=webmention.url, pingback=pingback.url, trackback=trackback.url
    )
    result = run(publish("post", links_to(target)), settings, target)
    assert result["status"] == "sent"
    assert result["protocol"] == "trackback"
    assert result["endpoint"] == trackback.url
    assert [len(e.bodies) for e in (webmention, pingback, trackback)] == [1, 1, 1]


def test_transient_failure_does_not_fall_back(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    webmention = peer.add_endpoint("/wm", Answer(503, "busy"))
    pingback = peer.add_endpoint("/xmlrpc", xmlrpc_answer("ok"))
    target = peer.add_target("t", webmention=webmention.url, pingback=pingback.url)
    result = run(publish("post", links_to(target)), settings, target)
    assert (result["status"], result["protocol"], result["retry"]) == ("failed", "webmention", True)
    assert pingback.bodies == []


def test_no_endpoint_is_recorded_and_never_retried(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.post_url("none")
    source = publish("post", links_to(target))
    result = run(source, settings, target)
    assert result["status"] == "no-endpoint"
    assert result["protocol"] is None
    assert result["retry"] is False
    before = len(peer.requests)
    send([source], settings)
    assert len(peer.requests) == before


def test_manual_trackbacks_are_sent_whatever_discovery_finds(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/tb/by-hand", Answer(200, trackback_answer(None), "text/xml"))
    other = peer.add_endpoint("/tb/second", Answer(200, trackback_answer(None), "text/xml"))
    source = publish(
        "post", "<p>No links at all.</p>", metadata={"Trackbacks": f"{endpoint.url}, {other.url}"}
    )
    send([source], settings)
    for uri in (endpoint.url, other.url):
        result = entry(settings, source.url, uri)
        assert (result["status"], result["protocol"]) == ("sent", "trackback")
    assert endpoint.forms()[0]["url"] == source.url
    assert len(other.bodies) == 1
    assert [method for method, _ in peer.requests] == ["POST", "POST"]  # no discovery GET


@pytest.mark.parametrize("value", ["off", "false", "no", False])
def test_linkback_off_sends_nothing_for_that_page(
    value: object, peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.post_url("webmention")
    quiet = publish("quiet", links_to(target), metadata={"linkback": value})
    report = send([quiet], settings)
    assert peer.requests == []
    assert report.pages == 0
    assert (
        not settings.sent_log_path.exists() or quiet.url not in settings.sent_log_path.read_text()
    )


def test_user_agent_names_linkback_and_the_site(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.post_url("webmention")
    send([publish("post", links_to(target))], settings)
    agents = {headers["User-Agent"] for headers in peer.headers}
    assert len(agents) == 1
    (agent,) = agents
    assert agent.startswith("linkback/")
    assert settings.site_url in agent


def test_target_page_429_is_fetched_again_after_the_pause(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm")
    answers = iter([429, 200])

    def page(handler: PeerHandler) -> None:
        if next(answers, 200) == 429:
            handler.reply(429, "slow down", headers={"Retry-After": "1"})
        else:
            handler.reply(
                200, "<html></html>", headers={"Link": f"<{endpoint.url}>; rel=webmention"}
            )

    target = peer.add_handler("/busy/", page)
    result = run(publish("post", links_to(target)), settings, target)
    assert result["status"] == "sent"
    assert peer.requests.count(("GET", "/busy/")) == 2


@pytest.mark.parametrize("retry_after", ["1", "0"])
def test_a_429_that_never_ends_is_tried_again_once_per_pair(
    retry_after: str, peer: Peer, publish: Publish, settings: Settings
) -> None:
    """Then the pair waits for the next build, and the run ends."""
    endpoint = peer.add_endpoint("/wm", Answer(429, "no", headers={"Retry-After": retry_after}))
    targets = [peer.add_target(f"t{n}", webmention=endpoint.url) for n in range(3)]
    source = publish("post", links_to(*targets))
    started = time.monotonic()
    report = send([source], settings)
    assert time.monotonic() - started < 15
    assert sorted(form["target"] for form in endpoint.forms()) == sorted(targets * 2)
    assert report.failed == report.failed_retry == 3
    for target in targets:
        result = entry(settings, source.url, target)
        assert (result["status"], result["retry"], result["detail"]) == ("failed", True, "HTTP 429")


def test_a_target_page_that_answers_429_for_ever_is_fetched_twice(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.add_page("/busy/", "slow down", status=429, headers={"Retry-After": "1"})
    result = run(publish("post", links_to(target)), settings, target)
    assert peer.requests.count(("GET", "/busy/")) == 2
    assert (result["status"], result["retry"]) == ("failed", True)


def test_a_bug_in_a_step_is_loud_recorded_and_the_run_goes_on(
    peer: Peer,
    publish: Publish,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A step that raises is a bug in linkback, not a bad target: a WARNING with its
    traceback on the run's logger, a failure recorded against that link, the others sent."""
    buggy, fine = peer.post_url("webmention", "buggy"), peer.post_url("webmention", "fine")
    real_discover = dispatch.discover

    def discover_with_a_bug(url: str, *args: object, **kwargs: object) -> object:
        if "buggy" in url:
            raise KeyError("a bug")
        return real_discover(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dispatch, "discover", discover_with_a_bug)
    source = publish("post", links_to(buggy, fine))
    run_logger = logging.getLogger("tests.run")
    with caplog.at_level(logging.WARNING, logger="tests.run"):
        report = send([source], settings, logger=run_logger)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == "tests.run" and "internal error" in warning.getMessage()
    assert warning.exc_info is not None and warning.exc_info[0] is KeyError
    failed = entry(settings, source.url, buggy)
    assert (failed["status"], failed["retry"]) == ("failed", False)
    assert failed["detail"] == "internal error: KeyError: 'a bug'"
    assert entry(settings, source.url, fine)["status"] == "sent"
    assert (report.sent["webmention"], report.failed) == (1, 1)
