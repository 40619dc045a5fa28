"""The service's periodic chores: the notification e-mail and the rebuild hook.

One thread per server process; the store's compare-and-set counters make sure that
several processes sharing one store send one message and one hook between them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("linkback.receive")
PERIOD = 5.0  # seconds between two looks


class Chores:
    def __init__(self, tasks: list[Callable[[float], bool]], period: float | None = None) -> None:
        self.tasks = tasks
        self.period = PERIOD if period is None else period
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="linkback-chores", daemon=True)

    def start(self) -> None:
        if self.tasks:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(self.period + 35)

    def _run(self) -> None:
        while not self._stopping.wait(self.period):
            for task in self.tasks:
                try:
                    task(time.time())
                except Exception:
                    logger.exception("linkback: a periodic chore failed")
