"""The display end to end: the real ``pelican`` and ``mkdocs build`` commands reading the
approved linkbacks from a loopback server, rendering them under the right pages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest

from tests.conftest import mkdocs_warnings
from tests.mentions import MentionsServer

BLOG = "https://blog.example"
LINKBACK_WARNING = re.compile(r"WARNING.*?linkback: could not update the linkbacks", re.DOTALL)


@pytest.fixture
def server() -> Iterator[MentionsServer]:
    with MentionsServer() as running:
        yield running


def run(command: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "LINKBACK_SEND"}
    env.update(
        SOURCE_DATE_EPOCH="1764547200",
        COLUMNS="400",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
    )
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def block_of(path: Path) -> lxml.html.HtmlElement | None:
    """The built-in block of a written page, parsed back; None when it has none."""
    document = lxml.html.document_fromstring(path.read_bytes())
    found = document.find_class("linkback-linkbacks")
    assert len(found) <= 1
    return found[0] if found else None


def summary(block: lxml.html.HtmlElement) -> str:
    return block.find_class("linkback-summary")[0].text_content()


def check_markup(block: lxml.html.HtmlElement, page: Path, output: Path) -> None:
    """Microformats, rel, and local avatars that exist in the output."""
    entries = block.find_class("linkback-entry")
    assert entries
    for entry in entries:
        assert {"u-comment", "h-cite"} <= set(entry.get("class").split())
        assert entry.find_class("h-card") and entry.find_class("u-url")
    for link in block.xpath(".//a"):
        assert link.get("rel") == "nofollow ugc"
    images = block.xpath(".//img")
    assert images
    for image in images:
        relative = page.relative_to(output).as_posix()
        target = urljoin("http://x/" + relative, image.get("src")).removeprefix("http://x/")
        assert (output / target).is_file(), image.get("src")


# Pelican --------------------------------------------------------------------------------


ARTICLE = "Title: {title}\nDate: 2026-11-{day:02d}\nSlug: {slug}\n\n{title}: the body of {slug}.\n"


def pelican_site(folder: Path, server: MentionsServer, **settings: object) -> Path:
    content = folder / "content"
    (content / "pages").mkdir(parents=True)
    for day, slug in enumerate(("busy", "quiet", "mentioned"), start=1):
        text = ARTICLE.format(title=slug.title(), day=day, slug=slug)
        (content / f"{slug}.md").write_text(text, encoding="utf-8")
    (content / "pages" / "about.md").write_text(
        "Title: About\nSlug: about\n\nAbout this blog.\n", encoding="utf-8"
    )
    values = {
        "SITENAME": "Display blog",
        "SITEURL": BLOG,
        "PATH": "content",
        "TIMEZONE": "UTC",
        "ARTICLE_URL": "{date:%Y}/{slug}/",
        "ARTICLE_SAVE_AS": "{date:%Y}/{slug}/index.html",
        "PAGE_URL": "{slug}/",
        "PAGE_SAVE_AS": "{slug}/index.html",
        "FEED_ALL_ATOM": None,
        "CATEGORY_FEED_ATOM": None,
        "AUTHOR_FEED_ATOM": None,
        "AUTHOR_FEED_RSS": None,
        "PLUGINS": ["pelican_linkback"],
        "LINKBACK_DISPLAY": True,
        "LINKBACK_MENTIONS_URL": server.service_url,
        "LINKBACK_ALLOW_PRIVATE": True,
        "LINKBACK_TIMEOUT": 2,
        **settings,
    }
    conf = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    (folder / "pelicanconf.py").write_text(conf, encoding="utf-8")
    return folder


def pelican(folder: Path, output: str = "output") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pelican", "content", "-o", output, "-s", "pelicanconf.py"]
    result = run(command, folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def add_linkbacks(server: MentionsServer) -> None:
    """The busy article: 2 replies, 3 likes, 1 repost, 1 pingback; the mentioned one: 1
    mention; the About page: 1 like; the quiet one nothing (one is pending)."""
    photo = server.add_photo("/photos/alice.png")
    busy = f"{BLOG}/2026/busy"  # no trailing slash, as some senders write it
    server.add(busy, "reply", author={"name": "Alice", "url": "https://a.example/", "photo": photo})
    server.add(busy, "reply", author={"name": "Bob", "photo": photo})
    for _ in range(3):
        server.add(busy, "like", author={"name": "Fan", "photo": photo})
    server.add(busy, "repost")
    server.add(busy, "mention", protocol="pingback", name="A linking post")
    server.add("http://blog.example/2026/mentioned/#comments", "mention")
    server.add(f"{BLOG}/about/", "like")
    server.add(f"{BLOG}/2026/quiet/", "reply", status="pending")


def test_pelican_shows_linkbacks_under_exactly_the_pages_that_have_them(
    tmp_path: Path, server: MentionsServer
) -> None:
    add_linkbacks(server)
    folder = pelican_site(tmp_path / "blog", server)

    result = pelican(folder)

    assert not LINKBACK_WARNING.search(result.stdout + result.stderr)
    output = folder / "output"
    pages = {path.relative_to(output).as_posix(): block_of(path) for path in output.rglob("*.html")}
    shown = {name: summary(block) for name, block in pages.items() if block is not None}
    assert shown == {
        "2026/busy/index.html": "2 replies · 3 likes · 1 repost · 1 pingback",
        "2026/mentioned/index.html": "1 mention",
        "about/index.html": "1 like",
    }
    busy = pages["2026/busy/index.html"]
    assert busy is not None
    check_markup(busy, output / "2026/busy/index.html", output)
    assert len(busy.find_class("linkback-face")) == 4
    names = [
        entry.find_class("p-name")[0].text_content() for entry in busy.find_class("linkback-entry")
    ]
    assert names[:2] == ["Alice", "Bob"]
    assert [via.text_content() for via in busy.find_class("linkback-via")] == ["via pingback"]
    # After the article's content, inside its article element.
    html = (output / "2026/busy/index.html").read_text(encoding="utf-8")
    assert html.index("the body of busy") < html.index('class="linkback-linkbacks"')
    assert busy.getparent().tag in ("div", "article", "section")
    assert html.count('id="linkback-style"') == 1
    [avatar] = (output / "linkback-avatars").iterdir()
    written = avatar.stat().st_mtime_ns

    # Nothing new: one request, no avatar written again, the same pages.
    before = len(server.requests)
    again = pelican(folder)
    assert server.requests[before:] == [
        f"/api/linkbacks?changed_since={server.seq}&per_page=1000&page=0"
    ]
    assert avatar.stat().st_mtime_ns == written
    assert not LINKBACK_WARNING.search(again.stdout + again.stderr)

    # The service is down: the build succeeds from the cache, with one warning.
    server.failure = 500
    down = pelican(folder)
    assert len(LINKBACK_WARNING.findall(down.stdout + down.stderr)) == 1, down.stdout
    busy_now = block_of(output / "2026/busy/index.html")
    assert busy_now is not None and summary(busy_now) == shown["2026/busy/index.html"]


MINIMAL_THEME = {
    "base.html": "<!DOCTYPE html><html><head><title>{{ SITENAME }}</title></head>"
    "<body>{% block content %}{% endblock %}</body></html>",
    "article.html": '{% extends "base.html" %}{% block content %}<main>{{ article.content }}'
    "</main>{% endblock %}",
    "page.html": '{% extends "base.html" %}{% block content %}{{ page.content }}{% endblock %}',
}


@pytest.mark.parametrize("theme", ["notmyidea", "simple", "minimal"])
def test_pelican_themes_without_hooks_get_the_block(
    tmp_path: Path, server: MentionsServer, theme: str
) -> None:
    server.add(f"{BLOG}/2026/busy/", "reply")
    if theme == "minimal":
        templates = tmp_path / "minimal" / "templates"
        templates.mkdir(parents=True)
        for name, text in MINIMAL_THEME.items():
            (templates / name).write_text(text, encoding="utf-8")
        theme = str(tmp_path / "minimal")
    folder = pelican_site(tmp_path / "blog", server, THEME=theme, LINKBACK_AVATARS="none")
    pelican(folder)
    block = block_of(folder / "output/2026/busy/index.html")
    assert block is not None and summary(block) == "1 reply"
    assert block_of(folder / "output/2026/quiet/index.html") is None


OVERRIDE = (
    '<aside class="my-linkbacks">{{ article.linkbacks.summary if article else '
    "page.linkbacks.summary }}: {% for item in linkbacks.kinds.reply %}"
    "{{ item.author.name }};{% endfor %}</aside>"
)


def test_pelican_theme_template_replaces_the_block(tmp_path: Path, server: MentionsServer) -> None:
    server.add(f"{BLOG}/2026/busy/", "reply", author={"name": "<b>Alice</b>"})
    server.add(f"{BLOG}/about/", "like")
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    (overrides / "linkback.html").write_text(OVERRIDE, encoding="utf-8")
    folder = pelican_site(tmp_path / "blog", server, THEME_TEMPLATES_OVERRIDES=[str(overrides)])

    pelican(folder)

    busy = (folder / "output/2026/busy/index.html").read_text(encoding="utf-8")
    assert '<aside class="my-linkbacks">1 reply: &lt;b&gt;Alice&lt;/b&gt;;</aside>' in busy
    assert busy.index("the body of busy") < busy.index("my-linkbacks")
    about = (folder / "output/about/index.html").read_text(encoding="utf-8")
    assert '<aside class="my-linkbacks">1 like: </aside>' in about
    for html in (busy, about):
        assert "linkback-linkbacks" not in html and "linkback-style" not in html
    quiet = (folder / "output/2026/quiet/index.html").read_text(encoding="utf-8")
    assert "my-linkbacks" not in quiet


def test_pelican_display_off_changes_nothing(tmp_path: Path, server: MentionsServer) -> None:
    add_linkbacks(server)
    off = pelican_site(tmp_path / "off", server, LINKBACK_DISPLAY=False)
    plain = pelican_site(tmp_path / "plain", server)
    conf = plain / "pelicanconf.py"
    conf.write_text(
        "".join(
            line + "\n"
            for line in conf.read_text(encoding="utf-8").splitlines()
            if not line.startswith(("LINKBACK_DISPLAY", "LINKBACK_MENTIONS_URL"))
        ),
        encoding="utf-8",
    )
    pelican(off)
    pelican(plain)
    files = sorted(path.relative_to(off / "output") for path in (off / "output").rglob("*"))
    assert files == sorted(
        path.relative_to(plain / "output") for path in (plain / "output").rglob("*")
    )
    for name in files:
        if (off / "output" / name).is_file():
            assert (off / "output" / name).read_bytes() == (plain / "output" / name).read_bytes()
    assert server.requests == []
    assert not (off / "linkback-mentions.json").exists()


# MkDocs ---------------------------------------------------------------------------------


DOCS = "https://docs.example/"


def mkdocs_site(folder: Path, server: MentionsServer, theme: str, *extra: str) -> Path:
    docs = folder / "docs"
    docs.mkdir(parents=True)
    (folder / "mkdocs.yml").write_text(
        "site_name: Display docs\n"
        f"site_url: {DOCS}\n"
        f"theme:\n  name: {theme}\n" + "".join(f"  {line}\n" for line in extra) + "plugins:\n"
        "  - linkback:\n"
        "      display: true\n"
        f"      mentions_url: {server.service_url}\n"
        "      allow_private: true\n"
        "      timeout: 2\n",
        encoding="utf-8",
    )
    (docs / "index.md").write_text("# Home\n\nWelcome home.\n", encoding="utf-8")
    (docs / "guide.md").write_text("# Guide\n\nThe guide's own words.\n", encoding="utf-8")
    (docs / "other.md").write_text("# Other\n\nNothing to see.\n", encoding="utf-8")
    return folder


def mkdocs(folder: Path) -> subprocess.CompletedProcess[str]:
    result = run([sys.executable, "-m", "mkdocs", "build", "--strict"], folder)
    assert result.returncode == 0, result.stderr
    assert mkdocs_warnings(result.stderr) == []
    return result


@pytest.mark.parametrize("theme", ["mkdocs", "material"])
def test_mkdocs_themes_show_the_block_under_the_page(
    tmp_path: Path, server: MentionsServer, theme: str
) -> None:
    photo = server.add_photo("/photos/bob.png")
    server.add(DOCS + "guide", "reply", author={"name": "Bob", "photo": photo})
    server.add(DOCS + "guide/", "like", author={"name": "Fan", "photo": photo})
    folder = mkdocs_site(tmp_path / "docs", server, theme)

    mkdocs(folder)

    site = folder / "site"
    shown = {
        path.relative_to(site).as_posix(): summary(block)
        for path in site.rglob("*.html")
        if (block := block_of(path)) is not None
    }
    assert shown == {"guide/index.html": "1 reply · 1 like"}
    block = block_of(site / "guide/index.html")
    assert block is not None
    check_markup(block, site / "guide/index.html", site)
    html = (site / "guide/index.html").read_text(encoding="utf-8")
    assert html.index("own words") < html.index('class="linkback-linkbacks"')

    # mkdocs build empties site/: the avatar comes back from the store, not the network.
    before = len(server.requests)
    mkdocs(folder)
    assert len(server.requests) == before + 1
    assert block_of(site / "guide/index.html") is not None
    assert len(list((site / "linkback-avatars").iterdir())) == 1


def test_mkdocs_theme_template_gets_page_meta_linkbacks(
    tmp_path: Path, server: MentionsServer
) -> None:
    server.add(DOCS + "guide/", "reply", author={"name": "Carol"})
    overrides = tmp_path / "docs" / "overrides"
    overrides.mkdir(parents=True)
    (overrides / "linkback.html").write_text(
        '<aside class="my-linkbacks">{{ page.meta.linkbacks.summary }}: '
        "{{ linkbacks.kinds.reply[0].author.name }}</aside>",
        encoding="utf-8",
    )
    folder = mkdocs_site(tmp_path / "docs", server, "mkdocs", "custom_dir: overrides")

    mkdocs(folder)

    html = (folder / "site/guide/index.html").read_text(encoding="utf-8")
    assert html.count('<aside class="my-linkbacks">1 reply: Carol</aside>') == 1
    assert "linkback-linkbacks" not in html and "linkback-style" not in html
    assert "my-linkbacks" not in (folder / "site/other/index.html").read_text(encoding="utf-8")


def test_material_blog_posts_show_their_linkbacks(tmp_path: Path, server: MentionsServer) -> None:
    folder = tmp_path / "blog"
    posts = folder / "docs" / "blog" / "posts"
    posts.mkdir(parents=True)
    (folder / "mkdocs.yml").write_text(
        f"site_name: A Material blog\nsite_url: {DOCS}\ntheme:\n  name: material\n"
        "plugins:\n  - blog\n  - linkback:\n      display: true\n"
        f"      mentions_url: {server.service_url}\n      allow_private: true\n"
        "      avatars: none\n",
        encoding="utf-8",
    )
    (folder / "docs" / "index.md").write_text("# Home\n", encoding="utf-8")
    (folder / "docs" / "blog" / "index.md").write_text("# Blog\n", encoding="utf-8")
    for day, slug in ((20, "first"), (21, "second")):
        (posts / f"{slug}.md").write_text(
            f"---\ndate: 2026-11-{day}\n---\n\n# {slug.title()} post\n\nThe {slug} excerpt.\n\n"
            f"<!-- more -->\n\nThe rest of {slug}.\n",
            encoding="utf-8",
        )
    server.add(DOCS + "blog/2026/11/20/first-post/", "reply")
    server.add(DOCS + "blog/2026/11/20/first-post", "repost")

    mkdocs(folder)

    site = folder / "site"
    block = block_of(site / "blog/2026/11/20/first-post/index.html")
    assert block is not None and summary(block) == "1 reply · 1 repost"
    assert block_of(site / "blog/2026/11/21/second-post/index.html") is None
    assert block_of(site / "blog/index.html") is None


def test_mkdocs_display_off_changes_nothing(tmp_path: Path, server: MentionsServer) -> None:
    server.add(DOCS + "guide/", "reply")
    on = mkdocs_site(tmp_path / "on", server, "mkdocs")
    off = mkdocs_site(tmp_path / "off", server, "mkdocs")
    config = off / "mkdocs.yml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("display: true", "display: false"),
        encoding="utf-8",
    )
    plain = mkdocs_site(tmp_path / "plain", server, "mkdocs")
    config = plain / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        "".join(
            line + "\n"
            for line in text.splitlines()
            if "display" not in line and "mentions_url" not in line
        ),
        encoding="utf-8",
    )
    for folder in (off, plain):
        mkdocs(folder)
    assert server.requests == []
    files = sorted(
        path.relative_to(off / "site") for path in (off / "site").rglob("*") if path.is_file()
    )
    assert files == sorted(
        path.relative_to(plain / "site") for path in (plain / "site").rglob("*") if path.is_file()
    )
    for name in files:
        if name.name == "sitemap.xml.gz":
            continue  # gzip stamps the time of writing
        assert (off / "site" / name).read_bytes() == (plain / "site" / name).read_bytes(), name
    mkdocs(on)
    assert block_of(on / "site/guide/index.html") is not None


def test_pelican_theme_that_places_its_template_itself_gets_it_once(
    tmp_path: Path, server: MentionsServer
) -> None:
    server.add(f"{BLOG}/2026/busy/", "reply")
    templates = tmp_path / "placed" / "templates"
    templates.mkdir(parents=True)
    for name, text in MINIMAL_THEME.items():
        (templates / name).write_text(text, encoding="utf-8")
    (templates / "article.html").write_text(
        '{% extends "base.html" %}{% block content %}{% include "linkback.html" %}'
        "<main>{{ article.content }}</main>{% endblock %}",
        encoding="utf-8",
    )
    (templates / "linkback.html").write_text(
        '{% if article.linkbacks %}<p class="mine">{{ article.linkbacks.summary }}</p>{% endif %}',
        encoding="utf-8",
    )
    folder = pelican_site(tmp_path / "blog", server, THEME=str(tmp_path / "placed"))

    pelican(folder)

    html = (folder / "output/2026/busy/index.html").read_text(encoding="utf-8")
    assert html.count('<p class="mine">1 reply</p>') == 1
    assert html.index('class="mine"') < html.index("the body of busy")
    assert "linkback-linkbacks" not in html
    assert 'class="mine"' not in (folder / "output/2026/quiet/index.html").read_text("utf-8")


def test_pelican_stops_on_a_display_that_cannot_work(
    tmp_path: Path, server: MentionsServer
) -> None:
    folder = pelican_site(tmp_path / "blog", server, LINKBACK_MENTIONS_URL=None)
    command = [sys.executable, "-m", "pelican", "content", "-o", "output", "-s", "pelicanconf.py"]
    result = run(command, folder)
    assert result.returncode == 2
    assert "display needs mentions_url" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr

    folder = pelican_site(tmp_path / "other", server)
    (folder / "linkback-mentions.json").write_text("{", encoding="utf-8")
    result = run(command, folder)
    assert result.returncode == 2
    assert "linkback-mentions.json is damaged" in result.stdout + result.stderr
    assert (folder / "linkback-mentions.json").read_text(encoding="utf-8") == "{"
    assert server.requests == []
