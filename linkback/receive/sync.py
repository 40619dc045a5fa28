"""Verification while the sender waits (Pingback, Trackback), within verify_timeout_sync."""

from __future__ import annotations

from ..display.model import Protocol
from .rules import allowed
from .service import Service
from .spam import mostly_links
from .store import Content, Status, Stored
from .verify import Outcome, Verified


def verify_and_store(
    service: Service,
    source: str,
    target: str,
    protocol: Protocol,
    *,
    content: Content | None = None,
) -> tuple[Outcome, Stored | None]:
    """Verify now; a verified linkback is stored before the sender is answered.
    ``content`` replaces what the page says (a trackback's own title and excerpt)."""
    outcome = service.verifier.verify(source, target, sync=True)
    if not isinstance(outcome, Verified):
        return outcome, None
    said = content or outcome.content
    spam = outcome.spam or mostly_links(outcome.content)
    if spam:
        status = Status.SPAM
    elif allowed(service.rules(), said.author.url, source):
        status = Status.APPROVED
    else:
        status = Status.PENDING
    stored = service.store.add(source, target, protocol, status, said)
    if spam and stored.created:
        service.store.set_status(stored.id, Status.SPAM, spam)
    elif stored.created and service.akismet is not None:
        service.akismet.check_later(service.store, stored.id, source, target, protocol, said)
    return outcome, stored
