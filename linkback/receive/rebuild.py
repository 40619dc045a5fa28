"""The rebuild hook: POST to ``rebuild_hook`` once approvals have settled for a minute.

What changes the published site is an approval, or a linkback leaving ``approved``
(rejected, spam, deleted): any change since the last hook whose status is not ``pending``,
``queued`` or ``invalid``. The hook waits until the newest such change is a minute old, so
approving ten linkbacks one by one rebuilds once, and is POSTed at most once a minute.
The body is small JSON: ``{"event": "linkbacks-changed", "approved": N, "seq": S}``.

The sequence number hooked is kept in the store, advanced only on a 2xx answer: a failed
hook is retried a minute later, and a restart does not fire it again. The hook URL is the
owner's (a build hook, a CI dispatch, or a script on the same machine), so private and
loopback addresses are allowed for it; it still goes through the guarded client (a
deadline, a size cap, no cookies, no proxy from the environment).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from ..common.http import FetchError
from .config import ServiceConfig
from .owner import owner_client
from .store import Status, Store

logger = logging.getLogger("linkback.receive")
HOOKED_SEQ = "rebuild_seq"  # counters: the last change the site was rebuilt for
ATTEMPT_AT = "rebuild_attempt_at"  # counters: epoch seconds of the last POST
SETTLE = 60  # seconds without a new approval before the hook fires
SPACING = 60  # seconds between two POSTs at least
UNPUBLISHED = (Status.QUEUED, Status.PENDING, Status.INVALID)


class Rebuilder:
    def __init__(self, config: ServiceConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.client = owner_client(config)

    def tick(self, now: float) -> bool:
        """POST the hook when due; True when it was answered 2xx."""
        attempted = self.store.counter(ATTEMPT_AT)
        if now - attempted < SPACING:
            return False
        hooked = self.store.counter(HOOKED_SEQ)
        changes = [r for r in self.store.list(changed_since=hooked) if r.status not in UNPUBLISHED]
        if not changes:
            return False
        newest = max(_epoch(r.updated) for r in changes)
        if now - newest < SETTLE:
            return False
        if not self.store.swap_counter(ATTEMPT_AT, attempted, int(now)):
            return False  # another process fires it
        seq = max(r.seq for r in changes)
        approved = sum(1 for r in changes if r.status is Status.APPROVED)
        body = json.dumps({"event": "linkbacks-changed", "approved": approved, "seq": seq})
        try:
            response = self.client.post(
                self.config.rebuild_hook or "",
                data=body.encode(),
                headers={"Content-Type": "application/json"},
            )
        except FetchError as error:
            logger.warning("linkback: rebuild hook failed, retried in a minute: %s", error)
            return False
        if not 200 <= response.status < 300:
            logger.warning("linkback: rebuild hook answered %s, retried later", response.status)
            return False
        self.store.swap_counter(HOOKED_SEQ, hooked, seq)
        logger.info("linkback: rebuild hook POSTed (%d approved)", approved)
        return True

    def close(self) -> None:
        self.client.close()


def _epoch(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S%z").timestamp() if iso else 0.0
