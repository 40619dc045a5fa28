"""The store's moderation helpers on both backends: counts, rule removal, and the
compare-and-set counters the notification and the rebuild hook agree through."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkback.receive.store import Rule, RuleKind, SqlStore, Status, open_store
from tests.admin_data import add


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    db = (
        str(tmp_path / "linkback.sqlite")
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    opened = open_store(db)
    yield opened
    opened.close()


def test_counts_by_status(store: SqlStore) -> None:
    assert set(store.counts().values()) == {0}
    add(store, "http://127.0.0.2/a")
    add(store, "http://127.0.0.2/b")
    add(store, "http://127.0.0.2/c", status=Status.SPAM)
    counts = store.counts()
    assert (counts[Status.PENDING], counts[Status.SPAM], counts[Status.APPROVED]) == (2, 1, 0)


def test_a_rule_is_removed_once(store: SqlStore) -> None:
    store.add_rule(Rule(RuleKind.BLOCK, "spam.example"))
    store.add_rule(Rule(RuleKind.ALLOW, "spam.example"))
    assert store.remove_rule(Rule(RuleKind.BLOCK, "spam.example")) is True
    assert store.remove_rule(Rule(RuleKind.BLOCK, "spam.example")) is False
    assert store.rules() == [Rule(RuleKind.ALLOW, "spam.example")]


def test_one_of_many_threads_wins_a_counter(store: SqlStore) -> None:
    assert store.counter("chore") == 0
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def race(number: int) -> None:
        barrier.wait()
        if store.swap_counter("chore", 0, number + 1):
            wins.append(number + 1)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1 and store.counter("chore") == wins[0]
    assert store.swap_counter("chore", 0, 99) is False
    assert store.swap_counter("chore", wins[0], 99) is True and store.counter("chore") == 99
