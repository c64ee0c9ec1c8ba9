"""The archive source (``SEGLIB_DATA=oxford``): the release's two archives, without TFDS.

Downloaded with resumption, checked against the sizes and SHA-256 sums TFDS records,
unpacked once into a cache folder and then read as a folder (:mod:`seglib.data.folder`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from seglib.data.layout import _cache_root, _move_into_place
from seglib.data.network import TFDS_PROBE_TIMEOUT, _unreachable
from seglib.errors import DataError

#: The release archives for ``SEGLIB_DATA=oxford``: ``(url, size in bytes, SHA-256)``,
#: exactly as TFDS records them for oxford_iiit_pet (its ``checksums.tsv``; a test checks
#: that they agree with the installed TFDS).
OXFORD_ARCHIVES = (
    (
        "https://thor.robots.ox.ac.uk/~vgg/data/pets/images.tar.gz",
        791_918_971,
        "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
    ),
    (
        "https://thor.robots.ox.ac.uk/~vgg/data/pets/annotations.tar.gz",
        19_173_078,
        "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
    ),
)
#: Seconds a stalled download may stay silent before it is abandoned (resumable).
OXFORD_TIMEOUT = 60.0


# ---------------------------------------------------------------------------
# The release, downloaded directly (SEGLIB_DATA=oxford)
# ---------------------------------------------------------------------------

#: What an unpacked release must hold before it is renamed into the cache.
_RELEASE_FILES = (
    "images",
    "annotations/trimaps",
    "annotations/trainval.txt",
    "annotations/test.txt",
)


def _sha256(path: Path) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _download_archive(url: str, size: int, sha256: str, target: Path, timeout: float) -> None:
    """Download ``url`` to ``target``, resuming a ``target.part`` left by an earlier try.

    The bytes go to ``<target>.part`` (appended with an HTTP ``Range`` request when a
    part is there and the server honours it); only a file of the recorded size and
    SHA-256 is renamed to ``target``. A short file is kept for the next try to resume; a
    file of the right size but the wrong checksum (or too long) is deleted.
    """
    import http.client
    import urllib.error
    import urllib.request

    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if have > size:
        part.unlink()
        have = 0
    if have < size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=timeout
            ) as response:
                append = have > 0 and response.status == 206  # else the server sent it all
                with open(part, "ab" if append else "wb") as out:
                    shutil.copyfileobj(response, out, 1 << 20)
        except urllib.error.HTTPError as e:
            raise DataError(
                f"{url}: the server answered HTTP {e.code} ({e.reason}); the archive was not "
                "downloaded. Run again later, or see the README's data section for other sources."
            ) from e
        except (OSError, http.client.HTTPException) as e:
            got = part.stat().st_size if part.is_file() else 0
            raise DataError(
                f"{url}: the download stopped after {got:,} of {size:,} bytes "
                f"({type(e).__name__}: {e}). Run again to resume it ({part} is kept)."
            ) from e
    got = part.stat().st_size
    if got < size:
        raise DataError(
            f"{url}: the download ended after {got:,} of {size:,} bytes (the connection closed "
            f"early). Run again to resume it ({part} is kept)."
        )
    if got > size:
        part.unlink()
        raise DataError(
            f"{url}: the server sent {got:,} bytes where TFDS records {size:,}; the file was "
            "deleted. Run again to download it afresh."
        )
    digest = _sha256(part)
    if digest != sha256:
        part.unlink()
        raise DataError(
            f"{url}: checksum mismatch, SHA-256 {digest} where TFDS records {sha256}; the "
            "download was deleted. Run again to download it afresh; if it keeps failing, the "
            "file on the server has changed."
        )
    os.replace(part, target)


def _unpack_release(archives: list[Path], target: Path) -> None:
    """Unpack ``archives`` into a temporary folder beside ``target``, check the release
    layout, then rename the folder to ``target``. Members that would land outside the
    folder, links out of it, devices and the like are refused (``tarfile``'s ``data``
    filter). On any error the temporary folder is removed and ``target`` is untouched."""
    import tarfile
    import zlib

    tmp = Path(tempfile.mkdtemp(prefix=".oxford-unpacking-", dir=target.parent))
    try:
        for archive in archives:
            try:
                with tarfile.open(archive, "r:gz") as tar:
                    tar.extractall(tmp, filter="data")
            except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
                archive.unlink(missing_ok=True)  # checked, yet unreadable: fetch it again
                raise DataError(
                    f"{archive}: cannot unpack the archive ({type(e).__name__}: {e}); it was "
                    "deleted. Run again to download it afresh."
                ) from e
        missing = [name for name in _RELEASE_FILES if not (tmp / name).exists()]
        if missing:
            raise DataError(
                f"{', '.join(a.name for a in archives)}: the unpacked archives lack "
                f"{', '.join(missing)}, so they are not the Oxford-IIIT Pet release."
            )
        _move_into_place(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def oxford_dataset_dir(cache_dir=None, archives=None, timeout: float | None = None) -> Path:
    """Return the folder of the Oxford-IIIT Pet release, downloading it on first use.

    What ``SEGLIB_DATA=oxford`` loads, without TensorFlow Datasets: the release's two
    archives (``images.tar.gz``, 792 MB; ``annotations.tar.gz``, 19 MB; the URLs, sizes
    and SHA-256 checksums TFDS records, :data:`OXFORD_ARCHIVES`) are downloaded into
    ``<cache>/downloads/``, checked, and unpacked into ``<cache>/oxford-iiit-pet/`` in the
    release layout read by :func:`~seglib.data.load_directory`. The cache is ``cache_dir``, else
    ``$XDG_CACHE_HOME/seglib`` or ``~/.cache/seglib``.

    Every step can be interrupted safely: a download is written to ``<name>.part`` and
    resumed by the next call; the archives are unpacked into a temporary folder that is
    renamed to ``oxford-iiit-pet`` only when complete (and removed on any error); the
    archives are deleted once unpacked. Later calls find the folder and use no network.

    Args:
        cache_dir: folder for ``downloads/`` and ``oxford-iiit-pet/``.
        archives: ``(url, size in bytes, SHA-256)`` tuples; None means
            :data:`OXFORD_ARCHIVES` (tests serve their own).
        timeout: seconds a silent connection is waited for; None means
            :data:`OXFORD_TIMEOUT`.

    Returns:
        the release folder (``images/``, ``annotations/trimaps/``, ``annotations/*.txt``).

    Raises:
        DataError: the host does not answer (offline: within :data:`~seglib.data.TFDS_PROBE_TIMEOUT`
            seconds), a download stopped early (run again to resume), a checksum does not
            match, or an archive cannot be unpacked safely. The message names the URL or
            file and what to do.
    """
    from urllib.parse import urlsplit

    archives = OXFORD_ARCHIVES if archives is None else tuple(archives)
    timeout = OXFORD_TIMEOUT if timeout is None else timeout
    cache = Path(cache_dir) if cache_dir is not None else _cache_root()
    target = cache / "oxford-iiit-pet"
    if (target / "annotations" / "test.txt").is_file():
        return target
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob(".oxford-unpacking-*"):  # left by a killed process
        shutil.rmtree(stale, ignore_errors=True)
    files = []
    for url, size, sha256 in archives:
        name = Path(urlsplit(url).path).name
        if not name.endswith(".tar.gz"):
            raise ValueError(f"{url}: expected a .tar.gz archive")
        path = downloads / name
        if not path.is_file():
            problem = _unreachable(url, min(timeout, TFDS_PROBE_TIMEOUT))
            if problem is not None:
                host = urlsplit(url).hostname or url
                raise DataError(
                    f"Cannot download the Oxford-IIIT Pet release: {host} does not answer "
                    f"({problem}). Offline? Set SEGLIB_DATA to a folder holding the unpacked "
                    "release, or SEGLIB_DATA=synthetic to run on generated data."
                )
            _download_archive(url, size, sha256, path, timeout)
        files.append(path)
    _unpack_release(files, target)
    for path in files:
        path.unlink(missing_ok=True)
    return target
