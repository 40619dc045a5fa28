"""Schedules discovery and pings over the guarded client and records each result."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .report import Report
from .settings import Settings
from .source import Source


def send(
    sources: Iterable[Source],
    settings: Settings,
    *,
    logger: logging.Logger | None = None,
    progress: bool | None = None,
) -> Report:
    """Notify every new target of ``sources`` once; see SPEC "What is sent"."""
    raise NotImplementedError


def deliver(
    settings: Settings, *, logger: logging.Logger | None = None, progress: bool | None = None
) -> Report:
    """Send the pings waiting as ``pending`` for pages that are live now."""
    raise NotImplementedError
