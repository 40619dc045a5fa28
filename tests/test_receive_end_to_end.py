"""Real senders against a real ``linkback serve``: the project's own ``linkback send`` for
all three protocols, and ronkyuu (a Webmention sender from PyPI)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ronkyuu

from linkback.receive.store import Linkback, Status
from tests.peer import StaticSite, trackback_rdf
from tests.receiver import Receiver, serve_process, wait_verified

PROTOCOLS = ("webmention", "pingback", "trackback")


@pytest.fixture
def blog(tmp_path: Path) -> Iterator[StaticSite]:
    """The sender's deployed blog, on its own loopback host."""
    folder = tmp_path / "blog"
    folder.mkdir()
    with StaticSite(folder, "127.0.0.4") as running:
        yield running


@pytest.fixture
def service(tmp_path: Path, site: StaticSite) -> Iterator[str]:
    process, url = serve_process(
        ["--site-url", site.url, "--allow-private", "--workers", "1"], cwd=tmp_path
    )
    yield url
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def article(site: StaticSite, site_dir: Path, name: str, service: str) -> str:
    """A page of the site that advertises the service, as the plugins write it."""
    url = f"{site.url}{name}/"
    ping = f"{service}/trackback?target={url}"
    (site_dir / name).mkdir()
    (site_dir / name / "index.html").write_text(
        f"<!DOCTYPE html><html><head><title>{name}</title>"
        f'<link rel="webmention" href="{service}/webmention">'
        f'<link rel="pingback" href="{service}/xmlrpc"></head>'
        f"<body><article><p>{name}</p></article>{trackback_rdf(url, ping)}</body></html>",
        encoding="utf-8",
    )
    return url


def post(blog: StaticSite, folder: str, target: str) -> Path:
    """The sender's generated (and deployed) page linking to ``target``."""
    out = blog.root / folder
    (out / "post").mkdir(parents=True)
    (out / "post" / "index.html").write_text(
        f"<!DOCTYPE html><html><head><title>Reply in {folder}</title></head><body><article>"
        f'<p>About <a href="{target}">that article</a>: I agree.</p></article></body></html>',
        encoding="utf-8",
    )
    return out


def test_linkback_send_to_linkback_serve_by_all_three_protocols(
    tmp_path: Path, site: StaticSite, site_dir: Path, blog: StaticSite, service: str
) -> None:
    for protocol in PROTOCOLS:
        target = article(site, site_dir, protocol, service)
        out = post(blog, protocol, target)
        sent_log = tmp_path / f"{protocol}.json"
        assert "1 sent" in linkback_send(out, f"{blog.url}{protocol}/", sent_log, protocol)
    records = wait_verified(str(tmp_path / "linkback.sqlite"), 3)
    assert sorted((r.protocol.value, r.status.value) for r in records) == [
        (p, "pending") for p in sorted(PROTOCOLS)
    ]
    trackback = next(r for r in records if r.protocol.value == "trackback")
    assert trackback.content.title == "Reply in trackback"


def test_ronkyuu_from_pypi_delivers_a_webmention(
    tmp_path: Path, site: StaticSite, site_dir: Path, blog: StaticSite, service: str
) -> None:
    target = article(site, site_dir, "ronkyuu", service)
    post(blog, "ronkyuu", target)
    source = f"{blog.url}ronkyuu/post/"
    result = ronkyuu.sendWebmention(source, target, test_urls=False, timeout=5)
    assert result is not None and result.status_code == 201
    (record,) = wait_verified(str(tmp_path / "linkback.sqlite"), 1)
    assert record.source == source and record.status is Status.PENDING


def linkback_send(out: Path, site_url: str, sent_log: Path, protocol: str = "webmention") -> str:
    """``linkback send`` of an output folder, as a deploy step runs it; returns its output."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "linkback",
            "send",
            str(out),
            "--site-url",
            site_url,
            "--protocols",
            protocol,
            "--allow-private",
            "--sent-log",
            str(sent_log),
            "--timeout",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def page(out: Path, name: str, text: str, *targets: str) -> None:
    """A page of the sender's deployed blog saying ``text`` and linking ``targets``."""
    (out / name).mkdir(parents=True, exist_ok=True)
    links = "".join(f'<p>See <a href="{target}">this</a>.</p>' for target in targets)
    (out / name / "index.html").write_text(
        f"<!DOCTYPE html><html><head><title>{name}</title></head><body>"
        f'<article class="h-entry"><div class="e-content"><p>{text}</p>{links}</div>'
        "</article></body></html>",
        encoding="utf-8",
    )


def test_edits_and_deletions_reach_linkback_serve(
    tmp_path: Path, site: StaticSite, site_dir: Path, blog: StaticSite, receiver: Receiver
) -> None:
    """W3C Webmention 3.1.4 and 3.1.5 between the two halves of the project: an edited page
    updates its approved mention, a removed link and a deleted page take theirs back."""
    kept = article(site, site_dir, "kept", receiver.url)
    unlinked = article(site, site_dir, "unlinked", receiver.url)
    out, log = blog.root / "blog", tmp_path / "sent.json"
    base = f"{blog.url}blog/"
    post_url, gone_url = f"{base}post/", f"{base}gone/"

    def settled(source: str, target: str, *, becomes: Status | None = None) -> Linkback:
        """The pair's record once verified (and, with ``becomes``, once it has that status)."""
        deadline = time.monotonic() + 15
        while True:
            record = receiver.store.find(source, target)
            done = record is not None and receiver.store.queue_length() == 0
            if done and record.status is (becomes or record.status) is not Status.QUEUED:
                return record
            assert time.monotonic() < deadline, f"{source} -> {target}: {record}"
            time.sleep(0.05)

    page(out, "post", "First thoughts.", kept, unlinked)
    page(out, "gone", "A page to be deleted.", kept)
    assert "3 sent" in linkback_send(out, base, log)
    first = [settled(post_url, kept), settled(post_url, unlinked), settled(gone_url, kept)]
    assert [record.status for record in first] == [Status.PENDING] * 3
    assert "First thoughts." in first[0].content.text
    for record in first:
        assert receiver.store.set_status(record.id, Status.APPROVED)
    # An update is fetched at once here; the service waits 30 s after a source's last fetch.
    receiver.service.verifier.window = type(receiver.service.verifier.window)(0.0)

    page(out, "post", "Second thoughts.", kept)
    assert "2 Webmention updates" in linkback_send(out, base, log)
    settled(post_url, unlinked, becomes=Status.DELETED)
    edited = settled(post_url, kept)
    assert (edited.id, edited.status) == (first[0].id, Status.APPROVED)
    assert "Second thoughts." in edited.content.text

    shutil.rmtree(out / "gone")
    assert "1 Webmention update" in linkback_send(out, base, log)
    settled(gone_url, kept, becomes=Status.DELETED)
    assert json.loads(log.read_text())["sources"][gone_url]["deleted"] is True
    assert settled(post_url, kept).status is Status.APPROVED
    seq = receiver.store.last_seq()
    linkback_send(out, base, log)  # nothing changed: nothing is sent, nothing changes there
    assert receiver.store.last_seq() == seq
