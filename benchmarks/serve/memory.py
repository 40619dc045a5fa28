"""Memory of a server: the sum of RSS over its process tree, sampled in a background thread.

A server with workers is several processes; ``ru_maxrss`` would give the largest one, not
their sum, so the tree is walked in /proc every ``interval`` seconds.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue  # the task ended meanwhile
    return found


def rss(pids: list[int]) -> int:
    """Resident bytes of ``pids`` together (shared pages counted in each, as ``ps`` does)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


class Sampler:
    """Samples the trees of ``roots`` until :meth:`stop`; :attr:`peak` is the largest sum."""

    def __init__(self, roots: list[int], interval: float = 0.2) -> None:
        self.roots = roots
        self.peak = 0
        self.last = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        return rss([pid for root in self.roots for pid in tree(root)])

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last = self.now()
            self.peak = max(self.peak, self.last)
            self._stop.wait(self._interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak
