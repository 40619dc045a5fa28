"""The admin page in a real headless Chromium: log in, moderate, block, bulk-reject, log out;
stored hostile content stays inert; no console error and no request off loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from linkback.receive.store import Author, Rule, RuleKind, Status
from tests.admin_data import TOKEN, add
from tests.browser import console_errors, off_loopback, requested_urls, screenshot, submit
from tests.peer import Peer
from tests.receiver import Receiver

AVATAR = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32">'
    '<circle cx="16" cy="16" r="15" fill="#3a7"/></svg>'
)


@pytest.fixture
def admin(make_receiver: Callable[..., Receiver]) -> Receiver:
    return make_receiver(admin_token=TOKEN)


def avatar(peer: Peer) -> str:
    def answer(handler: Any) -> None:
        handler.reply(200, AVATAR, content_type="image/svg+xml")

    return peer.add_handler("/avatar.svg", answer)


def log_in(browser: Any, admin: Receiver) -> None:
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})  # each test a new visitor
    browser.get(admin.url + "/admin/")
    field = browser.find_element(By.ID, "token")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=token]").text == "Admin token"
    field.send_keys(TOKEN)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.login button"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Linkbacks: pending"


def test_log_in_approve_block_bulk_reject_and_log_out(
    browser: Any, admin: Receiver, peer: Peer, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    photo = avatar(peer)
    requested_urls(browser), console_errors(browser)  # start both logs afresh
    posts = [
        add(
            admin.store,
            f"http://127.0.0.2/post/{n}",
            title=f"Reply number {n}",
            author=Author(f"Writer {n}", f"http://127.0.0.2/~w{n}", photo),
            received=f"2026-03-0{n + 1}T10:00:00Z",
        )
        for n in range(3)
    ]
    spam = add(admin.store, "http://127.0.0.9/cheap-pills", title="Cheap pills")
    log_in(browser, admin)
    rows = browser.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [r.get_attribute("id") for r in rows] == [
        f"linkback-{n}" for n in (spam, posts[2], posts[1], posts[0])
    ]
    assert "Pending (4)" in browser.find_element(By.CSS_SELECTOR, "nav .tabs").text
    image = browser.find_element(By.CSS_SELECTOR, f"#linkback-{posts[0]} img")
    assert browser.execute_script("return arguments[0].naturalWidth", image) == 32
    screenshot(browser, tmp_path / "admin-pending.png")

    submit(
        browser,
        browser.find_element(By.CSS_SELECTOR, f"button[aria-label='Approve linkback {posts[0]}']"),
    )
    assert admin.store.get(posts[0]).status is Status.APPROVED  # type: ignore[union-attr]
    assert "Approved (1)" in browser.find_element(By.CSS_SELECTOR, "nav .tabs").text

    submit(
        browser,
        browser.find_element(By.CSS_SELECTOR, f"#linkback-{spam} button[value='block:{spam}']"),
    )
    assert admin.store.get(spam).status is Status.SPAM  # type: ignore[union-attr]
    assert Rule(RuleKind.BLOCK, "127.0.0.9") in admin.store.rules()
    assert "127.0.0.9" in browser.find_element(By.CSS_SELECTOR, ".rules table").text

    for number in posts[1:]:
        browser.find_element(By.ID, f"select-{number}").click()  # a checkbox: same page
    Select(browser.find_element(By.ID, "bulk")).select_by_value("reject")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[name=apply]"))
    statuses = [admin.store.get(n).status for n in posts[1:]]  # type: ignore[union-attr]
    assert statuses == [Status.REJECTED, Status.REJECTED]
    assert browser.find_element(By.CSS_SELECTOR, "p.empty").text == "No pending linkbacks."

    browser.get(admin.url + "/admin/?status=all")
    screenshot(browser, tmp_path / "admin-all.png")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.logout button"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Log in"
    browser.get(admin.url + "/admin/?status=all")
    assert browser.find_elements(By.CSS_SELECTOR, "tbody tr") == []

    assert console_errors(browser) == []
    urls = requested_urls(browser)
    assert any(url.endswith("/avatar.svg") for url in urls)
    assert off_loopback(urls) == []


def test_hostile_stored_content_stays_inert(browser: Any, admin: Receiver, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    payload = "<script>window.pwned = 1; alert(1)</script>"
    add(
        admin.store,
        "http://127.0.0.2/evil",
        title=f'<img src=x onerror="window.pwned = 2">{payload}',
        text=f'{payload}<a href="javascript:window.pwned=3">x</a> ' + "long " * 5000,
        author=Author(
            name='"><svg onload="window.pwned=4">' + "A" * 3000,
            url="javascript:window.pwned=5",
            photo="javascript:window.pwned=6",
        ),
        target="http://127.0.0.3/article/?q=<b>bold</b>",
    )
    add(admin.store, "http://127.0.0.2/" + "x" * 2000, title="T" * 5000)
    requested_urls(browser), console_errors(browser)
    log_in(browser, admin)
    assert browser.execute_script("return window.pwned") is None
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 - reading it is the check
    assert "<script>" in browser.find_element(By.CSS_SELECTOR, "tbody").text
    assert browser.find_elements(By.CSS_SELECTOR, "tbody script, tbody svg, tbody b") == []
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a")]
    assert not [h for h in hrefs if h and not h.startswith("http://")]
    assert browser.find_elements(By.CSS_SELECTOR, "tbody img") == []
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 1400  # over-long fields are cut and wrap, the page keeps its width
    screenshot(browser, tmp_path / "admin-hostile.png")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.logout button"))
    assert console_errors(browser) == []
    assert off_loopback(requested_urls(browser)) == []
