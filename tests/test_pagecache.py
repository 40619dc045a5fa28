"""The page cache: a rebuild does not parse unchanged pages, and never trusts a stale cache.

The cache only saves work: every test here checks that what is sent is exactly what a build
without it would send, and, where the cache is meant to be used, that the pages (and the
sent-log) were in fact not parsed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from linkback import SentLogError, Settings, Source, send
from linkback.sending import links, pagecache, sentlog
from tests.conftest import links_to, read_log
from tests.peer import Answer, Peer, trackback_answer

Publish = Callable[..., Source]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts the parses of page content and of the sent-log, as they happen."""
    counted: Counter[str] = Counter()
    parse_fragment, parse_log = links.parse_fragment, sentlog.parse_log

    def counting_fragment(html: str):  # type: ignore[no-untyped-def]
        counted["pages"] += 1
        return parse_fragment(html)

    def counting_links(path: Path, raw: bytes):  # type: ignore[no-untyped-def]
        counted["sent-log"] += 1
        return parse_log(path, raw)

    monkeypatch.setattr(links, "parse_fragment", counting_fragment)
    monkeypatch.setattr(sentlog, "parse_log", counting_links)
    yield counted


def cache_file(settings: Settings) -> Path:
    return pagecache.path_for(settings.sent_log_path)


def test_a_rebuild_parses_neither_unchanged_pages_nor_the_sent_log(
    peer: Peer, publish: Publish, settings: Settings, parses: Counter[str]
) -> None:
    one = publish("one", links_to(peer.post_url("webmention"), peer.post_url("none")))
    two = publish("two", links_to(peer.post_url("pingback")))
    send([one, two], settings)
    assert cache_file(settings).exists()
    parses.clear()
    cache_before = cache_file(settings).read_bytes()
    report = send([one, two], settings)
    assert parses == {}
    assert (report.pages, report.links, report.already, report.new) == (2, 3, 3, 0)
    assert report.summary().startswith(
        "linkback: 3 links in 2 pages: 0 sent, 2 already sent, 1 without endpoint in"
    )
    assert cache_file(settings).read_bytes() == cache_before  # nothing learnt, nothing written


def test_a_changed_page_alone_is_parsed_and_its_new_link_sent(
    peer: Peer, publish: Publish, settings: Settings, parses: Counter[str]
) -> None:
    old, new = peer.post_url("webmention", "old"), peer.post_url("webmention", "new")
    stays = publish("stays", links_to(old))
    send([stays, publish("grows", links_to(old))], settings)
    parses.clear()
    report = send([stays, publish("grows", links_to(old, new))], settings)
    assert parses["pages"] == 1
    assert (report.sent["webmention"], report.updates) == (2, 1)
    # "grows" changed: its Webmention to old is sent again (W3C 3.1.4), "stays" sends nothing.
    assert Counter(r.target for r in peer.received) == {old: 3, new: 1}


def test_a_changed_manual_trackback_is_sent(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    accepted = Answer(200, trackback_answer(None), "text/xml")
    first, second = peer.add_endpoint("/tb/1", accepted), peer.add_endpoint("/tb/2", accepted)
    content = links_to(peer.post_url("none"))
    send([publish("post", content, metadata={"trackbacks": first.url})], settings)
    both = f"{first.url}, {second.url}"
    report = send([publish("post", content, metadata={"trackbacks": both})], settings)
    assert report.sent["trackback"] == 1
    assert (len(first.bodies), len(second.bodies)) == (1, 1)


def test_an_entry_removed_by_hand_is_sent_again(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    """Deleting an entry is how a user asks for a ping again: the cache must not hide it."""
    target = peer.post_url("webmention")
    source = publish("post", links_to(target))
    send([source], settings)
    data = read_log(settings)
    del data["links"][source.url][target]
    settings.sent_log_path.write_text(json.dumps(data, indent=2, sort_keys=True))
    report = send([source], settings)
    assert report.sent["webmention"] == 1
    assert len(peer.received) == 2


def test_other_settings_are_not_answered_from_the_cache(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    kept, excluded = peer.post_url("webmention", "kept"), peer.post_url("webmention", "later")
    source = publish("post", links_to(kept, excluded))
    send([source], make_settings(exclude=["later"]))
    report = send([source], make_settings())
    assert report.sent["webmention"] == 1
    assert Counter(r.target for r in peer.received) == {kept: 1, excluded: 1}


def test_a_page_with_a_retry_left_is_not_cached(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    endpoint = peer.add_endpoint("/wm", Answer(503, "busy"), Answer(202))
    source = publish("post", links_to(peer.add_target("t", webmention=endpoint.url)))
    send([source], settings)
    assert source.url not in json.loads(cache_file(settings).read_text())["pages"]
    report = send([source], settings)
    assert report.sent["webmention"] == 1
    assert len(endpoint.bodies) == 2
    assert source.url in json.loads(cache_file(settings).read_text())["pages"]


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"format": 1}', b"[1, 2]"])
def test_an_unreadable_cache_is_ignored(
    garbage: bytes, peer: Peer, publish: Publish, settings: Settings, parses: Counter[str]
) -> None:
    source = publish("post", links_to(peer.post_url("webmention")))
    send([source], settings)
    cache_file(settings).write_bytes(garbage)
    parses.clear()
    report = send([source], settings)
    assert (report.already, parses["pages"]) == (1, 1)
    assert len(peer.received) == 1
    assert source.url in json.loads(cache_file(settings).read_text())["pages"]  # rewritten


def test_a_corrupt_sent_log_is_refused_whatever_the_cache_says(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    source = publish("post", links_to(peer.post_url("webmention")))
    send([source], settings)
    settings.sent_log_path.write_bytes(b"{truncated")
    with pytest.raises(SentLogError, match="not valid JSON"):
        send([source], settings)
    assert settings.sent_log_path.read_bytes() == b"{truncated"


def test_builds_that_write_nothing_write_no_cache(
    peer: Peer, publish: Publish, make_settings: Callable[..., Settings]
) -> None:
    source = publish("post", links_to(peer.post_url("webmention")))
    for settings in (make_settings(dry_run=True), make_settings(send=False)):
        send([source], settings)
        assert not cache_file(settings).exists()
        assert not settings.sent_log_path.exists()


def test_a_site_without_links_is_cached_too(
    publish: Publish, settings: Settings, parses: Counter[str]
) -> None:
    pages = [publish(f"page-{n}", "<p>No links here.</p>") for n in range(3)]
    send(pages, settings)
    assert not settings.sent_log_path.exists()
    parses.clear()
    report = send(pages, settings)
    assert (parses["pages"], report.pages, report.links) == (0, 3, 0)


def test_the_cache_keeps_the_sent_log_permissions(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    source = publish("post", links_to(peer.post_url("webmention")))
    send([source], settings)
    mode = settings.sent_log_path.stat().st_mode & 0o777
    assert cache_file(settings).stat().st_mode & 0o777 == mode


REBUILD = """
import json, sys
from linkback import Settings, Source, send
values, sources = json.loads(sys.argv[1])
settings = Settings.from_mapping(values["options"], site_url=values["site_url"], environ={})
report = send([Source(**source) for source in sources], settings)
heavy = (
    "lxml",
    "requests",
    "urllib3",
    "linkback.sending.links",
    "linkback.sending.dispatch",
    "linkback.sending.jobs",
)
print(json.dumps([report.already, sorted(name for name in heavy if name in sys.modules)]))
"""


def test_a_rebuild_with_nothing_new_loads_neither_the_parser_nor_the_network_stack(
    peer: Peer, publish: Publish, settings: Settings
) -> None:
    """What makes such a build cost about what one without linkback costs, in a fresh
    interpreter as a generator runs it."""
    sources = [publish("one", links_to(peer.post_url("webmention"), peer.post_url("none")))]
    send(sources, settings)
    options = {"send": True, "allow_private": True, "sent_log": str(settings.sent_log_path)}
    argument = json.dumps(
        [
            {"options": options, "site_url": settings.site_url},
            [{"url": s.url, "title": s.title, "content": s.content} for s in sources],
        ]
    )
    run = subprocess.run(
        [sys.executable, "-c", REBUILD, argument], capture_output=True, text=True, check=True
    )
    assert json.loads(run.stdout) == [2, []]
