"""A headless Chromium driven by Selenium, for the admin page's browser tests.

Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); a fresh empty
profile, no background traffic, and every host name resolving nowhere, so that nothing
but the loopback addresses the tests use can be reached. The tests read the browser's
console and its network log (``performance``) after each page.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.*",  # only loopback resolves
    "--window-size=1280,1000",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One browser per test module; skipped, saying why, only when it cannot start."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("chromium and chromium-driver are not installed (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tmp_path_factory.mktemp("chromium-profile")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    except WebDriverException as error:
        pytest.skip(f"chromium cannot start here: {error.msg or error}")
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """The console's errors since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def requested_urls(driver: Any) -> list[str]:
    """Every URL the browser asked for since the last call."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def off_loopback(urls: list[str]) -> list[str]:
    """The URLs whose host is not a loopback address (data: and about: stay inside)."""
    outside = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "about", "chrome"):
            continue
        try:
            if ipaddress.ip_address(parts.hostname or "").is_loopback:
                continue
        except ValueError:
            pass
        outside.append(url)
    return outside


def screenshot(driver: Any, path: Path) -> Path:
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 1000, "the screenshot is empty"
    return path


def submit(driver: Any, button: Any) -> None:
    """Click a form's button and wait until the next page has loaded in place of this one.

    The wait polls a mark left on the old page's window, never the old page's elements:
    while a page is being replaced, Chromium may answer a question about one of its
    elements with an "unhandled inspector error" instead of "stale element", so nothing
    here touches the old page after the click, and errors while the new one loads are
    polled through.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.linkbackOldPage = true")
    button.click()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return !window.linkbackOldPage && document.readyState === 'complete'"
        )
    )
