"""``linkback serve``'s app on a real uvicorn server in a thread, on loopback, for tests.
Its fixtures reach every test module through ``pytest_plugins`` in ``conftest.py``.

``receiver`` serves the site at the ``site`` fixture (127.0.0.3) on 127.0.0.6, verifying
sources served by ``peer`` (127.0.0.2) with ``allow_private``; ``make_receiver`` takes other
options. A real subprocess of ``linkback serve`` is :func:`serve_process`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from linkback.receive.config import ServiceConfig, from_mapping
from linkback.receive.store import Linkback, Status
from tests.peer import StaticSite

HOST = "127.0.0.6"


class Receiver:
    def __init__(self, config_values: dict[str, Any], host: str = HOST) -> None:
        # Imported here: conftest loads this module in every venv, and the ones that test
        # old Pelican versions have no `serve` extra.
        import uvicorn

        from linkback.receive.app import create_app

        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.config: ServiceConfig = from_mapping(
            {"public_url": self.url, "allow_private": True, **config_values}
        )
        self.app = create_app(self.config)
        self.service = self.app.state.service
        self.store = self.service.store
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", access_log=False, lifespan="on", proxy_headers=False
            )
        )
        self.session = requests.Session()
        self.session.trust_env = False

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self.sock.close()
        self.session.close()

    def post(self, path: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url + path, data=data, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=10, **kwargs)

    def webmention(self, source: str, target: str) -> requests.Response:
        return self.post("/webmention", {"source": source, "target": target})

    def settled(self, linkback_id: int, timeout: float = 10) -> Linkback:
        """The linkback once it is no longer queued (verification done)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.store.get(linkback_id)
            assert record is not None
            if (record.status is not Status.QUEUED and self.store.queue_length() == 0) or (
                time.monotonic() > deadline
            ):
                return record
            time.sleep(0.02)


def id_of(answer: requests.Response) -> int:
    return int(answer.headers["Location"].rsplit("/", 1)[1])


@pytest.fixture
def make_receiver(site: StaticSite, tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(**values: Any) -> Receiver:
        chosen = {
            "site_url": [site.url],
            "db": str(tmp_path / f"linkback-{len(started)}.sqlite"),
            **values,
        }
        receiver = Receiver(chosen)
        receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(make_receiver: Callable[..., Receiver]) -> Receiver:
    return make_receiver()


@pytest.fixture
def target(site: StaticSite, site_dir: Path) -> str:
    """An article of the site (it exists: the site answers 200 for it)."""
    page = site_dir / "article" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<!DOCTYPE html><title>Article</title><p>Hello</p>", encoding="utf-8")
    return site.url + "article/"


def wait_verified(db: str, count: int, timeout: float = 15) -> list[Linkback]:
    """The pending linkbacks of the store at ``db`` once ``count`` are and none is queued,
    else, at ``timeout``, every linkback it has."""
    from linkback.receive.store import open_store

    store = open_store(db)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = store.list(statuses=[Status.PENDING])
            if len(records) >= count and store.queue_length() == 0:
                return records
            time.sleep(0.1)
        return store.list()
    finally:
        store.close()


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def serve_process(
    args: list[str], *, cwd: Path, host: str = HOST, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``linkback serve ARGS`` as a subprocess; returns it and its URL once it answers."""
    port = port or free_port(host)
    process = subprocess.Popen(
        [sys.executable, "-m", "linkback", "serve", "--host", host, "--port", str(port), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"linkback serve exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("linkback serve did not answer within 20 s")
