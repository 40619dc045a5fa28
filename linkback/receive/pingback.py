"""Pingback 1.0 over XML-RPC: ``pingback.ping`` verified before the answer,
``pingback.extensions.getPingbacks`` and ``system.listMethods``.

Requests are parsed with lxml set never to resolve entities, load a DTD or touch the network,
and any document with a DTD is refused: an entity bomb costs nothing. Answers are written
by the standard library's marshaller.
"""

from __future__ import annotations

import xmlrpc.client
from enum import IntEnum

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response

from ..common.urls import page_key
from ..display.model import Protocol
from . import claims
from .claims import Problem
from .service import Service
from .store import Status
from .sync import verify_and_store
from .verify import Gone, Refused, Transient, Verified

METHODS = ("pingback.ping", "pingback.extensions.getPingbacks", "system.listMethods")
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
)


class Fault(IntEnum):
    GENERIC = 0
    SOURCE_NOT_FOUND = 16
    NO_LINK = 17
    TARGET_NOT_FOUND = 32
    TARGET_NOT_ENABLED = 33
    ALREADY_REGISTERED = 48
    ACCESS_DENIED = 49
    UPSTREAM = 50


class BadCall(Exception):
    """Not an XML-RPC call this endpoint can read."""


def parse_call(body: bytes) -> tuple[str, list[object]]:
    """The method name and its string parameters; anything else is :class:`BadCall`.
    XML-RPC has no use for a DTD: one is refused before the parser sees it."""
    if b"<!doctype" in body.lower():
        raise BadCall("a DTD is not allowed")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        raise BadCall(f"not XML: {error}") from None
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise BadCall("a DTD is not allowed")
    if root.tag != "methodCall":
        raise BadCall("not an XML-RPC methodCall")
    name = (root.findtext("methodName") or "").strip()
    params: list[object] = []
    for value in root.iterfind("params/param/value"):
        children = list(value)
        if not children:
            params.append(value.text or "")
        elif children[0].tag == "string":
            params.append(children[0].text or "")
        else:
            params.append(None)  # only strings are meaningful here
    return name, params


def answer(result: str | list[str]) -> Response:
    body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
    return Response(body, media_type="text/xml")


def fault(code: Fault, message: str) -> Response:
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(int(code), message), methodresponse=True)
    return Response(body, media_type="text/xml")


def receive(service: Service, body: bytes, request: Request) -> Response:
    try:
        method, params = parse_call(body)
    except BadCall as error:
        return fault(Fault.GENERIC, str(error))
    if method == "system.listMethods":
        return answer(list(METHODS))
    if method == "pingback.extensions.getPingbacks":
        if len(params) != 1 or not isinstance(params[0], str):
            return fault(Fault.GENERIC, "getPingbacks takes one URL")
        return get_pingbacks(service, params[0])
    if method != "pingback.ping":
        return fault(Fault.GENERIC, f"unknown method {method!r}")
    if len(params) != 2 or not all(isinstance(p, str) for p in params):
        return fault(Fault.GENERIC, "pingback.ping takes two URLs (source, target)")
    return ping(service, str(params[0]).strip(), str(params[1]).strip())


def ping(service: Service, source: str, target: str) -> Response:
    problem = claims.check(source, target, service.config.site_hosts, service.rules())
    if problem is Problem.BLOCKED:
        return fault(Fault.ACCESS_DENIED, "access denied")
    if problem in (Problem.NOT_ON_SITE, Problem.TARGET_NOT_HTTP, Problem.TARGET_TOO_LONG):
        return fault(Fault.TARGET_NOT_ENABLED, "the target is not on this site")
    if problem in (Problem.SOURCE_NOT_HTTP, Problem.SOURCE_TOO_LONG, Problem.MISSING_SOURCE):
        return fault(Fault.SOURCE_NOT_FOUND, "the source is not an http(s) URL")
    if problem is not None:
        return fault(Fault.GENERIC, problem.value)
    target = claims.stored_target(target)
    existing = service.store.find(source, target)
    if existing is not None and existing.status not in (Status.INVALID, Status.DELETED):
        return fault(Fault.ALREADY_REGISTERED, "the pingback has already been registered")
    outcome, _ = verify_and_store(service, source, target, Protocol.PINGBACK)
    if isinstance(outcome, Verified):
        return answer(f"Pingback from {source} to {target} registered. Thanks!")
    if isinstance(outcome, Refused) and outcome.reason == "target not found":
        return fault(Fault.TARGET_NOT_FOUND, "the target does not exist")
    if isinstance(outcome, Gone):
        if outcome.reason == "no link to target":
            return fault(Fault.NO_LINK, "the source does not link to the target")
        return fault(Fault.SOURCE_NOT_FOUND, f"the source was not found: {outcome.reason}")
    if isinstance(outcome, Transient):
        if outcome.slow:
            return fault(Fault.UPSTREAM, "the source was too slow to answer")
        return fault(Fault.UPSTREAM, f"the source is unreachable: {outcome.reason}")
    return fault(Fault.GENERIC, outcome.reason)


def get_pingbacks(service: Service, url: str) -> Response:
    key = page_key(url)
    if key is None:
        return fault(Fault.TARGET_NOT_ENABLED, "not an http(s) URL")
    approved = service.store.list(statuses=[Status.APPROVED], target_key=key)
    return answer([r.source for r in approved if r.protocol is Protocol.PINGBACK])
