"""Where a rendered page's head and body end, as an HTML tokenizer finds them.

linkback inserts its tags into pages as text, so that every other byte stays as the
generator wrote it; where to insert is a question for a tokenizer, not a text search: a
``</head>`` in a script string, an attribute value or a comment is not where the head ends,
and a commented-out ``<link>`` advertises nothing. The tokens are those of the HTML
standard's tokenizer, to the extent that the question needs: comments, doctypes and
processing instructions, start tags with their attributes (quoted or not), end tags, the raw
text of ``script``, ``style``, ``title``, ``textarea``, ``noscript`` and ``template``, and
text. Every page of every build goes through here, so the tokens are found by one compiled
expression, not by a parser written in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# An attribute: a name, then perhaps "=" and a value, quoted or not (unquoted, it ends at
# white space or ">": a quote inside it is part of it).
_ATTRIBUTE = r"""[^\s/>][^\s/>=]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?"""
_ATTRIBUTES = rf"(?:[\s/]+|{_ATTRIBUTE})*"
_TOKEN = re.compile(  # white space, then one token (white space at the very end: none)
    r"\s*(?:"
    r"<!--.*?(?:-->|\Z)"  # a comment (to the end of the page when it is not closed)
    r"|<[!?][^>]*>?"  # a doctype, a processing instruction, a bogus comment
    rf"|</(?P<end>[A-Za-z][^\s/>]*){_ATTRIBUTES}>?"
    rf"|<(?P<start>[A-Za-z][^\s/>]*)(?P<attributes>{_ATTRIBUTES})>?"
    r"|(?P<text>[^<]+|<)"  # text; a "<" that starts no tag is text too
    r"|\Z)",
    re.DOTALL,
)
_ATTRIBUTE_PARTS = re.compile(
    r"""([^\s/>][^\s/>=]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?"""
)
# Elements whose inside is not markup, up to their own end tag.
_RAW_TEXT = {
    name: re.compile(rf"</{name}(?=[\s/>])", re.IGNORECASE)
    for name in ("script", "style", "title", "textarea", "noscript", "template")
}
# What may stand in a head (the standard's "in head" insertion mode); any other start tag,
# or text, ends the head where it stands, as does </head>, </body> or </html>.
_HEAD_CONTENT = frozenset(
    ("html", "head", "title", "meta", "link", "style", "script", "base", "noscript")
    + ("template", "basefont", "bgsound")
)
_HEAD_ENDERS = frozenset(("head", "body", "html"))


@dataclass(frozen=True)
class Head:
    """Where the head ends (None: nothing in the page ends it), and the ``rel`` values of
    its ``<link>`` elements, in lower case."""

    end: int | None
    link_rels: frozenset[str]


def head_of(html: str) -> Head:
    """Tokenizes the page up to the end of its head only."""
    rels: set[str] = set()
    for token in _tokens(html):
        start = token["start"]
        if start is not None:
            name = start.lower()
            if name not in _HEAD_CONTENT:
                return Head(token.start("start") - 1, frozenset(rels))
            if name == "link":
                rels.update((attribute(token["attributes"], "rel") or "").lower().split())
        elif token["text"] is not None:
            return Head(token.start("text"), frozenset(rels))
        elif (token["end"] or "").lower() in _HEAD_ENDERS:
            return Head(token.start("end") - 2, frozenset(rels))
    return Head(None, frozenset(rels))


def body_end(html: str) -> int | None:
    """Where the page's last ``</body>`` end tag starts, if it has one."""
    found = None
    for token in _tokens(html):
        if (token["end"] or "").lower() == "body":
            found = token.start("end") - 2
    return found


def _tokens(html: str) -> Iterator[re.Match[str]]:
    """The page's tokens in order, the inside of raw-text elements (scripts) skipped."""
    position, size = 0, len(html)
    while position < size:
        token = _TOKEN.match(html, position)
        assert token is not None  # the alternatives match any character, or the end
        yield token
        start = token["start"]
        position = (
            token.end() if start is None else _after_raw_text(html, start.lower(), token.end())
        )


def _after_raw_text(html: str, name: str, position: int) -> int:
    """Past the inside of a raw-text element, which starts at ``position``."""
    raw_end = _RAW_TEXT.get(name)
    if raw_end is None:
        return position
    found = raw_end.search(html, position)
    return found.start() if found is not None else len(html)


def attribute(attributes: str, wanted: str) -> str | None:
    """The value of the first attribute named ``wanted`` in a start tag's attribute text."""
    for part in _ATTRIBUTE_PARTS.finditer(attributes):
        if part[1].lower() == wanted:
            return next((value for value in part.groups()[1:] if value is not None), "")
    return None


def element_markup(html: str, name: str, index: int) -> str | None:
    """The ``index``-th (from 0) ``name`` element of the page as written, from the start of
    its start tag to the end of its end tag; None when the page does not have it so.

    A parser re-serialises what it reads (quotes, entities, ``<br>``); the live check and
    the Trackback block look for a page's content in the served bytes, so the content of a
    page read back from a folder must be its own bytes.
    """
    name = name.lower()
    seen, depth, begin = 0, 0, -1
    for token in _tokens(html):
        if (token["start"] or "").lower() == name:
            if begin < 0 and seen == index:
                begin = token.start("start") - 1
            seen += 1
            depth += begin >= 0
        elif begin >= 0 and (token["end"] or "").lower() == name:
            depth -= 1
            if depth == 0:
                return html[begin : token.end()]
    return None
