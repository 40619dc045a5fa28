"""linkback: Webmention, Pingback and Trackback for static sites.

The adapters (``pelican_linkback``, ``mkdocs_linkback``) and the ``linkback`` command use
this public API: turn pages into :class:`Source` values, validate :class:`Settings`, call
:func:`send` (or :func:`deliver` after an upload), and decorate the written pages with
:mod:`linkback.pages`.
"""

__version__ = "0.1.0"

from .engine import deliver, preflight, send  # noqa: E402
from .report import Report  # noqa: E402
from .sentlog import SentLogError  # noqa: E402
from .settings import OPTIONS, ConfigError, Settings  # noqa: E402
from .source import Source  # noqa: E402

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
