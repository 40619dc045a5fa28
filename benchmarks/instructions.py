"""``--instructions``: the plain and warm builds counted in CPU instructions, by callgrind.

On a shared machine the wall time of a 1.5 s build moves by several per cent from one run to
the next, as much as the 3 % the warm target is about. The number of instructions a build
executes does not: two runs with the same PYTHONHASHSEED differ by about 0.01 %. It is no
substitute for the wall time (a cache miss costs more than an instruction), but it says
without noise how much work linkback adds to a build that has nothing to send.

Valgrind runs without the CPU's SHA extensions, so sha256 (the page cache's digests of the
pages and of the sent-log) counts several times the instructions it costs natively: the
ratio overstates linkback's share a little.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .runner import Config

COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
HEADER = ["Site", "Plain build", "Warm build", "Warm / plain"]


def available() -> bool:
    return shutil.which("valgrind") is not None


def count(config: Config, env: dict[str, str]) -> int | None:
    """Instructions of one build of ``config`` under callgrind; None if it failed."""
    shutil.rmtree(config.site.output, ignore_errors=True)
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *config.command]
    done = subprocess.run(
        command,
        cwd=config.site.root,
        env={**env, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
    )
    found = COLLECTED.search(done.stderr)
    return int(found.group(1)) if found and done.returncode == 0 else None


@dataclass(frozen=True)
class Counted:
    """The instructions of one generator's plain and warm builds."""

    plain: int
    warm: int


def count_all(configs: list[Config], env: dict[str, str]) -> dict[str, Counted | None]:
    """Plain and warm of each generator (None: a build failed); the generators' builds run
    side by side (their sites are separate folders, and an instruction count does not
    depend on the load)."""
    by_generator: dict[str, dict[str, Config]] = {}
    for config in configs:
        if config.name in ("plain", "linkback warm"):
            by_generator.setdefault(config.generator, {})[config.name] = config
    counted: dict[tuple[str, str], int | None] = {}
    with ThreadPoolExecutor(max(1, len(by_generator))) as pool:
        for name in ("plain", "linkback warm"):  # one site's builds share its output folder
            futures = {
                (generator, name): pool.submit(count, builds[name], env)
                for generator, builds in by_generator.items()
                if name in builds
            }
            counted.update({key: future.result() for key, future in futures.items()})
    result: dict[str, Counted | None] = {}
    for generator in by_generator:
        plain, warm = counted.get((generator, "plain")), counted.get((generator, "linkback warm"))
        result[generator] = Counted(plain, warm) if plain and warm else None
    return result


def rows(counts: dict[str, Counted | None]) -> list[list[str]]:
    table = []
    for generator, counted in counts.items():
        if counted is None:
            table.append([generator, "failed", "failed", ""])
            continue
        plain, warm = counted.plain, counted.warm
        table.append(
            [generator, f"{plain / 1e9:.3f} G", f"{warm / 1e9:.3f} G", f"{warm / plain - 1:+.2%}"]
        )
    return table
