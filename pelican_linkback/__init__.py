"""Pelican plugin: Webmention, Pingback and Trackback for a Pelican site.

Enable it with ``PLUGINS = ["pelican_linkback"]`` and set ``LINKBACK_SEND = True`` in
publishconf.py; the settings are the ``LINKBACK_*`` names of the linkback settings table.

- Sources are the published articles and pages (with their translations); drafts and hidden
  ones send nothing and get no trackback URI. ``Linkback: off`` in an article's metadata
  leaves it out as well; ``Trackbacks: URI, URI`` pings those trackback URIs by hand.
- Every HTML page gets the ``<link rel="webmention">`` / ``<link rel="pingback">`` tags of
  the endpoints set; each source gets the Trackback RDF and URI (``article.trackback_uri``,
  ``page.trackback_uri`` in templates) when ``LINKBACK_TRACKBACK_ENDPOINT`` is set and
  SITEURL is absolute (a trackback URI names the page by its absolute URL).
- ``LINKBACK_DISPLAY`` renders the approved linkbacks read from ``LINKBACK_MENTIONS_URL``
  after the content of each article and page that has some (``article.linkbacks``,
  ``page.linkbacks`` in templates; a theme's ``linkback.html`` replaces the built-in block).
- A relative ``LINKBACK_SENT_LOG`` is relative to the folder of the settings file, found from
  the module Pelican loads it as; failing that, the current folder (where ``make publish``
  runs).
- A bad setting or an unreadable sent-log stops ``pelican`` with exit code 2 and a message
  that names it.
"""

from .plugin import register

__all__ = ["register"]
