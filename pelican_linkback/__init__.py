"""Pelican plugin: Webmention, Pingback and Trackback for a Pelican site.

Enable it with ``PLUGINS = ["pelican_linkback"]`` and set ``LINKBACK_SEND = True`` in
publishconf.py; the settings are the ``LINKBACK_*`` names of the linkback settings table.
"""

from .plugin import register

__all__ = ["register"]
