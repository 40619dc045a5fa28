"""The MkDocs plugin end to end: the real ``mkdocs`` command on a copy of the sample site.

The peer blog runs on 127.0.0.2; the built site is served on 127.0.0.3, so that the live
check and the peer's verification fetch real pages. Building straight into the served folder
makes the pages live before the pings go out; the demo's path (build, upload, deliver) is
tested as well.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from linkback.common.settings import OPTIONS
from mkdocs_linkback.plugin import LinkbackConfig
from tests.conftest import SPEC_TABLE, mkdocs_warnings
from tests.peer import Peer, StaticSite

SAMPLE = Path(__file__).resolve().parents[1] / "sample_site" / "mkdocs"
SUMMARY = re.compile(r"INFO\s+-\s+(linkback: .*)")


SAMPLE_PEER = "http://127.0.0.2:8002"  # the peer written in the sample's pages
SENT_LOG = "linkback-sent.json"


def copy_site(destination: Path, peer_url: str) -> Path:
    """A copy of the sample site whose links point at ``peer_url`` (the peer's port is free)."""
    shutil.copytree(
        SAMPLE, destination, ignore=shutil.ignore_patterns("site", "deployed", "*.json")
    )
    for page in (destination / "docs").rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace(SAMPLE_PEER, peer_url), encoding="utf-8")
    return destination


def environment(site_url: str, *, send: bool | None = None, **extra: str) -> dict[str, str]:
    """What the demo sets: the public URL, loopback allowed, the venv's commands first."""
    environ = {**os.environ, "SITEURL": site_url, "ALLOW_PRIVATE": "1", **extra}
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    if send is not None:
        environ["LINKBACK_SEND"] = "1" if send else "0"
    return environ


def run(command: list[str], cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=environ, capture_output=True, text=True, check=False
    )


def deliver(docs: Path) -> subprocess.CompletedProcess[str]:
    """``linkback deliver`` after an upload."""
    command = [sys.executable, "-m", "linkback", "deliver", "--sent-log", str(docs / SENT_LOG)]
    return run([*command, "--allow-private", "--timeout", "5"], docs, dict(os.environ))


@pytest.fixture
def docs(tmp_path: Path, peer: Peer) -> Path:
    """A copy of the sample site whose links point at this test's peer."""
    return copy_site(tmp_path / "docs-site", peer.base_url)


def build_live(docs: Path, site: StaticSite, *, send: bool = True) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` straight into the served folder: pages are live when pinged."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site.root)]
    return run(command, docs, environment(site.url, send=send))


def summary(result: subprocess.CompletedProcess[str]) -> str:
    lines = SUMMARY.findall(result.stderr)
    assert len(lines) == 1, result.stderr
    return lines[0]


def expected_pings(peer: Peer, site: StaticSite) -> set[tuple[str, str, str]]:
    """What the sample site must send: one protocol per linked post, plus the manual trackback."""
    return {
        ("webmention", site.url, peer.post_url("webmention")),
        ("pingback", site.url, peer.post_url("pingback")),
        ("trackback", site.url + "guide/linking/", peer.post_url("trackback")),
        ("webmention", site.url + "guide/linking/", peer.post_url("all")),
        ("webmention", site.url + "news/", peer.post_url("all", "news")),
        ("trackback", site.url + "news/", peer.post_url("all", "news")),
    }


def received(peer: Peer) -> list[tuple[str, str, str]]:
    return [(item.protocol, item.source, item.target) for item in peer.received]


def test_options_are_the_settings_table_with_its_defaults() -> None:
    config = LinkbackConfig()
    assert [name for name, _ in config._schema] == [option.name for option in OPTIONS]
    assert config.validate() == ([], [])
    assert dict(config) == {**SPEC_TABLE, "user_agent": None}


def test_build_sends_each_ping_once_and_a_second_build_nothing(
    docs: Path, peer: Peer, site: StaticSite
) -> None:
    first = build_live(docs, site)

    assert first.returncode == 0, first.stderr
    assert mkdocs_warnings(first.stderr) == []
    assert summary(first).startswith(
        "linkback: 7 links in 3 pages: 6 sent (3 webmention, 1 pingback, 2 trackback), "
        "0 already sent, 1 without endpoint in "
    )
    assert sorted(received(peer)) == sorted(expected_pings(peer, site))
    manual = next(item for item in peer.received_by("trackback") if item.source.endswith("news/"))
    assert (manual.title, manual.blog_name) == ("News", "Linkback sample docs")
    assert manual.excerpt.startswith("We wrote about their announcement")
    # The `linkback: false` page sends nothing: its target is not even fetched.
    assert not [path for _, path in peer.requests if "private" in path]
    log = json.loads((docs / "linkback-sent.json").read_text(encoding="utf-8"))
    assert site.url + "private/" not in log["links"]

    requests_before = len(peer.requests), len(site.requests)
    second = build_live(docs, site)

    assert second.returncode == 0, second.stderr
    assert summary(second).startswith(
        "linkback: 7 links in 3 pages: 0 sent, 6 already sent, 1 without endpoint in "
    )
    assert (len(peer.requests), len(site.requests)) == requests_before  # no request at all
    assert len(peer.received) == 6


def test_make_upload_then_publish_again_as_the_demo_does(
    docs: Path, peer: Peer, site: StaticSite, site_dir: Path
) -> None:
    """The sample's Makefile: build (pings wait until live), copy, ``linkback deliver``."""
    environ = environment(site.url.rstrip("/"))
    environ.pop("LINKBACK_SEND", None)

    upload = run(["make", "upload", f"DEPLOYDIR={site_dir}"], docs, environ)

    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert "6 pending until live" in summary(upload)
    assert "6 sent (3 webmention, 1 pingback, 2 trackback)" in upload.stdout + upload.stderr
    assert sorted(received(peer)) == sorted(expected_pings(peer, site))
    log = json.loads((docs / SENT_LOG).read_text(encoding="utf-8"))
    statuses = [entry["status"] for targets in log["links"].values() for entry in targets.values()]
    assert sorted(statuses) == ["no-endpoint"] + ["sent"] * 6

    requests_before = len(peer.requests)
    again = run(["make", "publish"], docs, environ)

    assert again.returncode == 0, again.stderr
    assert "0 sent, 6 already sent, 1 without endpoint in" in summary(again)
    assert len(peer.requests) == requests_before


def test_gh_deploy_then_deliver(
    tmp_path: Path, docs: Path, peer: Peer, site: StaticSite, site_dir: Path
) -> None:
    """``mkdocs gh-deploy`` pings too; its pages go live only after the push, so the pings
    wait as pending until ``linkback deliver``. GitHub Pages is a bare repository here."""
    remote = tmp_path / "pages.git"
    author = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.org"}
    author |= {"GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.org"}
    git = ["git", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run([*git, "init", "-q"], cwd=docs, check=True)
    subprocess.run(["git", "remote", "add", "origin", str(remote)], cwd=docs, check=True)

    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "gh-deploy"],
        cwd=docs,
        env=environment(site.url, send=True, **author),
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "6 pending until live" in summary(result)
    assert peer.received == []
    subprocess.run(
        [
            "git",
            f"--git-dir={remote}",
            f"--work-tree={site_dir}",
            "checkout",
            "gh-pages",
            "--",
            ".",
        ],
        check=True,
    )
    assert deliver(docs).returncode == 0
    assert sorted(received(peer)) == sorted(expected_pings(peer, site))


def test_a_build_without_send_contacts_nobody(docs: Path, peer: Peer, site: StaticSite) -> None:
    result = build_live(docs, site, send=False)

    assert result.returncode == 0, result.stderr
    assert summary(result).startswith("linkback: 7 new links in 3 pages; not sending (send is off)")
    assert peer.requests == []
    assert not (docs / "linkback-sent.json").exists()


def test_pages_carry_discovery_tags_and_trackback_block_once(
    docs: Path, peer: Peer, site: StaticSite
) -> None:
    result = build_live(docs, site, send=False)
    assert result.returncode == 0, result.stderr

    for page in ("index.html", "guide/linking/index.html", "news/index.html"):
        html = (site.root / page).read_text(encoding="utf-8")
        url = site.url + page.removesuffix("index.html")
        assert html.count('<link rel="webmention" href="http://127.0.0.4:8005/webmention">') == 1
        assert html.count('<link rel="pingback" href="http://127.0.0.4:8005/xmlrpc">') == 1
        assert html.count("<rdf:RDF") == 1
        assert html.count(f'dc:identifier="{url}"') == 1
        assert html.count('<p class="linkback-trackback-uri">Trackback URI: ') == 1
        # The block follows the page's content, inside the theme's main column.
        assert html.index("linkback-trackback-uri") < html.index("</footer>")
    private = (site.root / "private/index.html").read_text(encoding="utf-8")
    assert private.count('<link rel="webmention"') == 1
    assert "rdf:RDF" not in private and "linkback-trackback-uri" not in private
    not_found = (site.root / "404.html").read_text(encoding="utf-8")
    assert not_found.count('<link rel="pingback" href="http://127.0.0.4:8005/xmlrpc">') == 1
    assert "rdf:RDF" not in not_found


def test_theme_places_its_own_tags_and_trackback_uri(
    docs: Path, peer: Peer, site: StaticSite
) -> None:
    """A theme that already advertises an endpoint, and shows ``page.meta.trackback_uri``."""
    overrides = docs / "overrides"
    overrides.mkdir()
    (overrides / "main.html").write_text(
        '{% extends "base.html" %}\n'
        '{% block extrahead %}<link rel="webmention" href="/theme-endpoint">{% endblock %}\n'
        "{% block content %}{{ super() }}"
        '<p class="theme-tb">{{ page.meta.trackback_uri }}</p>{% endblock %}\n',
        encoding="utf-8",
    )
    with (docs / "mkdocs.yml").open("a", encoding="utf-8") as config:
        config.write("theme:\n  name: mkdocs\n  custom_dir: overrides\n")

    result = build_live(docs, site, send=False)

    assert result.returncode == 0, result.stderr
    html = (site.root / "news/index.html").read_text(encoding="utf-8")
    assert html.count('rel="webmention"') == 1
    assert '<link rel="webmention" href="/theme-endpoint">' in html
    assert html.count('<link rel="pingback"') == 1
    uri = "http://127.0.0.4:8005/trackback?target=" + urllib.request.quote(
        site.url + "news/", safe=""
    )
    assert f'<p class="theme-tb">{uri}</p>' in html
    assert '<p class="theme-tb"></p>' in (site.root / "private/index.html").read_text()


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for(url: str, text: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if text in response.read().decode():
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never showed {text!r}")
        time.sleep(0.1)


@pytest.mark.parametrize("mode", [[], ["--clean"]], ids=["livereload", "clean"])
def test_serve_never_sends_nor_writes_the_sent_log(
    docs: Path, peer: Peer, site: StaticSite, mode: list[str]
) -> None:
    """Even with send on, and across a rebuild after an edit (``--clean`` says "build")."""
    port = free_port("127.0.0.5")
    address = f"127.0.0.5:{port}"
    command = [sys.executable, "-m", "mkdocs", "serve", "-a", address, *mode]
    environ = environment(site.url, send=True)
    server = subprocess.Popen(
        command, cwd=docs, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        wait_for(f"http://{address}/", "Linkback sample docs", deadline)
        index = docs / "docs" / "index.md"
        index.write_text(index.read_text() + "\nEdited while serving.\n", encoding="utf-8")
        wait_for(f"http://{address}/", "Edited while serving.", deadline)
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=15)

    assert "Traceback" not in output, output
    assert peer.requests == []
    assert site.requests == []
    assert not (docs / "linkback-sent.json").exists()


def write_config(docs: Path, plugin_options: str, site_url: str = "") -> None:
    """Replace the sample's mkdocs.yml with a plain one (no !ENV) and these plugin options."""
    url_line = f"site_url: {site_url}\n" if site_url else ""
    (docs / "mkdocs.yml").write_text(
        f"site_name: Errors\n{url_line}plugins:\n  - linkback:\n{plugin_options}",
        encoding="utf-8",
    )


def mkdocs_build(docs: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=docs,
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "      timeout: soon\n",
            "Plugin 'linkback' option 'timeout': timeout must be a number, got 'soon'",
        ),
        (
            "      protocols: [webmention, smoke-signal]\n",
            "Plugin 'linkback' option 'protocols': protocols: unknown protocol 'smoke-signal'",
        ),
        (
            "      sentlog: sent.json\n",
            "Plugin 'linkback' option 'sentlog': unknown linkback setting sentlog; "
            "did you mean sent_log?",
        ),
    ],
    ids=["bad-type", "bad-protocol", "unknown-option"],
)
def test_a_bad_option_stops_the_build_with_a_clear_message(
    docs: Path, options: str, message: str
) -> None:
    write_config(docs, options, site_url="http://127.0.0.3:8003/")

    result = mkdocs_build(docs)

    assert result.returncode == 1
    assert message in result.stderr
    assert "Aborted with a configuration error!" in result.stdout
    assert not (docs / "site").exists()


def test_sending_needs_an_absolute_site_url(docs: Path, peer: Peer) -> None:
    write_config(docs, "      send: true\n      allow_private: true\n")

    result = mkdocs_build(docs)

    assert result.returncode == 1
    assert "linkback needs the absolute http(s) URL of the site" in result.stderr
    assert peer.requests == []


def test_the_environment_overrides_send(docs: Path, peer: Peer) -> None:
    """``send: true`` in mkdocs.yml, but LINKBACK_SEND=0 for this build: nothing is sent."""
    write_config(docs, "      send: true\n      allow_private: true\n", "http://127.0.0.3:8003/")

    result = mkdocs_build(docs, LINKBACK_SEND="0")

    assert result.returncode == 0, result.stderr
    assert "not sending (send is off)" in result.stderr
    assert peer.requests == []

    refused = mkdocs_build(docs, LINKBACK_SEND="maybe")
    assert refused.returncode == 1
    assert "LINKBACK_SEND must be a boolean, got 'maybe'" in refused.stderr


def test_corrupt_sent_log_stops_the_build_before_it_writes(docs: Path, peer: Peer) -> None:
    log = docs / SENT_LOG
    log.write_bytes(b'{"version": 2, "links": {}}')
    result = mkdocs_build(docs, **environment("http://127.0.0.3:8004/", send=True))
    assert result.returncode != 0
    assert str(log) in " ".join((result.stdout + result.stderr).split())
    assert log.read_bytes() == b'{"version": 2, "links": {}}'
    assert not (docs / "site").exists()
    assert peer.requests == []


def test_without_site_url_the_summary_says_why_nothing_is_sent(docs: Path, peer: Peer) -> None:
    """Not "0 new links in 0 pages" for a site with links: no site_url, no page URL."""
    write_config(docs, "      allow_private: true\n")

    result = mkdocs_build(docs)

    assert result.returncode == 0, result.stderr
    assert "mkdocs.yml has no site_url" in result.stderr
    assert "0 new links in 0 pages" not in result.stderr
    assert peer.requests == []
