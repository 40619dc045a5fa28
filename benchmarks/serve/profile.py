"""Where the acceptor's time goes: py-spy samples every process of the receiver during one
load, and the samples are summed by the function running (own time) and by source file.

py-spy (PyPI, a sampling profiler that attaches from outside) is installed once into an
environment of its own; it needs ptrace, which root has.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from .receiver import Receiver
from .scenarios import Bench

PY_SPY = "py-spy>=0.3"
# One frame of py-spy's raw (collapsed) output: "function (file:line)".
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def ensure_py_spy(folder: Path) -> Path:
    executable = folder / "bin" / "py-spy"
    if not executable.exists():
        print(f"installing py-spy into {folder} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", PY_SPY],
                       check=True)  # fmt: skip
    return executable


def profile_acceptance(receiver: Receiver, bench: Bench, py_spy: Path, out: Path) -> list[str]:
    """One load under py-spy (100 samples a second, every process of the tree, idle threads
    left out); returns the summary lines and writes the raw stacks and a speedscope file."""
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "acceptance.txt"
    receiver.start()
    try:
        seconds = round(bench.seconds)
        recorders = [
            subprocess.Popen(
                [
                    str(py_spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--subprocesses",
                    "--duration",
                    str(seconds),
                    "--format",
                    form,
                    "--output",
                    str(path),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            for pid in receiver.pids()[:1]
            for form, path in (("raw", raw), ("speedscope", out / "acceptance.speedscope.json"))
        ]
        load = threading.Thread(target=bench.wrk, args=(bench.load(receiver),))
        load.start()
        for recorder in recorders:
            recorder.wait(timeout=seconds + 60)
        load.join()
    finally:
        receiver.stop()
    if not raw.exists():
        return [f"py-spy wrote nothing (see {out})"]
    return summarize(raw.read_text())


def summarize(collapsed: str, top: int = 15) -> list[str]:
    """Own samples by function, and all samples by source file under the process's frames."""
    own: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [FRAME.match(frame) for frame in stack.split(";")]
        named = [frame for frame in frames if frame]
        if named:
            last = named[-1]
            own[f"{last['function']} ({_short(last['file'])})"] += count
            for file in {_short(frame["file"]) for frame in named}:
                by_file[file] += count
    if not total:
        return ["no samples"]
    lines = [f"{total} samples; own time by function:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    lines.append("time under each source file (inclusive):")
    lines += [f"  {n / total:6.1%}  {name}" for name, n in by_file.most_common(top)]
    return lines


def _short(path: str) -> str:
    """A file's path from its package on: .../site-packages/x/y.py gives x/y.py."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if "/lib/python3" in path:
        return path.split("/lib/", 1)[1]
    if "/linkback/" in path:
        return "linkback/" + path.rsplit("/linkback/", 1)[1]
    return path
