"""linkback: Webmention, Pingback and Trackback for static sites.

The adapters (``pelican_linkback``, ``mkdocs_linkback``) and the ``linkback`` command use
this public API: turn pages into :class:`Source` values, validate :class:`Settings`, call
:func:`send` (or :func:`deliver` after an upload), and decorate the written pages with
:mod:`linkback.common.pages`.
"""

from .common.settings import OPTIONS, ConfigError, Settings
from .sending import Report, Source, deliver, preflight, send
from .sending.sentlog import SentLogError
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
