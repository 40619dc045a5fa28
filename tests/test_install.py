"""The package as a user installs it: the built wheel in a fresh venv, nothing of the clone.

The wheel is built as ``make dist`` builds it (``python -m build``: the sdist, then the wheel
from the sdist, each in an isolated environment), so a file left out of the sdist or the
wheel breaks this test. pip installs the dependencies from PyPI or, usually, from its cache.
Every command runs outside the clone, so that nothing can be imported from its folders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import linkback
from tests.peer import Peer, StaticSite

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[1]
RECEIVER = "https://receiver.example.org"


def run(command: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run with an environment that points at nothing of the clone or of the test venv."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "LINKBACK_SEND")
    }
    environ.update(env)
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def venv_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv holding the built wheel with its Pelican extra."""
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    built = run([sys.executable, "-m", "build", "--outdir", dist, ROOT], work)
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list(dist.glob("linkback-*.whl"))
    assert len(wheels) == 1 and list(dist.glob("linkback-*.tar.gz")), list(dist.iterdir())
    venv = work / "venv"
    created = run([sys.executable, "-m", "venv", venv], work)
    assert created.returncode == 0, created.stdout + created.stderr
    python = venv / "bin" / "python"
    installed = run(
        [python, "-m", "pip", "install", "--quiet", f"{wheels[0]}[pelican]"],
        work,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv / "bin"


def test_installed_command_and_modules_come_from_the_venv(venv_bin: Path, tmp_path: Path) -> None:
    version = run([venv_bin / "linkback", "--version"], tmp_path)
    assert version.returncode == 0, version.stdout + version.stderr
    assert version.stdout.strip() == f"linkback {linkback.__version__}"
    where = run(
        [
            venv_bin / "python",
            "-c",
            "import json, linkback, pelican_linkback, mkdocs_linkback; "
            "print(json.dumps([m.__file__ for m in "
            "(linkback, pelican_linkback, mkdocs_linkback)]))",
        ],
        tmp_path,
    )
    assert where.returncode == 0, where.stdout + where.stderr
    site_packages = venv_bin.parent / "lib"
    for module_file in json.loads(where.stdout):
        assert Path(module_file).is_relative_to(site_packages), module_file
    licence = run([venv_bin / "python", "-m", "pip", "show", "--files", "linkback"], tmp_path)
    assert "LICENSE" in licence.stdout, licence.stdout


def test_pelican_build_with_the_installed_plugin_sends_and_decorates(
    venv_bin: Path, tmp_path: Path, peer: Peer, site: StaticSite, site_dir: Path
) -> None:
    """A tiny site built by the venv's own ``pelican``: the plugin loads, adds its tags and
    Trackback block, and sends a Webmention that the loopback peer verifies and accepts."""
    target = peer.post_url("webmention", "installed")
    blog = tmp_path / "blog"
    (blog / "content").mkdir(parents=True)
    (blog / "content" / "hello.md").write_text(
        "Title: Hello\nDate: 2026-11-22\nSlug: hello\n\n"
        f"A link to [a post]({target}) that the peer accepts.\n",
        encoding="utf-8",
    )
    (blog / "pelicanconf.py").write_text(
        'SITENAME = "Installed"\n'
        f'SITEURL = "{site.url.rstrip("/")}"\n'
        'PATH = "content"\n'
        'TIMEZONE = "UTC"\n'
        'ARTICLE_URL = "{slug}/"\n'
        'ARTICLE_SAVE_AS = "{slug}/index.html"\n'
        "FEED_ALL_ATOM = None\n"
        "CATEGORY_FEED_ATOM = None\n"
        'PLUGINS = ["pelican_linkback"]\n'
        "LINKBACK_SEND = True\n"
        "LINKBACK_ALLOW_PRIVATE = True  # the peer and the site are on loopback\n"
        "LINKBACK_TIMEOUT = 5\n"
        f'LINKBACK_WEBMENTION_ENDPOINT = "{RECEIVER}/webmention"\n'
        f'LINKBACK_TRACKBACK_ENDPOINT = "{RECEIVER}/trackback"\n',
        encoding="utf-8",
    )
    # The output folder is the served site: each page is live once Pelican has written it.
    built = run(
        [venv_bin / "pelican", "content", "-o", site_dir, "-s", "pelicanconf.py"],
        blog,
        COLUMNS="400",
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "1 sent (1 webmention)" in output, output
    article = site.url + "hello/"
    assert [(r.protocol, r.source, r.target) for r in peer.received] == [
        ("webmention", article, target)
    ]
    html = (site_dir / "hello" / "index.html").read_text(encoding="utf-8")
    assert html.count(f'<link rel="webmention" href="{RECEIVER}/webmention">') == 1
    assert f'dc:identifier="{article}"' in html
    assert 'class="linkback-trackback-uri"' in html
    log = json.loads((blog / "linkback-sent.json").read_text(encoding="utf-8"))
    assert log["links"][article][target]["status"] == "sent"
