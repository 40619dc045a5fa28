"""Runs every configuration of one generator against the farm and collects what it measured.

The cold runs come first, each from an empty sent-log (or cache); the last one leaves the
full log that every warm run reuses. Then the plain and warm runs, which the 3 % target
compares: in rounds, in the opposite order every other round (plain, warm, then warm,
plain, ...), so that the two builds of a round run back to back, a slow phase of the
machine hits both alike, and neither always runs first.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
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

    @property
    def label(self) -> str:
        return f"{self.generator} {self.name}"


@dataclass
class Result:
    config: Config
    measured: list[Measured] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    request_detail: str = ""  # of the last run: farm GETs and POSTs, site (live check) GETs
    in_flight: list[float] = field(default_factory=list)  # mean requests at the farm at once
    correctness: list[Correctness] = field(default_factory=list)
    counts: dict[str, Any] | None = None

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


def run_all(configs: list[Config], bench: Bench, say: Say) -> list[Result]:
    """Timed rounds (cold runs first), then one instrumented run of each counted configuration."""
    results = [Result(config) for config in configs]
    _rounds([result for result in results if result.config.fresh is not None], bench, say)
    _rounds([result for result in results if result.config.fresh is None], bench, say)
    for result in results:
        if result.config.counted:
            run_once(result, bench, say, counted=True)
    return results


def _rounds(results: list[Result], bench: Bench, say: Say) -> None:
    for round_number in range(max((result.config.runs for result in results), default=0)):
        in_turn = results if round_number % 2 == 0 else results[::-1]
        for result in in_turn:
            if round_number < result.config.runs:
                run_once(result, bench, say, counted=False)


def run_once(result: Result, bench: Bench, say: Say, *, counted: bool) -> None:
    config = result.config
    if config.fresh is not None:
        config.fresh.unlink(missing_ok=True)
    shutil.rmtree(config.site.output, ignore_errors=True)
    bench.farm.reset()
    bench.site_server.root = config.site.output
    bench.site_server.requests = 0
    env = dict(bench.env)
    counts_file = bench.logs / f"{config.label.replace(' ', '-')}-counts.json"
    if counted:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INSTRUMENT), env.get("PYTHONPATH")]))
        env["BENCH_COUNTS"] = str(counts_file)
        env["BENCH_OUTPUT"] = str(config.site.output)
    log = bench.logs / f"{config.label.replace(' ', '-')}.log"
    measured = run_build(config.command, config.site.root, env, log)
    pings, requests = bench.farm.snapshot()
    request_count = sum(requests.values()) + bench.site_server.requests
    correctness = check(pings, config.site.links, bench.farm)
    what = "counted" if counted else f"{measured.seconds:6.2f} s"
    status = f"exit {measured.exit_code}, see {log}" if measured.exit_code else "ok"
    say(f"  {config.label:<28} {what} {request_count:6d} requests {len(pings):6d} pings  {status}")
    if counted:
        if counts_file.exists():
            result.counts = json.loads(counts_file.read_text())
        return
    result.measured.append(measured)
    result.requests.append(request_count)
    result.in_flight.append(bench.farm.mean_in_flight())
    result.request_detail = (
        f"{requests['GET']} GET + {requests['POST']} POST to the farm, "
        f"{bench.site_server.requests} to the site"
    )
    result.correctness.append(correctness)
