"""``linkback serve`` as a real process: SIGTERM, kill -9, two processes on one PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import requests

from linkback.receive.store import Status, open_store
from tests.peer import Peer, StaticSite
from tests.receiver import serve_process, wait_verified


def page(target: str) -> str:
    return f'<!DOCTYPE html><title>Source</title><p><a href="{target}">x</a></p>'


def _start(tmp_path: Path, site: StaticSite, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    return serve_process(
        ["--site-url", site.url, "--allow-private", "--workers", "1", *extra], cwd=tmp_path
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_sigterm_stops_cleanly_with_exit_0_and_a_request_log(
    tmp_path: Path, site: StaticSite
) -> None:
    process, url = _start(tmp_path, site)
    assert requests.get(url + "/health", timeout=5).json()["queue"] == 0
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert b'"GET /health HTTP/1.1" 200' in process.stderr.read()  # type: ignore[union-attr]
    assert (tmp_path / "linkback.sqlite").exists()


def test_kill_9_while_queued_and_while_verifying_loses_and_repeats_nothing(
    tmp_path: Path, site: StaticSite, peer: Peer, target: str
) -> None:
    fetched: Counter[str] = Counter()

    def slow(handler) -> None:  # type: ignore[no-untyped-def]
        fetched[handler.path] += 1
        if fetched[handler.path] == 1:
            time.sleep(3)  # the first fetch is interrupted by the kill
        handler.reply(200, page(target))

    sources = [peer.add_handler(f"/post/{n}", slow) for n in range(5)]
    process, url = _start(tmp_path, site)
    for source in sources:
        answer = requests.post(url + "/webmention", {"source": source, "target": target}, timeout=5)
        assert answer.status_code == 201
    deadline = time.monotonic() + 10
    while not fetched and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fetched, "verification started"
    _kill(process)  # some are being verified, the others are queued
    process, url = _start(tmp_path, site)
    try:
        records = wait_verified(str(tmp_path / "linkback.sqlite"), len(sources))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert sorted(r.source for r in records) == sorted(sources)
    assert all(r.status is Status.PENDING for r in records)


def test_two_processes_on_one_postgresql_verify_each_job_once(
    tmp_path: Path, site: StaticSite, peer: Peer, target: str, postgres_url: str
) -> None:
    fetched: Counter[str] = Counter()

    def count(handler) -> None:  # type: ignore[no-untyped-def]
        fetched[handler.path] += 1
        time.sleep(0.05)
        handler.reply(200, page(target))

    sources = [peer.add_handler(f"/p/{n}", count) for n in range(30)]
    first, first_url = _start(tmp_path, site, "--db", postgres_url)
    second, second_url = _start(tmp_path, site, "--db", postgres_url, "--workers", "2")
    try:
        for n, source in enumerate(sources):
            url = first_url if n % 2 else second_url
            answer = requests.post(url + "/webmention", {"source": source, "target": target})
            assert answer.status_code == 201
        records = wait_verified(postgres_url, len(sources), timeout=30)
    finally:
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
        for process in (first, second):
            assert process.wait(timeout=20) == 0
    assert len(records) == len(sources)
    assert set(fetched.values()) == {1}


def test_sigterm_while_verifying_finishes_the_verification_and_exits_0(
    tmp_path: Path, site: StaticSite, peer: Peer, target: str
) -> None:
    started: list[float] = []

    def slow(handler) -> None:  # type: ignore[no-untyped-def]
        started.append(time.monotonic())
        time.sleep(1)
        handler.reply(200, page(target))

    source = peer.add_handler("/slow", slow)
    process, url = _start(tmp_path, site)
    answer = requests.post(url + "/webmention", {"source": source, "target": target}, timeout=5)
    assert answer.status_code == 201
    deadline = time.monotonic() + 10
    while not started and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    store = open_store(str(tmp_path / "linkback.sqlite"))
    try:
        (record,) = store.list()
        assert record.status is Status.PENDING and store.queue_length() == 0
    finally:
        store.close()


def test_public_url_and_admin_token_are_options_of_serve(
    tmp_path: Path, site: StaticSite, target: str
) -> None:
    """``--public-url`` names the status URLs (the service behind a proxy), and
    ``--admin-token`` turns the moderation page on: without it every admin path is 404."""
    public = "https://example.org/linkback"
    process, url = _start(tmp_path, site, "--public-url", public, "--admin-token", "s3cret")
    try:
        answer = requests.post(
            url + "/webmention", {"source": "http://127.0.0.2/x", "target": target}, timeout=5
        )
        assert answer.status_code == 201
        assert answer.headers["Location"].startswith(public + "/webmention/status/")
        login = requests.get(url + "/admin/", timeout=5)
        assert login.status_code == 200 and 'name="token"' in login.text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    process, url = _start(tmp_path, site)
    try:
        assert requests.get(url + "/admin/", timeout=5).status_code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
