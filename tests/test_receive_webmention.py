"""Webmention receiving: the W3C implementation report's receiver rows, over real sockets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from linkback.display.model import Kind
from linkback.receive.store import Status
from tests.peer import Peer, StaticSite
from tests.receiver import Receiver, id_of


def page(body: str, title: str = "A source") -> str:
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"target": "T"}, "missing source"),
        ({"source": "S"}, "missing target"),
        ({"source": "ftp://blog.example/x", "target": "T"}, "source is not an http(s) URL"),
        ({"source": "S", "target": "mailto:a@b.example"}, "target is not an http(s) URL"),
        ({"source": "T", "target": "T"}, "source and target are the same"),
        ({"source": "S", "target": "https://elsewhere.example/post"}, "target is not on this site"),
        ({"source": "https://b.example/" + "x" * 2048, "target": "T"}, "longer than 2048"),
    ],
)
def test_invalid_requests_get_400_with_a_reason(
    receiver: Receiver, target: str, form: dict[str, str], reason: str
) -> None:
    data = {k: v.replace("T", target) if v == "T" else v for k, v in form.items()}
    data = {k: "https://blog.example/post" if v == "S" else v for k, v in data.items()}
    answer = receiver.post("/webmention", data)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert reason in answer.text
    assert receiver.store.list() == []


def test_accepted_with_201_location_then_verified_in_the_background(
    receiver: Receiver, peer: Peer, target: str
) -> None:
    source = peer.add_page("/post", page(f'<p>I liked <a href="{target}">this</a>.</p>'))
    answer = receiver.webmention(source, target + "#comments")
    assert answer.status_code == 201
    location = answer.headers["Location"]
    assert location.startswith(receiver.url + "/webmention/status/")
    record = receiver.settled(id_of(answer))
    assert record.status is Status.PENDING
    assert record.target == target
    assert record.content.title == "A source"
    assert "I liked this" in record.content.text
    status = receiver.get(location.removeprefix(receiver.url))
    assert status.status_code == 200 and "pending" in status.text
    as_json = receiver.get(
        location.removeprefix(receiver.url), headers={"Accept": "application/json"}
    ).json()
    assert as_json["status"] == "pending" and as_json["source"] == source


@pytest.mark.parametrize(
    "markup",
    [
        '<a href="{t}">link</a>',
        '<img src="{t}" alt="">',
        '<video src="{t}"></video>',
        '<audio src="{t}"></audio>',
        '<video><source src="{t}"></video>',
        '<link rel="in-reply-to" href="{t}">',
        '<base href="{base}"><a href="article/">relative</a>',
    ],
)
def test_links_in_real_link_attributes_count(
    receiver: Receiver, peer: Peer, target: str, markup: str
) -> None:
    base = target.removesuffix("article/")
    source = peer.add_page("/post", page(markup.format(t=target, base=base)))
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.PENDING


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("<p>See {t} for more.</p>", "no link to target"),
        ("<!-- <a href='{t}'>x</a> -->", "no link to target"),
        ("<script>var u = '<a href=\"{t}\">';</script>", "no link to target"),
        ('<a href="http://127.0.0.9/other">x</a>', "no link to target"),
    ],
)
def test_text_comments_scripts_and_missing_links_do_not(
    receiver: Receiver, peer: Peer, target: str, markup: str, reason: str
) -> None:
    source = peer.add_page("/post", page(markup.format(t=target)))
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.INVALID
    assert record.reason == reason


def test_a_plain_text_source_does_not_link(receiver: Receiver, peer: Peer, target: str) -> None:
    source = peer.add_page("/note.txt", f"See {target}", content_type="text/plain")
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.INVALID and record.reason == "no link to target"


def test_target_spelled_differently_is_one_page(
    receiver: Receiver, peer: Peer, target: str
) -> None:
    other = target.rstrip("/").replace("http://", "HTTP://").replace("127.0.0.3", "127.0.0.3")
    source = peer.add_page("/post", page(f'<a href="{other}">x</a>'))
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.PENDING


def test_a_target_the_site_does_not_have_is_invalid(
    receiver: Receiver, peer: Peer, site: StaticSite
) -> None:
    missing = site.url + "no-such-page/"
    source = peer.add_page("/post", page(f'<a href="{missing}">x</a>'))
    record = receiver.settled(id_of(receiver.webmention(source, missing)))
    assert record.status is Status.INVALID and record.reason == "target not found"


MF2 = """<div class="h-entry">
<span class="p-author h-card"><img class="u-photo" src="https://ann.example/me.png" alt="">
<a class="p-name u-url" href="https://ann.example/">Ann</a></span>
<a class="{prop}" href="{t}">the post</a> {extra}
<div class="e-content">Great post! <script>alert(1)</script>
<img src="https://ann.example/x.png" onerror="alert(2)"></div>
<time class="dt-published" datetime="2026-11-01T10:00:00Z">1 Nov</time>
</div>"""


@pytest.mark.parametrize(
    ("prop", "extra", "kind", "rsvp"),
    [
        ("u-in-reply-to", "", Kind.REPLY, None),
        ("u-like-of", "", Kind.LIKE, None),
        ("u-repost-of", "", Kind.REPOST, None),
        ("u-bookmark-of", "", Kind.BOOKMARK, None),
        ("u-in-reply-to", '<data class="p-rsvp" value="yes">going</data>', Kind.RSVP, "yes"),
        ("u-url-of-nothing", "", Kind.MENTION, None),
    ],
)
def test_microformats_give_the_type_author_and_safe_content(
    receiver: Receiver, peer: Peer, target: str, prop: str, extra: str, kind: Kind, rsvp: str
) -> None:
    source = peer.add_page("/post", page(MF2.format(prop=prop, t=target, extra=extra)))
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.PENDING
    assert record.content.type is kind and record.content.rsvp == rsvp
    assert record.content.author.name == "Ann"
    assert record.content.author.url == "https://ann.example/"
    assert record.content.author.photo == "https://ann.example/me.png"
    assert record.content.published == "2026-11-01T10:00:00Z"
    assert "Great post!" in record.content.html
    assert "<script" not in record.content.html and "onerror" not in record.content.html


def test_long_content_is_cut_without_breaking_markup(
    receiver: Receiver, peer: Peer, target: str
) -> None:
    body = "<p><strong>" + "word " * 5000 + "</strong></p>"
    html = f'<div class="h-entry"><a class="u-in-reply-to" href="{target}">x</a>'
    html += f'<div class="e-content">{body}</div></div>'
    source = peer.add_page("/post", page(html))
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert len(record.content.html) <= 10_100
    assert record.content.html.endswith("</strong></p>")


def test_an_update_does_not_duplicate_and_keeps_the_moderation_status(
    receiver: Receiver, peer: Peer, target: str
) -> None:
    source = peer.add_page("/post", page(f'<p>First <a href="{target}">x</a></p>'))
    first = id_of(receiver.webmention(source, target))
    receiver.settled(first)
    receiver.store.set_status(first, Status.APPROVED)
    receiver.service.verifier.window = type(receiver.service.verifier.window)(0.0)
    peer.add_page("/post", page(f'<p>Second <a href="{target}">x</a></p>'))
    assert id_of(receiver.webmention(source, target)) == first
    record = receiver.settled(first)
    assert record.status is Status.APPROVED and "Second" in record.content.text
    assert len(receiver.store.list()) == 1


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (410, "gone", "source gone (410)"),
        (404, "missing", "source not found (404)"),
        (200, '<meta http-equiv="Status" content="410 Gone">', "source gone (410)"),
        (200, "<p>link removed</p>", "no link to target"),
    ],
)
def test_a_source_that_goes_away_deletes_the_linkback(
    receiver: Receiver, peer: Peer, target: str, status: int, body: str, reason: str
) -> None:
    source = peer.add_page("/post", page(f'<a href="{target}">x</a>'))
    first = id_of(receiver.webmention(source, target))
    receiver.settled(first)
    receiver.store.set_status(first, Status.APPROVED)
    receiver.service.verifier.window = type(receiver.service.verifier.window)(0.0)
    peer.add_page("/post", page(body), status=status)
    receiver.webmention(source, target)
    record = receiver.settled(first)
    assert record.status is Status.DELETED and record.reason == reason


def test_a_repeat_within_30_seconds_waits_and_is_not_dropped(
    receiver: Receiver, peer: Peer, target: str
) -> None:
    source = peer.add_page("/post", page(f'<a href="{target}">x</a>'))
    first = id_of(receiver.webmention(source, target))
    receiver.settled(first)
    fetches = len([r for r in peer.requests if r[1] == "/post"])
    receiver.webmention(source, target)
    assert receiver.store.queue_length() == 1
    assert len([r for r in peer.requests if r[1] == "/post"]) == fetches


def test_redirects_are_followed(receiver: Receiver, peer: Peer, target: str) -> None:
    final = peer.add_page("/final", page(f'<a href="{target}">x</a>'))
    source = peer.add_page("/moved", "", status=301, headers={"Location": final})
    record = receiver.settled(id_of(receiver.webmention(source, target)))
    assert record.status is Status.PENDING


def test_a_source_that_never_answers_in_time_is_retried_not_deleted(
    make_receiver,
    peer: Peer,
    target: str,  # type: ignore[no-untyped-def]
) -> None:
    receiver = make_receiver(verify_timeout=0.5)

    source = peer.add_trickle("/drip", 20)
    first = id_of(receiver.webmention(source, target))
    deadline = time.monotonic() + 5
    while receiver.store.get(first).attempts == 0 and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.05)
    record = receiver.store.get(first)
    assert record is not None and record.attempts == 1 and record.status is Status.QUEUED


def test_the_form_and_health(receiver: Receiver) -> None:
    form = receiver.get("/webmention")
    assert form.status_code == 200 and 'name="source"' in form.text
    health = receiver.get("/health")
    assert health.json() == {"status": "ok", "queue": 0}
    assert receiver.get("/webmention/status/999").status_code == 404


def test_webmentions_from_one_post_to_several_pages_fetch_it_once(
    receiver: Receiver, peer: Peer, site: StaticSite, site_dir: Path
) -> None:
    targets = []
    for n in range(3):
        (site_dir / f"p{n}").mkdir()
        (site_dir / f"p{n}" / "index.html").write_text("<title>P</title>", encoding="utf-8")
        targets.append(f"{site.url}p{n}/")
    source = peer.add_page("/post", page("".join(f'<a href="{t}">x</a>' for t in targets)))
    ids = [id_of(receiver.webmention(source, t)) for t in targets]
    assert all(receiver.settled(n).status is Status.PENDING for n in ids)
    assert [path for _, path in peer.requests].count("/post") == 1
