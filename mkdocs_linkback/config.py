"""An mkdocs.yml, read as ``mkdocs build`` reads it, for ``linkback --config``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linkback.common.settings import ConfigError
from linkback.config_file import SiteConfig, quiet


def load(path: Path, **overrides: Any) -> Any:
    """MkDocs' own loading and validation (``!ENV`` tags, inherited files, the plugins'
    options); an error names the file. The linkback plugin must be enabled in it."""
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    try:
        with quiet("mkdocs"):
            config = load_config(config_file=str(path), **overrides)
    except MkDocsException as error:  # the errors themselves went to MkDocs' log above
        raise ConfigError(f"cannot read {path}: {error}") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    if "linkback" not in config.plugins:
        raise ConfigError(f"{path} does not enable the linkback plugin (plugins: - linkback)")
    return config


def read(path: Path) -> SiteConfig:
    config = load(path)
    plugin = config.plugins["linkback"]
    return SiteConfig(
        path=path,
        generator="mkdocs",
        values=dict(plugin.config),
        spelling="plain",
        site_url=config.site_url or "",
        blog_name=config.site_name or "",
        output_dir=Path(config.site_dir) if config.site_dir else None,
    )
