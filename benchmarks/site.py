"""The benchmark sites: N Markdown articles × M outbound links, for Pelican and for MkDocs.

Article ``i`` links to the farm posts ``i*M ... i*M+M-1`` (every target distinct, so "each
target pinged once" is checkable) and to the previous article, an internal link that must
never be pinged. Both generators get the same text; only the front matter differs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

FIRST_DATE = datetime(2020, 1, 1)
PARAGRAPH = (
    "Static sites are fast and cheap to host, and a blog built with one still wants to tell "
    "the pages it cites that it cited them. "
) * 4

PELICAN_BASE = """\
AUTHOR = "Benchmark"
SITENAME = "Linkback benchmark"
SITEURL = {site_url!r}
PATH = "content"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
RELATIVE_URLS = False
DEFAULT_PAGINATION = 10
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
"""

PELICAN_PUBLISH = """\
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pelicanconf import *  # noqa: E402,F403

PLUGINS = ["pelican_linkback"]
LINKBACK_SEND = True
LINKBACK_ALLOW_PRIVATE = True  # the farm lives on loopback
LINKBACK_WEBMENTION_ENDPOINT = SITEURL + "/webmention"  # noqa: F405
LINKBACK_PINGBACK_ENDPOINT = SITEURL + "/xmlrpc"  # noqa: F405
LINKBACK_TRACKBACK_ENDPOINT = SITEURL + "/trackback"  # noqa: F405
"""

PELICAN_REFERENCE = """\
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pelicanconf import *  # noqa: E402,F403

PLUGINS = ["linkbacks"]  # pelican-plugin-linkbacks
LINKBACKS_CACHEPATH = {cache!r}
"""

MKDOCS_CONFIG = """\
site_name: Linkback benchmark
site_url: {site_url}
docs_dir: docs
theme: mkdocs
plugins: {plugins}
"""

MKDOCS_PLUGIN = """
  - linkback:
      send: true
      allow_private: true
      webmention_endpoint: {site_url}webmention
      pingback_endpoint: {site_url}xmlrpc
      trackback_endpoint: {site_url}trackback"""


@dataclass(frozen=True)
class Site:
    """A generated site: where it is, how each build is run, and its outbound links."""

    root: Path
    output: Path
    sent_log: Path
    links: list[tuple[str, str]]  # (source URL, target URL) that deserve a discovery
    pages: int  # generated pages that are sources (MkDocs adds its index page)


def _body(index: int, targets: list[str], previous: str | None) -> str:
    lines = [PARAGRAPH, ""]
    for number, target in enumerate(targets):
        lines += [f"Point {number} of this article is made [in this post]({target}).", ""]
    if previous:
        lines += [f"It follows [the previous article]({previous}).", ""]
    lines += [PARAGRAPH, ""]
    return "\n".join(lines)


def write_pelican(
    root: Path, articles: int, links: int, site_url: str, target_url: Callable[[int], str]
) -> Site:
    """pelicanconf.py (plain), publishconf.py (linkback), referenceconf.py (the reference)."""
    shutil.rmtree(root, ignore_errors=True)
    content = root / "content"
    content.mkdir(parents=True)
    pairs = []
    for i in range(articles):
        targets = [target_url(i * links + j) for j in range(links)]
        previous = f"{{filename}}article-{i - 1:05d}.md" if i else None
        date = (FIRST_DATE + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M")
        header = (
            f"Title: Article {i}\nDate: {date}\nSlug: article-{i:05d}\n"
            f"Category: Notes\nTags: topic-{chr(97 + i % 20)}\n\n"
        )
        (content / f"article-{i:05d}.md").write_text(header + _body(i, targets, previous))
        pairs += [(f"{site_url}/article-{i:05d}.html", target) for target in targets]
    (root / "pelicanconf.py").write_text(PELICAN_BASE.format(site_url=site_url))
    (root / "publishconf.py").write_text(PELICAN_PUBLISH)
    cache = str(root / "reference-cache.json")
    (root / "referenceconf.py").write_text(PELICAN_REFERENCE.format(cache=cache))
    return Site(root, root / "output", root / "linkback-sent.json", pairs, articles)


def write_mkdocs(
    root: Path, articles: int, links: int, site_url: str, target_url: Callable[[int], str]
) -> Site:
    """mkdocs-plain.yml (no plugin) and mkdocs.yml (``plugins: [linkback]``), one docs/."""
    shutil.rmtree(root, ignore_errors=True)
    docs = root / "docs"
    docs.mkdir(parents=True)
    site_url = site_url.rstrip("/") + "/"
    (docs / "index.md").write_text("# Linkback benchmark\n\nThe articles are in the menu.\n")
    pairs = []
    for i in range(articles):
        targets = [target_url(i * links + j) for j in range(links)]
        previous = f"article-{i - 1:05d}.md" if i else None
        text = f"# Article {i}\n\n" + _body(i, targets, previous)
        (docs / f"article-{i:05d}.md").write_text(text)
        pairs += [(f"{site_url}article-{i:05d}/", target) for target in targets]
    plain = MKDOCS_CONFIG.format(site_url=site_url, plugins="[]")
    (root / "mkdocs-plain.yml").write_text(plain)
    plugin = MKDOCS_PLUGIN.format(site_url=site_url)
    (root / "mkdocs.yml").write_text(MKDOCS_CONFIG.format(site_url=site_url, plugins=plugin))
    return Site(root, root / "site", root / "linkback-sent.json", pairs, articles + 1)
