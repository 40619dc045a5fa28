"""pelican-plugin-linkbacks, the existing Pelican sender, in an environment of its own.

It gets the same Pelican and Markdown versions as the project's environment, so that the
two plain builds match and only the plugins differ. The environment is kept between runs.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

PACKAGE = "pelican-plugin-linkbacks"


def requirements() -> list[str]:
    return [f"pelican=={version('pelican')}", f"markdown=={version('markdown')}", PACKAGE]


def ensure_reference_env(folder: Path) -> Path:
    """Create (once) the environment and return its ``pelican`` command."""
    wanted = "\n".join(requirements())
    stamp = folder / "installed.txt"
    pelican = folder / "bin" / "pelican"
    if stamp.exists() and stamp.read_text() == wanted and pelican.exists():
        return pelican
    print(f"installing {PACKAGE} into {folder} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    done = subprocess.run([*pip, *requirements()], capture_output=True, text=True)
    if done.returncode:  # pip's chatter only matters when it failed
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"could not install {PACKAGE}; --no-reference runs without it")
    stamp.write_text(wanted)
    return pelican


def reference_version(folder: Path) -> str:
    python = folder / "bin" / "python"
    code = f"from importlib.metadata import version; print(version({PACKAGE!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()
