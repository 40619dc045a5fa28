"""One running service: its options, store, verifier, workers and limits, shared by the
endpoints of one server process."""

from __future__ import annotations

import threading
import time

from .config import ServiceConfig
from .limits import RateLimiter
from .store import Rule, SqlStore, open_store
from .verify import Verifier
from .worker import Workers

RULES_TTL = 2.0  # seconds a process keeps the rules before reading them again


class Service:
    def __init__(self, config: ServiceConfig, *, store: SqlStore | None = None) -> None:
        self.config = config
        self.store = store or open_store(config.db)
        self.verifier = Verifier(config)
        self.limiter = RateLimiter(config.rate_limit)
        self.workers = Workers(self.store, self.verifier, self.rules)
        self.proxies = config.proxy_networks
        self._rules: tuple[float, list[Rule]] = (0.0, [])
        self._rules_lock = threading.Lock()

    def start(self) -> None:
        self.workers.start()

    def stop(self) -> None:
        self.workers.stop()
        self.verifier.close()
        self.store.close()

    def rules(self) -> list[Rule]:
        now = time.monotonic()
        with self._rules_lock:
            if now - self._rules[0] > RULES_TTL:
                self._rules = (now, self.store.rules())
            return self._rules[1]

    def status_url(self, linkback_id: int) -> str:
        return f"{self.config.base_url}/webmention/status/{linkback_id}"
