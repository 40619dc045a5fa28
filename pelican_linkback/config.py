"""A Pelican settings file, read as ``pelican -s FILE`` reads it, for ``linkback --config``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from linkback.common.settings import PELICAN_PREFIX, ConfigError
from linkback.config_file import SiteConfig


@contextlib.contextmanager
def beside(folder: Path) -> Iterator[None]:
    """Run in the settings file's folder, as ``make publish`` does: publishconf.py imports
    pelicanconf after ``sys.path.append(os.curdir)``."""
    previous = os.getcwd()
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def read_conf(path: Path, override: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pelican's own reading of the file (defaults, deprecated names, relative paths made
    absolute); any failure of the file is one error that names it."""
    from pelican.settings import read_settings

    with beside(path.parent):
        try:
            conf: dict[str, Any] = read_settings(str(path), override=override)
            return conf
        except Exception as error:  # noqa: BLE001 - the user's Python file may raise anything
            raise ConfigError(
                f"cannot read the Pelican settings {path}: {type(error).__name__}: {error}"
            ) from None


def read(path: Path) -> SiteConfig:
    conf = read_conf(path)
    return SiteConfig(
        path=path,
        generator="pelican",
        values={name: value for name, value in conf.items() if name.startswith(PELICAN_PREFIX)},
        spelling="pelican",
        site_url=conf.get("SITEURL") or "",
        blog_name=conf.get("SITENAME") or "",
        output_dir=Path(conf["OUTPUT_PATH"]) if conf.get("OUTPUT_PATH") else None,
    )
