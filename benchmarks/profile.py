"""``--profile``: one more cold and warm linkback build under cProfile, and where time went.

The build's own Python runs in the profiler, so the numbers are CPU time with profiling
overhead; the share of linkback (the core and the adapters) is what they are for.
"""

from __future__ import annotations

import io
import pstats
import sys
from pathlib import Path

from rich.console import Console

from .runner import Bench, Config, Result, run_once

OURS = r"(/linkback/|_linkback/)"


def profile_builds(configs: list[Config], bench: Bench, folder: Path, console: Console) -> None:
    """Profile each linkback cold/warm build; print its linkback functions by cumulative time."""
    folder.mkdir(parents=True, exist_ok=True)
    for config in configs:
        if not config.name.startswith("linkback"):
            continue
        output = folder / f"{config.label.replace(' ', '-')}.prof"
        command = [sys.executable, "-m", "cProfile", "-o", str(output), *config.command]
        profiled = Config(config.generator, config.name + " (cProfile)", command, config.site,
                          1, fresh=config.fresh)  # fmt: skip
        run_once(Result(profiled), bench, console.print)
        if output.exists():
            console.print(top_lines(output))


def top_lines(profile: Path, limit: int = 25) -> str:
    """The build's total and the heaviest linkback functions, cumulative time first."""
    stream = io.StringIO()
    stats = pstats.Stats(str(profile), stream=stream)
    stats.sort_stats("cumulative").print_stats(OURS, limit)
    return f"{profile.name}: {stats.total_tt:.2f} s of CPU in all\n{stream.getvalue()}"  # type: ignore[attr-defined]
