"""``GET /api/linkbacks`` read by the display's own reader, and ``linkback mentions``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from linkback import Settings
from linkback.cli import main
from linkback.common.http import Client
from linkback.display import reader
from linkback.display.model import Kind, Protocol
from linkback.receive.store import Author, Content, Status, open_store
from tests.receiver import Receiver

SITE = "http://127.0.0.3/"


def add(receiver: Receiver, n: int, status: Status, kind: Kind = Kind.REPLY) -> int:
    content = Content(
        type=kind,
        author=Author(f"Author {n}", f"https://a{n}.example/"),
        html=f"<p>Reply {n}</p>",
        text=f"Reply {n}",
    )
    return receiver.store.add(
        f"https://blog{n}.example/post",
        f"{receiver.config.site_url[0]}post{n % 2}/",
        Protocol.WEBMENTION,
        status,
        content,
        received=f"2026-01-{n + 1:02d}T00:00:00Z",
    ).id


def test_approved_only_newest_first_paged(receiver: Receiver) -> None:
    ids = [add(receiver, n, Status.APPROVED if n != 3 else Status.SPAM) for n in range(6)]
    feed = receiver.get("/api/linkbacks").json()
    assert feed["type"] == "feed" and feed["linkback-seq"] == receiver.store.last_seq()
    assert [e["wm-id"] for e in feed["children"]] == [ids[5], ids[4], ids[2], ids[1], ids[0]]
    entry = feed["children"][0]
    assert entry["wm-property"] == "in-reply-to" and entry["linkback-protocol"] == "webmention"
    assert entry["author"]["name"] == "Author 5" and entry["content"]["text"] == "Reply 5"
    page = receiver.get("/api/linkbacks", params={"per_page": 2, "page": 1}).json()
    assert [e["wm-id"] for e in page["children"]] == [ids[2], ids[1]]
    one = receiver.get(
        "/api/linkbacks", params={"target": receiver.config.site_url[0] + "post1"}
    ).json()
    assert [e["wm-id"] for e in one["children"]] == [ids[5], ids[1]]
    since = receiver.get("/api/linkbacks", params={"since_id": ids[2]}).json()
    assert [e["wm-id"] for e in since["children"]] == [ids[5], ids[4]]
    seq = feed["linkback-seq"]
    receiver.store.set_status(ids[4], Status.REJECTED)
    changed = receiver.get("/api/linkbacks", params={"changed_since": seq}).json()
    assert changed["children"] == [
        {
            "wm-id": ids[4],
            "wm-target": changed["children"][0]["wm-target"],
            "linkback-seq": seq + 1,
            "linkback-status": "rejected",
        }
    ]
    assert receiver.get("/api/linkbacks", params={"page": "x"}).status_code == 400


def test_the_display_reader_reads_the_real_api(receiver: Receiver, tmp_path: Path) -> None:
    first = add(receiver, 1, Status.APPROVED, Kind.LIKE)
    add(receiver, 2, Status.PENDING)
    settings = Settings.from_mapping(
        {
            "display": True,
            "allow_private": True,
            "mentions_url": receiver.url + "/api/linkbacks",
        },
        site_url=receiver.config.site_url[0],
        base_dir=tmp_path,
        environ={},
    )
    client = Client(settings)
    try:
        cache = reader.read(settings, logging.getLogger("test"), client)
        assert [m.kind for m in cache.mentions.values()] == [Kind.LIKE]
        receiver.store.set_status(first, Status.SPAM)
        cache = reader.read(settings, logging.getLogger("test"), client)
        assert cache.mentions == {}
    finally:
        client.close()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_mentions_moderation_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.sqlite")
    store = open_store(db)
    ids = [
        store.add(f"https://{host}/p", SITE + "a/", Protocol.PINGBACK, Status.PENDING, Content()).id
        for host in ("one.example", "spam.bad.example", "two.example")
    ]
    store.close()
    code, out = cli(capsys, "mentions", "list", "--db", db, "--json")
    assert code == 0 and [e["id"] for e in json.loads(out)] == list(reversed(ids))
    assert set(json.loads(out)[0]) >= {"id", "status", "protocol", "type", "rsvp", "author"}
    assert cli(capsys, "mentions", "approve", str(ids[0]), "--db", db)[0] == 0
    code, out = cli(capsys, "mentions", "show", str(ids[0]), "--db", db, "--json")
    assert json.loads(out)["status"] == "approved"
    code, out = cli(capsys, "mentions", "block", "*.bad.example", "--db", db)
    assert "1 past" in out
    code, out = cli(capsys, "mentions", "list", "--status", "spam", "--db", db, "--json")
    assert [(e["id"], e["reason"]) for e in json.loads(out)] == [(ids[1], "blocked")]
    assert cli(capsys, "mentions", "reject", "999", "--db", db)[0] == 1
    code, out = cli(capsys, "mentions", "list", "--status", "all", "--db", db)
    assert out.count("\n") == 3
    assert main(["mentions", "block", "not a pattern", "--db", db]) == 2


def test_import_of_a_webmention_io_export_and_jf2_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.sqlite")
    export = {
        "links": [
            {
                "source": "https://ann.example/reply",
                "target": SITE + "a/",
                "verified_date": "2024-05-01T10:00:00+00:00",
                "activity": {"type": "reply"},
                "data": {
                    "author": {"name": "Ann", "url": "https://ann.example/", "photo": None},
                    "content": "<p>Nice <script>x</script></p>",
                    "published": "2024-05-01T09:00:00+00:00",
                    "url": "https://ann.example/reply",
                },
            },
            {"source": "not a url", "target": SITE, "data": {}},
        ]
    }
    jf2 = {
        "type": "feed",
        "children": [
            {
                "type": "entry",
                "wm-source": "https://bob.example/like",
                "wm-target": SITE + "b/",
                "wm-property": "like-of",
                "wm-received": "2024-06-01T00:00:00Z",
                "author": {"name": "Bob"},
            }
        ],
    }
    (tmp_path / "io.json").write_text(json.dumps(export))
    (tmp_path / "feed.json").write_text(json.dumps(jf2))
    for _ in range(2):
        assert main(["mentions", "import", str(tmp_path / "io.json"), "--db", db]) == 0
        assert main(["mentions", "import", str(tmp_path / "feed.json"), "--db", db]) == 0
    capsys.readouterr()
    code, out = cli(capsys, "mentions", "list", "--status", "approved", "--db", db, "--json")
    entries = json.loads(out)
    assert [(e["type"], e["received"]) for e in entries] == [
        ("like", "2024-06-01T00:00:00Z"),
        ("reply", "2024-05-01T10:00:00+00:00"),
    ]
    assert "<script" not in entries[1]["content"]["html"]
    code, out = cli(capsys, "mentions", "export", "--db", db)
    assert len(json.loads(out)["children"]) == 2
    (tmp_path / "bad.json").write_text("{")
    assert main(["mentions", "import", str(tmp_path / "bad.json"), "--db", db]) == 2


def test_serve_configuration_errors_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "linkback.toml"
    config.write_text('site_url = "https://example.org/"\nverify_timout = 3\n')
    assert main(["serve", "--config", str(config)]) == 2
    assert "did you mean verify_timeout" in capsys.readouterr().err
    config.write_text('site_url = "https://example.org/"\nport = "x"\n')
    assert main(["serve", "--config", str(config)]) == 2
    assert "port" in capsys.readouterr().err
    assert main(["serve", "--site-url", "ftp://x"]) == 2


def test_the_command_line_wins_over_the_environment_over_the_file(tmp_path: Path) -> None:
    from linkback.receive.config import load

    config = tmp_path / "c.toml"
    config.write_text('site_url = "https://a.example/"\nport = 1\nworkers = 3\nrate_limit = 5\n')
    loaded = load(
        {"port": "3"},
        config_file=config,
        environ={"LINKBACK_PORT": "2", "LINKBACK_WORKERS": "4"},
    )
    assert (loaded.port, loaded.workers, loaded.rate_limit) == (3, 4, 5)
    assert loaded.site_url == ("https://a.example/",)


def test_a_corrupt_or_unreachable_store_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    assert main(["mentions", "list", "--db", str(corrupt)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("linkback: error: --db") and error.count("\n") == 1
    assert corrupt.read_bytes() == b"this is not a database" * 100
    assert main(["mentions", "list", "--db", str(tmp_path / "no" / "such.sqlite")]) == 2
    assert "does not exist" in capsys.readouterr().err
