"""The admin page over HTTP: off without a token, login, CSRF, no action by GET, Bearer."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import requests

from linkback.receive.admin.auth import COOKIE
from linkback.receive.store import Author, Rule, RuleKind, Status
from tests.admin_data import TOKEN, add, csrf_of, login
from tests.receiver import Receiver


@pytest.fixture
def admin(make_receiver: Callable[..., Receiver]) -> Receiver:
    return make_receiver(admin_token=TOKEN)


def snapshot(receiver: Receiver) -> list[tuple[int, Status, int]]:
    return [(r.id, r.status, r.seq) for r in receiver.store.list()]


def test_without_a_token_every_admin_path_is_404(receiver: Receiver) -> None:
    add(receiver.store, "http://127.0.0.2/post")
    for path in ("/admin/", "/admin/feed.atom", "/admin/admin.css"):
        assert receiver.get(path).status_code == 404
    for path in ("/admin/login", "/admin/moderate", "/admin/rules"):
        assert receiver.post(path, {"token": ""}).status_code == 404
    assert receiver.get("/admin/", headers={"Authorization": "Bearer "}).status_code == 404


def test_login_sets_a_strict_httponly_cookie_and_shows_the_pending_list(admin: Receiver) -> None:
    add(admin.store, "http://127.0.0.2/older", title="Older post", received="2026-01-01T00:00:00Z")
    add(admin.store, "http://127.0.0.2/newer", title="Newer post", received="2026-02-01T00:00:00Z")
    add(admin.store, "http://127.0.0.2/ok", title="Approved one", status=Status.APPROVED)
    anonymous = admin.get("/admin/")
    assert anonymous.status_code == 200 and 'name="token"' in anonymous.text
    assert "Older post" not in anonymous.text
    answer = admin.post("/admin/login", {"token": TOKEN}, allow_redirects=False)
    assert answer.status_code == 303
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin/" in cookie
    assert "Secure" not in cookie  # the public URL is http here
    page = admin.get("/admin/", cookies={COOKIE: answer.cookies[COOKIE]}).text
    assert page.index("Newer post") < page.index("Older post")  # newest first
    assert "Approved one" not in page  # pending only
    assert 'Pending <span class="count">(2)</span>' in page
    assert 'Approved <span class="count">(1)</span>' in page
    assert "default-src 'none'" in admin.get("/admin/").headers["Content-Security-Policy"]


def test_a_wrong_token_is_refused_and_login_attempts_are_limited(admin: Receiver) -> None:
    for _ in range(5):
        answer = admin.post("/admin/login", {"token": "guess"}, allow_redirects=False)
        assert answer.status_code == 401 and COOKIE not in answer.cookies
    limited = admin.post("/admin/login", {"token": TOKEN}, allow_redirects=False)
    assert limited.status_code == 429 and COOKIE not in limited.cookies


def forged(token: str) -> str:
    """The token with its last character changed (to another one, whatever it was)."""
    return token[:-1] + ("1" if token.endswith("0") else "0")


def test_actions_need_a_session_and_its_csrf_token(admin: Receiver) -> None:
    first = add(admin.store, "http://127.0.0.2/a")
    before = snapshot(admin)
    session = login(admin)
    csrf = csrf_of(session.get(admin.url + "/admin/", timeout=10).text)
    other = login(admin)
    other_csrf = csrf_of(other.get(admin.url + "/admin/", timeout=10).text)
    assert other_csrf != csrf
    url = admin.url + "/admin/moderate"
    action = {"one": f"approve:{first}", "status": "pending"}
    refusals = [
        requests.post(url, data={**action, "csrf": csrf}, timeout=10),  # no cookie
        session.post(url, data=action, timeout=10),  # no CSRF token
        session.post(url, data={**action, "csrf": other_csrf}, timeout=10),  # another session's
        session.post(url, data={**action, "csrf": forged(csrf)}, timeout=10),
        session.get(url, params={**action, "csrf": csrf}, timeout=10),  # by GET
        requests.post(url, data=action, headers={"Authorization": "Bearer nope"}, timeout=10),
    ]
    assert [r.status_code for r in refusals] == [403, 403, 403, 403, 405, 403]
    assert snapshot(admin) == before
    done = session.post(url, data={**action, "csrf": csrf}, allow_redirects=False, timeout=10)
    assert done.status_code == 303
    assert admin.store.get(first).status is Status.APPROVED  # type: ignore[union-attr]


def test_a_cookie_signed_under_another_token_is_refused(
    make_receiver: Callable[..., Receiver],
) -> None:
    old = make_receiver(admin_token="the old token")
    stale = login(old, "the old token")
    new = make_receiver(admin_token=TOKEN, db=str(old.config.db))
    record = add(new.store, "http://127.0.0.2/a")
    before = snapshot(new)
    cookie = stale.cookies[COOKIE]
    page = requests.get(new.url + "/admin/", cookies={COOKIE: cookie}, timeout=10)
    assert 'name="token"' in page.text and "127.0.0.2/a" not in page.text
    csrf = csrf_of(stale.get(old.url + "/admin/", timeout=10).text)
    answer = requests.post(
        new.url + "/admin/moderate",
        data={"one": f"spam:{record}", "csrf": csrf},
        cookies={COOKIE: cookie},
        timeout=10,
    )
    assert answer.status_code == 403
    assert snapshot(new) == before


def test_logout_ends_the_session(admin: Receiver) -> None:
    record = add(admin.store, "http://127.0.0.2/a")
    session = login(admin)
    cookie = session.cookies[COOKIE]
    csrf = csrf_of(session.get(admin.url + "/admin/", timeout=10).text)
    out = session.post(admin.url + "/admin/logout", data={"csrf": csrf}, timeout=10)
    assert 'name="token"' in out.text
    replayed = requests.post(
        admin.url + "/admin/moderate",
        data={"one": f"reject:{record}", "csrf": csrf},
        cookies={COOKIE: cookie},
        timeout=10,
    )
    assert replayed.status_code == 403
    assert admin.store.get(record).status is Status.PENDING  # type: ignore[union-attr]
    time.sleep(0.002)
    assert "127.0.0.2/a" in login(admin).get(admin.url + "/admin/", timeout=10).text


def test_bearer_scripts_bulk_actions_rules_and_the_feed(admin: Receiver) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    ids = [add(admin.store, f"http://127.0.0.2/p{n}", title=f"Post {n}") for n in range(3)]
    spammy = add(admin.store, "http://spam.example/x", author=Author(name="Spammer"))
    bob = add(admin.store, "http://127.0.0.4/b", author=Author("Bob", "http://127.0.0.4/bob"))
    answer = admin.post(
        "/admin/moderate",
        {"bulk": "reject", "id": ids[:2]},
        headers=bearer,
        allow_redirects=False,
    )
    assert answer.status_code == 303
    statuses = [admin.store.get(n).status for n in ids]  # type: ignore[union-attr]
    assert statuses == [Status.REJECTED, Status.REJECTED, Status.PENDING]
    admin.post("/admin/moderate", {"one": f"block:{spammy}"}, headers=bearer)
    admin.post("/admin/moderate", {"one": f"allow:{bob}"}, headers=bearer)
    assert admin.store.get(spammy).status is Status.SPAM  # type: ignore[union-attr]
    assert admin.store.get(spammy).reason == "blocked"  # type: ignore[union-attr]
    assert set(admin.store.rules()) == {
        Rule(RuleKind.BLOCK, "spam.example"),
        Rule(RuleKind.ALLOW, "http://127.0.0.4/bob"),
    }
    removed = admin.post("/admin/rules", {"remove": "block:spam.example"}, headers=bearer)
    assert removed.status_code == 200
    assert admin.store.rules() == [Rule(RuleKind.ALLOW, "http://127.0.0.4/bob")]
    assert (
        admin.post("/admin/rules", {"kind": "block", "pattern": "a b"}, headers=bearer).status_code
        == 400
    )
    assert admin.get("/admin/feed.atom").status_code == 401
    assert admin.get("/admin/feed.atom", params={"token": "nope"}).status_code == 401
    feed = admin.get("/admin/feed.atom", params={"token": TOKEN})
    assert feed.headers["Content-Type"].startswith("application/atom+xml")
    titles = [
        e.text for e in ET.fromstring(feed.content).iter("{http://www.w3.org/2005/Atom}title")
    ]
    assert "webmention mention: Post 2" in titles and "webmention mention: Post 0" not in titles
    assert admin.get("/admin/feed.atom", headers=bearer).status_code == 200


def test_behind_a_proxy_the_cookie_follows_the_public_url(
    make_receiver: Callable[..., Receiver],
) -> None:
    proxied = make_receiver(admin_token=TOKEN, public_url="https://example.org/linkback")
    answer = proxied.post("/admin/login", {"token": TOKEN}, allow_redirects=False)
    cookie = answer.headers["Set-Cookie"]
    assert "Path=/linkback/admin/" in cookie and "Secure" in cookie
    assert answer.headers["Location"] == "./"


def test_the_list_is_paged_newest_first(admin: Receiver) -> None:
    for n in range(30):
        add(admin.store, f"http://127.0.0.2/p{n}", received=f"2026-01-01T00:{n:02d}:00Z")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    first = admin.get("/admin/", headers=bearer).text
    second = admin.get("/admin/", params={"page": "1"}, headers=bearer).text
    assert first.count('name="id"') == 25 and second.count('name="id"') == 5
    assert "127.0.0.2/p29" in first and "127.0.0.2/p4<" not in first
    assert "127.0.0.2/p4<" in second and "127.0.0.2/p0<" in second
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert admin.get("/admin/", params={"status": "nope"}, headers=bearer).status_code == 400
