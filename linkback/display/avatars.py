"""Authors' photos served by the site itself (``avatars: local``), so that no reader's
browser calls a third party.

Each photo URL is downloaded once, through the guarded client, at most 100 KB, and kept only
when its bytes are a raster image (PNG, JPEG, GIF, WebP, AVIF: never SVG, which can carry
scripts). Files are named by a digest of their bytes and kept in a store beside the cache,
then copied into the output folder where missing; the cache remembers which URL became
which file, and which failed (shown as a neutral placeholder), so a photo is never asked
for twice.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..common.http import Client, FetchError
from .cache import Cache

AVATAR_CAP = 100 * 1024
PER_BUILD = 100  # photos fetched in one build at most; the others wait for the next one
FOLDER = "linkback-avatars"  # in the output folder, and the store's name beside the cache
# A grey disc, shown in place of a photo that could not be fetched: no request at all.
PLACEHOLDER = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 2 2'%3E"
    "%3Ccircle cx='1' cy='1' r='1' fill='%23bbb'/%3E%3C/svg%3E"
)


def image_suffix(body: bytes) -> str | None:
    """The file suffix of a raster image recognised by its first bytes, else None."""
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if body.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if body.startswith((b"GIF87a", b"GIF89a")):
        return ".gif"
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return ".webp"
    if body[4:12] in (b"ftypavif", b"ftypavis"):
        return ".avif"
    return None


def store_of(cache_path: Path) -> Path:
    """Where downloaded photos are kept between builds: beside the cache file, because an
    output folder may be emptied by every build (MkDocs does)."""
    return cache_path.with_name(cache_path.stem + "-avatars")


def download(
    photos: Iterable[str], cache: Cache, store: Path, client: Client, logger: logging.Logger
) -> bool:
    """Fetch the photos the cache has no answer for yet (at most PER_BUILD of them: each may
    take the whole timeout); True when it learnt something."""
    wanted = [
        url
        for url in sorted(set(photos))
        if (name := cache.avatars.get(url)) is None or (name and not (store / name).is_file())
    ]
    for url in wanted[:PER_BUILD]:
        cache.avatars[url] = fetch_one(url, store, client, logger)
    return bool(wanted)


def fetch_one(url: str, store: Path, client: Client, logger: logging.Logger) -> str:
    """The file name of the photo at ``url`` in ``store``, or "" when it cannot be used."""
    try:
        answer = client.get(url, cap=AVATAR_CAP + 1)
    except FetchError as error:
        logger.debug("linkback: avatar %s: %s", url, error)
        return ""
    suffix = image_suffix(answer.body)
    if answer.status != 200 or len(answer.body) > AVATAR_CAP or suffix is None:
        logger.debug("linkback: avatar %s: HTTP %s, not a small image", url, answer.status)
        return ""
    if not answer.media_type.startswith("image/") or answer.media_type == "image/svg+xml":
        logger.debug("linkback: avatar %s: served as %s", url, answer.media_type)
        return ""
    name = hashlib.sha256(answer.body).hexdigest()[:32] + suffix
    store.mkdir(parents=True, exist_ok=True)
    target = store / name
    if not target.is_file():
        temporary = target.with_name("." + name + ".tmp")
        temporary.write_bytes(answer.body)
        temporary.replace(target)
    return name


def publish(names: Iterable[str], store: Path, output_dir: Path) -> None:
    """Copy the photos shown into ``output_dir/linkback-avatars``; a file already there has
    the same bytes (its name is their digest) and is left alone."""
    folder = output_dir / FOLDER
    for name in sorted(set(names)):
        target = folder / name
        if name and not target.exists() and (store / name).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(store / name, target)
