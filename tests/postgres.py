"""A real PostgreSQL server for the store tests, started by the tests themselves.

The server binaries come from Debian's ``postgresql`` package (``.ci/run`` installs it);
the cluster lives in a temporary folder, listens on 127.0.0.1 on a free port, and is
stopped when the session ends. PostgreSQL refuses to run as root, so as root (CI) the
cluster belongs to the unprivileged ``postgres`` user and its commands run through
``runuser``. When no server can be started, :func:`start` raises :class:`Unavailable`
with the reason, which the fixtures turn into a skip that says so.

Its fixtures, ``postgres_server`` (one cluster a session) and ``postgres_url`` (a fresh
database a test), reach every test module through ``pytest_plugins`` in ``conftest.py``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


class Unavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


@dataclass
class Server:
    """A running cluster: connect with :attr:`url`, make databases with :meth:`database`."""

    bindir: Path
    datadir: Path
    port: int
    runas: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database(self, name: str) -> str:
        """A new empty database, and the URL that reaches it."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "immediate", check=False)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self.runas, str(self.bindir / tool), *args],
            check=check,
            capture_output=True,
            timeout=60,
        )


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise Unavailable("no PostgreSQL server binaries (apt-get install postgresql)")


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start() -> Server:
    """Initialise and start a throw-away cluster; raises :class:`Unavailable`."""
    bindir = _bindir()
    runas: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="linkback-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no 'postgres' user") from None
        os.chown(root, owner.pw_uid, owner.pw_gid)
        runas = ["runuser", "-u", "postgres", "--"]
    server = Server(bindir, root / "data", _free_port(), runas)
    try:
        server._run("initdb", "-D", str(server.datadir), "-U", "postgres", "-A", "trust")
        server._run(
            "pg_ctl",
            "start",
            "-w",
            "-D",
            str(server.datadir),
            "-l",
            str(root / "log"),
            "-o",
            f"-h 127.0.0.1 -p {server.port} -k {root} -c fsync=off -c full_page_writes=off",
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"cannot start PostgreSQL: {error} {detail.decode()[-300:]}") from None
    _wait_ready(server)
    return server


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", server.port)) == 0:
                return
        time.sleep(0.1)
    server.stop()
    raise Unavailable("PostgreSQL did not start listening within 30 s")


_counter = iter(range(1, 1_000_000))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """One cluster for the whole session; skipped, with the reason, when none can start."""
    try:
        server = start()
    except Unavailable as reason:
        pytest.skip(f"PostgreSQL: {reason}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Server) -> str:
    """A fresh, empty database for one test."""
    return postgres_server.database(f"linkback_test_{os.getpid()}_{next(_counter)}")
