"""The Pelican plugin end to end: the real ``pelican`` command on copies of the sample site.

The peer blog runs on 127.0.0.2 and the site's public URL on 127.0.0.3. Serving the output
folder itself at SITEURL makes each page live as soon as Pelican writes it, so one build
sends everything; the deployment path (publish, upload, ``linkback deliver``) is tested
with the sample site's own Makefile.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from linkback import Settings
from linkback.common import pages
from tests.peer import Peer, StaticSite

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_site" / "pelican"
SAMPLE_PEER = "http://127.0.0.2:8002"  # the peer's address written in the sample site
RECEIVER = "https://receiver.example.org"
WEBMENTION_TAG = f'<link rel="webmention" href="{RECEIVER}/webmention">'
PINGBACK_TAG = f'<link rel="pingback" href="{RECEIVER}/xmlrpc">'
SOURCES = ("2026/11/hello-linkbacks/", "2026/11/send-trackbacks/", "about/")
# (protocol, source page, target post) of every linkback a publish of the sample sends.
EXPECTED = {
    ("webmention", "2026/11/hello-linkbacks/", "/webmention/first-post/"),
    ("pingback", "2026/11/hello-linkbacks/", "/pingback/notes/"),
    ("trackback", "2026/11/hello-linkbacks/", "/trackback/old-school/"),
    ("webmention", "2026/11/send-trackbacks/", "/all/guestbook/"),
    ("trackback", "2026/11/send-trackbacks/", "/all/guestbook/"),
    ("pingback", "about/", "/pingback/about/"),
}
DISPLAYED = re.compile(
    rb'<style id="linkback-style">.*?</style>\n'
    rb'|\n<section class="linkback-linkbacks".*?</section>\n',
    re.DOTALL,
)
SUMMARY = re.compile(r"INFO\s+(linkback: .*?)\s+\S+\.py:\d+\s*$", re.MULTILINE)
ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\))")
FIRST_SUMMARY = (
    "linkback: 7 links in 3 pages: 6 sent (2 webmention, 2 pingback, 2 trackback), "
    "0 already sent, 1 without endpoint in"
)


def copy_site(destination: Path, peer: Peer) -> Path:
    """A copy of the sample site whose links point at ``peer``."""
    shutil.copytree(
        SAMPLE,
        destination,
        ignore=shutil.ignore_patterns("output", "deployed", "linkback-sent.json*", "__pycache__"),
    )
    for path in [*destination.rglob("*.md"), destination / "pelicanconf.py"]:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(SAMPLE_PEER, peer.base_url), encoding="utf-8")
    return destination


def environment(site_url: str = "", **extra: str) -> dict[str, str]:
    """What publishconf.py reads, and a wide terminal so that no log line is wrapped."""
    env = {name: value for name, value in os.environ.items() if name != "LINKBACK_SEND"}
    env.update(SITEURL=site_url, ALLOW_PRIVATE="1", COLUMNS="400", **extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def pelican(
    folder: Path,
    site_url: str = "",
    *args: str,
    conf: str = "publishconf.py",
    output: str = "output",
    short_timeout: bool = True,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """The real ``pelican`` command in the site's folder, as ``make publish`` runs it."""
    quick = ["-e", "LINKBACK_TIMEOUT=3"] if short_timeout else []
    return subprocess.run(
        [sys.executable, "-m", "pelican", "content", "-o", output, "-s", conf, *quick, *args],
        cwd=folder,
        env=environment(site_url, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def summary(result: subprocess.CompletedProcess[str]) -> str:
    """The one linkback line of a build, without the rich handler's columns."""
    lines = [match[1] for match in SUMMARY.finditer(result.stdout)]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


def received(peer: Peer, site: StaticSite) -> set[tuple[str, str, str]]:
    return {
        (item.protocol, item.source.removeprefix(site.url), item.target.removeprefix(peer.base_url))
        for item in peer.received
    }


def read_log(folder: Path) -> dict:
    return json.loads((folder / "linkback-sent.json").read_text(encoding="utf-8"))


def html_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


HIDDEN = """Title: Hidden
Date: 2026-11-09
Slug: hidden
Status: hidden

Hidden articles are not sources: [nobody hears of it]({peer}/webmention/hidden-target/).
"""


@dataclass
class Published:
    folder: Path
    peer: Peer
    site: StaticSite
    result: subprocess.CompletedProcess[str]
    log_text: str


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    """One publish of the sample site, its output folder served at SITEURL."""
    with Peer("127.0.0.2") as peer:
        folder = copy_site(tmp_path_factory.mktemp("pelican") / "site", peer)
        (folder / "content" / "hidden.md").write_text(HIDDEN.format(peer=peer.base_url))
        (folder / "output").mkdir()
        with StaticSite(folder / "output", "127.0.0.3") as site:
            result = pelican(folder, site.url.rstrip("/"))
            log = folder / "linkback-sent.json"
            yield Published(folder, peer, site, result, log.read_text(encoding="utf-8"))


@pytest.fixture
def site_copy(tmp_path: Path, peer: Peer) -> Path:
    return copy_site(tmp_path / "site", peer)


def test_publish_sends_each_linkback_to_its_target(published: Published) -> None:
    assert published.result.returncode == 0, published.result.stdout + published.result.stderr
    assert received(published.peer, published.site) == EXPECTED
    assert len(published.peer.received) == len(EXPECTED)
    assert summary(published.result).startswith(FIRST_SUMMARY)


def test_trackbacks_carry_title_excerpt_and_blog_name(published: Published) -> None:
    trackbacks = {
        item.source.removeprefix(published.site.url): item
        for item in published.peer.received_by("trackback")
    }
    discovered = trackbacks["2026/11/hello-linkbacks/"]
    assert discovered.title == "Hello, linkbacks"
    assert discovered.excerpt == "Four blogs, four ways to hear about this post."
    assert discovered.blog_name == "A linkback sample"
    by_hand = trackbacks["2026/11/send-trackbacks/"]
    assert by_hand.title == "Sending trackbacks by hand"
    assert by_hand.excerpt.startswith('Like the "Send Trackbacks" box of a blog editor')


def test_drafts_disabled_excluded_and_theme_links_contact_nobody(published: Published) -> None:
    paths = [path for _, path in published.peer.requests]
    for never in ("off-the-record", "draft-target", "hidden-target", "private-notes"):
        assert not [path for path in paths if never in path], never
    assert "/" not in paths  # the blogroll link of the theme is not content
    assert {source for source in read_log(published.folder)["links"]} == {
        published.site.url + path for path in SOURCES
    }


def test_sent_log_sits_beside_the_settings_file(published: Published) -> None:
    assert not list((published.folder / "output").rglob("linkback-sent.json*"))
    log = json.loads(published.log_text, object_pairs_hook=_sorted_object)
    assert published.log_text.startswith("{\n  ")
    assert log["version"] == 1
    site, peer = published.site.url, published.peer.base_url
    hello = log["links"][site + "2026/11/hello-linkbacks/"]
    assert hello[peer + "/none/quiet-blog/"]["status"] == "no-endpoint"
    webmention = hello[peer + "/webmention/first-post/"]
    assert {
        "status": "sent",
        "protocol": "webmention",
        "endpoint": peer + "/webmention",
        "attempts": 1,
        "retry": False,
    }.items() <= webmention.items()
    assert {"first_attempt", "last_attempt", "detail"} <= webmention.keys()
    by_hand = log["links"][site + "2026/11/send-trackbacks/"]
    assert by_hand[peer + "/trackback/all/guestbook"]["protocol"] == "trackback"
    statuses = [entry["status"] for links in log["links"].values() for entry in links.values()]
    assert sorted(statuses) == ["no-endpoint"] + ["sent"] * 6


def _sorted_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """The sent-log keeps its keys sorted, so that its diffs stay readable."""
    keys = [key for key, _ in pairs]
    assert keys == sorted(keys)
    return dict(pairs)


def test_second_publish_contacts_nobody(published: Published) -> None:
    before = len(published.peer.requests)
    again = pelican(published.folder, published.site.url.rstrip("/"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert published.peer.requests[before:] == []
    assert summary(again).startswith(
        "linkback: 7 links in 3 pages: 0 sent, 6 already sent, 1 without endpoint in"
    )
    assert read_log(published.folder) == json.loads(published.log_text)


def test_pages_carry_the_tags_and_trackback_block_once(published: Published) -> None:
    output = published.folder / "output"
    for page in html_files(output):
        html = page.read_text(encoding="utf-8")
        assert html.count(WEBMENTION_TAG) == 1, page
        assert html.count(PINGBACK_TAG) == 1, page
        assert html.count('rel="webmention"') == html.count('rel="pingback"') == 1, page
        head = html[: html.index("</head>")]
        assert WEBMENTION_TAG in head and PINGBACK_TAG in head, page
    settings = sample_settings()
    for path in SOURCES:
        html = (output / path / "index.html").read_text(encoding="utf-8")
        url = published.site.url + path
        uri = pages.trackback_uri(url, settings.trackback_endpoint)
        assert html.count("<rdf:RDF") == 1, path
        assert f'dc:identifier="{url}"' in html and f'rdf:about="{url}"' in html
        assert html.count('<p class="linkback-trackback-uri">') == 1, path
        assert html.count(f'<a href="{uri.replace("&", "&amp;")}">') == 1, path
    for path in (
        "2026/11/off-the-record/index.html",
        "drafts/work-in-progress.html",
        "2026/11/hidden/index.html",
    ):
        html = (output / path).read_text(encoding="utf-8")
        assert "rdf:RDF" not in html and "linkback-trackback-uri" not in html, path
        assert WEBMENTION_TAG in html, path
    for feed in (output / "feeds").iterdir():
        text = feed.read_text(encoding="utf-8")
        assert "rdf:RDF" not in text and 'rel="webmention"' not in text, feed
    listings = [
        output / name for name in ("index.html", "archives.html", "tags.html", "authors.html")
    ]
    listings += [*(output / "tag").iterdir(), *(output / "category").iterdir()]
    listings += [*(output / "author").iterdir()]
    for listing in listings:  # they show the articles, but are not the articles
        html = listing.read_text(encoding="utf-8")
        assert "rdf:RDF" not in html and "linkback-trackback-uri" not in html, listing
        assert WEBMENTION_TAG in html, listing


def test_everything_else_is_byte_for_byte_what_pelican_wrote(published: Published) -> None:
    """A build without the plugin, plus exactly the tags and blocks, is the build with it."""
    plain = pelican(
        published.folder, published.site.url.rstrip("/"), "-e", "PLUGINS=[]", output="plain"
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr
    output, without = published.folder / "output", published.folder / "plain"
    settings = sample_settings()
    titles = {
        "2026/11/hello-linkbacks/": "Hello, linkbacks",
        "2026/11/send-trackbacks/": "Sending trackbacks by hand",
        "about/": "About",
    }
    written = sorted(path.relative_to(output) for path in output.rglob("*") if path.is_file())
    assert written == sorted(
        path.relative_to(without) for path in without.rglob("*") if path.is_file()
    )
    for name in written:
        edited = (output / name).read_bytes()
        if name.suffix == ".html":
            edited = edited.replace(f"{WEBMENTION_TAG}\n{PINGBACK_TAG}\n".encode(), b"", 1)
            page = str(name.parent) + "/"
            if page in titles:
                url = published.site.url + page
                block = pages.trackback_block(url, titles[page], settings)
                assert block.encode() in edited
                edited = edited.replace(block.encode(), b"", 1)
            # The sample's jf2 file has linkbacks for one article: its block and stylesheet.
            edited, blocks = DISPLAYED.subn(b"", edited)
            assert blocks == (2 if page == "2026/11/hello-linkbacks/" else 0), name
        assert edited == (without / name).read_bytes(), name


def sample_settings() -> Settings:
    return Settings.from_mapping(
        {"LINKBACK_TRACKBACK_ENDPOINT": RECEIVER + "/trackback"}, spelling="pelican", environ={}
    )


def test_build_without_send_adds_tags_and_contacts_nobody(site_copy: Path, peer: Peer) -> None:
    """``make html``: pelicanconf.py, SITEURL "", LINKBACK_SEND unset."""
    result = pelican(site_copy, conf="pelicanconf.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(result) == (
        "linkback: 7 new links in 3 pages; not sending (LINKBACK_SEND is off)"
    )
    assert peer.requests == []
    assert not (site_copy / "linkback-sent.json").exists()
    html = (site_copy / "output" / "2026/11/hello-linkbacks/index.html").read_text("utf-8")
    assert html.count(WEBMENTION_TAG) == html.count(PINGBACK_TAG) == 1
    assert "rdf:RDF" not in html  # no absolute SITEURL, so no URL to identify the page by


def test_environment_can_turn_sending_off(site_copy: Path, peer: Peer, site: StaticSite) -> None:
    result = pelican(site_copy, site.url.rstrip("/"), LINKBACK_SEND="0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not sending (LINKBACK_SEND is off)" in summary(result)
    assert peer.requests == [] and site.requests == []
    html = (site_copy / "output" / "2026/11/hello-linkbacks/index.html").read_text("utf-8")
    assert html.count("<rdf:RDF") == 1 and html.count(WEBMENTION_TAG) == 1


def test_upload_target_delivers_the_pending_pings(
    site_copy: Path, peer: Peer, site: StaticSite, site_dir: Path
) -> None:
    """The sample's ``make rsync_upload``: publish (pages not live: pings wait), upload,
    deliver; DEPLOYDIR makes its upload a copy into the served folder."""
    publish = pelican(site_copy, site.url.rstrip("/"))
    assert publish.returncode == 0, publish.stdout + publish.stderr
    assert "6 pending until live" in summary(publish)
    assert peer.ping_requests() == [] and peer.received == []
    statuses = {
        entry["status"]
        for links in read_log(site_copy)["links"].values()
        for entry in links.values()
    }
    assert statuses == {"pending", "no-endpoint"}
    upload = subprocess.run(
        ["make", "rsync_upload", f"DEPLOYDIR={site_dir}"],
        cwd=site_copy,
        env=environment(site.url.rstrip("/")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert (site_dir / "2026/11/hello-linkbacks/index.html").is_file()
    assert received(peer, site) == EXPECTED
    assert "6 sent (2 webmention, 2 pingback, 2 trackback)" in upload.stdout + upload.stderr


def test_corrupt_sent_log_fails_the_build_and_is_left_untouched(
    site_copy: Path, peer: Peer, site: StaticSite
) -> None:
    log = site_copy / "linkback-sent.json"
    log.write_bytes(b'{"version": 1, "links": {"http://')
    result = pelican(site_copy, site.url.rstrip("/"))
    assert result.returncode != 0
    assert str(log) in " ".join((result.stdout + result.stderr).split())
    assert log.read_bytes() == b'{"version": 1, "links": {"http://'
    assert peer.requests == []
    assert not (site_copy / "output").exists()  # stopped before writing the site


@pytest.mark.parametrize(
    ("line", "env", "expected"),
    [
        (
            'LINKBACK_SENTLOG = "pings.json"',
            {},
            "unknown linkback setting LINKBACK_SENTLOG; did you mean LINKBACK_SENT_LOG?",
        ),
        ('LINKBACK_TIMEOUT = "soon"', {}, "LINKBACK_TIMEOUT must be a number, got 'soon'"),
        ("LINKBACK_PROTOCOLS = ['webmention', 'smoke']", {}, "LINKBACK_PROTOCOLS: unknown"),
        ("", {"LINKBACK_SEND": "1"}, "set SITEURL"),
    ],
)
def test_misconfiguration_stops_the_build_before_it_starts(
    site_copy: Path, peer: Peer, line: str, env: dict[str, str], expected: str
) -> None:
    with (site_copy / "pelicanconf.py").open("a", encoding="utf-8") as conf:
        conf.write(line + "\n")
    result = pelican(site_copy, conf="pelicanconf.py", short_timeout=False, **env)
    assert result.returncode == 2
    assert expected in " ".join((result.stdout + result.stderr).split())
    # One message, no traceback (Pelican 4.12 logs one with every exception that stops it).
    assert "Traceback" not in result.stdout + result.stderr
    assert "CRITICAL" in result.stdout and len(result.stdout.strip().splitlines()) <= 3
    assert not (site_copy / "output" / "index.html").exists()
    assert peer.requests == []


@pytest.mark.parametrize("value", ["maybe", "of"])
def test_a_linkback_value_that_is_neither_on_nor_off_names_the_file(
    site_copy: Path, peer: Peer, value: str
) -> None:
    article = site_copy / "content" / "hello-linkbacks.md"
    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace("\n\n", f"\nLinkback: {value}\n\n", 1), encoding="utf-8")
    result = pelican(site_copy, conf="pelicanconf.py")
    assert result.returncode == 2
    said = " ".join(result.stdout.split())
    assert f"{article}: Linkback: '{value}' is neither on nor off" in said
    assert "Traceback" not in result.stdout + result.stderr
    assert peer.requests == []


def test_sent_log_is_beside_the_settings_file_whatever_the_current_folder(
    site_copy: Path, peer: Peer, site: StaticSite, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pelican", str(site_copy / "content"), "-o", str(site_copy / "out")]
        + ["-s", str(site_copy / "pelicanconf.py")]
        + ["-e", f'SITEURL="{site.url.rstrip("/")}"', "LINKBACK_ALLOW_PRIVATE=true"],
        cwd=elsewhere,
        env=environment(LINKBACK_SEND="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site_copy / "linkback-sent.json").is_file()
    assert list(elsewhere.iterdir()) == []


ARTICLE_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ article.title }}</title>{{ extra }}</head>
<body><main>{{ article.content }}</main>
<footer>{% if article.trackback_uri %}<a id="tb" href="{{ article.trackback_uri }}">ping me</a>\
{% endif %}</footer></body></html>
"""


@pytest.mark.parametrize("theme_pingback", [False, True])
def test_theme_without_head_hooks(site_copy: Path, peer: Peer, theme_pingback: bool) -> None:
    """A bare theme: the tags go before </head>, the block after the content, and the
    template can place ``article.trackback_uri`` itself; a theme's own tag is not repeated."""
    templates = site_copy / "bare" / "templates"
    templates.mkdir(parents=True)
    extra = (
        '<link rel="pingback" href="https://theme.example.org/xmlrpc">' if theme_pingback else ""
    )
    (templates / "article.html").write_text(ARTICLE_TEMPLATE.replace("{{ extra }}", extra))
    result = pelican(site_copy, "http://127.0.0.3:9", "-t", "bare", LINKBACK_SEND="0")
    assert result.returncode == 0, result.stdout + result.stderr
    html = (site_copy / "output" / "2026/11/hello-linkbacks/index.html").read_text("utf-8")
    head, body = html.split("</head>")
    assert head.count('rel="pingback"') == 1
    assert (PINGBACK_TAG in head) is not theme_pingback
    assert head.count(WEBMENTION_TAG) == 1 and WEBMENTION_TAG not in body
    url = "http://127.0.0.3:9/2026/11/hello-linkbacks/"
    uri = pages.trackback_uri(url, RECEIVER + "/trackback")
    content_end = body.index("</main>")
    assert body.index("<!--\n<rdf:RDF") < content_end
    assert body.index('<p class="linkback-trackback-uri">') < content_end
    assert f'<a id="tb" href="{uri}">' in body
    assert peer.requests == []


def test_progress_bar_on_a_terminal(site_copy: Path, peer: Peer, site: StaticSite) -> None:
    """On a terminal the bar shares Pelican's console with its "Generating..." spinner."""
    parent, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "pelican", "content", "-o", str(site.root), "-s"]
        + ["publishconf.py", "-e", "LINKBACK_TIMEOUT=3"],
        cwd=site_copy,
        env=environment(site.url.rstrip("/"), TERM="xterm"),
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    screen = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the terminal is closed once pelican exits
            break
        if not chunk:
            break
        screen += chunk
    os.close(parent)
    assert process.wait(timeout=60) == 0, screen.decode(errors="replace")
    text = ANSI.sub("", screen.decode(errors="replace"))
    assert "linkback: sending" in text and "Generating..." in text
    assert " ".join(FIRST_SUMMARY.split()[:8]) in " ".join(text.split())
    assert received(peer, site) == EXPECTED


TWO_SITES = """
import sys
from pelican import Pelican
from pelican.settings import read_settings

def instance(name):
    return Pelican(read_settings(f"{name}/pelicanconf.py", override={
        "PATH": "content", "OUTPUT_PATH": "output", "SITEURL": f"http://{name}.test",
        "LINKBACK_WEBMENTION_ENDPOINT": f"https://{name}.test/webmention",
    }))

first, second = instance("one"), instance("two")  # both initialized before either runs
first.run()
second.run()
"""


def test_two_pelican_instances_in_one_process_keep_their_own_settings(
    tmp_path: Path, peer: Peer
) -> None:
    """As with i18n subsites: each instance decorates its pages with its own settings."""
    for name in ("one", "two"):
        copy_site(tmp_path / name, peer)
    result = subprocess.run(
        [sys.executable, "-c", TWO_SITES],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name, other in (("one", "two"), ("two", "one")):
        html = (tmp_path / name / "output/2026/11/hello-linkbacks/index.html").read_text("utf-8")
        assert html.count(f'<link rel="webmention" href="https://{name}.test/webmention">') == 1
        assert f"{other}.test" not in html
        assert f'dc:identifier="http://{name}.test/2026/11/hello-linkbacks/"' in html
    assert peer.requests == []
