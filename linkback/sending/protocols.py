"""The three senders, and how each answer is classified: sent, transient or permanent failure."""

from __future__ import annotations

import email.utils
import time
import xmlrpc.client
from typing import Any
from xml.parsers import expat

from lxml import etree

from ..common.http import Client, FetchError, Response
from ..common.outcome import Outcome, Verdict, failure
from .jobs import Ping
from .links import plain_excerpt

DEFAULT_RATE_LIMIT_PAUSE = 20.0
# Pingback 1.0 fault codes, and 429 as WordPress uses it for "one ping per 15 s".
_PINGBACK_ALREADY = 48
_PINGBACK_TRANSIENT = {0, 16, 17, 50, 429}
_PINGBACK_REASONS = {
    0: "generic fault (WordPress: source not reachable or not linking yet)",
    16: "source does not exist (not deployed yet?)",
    17: "source does not link to target (not deployed yet?)",
    32: "target does not exist",
    33: "target cannot be used as a target",
    48: "already registered",
    49: "access denied",
    50: "receiver could not reach an upstream server",
    429: "rate limited",
}
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def failure_of(error: FetchError) -> Outcome:
    return Outcome(error.verdict, str(error))


def http_failure(response: Response) -> Outcome | None:
    """The classification every protocol shares for a non-2xx answer, None for 2xx."""
    status = response.status
    if 200 <= status < 300:
        return None
    detail = f"HTTP {status}"
    if status == 429:
        return failure(detail, transient=True, pause=retry_after(response))
    return failure(detail, transient=status >= 500)


def retry_after(response: Response) -> float:
    """Seconds from a Retry-After header (delta or HTTP date), else the default pause."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return DEFAULT_RATE_LIMIT_PAUSE


def post(client: Client, endpoint: str, data: Any, content_type: str) -> Response | Outcome:
    """A 2xx answer to read further, or the Outcome every protocol gives to anything else."""
    try:
        response = client.post(endpoint, data=data, headers={"Content-Type": content_type})
    except FetchError as error:
        return failure_of(error)
    return http_failure(response) or response


_FORM = "application/x-www-form-urlencoded"  # what Webmention receivers expect, as is
_TRACKBACK_FORM = _FORM + "; charset=utf-8"  # as the Trackback spec shows it


def send_webmention(client: Client, endpoint: str, ping: Ping) -> Outcome:
    """W3C Webmention 3.1.3: any 2xx is success (201 and 202 say "queued")."""
    answer = post(client, endpoint, {"source": ping.source, "target": ping.target}, _FORM)
    return answer if isinstance(answer, Outcome) else Outcome(Verdict.SENT, f"HTTP {answer.status}")


class _SafeExpatParser(xmlrpc.client.ExpatParser):
    """xmlrpc's own parser, refusing any DTD: no entity can be declared, so none expands."""

    def __init__(self, target: xmlrpc.client.Unmarshaller) -> None:
        super().__init__(target)
        self._parser.StartDoctypeDeclHandler = self._refuse  # type: ignore[attr-defined]
        self._parser.EntityDeclHandler = self._refuse  # type: ignore[attr-defined]

    @staticmethod
    def _refuse(*_args: object) -> None:
        raise ValueError("XML-RPC answer declares a DTD or entities; refused")


def parse_xmlrpc(body: bytes) -> tuple[object, ...]:
    """``xmlrpc.client.loads`` without entity expansion; raises Fault, ValueError, ExpatError."""
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = _SafeExpatParser(unmarshaller)
    parser.feed(body)
    parser.close()
    return unmarshaller.close()


def send_pingback(client: Client, endpoint: str, ping: Ping) -> Outcome:
    """Pingback 1.0: ``pingback.ping(source, target)``; the fault code decides what follows."""
    payload = xmlrpc.client.dumps((ping.source, ping.target), "pingback.ping", encoding="utf-8")
    response = post(client, endpoint, payload.encode("utf-8"), "text/xml; charset=utf-8")
    if isinstance(response, Outcome):
        return response
    try:
        result = parse_xmlrpc(response.body)
    except xmlrpc.client.Fault as fault:
        return _pingback_fault(fault, response)
    except (ValueError, expat.ExpatError, xmlrpc.client.ResponseError, TypeError) as error:
        return Outcome(Verdict.PERMANENT, f"malformed XML-RPC answer: {error}")
    if result and isinstance(result[0], str):
        return Outcome(Verdict.SENT, f"pingback accepted: {result[0][:120]}")
    return Outcome(Verdict.PERMANENT, "malformed XML-RPC answer: no string result")


def _pingback_fault(fault: xmlrpc.client.Fault, response: Response) -> Outcome:
    try:
        code = int(fault.faultCode)
    except (TypeError, ValueError):
        return Outcome(Verdict.PERMANENT, f"malformed XML-RPC fault: {fault.faultCode!r}")
    detail = f"fault {code}: {_PINGBACK_REASONS.get(code, str(fault.faultString)[:120])}"
    if code == _PINGBACK_ALREADY:
        return Outcome(Verdict.SENT, detail)
    if code == 429:
        return failure(detail, transient=True, pause=retry_after(response))
    return failure(detail, transient=code in _PINGBACK_TRANSIENT)


def send_trackback(client: Client, endpoint: str, ping: Ping) -> Outcome:
    """Trackback: a form POST; ``<error>0</error>`` is success, else ``<message>`` says why."""
    form = {
        "url": ping.source,
        "title": ping.title,
        "excerpt": plain_excerpt(ping.excerpt),
        "blog_name": ping.blog_name,
    }
    response = post(client, endpoint, form, _TRACKBACK_FORM)
    if isinstance(response, Outcome):
        return response
    try:
        root = etree.fromstring(response.body, parser=_SAFE_XML)
    except etree.XMLSyntaxError as error:
        return Outcome(Verdict.PERMANENT, f"malformed trackback answer: {error}")
    code = (root.findtext("error") or "").strip() if root is not None else ""
    if code == "0":
        return Outcome(Verdict.SENT, "trackback accepted")
    if not code:
        return Outcome(Verdict.PERMANENT, "malformed trackback answer: no <error> element")
    message = (root.findtext("message") or "").strip()
    return Outcome(Verdict.PERMANENT, f"trackback error {code}: {message or 'no message'}"[:300])


SENDERS = {
    "webmention": send_webmention,
    "pingback": send_pingback,
    "trackback": send_trackback,
}
