"""``python -m benchmarks``: every build of issue 5, side by side, on loopback only.

Plain, cold and warm builds of a Pelican and an MkDocs site with linkback, and cold and warm
Pelican builds with pelican-plugin-linkbacks, all against one target farm; then the tables.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from linkback import Settings

from . import instructions, report
from .farm import PREFERRED, Farm, kind_of
from .profile import profile_builds
from .reference import ensure_reference_env, reference_version
from .runner import Bench, Config, Result, run_all
from .server import LoopbackServers, StaticFiles
from .site import Site, write_mkdocs, write_pelican

WORK = Path(__file__).parent / "work"
PROJECT = Path(__file__).parent.parent
PACKAGES = ("linkback", "pelican_linkback", "mkdocs_linkback")
SIZES = {  # articles, links per article, hosts
    "default": (500, 5, 50),
    "large": (2000, 5, 200),
    "small": (100, 5, 20),  # a first publish where the fixed cost shows (issue 20)
    "quick": (40, 5, 10),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--large", action="store_true", help="N=2000 articles, H=200 hosts")
    size.add_argument(
        "--small", action="store_true", help="N=100 articles, H=20 hosts: the fixed cost"
    )
    size.add_argument("--quick", action="store_true", help="a small smoke run (N=40, H=10)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per build (default 3)")
    parser.add_argument(
        "--warm-runs",
        type=int,
        help="timed runs of the plain and warm builds (default 30, 3 with --large): the 3 %% "
        "comparison needs more runs than the others",
    )
    parser.add_argument(
        "--reference-cold-runs",
        type=int,
        default=1,
        help="timed cold runs of pelican-plugin-linkbacks (default 1: it takes minutes)",
    )
    parser.add_argument("--latency", type=float, default=50, help="farm latency in ms (50)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference plugin")
    parser.add_argument("--no-mkdocs", action="store_true", help="skip the MkDocs site")
    parser.add_argument(
        "--profile", action="store_true", help="then profile one cold and warm linkback build"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="then count the instructions of the plain and warm builds with callgrind "
        "(valgrind; some minutes): the warm overhead without the machine's noise",
    )
    return parser.parse_args(argv)


def plain_pair(generator: str, command: list[str], site: Site, runs: int) -> list[Config]:
    """The plain build, and the same build again as a control: compared with the plain build
    exactly as the warm build is, it shows how far the method puts two identical builds apart.
    Listed first, so that in every round the plain build runs next to both (the rounds
    alternate their order)."""
    return [
        Config(generator, report.PLAIN_AGAIN, command, site, runs, counted=False, adapter=False),
        Config(generator, "plain", command, site, runs, own_time=True, adapter=False),
    ]


def pelican_configs(
    site: Site, runs: tuple[int, int], reference: Path | None, ref_runs: int
) -> list[Config]:
    pelican = str(Path(sys.executable).parent / "pelican")
    build = ["content", "-o", "output", "-q", "-s"]
    cold, warm = runs
    configs = [
        *plain_pair("Pelican", [pelican, *build, "pelicanconf.py"], site, warm),
        Config("Pelican", "linkback cold", [pelican, *build, "publishconf.py"], site, cold,
               fresh=site.sent_log),
        Config("Pelican", "linkback warm", [pelican, *build, "publishconf.py"], site, warm,
               own_time=True),
    ]  # fmt: skip
    if reference is not None:
        command = [str(reference), *build, "referenceconf.py"]
        cache = site.root / "reference-cache.json"
        configs += [
            Config("Pelican", "reference cold", command, site, ref_runs, fresh=cache,
                   counted=False),
            Config("Pelican", "reference warm", command, site, warm),
        ]  # fmt: skip
    return configs


def mkdocs_configs(site: Site, runs: tuple[int, int]) -> list[Config]:
    mkdocs = str(Path(sys.executable).parent / "mkdocs")
    cold, warm = runs
    return [
        *plain_pair("MkDocs", [mkdocs, "build", "-q", "-f", "mkdocs-plain.yml"], site, warm),
        Config("MkDocs", "linkback cold", [mkdocs, "build", "-q"], site, cold,
               fresh=site.sent_log),
        Config("MkDocs", "linkback warm", [mkdocs, "build", "-q"], site, warm, own_time=True),
    ]  # fmt: skip


def compile_project() -> None:
    """Byte-compile the project's packages, as pip does when it installs a package.

    Pelican and MkDocs load compiled modules from site-packages; the editable install of
    this checkout would otherwise be compiled again by every build when bytecode is not
    written (PYTHONDONTWRITEBYTECODE), some 10 ms a build that no installed copy pays.
    """
    for package in PACKAGES:
        compileall.compile_dir(PROJECT / package, quiet=1)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")]  # fmt: skip
        cpu = models[0] if models else cpu
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    for module in ("pelican_linkback", "mkdocs_linkback"):
        if importlib.util.find_spec(module) is None:
            console.print(f"{module} is not installed: run `make install` (pip install -e .)")
            return 2
    compile_project()
    size = next((name for name in ("large", "small", "quick") if getattr(args, name)), "default")
    articles, links, hosts = SIZES[size]
    warm_runs = args.warm_runs or (3 if args.large else 30)
    runs = (1, 1) if args.quick else (args.runs, max(args.runs, warm_runs))
    console.print(
        f"[bold]linkback benchmark[/]: {size} size, N={articles} articles × M={links} links, "
        f"H={hosts} hosts, L={args.latency:g} ms, {runs[0]} cold and {runs[1]} plain/warm runs; "
        f"{machine()}"
    )
    reference = None
    if not args.no_reference:
        reference = ensure_reference_env(WORK / ".venv-reference")
    load_at_start = os.getloadavg()[0]
    if args.instructions and not instructions.available():
        console.print("--instructions needs valgrind (Debian: apt install valgrind)")
        return 2
    results, ideal, counted = run_builds(args, console, (articles, links, hosts), runs, reference)
    load_at_end = os.getloadavg()[0]
    load = f"load average (1 min) {load_at_start:.2f} at the start, {load_at_end:.2f} at the end"
    tables = [
        ("Builds", report.MEASUREMENT_HEADER, report.measurement_rows(results, ideal)),
        ("Targets of issue 5", report.TARGET_HEADER,
         report.target_rows(results, ideal, counted)),
        ("HTML files parsed and written (one instrumented run each)", report.COUNT_HEADER,
         report.count_rows(results)),
    ]  # fmt: skip
    if counted:
        tables.append(("Warm build in instructions (callgrind)", instructions.HEADER,
                       instructions.rows(counted)))  # fmt: skip
    for title, header, rows in tables:
        report.show(console, title, header, rows)
    heading = (f"Size {size}: N={articles} articles × M={links} links, H={hosts} hosts, "
               f"L={args.latency:g} ms, {runs[0]} cold and {runs[1]} plain/warm runs. "
               f"{machine()}; {load}.\n\n"
               f"Ideal cold sending time: {ideal}.\n")  # fmt: skip
    if reference is not None:
        heading += (
            f"\nReference: pelican-plugin-linkbacks {reference_version(reference.parent.parent)}.\n"
        )
    _save(results, tables, heading)
    console.print(heading)
    console.print(
        f"Markdown tables and raw results: {WORK / 'results.md'}, {WORK / 'results.json'}"
    )
    return 1 if any(result.failed for result in results) else 0


def run_builds(
    args: argparse.Namespace,
    console: Console,
    size: tuple[int, int, int],
    runs: tuple[int, int],
    reference: Path | None,
) -> tuple[list[Result], report.Ideal, dict[str, instructions.Counted | None]]:
    """Start the farm and the site server, write the sites, run every build, stop the servers.

    Returns the results, the ideal sending time and, with --instructions, the counts.
    """
    articles, links, hosts = size
    latency = args.latency / 1000
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.iterdir():
        old.unlink()
    servers = LoopbackServers()
    try:
        farm = Farm(servers, hosts, latency)
        site_server = StaticFiles(WORK)  # serves each build's output: the live check reads it
        site_url = f"http://127.0.0.1:{servers.listen('127.0.0.1', 0, site_server)}"
        pelican_site = write_pelican(WORK / "pelican", articles, links, site_url, farm.post_url)
        configs = pelican_configs(pelican_site, runs, reference, args.reference_cold_runs)
        if not args.no_mkdocs:
            mkdocs_site = write_mkdocs(WORK / "mkdocs", articles, links, site_url, farm.post_url)
            configs += mkdocs_configs(mkdocs_site, runs)
        env = {name: value for name, value in os.environ.items() if name != "LINKBACK_SEND"}
        bench = Bench(farm, site_server, logs, env)
        started = time.perf_counter()
        results = run_all(configs, bench, console.print)
        console.print(f"all builds done in {time.perf_counter() - started:.0f} s")
        if args.profile:
            profile_builds(configs, bench, WORK / "profiles", console)
        counted = instructions.count_all(configs, env) if args.instructions else {}
    finally:
        servers.stop()
    settings = Settings()  # the benchmark sites leave concurrency and per_host at their defaults
    endpoint_targets = sum(
        1 for _, target in pelican_site.links if PREFERRED[kind_of(_target_id(target), hosts)]
    )
    ideal = report.Ideal(len(pelican_site.links), endpoint_targets, latency,
                         settings.concurrency, settings.per_host, hosts)  # fmt: skip
    return results, ideal, counted


def _target_id(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


def _save(
    results: list[Result], tables: list[tuple[str, list[str], report.Rows]], heading: str
) -> None:
    text = heading + "\n" + "\n".join(report.markdown(*table) for table in tables)
    (WORK / "results.md").write_text(text)
    raw = [
        {
            "build": result.config.label,
            "seconds": [m.seconds for m in result.measured],
            "cpu_seconds": [m.cpu_seconds for m in result.measured],
            "peak_mb": [m.peak_mb for m in result.measured],
            "exit_codes": [m.exit_code for m in result.measured],
            "requests": result.requests,
            "mean_in_flight": result.in_flight,
            "correctness": [
                {**asdict(c), "by_protocol": dict(c.by_protocol)} for c in result.correctness
            ],
            "counts": result.counts,
            "own_times": [
                {"seconds": run.build.seconds, "hooks": run.hooks, "imports": run.imports}
                for run in result.own_times
            ],
        }
        for result in results
    ]
    (WORK / "results.json").write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    sys.exit(main())
