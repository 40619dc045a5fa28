"""The version, in a module of its own: the package's modules name it in their User-Agent and
their caches, and importing it from ``linkback`` would load the whole package first."""

__version__ = "0.1.0"
