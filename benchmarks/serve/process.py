"""A server under test as a child process: started in a session of its own, so that a
``kill -9`` reaches its whole tree (master and workers) and nothing else."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import requests


class Failed(Exception):
    """The server did not start, or did not stop; the message says which and where its log is."""


class Child:
    """One server process tree; ``pid`` is the root whose tree the memory sampler walks."""

    def __init__(
        self,
        command: Sequence[str],
        log: Path,
        health: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.command = list(command)
        self.log = log
        self.health = health
        self.env = dict(env) if env is not None else dict(os.environ)
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> None:
        """Start it and wait until ``health`` answers 200."""
        with self.log.open("ab") as out:
            out.write(f"\n$ {' '.join(self.command)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=out,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Failed(f"exited with {self.process.returncode} on start; see {self.log}")
            try:
                if requests.get(self.health, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.kill()
        raise Failed(f"not answering {self.health} after {timeout:g} s; see {self.log}")

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, as systemd stops a service; SIGKILL to the tree if it does not end.
        Returns the exit code, None when it had to be killed."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """``kill -9`` of the whole tree: its process group, which only it is in."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # it died by itself
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
