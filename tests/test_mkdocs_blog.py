"""A blog built with the blog plugin of Material for MkDocs: its posts are the sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import mkdocs_warnings
from tests.peer import Peer, StaticSite


def write_blog(folder: Path, site_url: str, peer: Peer) -> None:
    """Three posts: one that links out, one closed to linkbacks, one with a manual trackback."""
    posts = folder / "docs" / "blog" / "posts"
    posts.mkdir(parents=True)
    (folder / "mkdocs.yml").write_text(
        "site_name: A Material blog\n"
        f"site_url: {site_url}\n"
        "theme:\n  name: material\n"
        "plugins:\n"
        "  - blog\n"
        "  - linkback:\n"
        "      send: true\n"
        "      allow_private: true\n"
        "      timeout: 5\n"
        "      webmention_endpoint: http://127.0.0.4:8005/webmention\n"
        "      trackback_endpoint: http://127.0.0.4:8005/trackback\n",
        encoding="utf-8",
    )
    (folder / "docs" / "index.md").write_text("# Home\n\nWelcome.\n", encoding="utf-8")
    (folder / "docs" / "blog" / "index.md").write_text("# Blog\n", encoding="utf-8")
    (posts / "first.md").write_text(
        "---\ndate: 2026-11-20\n---\n\n# First post\n\n"
        f"I enjoyed [this post]({peer.post_url('webmention')}).\n\n<!-- more -->\n\n"
        f"And [that one]({peer.post_url('pingback')}) too.\n",
        encoding="utf-8",
    )
    (posts / "closed.md").write_text(
        "---\ndate: 2026-11-21\nlinkback: false\n---\n\n# Closed post\n\n"
        f"A [quiet link]({peer.post_url('webmention', 'quiet')}).\n\n<!-- more -->\n",
        encoding="utf-8",
    )
    (posts / "manual.md").write_text(
        "---\ndate: 2026-11-22\ntrackbacks:\n"
        f"  - {peer.url('/trackback/all/manual')}\n---\n\n# Manual trackback\n\n"
        f"About [their post]({peer.post_url('all', 'manual')}).\n\n<!-- more -->\n",
        encoding="utf-8",
    )


def test_material_blog_posts_send_their_pings(tmp_path: Path, peer: Peer, site: StaticSite) -> None:
    folder = tmp_path / "blog"
    write_blog(folder, site.url, peer)
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site.root)]

    result = subprocess.run(
        command, cwd=folder, env=os.environ, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert mkdocs_warnings(result.stderr) == []
    first = site.url + "blog/2026/11/20/first-post/"
    manual = site.url + "blog/2026/11/22/manual-trackback/"
    assert sorted((item.protocol, item.source, item.target) for item in peer.received) == sorted(
        [
            ("webmention", first, peer.post_url("webmention")),
            ("pingback", first, peer.post_url("pingback")),
            ("webmention", manual, peer.post_url("all", "manual")),
            ("trackback", manual, peer.post_url("all", "manual")),
        ]
    )
    trackback = peer.received_by("trackback")[0]
    assert (trackback.title, trackback.blog_name) == ("Manual trackback", "A Material blog")
    assert not [path for _, path in peer.requests if "quiet" in path]
    log = json.loads((folder / "linkback-sent.json").read_text(encoding="utf-8"))
    assert set(log["links"]) == {first, manual}

    post = (site.root / "blog/2026/11/20/first-post/index.html").read_text(encoding="utf-8")
    assert post.count('<link rel="webmention" href="http://127.0.0.4:8005/webmention">') == 1
    assert post.count("<rdf:RDF") == 1
    assert post.count(f'dc:identifier="{first}"') == 1
    assert post.count('class="linkback-trackback-uri"') == 1
    # The blog's index shows excerpts of the posts, but it is not the post: no RDF of theirs.
    index = (site.root / "blog/index.html").read_text(encoding="utf-8")
    assert f'dc:identifier="{first}"' not in index
    closed = (site.root / "blog/2026/11/21/closed-post/index.html").read_text(encoding="utf-8")
    assert "rdf:RDF" not in closed

    again = subprocess.run(
        command, cwd=folder, env=os.environ, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "0 sent, 4 already sent" in again.stderr
    assert len(peer.received) == 4
