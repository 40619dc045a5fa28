"""Running ``linkback`` where file permissions apply to it, even when the tests run as root.

Root writes into a read-only folder as if it were not, and the suite runs as root in CI. A
command started through :class:`Unprivileged` loses the two capabilities that override file
permissions (``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``) before it starts, so that for it,
as for any user, a folder without write permission is read-only.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_capabilities() -> None:
    """In the child, before exec: the capabilities leave the bounding set, so the program
    run (as root or not) never regains them."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


class Unprivileged:
    """Runs commands for which file permissions hold."""

    preexec = staticmethod(_drop_file_capabilities)  # for subprocess's preexec_fn

    def run(
        self, args: Sequence[str], *, cwd: Path, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = {key: value for key, value in os.environ.items() if key != "LINKBACK_SEND"}
        return subprocess.run(
            list(args),
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=_drop_file_capabilities,
        )


@pytest.fixture
def unprivileged(tmp_path: Path) -> Unprivileged:
    """Skips the test where permissions cannot be made to hold (a root without the right
    to drop capabilities)."""
    closed = tmp_path / "closed"
    closed.mkdir()
    closed.chmod(0o555)
    probe = (
        "import pathlib, sys\n"
        "try:\n    pathlib.Path(sys.argv[1], 'x').touch()\nexcept PermissionError:\n"
        "    sys.exit(0)\nsys.exit(1)\n"
    )
    try:
        result = Unprivileged().run([sys.executable, "-c", probe, str(closed)], cwd=tmp_path)
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"file permissions cannot be made to hold here: {error}")
    finally:
        closed.chmod(0o755)
    if result.returncode != 0:
        pytest.skip(f"file permissions cannot be made to hold here: {result.stderr}")
    return Unprivileged()
