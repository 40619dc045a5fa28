"""The receiving half of `make demo`: the peer blog links back to an article of the sample
site and pings it by all three protocols; `linkback serve` receives and verifies them, they
arrive as pending, `linkback mentions approve` approves them, the API lists them, and the
next `make publish` renders them under the article from that API."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

import requests
from rich.console import Console

from tests.peer import Peer, StaticSite

SERVICE_HOST = "127.0.0.7"


def receive_back(
    site: StaticSite,
    site_dir: Path,
    env: dict[str, str],
    work: Path,
    peer: Peer,
    console: Console,
) -> list[str]:
    deployed = site_dir / "deployed"
    article = _an_article(site, deployed)
    if article is None:
        return ["receiving: the sample site has no article"]
    with socket.socket() as probe:
        probe.bind((SERVICE_HOST, 0))
        port = probe.getsockname()[1]
    db = work / "linkback.sqlite"
    service = f"http://{SERVICE_HOST}:{port}"
    command = [
        "linkback",
        "serve",
        "--site-url",
        site.url,
        "--allow-private",
        "--db",
        str(db),
        "--host",
        SERVICE_HOST,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    console.print(f"\n[bold]$ {' '.join(command)}[/]")
    log = (work / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "linkback", *command[1:]], stderr=log, stdout=log
    )
    try:
        _wait(service)
        console.print(f"The service answers at {service}; the peer blog links to {article}")
        _ping_back(peer, service, article)
        _wait(service, empty_queue=True)
        _mentions(console, "list", "--db", str(db))
        listed = subprocess.run(
            [sys.executable, "-m", "linkback", "mentions", "list", "--db", str(db), "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        ids = [str(entry["id"]) for entry in json.loads(listed.stdout)]
        _mentions(console, "approve", *ids, "--db", str(db))
        _mentions(console, "list", "--status", "approved", "--db", str(db))
        feed = requests.get(f"{service}/api/linkbacks", timeout=5).json()
        console.print(
            f"GET {service}/api/linkbacks: {len(feed['children'])} approved linkbacks, "
            "what the plugins render at the next build."
        )
        shown = _publish_from_service(site_dir, env, service, article, site, console)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        log.close()
    failures = []
    if len(ids) != 3:
        failures.append(f"receiving: {len(ids)} pending linkbacks, expected 3")
    if len(feed["children"]) != 3:
        failures.append(f"receiving: the API lists {len(feed['children'])} approved, expected 3")
    if not all(f"1 {kind}" in shown for kind in ("mention", "pingback", "trackback")):
        failures.append(f"receiving: the rebuilt article shows {shown!r}")
    if code != 0:
        failures.append(f"receiving: linkback serve exited {code} on SIGTERM")
    return failures


def _publish_from_service(
    site_dir: Path,
    env: dict[str, str],
    service: str,
    article: str,
    site: StaticSite,
    console: Console,
) -> str:
    """`make publish` with the service's API as mentions_url; the article's block summary."""
    command = ["make", "publish"]
    console.print(f"\n[bold]$ MENTIONS_URL={service}/api/linkbacks {' '.join(command)}[/]")
    sys.stdout.flush()
    subprocess.run(
        command, cwd=site_dir, env={**env, "MENTIONS_URL": f"{service}/api/linkbacks"}, check=True
    )
    page = site_dir / "output" / article.removeprefix(site.url) / "index.html"
    html = page.read_text(encoding="utf-8")
    marker = 'class="linkback-summary">'
    shown = html.split(marker, 1)[1].split("<", 1)[0] if marker in html else ""
    console.print(f"Linkbacks from the service shown under {article}: {shown or 'none'}")
    return shown


def _an_article(site: StaticSite, deployed: Path) -> str | None:
    for page in sorted(deployed.rglob("*.html")):
        relative = page.relative_to(deployed).as_posix()
        if "<article" in page.read_text(encoding="utf-8") and relative != "index.html":
            return site.url + relative.removesuffix("index.html")
    return None


def _ping_back(peer: Peer, service: str, article: str) -> None:
    sources = {}
    for protocol in ("webmention", "pingback", "trackback"):
        sources[protocol] = peer.add_page(
            f"/replies/{protocol}/",
            f"<!DOCTYPE html><html><head><title>A reply by {protocol}</title></head><body>"
            f'<p>I read <a href="{article}">this article</a> and wrote back.</p></body></html>',
        )
    requests.post(
        f"{service}/webmention",
        {"source": sources["webmention"], "target": article},
        timeout=5,
    ).raise_for_status()
    xmlrpc.client.ServerProxy(f"{service}/xmlrpc").pingback.ping(sources["pingback"], article)
    requests.post(
        f"{service}/trackback",
        params={"target": article},
        data={"url": sources["trackback"], "title": "A trackback", "blog_name": "The peer"},
        timeout=5,
    ).raise_for_status()


def _wait(service: str, *, empty_queue: bool = False) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            health = requests.get(f"{service}/health", timeout=1).json()
            if not empty_queue or health["queue"] == 0:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"linkback serve at {service} did not become ready")


def _mentions(console: Console, *args: str) -> None:
    console.print(f"\n[bold]$ linkback mentions {' '.join(args)}[/]")
    sys.stdout.flush()
    subprocess.run([sys.executable, "-m", "linkback", "mentions", *args], check=True)
