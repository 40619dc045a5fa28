"""The sent-log: once-only, pending until live, crash safety, locking, refusal of bad files.

SPEC "What is sent" (Once, After the page is live) and "The sent-log".
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from linkback import Report, SentLogError, Settings, Source, deliver, send
from linkback.common import files
from linkback.sending import links, pagecache, sentlog
from tests.conftest import deploy, entry, links_to, read_log
from tests.peer import (
    Answer,
    Peer,
    PeerHandler,
    ScriptedEndpoint,
    StaticSite,
    trackback_answer,
)
from tests.unprivileged import Unprivileged

Publish = Callable[..., Source]
FIELDS = {
    "status",
    "protocol",
    "endpoint",
    "attempts",
    "first_attempt",
    "last_attempt",
    "detail",
    "retry",
}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ROOT = Path(__file__).resolve().parent.parent


def test_sent_log_shape(peer: Peer, publish: Publish, settings: Settings) -> None:
    target = peer.post_url("webmention")
    source = publish("post", links_to(target))
    send([source], settings)
    text = settings.sent_log_path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert set(data) == {"version", "links", "site_url", "sources"}
    assert data["version"] == 1
    assert data["site_url"] == settings.site_url
    assert data["sources"] == {
        source.url: {"digest": pagecache.fingerprint(source), "deleted": False}
    }
    assert list(data["links"]) == [source.url]
    record = data["links"][source.url][target]
    assert set(record) == FIELDS
    assert record["status"] == "sent"
    assert record["protocol"] == "webmention"
    assert record["endpoint"] == peer.url("/webmention")
    assert record["attempts"] == 1
    assert STAMP.match(record["first_attempt"]) and STAMP.match(record["last_attempt"])
    assert record["detail"] == "HTTP 202"
    assert record["retry"] is False
    # Human-readable: indented, keys sorted.
    assert text.strip() == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def test_second_run_makes_no_request_at_all(
    peer: Peer, publish: Publish, settings: Settings, site
) -> None:
    targets = [peer.post_url(kind) for kind in ("webmention", "pingback", "trackback", "none")]
    sources = [publish("one", links_to(*targets[:2])), publish("two", links_to(*targets[2:]))]
    first = send(sources, settings)
    assert sum(first.sent.values()) == 3
    assert first.no_endpoint == 1
    peer_requests, site_requests = len(peer.requests), len(site.requests)
    log_before = settings.sent_log_path.read_bytes()
    second = send(sources, settings)
    assert (len(peer.requests), len(site.requests)) == (peer_requests, site_requests)
    assert second.already == 4
    assert sum(second.sent.values()) == 0
    assert second.requests == 0
    assert settings.sent_log_path.read_bytes() == log_before
    assert len(peer.received) == 3


def test_a_build_with_nothing_new_neither_waits_for_the_lock_nor_takes_it(
    peer: Peer, publish: Publish, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = publish("post", links_to(peer.post_url("webmention")))
    send([source], settings)
    lock = FileLock(str(settings.sent_log_path) + ".lock")
    with lock.acquire(timeout=0):  # another build is sending right now
        started = time.monotonic()
        report = send([source], settings)
        assert time.monotonic() - started < 5  # it would wait 60 s for the lock
    assert report.already == 1
    # With something new, the lock is waited for (briefly here).
    monkeypatch.setattr(sentlog, "LOCK_WAIT_SECONDS", 0.2)
    new = publish("post", links_to(peer.post_url("webmention"), peer.post_url("pingback")))
    with lock.acquire(timeout=0), pytest.raises(SentLogError, match="another linkback run holds"):
        send([new], settings)
    assert len(peer.received) == 1


def test_a_run_that_waited_for_the_lock_does_not_send_what_the_first_run_sent(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    """Two builds at once plan the same pair; the one that waited finds it settled."""
    arrived, release = threading.Event(), threading.Event()
    endpoint = ScriptedEndpoint(peer.url("/wm"), (Answer(),))

    def held(handler: PeerHandler) -> None:  # the first run's ping, held until released
        arrived.set()
        release.wait(5)
        endpoint(handler)

    peer.add_handler("/wm", held, method="POST")
    source = publish("post", links_to(peer.add_target("t", webmention=endpoint.url)))
    waiting = threading.Event()
    second_logger = logging.getLogger("linkback.test.second")
    on_waiting = _OnMessage("waiting for another run", waiting)
    second_logger.addHandler(on_waiting)
    reports: dict[str, Report] = {}

    def run(name: str, logger: logging.Logger | None = None) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: reports.setdefault(name, send([source], settings, logger=logger))
        )
        thread.start()
        return thread

    try:
        first = run("first")
        assert arrived.wait(5)  # the first run holds the lock while its ping is in flight
        second = run("second", second_logger)
        assert waiting.wait(5)  # the second planned the same pair and waits for the lock
    finally:
        release.set()
        second_logger.removeHandler(on_waiting)
    first.join(5)
    second.join(5)
    assert (reports["first"].sent["webmention"], reports["second"].sent["webmention"]) == (1, 0)
    assert reports["second"].already == 1
    assert len(endpoint.bodies) == 1


class _OnMessage(logging.Handler):
    def __init__(self, text: str, event: threading.Event) -> None:
        super().__init__()
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_a_new_link_in_a_known_page_is_the_only_one_sent(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    """Without updates (``send_updates`` off): the old link of the changed page is not sent
    again either."""
    settings = settings.replace(send_updates=False)
    old, new = peer.post_url("webmention", "old"), peer.post_url("webmention", "new")
    send([publish("post", links_to(old))], settings)
    send([publish("post", links_to(old, new))], settings)
    assert Counter(r.target for r in peer.received) == {old: 1, new: 1}


def test_transient_failures_are_retried_up_to_max_attempts(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(max_attempts=2)
    endpoint = peer.add_endpoint("/wm", Answer(503, "busy"))
    target = peer.add_target("t", webmention=endpoint.url)
    source = publish("post", links_to(target))
    send([source], settings)
    first = entry(settings, source.url, target)
    assert (first["status"], first["attempts"], first["retry"]) == ("failed", 1, True)
    time.sleep(1.1)  # timestamps have a resolution of one second
    send([source], settings)
    second = entry(settings, source.url, target)
    assert (second["status"], second["attempts"], second["retry"]) == ("failed", 2, False)
    assert second["first_attempt"] == first["first_attempt"]
    assert second["last_attempt"] > first["last_attempt"]
    requests = len(peer.requests)
    send([source], settings)
    assert len(peer.requests) == requests
    assert len(endpoint.bodies) == 2


def test_a_retried_ping_that_succeeds_is_sent(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm", Answer(500, "oops"), Answer(201))
    target = peer.add_target("t", webmention=endpoint.url)
    source = publish("post", links_to(target))
    send([source], settings)
    send([source], settings)
    result = entry(settings, source.url, target)
    assert (result["status"], result["attempts"], result["retry"]) == ("sent", 2, False)


def test_permanent_failures_are_not_retried(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm", Answer(400, "no"))
    target = peer.add_target("t", webmention=endpoint.url)
    source = publish("post", links_to(target))
    send([source], settings)
    requests = len(peer.requests)
    report = send([source], settings)
    assert len(peer.requests) == requests
    assert report.already == 1


# Pending until the page is live ------------------------------------------------------------


def test_pages_not_yet_served_keep_their_pings_pending(
    peer: Peer, publish: Publish, settings: Settings, site_dir: Path
) -> None:
    targets = [peer.post_url(kind) for kind in ("webmention", "pingback", "trackback")]
    source = publish("post", links_to(*targets), title="Later", excerpt="Soon.", live=False)
    report = send([source], settings)
    assert report.pending == 3
    assert report.failed == 0
    assert report.exit_code == 0
    assert peer.ping_requests() == []
    for target, protocol in zip(targets, ("webmention", "pingback", "trackback"), strict=True):
        waiting = entry(settings, source.url, target)
        assert waiting["status"] == "pending"
        assert waiting["protocol"] == protocol
        assert waiting["endpoint"]
        assert waiting["retry"] is True
    # After the upload, deliver sends exactly those, once.
    deploy(site_dir, source)
    delivered = deliver(settings)
    assert sum(delivered.sent.values()) == 3
    assert Counter(r.target for r in peer.received) == dict.fromkeys(targets, 1)
    (trackback,) = peer.received_by("trackback")
    assert (trackback.title, trackback.excerpt, trackback.blog_name) == (
        "Later",
        "Soon.",
        "Test blog",
    )
    assert {entry(settings, source.url, t)["status"] for t in targets} == {"sent"}
    assert {entry(settings, source.url, t)["attempts"] for t in targets} == {1}
    requests = len(peer.requests)
    assert sum(deliver(settings).sent.values()) == 0
    assert send([source], settings).already == 3
    assert len(peer.requests) == requests


def test_page_served_without_the_link_keeps_its_pings_pending(
    peer: Peer, publish: Publish, settings: Settings, site_dir: Path
) -> None:
    target = peer.post_url("webmention")
    old_version = publish("post", "<p>The old text without the link.</p>")
    source = Source(old_version.url, "A post", links_to(target), "An excerpt.")
    send([source], settings)
    assert entry(settings, source.url, target)["status"] == "pending"
    assert peer.ping_requests() == []
    deploy(site_dir, source)
    send([source], settings)  # the next build sends it too
    assert entry(settings, source.url, target)["status"] == "sent"
    assert len(peer.received) == 1


@pytest.mark.parametrize("served_as_built", [True, False])
def test_live_check_parses_the_served_page_only_when_it_differs_from_the_build(
    peer: Peer,
    publish: Publish,
    settings: Settings,
    site_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    served_as_built: bool,
) -> None:
    """A served page that holds the content byte for byte carries its links, unparsed; one
    whose theme rewrote the content is parsed, and its link still counts."""
    parsed: list[bytes] = []
    real_served_hrefs = links.served_hrefs

    def counting(body: bytes, charset: str | None) -> list[str]:
        parsed.append(body)
        return real_served_hrefs(body, charset)

    monkeypatch.setattr(links, "served_hrefs", counting)
    target = peer.post_url("webmention")
    source = publish("post", links_to(target), live=served_as_built)
    if not served_as_built:
        rewritten = source.content.replace("<a ", '<a class="external" ')
        deploy(site_dir, Source(source.url, source.title, rewritten, source.excerpt))
    send([source], settings)
    assert entry(settings, source.url, target)["status"] == "sent"
    assert len(parsed) == (0 if served_as_built else 1)


def test_deliver_contacts_nothing_but_the_pending_pings(
    peer: Peer, publish: Publish, settings: Settings, site_dir: Path
) -> None:
    busy = peer.add_endpoint("/wm", Answer(503, "busy"))
    failing = peer.add_target("failing", webmention=busy.url)
    live = publish("live", links_to(failing, peer.post_url("webmention", "done")))
    later = publish("later", links_to(peer.post_url("webmention", "later")), live=False)
    send([live, later], settings)
    assert entry(settings, live.url, failing)["retry"] is True
    deploy(site_dir, later)
    before = len(peer.requests)
    report = deliver(settings)
    assert sum(report.sent.values()) == 1
    assert peer.requests[before:] == [("POST", "/webmention")]
    assert len(busy.bodies) == 1


def test_manual_trackbacks_wait_for_the_page_too(
    peer: Peer, publish: Publish, settings: Settings, site_dir: Path
) -> None:
    endpoint = peer.add_endpoint("/tb/by-hand", Answer(200, trackback_answer(None), "text/xml"))
    source = publish(
        "post", "<p>No link needed.</p>", metadata={"trackbacks": endpoint.url}, live=False
    )
    send([source], settings)
    waiting = entry(settings, source.url, endpoint.url)
    assert (waiting["status"], waiting["protocol"]) == ("pending", "trackback")
    assert endpoint.bodies == []
    deploy(site_dir, source)
    assert deliver(settings).sent["trackback"] == 1
    assert endpoint.forms()[0]["url"] == source.url


def test_deliver_dry_run_sends_and_writes_nothing(
    peer: Peer, publish: Publish, settings: Settings, site_dir: Path
) -> None:
    source = publish("later", links_to(peer.post_url("webmention")), live=False)
    send([source], settings)
    before = settings.sent_log_path.read_bytes()
    deploy(site_dir, source)
    report = deliver(settings.replace(dry_run=True))
    assert report.would_send == 1
    assert peer.ping_requests() == []
    assert settings.sent_log_path.read_bytes() == before


def test_deliver_leaves_pages_still_not_live_pending(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    source = publish("later", links_to(peer.post_url("webmention")), live=False)
    send([source], settings)
    report = deliver(settings)
    assert report.pending == 1
    assert report.exit_code == 0
    assert peer.ping_requests() == []


def test_without_check_live_pings_go_at_once(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    endpoint = peer.add_endpoint("/wm")
    target = peer.add_target("t", webmention=endpoint.url)
    settings = make_settings(check_live=False)
    source = publish("post", links_to(target), live=False)
    send([source], settings)
    assert entry(settings, source.url, target)["status"] == "sent"


# Bad files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b'{"version": 2, "links": {}}',
        b'{"links": {}}',
        b"[1, 2]",
        b'{"version": 1, "links": {"https://a/": "not a mapping"}}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_unreadable_sent_log_stops_sending_and_is_left_untouched(
    content: bytes, peer: Peer, publish: Publish, settings: Settings
) -> None:
    settings.sent_log_path.write_bytes(content)
    source = publish("post", links_to(peer.post_url("webmention")))
    with pytest.raises(SentLogError) as error:
        send([source], settings)
    assert str(settings.sent_log_path) in str(error.value)
    assert settings.sent_log_path.read_bytes() == content
    assert peer.requests == []
    with pytest.raises(SentLogError):
        deliver(settings)
    assert settings.sent_log_path.read_bytes() == content


def test_sent_log_keeps_unrelated_entries(peer: Peer, publish: Publish, settings: Settings) -> None:
    old = {
        "status": "sent",
        "protocol": "pingback",
        "endpoint": "https://x.example/xmlrpc",
        "attempts": 1,
        "first_attempt": "2020-01-01T00:00:00Z",
        "last_attempt": "2020-01-01T00:00:00Z",
        "detail": "ok",
        "retry": False,
    }
    previous = {"version": 1, "links": {"https://old.example/p/": {"https://x.example/": old}}}
    settings.sent_log_path.write_text(json.dumps(previous), encoding="utf-8")
    send([publish("post", links_to(peer.post_url("webmention")))], settings)
    assert read_log(settings)["links"]["https://old.example/p/"] == {"https://x.example/": old}


def test_replace_file_writes_every_piece_in_order_across_chunks(tmp_path: Path) -> None:
    """Pieces are joined into chunks before encoding: a boundary must not lose, reorder or
    split a character."""
    pieces = [f"«{index}» " + "é" * (index % 700) for index in range(3000)]  # > 3 chunks
    path = tmp_path / "log.json"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o640)
    files.replace_file(path, iter(pieces))
    assert path.read_bytes().decode("utf-8") == "".join(pieces)
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]  # no temporary file left


def test_a_closed_log_names_the_digest_of_the_bytes_it_left(tmp_path: Path) -> None:
    """The page cache claims to match one exact file: the digest the log gives after its
    writer's last rewrite must be that file's, not the one it was opened with."""
    path = tmp_path / "log.json"
    path.write_text('{"version": 1, "links": {}}', encoding="utf-8")
    sent = {"status": "sent", "protocol": "webmention", "attempts": 1, "retry": False}
    with sentlog.SentLog.open(path) as log:
        opened_with = log.digest
        for index in range(50):
            log.record(f"https://site.example/{index}/", "https://x.example/", sent)
    assert log.digest == sentlog.digest_of(path.read_bytes()) != opened_with


# Processes: a kill in the middle, two runs at once -----------------------------------------

SENDER = """
import json, sys
from linkback import Settings, Source, send
job = json.loads(sys.argv[1])
settings = Settings.from_mapping(job["settings"], site_url=job["site_url"],
                                 blog_name="Test blog", base_dir=job["base_dir"], environ={})
sources = [Source(**source) for source in job["sources"]]
report = send(sources, settings)
print(report.summary())
"""


def start_sender(settings: Settings, sources: list[Source], **values: object) -> subprocess.Popen:
    job = {
        "settings": {"send": True, "allow_private": True, "timeout": 5, **values},
        "site_url": settings.site_url,
        "base_dir": str(settings.base_dir),
        "sources": [
            {"url": s.url, "title": s.title, "content": s.content, "excerpt": s.excerpt}
            for s in sources
        ],
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LINKBACK_SEND", None)
    return subprocess.Popen(
        [sys.executable, "-c", SENDER, json.dumps(job)],
        cwd=settings.base_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def sent_targets(settings: Settings) -> set[str]:
    return {
        target
        for targets in read_log(settings)["links"].values()
        for target, record in targets.items()
        if record["status"] == "sent"
    }


def test_killed_run_leaves_a_readable_log_and_the_next_run_finishes_the_job(
    publish: Publish, settings: Settings
) -> None:
    with Peer("127.0.0.4", latency=0.2) as slow:
        targets = [slow.post_url("webmention", f"p{n}") for n in range(14)]
        source = publish("post", links_to(*targets))
        process = start_sender(settings, [source], per_host=2)
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                # Every read, at any moment, sees a whole file.
                if settings.sent_log_path.exists() and len(sent_targets(settings)) >= 4:
                    break
                time.sleep(0.02)
            assert process.poll() is None, "the run ended before it could be killed"
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
        recorded = sent_targets(settings)
        assert 4 <= len(recorded) < len(targets)
        settle = time.monotonic() + 5
        while slow.in_flight and time.monotonic() < settle:  # the peer finishes what it got
            time.sleep(0.02)
        received_before = Counter(r.target for r in slow.received)
        # Everything recorded as sent was received; at most the pings in flight were not recorded.
        assert recorded <= set(received_before)
        in_flight = set(received_before) - recorded
        assert len(in_flight) <= 2
        posts_before = len(slow.ping_requests())

        report = send([source], settings)

        assert report.already == len(recorded)
        assert sent_targets(settings) == set(targets)
        received = Counter(r.target for r in slow.received)
        assert set(received) == set(targets)
        twice = {target for target, count in received.items() if count > 1}
        assert twice <= in_flight
        assert len(slow.ping_requests()) - posts_before == len(targets) - len(recorded)


def test_two_runs_at_the_same_time_never_send_a_ping_twice(
    publish: Publish, settings: Settings
) -> None:
    with Peer("127.0.0.4", latency=0.1) as slow:
        targets = [slow.post_url("all", f"p{n}") for n in range(8)]
        sources = [publish("one", links_to(*targets[:4])), publish("two", links_to(*targets[4:]))]
        first = start_sender(settings, sources)
        second = start_sender(settings, sources)
        outputs = [process.communicate(timeout=60) for process in (first, second)]
        assert [first.returncode, second.returncode] == [0, 0], outputs
        assert Counter(r.target for r in slow.received) == dict.fromkeys(targets, 1)
        assert len(slow.ping_requests()) == len(targets)
        assert sent_targets(settings) == set(targets)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("attempts", "many"),
        ("attempts", -1),
        ("attempts", True),
        ("status", ["a"]),
        ("status", "done"),
        ("retry", "yes"),
        ("protocol", "smoke"),
        ("endpoint", 7),
        ("endpoints", [["webmention"]]),
        ("need_link", None),
    ],
)
def test_a_malformed_entry_stops_the_run_before_any_request(
    field: str, value: object, peer: Peer, publish: Publish, settings: Settings
) -> None:
    """Found when the log is read: found after its ping went out, the run crashed before
    recording it, and the next build sent it again."""
    target = peer.post_url("webmention")
    source = publish("post", links_to(target))
    good = {"status": "failed", "protocol": "webmention", "attempts": 1, "retry": True}
    raw = json.dumps({"version": 1, "links": {source.url: {target: {**good, field: value}}}})
    settings.sent_log_path.write_text(raw, encoding="utf-8")
    with pytest.raises(SentLogError) as error:
        send([source], settings)
    message = str(error.value)
    assert str(settings.sent_log_path) in message and f'"{field}"' in message
    assert settings.sent_log_path.read_text(encoding="utf-8") == raw
    assert peer.requests == []


# The sent-log under faults: a symbolic link, a full disk, a read-only folder ----------------


@pytest.mark.parametrize("existing", [True, False])
def test_a_symlinked_sent_log_is_written_through_and_the_link_stays(
    existing: bool, peer: Peer, publish: Publish, settings: Settings, tmp_path: Path
) -> None:
    """A log kept in a CI cache and linked into place: the cache gets the results."""
    cache = tmp_path / "ci-cache"
    cache.mkdir()
    real = cache / "linkback-sent.json"
    if existing:
        real.write_text('{"version": 1, "links": {}}', encoding="utf-8")
    settings.sent_log_path.symlink_to(real)
    target = peer.post_url("webmention")
    source = publish("post", links_to(target))

    with FileLock(str(real) + ".lock"):  # the lock is beside the file the link names
        holder = start_sender(settings, [source])
        time.sleep(1.0)
        assert holder.poll() is None and peer.ping_requests() == []
    holder.communicate(timeout=30)
    assert holder.returncode == 0

    assert settings.sent_log_path.is_symlink()
    assert os.readlink(settings.sent_log_path) == str(real)
    assert json.loads(real.read_text(encoding="utf-8"))["links"][source.url][target]["status"] == (
        "sent"
    )
    assert not Path(str(settings.sent_log_path) + ".lock").exists()
    assert send([source], settings).already == 1
    assert len(peer.ping_requests()) == 1


def test_the_log_text_is_json_dumps_of_the_log_after_any_updates(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    pending = {
        "status": "pending",
        "protocol": "webmention",
        "endpoints": [["webmention", "https://x.example/wm"]],
        "title": 'Thé "quoted"\nline',
        "retry": True,
    }
    with sentlog.SentLog.open(path) as log:
        for index in (3, 1, 2, 1):
            log.record("https://b.example/é/", f"https://t{index}.example/", {**pending})
            log.flush()
        log.record("https://a.example/", "https://t.example/", {"status": "sent", "attempts": 1})
        log.record("https://b.example/é/", "https://t2.example/", {"status": "no-endpoint"})
    expected = {
        "version": 1,
        "links": {
            "https://a.example/": {"https://t.example/": {"status": "sent", "attempts": 1}},
            "https://b.example/é/": {
                "https://t1.example/": pending,
                "https://t2.example/": {"status": "no-endpoint"},
                "https://t3.example/": pending,
            },
        },
    }
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with sentlog.SentLog.open(path) as log:  # an old file, a new result
        log.record("https://a.example/", "https://t0.example/", {"status": "skipped"})
    expected["links"]["https://a.example/"]["https://t0.example/"] = {"status": "skipped"}
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_each_rewrite_serialises_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page with 30,000 links took 35 s of rewriting: every result serialised the page's
    every entry again. Now each entry is serialised when it changes, whatever the rewrites."""
    serialised = [0]

    class CountingJson:
        loads = staticmethod(json.loads)

        @staticmethod
        def dumps(value: object, **options: object) -> str:
            text = json.dumps(value, **options)
            serialised[0] += len(text)
            return text

    monkeypatch.setattr(sentlog, "json", CountingJson)
    path = tmp_path / "log.json"
    entry = {"status": "sent", "protocol": "webmention", "attempts": 1, "retry": False}
    with sentlog.SentLog.open(path) as log:
        for index in range(3000):
            log.record("https://my.blog/page/", f"https://t.example/{index}/", dict(entry))
            if index % 100 == 0:
                log.flush()  # 30 rewrites at least
    assert serialised[0] < 1.5 * path.stat().st_size


def _linkback_script() -> str:
    return str(Path(sys.executable).with_name("linkback"))


class _CountingEndpoint:
    """A Webmention endpoint that does ``on_ping(n)`` when the n-th ping arrives."""

    def __init__(self, peer: Peer, on_ping: Callable[[int], None] = lambda n: None) -> None:
        self.url = peer.url("/wm")
        self.targets: list[str] = []
        self._on_ping = on_ping
        self._lock = threading.Lock()
        peer.add_handler("/wm", self, method="POST")

    def __call__(self, handler: PeerHandler) -> None:
        target = handler.form()["target"]
        with self._lock:
            self.targets.append(target)
            count = len(self.targets)
        self._on_ping(count)
        handler.reply(202, "accepted")


def _faulty_run(
    site: StaticSite, site_dir: Path, log: Path, targets: list[str], **popen: object
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``linkback send`` of one page linking to ``targets``, one request at a time."""
    page = site_dir / "post" / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        f"<!DOCTYPE html><html><head><title>P</title></head><body><article>"
        f"{links_to(*targets)}</article></body></html>",
        encoding="utf-8",
    )
    args = [_linkback_script(), "send", str(site_dir), "--site-url", site.url]
    args += ["--sent-log", str(log), "--allow-private", "--timeout", "5", "--per-host", "1"]
    env = {key: value for key, value in os.environ.items() if key != "LINKBACK_SEND"}
    result = subprocess.run(
        args, cwd=log.parent.parent, env=env, capture_output=True, text=True, timeout=60, **popen
    )
    return result, page


def _check_stopped_and_named(
    result: subprocess.CompletedProcess[str],
    log: Path,
    source: str,
    endpoint: _CountingEndpoint,
    targets: list[str],
) -> set[str]:
    """The run stopped at once with one error line naming what was sent but not recorded;
    the log parses and holds what it says. Returns the targets recorded as sent."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if "error" in line]
    assert error.startswith("linkback: error: cannot write the sent-log ")
    assert "sending stopped" in error
    recorded = {
        target
        for target, record in json.loads(log.read_text(encoding="utf-8"))["links"]
        .get(source, {})
        .items()
        if record["status"] == "sent"
    }
    received = set(endpoint.targets)
    assert len(endpoint.targets) == len(received)  # nothing twice within the run
    assert recorded <= received
    unrecorded = received - recorded
    assert 1 <= len(unrecorded) <= 2  # the result that failed to be written, and one in flight
    for target in unrecorded:
        assert f"{source} -> {target}" in error
    for target in recorded:
        assert target not in error
    assert len(received) < len(targets)  # no request after the failure
    return recorded


def _next_run_sends_no_duplicate(
    site: StaticSite,
    site_dir: Path,
    log: Path,
    endpoint: _CountingEndpoint,
    targets: list[str],
    recorded: set[str],
) -> None:
    before = len(endpoint.targets)
    result, _ = _faulty_run(site, site_dir, log, targets)
    assert result.returncode == 0, result.stderr
    again = Counter(endpoint.targets[before:])
    assert not recorded & set(again)
    assert set(again) == set(targets) - recorded
    assert Counter(endpoint.targets) == {t: 1 for t in recorded} | {
        t: (2 if t in set(endpoint.targets[:before]) else 1) for t in set(targets) - recorded
    }


def test_a_full_disk_stops_sending_at_once_and_names_what_was_not_recorded(
    site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    """The file size limit reached mid-run: 300 pings went out, 58 were logged, and the
    next build sent 242 duplicates. Now the run stops at the first write that fails."""
    with Peer("127.0.0.4") as peer:
        endpoint = _CountingEndpoint(peer)
        targets = [peer.add_target(f"t{n:02}", webmention=endpoint.url) for n in range(20)]
        log = tmp_path / "state" / "linkback-sent.json"
        log.parent.mkdir()

        def limit_file_size() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))  # a few entries

        result, page = _faulty_run(site, site_dir, log, targets, preexec_fn=limit_file_size)
        source = f"{site.url}post/"
        recorded = _check_stopped_and_named(result, log, source, endpoint, targets)
        assert "File too large" in result.stderr
        assert recorded
        _next_run_sends_no_duplicate(site, site_dir, log, endpoint, targets, recorded)


def test_a_folder_made_read_only_mid_run_stops_sending_at_once(
    unprivileged: Unprivileged, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    log = folder / "linkback-sent.json"

    def on_ping(count: int) -> None:
        if count == 4:
            folder.chmod(0o555)

    with Peer("127.0.0.4") as peer:
        endpoint = _CountingEndpoint(peer, on_ping)
        targets = [peer.add_target(f"t{n:02}", webmention=endpoint.url) for n in range(12)]
        try:
            result, _ = _faulty_run(site, site_dir, log, targets, preexec_fn=unprivileged.preexec)
        finally:
            folder.chmod(0o755)
        source = f"{site.url}post/"
        recorded = _check_stopped_and_named(result, log, source, endpoint, targets)
        assert "Permission denied" in result.stderr
        assert len(recorded) >= 2
        _next_run_sends_no_duplicate(site, site_dir, log, endpoint, targets, recorded)


@pytest.mark.parametrize("lock_exists", [False, True])
def test_a_read_only_folder_stops_the_run_before_any_request(
    lock_exists: bool,
    unprivileged: Unprivileged,
    peer: Peer,
    site: StaticSite,
    site_dir: Path,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    log = folder / "linkback-sent.json"
    log.write_text('{"version": 1, "links": {}}', encoding="utf-8")
    if lock_exists:
        Path(str(log) + ".lock").touch()
    folder.chmod(0o555)
    endpoint = _CountingEndpoint(peer)
    target = peer.add_target("t", webmention=endpoint.url)
    try:
        result, page = _faulty_run(site, site_dir, log, [target], preexec_fn=unprivileged.preexec)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"linkback: error: cannot write the sent-log {log}")
    assert peer.requests == [] and site.requests == []
    assert log.read_text(encoding="utf-8") == '{"version": 1, "links": {}}'
