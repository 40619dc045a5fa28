"""The client for URLs the owner configured (Akismet, the rebuild hook)."""

from __future__ import annotations

from ..common.http import Client
from ..common.settings import Settings
from .config import ServiceConfig

TIMEOUT = 5.0  # seconds, total deadline of one request


def owner_client(config: ServiceConfig) -> Client:
    """A guarded client for URLs the owner configured (Akismet, the rebuild hook): a
    deadline and a size cap, but private addresses allowed, since the owner named them."""
    settings = Settings.from_mapping(
        {"timeout": TIMEOUT, "allow_private": True, "user_agent": config.agent}, environ={}
    )
    return Client(settings)
