"""``linkback serve``: the app on uvicorn, with uvicorn's own worker processes.

Before the workers start, claims left by a previous run are queued again and the fetch
slots it held are freed (all of them on SQLite, whose file one service owns; only expired
leases on PostgreSQL, which other machines may be using). uvicorn stops on SIGTERM after
the lifespan's shutdown, in which the verification threads finish what they are doing, and
exits 0.
"""

from __future__ import annotations

import copy
import json
import os
import signal

from .app import SERVED_CONFIG
from .config import ServiceConfig
from .store import open_store


def serve(config: ServiceConfig) -> int:
    import uvicorn

    store = open_store(config.db)
    shared = config.db.startswith(("postgresql:", "postgres:"))
    try:
        store.requeue_claims(expired_only=shared)
        store.free_slots(expired_only=shared)
    finally:
        store.close()
    os.environ[SERVED_CONFIG] = json.dumps(config.to_mapping())
    # uvicorn re-raises the signal that stopped it once it has shut down cleanly, with the
    # handler found at start: a quiet one makes that clean stop exit 0, as promised.
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        "linkback.receive.app:app_from_environment",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers,
        log_config=_log_config(),
        access_log=True,
        proxy_headers=False,  # X-Forwarded-For is judged by --trusted-proxies alone
        server_header=False,
        timeout_graceful_shutdown=int(config.verify_timeout) + 5,
    )
    return 0


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM after uvicorn's own shutdown: nothing left to do."""


def _log_config() -> dict[str, object]:
    """uvicorn's logging, every line (the access log too) to standard error."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["loggers"]["linkback"] = {"handlers": ["default"], "level": "INFO"}
    return config
