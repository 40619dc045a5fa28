"""Does a source link to a target, and what does it say? The checks of a verification.

Everything here is a pure function of a fetched page, except :class:`Verifier`, which
fetches (through :mod:`.fetch`) and turns the answer into an :data:`Outcome`.
"""

from __future__ import annotations

import concurrent.futures
import re
import threading
import time
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urljoin

import lxml.html
import mf2py
from lxml import etree

from ..common.http import Client, FetchError, Response
from ..common.outcome import Verdict
from ..common.urls import host_of, normalise, page_key
from ..display.model import RSVP_VALUES, Kind, sanitise
from .config import ServiceConfig
from .fetch import PAGE_CAP, HostSlots, SourceWindow, make_client
from .store import Author, Content, Store

CONTENT_LIMIT = 10_000
EXCERPT_CHARS = 300
TARGET_CACHE = 3600.0  # seconds a "the target exists" answer is kept
UNREACHABLE_CACHE = 60.0  # seconds before asking a site that did not answer again
LINK_ATTRIBUTES = {
    "a": "href",
    "link": "href",
    "img": "src",
    "video": "src",
    "audio": "src",
    "source": "src",
}
HTML_TYPES = ("text/html", "application/xhtml+xml")
_PROPERTY_KINDS = (
    ("like-of", Kind.LIKE),
    ("repost-of", Kind.REPOST),
    ("bookmark-of", Kind.BOOKMARK),
    ("in-reply-to", Kind.REPLY),
)
_VISIBLE_TEXT = ".//text()[not(ancestor::script) and not(ancestor::style)]"
_STATUS_410 = re.compile(r"^\s*410\b")


class Busy(Exception):
    """``verify_per_host`` fetches to the source host are in flight already."""


@dataclass(frozen=True)
class Verified:
    content: Content
    spam: str | None = None  # why it is held as spam (too many linked hosts)


@dataclass(frozen=True)
class Gone:
    """The source does not (or no longer) link: 404, 410, link removed."""

    reason: str


@dataclass(frozen=True)
class Refused:
    """The claim cannot be checked at all: target not found, blocked or bad source."""

    reason: str


@dataclass(frozen=True)
class Transient:
    """Try again later: time-out, connection error, 5xx."""

    reason: str
    slow: bool = False


Outcome = Verified | Gone | Refused | Transient


@dataclass(frozen=True)
class Page:
    """A parsed source page."""

    url: str
    tree: lxml.html.HtmlElement
    text: str


def parse(response: Response) -> Page | None:
    """The HTML of an answer, or None when it is not HTML (then it cannot link)."""
    if response.media_type and response.media_type not in HTML_TYPES:
        return None
    text = response.body.decode(response.charset or "utf-8", errors="replace")
    if not text.strip():
        return None
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None
    return Page(response.url, tree, text)


def base_of(page: Page) -> str:
    for href in page.tree.xpath("//base/@href"):
        return urljoin(page.url, str(href).strip())
    return page.url


def links(page: Page) -> list[str]:
    """Every URL in a real link attribute, resolved: never text, comments or scripts."""
    base = base_of(page)
    found = []
    for element in page.tree.iter(*LINK_ATTRIBUTES):
        value = element.get(LINK_ATTRIBUTES[str(element.tag)])
        if value and value.strip():
            found.append(urljoin(base, value.strip()))
    return found


def links_to(page: Page, target: str) -> bool:
    key = page_key(target)
    return key is not None and any(page_key(url) == key for url in links(page))


def linked_hosts(page: Page) -> int:
    return len({host_of(url) for url in links(page) if normalise(url)} - {""})


def is_gone(page: Page | None) -> bool:
    """``<meta http-equiv="Status" content="410 Gone">``: a static host's way to say 410."""
    if page is None:
        return False
    for meta in page.tree.iter("meta"):
        if (meta.get("http-equiv") or "").strip().lower() == "status":
            return bool(_STATUS_410.match(meta.get("content") or ""))
    return False


def describe(page: Page, target: str) -> Content:
    """What the source says: its h-entry when it has one, else title and excerpt."""
    entry = _h_entry(page)
    if entry is not None:
        return _from_mf2(entry, page, target)
    title = " ".join((page.tree.findtext(".//title") or "").split())
    excerpt = excerpt_around(page, target)
    return Content(type=Kind.MENTION, title=title[:300], text=excerpt)


def excerpt_around(page: Page, target: str) -> str:
    """WordPress's pingback excerpt: the text of the link's paragraph, cut around it."""
    key = page_key(target)
    base = base_of(page)
    for element in page.tree.iter("a"):
        href = element.get("href")
        if not href or page_key(urljoin(base, href.strip())) != key:
            continue
        block = element
        while block.tag not in (
            "p",
            "li",
            "blockquote",
            "div",
            "td",
            "article",
            "section",
            "body",
        ):
            parent = block.getparent()
            if parent is None:
                break
            block = parent
        text = " ".join("".join(block.xpath(_VISIBLE_TEXT)).split())
        anchor = " ".join(element.text_content().split())
        where = text.find(anchor) if anchor else 0
        start = max(0, where - EXCERPT_CHARS // 2)
        cut = text[start : start + EXCERPT_CHARS]
        prefix = "[…] " if start > 0 else ""
        suffix = " […]" if start + EXCERPT_CHARS < len(text) else ""
        return prefix + cut.strip() + suffix
    return ""


def _h_entry(page: Page) -> dict[str, Any] | None:
    parsed = mf2py.parse(doc=page.text, url=page.url)
    pending = list(parsed.get("items", []))
    while pending:
        item: dict[str, Any] = pending.pop(0)
        if "h-entry" in item.get("type", []):
            return item
        pending.extend(item.get("children", []))
    return None


def _first(properties: dict, name: str) -> object:
    values = properties.get(name) or []
    return values[0] if values else None


def _string(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("value") or (value.get("properties", {}).get("name") or [""])[0]
    return value if isinstance(value, str) else ""


def _url_of(value: object) -> str | None:
    if isinstance(value, dict):
        urls = value.get("properties", {}).get("url") or []
        value = urls[0] if urls else value.get("value")
    if isinstance(value, str) and normalise(value):
        return value
    return None


def _from_mf2(entry: dict, page: Page, target: str) -> Content:
    properties = entry.get("properties", {})
    key = page_key(target)
    kind = Kind.MENTION
    rsvp = _string(_first(properties, "rsvp")).strip().lower() or None
    for name, candidate in _PROPERTY_KINDS:
        if any(page_key(_url_of(v) or "") == key for v in properties.get(name, [])):
            kind = candidate
            break
    if rsvp in RSVP_VALUES:
        kind = Kind.RSVP
    else:
        rsvp = None
    author = _author(_first(properties, "author"), page)
    content_value = _first(properties, "content")
    html = ""
    text = ""
    if isinstance(content_value, dict):
        html = str(content_value.get("html") or "")
        text = str(content_value.get("value") or "")
    elif isinstance(content_value, str):
        text = content_value
    if not html and text:
        html = escape(text)
    clean = sanitise(html, CONTENT_LIMIT) if html else ""
    name = " ".join(_string(_first(properties, "name")).split())
    if name and " ".join(text.split()).startswith(name):
        name = ""  # a note's implied name is its text
    return Content(
        type=kind,
        rsvp=rsvp,
        author=author,
        title=name[:300],
        html=clean,
        text=" ".join(text.split())[:CONTENT_LIMIT],
        published=_string(_first(properties, "published")) or None,
        url=_url_of(_first(properties, "url")),
    )


def _author(value: object, page: Page) -> Author:
    if isinstance(value, dict):
        properties = value.get("properties", {})
        photo = _first(properties, "photo")
        if isinstance(photo, dict):
            photo = photo.get("value")
        return Author(
            name=_string(_first(properties, "name"))[:200],
            url=_url_of(_first(properties, "url")),
            photo=photo if isinstance(photo, str) and normalise(photo) else None,
        )
    if isinstance(value, str):
        url = value if normalise(value) else None
        return Author(name="" if url else value[:200], url=url)
    return Author()


class Verifier:
    """Fetches sources (at most ``verify_per_host`` at once per host, once per 30 s per
    URL) and asks the site whether targets exist."""

    def __init__(self, config: ServiceConfig, store: Store) -> None:
        self.config = config
        self.background = make_client(config, sync=False)
        self.sync = make_client(config, sync=True)
        self.site = make_client(config, sync=True, site=True)
        # A slot outlives its fetch's deadline a little: then it frees itself.
        self.slots = HostSlots(store, config.verify_per_host, config.verify_timeout + 5)
        self.window = SourceWindow()
        self._targets: dict[str, tuple[float, bool]] = {}
        self._targets_lock = threading.Lock()
        self._sync_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=32, thread_name_prefix="linkback-sync"
        )

    def close(self) -> None:
        self._sync_pool.shutdown(wait=False, cancel_futures=True)
        for client in (self.background, self.sync, self.site):
            client.close()

    def target_exists(self, target: str) -> bool:
        """One HEAD (GET when HEAD is refused) to the site, kept an hour; in doubt, yes."""
        url = target.split("#", 1)[0]
        now = time.monotonic()
        with self._targets_lock:
            known = self._targets.get(url)
            if known is not None and now - known[0] < TARGET_CACHE:
                return known[1]
        try:
            answer = self.site.request("HEAD", url, cap=1)
            if answer.status in (405, 501):
                answer = self.site.get(url, cap=1)
            exists = answer.status not in (404, 410)
            kept_from = now
        except FetchError:
            # The site being unreachable is no reason to refuse; ask again in a minute.
            exists = True
            kept_from = now - TARGET_CACHE + UNREACHABLE_CACHE
        with self._targets_lock:
            if len(self._targets) > 100_000:
                self._targets.clear()
            self._targets[url] = (kept_from, exists)
        return exists

    def fetch(self, source: str, *, sync: bool, reuse: bool) -> Response:
        """The source, fetched now or, with ``reuse``, taken from a fetch of the last 30 s."""
        client = self.sync if sync else self.background
        while True:
            owned = self.window.begin(source)
            recent = self.window.recent(source) if reuse else None
            if recent is not None:
                if owned:
                    self.window.end(source)
                if recent.error is not None:
                    raise recent.error
                assert recent.response is not None
                return recent.response
            if owned or not reuse:
                break
            if not sync:  # another thread is fetching it: come back for its answer
                raise Busy(source)
            if not self.window.wait(source, client.settings.timeout):
                raise FetchError("the source was too slow to answer", Verdict.TRANSIENT)
        try:
            return self._fetch(client, source, sync=sync)
        finally:
            if owned:
                self.window.end(source)

    def _fetch(self, client: Client, source: str, *, sync: bool) -> Response:
        host = host_of(source)
        slot = self.slots.acquire(host, client.settings.timeout if sync else 0.0)
        if slot is None:
            if sync:
                raise FetchError(f"too many fetches in flight to {host}", Verdict.TRANSIENT)
            raise Busy(host)
        try:
            response = client.get(source, cap=PAGE_CAP)
        except FetchError as error:
            self.window.keep(source, None, error)
            raise
        finally:
            self.slots.release(slot)
        self.window.keep(source, response, None)
        return response

    def verify(self, source: str, target: str, *, sync: bool, reuse: bool = True) -> Outcome:
        """The outcome; a synchronous one is given up at ``verify_timeout_sync`` whatever
        the fetch is doing (it finishes on its own thread, within the client's deadline)."""
        if not sync:
            return self._verify(source, target, sync=False, reuse=reuse)
        future = self._sync_pool.submit(self._verify, source, target, sync=True, reuse=reuse)
        try:
            return future.result(timeout=self.config.verify_timeout_sync)
        except concurrent.futures.TimeoutError:
            return Transient(
                f"no complete answer within {self.config.verify_timeout_sync:g} s", slow=True
            )

    def _verify(self, source: str, target: str, *, sync: bool, reuse: bool) -> Outcome:
        if not self.target_exists(target):
            return Refused("target not found")
        try:
            response = self.fetch(source, sync=sync, reuse=reuse)
        except FetchError as error:
            if error.verdict is Verdict.TRANSIENT:
                return Transient(str(error), slow="within" in str(error))
            return Refused(str(error))
        return judge(response, target, max_links=self.config.max_links)


def judge(response: Response, target: str, *, max_links: int) -> Outcome:
    """The outcome of one fetched source."""
    if response.status >= 500:
        return Transient(f"source answered {response.status}")
    if response.status == 410:
        return Gone("source gone (410)")
    if response.status >= 400:
        return Gone(f"source not found ({response.status})")
    page = parse(response)
    if is_gone(page):
        return Gone("source gone (410)")
    if page is None or not links_to(page, target):
        return Gone("no link to target")
    content = describe(page, target)
    hosts = linked_hosts(page)
    spam = f"links to {hosts} hosts (more than {max_links})" if hosts > max_links else None
    return Verified(content, spam)
