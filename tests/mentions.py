"""A loopback server holding a site's linkbacks and answering the two APIs the display reads.

- ``/api/linkbacks``: the project's service, as RECEIVER's contract describes it (jf2 with
  ``linkback-seq``; ``changed_since``, ``since_id``, ``target``, ``page``, ``per_page``);
- ``/api/mentions.jf2``: webmention.io's API shape (``domain``, ``token``, ``since_id``,
  ``page``, ``per-page``; 20 a page unless asked; newest first; private ones left out).

Tests drive it through :meth:`MentionsServer.add` and :meth:`MentionsServer.set_status`
and read :attr:`MentionsServer.requests`; a fixture starting ``linkback serve`` with the
same three can replace it. ``failure``, ``drip`` and ``garbage`` make it misbehave, and
``add_photo`` serves avatars.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from linkback.common.urls import page_key
from tests.peer import _Background, _Server

TOKEN = "s3cret-token"
PROPERTY_OF = {
    "reply": "in-reply-to",
    "like": "like-of",
    "repost": "repost-of",
    "bookmark": "bookmark-of",
    "rsvp": "rsvp",
    "mention": "mention-of",
}
DRIP_START = b'{"type": "feed", "children": ['
STUB_FIELDS = ("wm-id", "wm-target", "linkback-seq", "linkback-status")
# A 1x1 PNG: what a photo URL serves.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class MentionsServer(_Background):
    def __init__(self, host: str = "127.0.0.5", *, token: str = TOKEN) -> None:
        self.token = token
        self.entries: dict[int, dict[str, Any]] = {}
        self.seq = 0
        self.requests: list[str] = []  # path and query of every request, in order
        self.failure: int | None = None  # answer every API request with this status
        self.drip = 0.0  # seconds between two bytes of an endless answer
        self.drip_length = True  # announce a Content-Length, else send until the end
        self.garbage: bytes | None = None  # answer this body instead of a feed
        self.photos: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self._clock = datetime(2026, 11, 20, tzinfo=timezone.utc)
        self.server = _Server((host, 0), _Handler)
        self.server.mentions = self  # type: ignore[attr-defined]
        self.base_url = f"http://{host}:{self.server.server_address[1]}"

    # What tests use -------------------------------------------------------------------------

    @property
    def service_url(self) -> str:
        return self.base_url + "/api/linkbacks"

    def webmention_io_url(self, domain: str, token: str | None = None) -> str:
        query = urlencode({"domain": domain, "token": token or self.token})
        return f"{self.base_url}/api/mentions.jf2?{query}"

    def add(
        self,
        target: str,
        kind: str = "reply",
        *,
        status: str = "approved",
        protocol: str = "webmention",
        **fields: Any,
    ) -> int:
        """Store a linkback to ``target``; ``fields`` override the jf2 entry's own."""
        with self._lock:
            wm_id = 1000 + len(self.entries)
            self._clock += timedelta(minutes=5)
            received = self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")
            source = fields.pop("source", f"https://blog{wm_id}.example/post/{wm_id}")
            entry: dict[str, Any] = {
                "type": "entry",
                "author": {
                    "type": "card",
                    "name": f"Author {wm_id}",
                    "url": f"https://blog{wm_id}.example/",
                    "photo": None,
                },
                "url": source,
                "published": received,
                "wm-received": received,
                "wm-id": wm_id,
                "wm-source": source,
                "wm-target": target,
                "wm-property": PROPERTY_OF[kind],
                "wm-private": False,
                "content": {"html": f"<p>Reply {wm_id}</p>", "text": f"Reply {wm_id}"},
                "name": "",
                "rsvp": None,
                "linkback-protocol": protocol,
                **fields,
            }
            self.entries[wm_id] = entry
            self._change(wm_id, status)
        return wm_id

    def set_status(self, wm_id: int, status: str) -> None:
        """``approved``, ``rejected``, ``spam``, ``deleted``..., as moderation does."""
        with self._lock:
            self._change(wm_id, status)

    def add_photo(self, path: str, body: bytes = PNG, content_type: str = "image/png") -> str:
        self.photos[path] = (body, content_type)
        return self.base_url + path

    def api_requests(self) -> list[str]:
        return [path for path in self.requests if path.startswith("/api/")]

    # The two APIs ---------------------------------------------------------------------------

    def _change(self, wm_id: int, status: str) -> None:
        self.seq += 1
        self.entries[wm_id]["linkback-status"] = status
        self.entries[wm_id]["linkback-seq"] = self.seq

    def service(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        per_page = min(int(query.get("per_page", 100)), 1000)
        page = int(query.get("page", 0))
        with self._lock:
            chosen = list(self.entries.values())
            if "changed_since" in query:
                since = int(query["changed_since"])
                chosen = [entry for entry in chosen if entry["linkback-seq"] > since]
            else:
                chosen = [entry for entry in chosen if entry["linkback-status"] == "approved"]
            if "since_id" in query:
                chosen = [entry for entry in chosen if entry["wm-id"] > int(query["since_id"])]
            if "target" in query:
                key = page_key(query["target"])
                chosen = [entry for entry in chosen if page_key(entry["wm-target"]) == key]
            chosen.sort(key=lambda entry: entry["wm-received"], reverse=True)
            children = [
                dict(entry)
                if entry["linkback-status"] == "approved"
                else {name: entry[name] for name in STUB_FIELDS}
                for entry in chosen[page * per_page : (page + 1) * per_page]
            ]
            return 200, {"type": "feed", "children": children, "linkback-seq": self.seq}

    def webmention_io(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if query.get("token") != self.token:
            return 401, {"error": "forbidden", "error_description": "invalid token"}
        per_page = int(query.get("per-page", 20))
        page = int(query.get("page", 0))
        with self._lock:
            chosen = [
                entry
                for entry in self.entries.values()
                if entry["linkback-status"] == "approved"
                and urlsplit(entry["wm-target"]).hostname == query.get("domain")
                and entry["wm-id"] > int(query.get("since_id", 0))
            ]
        chosen.sort(key=lambda entry: entry["wm-received"], reverse=True)
        children = [
            {name: value for name, value in entry.items() if not name.startswith("linkback-")}
            for entry in chosen[page * per_page : (page + 1) * per_page]
        ]
        return 200, {"type": "feed", "name": "Webmentions", "children": children}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def mentions(self) -> MentionsServer:
        return self.server.mentions  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet: tests read ``requests`` instead."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        mentions = self.mentions
        mentions.requests.append(self.path)
        parts = urlsplit(self.path)
        if parts.path in mentions.photos:
            body, content_type = mentions.photos[parts.path]
            return self._reply(200, body, content_type)
        if parts.path not in ("/api/linkbacks", "/api/mentions.jf2"):
            return self._reply(404, b"not found", "text/plain")
        if mentions.drip:
            return self._drip(mentions.drip)
        if mentions.failure is not None:
            return self._reply(mentions.failure, b'{"error": "down"}', "application/json")
        if mentions.garbage is not None:
            return self._reply(200, mentions.garbage, "application/json")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        api = mentions.service if parts.path == "/api/linkbacks" else mentions.webmention_io
        status, feed = api(query)
        self._reply(status, json.dumps(feed).encode(), "application/json")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, seconds: float) -> None:
        """A feed that comes one byte at a time (60 of them)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.mentions.drip_length:
            self.send_header("Content-Length", str(len(DRIP_START) + 60))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(DRIP_START)
            for _ in range(60):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(seconds)
        except OSError:
            return
