"""The sent-log: load, lock, record, atomic save."""

from __future__ import annotations

from .settings import ConfigError


class SentLogError(ConfigError):
    """The sent-log cannot be read or is held by another run; sending must not start."""
