"""Times, inside one build, the adapter's hooks: the time the build spends in linkback.

The runner puts this folder on PYTHONPATH for a few extra, untimed warm builds, with
BENCH_TIMES naming the JSON written at exit and BENCH_ADAPTER the generator. The machine's
speed swings from one build to the next by more than the 3 % the warm target is about; the
time a build spends in linkback, measured in the same process as the build itself, swings
with it, so their ratio does not. The import of linkback is timed by Python itself
(PYTHONPROFILEIMPORTTIME, which the runner sets and reads back), not here.
"""

from __future__ import annotations

import atexit
import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any

# Every way a generator calls into linkback: the signal receivers and plugin events, and
# Pelican's per-page decoration (called from inside the template's render, which is Jinja's).
ENTRY_POINTS = {
    "Pelican": (
        "pelican_linkback.plugin",
        ("read_settings", "decorate_templates", "collect_sources", "send_pings", "Build.decorate"),
    ),
    "MkDocs": (
        "mkdocs_linkback.plugin",
        tuple(
            f"LinkbackPlugin.{event}"
            for event in ("load_config", "on_startup", "on_config", "on_page_content",
                          "on_post_page", "on_post_template", "on_post_build")
        ),
    ),
}  # fmt: skip

spent: dict[str, list[float]] = {}  # entry point: [calls, seconds]


def _timed(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            calls = spent.setdefault(name, [0, 0.0])
            calls[0] += 1
            calls[1] += time.perf_counter() - start

    return wrapper


def install(adapter: str, output: str) -> None:
    """Wrap the adapter's entry points before the generator connects them (Pelican's
    ``register`` and MkDocs' plugin loading look them up when the build starts)."""
    module_name, names = ENTRY_POINTS[adapter]
    __import__(module_name)  # an import statement's path: PYTHONPROFILEIMPORTTIME times it
    module = sys.modules[module_name]
    for name in names:
        *path, attribute = name.split(".")
        owner = functools.reduce(getattr, path, module)
        setattr(owner, attribute, _timed(getattr(owner, attribute), name))

    def dump() -> None:
        with open(output, "w", encoding="utf-8") as out:
            json.dump(spent, out, indent=1)

    atexit.register(dump)
