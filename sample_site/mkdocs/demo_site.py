"""Build, deploy and deliver the sample MkDocs site, as a real deployment does.

The pages link to the peer blog at ``PEER_IN_DOCS``; the demo and the tests run their peer
on a free port, so they work on a copy whose links point at it (:func:`copy_site`).
Then: ``mkdocs build`` (pings wait as pending: the pages are not live yet), the upload
(:func:`deploy` copies ``site/`` into the served folder), and ``linkback deliver``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_IN_DOCS = "http://127.0.0.2:8002"
SENT_LOG = "linkback-sent.json"


def copy_site(destination: Path, peer_url: str) -> Path:
    """A copy of this site in ``destination`` whose links point at the peer ``peer_url``."""
    shutil.copytree(
        HERE,
        destination,
        ignore=shutil.ignore_patterns("site", SENT_LOG, "__pycache__", "*.py", ".gitignore"),
    )
    for page in (destination / "docs").rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace(PEER_IN_DOCS, peer_url.rstrip("/")), encoding="utf-8")
    return destination


def environment(site_url: str, *, send: bool, extra: Mapping[str, str] | None = None) -> dict:
    """The variables mkdocs.yml reads: the public URL, sending, loopback allowed."""
    return {
        **os.environ,
        "SITE_URL": site_url,
        "LINKBACK_SEND": "1" if send else "0",
        "LINKBACK_ALLOW_PRIVATE": "true",
        **(extra or {}),
    }


def build(
    folder: Path, site_url: str, *args: str, send: bool = True
) -> subprocess.CompletedProcess[str]:
    """``mkdocs build`` of the site in ``folder`` for the public URL ``site_url``."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", *args],
        cwd=folder,
        env=environment(site_url, send=send),
        capture_output=True,
        text=True,
        check=False,
    )


def deploy(folder: Path, deployed: Path) -> None:
    """The upload: the served folder becomes exactly the built ``site/``."""
    shutil.rmtree(deployed, ignore_errors=True)
    shutil.copytree(folder / "site", deployed)


def deliver(folder: Path) -> subprocess.CompletedProcess[str]:
    """``linkback deliver``: the pings left pending by the build, now that the pages are live."""
    return subprocess.run(
        [sys.executable, "-m", "linkback", "deliver", "--sent-log", str(folder / SENT_LOG)]
        + ["--allow-private", "--timeout", "5"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def run(folder: Path, peer_url: str, site_url: str, deployed: Path) -> int:
    """The whole demo for this site; ``deployed`` must be served at ``site_url``."""
    copy_site(folder, peer_url)
    steps = (
        ("mkdocs build", lambda: build(folder, site_url)),
        ("upload", lambda: deploy(folder, deployed)),
        ("linkback deliver", lambda: deliver(folder)),
    )
    for name, step in steps:
        print(f"$ {name}", flush=True)
        result = step()
        if result is not None:
            print(result.stdout + result.stderr, end="", flush=True)
            if result.returncode:
                return result.returncode
    return 0
