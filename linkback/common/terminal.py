"""Text from servers, made safe to print: a hostile answer must not drive the terminal.

An ``X-Pingback`` header, a fault string or a trackback message may carry escape sequences
that move the cursor, retitle the window or hide the lines printed before; every line that
shows such text goes through :func:`printable`.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators; plus the bidi
# overrides that reorder what is shown.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with each control character written as a Python escape (``\\x1b``)."""
    return _UNSAFE.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
