"""URL normalisation shared by both halves: which URLs name the same page.

The receiver decides whether a source links to a target, and the display groups mentions
under pages; both must agree, or a mention verified for ``https://example.org/post`` would
never show on ``http://example.org/post/``. Scheme and host case, the default port, an
empty path and the fragment never make two pages; neither do http against https, nor a
trailing slash.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise(url: str) -> str | None:
    """The canonical spelling of an http(s) URL, or None when it is not one.

    Lower-case scheme and host, no default port, ``/`` for an empty path, no fragment;
    the path and query are kept exactly as written.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a malformed IPv6 literal or port
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def page_key(url: str) -> str | None:
    """What identifies a page whatever its spelling: host, path without its trailing
    slash, and query; the scheme is left out, so http and https name one page."""
    canonical = normalise(url)
    if canonical is None:
        return None
    parts = urlsplit(canonical)
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("", parts.netloc, path, parts.query, ""))[2:]


def same_page(first: str, second: str) -> bool:
    """True when both URLs name one page (see :func:`page_key`)."""
    key = page_key(first)
    return key is not None and key == page_key(second)


def host_of(url: str) -> str:
    """The lower-case host name of a URL, or "" when it has none."""
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""
