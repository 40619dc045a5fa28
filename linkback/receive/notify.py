"""E-mail to the owner: one plain-text message per batch of new pending linkbacks.

``smtp_url`` says how: ``smtp://HOST[:PORT]`` (port 25, plain), ``smtp://...?starttls=1``
(STARTTLS, port 587 by default), ``smtps://HOST[:PORT]`` (TLS from the start, port 465);
``USER:PASSWORD@`` in the URL logs in; ``?from=ADDRESS`` sets the sender (default
``linkback@`` the public URL's host). At most one message per ``notify_interval``.

What was told is kept in the store (the highest change number, ``seq``, told of), advanced
only once the server accepted the message; a linkback verified late, after newer ones were
told of, gets a newer ``seq`` and is in the next batch. A refused or failed message leaves
the batch for the next try (a minute later), and a restart neither loses nor repeats a
batch. Several processes sharing one store agree through a compare-and-set on the time of
the last attempt.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from ..common.settings import ConfigError
from .config import ServiceConfig
from .store import Linkback, Status, Store

logger = logging.getLogger("linkback.receive")
NOTIFIED_SEQ = "notify_last_seq"  # counters: the highest change told of
ATTEMPT_AT = "notify_attempt_at"  # counters: when the last message was tried (epoch seconds)
RETRY_AFTER = 60  # seconds before a failed message is tried again
SMTP_TIMEOUT = 30.0
LISTED = 50  # linkbacks named in one message; the rest are counted


@dataclass(frozen=True)
class SmtpUrl:
    host: str
    port: int
    tls: bool
    starttls: bool
    user: str | None
    password: str | None
    sender: str | None


def parse_smtp_url(url: str) -> SmtpUrl:
    """The parts of ``smtp_url``; raises :class:`ConfigError` naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"--smtp-url: {url!r} is not smtp://HOST[:PORT] or smtps://HOST[:PORT]")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if tls else 587 if starttls else 25)
    except ValueError:
        raise ConfigError(f"--smtp-url: {url!r} has a bad port") from None
    return SmtpUrl(
        host=parts.hostname,
        port=port,
        tls=tls,
        starttls=starttls and not tls,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sender=query.get("from", [None])[0],
    )


class Notifier:
    def __init__(self, config: ServiceConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.smtp = parse_smtp_url(config.smtp_url or "")

    def tick(self, now: float) -> bool:
        """Send the waiting batch if the interval allows; True when a message went out."""
        attempted = self.store.counter(ATTEMPT_AT)
        if now - attempted < self.config.notify_interval and attempted:
            return False
        told = self.store.counter(NOTIFIED_SEQ)
        batch = self.store.list(statuses=[Status.PENDING], changed_since=told)
        if not batch:
            return False
        if not self.store.swap_counter(ATTEMPT_AT, attempted, int(now)):
            return False  # another process is sending this batch
        try:
            self.send(batch)
        except (OSError, smtplib.SMTPException) as error:
            logger.warning("linkback: notification e-mail failed, kept for later: %s", error)
            # try again in a minute, not after a whole interval
            retry_at = int(now) - int(self.config.notify_interval) + RETRY_AFTER
            self.store.swap_counter(ATTEMPT_AT, int(now), min(retry_at, int(now)))
            return False
        self.store.swap_counter(NOTIFIED_SEQ, told, max(record.seq for record in batch))
        return True

    def message(self, batch: list[Linkback]) -> EmailMessage:
        admin = f"{self.config.base_url}/admin/"
        count = len(batch)
        noun = "linkback" if count == 1 else "linkbacks"
        lines = [f"{count} new {noun} await your approval:", ""]
        for record in sorted(batch, key=lambda r: r.id)[:LISTED]:
            title = " ".join((record.content.title or record.content.author.name).split())
            lines += [
                f"- {record.protocol.value} from {record.source}",
                f"  to {record.target}",
                *([f"  {title[:200]}"] if title else []),
                "",
            ]
        if count > LISTED:
            lines += [f"... and {count - LISTED} more.", ""]
        lines += [f"Approve or reject them at {admin}", ""]
        message = EmailMessage()
        host = urlsplit(self.config.base_url).hostname or "localhost"
        message["From"] = self.smtp.sender or f"linkback@{host}"
        message["To"] = self.config.notify_email or ""
        message["Subject"] = f"[linkback] {count} new {noun} to moderate"
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=host)
        message.set_content("\n".join(lines))
        return message

    def send(self, batch: list[Linkback]) -> None:
        smtp = self.smtp
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if smtp.tls:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=SMTP_TIMEOUT, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT)
        with client:
            if smtp.starttls:
                client.starttls(context=context)
            if smtp.user is not None:
                client.login(smtp.user, smtp.password or "")
            client.send_message(self.message(batch))
