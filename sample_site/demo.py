"""`make demo`: the whole loop of a static blog that sends linkbacks, on loopback only.

A peer blog (127.0.0.2) has posts that accept Webmention, Pingback or Trackback and checks
every ping the way WordPress does: it fetches the source page and looks for the link. The
Pelican sample is published, "uploaded" to a folder served at its public URL (127.0.0.3), and
`linkback deliver` sends the pings that waited for the pages to be online; the MkDocs sample
does the same on 127.0.0.4. Publishing again sends nothing. Then the peer links back to a
Pelican article and pings it; `linkback serve` receives, verifies and keeps the linkbacks,
and `linkback mentions` approves them. Each sample site runs in a
temporary copy, so the repository stays untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from rich import box
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sample_site.receiving import receive_back  # noqa: E402
from tests.peer import Peer, Received, StaticSite  # noqa: E402

# The address of the peer blog written in the sample sites; the demo's peer runs elsewhere.
SAMPLE_PEER = "http://127.0.0.2:8002"
GENERATED = ("output", "site", "deployed", "linkback-sent.json*", "__pycache__")
console = Console(highlight=False)


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="linkback-demo-") as work, Peer("127.0.0.2") as peer:
        console.rule("[bold]linkback demo")
        console.print(f"The peer blog runs at {peer.base_url}")
        failures = [
            failure
            for name, folder, host, upload in SITES
            for failure in demo_site(name, folder, host, upload, Path(work), peer)
        ]
    console.rule()
    seconds = time.monotonic() - started
    if failures:
        for failure in failures:
            console.print(f"[red]FAILED:[/] {failure}")
        return 1
    console.print(f"The demo ran in {seconds:.1f} s.")
    return 0


# Each sample site: its folder under sample_site/, the loopback host serving it, and its
# Makefile's upload target (the Pelican sample's is named as pelican-quickstart names it).
SITES = (
    ("Pelican", "pelican", "127.0.0.3", "rsync_upload"),
    ("MkDocs", "mkdocs", "127.0.0.4", "upload"),
)


def demo_site(name: str, folder: str, host: str, upload: str, work: Path, peer: Peer) -> list[str]:
    """One sample site: its upload target (publish, copy, deliver), then `make publish`."""
    site_dir = copy_site(ROOT / "sample_site" / folder, work / folder, peer)
    deployed = site_dir / "deployed"
    deployed.mkdir()
    with StaticSite(deployed, host) as site:
        env = site_environment(site)
        console.rule(f"{name}: make {upload}", style="cyan")
        console.print(
            f"A copy of sample_site/{folder} in {site_dir}; its deployed/ folder is served "
            f"at {site.url}\n`make {upload}` publishes with sending on (pages not online yet "
            "keep their pings pending), copies the site into deployed/ and runs "
            "`linkback deliver`."
        )
        received_before = len(peer.received)
        run(["make", upload, f"DEPLOYDIR={deployed}"], site_dir, env)
        received = peer.received[received_before:]
        show_received(received)
        console.rule(f"{name}: make publish, again", style="cyan")
        requests_before = len(peer.requests)
        run(["make", "publish"], site_dir, env)
        repeated = peer.requests[requests_before:]
        console.print(f"The peer received {len(repeated)} requests during the second publish.")
        shown = show_linkbacks(deployed)
        failures = []
        if name == "Pelican":
            console.rule(f"{name}: the peer blog pings the site back", style="cyan")
            failures += receive_back(site, site_dir, env, work, peer, console)
    if not shown:
        failures.append(f"{name}: no page shows approved linkbacks")
    if not received:
        failures.append(f"{name}: the peer received no linkback")
    if repeated:
        failures.append(f"{name}: the second publish contacted the peer: {repeated}")
    return failures


def copy_site(sample: Path, destination: Path, peer: Peer) -> Path:
    """A clean copy of a sample site whose links point at the running peer."""
    shutil.copytree(sample, destination, ignore=shutil.ignore_patterns(*GENERATED))
    for path in destination.rglob("*"):
        if path.suffix in (".md", ".py", ".yml", ".yaml"):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(SAMPLE_PEER, peer.base_url), encoding="utf-8")
    return destination


def site_environment(site: StaticSite) -> dict[str, str]:
    """The sample sites read their public URL and the loopback permission from here."""
    env = dict(os.environ)
    env.pop("LINKBACK_SEND", None)  # publishconf.py decides, not the caller's shell
    for name in ("MAKEFLAGS", "MAKELEVEL"):  # the site's make is not a part of `make demo`
        env.pop(name, None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SITEURL"] = site.url.rstrip("/")
    env["ALLOW_PRIVATE"] = "1"
    return env


def run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    console.print(f"\n[bold]$ {' '.join(command)}[/]")
    sys.stdout.flush()
    subprocess.run(command, cwd=cwd, env=env, check=True)


def show_received(received: list[Received]) -> None:
    """What the peer accepted, paths only, to fit a terminal; trackbacks also carry a title."""
    table = Table(title=f"The peer blog received {len(received)} linkbacks", box=box.SIMPLE_HEAD)
    for column in ("protocol", "from (this site)", "to (the peer)"):
        table.add_column(column, overflow="fold")
    for item in sorted(received, key=lambda item: (item.source, item.target, item.protocol)):
        table.add_row(item.protocol, _path(item.source), _path(item.target))
    console.print(table)
    for item in received:
        if item.protocol == "trackback":
            console.print(
                f"trackback to {_path(item.target)}: {item.title!r} from {item.blog_name!r}"
            )


def show_linkbacks(deployed: Path) -> list[Path]:
    """Where the approved linkbacks of the sample's jf2 file were rendered, and their counts."""
    pages = sorted(deployed.rglob("*.html"))
    shown = [page for page in pages if 'class="linkback-linkbacks"' in page.read_text("utf-8")]
    for page in shown:
        html = page.read_text(encoding="utf-8")
        counts = html.split('class="linkback-summary">', 1)[1].split("<", 1)[0]
        console.print(f"Approved linkbacks shown under {page.relative_to(deployed)}: {counts}")
    return shown


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


if __name__ == "__main__":
    sys.exit(main())
