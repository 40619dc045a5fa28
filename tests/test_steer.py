"""Steering the sent-log from the command line: forget, retry, baseline; one configuration
for every command (--config, LINKBACK_* in the environment); errors and help that say so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import links_to
from tests.peer import Peer, StaticSite
from tests.test_cli import NETWORK, page, sent_log, write


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed ``linkback`` with a clean LINKBACK_* environment plus ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINKBACK_")}
    environ.update(env or {})
    script = str(Path(sys.executable).with_name("linkback"))
    return subprocess.run(
        [script, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60
    )


def write_log(folder: Path, links: dict) -> Path:
    path = folder / "linkback-sent.json"
    path.write_text(json.dumps({"version": 1, "links": links}, indent=2, sort_keys=True))
    return path


def entry(status: str, detail: str = "", protocol: str | None = None) -> dict:
    return {
        "status": status,
        "protocol": protocol,
        "endpoint": None,
        "attempts": 1,
        "first_attempt": None,
        "last_attempt": None,
        "detail": detail,
        "retry": status == "failed",
    }


LOG = {
    "https://my.blog/a/": {
        "https://x.example/1": entry("sent", "HTTP 202", "webmention"),
        "https://x.example/2": entry("failed", "HTTP 500", "webmention"),
        "http://127.0.0.9/3": entry("skipped", "loopback address refused"),
        "https://y.example/4": entry("skipped", "baseline"),
    },
    "https://my.blog/b/": {
        "https://x.example/1": entry("no-endpoint", "no endpoint advertised"),
        "https://y.example/5": entry("pending", "not live yet", "webmention"),
    },
}


def keys(folder: Path) -> set[tuple[str, str]]:
    return {
        (source, target)
        for source, targets in sent_log(folder)["links"].items()
        for target in targets
    }


def test_retry_forgets_failures_and_safety_skips_but_never_a_baseline(tmp_path: Path) -> None:
    write_log(tmp_path, LOG)
    result = run("retry", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "forgot failed: https://my.blog/a/ -> https://x.example/2 (HTTP 500)" in result.stdout
    assert "forgot skipped: https://my.blog/a/ -> http://127.0.0.9/3" in result.stdout
    assert "linkback: forgot 2 entries of" in result.stdout
    assert ("https://my.blog/a/", "https://y.example/4") in keys(tmp_path)
    assert len(keys(tmp_path)) == 4


@pytest.mark.parametrize(
    ("args", "gone"),
    [
        (["--status", "no-endpoint"], {("https://my.blog/b/", "https://x.example/1")}),
        (
            ["--target", r"x\.example/1$"],
            {
                ("https://my.blog/a/", "https://x.example/1"),
                ("https://my.blog/b/", "https://x.example/1"),
            },
        ),
        (
            ["--source", "https://my.blog/b/"],
            {
                ("https://my.blog/b/", "https://x.example/1"),
                ("https://my.blog/b/", "https://y.example/5"),
            },
        ),
        (
            ["--source", "https://my.blog/a/", "--target", "example", "--status", "sent"],
            {("https://my.blog/a/", "https://x.example/1")},
        ),
    ],
)
def test_forget_removes_what_matches_every_condition(
    args: list[str], gone: set[tuple[str, str]], tmp_path: Path
) -> None:
    write_log(tmp_path, LOG)
    before = keys(tmp_path)
    result = run("forget", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert keys(tmp_path) == before - gone
    assert f"forgot {len(gone)} entries" in result.stdout


def test_forget_dry_run_lists_and_keeps(tmp_path: Path) -> None:
    log = write_log(tmp_path, LOG)
    before = log.read_bytes()
    result = run("forget", "--status", "sent", "--dry-run", cwd=tmp_path)
    assert "would forget sent: https://my.blog/a/ -> https://x.example/1" in result.stdout
    assert log.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forget"], "at least one of --source, --target and --status"),
        (["forget", "--target", "(("], "--target '((' is not a regular expression"),
    ],
)
def test_forget_refuses_to_guess(args: list[str], message: str, tmp_path: Path) -> None:
    log = write_log(tmp_path, LOG)
    before = log.read_bytes()
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert log.read_bytes() == before


@pytest.mark.parametrize(
    "command", [["deliver"], ["status"], ["forget", "--status", "failed"], ["retry"]]
)
def test_a_missing_sent_log_is_an_error_and_leaves_no_lock(
    command: list[str], tmp_path: Path
) -> None:
    """Run in the wrong folder, a deploy step must fail, not print "0 links" and pass."""
    result = run(*command, "--sent-log", "linkback-snet.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"linkback: error: there is no sent-log at {tmp_path / 'linkback-snet.json'}; give its "
        "place with --sent-log or --config (a build that sends creates it)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_run_is_recovered_with_retry(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    """Issue 18: a first send without --allow-private skips loopback targets; the summary
    must not call them sent, and retry lets the corrected run send them."""
    write(site_dir, "post/index.html", page(f"<article>{links_to(peer.post_url('all'))}</article>"))
    wrong = run("send", str(site_dir), "--site-url", site.url, "--timeout", "2", cwd=tmp_path)
    assert "1 skipped by safety rules" in wrong.stdout
    again = run("send", str(site_dir), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert "0 sent, 0 already sent, 0 without endpoint, 1 skipped by safety rules" in again.stdout
    assert "`linkback retry` tries them again" in again.stdout
    assert run("retry", cwd=tmp_path).returncode == 0
    fixed = run("send", str(site_dir), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert "1 sent (1 webmention)" in fixed.stdout, fixed.stdout + fixed.stderr
    assert len(peer.received) == 1


def test_baseline_of_an_output_folder_makes_no_request_and_only_later_links_are_sent(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    old = [peer.post_url("webmention", "old"), peer.post_url("pingback", "old")]
    write(site_dir, "2019/post/index.html", page(f"<article>{links_to(*old)}</article>"))
    result = run("baseline", str(site_dir), "--site-url", site.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 links in 1 pages: 2 recorded as baseline (never sent)" in result.stdout
    assert peer.requests == [] and site.requests == []
    recorded = sent_log(tmp_path)["links"][f"{site.url}2019/post/"]
    assert {e["status"] for e in recorded.values()} == {"skipped"}
    assert {e["detail"] for e in recorded.values()} == {"baseline"}
    new = peer.post_url("webmention", "new")
    write(site_dir, "2026/post/index.html", page(f"<article>{links_to(new)}</article>"))
    sent = run("send", str(site_dir), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert "1 sent (1 webmention), 0 already sent, 0 without endpoint, 2 skipped as baseline" in (
        sent.stdout
    ), sent.stderr
    assert [r.target for r in peer.received] == [new]
    # A baseline run again keeps what is there: nothing becomes a baseline that was sent.
    again = run("baseline", str(site_dir), "--site-url", site.url, cwd=tmp_path)
    assert "0 recorded as baseline (never sent), 3 already in the sent-log" in again.stdout
    assert sent_log(tmp_path)["links"][f"{site.url}2026/post/"][new]["status"] == "sent"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["baseline"], "baseline needs OUTPUT_DIR and --site-url URL, or --config FILE"),
        (["baseline", "out"], "baseline needs OUTPUT_DIR and --site-url URL"),
        (["baseline", "out", "--site-url", "/blog"], "absolute http(s) URL of the site"),
        (["baseline", "--config", "site.toml"], "no such file"),
        (["status", "--config", "hugo.toml"], "no such file"),
    ],
)
def test_baseline_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_config_file_that_is_neither_pelican_nor_mkdocs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("baseURL = 'https://my.blog/'\n")
    result = run("status", "--config", "config.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a Pelican settings file (.py) nor an mkdocs.yml" in result.stderr


def test_the_environment_sets_any_setting_and_the_command_line_wins(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    write(site_dir, "post/index.html", page(f"<article>{links_to(peer.post_url('all'))}</article>"))
    env = {"LINKBACK_ALLOW_PRIVATE": "1", "LINKBACK_TIMEOUT": "2", "LINKBACK_SENT_LOG": "e.json"}
    result = run("send", str(site_dir), "--site-url", site.url, cwd=tmp_path, env=env)
    assert "1 sent" in result.stdout, result.stderr
    assert (tmp_path / "e.json").exists()
    refused = run(
        "send", str(site_dir), "--site-url", site.url, "--no-allow-private", "--sent-log",
        "f.json", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert "1 skipped by safety rules" in refused.stdout
    typo = run("status", cwd=tmp_path, env={"LINKBACK_SENTLOG": "e.json"})
    assert typo.returncode == 2
    assert "LINKBACK_SENTLOG; did you mean LINKBACK_SENT_LOG?" in typo.stderr


def test_linkback_send_0_says_so(site: StaticSite, site_dir: Path, tmp_path: Path) -> None:
    write(site_dir, "post.html", page("<article><a href='https://x.example/'>x</a></article>"))
    result = run(
        "send", str(site_dir), "--site-url", site.url, cwd=tmp_path, env={"LINKBACK_SEND": "0"}
    )
    assert "not sending (LINKBACK_SEND=0 in the environment)" in result.stdout
    assert "--send is off" not in result.stdout
    option = run("send", str(site_dir), "--site-url", site.url, "--no-send", cwd=tmp_path)
    assert "not sending (--no-send)" in option.stdout


def test_deliver_says_why_each_page_still_waits(
    peer: Peer, site: StaticSite, tmp_path: Path
) -> None:
    output = tmp_path / "output"
    write(output, "post/index.html", page(f"<article>{links_to(peer.post_url('all'))}</article>"))
    run("send", str(output), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    result = run("deliver", *NETWORK, cwd=tmp_path)  # no upload: the page is not live
    assert result.returncode == 0
    assert f"linkback: {site.url}post/ still waits: not live yet: HTTP 404" in result.stderr
    assert "1 pending until live (still waiting for the page to be live)" in result.stdout
    assert "run `linkback deliver`" not in result.stdout
    # The build's User-Agent, from the site URL the sent-log keeps.
    assert sent_log(tmp_path)["site_url"] == site.url
    agents = {seen.headers["User-Agent"] for seen in site.seen}
    assert len(agents) == 1 and f"(+{site.url})" in agents.pop()


def test_help_shows_defaults_examples_and_exit_codes(tmp_path: Path) -> None:
    help_text = run("send", "--help", cwd=tmp_path).stdout
    assert "(default: 15)" in help_text
    assert "(default: on for this command" in help_text
    assert "examples:\n  linkback send public --site-url" in help_text
    assert "exit codes:\n  0  done" in help_text
    assert "exit codes:" in run("--help", cwd=tmp_path).stdout
    discover = run("discover", "--help", cwd=tmp_path).stdout
    for unrelated in ("--concurrency", "--per-host", "--dry-run", "--sent-log", "--config"):
        assert unrelated not in discover
    serve = run("serve", "--help", cwd=tmp_path, env={"COLUMNS": "200"}).stdout
    assert "(comma-separated) (required)" in serve  # --site-url
    assert "(default: 8411)" in serve
    assert "(default: http://HOST:PORT)" in serve
    assert "examples:\n  linkback serve --site-url https://my.blog/" in serve
    assert "--public-url https://mentions.my.blog" in serve
    assert "exit codes:\n  0  stopped by SIGTERM" in serve


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["send", "out", "--site-url", "https://my.blog", "--alow-private"],
            "did you mean --allow-private?",
        ),
        (["deliver", "--sent-lg", "x"], "did you mean --sent-log?"),
        (["sned"], "did you mean send?"),
        (["discover", "https://my.blog/", "--concurrency", "3"], "unrecognized arguments"),
    ],
)
def test_typos_get_the_closest_option(args: list[str], message: str, tmp_path: Path) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize("url", ["not-a-url", "ftp://my.blog/", "/relative"])
def test_discover_a_non_url_is_a_usage_error(url: str, tmp_path: Path) -> None:
    result = run("discover", url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"linkback: error: discover needs an absolute http(s) URL, got {url!r}"
    )


def test_since_on_the_command_line_reads_each_page_date(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    old, new, undated = (peer.post_url("webmention", slug) for slug in ("old", "new", "undated"))
    meta = "<meta property='article:published_time' content='2019-05-01T10:00:00+02:00'>"
    write(site_dir, "old/index.html", page(f"{meta}<article>{links_to(old)}</article>"))
    write(
        site_dir,
        "new/index.html",
        page(f"<article><time datetime='2026-11-02'>2 Nov</time>{links_to(new)}</article>"),
    )
    write(site_dir, "about/index.html", page(f"<article>{links_to(undated)}</article>"))
    result = run(
        "send", str(site_dir), "--site-url", site.url, "--since", "2026-01-01", *NETWORK,
        cwd=tmp_path,
    )  # fmt: skip
    assert "2 sent (2 webmention)" in result.stdout, result.stderr
    assert "1 skipped as baseline" in result.stdout
    assert {r.target for r in peer.received} == {new, undated}
    assert not [path for _, path in peer.requests if "/old/" in path]
    bad = run("send", str(site_dir), "--site-url", site.url, "--since", "last year", cwd=tmp_path)
    assert bad.returncode == 2
    assert "--since must be a date (YYYY-MM-DD) or None, got 'last year'" in bad.stderr
