"""One running service: its options, store, verifier, workers and limits, shared by the
endpoints of one server process."""

from __future__ import annotations

import threading
import time

from .akismet import Akismet
from .chores import Chores
from .config import ServiceConfig
from .intake import Intake
from .limits import RateLimiter
from .notify import Notifier
from .rebuild import Rebuilder
from .store import Content, Job, Rule, SqlStore, open_store
from .verify import Verifier
from .worker import Workers

RULES_TTL = 2.0  # seconds a process keeps the rules before reading them again


class Service:
    def __init__(self, config: ServiceConfig, *, store: SqlStore | None = None) -> None:
        self.config = config
        self.store = store or open_store(config.db)
        self.verifier = Verifier(config, self.store)
        self.intake = Intake(self.store)
        self.limiter = RateLimiter(config.rate_limit)
        self.akismet = Akismet(config) if config.akismet_key else None
        self.workers = Workers(
            self.store,
            self.verifier,
            self.rules,
            akismet=self._akismet_check if self.akismet else None,
        )
        self.notifier = (
            Notifier(config, self.store) if config.notify_email and config.smtp_url else None
        )
        self.rebuilder = Rebuilder(config, self.store) if config.rebuild_hook else None
        self.chores = Chores([c.tick for c in (self.notifier, self.rebuilder) if c is not None])
        self.proxies = config.proxy_networks
        self._rules: tuple[float, list[Rule]] = (0.0, [])
        self._rules_lock = threading.Lock()

    def start(self) -> None:
        self.intake.start()
        self.workers.start()
        self.chores.start()

    def stop(self) -> None:
        self.intake.stop()
        self.workers.stop()
        self.chores.stop()
        for client in (self.akismet, self.rebuilder):
            if client is not None:
                client.close()
        self.verifier.close()
        self.store.close()

    def _akismet_check(self, job: Job, content: Content) -> str | None:
        assert self.akismet is not None
        return self.akismet.spam(job.source, job.target, job.protocol, content)

    def rules(self) -> list[Rule]:
        now = time.monotonic()
        with self._rules_lock:
            if now - self._rules[0] > RULES_TTL:
                self._rules = (now, self.store.rules())
            return self._rules[1]

    def status_url(self, linkback_id: int) -> str:
        return f"{self.config.base_url}/webmention/status/{linkback_id}"
