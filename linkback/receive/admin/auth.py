"""Who may use the admin page: the admin token, a signed session cookie, CSRF tokens.

The cookie is signed (itsdangerous) with a key derived from the admin token, so a new
token invalidates every old cookie; it carries a random session id and the time it was
issued. Each session's CSRF token is an HMAC of its id: a form from another session, or
from before a new token, does not pass. Logging out records the time in the store, and
sessions issued before it are refused in every process sharing the store (logging out
ends every session, which suits a page with one owner). Scripts send
``Authorization: Bearer TOKEN`` instead, which a browser never adds by itself, so they need
no CSRF token. Every comparison with a secret is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from ..store import Store

COOKIE = "linkback_admin"
SESSION_AGE = 12 * 3600  # seconds a login lasts
LOGOUT_AT = "admin_logout_ms"  # counters: sessions issued before this (ms) are over
LOGIN_ATTEMPTS = 5  # a minute, from one client address


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str | None  # None for a Bearer request: nothing to forge


class Access:
    def __init__(self, token: str, store: Store, *, secure: bool) -> None:
        self.token = token
        self.store = store
        self.secure = secure
        self._key = hmac.new(token.encode(), b"linkback admin session", hashlib.sha256).digest()
        self._signer = URLSafeTimedSerializer(self._key, salt="linkback-admin")

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())

    def bearer(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(value.strip())

    def new_cookie(self) -> str:
        return self._signer.dumps({"sid": secrets.token_urlsafe(18), "at": _ms()})

    def session(self, request: Request) -> Session | None:
        """The request's session: Bearer, or a valid cookie issued after the last logout."""
        if self.bearer(request):
            return Session("bearer", None)
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            return None
        if int(data.get("at", 0)) <= self.store.counter(LOGOUT_AT):
            return None
        return Session(data["sid"], self.csrf_for(data["sid"]))

    def csrf_for(self, sid: str) -> str:
        return hmac.new(self._key, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, given: str) -> bool:
        if session.csrf is None:
            return True
        return hmac.compare_digest(given.encode(), session.csrf.encode())

    def logout(self) -> None:
        current = self.store.counter(LOGOUT_AT)
        self.store.swap_counter(LOGOUT_AT, current, max(current, _ms()))


def _ms() -> int:
    return time.time_ns() // 1_000_000
