"""linkback: Webmention, Pingback and Trackback for static sites.

The adapters (``pelican_linkback``, ``mkdocs_linkback``) and the ``linkback`` command use
this public API: turn pages into :class:`Source` values, validate :class:`Settings`, call
:func:`send` (or :func:`deliver` after an upload), and decorate the written pages with
:mod:`linkback.pages`.
"""

from .engine import deliver, preflight, send
from .report import Report
from .sentlog import SentLogError
from .settings import OPTIONS, ConfigError, Settings
from .source import Source
from .version import __version__

__all__ = [
    "OPTIONS",
    "ConfigError",
    "Report",
    "SentLogError",
    "Settings",
    "Source",
    "__version__",
    "deliver",
    "preflight",
    "send",
]
