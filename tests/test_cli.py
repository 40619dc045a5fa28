"""The ``linkback`` command (SPEC "Command line"), run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import links_to
from tests.peer import Answer, Peer, StaticSite, trackback_answer
from tests.unprivileged import Unprivileged

NETWORK = ["--allow-private", "--timeout", "2"]


def linkback(*args: str, cwd: Path, module: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the installed ``linkback`` script (or ``python -m linkback``)."""
    command = [sys.executable, "-m", "linkback"] if module else [_script()]
    env = {key: value for key, value in os.environ.items() if key != "LINKBACK_SEND"}
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def _script() -> str:
    return str(Path(sys.executable).with_name("linkback"))


def page(body: str, title: str = "A page") -> str:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head>"
        f"<body><nav><a href='https://nav.example/'>nav</a></nav>{body}</body></html>"
    )


def write(root: Path, relative: str, html: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def sent_log(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "linkback-sent.json").read_text(encoding="utf-8"))


def test_send_reads_each_page_content_and_pings(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    targets = {kind: peer.post_url(kind) for kind in ("webmention", "pingback", "trackback")}
    nav_target = peer.post_url("all", "nav")
    write(
        site_dir,
        "2026/first/index.html",
        page(f"<article>{links_to(targets['webmention'])}</article>", "First").replace(
            "https://nav.example/", nav_target
        ),
    )
    write(
        site_dir,
        "about.html",
        page(f'<div class="h-entry"><div class="e-content">{links_to(targets["pingback"])}</div>'),
    )
    write(site_dir, "plain/index.html", page(f"<main>{links_to(targets['trackback'])}</main>"))
    result = linkback("send", str(site_dir), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 sent (1 webmention, 1 pingback, 1 trackback)" in result.stdout
    links = sent_log(tmp_path)["links"]
    assert set(links) == {f"{site.url}2026/first/", f"{site.url}about.html", f"{site.url}plain/"}
    assert links[f"{site.url}2026/first/"][targets["webmention"]]["status"] == "sent"
    assert nav_target not in json.dumps(links)
    assert ("GET", "/all/nav/") not in peer.requests
    (trackback,) = peer.received_by("trackback")
    assert trackback.title == "A page"


def test_body_is_the_content_when_nothing_else_is(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    target = peer.post_url("webmention")
    write(site_dir, "bare.html", f"<html><body>{links_to(target)}</body></html>")
    result = linkback("send", str(site_dir), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r.target for r in peer.received] == [target]


def test_content_selector_overrides(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    inside, outside = peer.post_url("webmention", "in"), peer.post_url("webmention", "out")
    html = page(
        f"<article>{links_to(outside)}</article><section id=post>{links_to(inside)}</section>"
    )
    write(site_dir, "post.html", html)
    result = linkback(
        "send",
        str(site_dir),
        "--site-url",
        site.url,
        "--content-selector",
        "#post",
        *NETWORK,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert [r.target for r in peer.received] == [inside]


def test_send_decorates_the_pages(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    path = write(site_dir, "post/index.html", page("<article><p>No links.</p></article>", "Hi"))
    result = linkback(
        "send",
        str(site_dir),
        "--site-url",
        site.url,
        "--webmention-endpoint",
        "https://my.blog/wm",
        "--pingback-endpoint",
        "https://my.blog/xmlrpc",
        "--trackback-endpoint",
        "https://my.blog/tb",
        "--no-show-trackback-uri",
        *NETWORK,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    html = path.read_text(encoding="utf-8")
    assert html.count('<link rel="webmention" href="https://my.blog/wm">') == 1
    assert html.count('<link rel="pingback" href="https://my.blog/xmlrpc">') == 1
    assert "dc:identifier" in html and "linkback-trackback-uri" not in html
    again = linkback(
        "send",
        str(site_dir),
        "--site-url",
        site.url,
        "--webmention-endpoint",
        "https://my.blog/wm",
        *NETWORK,
        cwd=tmp_path,
    )
    assert again.returncode == 0
    assert path.read_text(encoding="utf-8") == html


def test_dry_run_writes_nothing(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    html = page(f"<article>{links_to(peer.post_url('webmention'))}</article>")
    path = write(site_dir, "post.html", html)
    result = linkback(
        "send",
        str(site_dir),
        "--site-url",
        site.url,
        "--dry-run",
        "--webmention-endpoint",
        "https://my.blog/wm",
        *NETWORK,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "1 would be sent" in result.stdout
    # Without --verbose, still what would be pinged and where.
    target, endpoint = peer.post_url("webmention"), peer.url("/webmention")
    assert f"would send {site.url}post.html -> {target} by webmention to {endpoint}" in (
        result.stderr
    )
    assert path.read_text(encoding="utf-8") == html
    assert not (tmp_path / "linkback-sent.json").exists()
    assert peer.ping_requests() == []


def test_no_send_sends_nothing(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    write(site_dir, "post.html", page(f"<article>{links_to(peer.post_url('all'))}</article>"))
    result = linkback(
        "send", str(site_dir), "--site-url", site.url, "--no-send", *NETWORK, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "not sending" in result.stdout
    assert peer.requests == []


def test_exit_code_1_when_pings_failed(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    target = peer.add_page("/error/", "no", status=500)
    write(site_dir, "post.html", page(f"<article>{links_to(target)}</article>"))
    result = linkback("send", str(site_dir), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert result.returncode == 1
    assert "1 failed" in result.stdout
    status = linkback("status", cwd=tmp_path)
    assert status.returncode == 0
    assert "failed: 1" in status.stdout
    assert target in status.stdout and "HTTP 500" in status.stdout


def test_pending_then_deliver_then_status(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "output"
    targets = [peer.post_url("webmention"), peer.post_url("pingback")]
    write(output, "post/index.html", page(f"<article>{links_to(*targets)}</article>"))
    result = linkback("send", str(output), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 pending" in result.stdout
    assert peer.ping_requests() == []
    status = linkback("status", cwd=tmp_path)
    assert "pending: 2" in status.stdout
    # The upload, then deliver.
    write(site_dir, "post/index.html", (output / "post" / "index.html").read_text())
    delivered = linkback("deliver", *NETWORK, cwd=tmp_path)
    assert delivered.returncode == 0, delivered.stderr
    assert "2 sent" in delivered.stdout
    assert Counter(r.target for r in peer.received) == dict.fromkeys(targets, 1)
    status = linkback("status", "--sent-log", str(tmp_path / "linkback-sent.json"), cwd=site_dir)
    assert "sent: 2 (1 pingback, 1 webmention)" in status.stdout
    assert "pending:" not in status.stdout
    assert linkback("deliver", *NETWORK, cwd=tmp_path).returncode == 0
    assert len(peer.ping_requests()) == 2


def test_check_live_can_be_turned_off(peer: Peer, site: StaticSite, tmp_path: Path) -> None:
    output = tmp_path / "output"
    write(
        output,
        "post.html",
        page(f"<article>{links_to(peer.add_target('t', webmention=peer.url('/wm')))}</article>"),
    )
    peer.add_endpoint("/wm")
    result = linkback(
        "send", str(output), "--site-url", site.url, "--no-check-live", *NETWORK, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "1 sent" in result.stdout


def test_discover_prints_each_endpoint_and_where(peer: Peer, tmp_path: Path) -> None:
    result = linkback("discover", peer.post_url("all"), *NETWORK, cwd=tmp_path, module=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"webmention: {peer.url('/webmention')} (")
    assert "Link header" in lines[0]
    assert lines[1].startswith(f"pingback: {peer.url('/xmlrpc')} (")
    assert "X-Pingback" in lines[1]
    assert lines[2].startswith(f"trackback: {peer.url('/trackback/all/post')} (")
    none = linkback("discover", peer.post_url("none"), *NETWORK, cwd=tmp_path)
    assert none.stdout.splitlines() == ["webmention: none", "pingback: none", "trackback: none"]


def test_discover_refuses_loopback_without_allow_private(peer: Peer, tmp_path: Path) -> None:
    result = linkback("discover", peer.post_url("all"), cwd=tmp_path)
    assert result.returncode != 0
    assert "allow_private" in result.stderr
    assert peer.requests == []


@pytest.mark.parametrize("url", ["not-a-url", "ftp://example.org/", "/relative/"])
def test_discover_needs_an_http_url(url: str, tmp_path: Path) -> None:
    result = linkback("discover", url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("linkback: error: discover needs an absolute http(s) URL")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", ".", "--site-url", "https://my.blog", "--timeout", "soon"], "timeout"),
        (["send", ".", "--site-url", "https://my.blog", "--sentlog", "x"], "sentlog"),
        (["send", "."], "--site-url"),
        (["send", "missing-folder", "--site-url", "https://my.blog"], "missing-folder"),
        (["send", ".", "--site-url", "my.blog"], "site"),
        (["send", ".", "--site-url", "https://my.blog", "--protocols", "smoke"], "smoke"),
        (["frobnicate"], "frobnicate"),
        ([], "usage"),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = linkback(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize("command", [["status"], ["deliver"], ["send", "out"]])
def test_corrupt_sent_log_exits_2_and_is_untouched(command: list[str], tmp_path: Path) -> None:
    log = tmp_path / "linkback-sent.json"
    log.write_bytes(b'{"version": 1, "links": ')
    write(tmp_path / "out", "post.html", page(links_to("http://127.0.0.9:9/x/")))
    extra = ["--site-url", "https://my.blog"] if command[0] == "send" else []
    result = linkback(*command, *extra, cwd=tmp_path)
    assert result.returncode == 2
    assert str(log) in result.stderr or "linkback-sent.json" in result.stderr
    assert log.read_bytes() == b'{"version": 1, "links": '


def test_python_m_linkback_is_the_same_program(tmp_path: Path) -> None:
    script = linkback("--version", cwd=tmp_path)
    module = linkback("--version", cwd=tmp_path, module=True)
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout
    assert script.stdout.startswith("linkback ")


def test_every_setting_is_an_option_of_send(tmp_path: Path) -> None:
    from linkback import OPTIONS

    help_text = linkback("send", "--help", cwd=tmp_path).stdout
    for option in OPTIONS:
        assert option.cli_name in help_text, option.cli_name
        if option.kind is bool:
            assert "--no-" + option.cli_name[2:] in help_text
    deliver_help = linkback("deliver", "--help", cwd=tmp_path).stdout
    for name in ("--sent-log", "--allow-private", "--timeout", "--concurrency", "--per-host"):
        assert name in deliver_help
    for name in ("--user-agent", "--max-page-bytes", "--dry-run"):
        assert name in deliver_help


@pytest.mark.parametrize("number", [1, 7, 15, 19, 21, 23])
def test_discover_webmention_rocks_cases(number: int, peer: Peer, tmp_path: Path) -> None:
    from tests.test_discovery import WEBMENTION_ROCKS, serve_webmention_rocks

    url = serve_webmention_rocks(peer)[number]
    result = linkback("discover", url, *NETWORK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = peer.url(WEBMENTION_ROCKS[number][3])
    assert result.stdout.splitlines()[0].startswith(f"webmention: {expected} (")


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """A configuration error: exit 2 and one line that says so, never a traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("linkback: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["send", "out", "--site-url", "http://[::1"],
        ["send", "out", "--site-url", "https://my.blog:port/"],
        ["send", "out", "--site-url", "https://my.blog", "--timeout", "inf"],
        ["send", "out", "--site-url", "https://my.blog", "--timeout", "nan"],
        ["send", "out", "--site-url", "https://my.blog", "--max-page-bytes", "1e999"],
        ["deliver", "--timeout", "inf"],
        ["discover", "http://127.0.0.9:9/", "--timeout", "nan"],
    ],
)
def test_bad_numbers_and_urls_are_one_line_errors(args: list[str], tmp_path: Path) -> None:
    write(tmp_path / "out", "post.html", page(links_to("http://127.0.0.9:9/x/")))
    one_line_error(linkback(*args, cwd=tmp_path))


@pytest.mark.parametrize(
    "args",
    [
        ["--site-url", "ftp://x/"],
        ["--site-url", "https://my.blog", "--content-selector", "[[["],
        ["--site-url", "https://my.blog", "--sent-log", "out/linkback-sent.json"],
        ["--site-url", "https://my.blog", "--sent-log", "corrupt.json"],
    ],
)
def test_nothing_is_written_before_everything_is_checked(args: list[str], tmp_path: Path) -> None:
    """A run that stops leaves every page as the generator wrote it (no RDF block about
    ftp://x/ that a corrected run would keep, "never twice")."""
    (tmp_path / "corrupt.json").write_text("{", encoding="utf-8")
    before = {
        path: write(tmp_path / "out", path, page(links_to("http://127.0.0.9:9/x/"))).read_bytes()
        for path in ("a/index.html", "b.html")
    }
    endpoints = ["--webmention-endpoint", "https://my.blog/wm", "--trackback-endpoint", "/tb"]
    one_line_error(linkback("send", "out", *args, *endpoints, *NETWORK, cwd=tmp_path))
    assert {path: (tmp_path / "out" / path).read_bytes() for path in before} == before


def test_an_unwritable_page_is_a_one_line_error_before_any_page_changes(
    unprivileged: Unprivileged, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    first = write(site, "a.html", page(links_to("http://127.0.0.9:9/x/")))
    second = write(site, "b.html", page(links_to("http://127.0.0.9:9/y/")))
    second.chmod(0o444)
    before = first.read_bytes()
    result = unprivileged.run(
        [_script(), "send", "site", "--site-url", "https://my.blog", "--no-check-live"]
        + ["--webmention-endpoint", "https://my.blog/wm"],
        cwd=tmp_path,
    )
    assert "b.html" in one_line_error(result)
    assert first.read_bytes() == before


@pytest.mark.parametrize("check_live", ["--check-live", "--no-check-live"])
def test_targets_go_out_exactly_as_written_iris_included(
    check_live: str, peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    """Receivers match the target literally: ``café`` is not ``caf%C3%A9`` to them."""
    endpoint = peer.add_endpoint("/wm")
    headers = {"Link": f'<{endpoint.url}>; rel="webmention"'}
    peer.add_page("/t/caf%C3%A9/", "<html><body>a post</body></html>", headers=headers)
    target = peer.url("/t/café/?q=thé&x=1")
    write(site_dir, "post/index.html", page(f'<article><a href="{target}">it</a></article>'))
    result = linkback(
        "send", str(site_dir), "--site-url", site.url, check_live, *NETWORK, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "1 sent" in result.stdout
    assert endpoint.forms() == [{"source": f"{site.url}post/", "target": target}]
    assert list(sent_log(tmp_path)["links"][f"{site.url}post/"]) == [target]


def test_a_pending_iri_target_is_delivered_as_written(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    """The pending record keeps the target as written, and deliver's live check finds it."""
    endpoint = peer.add_endpoint("/wm")
    headers = {"Link": f'<{endpoint.url}>; rel="webmention"'}
    peer.add_page("/t/caf%C3%A9/", "<html><body>a post</body></html>", headers=headers)
    target = peer.url("/t/café/")
    output = tmp_path / "output"
    html = page(f'<article><a href="{target}">it</a></article>')
    write(output, "post/index.html", html)
    result = linkback("send", str(output), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert "1 pending until live" in result.stdout, result.stderr
    assert list(sent_log(tmp_path)["links"][f"{site.url}post/"]) == [target]
    write(site_dir, "post/index.html", (output / "post/index.html").read_text(encoding="utf-8"))
    result = linkback("deliver", *NETWORK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 sent (1 webmention)" in result.stdout
    assert endpoint.forms() == [{"source": f"{site.url}post/", "target": target}]


def test_xhtml_pages_with_an_xml_declaration_are_read(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    target = peer.post_url("webmention")
    write(
        site_dir,
        "post/index.html",
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"'
        ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head>'
        f'<body><article><p>See <a href="{target}">this</a>.</p></article></body></html>',
    )
    result = linkback("send", str(site_dir), "--site-url", site.url, *NETWORK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 links in 1 pages: 1 sent (1 webmention)" in result.stdout
    assert [r.target for r in peer.received_by("webmention")] == [target]


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b1m"
IN_XML = "\x9b2J\u202e"  # XML 1.0 holds no C0 control: a C1 one and a bidi override


def test_what_servers_say_is_printed_with_control_characters_escaped(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    """A header, a fault string or a trackback message must not drive the terminal."""
    endpoint = peer.add_endpoint(
        "/tb", Answer(200, trackback_answer(f"no{IN_XML}"), "text/xml; charset=utf-8")
    )
    target = peer.add_target("tb", trackback=endpoint.url)
    shown = peer.add_page("/shown/", "<html></html>", headers={"X-Pingback": f"/x{ESCAPES}"})
    write(site_dir, "post/index.html", page(f"<article>{links_to(target)}</article>"))
    runs = [
        linkback("discover", shown, *NETWORK, cwd=tmp_path),
        linkback("send", str(site_dir), "--site-url", site.url, "-v", *NETWORK, cwd=tmp_path),
        linkback("status", cwd=tmp_path),
    ]
    assert [run.returncode for run in runs] == [0, 1, 0], [run.stderr for run in runs]
    for run in runs:
        printed = run.stdout + run.stderr
        assert not any(char in printed for char in "\x1b\x07\x9b\u202e"), printed
    assert "\\x1b]0;owned\\x07" in runs[0].stdout
    assert "no\\x9b2J\\u202e" in runs[1].stderr
    assert "no\\x9b2J\\u202e" in runs[2].stdout


@pytest.mark.parametrize("command", ["status", "deliver"])
def test_a_malformed_entry_is_a_one_line_error_naming_the_file(
    command: str, tmp_path: Path
) -> None:
    log = tmp_path / "linkback-sent.json"
    log.write_text(
        '{"version": 1, "links": {"https://my.blog/a/": {"https://x.example/": '
        '{"status": ["a"]}}}}',
        encoding="utf-8",
    )
    before = log.read_bytes()
    assert str(log) in one_line_error(linkback(command, cwd=tmp_path))
    assert log.read_bytes() == before


def test_a_page_is_sent_from_as_written_not_as_a_parser_rewrites_it(
    peer: Peer, site: StaticSite, site_dir: Path, tmp_path: Path
) -> None:
    """Single quotes, ``<br>`` and entities, which a parser writes back otherwise: the
    content is found in the served page byte for byte, so an edit of a page that is live
    already sends its update at once, and the Trackback block follows the article."""
    target = peer.post_url("webmention")

    def article(text: str) -> str:
        return (
            f"<article class='post'><p>{text}<br>R&amp;D &mdash; <img src=a.png alt=''></p>"
            f"<p>See <a href='{target}'>this</a>.</p></article>"
        )

    path = write(site_dir, "post/index.html", page(article("First."), "Post"))
    send = ["send", str(site_dir), "--site-url", site.url, *NETWORK]
    assert "1 sent" in linkback(*send, cwd=tmp_path).stdout
    write(site_dir, "post/index.html", page(article("Edited."), "Post"))
    result = linkback(*send, "--trackback-endpoint", "https://my.blog/tb", cwd=tmp_path)
    assert "1 Webmention update" in result.stdout and "pending" not in result.stdout, result.stdout
    assert [r.target for r in peer.received_by("webmention")] == [target, target]
    html = path.read_text(encoding="utf-8")
    assert html.index("</article>") < html.index("dc:identifier") < html.index("</body>")
    assert article("Edited.") in html
