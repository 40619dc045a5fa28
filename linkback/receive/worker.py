"""The verification workers: threads claiming jobs from the store's queue.

A job is leased, so a process killed while verifying leaves it to be claimed again; a job
whose source host is busy, or whose source URL was fetched less than 30 s ago, is put back
with a later due time (delayed, never dropped).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from .rules import allowed
from .spam import mostly_links
from .store import Content, Job, Rule, Status, Store
from .verify import Busy, Gone, Refused, Transient, Verified, Verifier

THREADS = 4  # verification threads of each server process
logger = logging.getLogger("linkback.receive")
IDLE_POLL = 0.5  # seconds between two looks at an empty queue (a new arrival wakes at once)
BUSY_DELAY = 0.25


class Workers:
    def __init__(
        self,
        store: Store,
        verifier: Verifier,
        rules: Callable[[], list[Rule]],
        *,
        threads: int = THREADS,
        akismet: Callable[[Job, Content], str | None] | None = None,
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.rules = rules
        self.akismet = akismet
        self.lease = verifier.config.verify_timeout * 2 + 30
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._threads = [
            threading.Thread(target=self._run, args=(n,), name=f"linkback-verify-{n}", daemon=True)
            for n in range(threads)
        ]
        self._stopping = threading.Event()
        self._wakeup = threading.Event()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self, timeout: float | None = None) -> None:
        """Finish what is being verified, within one verification's deadline; what is still
        running then is queued again for another process (or the next start)."""
        self._stopping.set()
        self._wakeup.set()
        wait = timeout if timeout is not None else self.verifier.config.verify_timeout + 1
        limit = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, limit - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            self.store.requeue_claims(expired_only=False, claimer=self.name)

    def _run(self, number: int) -> None:
        worker = f"{self.name}:{number}"
        while not self._stopping.is_set():
            try:
                jobs = self.store.claim(worker, self.lease)
            except Exception:
                logger.exception("linkback: cannot claim a job")
                self._stopping.wait(IDLE_POLL)
                continue
            if not jobs:
                self._wakeup.wait(IDLE_POLL)
                self._wakeup.clear()
                continue
            for job in jobs:
                try:
                    self.process(job)
                except Exception:
                    logger.exception("linkback: verifying %s failed", job.source)
                    self.store.release(job, time.time() + 60)

    def process(self, job: Job) -> None:
        # A new pair is checked against a fetch of the last 30 s (a post's Webmentions to
        # several pages arrive together); an update announces a change, so it waits.
        update = job.status is not Status.QUEUED
        wait = self.verifier.window.wait_for(job.source) if update else 0.0
        if wait > 0:
            self.store.release(job, time.time() + wait)
            return
        try:
            outcome = self.verifier.verify(job.source, job.target, sync=False, reuse=not update)
        except Busy:
            self.store.release(job, time.time() + BUSY_DELAY)
            return
        if isinstance(outcome, Verified):
            rules = self.rules()
            spam = outcome.spam or mostly_links(outcome.content)
            if not spam and self.akismet is not None:
                spam = self.akismet(job, outcome.content)
            if spam:
                status = Status.SPAM
            elif allowed(rules, outcome.content.author.url, job.source):
                status = Status.APPROVED
            else:
                status = Status.PENDING
            result = self.store.verified(job, outcome.content, status)
            if spam and result is Status.SPAM:
                self.store.set_status(job.id, Status.SPAM, spam)
        elif isinstance(outcome, Gone):
            result = self.store.failed(job, outcome.reason)
        elif isinstance(outcome, Refused):
            result = self.store.refused(job, outcome.reason)
        else:
            assert isinstance(outcome, Transient)
            result = self.store.retry(job, outcome.reason)
        logger.info("linkback: %s -> %s: %s", job.source, job.target, result.value)
