"""Fixtures shared by the core tests: a peer blog, the deployed site, and settings to match.

Everything runs on loopback. Over plain HTTP to IP literals: the peer (the blogs we link to)
on 127.0.0.2, the deployed site (whose pages the peer fetches to verify a ping) on 127.0.0.3
(fixtures ``peer``, ``site``, ``make_settings``, ``publish``). Over HTTPS to host names (see
``tests/tls.py``): ``web`` starts servers under names, ``blog`` is a peer at
``https://blog.test:PORT``, ``https_site`` the deployed site at ``https://site.test:PORT/``,
with ``make_https_settings`` and ``https_publish`` to match.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from linkback import Settings, Source
from tests.peer import Peer, StaticSite

if TYPE_CHECKING:  # imported by the fixtures: the Pelican-versions venvs have no trustme
    from tests.tls import TestCA, Web

pytest_plugins = ["tests.postgres", "tests.unprivileged", "tests.receiver", "tests.browser"]

TIMEOUT = 2.0
# The defaults of SPEC.md's settings table (user_agent aside: it is derived from the site).
SPEC_TABLE = {
    "send": False,
    "sent_log": "linkback-sent.json",
    "protocols": ("webmention", "pingback", "trackback"),
    "exclude": (),
    "timeout": 15,
    "concurrency": 32,
    "per_host": 2,
    "max_page_bytes": 1_000_000,
    "max_attempts": 3,
    "allow_private": False,
    "dry_run": False,
    "check_live": True,
    "webmention_endpoint": None,
    "pingback_endpoint": None,
    "trackback_endpoint": None,
    "show_trackback_uri": True,
    # RECEIVER.md's display rows.
    "display": False,
    "mentions_url": None,
    "mentions_cache": "linkback-mentions.json",
    "avatars": "local",
    # Starting on an existing site, updates and deletes (issue 18).
    "since": None,
    "send_updates": True,
}


@pytest.fixture(autouse=True)
def _no_send_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LINKBACK_SEND must not change what a test does."""
    monkeypatch.delenv("LINKBACK_SEND", raising=False)


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer("127.0.0.2") as running:
        yield running


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """The folder served as the deployed site."""
    folder = tmp_path / "deployed"
    folder.mkdir()
    return folder


@pytest.fixture
def site(site_dir: Path) -> Iterator[StaticSite]:
    with StaticSite(site_dir, "127.0.0.3") as running:
        yield running


@pytest.fixture
def make_settings(tmp_path: Path, site: StaticSite) -> Callable[..., Settings]:
    """Settings for sending from ``site`` to loopback peers, with short time-outs."""
    return settings_for(site, tmp_path)


def settings_for(site: StaticSite, tmp_path: Path) -> Callable[..., Settings]:
    """A maker of settings for sending from ``site``, with short time-outs."""

    def make(**values: Any) -> Settings:
        chosen = {"send": True, "allow_private": True, "timeout": TIMEOUT, **values}
        return Settings.from_mapping(
            chosen,
            spelling="plain",
            site_url=site.url.rstrip("/"),
            blog_name="Test blog",
            base_dir=tmp_path,
            environ={},
        )

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def publish(site: StaticSite, site_dir: Path) -> Callable[..., Source]:
    """Write a page to the deployed site (unless ``live=False``) and return it as a Source."""
    return publisher(site, site_dir)


def publisher(site: StaticSite, site_dir: Path) -> Callable[..., Source]:
    """A maker of Sources on ``site``, written to ``site_dir`` unless ``live=False``."""

    def make(
        slug: str,
        content: str,
        *,
        title: str = "A post",
        excerpt: str = "An excerpt.",
        metadata: dict[str, Any] | None = None,
        live: bool = True,
    ) -> Source:
        source = Source(
            url=f"{site.url}{slug}/",
            title=title,
            content=content,
            excerpt=excerpt,
            metadata=metadata or {},
        )
        if live:
            deploy(site_dir, source)
        return source

    return make


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """The certificate authority of the test session."""
    from tests.tls import TestCA

    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def web(ca: TestCA, monkeypatch: pytest.MonkeyPatch) -> Iterator[Web]:
    """Servers under host names; sets LINKBACK_RESOLVE and the CA bundle for this test."""
    from tests.tls import Web

    names = Web(ca, monkeypatch)
    try:
        yield names
    finally:
        names.close()


@pytest.fixture
def blog(web: Web) -> Peer:
    """A peer blog at https://blog.test:PORT."""
    return web.peer("blog.test")


@pytest.fixture
def https_site(web: Web, site_dir: Path) -> StaticSite:
    """The deployed site at https://site.test:PORT/."""
    return web.site("site.test", site_dir)


@pytest.fixture
def make_https_settings(tmp_path: Path, https_site: StaticSite) -> Callable[..., Settings]:
    return settings_for(https_site, tmp_path)


@pytest.fixture
def https_publish(https_site: StaticSite, site_dir: Path) -> Callable[..., Source]:
    return publisher(https_site, site_dir)


def deploy(site_dir: Path, source: Source) -> None:
    """Serve ``source`` at its URL, as an upload would."""
    slug = source.url.rstrip("/").rsplit("/", 1)[1]
    page = site_dir / slug / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        f"<!DOCTYPE html><html><head><title>{source.title}</title></head>"
        f"<body><article>{source.content}</article></body></html>",
        encoding="utf-8",
    )


def links_to(*targets: str) -> str:
    """Content HTML linking to each target."""
    return "".join(f'<p>See <a href="{target}">this post</a>.</p>' for target in targets)


def read_log(settings: Settings) -> dict[str, Any]:
    return json.loads(settings.sent_log_path.read_text(encoding="utf-8"))


def entry(settings: Settings, source: str, target: str) -> dict[str, Any]:
    """The sent-log record of one (source, target) pair."""
    return read_log(settings)["links"][source][target]


@pytest.fixture
def logger() -> logging.Logger:
    return logging.getLogger("tests.linkback")


def mkdocs_warnings(output: str) -> list[str]:
    """MkDocs' own WARNING log lines (not a theme's banner that merely says the word)."""
    return [line for line in output.splitlines() if line.lstrip().startswith("WARNING ")]


def linkback(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m linkback ARGS`` with none of the caller's LINKBACK_* variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINKBACK_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "linkback", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def statuses(log: Path) -> dict[str, set[str]]:
    data = json.loads(log.read_text(encoding="utf-8"))
    return {
        source: {f"{entry['status']}/{entry['detail']}" for entry in targets.values()}
        for source, targets in data["links"].items()
    }
