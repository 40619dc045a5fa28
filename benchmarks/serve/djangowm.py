"""The reference: django-wm (newest 4.x) in a minimal Django project under gunicorn.

Its own environment (created once, pip's cache makes it quick) and a project written into
``benchmarks/work/``: the ``mentions`` app at ``/webmention/``, SQLite in WAL mode (as
linkback's default store), Celery off (``WEBMENTIONS_USE_CELERY = False``), so an accepted
Webmention is a ``PendingIncomingWebmention`` row until ``manage.py mentions_pending``
verifies it, one after the other. gunicorn writes an access log, as linkback logs one line
per request.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .process import Child

REQUIREMENTS = ["django-wm>=4,<5", "gunicorn>=21"]

SETTINGS = '''\
"""A minimal Django project around django-wm, written by the linkback benchmark."""
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
DOMAIN_NAME = "127.0.0.1"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "mentions"]
MIDDLEWARE = []
ROOT_URLCONF = "benchsite.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE / "db.sqlite3",
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
WEBMENTIONS_USE_CELERY = False
WEBMENTIONS_URL_SCHEME = "http"
WEBMENTIONS_TIMEOUT = 10
'''

URLS = """\
from django.urls import include, path

urlpatterns = [path("webmention/", include("mentions.urls"))]
"""

WSGI = """\
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
application = get_wsgi_application()
"""

MANAGE = """\
import os
import sys

from django.core.management import execute_from_command_line

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
execute_from_command_line(sys.argv)
"""

COUNTS = (
    "from mentions.models import PendingIncomingWebmention as P, Webmention as W; "
    "print(P.objects.filter(is_awaiting_retry=True).count(), "
    "W.objects.filter(validated=True).count(), W.objects.filter(validated=False).count())"
)


def ensure_env(folder: Path) -> Path:
    """Create (once) the environment; returns its ``python``."""
    wanted = "\n".join(REQUIREMENTS)
    stamp = folder / "installed.txt"
    python = folder / "bin" / "python"
    if stamp.exists() and stamp.read_text() == wanted and python.exists():
        return python
    print(f"installing django-wm and gunicorn into {folder} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
        capture_output=True,
        text=True,
    )
    if done.returncode:  # pip's chatter only matters when it failed
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit("could not install django-wm; --no-reference runs without it")
    stamp.write_text(wanted)
    return python


def versions(python: Path) -> str:
    code = (
        "from importlib.metadata import version as v; "
        "print(f\"django-wm {v('django-wm')}, Django {v('django')}, "
        "gunicorn {v('gunicorn')}\")"
    )
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()


def write_project(root: Path) -> Path:
    """The project folder (``manage.py`` and ``benchsite/``), rewritten every run."""
    package = root / "benchsite"
    package.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("settings.py", SETTINGS),
        ("urls.py", URLS),
        ("wsgi.py", WSGI),
        ("__init__.py", ""),
    ):
        (package / name).write_text(text)
    (root / "manage.py").write_text(MANAGE)
    return root


@dataclass(frozen=True)
class Workers:
    """One gunicorn configuration."""

    kind: str  # "sync" or "gthread"
    workers: int
    threads: int = 1

    def __str__(self) -> str:
        if self.kind == "sync":
            return f"{self.workers} sync workers"
        return f"{self.workers} gthread workers × {self.threads} threads"

    def args(self) -> list[str]:
        return ["-k", self.kind, "-w", str(self.workers), "--threads", str(self.threads)]


class DjangoWM:
    """django-wm under gunicorn, on a fresh database each :meth:`start`."""

    accepted = 202  # django-wm answers 202 Accepted, as Webmention allows
    accept_path = "/webmention/"
    idle_path = "/webmention/"  # the manual form: 200, stores nothing

    def __init__(self, python: Path, project: Path, workers: Workers, port: int, logs: Path):
        self.label = f"django-wm, {workers}"
        self.python = python
        self.project = project
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"
        name = f"django-wm-{workers.kind}-{workers.workers}x{workers.threads}"
        self.log = logs / f"{name}.log"
        gunicorn = python.parent / "gunicorn"
        self.child = Child(
            [
                str(gunicorn),
                *workers.args(),
                "-b",
                f"127.0.0.1:{port}",
                "--access-logfile",
                str(logs / f"{name}-access.log"),
                "benchsite.wsgi:application",
            ],
            self.log,
            f"{self.url}/webmention/",
            env=self._env(),
            cwd=project,
        )

    def _env(self) -> dict[str, str]:
        return {**os.environ, "DJANGO_SETTINGS_MODULE": "benchsite.settings"}

    def _manage(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [str(self.python), "manage.py", *args],
            cwd=self.project,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed: {done.stderr.strip()[-400:]}")
        return done.stdout

    def start(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            (self.project / f"db.sqlite3{suffix}").unlink(missing_ok=True)
        self._manage("migrate", "-v", "0")
        self.child.start()

    def stop(self) -> int | None:
        return self.child.stop()

    def kill(self) -> None:
        self.child.kill()

    def pids(self) -> list[int]:
        return [self.child.pid]

    def stored(self) -> Counter[str]:
        last = self._manage("shell", "-c", COUNTS).strip().splitlines()[-1]  # after chatter
        pending, valid, invalid = (int(n) for n in last.split())
        return Counter({"queued": pending, "verified": valid, "invalid": invalid})

    def verify(self) -> float:
        """Run ``manage.py mentions_pending incoming`` once; returns its wall time."""
        started = time.perf_counter()
        self._manage("mentions_pending", "incoming", timeout=3600)
        return time.perf_counter() - started
