"""Replacing a file in one step, for the sent-log, the page cache and the display's cache: a
build killed at any moment leaves the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

_WRITE_CHUNK = 256 * 1024  # characters encoded and written at once by replace_file


def replace_file(path: Path, pieces: Iterable[str]) -> None:
    """Write ``pieces`` as the new ``path`` in one step (temporary file, fsync, rename), with
    the old file's permissions. A symbolic link is written through: its target is replaced,
    and the link stays (a sent-log kept in a CI cache is often linked into place)."""
    path = Path(os.path.realpath(path))
    directory = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            for text in _joined(pieces):
                handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_of(path))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _joined(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces in strings of about ``_WRITE_CHUNK`` characters: the log is rewritten after
    every burst of results, and encoding, hashing and writing each of its hundreds of
    fragments apart costs more than the bytes themselves. Bounded, unlike one big join."""
    batch: list[str] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= _WRITE_CHUNK:
            yield "".join(batch)
            batch.clear()
            size = 0
    if batch:
        yield "".join(batch)


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


_NEW_FILE_MODE = 0o666 & ~_read_umask()  # read once: os.umask is process-wide


def _mode_of(path: Path) -> int:
    """Keep the file's permissions (mkstemp would make it private)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return _NEW_FILE_MODE
