"""Turns the results into the tables: measurements, the issue's targets, parse/write counts.

Every table is a header and rows of strings, printed with rich on the terminal and written as
Markdown next to the logs, ready to paste into RESULTS.md.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from .instructions import Counted
from .measure import Spread
from .runner import Result

BOOTSTRAP = 2000  # resamples of the rounds for the interval of the warm/plain median
WARM_LIMIT = 0.03  # issue 5: a warm publish within 3 % of the plain build
PLAIN_AGAIN = "plain again"  # the control: the plain build, compared as the warm one is

Rows = list[list[str]]


@dataclass(frozen=True)
class Ideal:
    """The network-bound lower limit of the cold publish, from the settings in force."""

    discoveries: int
    pings: int
    latency: float
    concurrency: int
    per_host: int
    hosts: int

    @property
    def seconds(self) -> float:
        lanes = min(self.concurrency, self.hosts * self.per_host)
        return (self.discoveries + self.pings) * self.latency / lanes

    def __str__(self) -> str:
        lanes = min(self.concurrency, self.hosts * self.per_host)
        return (
            f"({self.discoveries} discovery GETs + {self.pings} pings) × {self.latency * 1000:g} ms"
            f" / min(concurrency {self.concurrency}, {self.hosts} hosts × per_host "
            f"{self.per_host}) = {self.seconds:.2f} s ({lanes} requests in flight)"
        )


def wall(result: Result) -> Spread:
    return Spread.of([m.seconds for m in result.measured])


def cpu(result: Result) -> Spread:
    return Spread.of([m.cpu_seconds for m in result.measured])


def find(results: list[Result], generator: str, name: str) -> Result | None:
    for result in results:
        if result.config.generator == generator and result.config.name == name:
            return result
    return None


def sending_time(results: list[Result], generator: str, cold_name: str) -> float | None:
    """Cold median minus the plain median of the same generator: the time linkback adds."""
    plain, cold = find(results, generator, "plain"), find(results, generator, cold_name)
    if not plain or not cold or plain.failed or cold.failed or not cold.measured:
        return None
    return wall(cold).median - wall(plain).median


def _correctness(result: Result) -> str:
    if result.config.fresh is None:
        pings = sum(sum(c.by_protocol.values()) for c in result.correctness)
        return "yes (no pings)" if not pings else f"no: {pings} pings"
    faults = []
    for c in result.correctness:
        kinds = {
            "missing": c.missing,
            "duplicate": c.duplicates,
            "wrong protocol": c.wrong_protocol,
            "unexpected": c.unexpected,
        }
        faults += [f"{count} {what}" for what, count in kinds.items() if count]
    return "yes" if not faults else "no: " + ", ".join(sorted(set(faults)))


def measurement_rows(results: list[Result], ideal: Ideal) -> Rows:
    rows = []
    for result in results:
        config = result.config
        if result.failed or not result.measured:
            codes = sorted({m.exit_code for m in result.measured})
            rows.append([config.generator, config.name, f"build failed (exit {codes})"] + [""] * 9)
            continue
        last = result.correctness[-1].by_protocol
        pings = "/".join(str(last[p]) for p in ("webmention", "pingback", "trackback"))
        requests = "/".join(str(n) for n in sorted(set(result.requests)))
        if max(result.requests):
            requests += f" ({result.request_detail})"
        peak = max(m.peak_mb for m in result.measured)
        sending = ratio = in_flight = ""
        if config.fresh is not None:
            in_flight = f"{Spread.of(result.in_flight).median:.1f}"
            seconds = sending_time(results, config.generator, config.name)
            if seconds is not None:
                sending = f"{seconds:.2f}"
                ratio = f"{seconds / ideal.seconds:.2f}×"
        rows.append(
            [
                config.generator,
                config.name,
                str(wall(result)),
                f"{cpu(result).median:.1f}",
                requests,
                pings,
                _correctness(result),
                f"{peak:.0f}",
                sending,
                ratio,
                in_flight,
            ]
        )
    return rows


MEASUREMENT_HEADER = [
    "Site",
    "Build",
    "Wall s: median (min–max)",
    "CPU s",
    "Requests",
    "Pings wm/pb/tb",
    "Correct",
    "Peak MB",
    "Sending s",
    "÷ ideal",
    "Mean in flight",
]


def target_rows(
    results: list[Result], ideal: Ideal, instructions: Mapping[str, Counted | None] | None = None
) -> Rows:
    """The numbers issue 5 asks for, per generator, each with its verdict; ``instructions``
    are the plain and warm builds' callgrind counts, when they were taken (None: failed)."""
    rows = []
    reference = sending_time(results, "Pelican", "reference cold")
    for generator in ("Pelican", "MkDocs"):
        plain, warm = find(results, generator, "plain"), find(results, generator, "linkback warm")
        cold = find(results, generator, "linkback cold")
        sending = sending_time(results, generator, "linkback cold")
        if not (plain and warm and cold) or sending is None or warm.failed:
            rows.append([generator, "all", "not measured (a build failed)", ""])
            continue
        ratio = sending / ideal.seconds
        rows.append([generator, "sending ≤ 1.3 × ideal", f"{ratio:.2f}×", _met(ratio <= 1.3)])
        if reference is not None:
            speedup = reference / sending if sending > 0 else float("inf")
            rows.append(
                [
                    generator,
                    "sending ≥ 24 × shorter than the reference",
                    f"{speedup:.1f} × shorter",
                    _met(speedup >= 24),
                ]
            )
        requests = max(warm.requests)
        rows.append([generator, "warm publish: zero requests", str(requests), _met(requests == 0)])
        counted = (instructions or {}).get(generator)
        rows += _warm_rows(results, generator, plain, warm, counted)
        memory = max(m.peak_mb for m in cold.measured) - max(m.peak_mb for m in plain.measured)
        rows.append(
            [
                generator,
                "cold peak memory within 60 MB of plain",
                f"{memory:+.0f} MB",
                _met(memory <= 60),
            ]
        )
        if cold.counts:
            own = _own_parses(cold.counts)
            pages = cold.config.site.pages
            per_page = f"{own / pages:.2f} parses per page ({own} for {pages} pages)"
            rows.append([generator, "each page parsed once", per_page, _met(own <= pages)])
    return rows


def _warm_rows(
    results: list[Result],
    generator: str,
    plain: Result,
    warm: Result,
    instructions: Counted | None,
) -> Rows:
    """The warm target in wall time with its control, and the two measures of the same
    overhead that the machine's swings do not blur: linkback's time inside the build, and
    instructions."""
    extra, (low, high), rounds = paired_extra(plain, warm)
    medians = wall(warm).median / wall(plain).median - 1
    cpu_extra = cpu(warm).median / cpu(plain).median - 1
    rows = [
        [
            generator,
            "warm wall within 3 % of plain",
            f"{extra * 100:+.1f} % (median of {rounds} rounds' warm/plain, 95 % interval "
            f"{low * 100:+.1f} … {high * 100:+.1f} %; medians {medians * 100:+.1f} %, "
            f"CPU {cpu_extra * 100:+.1f} %)",
            _decided(low, high, WARM_LIMIT),
        ]
    ]
    again = find(results, generator, PLAIN_AGAIN)
    if again is not None and not again.failed and len(again.measured) == len(plain.measured):
        extra, (low, high), rounds = paired_extra(plain, again)
        agrees = "0 in the interval" if low <= 0 <= high else "0 outside: the method is off"
        rows.append(
            [
                generator,
                "control: the plain build again, compared as the warm one",
                f"{extra * 100:+.1f} % (median of {rounds} rounds, 95 % interval "
                f"{low * 100:+.1f} … {high * 100:+.1f} %)",
                agrees,
            ]
        )
    if warm.own_times and plain.own_times:
        rows.append(_own_time_row(generator, plain, warm))
    if instructions is not None:
        ratio = instructions.warm / instructions.plain - 1
        rows.append(
            [
                generator,
                "warm: instructions (callgrind)",
                f"{ratio * 100:+.2f} % ({instructions.warm / 1e9:.3f} G against "
                f"{instructions.plain / 1e9:.3f} G)",
                _within(ratio <= WARM_LIMIT),
            ]
        )
    return rows


def _own_time_row(generator: str, plain: Result, warm: Result) -> list[str]:
    """The warm build's time in linkback (its hooks, and the imports that a plain build does
    not make), from the median of the builds timed from inside. The site's settings files
    are not imports of linkback: Pelican's publishconf.py imports pelicanconf.py, which the
    plain build loads as its settings file."""
    baseline = {module for run in plain.own_times for module in run.imports}
    baseline |= {path.stem for path in plain.config.site.root.glob("*.py")}  # settings files
    runs = sorted(warm.own_times, key=lambda run: run.extra(baseline))
    low, extra, high = (run.extra(baseline) for run in (runs[0], runs[len(runs) // 2], runs[-1]))
    median = runs[len(runs) // 2]
    imports = median.in_imports(baseline)
    slowest = sorted(median.hooks.items(), key=lambda item: -item[1][1])[:4]
    parts = [f"imports {imports * 1000:.1f}"]
    parts += [f"{name.rsplit('.', 1)[-1]} {seconds * 1000:.1f}" for name, (_, seconds) in slowest]
    return [
        generator,
        "warm: time in linkback, measured inside the build",
        f"{extra * 100:+.1f} % (median of {len(runs)} builds, {low * 100:+.1f} … "
        f"{high * 100:+.1f} %: {(median.in_hooks + imports) * 1000:.0f} ms in a "
        f"{median.build.seconds:.2f} s build; ms: {', '.join(parts)}, …)",
        _within(extra <= WARM_LIMIT),
    ]


def paired_extra(plain: Result, warm: Result) -> tuple[float, tuple[float, float], int]:
    """The median over rounds of warm/plain - 1, its 95 % interval, and the number of rounds.

    The two builds of a round run one right after the other, so a slow phase of the machine
    (seen here: 20 % within one run) slows both: the ratio of a pair moves far less than
    either median does. It still moves by several per cent, so the median is given with the
    interval that resampling the rounds puts it in (a bootstrap, seeded: the same rounds give
    the same interval).
    """
    pairs = list(zip(plain.measured, warm.measured, strict=True))
    ratios = [w.seconds / p.seconds for p, w in pairs]
    rng = random.Random(0)
    resampled = sorted(
        statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(BOOTSTRAP)
    )
    low, high = resampled[int(0.025 * BOOTSTRAP)], resampled[int(0.975 * BOOTSTRAP) - 1]
    return statistics.median(ratios) - 1, (low - 1, high - 1), len(pairs)


def _own_parses(counts: dict[str, Any]) -> int:
    """Parses of each generated page by link extraction and tag insertion (the adapters).

    Not counted: discovery of the targets' pages, the live check of the published page
    (a parse of a network answer) and the trackback excerpt; the counts table lists them.
    """
    return sum(n for key, n in counts["parses"].items() if _parses_a_page(key.split(" ← ")[0]))


def _parses_a_page(asker: str) -> bool:
    own = asker == "linkback.sending.links.parse_fragment"
    return own or asker.startswith(("pelican_linkback.", "mkdocs_linkback."))


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _decided(low: float, high: float, limit: float) -> str:
    """A verdict from an interval: a noisy machine can leave the answer open."""
    if high <= limit:
        return "met"
    if low > limit:
        return "NOT met"
    return f"not decided: the interval spans {limit * 100:g} %"


def _within(ok: bool) -> str:
    """The verdict of a measure that supports a target rather than being one."""
    return f"within {WARM_LIMIT * 100:g} %" if ok else f"over {WARM_LIMIT * 100:g} %"


TARGET_HEADER = ["Site", "Target (issue 5)", "Measured", "Verdict"]


def count_rows(results: list[Result]) -> Rows:
    rows = []
    for result in results:
        counts = result.counts
        if not counts:
            continue
        parses = "; ".join(f"{n} {caller}" for caller, n in sorted(counts["parses"].items()))
        rows.append(
            [
                result.config.generator,
                result.config.name,
                _times(counts["writes"]),
                _times(counts["reads"]),
                parses or "none",
            ]
        )
    return rows


def _times(histogram: dict[str, int]) -> str:
    return ", ".join(f"{files} files × {times}" for times, files in histogram.items()) or "none"


COUNT_HEADER = ["Site", "Build", "Output HTML written", "Output HTML read", "HTML parses by caller"]


def show(console: Console, title: str, header: list[str], rows: Rows) -> None:
    table = Table(title=title, title_justify="left")
    for name in header:
        table.add_column(name)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def markdown(title: str, header: list[str], rows: Rows) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
