"""The receiving service (``linkback serve``) and its moderation (``linkback mentions``).

Entry points: :func:`create_app` (an ASGI app for a :class:`ServiceConfig`),
:func:`app_from_environment` (the factory for ASGI servers started by name), :func:`load`
(the options, from the command line, environment and TOML file), :func:`open_store`.
They load lazily: the plugins import :mod:`linkback` without the ``serve`` extra installed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_ENTRY_POINTS = {
    "create_app": ".app",
    "app_from_environment": ".app",
    "ServiceConfig": ".config",
    "load": ".config",
    "open_store": ".store",
}
__all__ = list(_ENTRY_POINTS)


def __getattr__(name: str) -> Any:
    if name not in _ENTRY_POINTS:
        raise AttributeError(name)
    return getattr(import_module(_ENTRY_POINTS[name], __name__), name)
