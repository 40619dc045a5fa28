"""Concurrency: per-host and total limits, a slow host holding up nobody, one GET per target."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from linkback import Settings, Source, send
from linkback.sending.dispatch import Scheduler
from tests.peer import Peer


def _settings(tmp_path: Path, **values: object) -> Settings:
    chosen = {"send": True, "allow_private": True, "timeout": 5, "check_live": False, **values}
    return Settings.from_mapping(
        chosen, site_url="http://127.0.0.9/", base_dir=tmp_path, environ={}
    )


def _source(slug: str, targets: list[str]) -> Source:
    content = "".join(f'<p><a href="{url}">link</a></p>' for url in targets)
    return Source(url=f"http://127.0.0.9/{slug}/", title=slug, content=content)


def test_scheduler_keeps_per_host_and_total_limits() -> None:
    scheduler = Scheduler(concurrency=3, per_host=2)
    lock = threading.Lock()
    running: dict[str, int] = {"a": 0, "b": 0}
    peaks = {"a": 0, "b": 0, "all": 0}

    def work(host: str) -> None:
        with lock:
            running[host] += 1
            peaks[host] = max(peaks[host], running[host])
            peaks["all"] = max(peaks["all"], sum(running.values()))
        time.sleep(0.02)
        with lock:
            running[host] -= 1

    done: list[str] = []
    for index in range(30):
        host = "ab"[index % 2]
        scheduler.submit(host, lambda host=host: work(host), done.append)
    scheduler.run()
    assert len(done) == 30
    assert peaks["a"] == peaks["b"] == 2
    assert peaks["all"] == 3


class _Arrivals(list):
    """A peer's ``received`` list that also notes when each ping arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: object) -> None:
        super().append(item)
        self.times.append(time.monotonic())


def test_a_slow_host_does_not_hold_up_the_others(tmp_path: Path) -> None:
    with (
        Peer("127.0.0.2", latency=0.4, verify=False) as slow,
        Peer("127.0.0.5", verify=False) as fast,
    ):
        slow.received, fast.received = _Arrivals(), _Arrivals()
        slow_targets = [slow.post_url("webmention", f"s{i}") for i in range(4)]
        fast_targets = [fast.post_url("webmention", f"f{i}") for i in range(20)]
        report = send(
            [_source("post", slow_targets + fast_targets)],
            _settings(tmp_path, concurrency=4, per_host=2),
        )
    assert sum(report.sent.values()) == 24
    assert slow.max_in_flight <= 2 and fast.max_in_flight <= 2
    # The fast host's 40 requests all finish while the slow one is still answering its 8.
    assert max(fast.received.times) < min(slow.received.times)


def test_one_discovery_get_per_target_whatever_links_to_it(tmp_path: Path) -> None:
    with Peer("127.0.0.2", verify=False) as peer:
        target = peer.post_url("webmention")
        sources = [_source(f"p{i}", [target]) for i in range(5)]
        report = send(sources, _settings(tmp_path))
        gets = [path for method, path in peer.requests if method == "GET"]
    assert gets == ["/webmention/post/"]
    assert report.sent["webmention"] == 5
    assert {item.source for item in peer.received} == {source.url for source in sources}
