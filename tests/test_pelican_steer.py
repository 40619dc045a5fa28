"""Steering a real Pelican site, end to end with the real ``pelican``: a baseline of an
existing blog, ``since``, ``deliver --config`` with the site's settings, and Webmention
updates and deletes when an article is edited or removed. (Apart from the MkDocs ones, so
that ``make test-pelican-versions`` runs them with venvs that have no MkDocs.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests import test_pelican
from tests.conftest import linkback, statuses
from tests.peer import Peer, StaticSite


def test_pelican_baseline_then_only_new_links_are_sent(tmp_path: Path, peer: Peer) -> None:
    folder = test_pelican.copy_site(tmp_path / "blog", peer)
    (folder / "output").mkdir()
    with StaticSite(folder / "output", "127.0.0.4") as live:
        env = {"SITEURL": live.url.rstrip("/"), "ALLOW_PRIVATE": "1"}
        # Shown linkbacks from a service: a build would ask it, a baseline must not.
        mentions = {"LINKBACK_MENTIONS_URL": peer.url("/api/linkbacks")}
        result = linkback("baseline", "--config", "publishconf.py", cwd=folder, **env, **mentions)
        assert result.returncode == 0, result.stderr
        assert "7 links in 3 pages: 7 recorded as baseline (never sent)" in result.stdout
        assert peer.requests == [] and live.requests == []  # not one request
        assert list((folder / "output").iterdir()) == []  # the site itself is not built
        log = folder / "linkback-sent.json"
        assert set().union(*statuses(log).values()) == {"skipped/baseline"}
        # A new article: only its link goes out when the site is published.
        new_target = peer.post_url("webmention", "new")
        (folder / "content" / "new.md").write_text(
            f"Title: New\nDate: 2026-12-01\nSlug: new\n\nSee [this]({new_target}).\n",
            encoding="utf-8",
        )
        published = test_pelican.pelican(folder, live.url.rstrip("/"))
    assert published.returncode == 0, published.stdout + published.stderr
    assert [(r.protocol, r.target) for r in peer.received] == [("webmention", new_target)]
    assert "1 sent (1 webmention), 0 already sent, 0 without endpoint, 7 skipped as baseline" in (
        test_pelican.summary(published)
    )


def test_pelican_since_sends_nothing_for_older_articles(tmp_path: Path, peer: Peer) -> None:
    folder = test_pelican.copy_site(tmp_path / "blog", peer)
    with (folder / "publishconf.py").open("a", encoding="utf-8") as conf:
        conf.write('LINKBACK_SINCE = "2026-11-03"\n')  # after hello-linkbacks, before the rest
    (folder / "output").mkdir()
    with StaticSite(folder / "output", "127.0.0.4") as live:
        result = test_pelican.pelican(folder, live.url.rstrip("/"))
    assert result.returncode == 0, result.stdout + result.stderr
    hello = live.url + "2026/11/hello-linkbacks/"
    # The about page has no date: it is not older than anything.
    later = {live.url + "2026/11/send-trackbacks/", live.url + "about/"}
    assert {r.source for r in peer.received} == later
    assert not [path for _, path in peer.requests if "first-post" in path]
    assert statuses(folder / "linkback-sent.json")[hello] == {"skipped/baseline"}
    assert "4 skipped as baseline" in test_pelican.summary(result)


def said(result: subprocess.CompletedProcess[str]) -> str:
    """What a build logged, on one line (rich wraps and decorates it)."""
    return " ".join(line.split("INFO", 1)[-1] for line in result.stdout.splitlines())


def test_pelican_edit_and_delete_send_webmention_updates(tmp_path: Path, peer: Peer) -> None:
    folder = test_pelican.copy_site(tmp_path / "blog", peer)
    article = folder / "content" / "hello-linkbacks.md"
    first_post = peer.post_url("webmention", "first-post")
    (folder / "output").mkdir()
    with StaticSite(folder / "output", "127.0.0.4") as live:
        url = live.url + "2026/11/hello-linkbacks/"

        def publish() -> subprocess.CompletedProcess[str]:
            result = test_pelican.pelican(folder, live.url.rstrip("/"))
            assert result.returncode == 0, result.stdout + result.stderr
            return result

        publish()
        assert ("webmention", url, first_post) in test_pelican.received(peer, live) | {
            (r.protocol, r.source, r.target) for r in peer.received
        }
        pings = len(peer.ping_requests())
        # Edited: its Webmention goes again (pingbacks and trackbacks do not).
        second = peer.post_url("webmention", "second")
        article.write_text(
            article.read_text(encoding="utf-8") + f"\nAn update: [more]({second}).\n",
            encoding="utf-8",
        )
        edited = publish()
        assert "1 Webmention updates for changed or deleted pages" in said(edited)
        assert len(peer.ping_requests()) == pings + 2
        assert sum(1 for r in peer.received if (r.source, r.target) == (url, first_post)) == 2
        # Deleted: publishconf.py empties the output folder, so the page answers 404.
        article.unlink()
        deleted = publish()
        assert f"{url} is gone (HTTP 404): Webmentions to its 2 targets" in said(deleted)
        assert "2 Webmention updates" in said(deleted)
    assert {(r.source, r.target) for r in peer.removed} == {(url, first_post), (url, second)}
    sources = json.loads((folder / "linkback-sent.json").read_text())["sources"]
    assert sources[url]["deleted"] is True


def test_pelican_deliver_with_config_uses_the_publish_settings(
    tmp_path: Path, peer: Peer, site: StaticSite, site_dir: Path
) -> None:
    """publishconf.py allows loopback only through ALLOW_PRIVATE: deliver --config must read
    it (and the sent-log beside it) from anywhere, with no option of its own."""
    folder = test_pelican.copy_site(tmp_path / "blog", peer)
    published = test_pelican.pelican(folder, site.url.rstrip("/"))
    assert "6 pending until live" in test_pelican.summary(published)
    (site_dir / "2026").mkdir()
    subprocess.run(["cp", "-R", f"{folder}/output/.", str(site_dir)], check=True)
    elsewhere = tmp_path / "ci"
    elsewhere.mkdir()
    env = {"SITEURL": site.url.rstrip("/"), "ALLOW_PRIVATE": "1", "LINKBACK_TIMEOUT": "5"}
    result = linkback("deliver", "--config", str(folder / "publishconf.py"), cwd=elsewhere, **env)
    assert result.returncode == 0, result.stderr
    assert "6 sent (2 webmention, 2 pingback, 2 trackback)" in result.stdout
    agents = {seen.headers["User-Agent"] for seen in peer.seen}
    assert agents == {f"linkback/{__import__('linkback').__version__} (+{site.url.rstrip('/')})"}
    status = linkback("status", "--config", str(folder / "publishconf.py"), cwd=elsewhere, **env)
    assert "sent: 6" in status.stdout
    assert list(elsewhere.iterdir()) == []


def test_pelican_bad_config_for_a_command_is_one_line(tmp_path: Path, peer: Peer) -> None:
    folder = test_pelican.copy_site(tmp_path / "blog", peer)
    with (folder / "publishconf.py").open("a", encoding="utf-8") as conf:
        conf.write("LINKBACK_TIMEOUT = 'soon'\nimport nothing_of_that_name\n")
    result = linkback("status", "--config", "publishconf.py", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"linkback: error: cannot read the Pelican settings {folder / 'publishconf.py'}: "
        "ModuleNotFoundError: No module named 'nothing_of_that_name'"
    ]
