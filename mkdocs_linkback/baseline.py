"""The sources of an MkDocs site, for ``linkback baseline --config mkdocs.yml``.

The site is built as ``mkdocs build`` builds it (every plugin included, so that the pages are
what a build would send from) into a temporary folder that is then removed; the linkback
plugin collects its sources instead of sending: nothing of the site, and no request, changes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from linkback import Source
from linkback.common.settings import ConfigError
from linkback.config_file import quiet

from .config import load


def sources(path: Path) -> list[Source]:
    """Every page of the site that is a source, as a build would send from them."""
    from mkdocs.commands.build import build
    from mkdocs.exceptions import MkDocsException

    with tempfile.TemporaryDirectory(prefix="linkback-baseline-") as output:
        config = load(path, site_dir=output)
        plugin = config.plugins["linkback"]
        plugin.collect_only = True
        with quiet("mkdocs"):
            try:
                build(config)
            except MkDocsException as error:
                raise ConfigError(f"building the MkDocs site of {path} failed: {error}") from None
        return list(plugin.sources)
