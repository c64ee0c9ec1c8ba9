"""SEGLIB_DATA=oxford: the release downloaded without TFDS, tested offline.

A local HTTP server on 127.0.0.1 serves ``images.tar.gz`` and ``annotations.tar.gz``
packed from the synthetic generator, with their sizes and SHA-256 checksums handed to
:func:`seglib.data.oxford_dataset_dir` (the real ones are TFDS's; tests/test_tfds.py checks
that they agree with the installed TFDS). The server honours ``Range`` requests, and can
cut a download short or serve other bytes, to test resuming and the checks.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import socket
import tarfile
import threading
from pathlib import Path

from seglib import DataError, data

import numpy as np
import pytest


class _Server:
    """Serves ``files`` (name -> bytes) over HTTP; ``cut`` names files sent half-way."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.cut: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, name, Range)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest's output clean
                pass

            def _send(self, body: bool):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append((self.command, name, self.headers.get("Range")))
                if name not in server.files:
                    self.send_error(404)
                    return
                payload = server.files[name]
                start = 0
                wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if wanted and int(wanted.group(1)) < len(payload):
                    start = int(wanted.group(1))
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}"
                    )
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(payload) - start))
                self.end_headers()
                if not body:
                    return
                chunk = payload[start:]
                if name in server.cut:  # announce it all, send half, hang up
                    chunk = chunk[: len(chunk) // 2]
                self.wfile.write(chunk)
                self.wfile.flush()
                self.close_connection = True

            def do_HEAD(self):
                self._send(body=False)

            def do_GET(self):
                self._send(body=True)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/pets/{name}"

    def archives(self, checksums: dict[str, str] | None = None):
        """``(url, size, sha256)`` of every served file, as TFDS records the real ones."""
        checksums = checksums or {}
        return [
            (self.url(n), len(b), checksums.get(n, hashlib.sha256(b).hexdigest()))
            for n, b in self.files.items()
        ]

    def gets(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[0] == "GET"]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _tar_gz(folder: Path, arcname: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=arcname)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The synthetic set in the release layout and its two archives' bytes."""
    source = data.write_synthetic_dataset(
        tmp_path_factory.mktemp("oxford") / "generated", num_images=12, seed=3
    )
    return source, {
        "images.tar.gz": _tar_gz(source / "images", "images"),
        "annotations.tar.gz": _tar_gz(source / "annotations", "annotations"),
    }


@pytest.fixture
def server(release):
    served = _Server(release[1])
    yield served
    served.close()


def _leftovers(cache: Path) -> list[str]:
    """Half-unpacked folders or a release folder where none should be."""
    found = [p.name for p in cache.glob(".oxford-unpacking-*")]
    if (cache / "oxford-iiit-pet").exists():
        found.append("oxford-iiit-pet")
    return found


def _pairs(ds) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(i.numpy(), m.numpy()) for i, m in ds]


def test_oxford_source_downloads_checks_unpacks_and_loads(release, server, tmp_path, monkeypatch):
    source, _ = release
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(data.archive, "OXFORD_ARCHIVES", tuple(server.archives()))
    test_pairs = _pairs(data.load("test", "oxford"))
    folder = tmp_path / "seglib" / "oxford-iiit-pet"
    assert folder.is_dir()
    # the release layout, the same pairs as the folder it was packed from
    assert data.scan_directory(folder)["name"].tolist() == (
        data.scan_directory(source)["name"].tolist()
    )
    expected = _pairs(data.load("test", source))
    assert len(test_pairs) == len(expected) > 0
    for (image, mask), (want_image, want_mask) in zip(test_pairs, expected, strict=True):
        np.testing.assert_array_equal(image, want_image)
        np.testing.assert_array_equal(mask, want_mask)
    assert sorted(name for _, name, _ in server.gets()) == ["annotations.tar.gz", "images.tar.gz"]
    # archives deleted once unpacked, nothing half-written left behind
    assert list((tmp_path / "seglib" / "downloads").iterdir()) == []
    assert not list((tmp_path / "seglib").glob(".oxford-unpacking-*"))
    # later calls use the unpacked folder: no request at all
    before = len(server.requests)
    monkeypatch.setenv("SEGLIB_DATA", "oxford")  # the variable picks the source, as in notebooks
    assert data.count(data.load("train")) > 0
    assert data.IndexedSplit("test", "oxford")[0][0].shape[-1] == 3
    assert len(server.requests) == before


def test_a_cut_download_is_a_clear_error_and_the_next_call_resumes(server, tmp_path):
    server.cut = {"images.tar.gz"}
    archives = server.archives()
    with pytest.raises(DataError, match=r"images\.tar\.gz.*Run again to resume") as info:
        data.oxford_dataset_dir(tmp_path, archives)
    size = len(server.files["images.tar.gz"])
    part = tmp_path / "downloads" / "images.tar.gz.part"
    assert f"of {size:,} bytes" in str(info.value)
    assert 0 < part.stat().st_size < size  # kept, to resume
    assert _leftovers(tmp_path) == []

    server.cut = set()
    folder = data.oxford_dataset_dir(tmp_path, archives)
    assert (folder / "annotations" / "test.txt").is_file()
    resumed = [r for r in server.gets() if r[1] == "images.tar.gz"][-1]
    assert resumed[2] == f"bytes={size // 2}-"  # asked only for the rest
    assert not part.exists()


def test_a_wrong_checksum_is_a_clear_error_and_nothing_is_unpacked(server, tmp_path):
    wrong = "0" * 64
    archives = server.archives({"annotations.tar.gz": wrong})
    with pytest.raises(DataError) as info:
        data.oxford_dataset_dir(tmp_path, archives)
    message = str(info.value)
    assert "annotations.tar.gz" in message and "checksum mismatch" in message
    assert wrong in message and "Run again" in message
    downloads = tmp_path / "downloads"
    assert not (downloads / "annotations.tar.gz.part").exists()  # deleted, not kept
    assert not (downloads / "annotations.tar.gz").exists()
    assert _leftovers(tmp_path) == []


def test_an_archive_reaching_outside_its_folder_is_refused(release, server, tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    server.files["annotations.tar.gz"] = buffer.getvalue()
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"annotations\.tar\.gz: cannot unpack"):
        data.oxford_dataset_dir(cache, server.archives())
    assert not (tmp_path / "escaped.txt").exists() and not (cache / "escaped.txt").exists()
    assert _leftovers(cache) == []  # images.tar.gz was unpacked first: removed again


def test_archives_without_the_release_layout_are_refused(release, server, tmp_path):
    server.files["annotations.tar.gz"] = _tar_gz(release[0] / "images", "not-annotations")
    with pytest.raises(DataError, match="not the Oxford-IIIT Pet release"):
        data.oxford_dataset_dir(tmp_path, server.archives())
    assert _leftovers(tmp_path) == []


def test_offline_the_oxford_source_fails_fast_and_says_what_to_do(tmp_path):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    archives = [(f"http://127.0.0.1:{port}/pets/images.tar.gz", 10, "0" * 64)]
    with pytest.raises(DataError, match=r"127\.0\.0\.1 does not answer.*SEGLIB_DATA=synthetic"):
        data.oxford_dataset_dir(tmp_path, archives, timeout=2)
    assert _leftovers(tmp_path) == []
