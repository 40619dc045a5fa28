"""Linkbacks put straight into a receiver's store, for the admin page's tests."""

from __future__ import annotations

import re

import requests

from linkback.display.model import Kind, Protocol
from linkback.receive.store import Author, Content, Status, Store
from tests.receiver import Receiver

TOKEN = "correct horse battery staple"


def add(
    store: Store,
    source: str,
    *,
    status: Status = Status.PENDING,
    target: str = "http://127.0.0.3/article/",
    title: str = "A post",
    author: Author | None = None,
    text: str = "I wrote about your article.",
    protocol: Protocol = Protocol.WEBMENTION,
    received: str | None = None,
) -> int:
    content = Content(
        type=Kind.MENTION,
        author=author or Author(name="Ann", url=None),
        title=title,
        html=f"<p>{text}</p>",
        text=text,
    )
    return store.add(source, target, protocol, status, content, received=received).id


def login(receiver: Receiver, token: str = TOKEN) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    answer = session.post(
        receiver.url + "/admin/login", data={"token": token}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303, answer.text
    return session


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)
