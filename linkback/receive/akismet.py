"""The optional Akismet check of verified linkbacks (``akismet_key``; off by default).

Akismet's ``comment-check`` answers ``true`` (spam) or ``false``; anything else is an
error, and an error never holds a linkback: it stays ``pending`` for the owner. The API
URL is the ``akismet_url`` option, so tests speak to a loopback server; the owner names
it, so it is reached even on a private address.
"""

from __future__ import annotations

import logging
import socket
import threading
from urllib.parse import urlsplit

from ..common.http import FetchError
from .config import ServiceConfig
from .owner import owner_client
from .store import Content, Protocol, Status, Store

logger = logging.getLogger("linkback.receive")


class Akismet:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.client = owner_client(config)

    def spam(self, source: str, target: str, protocol: Protocol, content: Content) -> str | None:
        """Why Akismet holds this linkback as spam, or None (also when Akismet fails)."""
        form = {
            "api_key": self.config.akismet_key or "",
            "blog": self.config.site_url[0],
            "user_ip": _address(source),
            "user_agent": "",
            "permalink": target,
            "comment_type": "trackback" if protocol is Protocol.TRACKBACK else "pingback",
            "comment_author": content.author.name,
            "comment_author_url": content.author.url or source,
            "comment_content": content.text or content.title,
            "blog_charset": "UTF-8",
        }
        url = self.config.akismet_url.rstrip("/") + "/1.1/comment-check"
        try:
            response = self.client.post(url, data=form)
        except FetchError as error:
            logger.warning("linkback: Akismet unreachable, %s stays pending: %s", source, error)
            return None
        answer = response.body.strip()
        if answer == b"true":
            return "Akismet says spam"
        if answer != b"false":
            help_text = response.headers.get("X-akismet-debug-help") or answer[:100].decode(
                "utf-8", "replace"
            )
            logger.warning("linkback: Akismet answered %s: %s", response.status, help_text)
        return None

    def check_later(
        self,
        store: Store,
        stored: int,
        source: str,
        target: str,
        protocol: Protocol,
        content: Content,
    ) -> threading.Thread:
        """Ask in the background about a linkback stored while its sender waits (pingback,
        trackback), so Akismet's time never delays the answer; spam is marked when known.
        A crash before the answer leaves it pending, which is where an error leaves it too."""

        def check() -> None:
            verdict = self.spam(source, target, protocol, content)
            if verdict:
                store.set_status(stored, Status.SPAM, verdict)

        thread = threading.Thread(target=check, name="linkback-akismet", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.client.close()


def _address(source: str) -> str:
    """The source host's address: a pingback's sender is the source's server."""
    host = urlsplit(source).hostname or ""
    try:
        return str(socket.getaddrinfo(host, None)[0][4][0])
    except (OSError, IndexError):
        return ""
