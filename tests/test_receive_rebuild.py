"""The rebuild hook: POSTed once approvals have settled for a minute, retried on failure,
never more than once a minute, and not again after a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from linkback.common.settings import ConfigError
from linkback.receive.config import from_mapping
from linkback.receive.rebuild import Rebuilder
from linkback.receive.store import SqlStore, Status, open_store
from tests.admin_data import add
from tests.peer import Answer, Peer
from tests.receiver import Receiver


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(str(tmp_path / "linkback.sqlite"))
    yield opened
    opened.close()


def rebuilder(store: SqlStore, hook: str) -> Rebuilder:
    config = from_mapping({"site_url": ["http://127.0.0.3/"], "rebuild_hook": hook})
    return Rebuilder(config, store)


def test_posted_once_approvals_settle_and_retried_on_failure(store: SqlStore, peer: Peer) -> None:
    hook = peer.add_endpoint("/hook", Answer(500), Answer(204))
    first = add(store, "http://127.0.0.2/a")
    second = add(store, "http://127.0.0.2/b")
    now = time.time()
    assert rebuilder(store, hook.url).tick(now + 120) is False  # pending ones: nothing to show
    store.set_status(first, Status.APPROVED)
    store.set_status(second, Status.APPROVED)
    assert rebuilder(store, hook.url).tick(now + 30) is False  # not settled for a minute yet
    assert hook.bodies == []
    assert rebuilder(store, hook.url).tick(now + 62) is False  # the hook answers 500
    assert rebuilder(store, hook.url).tick(now + 100) is False  # at most once a minute
    assert len(hook.bodies) == 1
    assert rebuilder(store, hook.url).tick(now + 123) is True  # retried, answered 204
    assert len(hook.bodies) == 2
    sent = json.loads(hook.bodies[1])
    assert sent == {"event": "linkbacks-changed", "approved": 2, "seq": store.last_seq()}
    assert rebuilder(store, hook.url).tick(now + 999) is False  # a restart: not again
    assert len(hook.bodies) == 2


def test_a_rejection_of_an_approved_one_rebuilds_too(store: SqlStore, peer: Peer) -> None:
    hook = peer.add_endpoint("/hook", Answer(200))
    shown = add(store, "http://127.0.0.2/a", status=Status.APPROVED)
    now = time.time()
    assert rebuilder(store, hook.url).tick(now + 61) is True
    store.set_status(shown, Status.REJECTED)
    assert rebuilder(store, hook.url).tick(now + 90) is False  # within a minute of the last
    assert rebuilder(store, hook.url).tick(now + 122) is True
    assert json.loads(hook.bodies[1])["approved"] == 0


def test_an_unreachable_hook_is_logged_and_kept(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    with Peer("127.0.0.8") as gone:
        url = gone.url("/hook")
    add(store, "http://127.0.0.2/a", status=Status.APPROVED)
    assert rebuilder(store, url).tick(time.time() + 61) is False
    assert "rebuild hook failed" in caplog.text
    assert store.counter("rebuild_seq") == 0


def test_the_service_runs_both_chores_only_when_configured(
    make_receiver: Callable[..., Receiver], peer: Peer
) -> None:
    bare = make_receiver()
    assert bare.service.notifier is None and bare.service.rebuilder is None
    assert bare.service.chores.tasks == []
    full = make_receiver(
        rebuild_hook=peer.url("/hook"),
        notify_email="owner@example.org",
        smtp_url="smtp://127.0.0.7:2525",
    )
    service = full.service
    assert service.chores.tasks == [service.notifier.tick, service.rebuilder.tick]  # type: ignore[union-attr]
    assert service.chores._thread.is_alive()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"notify_email": "me@example.org"}, "go together"),
        ({"notify_email": "me@example.org", "smtp_url": "mail.example.org"}, "--smtp-url"),
        ({"rebuild_hook": "ftp://example.org/"}, "--rebuild-hook"),
        ({"akismet_url": "rest.akismet.com"}, "--akismet-url"),
    ],
)
def test_bad_moderation_options_stop_at_start(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_mapping({"site_url": ["http://127.0.0.3/"], **values})
