"""Webmention updates and deletes (W3C Webmention 3.1.4, 3.1.5), and ``since``.

The peer receives like a W3C receiver: an update whose source still links is a new mention,
one whose source no longer links (or is gone) takes the mention back (``peer.removed``).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from linkback import Settings, Source, deliver, send
from linkback.sending import pagecache
from tests.conftest import deploy, links_to, read_log
from tests.peer import Answer, Peer, xmlrpc_answer

Publish = Callable[..., Source]


def webmentions(peer: Peer) -> Counter[tuple[str, str]]:
    """Each webmention POST the peer answered, as (source, target)."""
    return Counter((r.source, r.target) for r in peer.received_by("webmention"))


def test_an_edited_page_sends_to_its_current_and_former_targets(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    kept, removed, added = (peer.post_url("webmention", slug) for slug in ("kept", "gone", "new"))
    first = publish("post", links_to(kept, removed))
    send([first], settings)
    edited = publish("post", links_to(kept, added) + "<p>An edit.</p>")
    report = send([edited], settings)
    assert (report.sent["webmention"], report.updates) == (3, 2)
    assert webmentions(peer) == {(first.url, kept): 2, (first.url, added): 1}
    assert [(r.source, r.target) for r in peer.removed] == [(first.url, removed)]
    assert read_log(settings)["sources"][first.url] == {
        "digest": pagecache.fingerprint(edited),
        "deleted": False,
    }
    before = len(peer.ping_requests())
    again = send([edited], settings)
    assert (again.updates, len(peer.ping_requests())) == (0, before)


def test_pingbacks_and_trackbacks_are_never_sent_again(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    pingback, trackback = peer.post_url("pingback"), peer.post_url("trackback")
    send([publish("post", links_to(pingback, trackback))], settings)
    assert len(peer.ping_requests()) == 2
    report = send([publish("post", links_to(pingback, trackback) + "<p>Edit.</p>")], settings)
    assert (report.updates, len(peer.ping_requests())) == (0, 2)


def test_send_updates_off_sends_nothing_again(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    target = peer.post_url("webmention")
    settings = make_settings(send_updates=False)
    send([publish("post", links_to(target))], settings)
    report = send([publish("post", links_to(target) + "<p>Edit.</p>")], settings)
    assert (report.updates, len(peer.ping_requests())) == (0, 1)
    assert "sources" not in read_log(settings)


def test_a_log_written_before_digests_records_them_and_resends_nothing(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    """Version-1 logs without "sources" stay valid: the first build remembers the pages."""
    source = publish("post", links_to(peer.post_url("webmention")))
    send([source], settings)
    data = read_log(settings)
    del data["sources"], data["site_url"]
    settings.sent_log_path.write_text(json.dumps(data, indent=2, sort_keys=True))
    pagecache.path_for(settings.sent_log_path).unlink()
    report = send([source], settings)
    assert (report.updates, len(peer.ping_requests())) == (0, 1)
    assert source.url in read_log(settings)["sources"]
    send([publish("post", source.content + "<p>Edit.</p>")], settings)
    assert len(peer.ping_requests()) == 2


def test_the_page_cache_never_vouches_for_an_edited_page(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    target = peer.post_url("webmention")
    source = publish("post", links_to(target))
    send([source], settings)
    send([source], settings)  # every page cached now
    assert source.url in json.loads(pagecache.path_for(settings.sent_log_path).read_text())["pages"]
    report = send([publish("post", links_to(target) + "<p>Edit.</p>")], settings)
    assert report.updates == 1
    assert webmentions(peer)[(source.url, target)] == 2


def test_an_update_waits_until_the_new_version_is_live(
    peer: Peer, publish: Publish, settings: Settings, site_dir: Path
) -> None:
    """Before the upload the live page is the old one, which carries the link too: the
    receiver would verify the old content. The update waits; deliver sends it."""
    kept, removed = peer.post_url("webmention", "kept"), peer.post_url("webmention", "gone")
    first = publish("post", links_to(kept, removed))
    send([first], settings)
    edited = publish("post", links_to(kept) + "<p>Edit.</p>", live=False)
    report = send([edited], settings)
    assert (report.pending, report.updates) == (2, 2)
    entries = read_log(settings)["links"][first.url]
    assert entries[kept]["detail"] == "live page is not this build's version yet"
    assert entries[removed]["detail"] == "live page still carries the removed link"
    assert (entries[removed]["update"], entries[removed]["unlinked"]) == (True, True)
    assert len(peer.ping_requests()) == 2
    deploy(site_dir, edited)  # the upload
    delivered = deliver(settings)
    assert delivered.sent["webmention"] == 2
    assert webmentions(peer) == {(first.url, kept): 2}
    assert [(r.source, r.target) for r in peer.removed] == [(first.url, removed)]


def test_a_transient_failure_sends_the_updates_again_next_build(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm", Answer(202), Answer(202), Answer(503, "busy"), Answer(202))
    target = peer.add_target("t", webmention=endpoint.url)
    gone = peer.add_target("u", webmention=endpoint.url)
    first = publish("post", links_to(target, gone))
    send([first], settings)
    edited = publish("post", links_to(target) + "<p>Edit.</p>")
    send([edited], settings)  # one of its two updates answers 503
    assert len(endpoint.bodies) == 4
    assert read_log(settings)["sources"][first.url]["digest"] != pagecache.fingerprint(edited)
    send([edited], settings)  # a removed link is in no plan: only the old digest brings it
    forms = endpoint.forms()  # the third one was answered 503, every other one 202
    assert {form["target"] for form in forms[3:]} == {target, gone}
    assert read_log(settings)["sources"][first.url]["digest"] == pagecache.fingerprint(edited)


def test_a_deleted_page_tells_its_former_targets_once(
    peer: Peer, publish: Publish, settings: Settings, site_dir: Path
) -> None:
    stays = publish("stays", links_to(peer.post_url("webmention", "a")))
    gone = publish("gone", links_to(peer.post_url("webmention", "b"), peer.post_url("pingback")))
    send([stays, gone], settings)
    assert len(peer.ping_requests()) == 3
    # Removed from the build but still served: not deleted, nothing sent.
    assert send([stays], settings).updates == 0
    assert len(peer.ping_requests()) == 3
    shutil.rmtree(site_dir / "gone")  # the upload removes it: 404
    report = send([stays], settings)
    assert report.updates == 1
    assert [(r.source, r.target) for r in peer.removed] == [
        (gone.url, peer.post_url("webmention", "b"))
    ]
    assert len(peer.ping_requests()) == 4  # the pingback is never sent again
    assert read_log(settings)["sources"][gone.url]["deleted"] is True
    requests = len(peer.requests)
    assert send([stays], settings).updates == 0
    assert len(peer.requests) == requests


def test_a_build_with_every_page_cached_checks_no_page_when_none_is_gone(
    peer: Peer, publish: Publish, settings: Settings, site_dir: Path
) -> None:
    source = publish("post", links_to(peer.post_url("webmention")))
    send([source], settings)
    send([source], settings)
    (site_dir / "post" / "index.html").unlink()  # would answer 404 if asked
    requests = len(peer.requests)
    assert send([source], settings).updates == 0
    assert len(peer.requests) == requests


@pytest.mark.parametrize("status", [404, 410])
def test_a_page_answering_404_or_410_is_deleted(
    status: int, peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm")
    target = peer.add_target("t", webmention=endpoint.url)
    send([publish("gone", links_to(target))], settings)
    source_url = read_log(settings)["links"].popitem()[0]
    # The site is served by a file server: a second run "moves" the page to the peer, which
    # answers the chosen status for it.
    moved = source_url.replace(settings.site_url, peer.base_url)
    data = read_log(settings)
    data["links"] = {moved: data["links"][source_url]}
    data["sources"] = {moved: data["sources"][source_url]}
    settings.sent_log_path.write_text(json.dumps(data, indent=2, sort_keys=True))
    peer.add_page(moved.removeprefix(peer.base_url), "gone", status=status)
    send([], settings)
    assert endpoint.forms()[-1] == {"source": moved, "target": target}
    assert read_log(settings)["sources"][moved]["deleted"] is True


def test_since_records_older_pages_as_baseline_without_a_request(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(since="2025-01-01")
    old_target, new_target = peer.post_url("webmention", "old"), peer.post_url("webmention", "new")
    old = publish("old", links_to(old_target))
    new = publish("new", links_to(new_target))
    old = Source(old.url, old.title, old.content, published=date(2024, 12, 31))
    new = Source(new.url, new.title, new.content, published=date(2025, 1, 1))
    report = send([old, new], settings)
    assert (report.baseline, report.sent["webmention"]) == (1, 1)
    assert "1 skipped as baseline" in report.summary()
    assert {path for _, path in peer.requests if "old" in path} == set()
    entry = read_log(settings)["links"][old.url][old_target]
    assert (entry["status"], entry["detail"], entry["attempts"]) == ("skipped", "baseline", 0)
    again = send([old, new], settings)
    assert "1 already sent, 0 without endpoint, 1 skipped as baseline" in again.summary()


def test_a_failed_update_pingback_target_is_left_alone(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    """A target that was pinged by pingback gets nothing when the page changes, even when it
    now advertises Webmention too."""
    endpoint = peer.add_endpoint("/xmlrpc-t", xmlrpc_answer("ok"))
    target = peer.add_target("t", pingback=endpoint.url)
    send([publish("post", links_to(target))], settings)
    send([publish("post", links_to(target) + "<p>Edit.</p>")], settings)
    assert len(endpoint.bodies) == 1
