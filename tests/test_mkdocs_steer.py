"""Steering a real MkDocs site, end to end with the real ``mkdocs``: a baseline, an update,
``--config``, and the build's own warnings and errors."""

from __future__ import annotations

import sys
from pathlib import Path

from tests import test_mkdocs
from tests.conftest import linkback, statuses
from tests.peer import Peer, StaticSite


def test_mkdocs_baseline_update_and_config(tmp_path: Path, peer: Peer, site: StaticSite) -> None:
    docs = test_mkdocs.copy_site(tmp_path / "docs-site", peer.base_url)
    env = {"SITEURL": site.url, "ALLOW_PRIVATE": "1"}
    mentions = {"LINKBACK_MENTIONS_URL": peer.url("/api/linkbacks")}  # never asked
    result = linkback("baseline", "--config", "mkdocs.yml", cwd=docs, **env, **mentions)
    assert result.returncode == 0, result.stderr
    assert "recorded as baseline (never sent)" in result.stdout
    assert peer.requests == [] and site.requests == []
    assert not (docs / "site").exists()
    log = docs / test_mkdocs.SENT_LOG
    assert set().union(*statuses(log).values()) == {"skipped/baseline"}
    # A page edited after the baseline: its new link is sent, and nothing else.
    new = peer.post_url("webmention", "new")
    news = docs / "docs" / "news.md"
    news.write_text(news.read_text(encoding="utf-8") + f"\n[New]({new})\n", encoding="utf-8")
    built = test_mkdocs.build_live(docs, site)
    assert built.returncode == 0, built.stderr
    assert [(r.protocol, r.target) for r in peer.received] == [("webmention", new)]
    # Edited again: the Webmention just sent goes again (the baseline ones were never sent).
    news.write_text(news.read_text(encoding="utf-8") + "\nAnd more.\n", encoding="utf-8")
    again = test_mkdocs.build_live(docs, site)
    assert "1 Webmention updates" in test_mkdocs.summary(again)
    assert [(r.protocol, r.target) for r in peer.received] == [("webmention", new)] * 2
    status = linkback("status", "--config", "mkdocs.yml", cwd=docs, **env)
    assert status.returncode == 0 and "sent: 1 (1 webmention)" in status.stdout


def test_mkdocs_linkback_value_that_is_neither_on_nor_off(tmp_path: Path, peer: Peer) -> None:
    docs = test_mkdocs.copy_site(tmp_path / "docs-site", peer.base_url)
    news = docs / "docs" / "news.md"
    news.write_text("---\nlinkback: maybe\n---\n" + news.read_text(encoding="utf-8"))
    result = test_mkdocs.run(
        [sys.executable, "-m", "mkdocs", "build"],
        docs,
        test_mkdocs.environment("http://x.example/"),
    )
    assert result.returncode != 0
    assert "news.md: Linkback: 'maybe' is neither on nor off" in result.stderr
    assert peer.requests == []


def test_send_with_config_takes_the_settings_site_url_and_sent_log(
    tmp_path: Path, peer: Peer, site: StaticSite
) -> None:
    """``send --config mkdocs.yml OUTPUT_DIR``: loopback allowed by mkdocs.yml (through
    ALLOW_PRIVATE), the site URL from site_url, the sent-log beside mkdocs.yml."""
    docs = test_mkdocs.copy_site(tmp_path / "docs-site", peer.base_url)
    # No linkbacks shown under the pages (the environment overrides mkdocs.yml's display):
    # read as any output folder, their links would be targets.
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site.root)]
    environ = test_mkdocs.environment(site.url, send=False, LINKBACK_DISPLAY="0")
    built = test_mkdocs.run(command, docs, environ)
    assert built.returncode == 0, built.stderr
    assert "linkback-linkbacks" not in (site.root / "guide/linking/index.html").read_text()
    elsewhere = tmp_path / "ci"
    elsewhere.mkdir()
    env = {"SITEURL": site.url, "ALLOW_PRIVATE": "1"}
    # The theme's footer links to mkdocs.org: the content is the main column only, and the
    # visible trackback URIs the build added to it are not targets.
    options = ["--content-selector", "[role=main]", "--exclude", r"/trackback\?target="]
    config = str(docs / "mkdocs.yml")
    result = linkback("send", str(site.root), "--config", config, *options, cwd=elsewhere, **env)
    assert result.returncode == 0, result.stderr
    sent = {(r.protocol, r.source, r.target) for r in peer.received}
    assert ("webmention", site.url, peer.post_url("webmention")) in sent
    assert (docs / test_mkdocs.SENT_LOG).is_file()
    assert list(elsewhere.iterdir()) == []
