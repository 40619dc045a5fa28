"""Notification e-mail to a real SMTP server on loopback (aiosmtpd): one message per batch,
the interval respected, a refused message kept for the next try, login from the URL."""

from __future__ import annotations

import email
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from linkback.common.settings import ConfigError
from linkback.display.model import Protocol
from linkback.receive import chores
from linkback.receive.config import from_mapping
from linkback.receive.notify import Notifier, SmtpUrl, parse_smtp_url
from linkback.receive.store import Content, SqlStore, Status, open_store
from tests.admin_data import add
from tests.peer import Peer, StaticSite
from tests.receiver import Receiver, free_port, id_of

HOST = "127.0.0.7"


@dataclass
class Mailbox:
    """An SMTP handler keeping what it accepts; ``refuse`` makes it answer 554 to DATA."""

    refuse: bool = False
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return "554 5.7.1 not today"
        self.messages.append(email.message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, str]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname=HOST, port=free_port(HOST))
    controller.start()
    yield mailbox, f"smtp://{HOST}:{controller.port}"
    controller.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(str(tmp_path / "linkback.sqlite"))
    yield opened
    opened.close()


def notifier(store: SqlStore, smtp_url: str, interval: float = 3600) -> Notifier:
    config = from_mapping(
        {
            "site_url": ["http://127.0.0.3/"],
            "public_url": "https://linkback.example.org/linkback",
            "notify_email": "owner@example.org",
            "smtp_url": smtp_url,
            "notify_interval": interval,
        }
    )
    return Notifier(config, store)


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_one_message_per_batch_and_at_most_one_an_interval(
    smtp: tuple[Mailbox, str], store: SqlStore
) -> None:
    mailbox, url = smtp
    first = add(store, "http://127.0.0.2/one", title="First post")
    add(store, "http://127.0.0.2/two", title="Second post")
    add(store, "http://127.0.0.2/old", status=Status.APPROVED)  # not pending: not told
    assert notifier(store, url).tick(1_000_000) is True
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert mailbox.recipients == [["owner@example.org"]]
    assert message["Subject"] == "[linkback] 2 new linkbacks to moderate"
    assert message["From"] == "linkback@linkback.example.org"
    text = body(message)
    assert "First post" in text and "Second post" in text and "127.0.0.2/old" not in text
    assert "https://linkback.example.org/linkback/admin/" in text
    assert message.get_content_type() == "text/plain"

    third = add(store, "http://127.0.0.2/three", title="Third post")
    assert notifier(store, url).tick(1_000_000 + 3599) is False  # within the interval
    assert notifier(store, url).tick(1_000_000 + 3600) is True  # a restart: a new Notifier
    assert len(mailbox.messages) == 2
    later = body(mailbox.messages[1])
    assert "Third post" in later and "First post" not in later
    assert "1 new linkback " in mailbox.messages[1]["Subject"] + " "
    assert notifier(store, url).tick(1_000_000 + 99_999) is False  # nothing new
    store.set_status(first, Status.APPROVED)
    assert notifier(store, url).tick(1_000_000 + 199_999) is False  # approved: nothing to tell
    assert len(mailbox.messages) == 2
    assert store.get(third).status is Status.PENDING  # type: ignore[union-attr]


def test_a_linkback_verified_late_is_in_the_next_batch(
    smtp: tuple[Mailbox, str], store: SqlStore
) -> None:
    mailbox, url = smtp
    slow = store.receive("http://127.0.0.2/slow", "http://127.0.0.3/article/", Protocol.WEBMENTION)
    add(store, "http://127.0.0.2/fast", title="Fast post")
    assert notifier(store, url).tick(5_000_000) is True
    job = store.claim("test", 60)[0]
    assert job.id == slow
    store.verified(job, Content(title="Slow post"), Status.PENDING)
    assert notifier(store, url).tick(5_000_000 + 3600) is True
    assert "Slow post" in body(mailbox.messages[1]) and "Fast" not in body(mailbox.messages[1])


def test_a_refused_message_keeps_the_batch_for_the_next_try(
    smtp: tuple[Mailbox, str], store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox, url = smtp
    add(store, "http://127.0.0.2/one", title="Kept post")
    mailbox.refuse = True
    assert notifier(store, url).tick(2_000_000) is False
    assert "notification e-mail failed" in caplog.text
    mailbox.refuse = False
    assert notifier(store, url).tick(2_000_000 + 30) is False  # retried a minute later
    assert notifier(store, url).tick(2_000_000 + 60) is True
    assert [m["Subject"] for m in mailbox.messages] == ["[linkback] 1 new linkback to moderate"]
    assert "Kept post" in body(mailbox.messages[0])


def test_an_unreachable_server_keeps_the_batch_too(store: SqlStore) -> None:
    add(store, "http://127.0.0.2/one")
    dead = f"smtp://{HOST}:{free_port(HOST)}"
    assert notifier(store, dead).tick(3_000_000) is False
    assert store.counter("notify_last_seq") == 0


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_from_the_url(store: SqlStore) -> None:
    """The user name and password come from the URL, percent-decoded. (A refused login is
    not tested here: aiosmtpd stalls a failed AUTH until the client's time-out.)"""
    seen: list[tuple[str, str]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        seen.append((auth.login.decode(), auth.password.decode()))
        return AuthResult(success=auth.password == b"p@ss word")

    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname=HOST,
        port=free_port(HOST),
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        add(store, "http://127.0.0.2/one")
        right = f"smtp://owner:p%40ss%20word@{HOST}:{controller.port}?from=me%40example.org"
        assert notifier(store, right).tick(4_000_000) is True
    finally:
        controller.stop()
    assert seen == [("owner", "p@ss word")]
    assert mailbox.messages[0]["From"] == "me@example.org"


def test_smtp_urls() -> None:
    assert parse_smtp_url("smtp://mail.example.org") == SmtpUrl(
        "mail.example.org", 25, False, False, None, None, None
    )
    assert parse_smtp_url("smtp://u:p@mail.example.org?starttls=1") == SmtpUrl(
        "mail.example.org", 587, False, True, "u", "p", None
    )
    assert parse_smtp_url("smtps://mail.example.org:2465").port == 2465
    assert parse_smtp_url("smtps://mail.example.org").tls is True
    for bad in ("http://mail.example.org", "smtp://", "smtp://h:99999"):
        with pytest.raises(ConfigError, match="--smtp-url"):
            parse_smtp_url(bad)


def test_a_running_service_mails_the_owner_of_a_new_webmention(
    smtp: tuple[Mailbox, str],
    make_receiver: Callable[..., Receiver],
    peer: Peer,
    site: StaticSite,
    site_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox, url = smtp
    monkeypatch.setattr(chores, "PERIOD", 0.05)
    page = site_dir / "article" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<!DOCTYPE html><title>Article</title>", encoding="utf-8")
    target = site.url + "article/"
    receiver = make_receiver(notify_email="owner@example.org", smtp_url=url)
    source = peer.add_page(
        "/post", f'<!DOCTYPE html><title>Arriving post</title><a href="{target}">it</a>'
    )
    receiver.settled(id_of(receiver.webmention(source, target)))
    deadline = time.monotonic() + 10
    while not mailbox.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(mailbox.messages) == 1
    assert "Arriving post" in body(mailbox.messages[0])
    assert f"{receiver.url}/admin/" in body(mailbox.messages[0])
    time.sleep(0.3)
    assert len(mailbox.messages) == 1
