"""The display's core against loopback servers: reading the two APIs and files, the cache,
avatars, grouping per page, and rendering hostile content inert."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from markupsafe import escape

from linkback import ConfigError, Settings
from linkback.display import Display, block, check, reader
from linkback.display.avatars import AVATAR_CAP, FOLDER, PLACEHOLDER
from linkback.display.model import CONTENT_CHARS, Kind
from tests.mentions import PNG, TOKEN, MentionsServer

SITE = "https://blog.example"
POST = SITE + "/2026/11/post/"


@pytest.fixture
def server() -> Iterator[MentionsServer]:
    with MentionsServer() as running:
        yield running


@pytest.fixture
def make(tmp_path: Path) -> Callable[..., Settings]:
    def make(**values: Any) -> Settings:
        chosen = {"display": True, "allow_private": True, "timeout": 2, **values}
        return Settings.from_mapping(chosen, site_url=SITE, base_dir=tmp_path, environ={})

    return make


@pytest.fixture
def logger() -> logging.Logger:
    return logging.getLogger("tests.display")


def ids(display: Display, url: str = POST) -> list[str]:
    data = display.linkbacks(url, "2026/11/post/")
    return (
        []
        if data is None
        else sorted(item["id"] for items in data["kinds"].values() for item in items)
    )


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


# The project's service ----------------------------------------------------------------------


def test_service_is_read_incrementally_and_drops_what_is_no_longer_approved(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger
) -> None:
    first, second, third = (server.add(POST, kind) for kind in ("reply", "like", "repost"))
    pending = server.add(POST, "reply", status="pending")
    settings = make(mentions_url=server.service_url, avatars="none")

    display = Display(settings, logger)

    assert ids(display) == [str(first), str(second), str(third)]
    assert str(pending) not in display.cache.mentions
    assert server.api_requests() == ["/api/linkbacks?per_page=1000&page=0"]
    cached = json.loads(settings.mentions_cache_path.read_text(encoding="utf-8"))
    assert cached["cursor"] == server.seq == 4

    server.set_status(second, "spam")
    server.set_status(third, "deleted")
    server.set_status(pending, "approved")
    fourth = server.add(POST, "mention")
    display = Display(settings, logger)

    assert server.api_requests()[1:] == ["/api/linkbacks?changed_since=4&per_page=1000&page=0"]
    assert ids(display) == sorted([str(first), str(pending), str(fourth)])
    assert json.loads(settings.mentions_cache_path.read_text(encoding="utf-8"))["cursor"] == 8

    # Nothing new: one small request, and the cache file is not even rewritten.
    written = settings.mentions_cache_path.stat().st_mtime_ns
    requests = len(server.requests)
    display = Display(settings, logger)
    assert len(server.requests) == requests + 1
    assert server.requests[-1] == "/api/linkbacks?changed_since=8&per_page=1000&page=0"
    assert settings.mentions_cache_path.stat().st_mtime_ns == written
    assert ids(display) == sorted([str(first), str(pending), str(fourth)])


def test_service_pages_are_followed_until_one_is_not_full(
    server: MentionsServer,
    make: Callable[..., Settings],
    logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader, "PER_PAGE", 2)
    added = [server.add(POST, "like") for _ in range(5)]
    display = Display(make(mentions_url=server.service_url, avatars="none"), logger)
    assert ids(display) == sorted(str(wm_id) for wm_id in added)
    assert [path.rsplit("page=", 1)[1] for path in server.api_requests()] == ["0", "1", "2"]


def test_too_many_pages_keep_the_cache_with_one_warning(
    server: MentionsServer,
    make: Callable[..., Settings],
    logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(reader, "PER_PAGE", 1)
    monkeypatch.setattr(reader, "MAX_PAGES", 3)
    for _ in range(4):
        server.add(POST)
    display = Display(make(mentions_url=server.service_url, avatars="none"), logger)
    assert ids(display) == []
    assert len(server.api_requests()) == 3
    assert len(warnings(caplog)) == 1 and "more than 3 pages" in warnings(caplog)[0]


# webmention.io --------------------------------------------------------------------------------


def test_webmention_io_is_read_with_since_id_and_the_token_is_never_stored(
    server: MentionsServer,
    make: Callable[..., Settings],
    logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader, "PER_PAGE", 2)
    first = [server.add(POST, "like") for _ in range(3)]
    server.add("https://elsewhere.example/post/", "like")  # another domain of the account
    private = server.add(POST, "reply", **{"wm-private": True})
    settings = make(mentions_url=server.webmention_io_url("blog.example"), avatars="none")

    display = Display(settings, logger)

    assert ids(display) == sorted(str(wm_id) for wm_id in first)
    assert str(private) not in display.cache.mentions
    assert all("per-page=2" in path for path in server.api_requests())
    assert "since_id" not in server.api_requests()[0]
    text = settings.mentions_cache_path.read_text(encoding="utf-8")
    assert TOKEN not in text
    assert json.loads(text)["cursor"] == private  # the highest id seen

    later = server.add(POST, "reply")
    before = len(server.requests)
    display = Display(settings, logger)
    assert server.requests[before:] == [
        f"/api/mentions.jf2?domain=blog.example&token={TOKEN}&since_id={private}&per-page=2&page=0"
    ]
    assert ids(display) == sorted(str(wm_id) for wm_id in [*first, later])


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_keeps_the_cache_with_one_warning(
    server: MentionsServer,
    make: Callable[..., Settings],
    logger: logging.Logger,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    liked = server.add(POST, "like")
    settings = make(mentions_url=server.webmention_io_url("blog.example"), avatars="none")
    Display(settings, logger)
    saved = settings.mentions_cache_path.read_bytes()

    server.failure = status
    display = Display(settings, logger)

    assert ids(display) == [str(liked)]
    assert settings.mentions_cache_path.read_bytes() == saved
    [warning] = warnings(caplog)
    assert f"HTTP {status}: the token was refused" in warning
    assert TOKEN not in warning and "token=***" in warning


def test_a_wrong_token_on_the_first_build_shows_nothing_and_warns_once(
    server: MentionsServer,
    make: Callable[..., Settings],
    logger: logging.Logger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.add(POST, "like")
    url = server.webmention_io_url("blog.example", token="expired")
    display = Display(make(mentions_url=url, avatars="none"), logger)
    assert ids(display) == []
    assert len(warnings(caplog)) == 1 and "HTTP 401" in warnings(caplog)[0]


# A source that is down, slow or wrong ------------------------------------------------------


@pytest.mark.parametrize(
    "trouble",
    [
        "500",
        "drip",
        "drip without length",
        "garbage",
        "not a feed",
        "down",
    ],
)
def test_a_failing_source_keeps_the_cache_with_one_warning(
    server: MentionsServer,
    make: Callable[..., Settings],
    logger: logging.Logger,
    caplog: pytest.LogCaptureFixture,
    trouble: str,
) -> None:
    replied = server.add(POST, "reply")
    settings = make(mentions_url=server.service_url, avatars="none", timeout=0.5)
    Display(settings, logger)
    saved = settings.mentions_cache_path.read_bytes()
    server.add(POST, "like")

    if trouble == "500":
        server.failure = 500
    elif trouble.startswith("drip"):
        server.drip = 0.05
        server.drip_length = trouble == "drip"
    elif trouble == "garbage":
        server.garbage = b"<html>maintenance</html>"
    elif trouble == "not a feed":
        server.garbage = b'{"type": "feed", "children": {}}'
    else:
        settings = settings.replace(mentions_url="http://127.0.0.6:9/api/linkbacks")
        settings.mentions_cache_path.write_bytes(
            saved.replace(server.service_url.encode(), settings.mentions_url.encode())
        )
        saved = settings.mentions_cache_path.read_bytes()
    started = time.monotonic()
    display = Display(settings, logger)

    assert time.monotonic() - started < 2
    assert ids(display) == [str(replied)]
    assert settings.mentions_cache_path.read_bytes() == saved
    assert len(warnings(caplog)) == 1, warnings(caplog)
    assert "showing the 1 cached" in warnings(caplog)[0]


def test_a_damaged_cache_stops_with_its_name_and_is_left_alone(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger
) -> None:
    settings = make(mentions_url=server.service_url)
    settings.mentions_cache_path.write_text('{"version": 1, "mentions": [', encoding="utf-8")
    with pytest.raises(ConfigError, match="mentions_cache .*linkback-mentions.json is damaged"):
        Display(settings, logger)
    assert settings.mentions_cache_path.read_text(encoding="utf-8").endswith("[")
    assert server.requests == []


def test_a_cache_of_another_source_is_not_used(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger
) -> None:
    server.add(POST)
    settings = make(mentions_url=server.service_url, avatars="none")
    Display(settings, logger)
    other = settings.replace(mentions_url=server.webmention_io_url("other.example"))
    assert ids(Display(other, logger)) == []
    assert "since_id" not in server.api_requests()[-1]


# Settings ------------------------------------------------------------------------------------


def test_display_needs_a_mentions_url(
    make: Callable[..., Settings], logger: logging.Logger
) -> None:
    with pytest.raises(ConfigError, match="display needs mentions_url"):
        Display(make(), logger)


def test_avatars_must_be_one_of_three() -> None:
    with pytest.raises(ConfigError, match="LINKBACK_AVATARS: must be one of local, remote, none"):
        Settings.from_mapping({"LINKBACK_AVATARS": "gravatar"}, spelling="pelican", environ={})


# A local jf2 file ----------------------------------------------------------------------------


def test_a_local_file_is_read_whole_and_paths_are_pages_of_the_site(
    tmp_path: Path, make: Callable[..., Settings], logger: logging.Logger
) -> None:
    feed = {
        "type": "feed",
        "children": [
            {"wm-id": 1, "wm-property": "like-of", "wm-target": "/2026/11/post/",
             "wm-source": "https://a.example/1"},
            {"wm-id": 2, "wm-property": "in-reply-to", "wm-target": "http://blog.example/2026/11/post",
             "wm-source": "https://b.example/2", "content": {"text": "Nice"}},
            {"wm-id": 3, "wm-target": "/other/", "wm-source": "https://c.example/3"},
            {"wm-id": 4, "wm-target": "/2026/11/post/", "wm-source": "https://d.example/4",
             "linkback-status": "spam"},
        ],
    }  # fmt: skip
    (tmp_path / "mentions.jf2").write_text(json.dumps(feed), encoding="utf-8")
    display = Display(make(mentions_url="mentions.jf2", avatars="none"), logger)
    assert ids(display) == ["1", "2"]
    data = display.linkbacks(POST, "2026/11/post/")
    assert data is not None and data["summary"] == "1 reply · 1 like"
    assert not (tmp_path / "linkback-mentions.json").exists()  # nothing to remember

    (tmp_path / "mentions.jf2").write_text("{oops", encoding="utf-8")
    with pytest.raises(ConfigError, match="mentions.jf2 is not a jf2 feed"):
        Display(make(mentions_url="mentions.jf2"), logger)
    with pytest.raises(ConfigError, match="missing.jf2: cannot read it"):
        Display(make(mentions_url=str(tmp_path / "missing.jf2")), logger)


# Grouping per page --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "https://blog.example/2026/11/post",
        "http://blog.example/2026/11/post/",
        "https://BLOG.example:443/2026/11/post/#comments",
    ],
)
def test_every_spelling_of_a_page_is_that_page(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger, spelling: str
) -> None:
    wm_id = server.add(spelling, "like")
    server.add(SITE + "/2026/11/post/other/", "like")
    display = Display(make(mentions_url=server.service_url, avatars="none"), logger)
    assert ids(display) == [str(wm_id)]
    assert display.linkbacks(SITE + "/2026/11/", "2026/11/") is None


# Avatars ------------------------------------------------------------------------------------


def test_local_avatars_are_downloaded_once_and_served_by_the_site(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger, tmp_path: Path
) -> None:
    good = server.add_photo("/photos/good.png")
    big = server.add_photo("/photos/big.png", PNG + b"\0" * AVATAR_CAP)
    svg = server.add_photo("/photos/x.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")
    html = server.add_photo("/photos/page", PNG, "text/html")
    missing = server.base_url + "/photos/missing.png"
    for photo in (good, good, big, svg, html, missing):
        server.add(POST, "like", author={"name": "A", "photo": photo})
    settings = make(mentions_url=server.service_url)

    display = Display(settings, logger)
    data = display.linkbacks(POST, "2026/11/post/")

    assert data is not None
    photos = [face["author"]["photo"] for face in data["faces"]]
    local = f"../../../{FOLDER}/"
    assert photos[0] == photos[1] and photos[0].startswith(local) and photos[0].endswith(".png")
    assert photos[2:] == [escape(PLACEHOLDER)] * 4  # every value is escaped for themes
    fetched = [path for path in server.requests if path.startswith("/photos/")]
    assert sorted(fetched) == sorted(
        ["/photos/good.png", "/photos/big.png", "/photos/x.svg", "/photos/page",
         "/photos/missing.png"]
    )  # fmt: skip
    output = tmp_path / "output"
    display.publish(output)
    copied = output / photos[0].removeprefix("../../../")
    assert copied.read_bytes() == PNG
    assert [path.name for path in (output / FOLDER).iterdir()] == [copied.name]

    # The next build asks nothing but the feed, and rewrites no avatar.
    written = copied.stat().st_mtime_ns
    before = len(server.requests)
    again = Display(settings, logger)
    assert len(server.requests) == before + 1 and server.requests[-1].startswith("/api/")
    assert again.linkbacks(POST, "2026/11/post/") == data
    again.publish(output)
    assert copied.stat().st_mtime_ns == written


def test_remote_avatars_keep_the_url_and_none_shows_names(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger
) -> None:
    photo = "https://cdn.example/me.png"
    server.add(POST, "like", author={"name": "Me", "photo": photo})
    remote = Display(make(mentions_url=server.service_url, avatars="remote"), logger)
    data = remote.linkbacks(POST, "2026/11/post/")
    assert data is not None and data["faces"][0]["author"]["photo"] == photo
    none = Display(make(mentions_url=server.service_url, avatars="none"), logger)
    data = none.linkbacks(POST, "2026/11/post/")
    assert data is not None and data["faces"][0]["author"]["photo"] is None
    assert "<img" not in block(data) and ">Me</span>" in block(data)
    assert not [path for path in server.requests if not path.startswith("/api/")]


# Rendering ----------------------------------------------------------------------------------


def rendered(server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger) -> str:
    display = Display(make(mentions_url=server.service_url, avatars="remote"), logger)
    data = display.linkbacks(POST, "2026/11/post/")
    assert data is not None
    return block(data)


def test_the_block_counts_groups_and_marks_up_every_kind(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger
) -> None:
    for kind in ("reply", "reply", "reply", "like", "like", "repost", "bookmark", "mention"):
        server.add(POST, kind)
    server.add(POST, "mention", protocol="pingback", name="Their post", content={"text": "…"})
    server.add(POST, "mention", protocol="trackback", name="Old blog")
    server.add(POST, "rsvp", rsvp="maybe")
    html = rendered(server, make, logger)
    root = lxml.html.fragment_fromstring(html.strip())

    summary = root.find_class("linkback-summary")[0].text_content()
    assert (
        summary == "3 replies · 2 likes · 1 repost · 1 bookmark · 1 rsvp · 1 mention · 1 pingback"
        " · 1 trackback"
    )
    faces = root.find_class("linkback-face")
    assert [face.get("class").split()[1:] for face in faces] == [
        ["linkback-like", "u-like", "h-cite"], ["linkback-like", "u-like", "h-cite"],
        ["linkback-repost", "u-repost", "h-cite"],
    ]  # fmt: skip
    entries = root.find_class("linkback-entry")
    assert len(entries) == 8
    assert [item.get("value") for item in root.find_class("p-rsvp")] == ["maybe"]
    for item in entries:
        assert {"u-comment", "h-cite"} <= set(item.get("class").split())
        assert item.find_class("p-author")[0].find_class("h-card")
        assert item.find_class("dt-published")[0].get("datetime").startswith("2026-11-20")
    vias = [item.find_class("linkback-via") for item in entries]
    assert [via[0].text_content() for via in vias if via] == ["via pingback", "via trackback"]
    links = root.xpath("//a[@href]")
    assert links and all(link.get("rel") == "nofollow ugc" for link in links)


HOSTILE = "<script>alert(1)</script>"


def test_hostile_content_renders_inert_and_bounded(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger
) -> None:
    megabyte = "A" * 1_000_000
    server.add(
        POST,
        "reply",
        name=HOSTILE + megabyte,
        url="javascript:alert(1)",
        author={"name": HOSTILE + megabyte, "url": "javascript:alert(1)",
                "photo": "javascript:alert(1)"},
        content={"html": HOSTILE + '<img src=x onerror="alert(1)"><a href="javascript:alert(1)" '
                 'onclick="alert(1)">x</a><p style="position:fixed">' + megabyte + "</p>",
                 "text": megabyte},
    )  # fmt: skip
    server.add(
        POST,
        "reply",
        name='"><script>alert(2)</script>',
        author={"name": "<img src=x onerror=alert(3)>", "url": "https://ok.example/\"onmouseover=x",
                "photo": "https://ok.example/p.png\" onerror=\"alert(4)"},
        content={"html": f'<p>{HOSTILE}<iframe src="https://evil.example/"></iframe>'
                 f'<a href="https://ok.example/" onclick="x()">fine</a>{megabyte}</p>'},
    )  # fmt: skip
    server.add(POST, "like", author={"name": megabyte, "photo": "data:image/png;base64,AAAA"})
    html = rendered(server, make, logger)

    assert len(html) < 3 * CONTENT_CHARS + 6000
    root = lxml.html.fragment_fromstring(html.strip())
    assert root.xpath("//script|//iframe|//style|//object|//embed") == []
    for element in root.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (name, value)
            assert name != "style"
            assert not value.strip().lower().startswith(("javascript:", "data:")), (name, value)
    assert "alert(2)" in root.text_content()  # shown as text, escaped
    assert root.xpath("//img") == []  # no photo URL above is a well-formed http(s) URL
    assert all(link.get("rel") == "nofollow ugc" for link in root.xpath("//a"))
    assert len(root.find_class("linkback-entry")) == 2
    sources = [item.find_class("linkback-source")[0].find("a").get("href") for item in
               root.find_class("linkback-entry")]  # fmt: skip
    assert all(source.startswith("https://blog") for source in sources)  # wm-source, not url
    assert Kind.REPLY.counted(2) in root.find_class("linkback-summary")[0].text_content()


def test_the_cache_cannot_be_in_the_output_folder(
    make: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make(mentions_url="x.jf2", mentions_cache="output/mentions.json")
    with pytest.raises(ConfigError, match="mentions_cache .* is inside the output folder"):
        check(settings, tmp_path / "output")
    check(settings, tmp_path / "elsewhere")
    check(settings.replace(display=False), tmp_path / "output")  # not used: not checked


def test_a_cache_edited_by_hand_is_checked_again(
    server: MentionsServer, make: Callable[..., Settings], logger: logging.Logger
) -> None:
    server.add(POST, "reply")
    settings = make(mentions_url=server.service_url, avatars="remote")
    Display(settings, logger)
    data = json.loads(settings.mentions_cache_path.read_text(encoding="utf-8"))
    [mention] = data["mentions"].values()
    mention["content"] = '<p onclick="x()">Hi<script>alert(1)</script></p>'
    mention["author"]["photo"] = "javascript:alert(1)"
    settings.mentions_cache_path.write_text(json.dumps(data), encoding="utf-8")
    server.failure = 500  # the cache is all there is

    display = Display(settings, logger)

    [shown] = display.cache.mentions.values()
    assert shown.content == "<p>Hi</p>" and shown.author.photo is None
    mention["source"] = "javascript:alert(1)"
    settings.mentions_cache_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="is damaged .*no http"):
        Display(settings, logger)
