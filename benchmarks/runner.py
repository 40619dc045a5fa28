"""Runs every configuration of one generator against the farm and collects what it measured.

The cold runs come first, each from an empty sent-log (or cache); the last one leaves the
full log that every warm run reuses. Then the plain and warm runs, which the 3 % target
compares: in rounds, in the opposite order every other round (plain, warm, then warm,
plain, ...), so that the two builds of a round run back to back, a slow phase of the
machine hits both alike, and neither always runs first. Last, untimed, the instrumented
builds: one of each configuration with its parses and writes counted, and a few warm builds
with the time spent in linkback measured from inside the build (``instrument/own_time.py``),
a measure that the machine's swings do not blur.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .farm import Correctness, Farm, check
from .measure import Measured, run_build
from .server import StaticFiles
from .site import Site

INSTRUMENT = Path(__file__).parent / "instrument"
Say = Callable[[str], object]  # prints one progress line


@dataclass(frozen=True)
class Config:
    """One way to build one site."""

    generator: str  # "Pelican" or "MkDocs"
    name: str  # "plain", "linkback cold", ...
    command: list[str]
    site: Site
    runs: int
    fresh: Path | None = None  # the sent-log or cache deleted before each run (cold runs)
    counted: bool = True  # also run once instrumented, to count parses and writes
    own_time: bool = False  # also run a few times timed from inside (plain and warm builds)
    adapter: bool = True  # builds with linkback's adapter (not the plain build)

    @property
    def label(self) -> str:
        return f"{self.generator} {self.name}"


@dataclass(frozen=True)
class OwnTime:
    """One build timed from inside: each linkback hook's calls and seconds (none in a plain
    build), and each module's own import time, by Python (PYTHONPROFILEIMPORTTIME)."""

    hooks: dict[str, tuple[int, float]]
    imports: dict[str, float]  # module: seconds of its own body
    build: Measured

    @property
    def in_hooks(self) -> float:
        return sum(seconds for _, seconds in self.hooks.values())

    def in_imports(self, baseline: Set[str]) -> float:
        """Seconds importing what ``baseline`` (the modules of a plain build) lacks: linkback,
        and what it alone imports."""
        return sum(seconds for module, seconds in self.imports.items() if module not in baseline)

    def extra(self, baseline: Set[str]) -> float:
        """linkback's time as a share of the rest of the build: what it adds to a build."""
        own = self.in_hooks + self.in_imports(baseline)
        return own / (self.build.seconds - own)


@dataclass
class Result:
    config: Config
    measured: list[Measured] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    request_detail: str = ""  # of the last run: farm GETs and POSTs, site (live check) GETs
    in_flight: list[float] = field(default_factory=list)  # mean requests at the farm at once
    correctness: list[Correctness] = field(default_factory=list)
    counts: dict[str, Any] | None = None
    own_times: list[OwnTime] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(m.exit_code for m in self.measured)


@dataclass(frozen=True)
class Bench:
    """What every run needs besides its configuration."""

    farm: Farm
    site_server: StaticFiles
    logs: Path
    env: dict[str, str]


OWN_TIME_RUNS = 3  # plain and warm builds timed from inside
# A line of PYTHONPROFILEIMPORTTIME: "import time:  <self us> | <cumulative us> | <module>".
IMPORT_LINE = re.compile(r"^import time:\s*(\d+) \|\s*\d+ \|\s*(\S+)", re.MULTILINE)


def run_all(configs: list[Config], bench: Bench, say: Say) -> list[Result]:
    """Timed rounds (cold runs first), then one instrumented run of each counted configuration
    and the warm builds timed from inside."""
    results = [Result(config) for config in configs]
    _rounds([result for result in results if result.config.fresh is not None], bench, say)
    _rounds([result for result in results if result.config.fresh is None], bench, say)
    for result in results:
        if result.config.counted:
            run_once(result, bench, say, mode="counted")
    timed_inside = [result for result in results if result.config.own_time]
    for _ in range(OWN_TIME_RUNS):
        for result in timed_inside:
            run_once(result, bench, say, mode="own time")
    return results


def _rounds(results: list[Result], bench: Bench, say: Say) -> None:
    for round_number in range(max((result.config.runs for result in results), default=0)):
        in_turn = results if round_number % 2 == 0 else results[::-1]
        for result in in_turn:
            if round_number < result.config.runs:
                run_once(result, bench, say)


def run_once(result: Result, bench: Bench, say: Say, *, mode: str = "timed") -> None:
    """One build of ``result.config``: ``timed`` (one of its rounds), ``counted`` (with its
    parses and writes counted) or ``own time`` (with linkback's hooks and import timed)."""
    config = result.config
    if config.fresh is not None:
        config.fresh.unlink(missing_ok=True)
    shutil.rmtree(config.site.output, ignore_errors=True)
    bench.farm.reset()
    bench.site_server.root = config.site.output
    bench.site_server.requests = 0
    env = dict(bench.env)
    name = config.label.replace(" ", "-")
    log = bench.logs / f"{name}.log"
    counts_file = bench.logs / f"{name}-counts.json"
    times_file = bench.logs / f"{name}-own-time.json"
    if mode != "timed":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INSTRUMENT), env.get("PYTHONPATH")]))
    if mode == "counted":
        env["BENCH_COUNTS"] = str(counts_file)
        env["BENCH_OUTPUT"] = str(config.site.output)
    if mode == "own time":
        env["PYTHONPROFILEIMPORTTIME"] = "1"
        if config.adapter:
            env.update(BENCH_TIMES=str(times_file), BENCH_ADAPTER=config.generator)
        log = bench.logs / f"{name}-own-time.log"
        log.unlink(missing_ok=True)
    measured = run_build(config.command, config.site.root, env, log)
    pings, requests = bench.farm.snapshot()
    request_count = sum(requests.values()) + bench.site_server.requests
    correctness = check(pings, config.site.links, bench.farm)
    what = f"{measured.seconds:6.2f} s" if mode == "timed" else mode
    status = f"exit {measured.exit_code}, see {log}" if measured.exit_code else "ok"
    say(f"  {config.label:<28} {what} {request_count:6d} requests {len(pings):6d} pings  {status}")
    if mode == "counted":
        if counts_file.exists():
            result.counts = json.loads(counts_file.read_text())
        return
    if mode == "own time":
        if not measured.exit_code:
            hooks = json.loads(times_file.read_text()) if config.adapter else {}
            result.own_times.append(OwnTime(hooks, _imports(log.read_text()), measured))
        return
    result.measured.append(measured)
    result.requests.append(request_count)
    result.in_flight.append(bench.farm.mean_in_flight())
    result.request_detail = (
        f"{requests['GET']} GET + {requests['POST']} POST to the farm, "
        f"{bench.site_server.requests} to the site"
    )
    result.correctness.append(correctness)


def _imports(log_text: str) -> dict[str, float]:
    """Each module's own import time (its body, not what it imports), in seconds."""
    return {module: int(us) / 1e6 for us, module in IMPORT_LINE.findall(log_text)}
