"""The admin page's routes: the list, the moderation actions, the rules, the feed.

Server-side HTML from Jinja2 templates (autoescaped), usable without JavaScript, with no
external assets. Every state change is a POST carrying the session's CSRF token (or a
Bearer token); a GET never changes anything. Without ``admin_token`` every path is 404.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from ...common.urls import host_of
from .. import feed
from ..limits import RateLimiter, TooLarge, client_address, read_body
from ..rules import block, valid_pattern
from ..service import Service
from ..store import MODERATION, Linkback, Rule, RuleKind, Status
from .auth import COOKIE, LOGIN_ATTEMPTS, SESSION_AGE, Access, Session

HERE = Path(__file__).parent
PER_PAGE = 25
EXCERPT = 300
TABS = (
    Status.PENDING,
    Status.APPROVED,
    Status.SPAM,
    Status.REJECTED,
    Status.QUEUED,
    Status.INVALID,
    Status.DELETED,
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' http: https:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

ASSETS = {"admin.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml"}
templates = Jinja2Templates(directory=str(HERE / "templates"))


def web_url(value: str | None) -> str | None:
    """A URL fit for href/src: http(s) only, so a stored ``javascript:`` stays text."""
    if not value:
        return None
    return value if urlsplit(value.strip()).scheme.lower() in ("http", "https") else None


def short(value: str, limit: int = 120) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


templates.env.filters["web_url"] = web_url
templates.env.filters["short"] = short


@dataclass(frozen=True)
class Form:
    values: dict[str, list[str]]

    def one(self, name: str) -> str:
        return (self.values.get(name) or [""])[0]

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])


class Admin:
    def __init__(self, service: Service) -> None:
        token = service.config.admin_token or ""
        self.service = service
        self.store = service.store
        self.access = Access(
            token, service.store, secure=service.config.base_url.startswith("https:")
        )
        # the page's path as the browser sees it (behind a proxy, under the public URL's path)
        self.cookie_path = urlsplit(service.config.base_url).path.rstrip("/") + "/admin/"
        self.logins = RateLimiter(LOGIN_ATTEMPTS)

    def _page(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        response = templates.TemplateResponse(request, name, context, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    def _login_page(self, request: Request, message: str = "", status: int = 200) -> Response:
        return self._page(request, "login.html", {"message": message}, status)

    async def _form(self, request: Request) -> Form | Response:
        try:
            body = await read_body(request)
        except TooLarge:
            return PlainTextResponse("request body too large", status_code=413)
        return Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))

    def _client(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        return client_address(peer, request.headers.get("x-forwarded-for"), self.service.proxies)

    async def _authorised(self, request: Request) -> tuple[Session, Form] | Response:
        """The session and form of a state-changing POST, or the refusal."""
        session = await run_in_threadpool(self.access.session, request)
        if session is None:
            return PlainTextResponse("not logged in", status_code=403)
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        if not self.access.csrf_ok(session, form.one("csrf")):
            return PlainTextResponse(
                "missing or stale form token: reload the page", status_code=403
            )
        return session, form

    def _back(self, form: Form) -> Response:
        status = form.one("status")
        query = {"status": status if status in {s.value for s in TABS} | {"all"} else "pending"}
        if form.one("page").isdigit():
            query["page"] = form.one("page")
        return RedirectResponse(f"./?{urlencode(query)}", status_code=303)

    async def index(self, request: Request) -> Response:
        session = await run_in_threadpool(self.access.session, request)
        if session is None:
            return self._login_page(request)
        wanted = request.query_params.get("status", "pending")
        statuses = None if wanted == "all" else [s for s in TABS if s.value == wanted]
        if statuses == []:
            return PlainTextResponse("unknown status", status_code=400)
        raw_page = request.query_params.get("page", "0")
        page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 0

        def read() -> tuple[dict[Status, int], list[Linkback], list[Rule]]:
            counts = self.store.counts()
            records = self.store.list(statuses=statuses, offset=page * PER_PAGE, limit=PER_PAGE)
            return counts, records, self.store.rules()

        counts, records, rules = await run_in_threadpool(read)
        total = sum(counts.values()) if statuses is None else counts[statuses[0]]
        context = {
            "session": session,
            "tabs": [(s.value, counts[s]) for s in TABS],
            "all_count": sum(counts.values()),
            "current": wanted,
            "records": records,
            "rules": rules,
            "page": page,
            "pages": max(1, math.ceil(total / PER_PAGE)),
            "excerpt": EXCERPT,
            "actions": list(MODERATION),
        }
        return self._page(request, "list.html", context)

    async def login(self, request: Request) -> Response:
        if self.logins.hit(self._client(request)) is not None:
            return self._login_page(request, "Too many attempts; wait a minute.", 429)
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        if not self.access.token_matches(form.one("token")):
            return self._login_page(request, "Wrong token.", 401)
        response = RedirectResponse("./", status_code=303)
        response.set_cookie(
            COOKIE,
            self.access.new_cookie(),
            max_age=SESSION_AGE,
            path=self.cookie_path,
            httponly=True,
            samesite="strict",
            secure=self.access.secure,
        )
        return response

    async def logout(self, request: Request) -> Response:
        checked = await self._authorised(request)
        if isinstance(checked, Response):
            return checked
        await run_in_threadpool(self.access.logout)
        response = RedirectResponse("./", status_code=303)
        response.delete_cookie(COOKIE, path=self.cookie_path)
        return response

    async def moderate(self, request: Request) -> Response:
        checked = await self._authorised(request)
        if isinstance(checked, Response):
            return checked
        _, form = checked
        if form.one("one"):  # a row's own button: "action:id"
            action, _, number = form.one("one").partition(":")
            ids = [number]
        else:
            action, ids = form.one("bulk"), form.all("id")
        numbers = [int(n) for n in ids if n.isdigit() and len(n) < 19]
        if action not in (*MODERATION, "block", "allow") or not numbers:
            return PlainTextResponse("choose an action and at least one linkback", status_code=400)
        await run_in_threadpool(self._apply, action, numbers)
        return self._back(form)

    def _apply(self, action: str, numbers: list[int]) -> None:
        for number in numbers:
            record = self.store.get(number)
            if record is None:
                continue
            if action in MODERATION:
                self.store.set_status(number, MODERATION[action])
            elif action == "block":
                block(self.store, host_of(record.source))
            else:
                author = web_url(record.content.author.url)
                self.store.add_rule(Rule(RuleKind.ALLOW, author or host_of(record.source)))

    async def rules(self, request: Request) -> Response:
        checked = await self._authorised(request)
        if isinstance(checked, Response):
            return checked
        _, form = checked
        if form.one("remove"):
            kind, _, pattern = form.one("remove").partition(":")
            if kind not in ("allow", "block"):
                return PlainTextResponse("unknown rule", status_code=400)
            await run_in_threadpool(self.store.remove_rule, Rule(RuleKind(kind), pattern))
            return self._back(form)
        kind, pattern = form.one("kind"), form.one("pattern").strip()
        if kind not in ("allow", "block") or not valid_pattern(pattern):
            return PlainTextResponse(
                "a rule is allow or block, and a host, *.domain, or a URL with its scheme",
                status_code=400,
            )
        if kind == "block":
            await run_in_threadpool(block, self.store, pattern)
        else:
            await run_in_threadpool(self.store.add_rule, Rule(RuleKind.ALLOW, pattern))
        return self._back(form)

    async def atom(self, request: Request) -> Response:
        given = request.query_params.get("token", "")
        if not (self.access.bearer(request) or (given and self.access.token_matches(given))):
            return PlainTextResponse(
                "give the admin token (Authorization: Bearer, or ?token=)",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="linkback"'},
            )
        records = await run_in_threadpool(self.store.list, statuses=[Status.PENDING], limit=100)
        body = feed.atom(
            records, base_url=self.service.config.base_url, site=self.service.config.site_url[0]
        )
        return Response(
            body,
            media_type="application/atom+xml; charset=utf-8",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    async def asset(self, request: Request) -> Response:
        """The page's own stylesheet and icon (no asset comes from elsewhere)."""
        name = request.url.path.rsplit("/", 1)[1]
        return Response(
            (HERE / "templates" / name).read_bytes(),
            media_type=ASSETS[name],
            headers={"Cache-Control": "max-age=3600"},
        )


def routes(service: Service) -> list[BaseRoute]:
    """The admin routes; when no admin token is set there are none, so /admin/ is 404."""
    if not service.config.admin_token:
        return []
    admin = Admin(service)
    return [
        Route("/admin/", admin.index, methods=["GET"]),
        Route("/admin/login", admin.login, methods=["POST"]),
        Route("/admin/logout", admin.logout, methods=["POST"]),
        Route("/admin/moderate", admin.moderate, methods=["POST"]),
        Route("/admin/rules", admin.rules, methods=["POST"]),
        Route("/admin/feed.atom", admin.atom, methods=["GET"]),
        *(Route(f"/admin/{name}", admin.asset, methods=["GET"]) for name in ASSETS),
    ]
