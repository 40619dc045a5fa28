"""The sources of a Pelican site, for ``linkback baseline --config FILE``.

The site is built as ``pelican -s FILE`` builds it (Pelican's own reading of the settings,
every generator and plugin, so that the content is what a publish would send from), but into
a temporary folder that is then removed, and with the plugin collecting the sources instead
of sending: nothing of the site, and no request, changes.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from linkback import Source
from linkback.common.settings import ConfigError
from linkback.config_file import quiet

from .config import beside, read_conf
from .plugin import COLLECT, LinkbackError


def sources(path: Path) -> list[Source]:
    """Every published article and page of the site, as a publish would send from them."""
    from pelican import Pelican

    collected: list[Source] = []
    with tempfile.TemporaryDirectory(prefix="linkback-baseline-") as output:
        override = {"OUTPUT_PATH": output, "DELETE_OUTPUT_DIRECTORY": False, COLLECT: collected}
        conf = read_conf(path, override)
        plugins = [getattr(plugin, "__name__", plugin) for plugin in conf.get("PLUGINS") or []]
        if "pelican_linkback" not in plugins:
            raise ConfigError(f'{path} does not enable linkback (PLUGINS = ["pelican_linkback"])')
        # Pelican reports its progress on standard output, which is the command's own, and
        # each file it writes (into a folder that is thrown away) in its log.
        with beside(path.parent), contextlib.redirect_stdout(sys.stderr), quiet("pelican"):
            try:
                Pelican(conf).run()
            except LinkbackError as error:
                raise ConfigError(str(error)) from None
            except Exception as error:  # noqa: BLE001 - a broken site fails as pelican would
                raise ConfigError(
                    f"building the Pelican site of {path} failed: {type(error).__name__}: {error}"
                ) from None
    return collected
