"""An Atom feed of the pending linkbacks, for the owner's feed reader (``/admin/feed.atom``).

Entries carry plain text only (the excerpt, escaped by the XML writer): a feed reader
shows it as the owner's, so no stored HTML reaches it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .store import Linkback, now_iso

ATOM = "http://www.w3.org/2005/Atom"
EXCERPT = 500


def atom(records: list[Linkback], *, base_url: str, site: str) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    admin = f"{base_url}/admin/"
    _text(feed, "id", f"{admin}feed.atom")
    _text(feed, "title", f"Linkbacks awaiting approval on {site}")
    _text(feed, "updated", max((r.updated for r in records), default=now_iso()))
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{admin}feed.atom")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=admin)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "linkback")
    for record in records:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", f"{admin}linkback/{record.id}")
        title = record.content.title or record.source
        _text(entry, "title", f"{record.protocol.value} {record.content.type.value}: {title}")
        _text(entry, "updated", record.updated)
        _text(entry, "published", record.received)
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=record.source)
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=record.target)
        who = ET.SubElement(entry, f"{{{ATOM}}}author")
        _text(who, "name", record.content.author.name or record.source)
        if record.content.author.url:
            _text(who, "uri", record.content.author.url)
        summary = f"To {record.target}\n\n{record.content.text[:EXCERPT]}"
        _text(entry, "summary", summary)
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode").encode()
    )


def _text(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}{name}").text = _xml_safe(value)


def _xml_safe(value: str) -> str:
    """Leave out characters XML 1.0 cannot carry (a hostile page may hold them)."""
    return "".join(c for c in value if c in "\t\n\r" or ord(c) >= 0x20 and c not in "\ufffe\uffff")
