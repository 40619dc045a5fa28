"""The page cache: which pages had every link settled, so that a rebuild need not parse them.

A build with nothing new must cost about what a build without linkback costs, yet finding out
that nothing is new means parsing every page and checking each link against the sent-log.
The cache remembers, for every page whose links were all settled (SPEC "Once"), a digest of
what decides its links (content HTML and trackbacks given by hand) and how many there were
of each kind (sent, without endpoint, baseline...: the summary names them).
A page with the same digest counts as already sent, unparsed; when every page is such a page,
the sent-log itself is not parsed either.

The cache is a claim about one exact sent-log: it names the digest of that file, and is
ignored whole for any other (edited by hand, restored from elsewhere, changed by a later run),
as it is for other settings that decide a page's targets (site URL, ``exclude``) or another
version of linkback. It is an optimisation only: a missing, stale or unreadable cache means
the pages are parsed, as they would be without it. It sits beside the sent-log, like its lock
file, and is safe to delete or to leave out of version control.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..common.files import replace_file
from ..common.settings import Settings
from ..version import __version__
from .source import Source

FORMAT = 2
_logger = logging.getLogger("linkback")  # for load; save is given the run's logger


@dataclass(frozen=True)
class PageCache:
    """Pages known to have every link settled in the sent-log whose digest is ``log_digest``
    (``sentlog.NO_LOG`` for none): page URL -> (fingerprint, its links by settled kind)."""

    log_digest: str
    pages: Mapping[str, tuple[str, Counter[str]]]
    # The sources of the log whose Webmentions a deletion would take back: a build that has
    # them all need not parse the log to find pages gone from it.
    watched: frozenset[str] = frozenset()

    def links_of(self, source: Source, fingerprint: str) -> Counter[str] | None:
        """The links of ``source`` by kind, all settled; None when it must be parsed."""
        known = self.pages.get(source.url)
        return known[1] if known is not None and known[0] == fingerprint else None


def path_for(sent_log: Path) -> Path:
    return sent_log.with_name(sent_log.name + ".cache")


def fingerprint(source: Source) -> str:
    """A digest of everything of the page that decides its links."""
    hasher = hashlib.sha256(source.content.encode("utf-8", "surrogatepass"))
    for uri in source.manual_trackbacks:
        hasher.update(b"\0" + uri.encode("utf-8", "surrogatepass"))
    return hasher.hexdigest()[:32]


def _scope(settings: Settings) -> list[object]:
    """What, besides the page, decides its targets: a cache of other settings is not used."""
    return [__version__, settings.site_url, settings.send_updates, *settings.exclude]


def load(settings: Settings, log_digest: str) -> PageCache | None:
    """The cache written for exactly this sent-log and these settings, else None."""
    path = path_for(settings.sent_log_path)
    try:
        data = json.loads(path.read_bytes())
        if data["format"] != FORMAT or data["scope"] != _scope(settings):
            return None
        if data["sent_log"] != log_digest:
            return None
        pages = {
            url: (str(known[0]), Counter({str(k): int(n) for k, n in known[1].items()}))
            for url, known in data["pages"].items()
        }
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        _logger.debug("linkback: ignoring the page cache %s: %r", path, error)
        return None
    return PageCache(log_digest, pages, frozenset(str(url) for url in data["watched"]))


def save(settings: Settings, cache: PageCache, logger: logging.Logger) -> None:
    """Replace the cache atomically; a cache that cannot be written is only a slower build."""
    path = path_for(settings.sent_log_path)
    data = {
        "format": FORMAT,
        "scope": _scope(settings),
        "sent_log": cache.log_digest,
        "pages": {url: [mark, dict(kinds)] for url, (mark, kinds) in sorted(cache.pages.items())},
        "watched": sorted(cache.watched),
    }
    try:
        replace_file(path, [json.dumps(data, indent=0, ensure_ascii=False)])
    except OSError as error:
        logger.warning("linkback: cannot write the page cache %s: %s", path, error)
