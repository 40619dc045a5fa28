"""Sending: a build's pages in, Webmentions, Pingbacks and Trackbacks out, each once.

Entry points: :func:`send` (a build), :func:`deliver` (after the upload) and
:func:`preflight` (the checks before a build writes anything), from :mod:`.engine`; the page
value the adapters hand over, :class:`Source`; the run's summary, :class:`Report`. A page's
links go from :mod:`.engine` (the plan, and the sent-log of :mod:`.sentlog` with the page
cache of :mod:`.pagecache`) to :mod:`.dispatch` (the per-host scheduler), which asks
:mod:`.discovery` for each target's endpoints and :mod:`.protocols` to ping them.
"""

from .engine import deliver, preflight, send
from .report import Report
from .source import Source

__all__ = ["Report", "Source", "deliver", "preflight", "send"]
