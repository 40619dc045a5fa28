"""``linkback forget`` and ``linkback retry``: one wrong run does not stick (run as a process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import links_to
from tests.peer import Peer, StaticSite
from tests.test_cli import linkback, page, sent_log, write

SOURCE = "https://my.blog/post/"
OTHER = "https://my.blog/other/"


def entry(status: str, detail: str = "", protocol: str | None = None) -> dict[str, object]:
    return {
        "status": status,
        "protocol": protocol,
        "endpoint": None,
        "attempts": 1,
        "first_attempt": "2026-11-22T10:00:00Z",
        "last_attempt": "2026-11-22T10:00:00Z",
        "detail": detail,
        "retry": status == "failed",
    }


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "linkback-sent.json"
    links = {
        SOURCE: {
            "https://a.example/sent/": entry("sent", "HTTP 202", "webmention"),
            "https://a.example/failed/": entry("failed", "HTTP 503", "webmention"),
            "https://b.example/private/": entry("skipped", "resolves to non-public address"),
            "https://b.example/old/": entry("skipped", "baseline"),
        },
        OTHER: {
            "https://c.example/pending/": entry("pending", "not live yet"),
            "https://c.example/failed/": entry("failed", "timed out", "pingback"),
        },
    }
    path.write_text(json.dumps({"version": 1, "links": links}, indent=2), encoding="utf-8")
    return path


def pairs(tmp_path: Path) -> set[tuple[str, str, str]]:
    links = sent_log(tmp_path)["links"]
    return {(s, t, e["status"]) for s, targets in links.items() for t, e in targets.items()}


def test_forget_by_status_removes_only_those(tmp_path: Path, log_file: Path) -> None:
    result = linkback("forget", "--status", "failed", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "forgot 2 entries" in result.stdout
    assert f"{SOURCE} -> https://a.example/failed/" in result.stdout
    assert {status for _, _, status in pairs(tmp_path)} == {"sent", "skipped", "pending"}
    assert len(pairs(tmp_path)) == 4


def test_forget_by_source_and_target_regex(tmp_path: Path, log_file: Path) -> None:
    result = linkback("forget", "--source", SOURCE, "--target", r"b\.example", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    left = {target for _, target, _ in pairs(tmp_path)}
    assert "https://b.example/private/" not in left and "https://b.example/old/" not in left
    assert "https://a.example/sent/" in left and "https://c.example/failed/" in left


def test_forget_a_whole_source_drops_its_key(tmp_path: Path, log_file: Path) -> None:
    assert linkback("forget", "--source", OTHER, cwd=tmp_path).returncode == 0
    assert set(sent_log(tmp_path)["links"]) == {SOURCE}


def test_retry_forgets_failed_and_non_baseline_skips(tmp_path: Path, log_file: Path) -> None:
    result = linkback("retry", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "forgot 3 entries" in result.stdout
    assert pairs(tmp_path) == {
        (SOURCE, "https://a.example/sent/", "sent"),
        (SOURCE, "https://b.example/old/", "skipped"),
        (OTHER, "https://c.example/pending/", "pending"),
    }


def test_a_dry_run_names_what_it_would_forget_and_writes_nothing(
    tmp_path: Path, log_file: Path
) -> None:
    before = log_file.read_bytes()
    result = linkback("retry", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "would forget 3 entries" in result.stdout
    assert log_file.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ("forget",),  # no condition: forgetting everything is deleting the log
        ("forget", "--target", "("),
        ("forget", "--status", "lost"),
    ],
)
def test_a_bad_forget_is_one_line_and_touches_nothing(
    tmp_path: Path, log_file: Path, args: tuple[str, ...]
) -> None:
    before = log_file.read_bytes()
    result = linkback(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "error:" in result.stderr.strip().splitlines()[-1]  # after argparse's usage, if any
    assert "Traceback" not in result.stderr
    assert log_file.read_bytes() == before


@pytest.mark.parametrize("command", ["deliver", "status", "forget --status failed", "retry"])
def test_a_missing_sent_log_is_an_error_that_leaves_no_lock(tmp_path: Path, command: str) -> None:
    result = linkback(*command.split(), cwd=tmp_path)
    assert result.returncode == 2
    assert "no sent-log at" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_first_run_is_undone_by_retry(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    """Finding 3: without --allow-private the loopback peer is skipped; retry, then send."""
    target = peer.post_url("webmention")
    write(site_dir, "post/index.html", page(f"<article>{links_to(target)}</article>"))
    args = ("send", str(site_dir), "--site-url", site.url, "--timeout", "2")
    first = linkback(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert pairs(tmp_path) == {(f"{site.url}post/", target, "skipped")}
    assert linkback("retry", cwd=tmp_path).returncode == 0
    again = linkback(*args, "--allow-private", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "1 sent (1 webmention)" in again.stdout
    assert len(peer.received_by("webmention")) == 1
    assert pairs(tmp_path) == {(f"{site.url}post/", target, "sent")}
