"""``linkback serve`` under test, on SQLite or PostgreSQL, as its contract runs it.

Two options differ from the defaults, both for the loopback: ``--allow-private`` (the
sources are on 127.0.1.x) and ``--rate-limit``, raised out of reach because one load
generator on one address stands for thousands of senders (the limiter still runs on every
request).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import requests

from .process import Child

RATE_LIMIT = 1_000_000_000


class LinkbackServe:
    """One or more ``linkback serve`` processes on one store (several: PostgreSQL only)."""

    accepted = 201
    accept_path = "/webmention"
    idle_path = "/health"

    def __init__(
        self,
        label: str,
        db: str,
        site_url: str,
        ports: list[int],
        logs: Path,
        python: str = sys.executable,
        extra: list[str] | None = None,
    ) -> None:
        self.label = label
        self.db = db
        self.python = python
        self.urls = [f"http://127.0.0.1:{port}" for port in ports]
        self.url = self.urls[0]
        self.children = [
            Child(
                [
                    python,
                    "-m",
                    "linkback",
                    "serve",
                    "--site-url",
                    site_url,
                    "--db",
                    db,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--allow-private",
                    "--rate-limit",
                    str(RATE_LIMIT),
                    *(extra or []),
                ],
                logs / f"{re.sub(r'[^A-Za-z0-9]+', '-', label)}-{port}.log",
                f"http://127.0.0.1:{port}/health",
            )
            for port in ports
        ]

    def start(self) -> None:
        for child in self.children:
            child.start()

    def stop(self) -> int | None:
        codes = [child.stop() for child in self.children]
        return None if None in codes else max(code or 0 for code in codes)

    def kill(self) -> None:
        for child in self.children:
            child.kill()

    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    def queue_length(self) -> int | None:
        """The queue length ``/health`` reports (None when it cannot be read)."""
        try:
            answer = requests.get(f"{self.url}/health", timeout=10)
        except requests.RequestException:
            return None
        try:
            found = _find_queue(answer.json())
        except ValueError:
            match = re.search(r"\d+", answer.text)
            found = int(match.group()) if match else None
        return found

    def listed(self) -> list[dict[str, object]]:
        """Every stored linkback, from ``linkback mentions list --status all --json``."""
        done = subprocess.run(
            [
                self.python,
                "-m",
                "linkback",
                "mentions",
                "list",
                "--status",
                "all",
                "--json",
                "--db",
                self.db,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode:
            raise RuntimeError(f"linkback mentions list failed: {done.stderr.strip()[-300:]}")
        return list(json.loads(done.stdout))

    def stored(self) -> Counter[str]:
        return Counter(str(entry["status"]) for entry in self.listed())


def _find_queue(data: object) -> int | None:
    """The first integer under a key that names the queue, anywhere in ``data``."""
    if isinstance(data, dict):
        for key, value in data.items():
            if "queue" in str(key).lower() and isinstance(value, int):
                return value
        for value in data.values():
            found = _find_queue(value)
            if found is not None:
                return found
    return None
