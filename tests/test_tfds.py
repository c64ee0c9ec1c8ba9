"""The TFDS source end to end, with no network.

Tiny ``images.tar.gz`` and ``annotations.tar.gz`` in the release layout are built from the
synthetic generator and handed to TFDS's real ``oxford_iiit_pet`` builder: only
``DownloadManager.download_and_extract`` is patched, so that the builder's two URLs resolve
to the local archives; TFDS's own extraction and preparation then run unchanged. Sockets
are blocked throughout, so any attempt to reach the network fails the test.
"""

from __future__ import annotations

import hashlib
import socket
import tarfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from seglib import DataError, data

import numpy as np
import pytest

TRIMAP_VALUES = {data.TRIMAP_PET, data.TRIMAP_BACKGROUND, data.TRIMAP_BORDER}


def _refuse(*args, **kwargs):
    raise OSError("network blocked by tests/test_tfds.py")


def _block_network(mp: pytest.MonkeyPatch) -> None:
    """Make every DNS lookup and socket connection fail at once."""
    mp.setattr(socket, "getaddrinfo", _refuse)
    mp.setattr(socket, "create_connection", _refuse)
    mp.setattr(socket.socket, "connect", _refuse)
    mp.setattr(socket.socket, "connect_ex", _refuse)


def _drop_from_lists(root: Path, names: set[str]) -> None:
    for listing in ("trainval", "test", "list"):
        path = root / "annotations" / f"{listing}.txt"
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line for line in lines if line.split()[0] not in names))
    for name in names:
        (root / "images" / f"{name}.jpg").unlink()
        (root / "annotations" / "trimaps" / f"{name}.png").unlink()


def _build_release(work: Path) -> tuple[Path, dict[str, Path]]:
    """Write the synthetic set, pack it like the release; return (unpacked folder, archives)."""
    source = data.write_synthetic_dataset(work / "generated", num_images=72, seed=0)
    # TFDS stores image bytes as they are and re-encodes only the release's own broken
    # files, by name; a GIF under any other name cannot be decoded as one frame. The real
    # release's GIF (Abyssinian_34) is on TFDS's list, so leave the synthetic GIF out.
    table = data.scan_directory(source)
    gifs = set(table.loc[table["image_format"] == "GIF", "name"])
    _drop_from_lists(source, gifs)
    downloads = work / "downloads"
    downloads.mkdir()
    archives = {
        "images.tar.gz": downloads / "images.tar.gz",
        "annotations.tar.gz": downloads / "annotations.tar.gz",
    }
    with tarfile.open(archives["images.tar.gz"], "w:gz") as tar:
        tar.add(source / "images", arcname="images")
    with tarfile.open(archives["annotations.tar.gz"], "w:gz") as tar:
        tar.add(source / "annotations", arcname="annotations")
    unpacked = work / "unpacked"  # what a user gets by unpacking both archives into a folder
    for archive in archives.values():
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
    return unpacked, archives


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The unpacked release folder, the prepared TFDS data dir and the URLs TFDS asked for."""
    import tensorflow_datasets as tfds

    work = tmp_path_factory.mktemp("tfds-release")
    unpacked, archives = _build_release(work)
    requested: list[str] = []

    def download_and_extract(self, url_or_urls):
        def local(url):
            requested.append(url)
            return archives[Path(urlsplit(url).path).name]

        if isinstance(url_or_urls, dict):
            return self.extract({key: local(url) for key, url in url_or_urls.items()})
        return self.extract(local(url_or_urls))

    data_dir = work / "tfds"
    with pytest.MonkeyPatch.context() as mp:
        _block_network(mp)
        mp.setattr(tfds.download.DownloadManager, "download_and_extract", download_and_extract)
        builder = tfds.builder(data.TFDS_NAME, data_dir=str(data_dir))
        assert not builder.is_prepared()
        builder.download_and_prepare()
        assert builder.is_prepared()
    return {"unpacked": unpacked, "data_dir": data_dir, "requested": requested}


def _key(image: np.ndarray, mask: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in (image, mask):
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _names_by_content(data_dir: Path) -> dict[str, str]:
    """Map each TFDS example's (image, mask) content to its ``file_name`` without extension."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(data.TFDS_NAME, data_dir=str(data_dir))
    names: dict[str, str] = {}
    for split in ("train", "test"):
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            key = _key(ex["image"], ex["segmentation_mask"])
            assert key not in names, "two examples with identical content: cannot match by name"
            names[key] = ex["file_name"].decode().rsplit(".", 1)[0]
    return names


def _listed(root: Path, listing: str) -> set[str]:
    return {
        line.split()[0]
        for line in (root / "annotations" / f"{listing}.txt").read_text().split("\n")
        if line
    }


def test_tfds_builder_asked_for_the_two_release_archives(release):
    import tensorflow_datasets as tfds

    builder_urls = set(tfds.builder_cls("oxford_iiit_pet").url_infos)  # its checksums.tsv
    assert builder_urls == set(data.TFDS_DOWNLOAD_URLS)
    assert set(release["requested"]) == builder_urls
    assert {Path(urlsplit(u).path).name for u in builder_urls} == {
        "images.tar.gz",
        "annotations.tar.gz",
    }


def test_tfds_source_gives_the_directory_sources_pairs(release, monkeypatch):
    unpacked, data_dir = release["unpacked"], release["data_dir"]
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    _block_network(monkeypatch)  # a prepared dataset loads without the network
    names_of = _names_by_content(data_dir)
    table = data.scan_directory(unpacked)
    got: dict[str, set[str]] = {}
    labels: set[int] = set()
    for split in ("train", "validation", "test"):
        from_tfds = {}
        for image, mask in data.load(split, "tfds"):
            image, mask = image.numpy(), mask.numpy()
            from_tfds[names_of[_key(image, mask)]] = (image, mask)
        names = table.loc[table["split"] == split, "name"].tolist()
        from_dir = {
            name: (image.numpy(), mask.numpy())
            for name, (image, mask) in zip(names, data.load(split, unpacked), strict=True)
        }
        assert sorted(from_tfds) == sorted(from_dir), split
        for name, (image, mask) in from_tfds.items():
            dir_image, dir_mask = from_dir[name]
            assert image.dtype == mask.dtype == np.uint8
            assert image.shape[-1] == 3 and mask.shape[-1] == 1
            np.testing.assert_array_equal(image, dir_image, err_msg=name)
            np.testing.assert_array_equal(mask, dir_mask, err_msg=name)
            values = set(np.unique(mask).tolist())
            assert values <= TRIMAP_VALUES, (name, values)
            labels |= values
        got[split] = set(from_tfds)
    print({split: len(names) for split, names in got.items()})

    trainval, test = _listed(unpacked, "trainval"), _listed(unpacked, "test")
    ordered = sorted(trainval)
    held_out = {n for n, v in zip(ordered, data.is_validation(ordered), strict=True) if v}
    assert got["validation"] == held_out and got["validation"]  # non-empty, the hash carve
    assert got["train"] == trainval - held_out
    assert not got["train"] & got["validation"]
    assert got["test"] == test and not test & trainval
    assert labels == TRIMAP_VALUES


def test_tfds_source_offline_fails_fast_and_says_what_to_do(tmp_path, monkeypatch):
    empty = tmp_path / "tfds"
    monkeypatch.setenv("TFDS_DATA_DIR", str(empty))
    _block_network(monkeypatch)
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        data.load("train", "tfds")
    seconds = time.perf_counter() - start
    print(f"offline DataError after {seconds:.2f} s")
    assert seconds < 30
    message = str(info.value)
    for needed in (
        "oxford_iiit_pet",
        str(empty),  # where it looked
        "thor.robots.ox.ac.uk",  # which host did not answer
        "images.tar.gz",
        "annotations.tar.gz",
        "SEGLIB_DATA=/path/to/that/folder",
        "SEGLIB_DATA=synthetic",
    ):
        assert needed in message, needed


def test_tfds_probe_gives_up_on_a_host_that_never_answers(tmp_path, monkeypatch):
    release_dns = threading.Event()

    def hanging_lookup(*args, **kwargs):  # a resolver that never replies
        release_dns.wait(60)
        raise OSError("lookup abandoned")

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    monkeypatch.setattr(data.network, "TFDS_PROBE_TIMEOUT", 1.0)
    start = time.perf_counter()
    try:
        with pytest.raises(DataError, match="no answer within 1 s"):
            data.load("test", "tfds")
    finally:
        release_dns.set()
    assert time.perf_counter() - start < 10


def test_indexed_split_reads_tfds_slices_in_load_order(release, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(release["data_dir"]))
    _block_network(monkeypatch)
    for split in ("test", "validation"):
        pairs = list(data.load(split, "tfds", limit=5))
        indexed = data.IndexedSplit(split, "tfds", limit=5)
        assert len(indexed) == len(pairs) > 0
        for i in (0, len(pairs) - 1):
            image, mask = indexed[i]
            assert _key(image.numpy(), mask.numpy()) == _key(*(t.numpy() for t in pairs[i]))


def test_tfds_source_keeps_only_the_given_breeds(release, monkeypatch):
    unpacked, data_dir = release["unpacked"], release["data_dir"]
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    _block_network(monkeypatch)
    names_of = _names_by_content(data_dir)
    table = data.scan_directory(unpacked)
    breed = table.loc[table["split"] == "test", "breed"].iloc[0]
    got = {
        names_of[_key(i.numpy(), m.numpy())] for i, m in data.load("test", "tfds", breeds=[breed])
    }
    want = set(table.loc[(table["split"] == "test") & (table["breed"] == breed), "name"])
    assert got == want and got


def test_tfds_source_rejects_an_unknown_breed_by_name(release, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(release["data_dir"]))
    _block_network(monkeypatch)
    breed = data.scan_directory(release["unpacked"])["breed"].iloc[0]
    # A misspelling (here: wrong case) must not give an empty split; the error lists the breeds.
    with pytest.raises(DataError, match=rf"no breed '{breed.swapcase()}'.*{breed}"):
        data.load("test", "tfds", breeds=[breed.swapcase()])


def test_tfds_breed_counts_equal_the_directory_sources(release, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(release["data_dir"]))
    _block_network(monkeypatch)
    from_tfds = data.breed_counts("tfds")
    from_dir = data.breed_counts(release["unpacked"])
    assert from_tfds.equals(from_dir) and from_tfds.to_numpy().sum() > 0


# --- a broken TFDS install: the error names the cause and the fix ----------------------
#
# TFDS's __init__ logs and swallows the errors of its own imports, leaving a module without
# ``builder``. These tests put such a half-imported module in place and make the import of
# its public API raise each cause seen on Colab's packages.

PROTOBUF_MISMATCH = (
    "Detected incompatible Protobuf Gencode/Runtime versions when loading "
    "tensorflow_metadata/proto/v0/schema.proto: gencode 6.31.1 runtime 5.29.6. Runtime version "
    "cannot be older than the linked gencode version. See Protobuf version guarantees at "
    "https://protobuf.dev/support/cross-version-runtime-guarantee."
)


def _version_error(message: str) -> Exception:
    try:  # protobuf's own class where this protobuf has it (5.26 and later)
        from google.protobuf.runtime_version import VersionError
    except ImportError:
        VersionError = type("VersionError", (Exception,), {})
    return VersionError(message)


@pytest.fixture
def half_imported_tfds(monkeypatch):
    """Install a ``tensorflow_datasets`` without ``builder`` whose ``public_api`` raises
    what ``set_error`` was given (or imports fine, given None); undone afterwards."""
    import importlib.abc
    import importlib.util
    import sys
    import types

    raised: list[BaseException | None] = [None]

    class Loader(importlib.abc.Loader):
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            if raised[0] is not None:
                raise raised[0]

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname == "tensorflow_datasets.public_api":
                return importlib.util.spec_from_loader(fullname, Loader())
            return None

    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "tensorflow_datasets"}
    for name in saved:
        del sys.modules[name]
    fake = types.ModuleType("tensorflow_datasets")
    fake.__path__ = []
    sys.modules["tensorflow_datasets"] = fake
    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    try:
        yield lambda error: raised.__setitem__(0, error)
    finally:
        for name in [k for k in sys.modules if k.split(".")[0] == "tensorflow_datasets"]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_protobuf_mismatch_is_named_with_its_fix(half_imported_tfds, tmp_path, monkeypatch):
    half_imported_tfds(_version_error(PROTOBUF_MISMATCH))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as info:
        data.load("train", "tfds")
    message = str(info.value)
    print(message)
    assert "has no attribute" not in message
    assert "Gencode/Runtime" in message
    assert "protobuf (5.29.6) refuses" in message and "generated with protobuf 6.31.1" in message
    assert f'pip install "{data.TFDS_FIXES["tensorflow_metadata"]}"' in message
    assert "tensorflow-metadata==1.17.2" in message
    assert "SEGLIB_DATA=oxford" in message  # the way around TFDS


def test_missing_module_is_named_with_its_fix(half_imported_tfds, tmp_path, monkeypatch):
    half_imported_tfds(
        ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")
    )
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as info:
        data.tfds_builder()
    message = str(info.value)
    assert "has no attribute" not in message
    assert "'importlib_resources'" in message
    assert 'pip install "importlib-resources==7.1.0"' in message
    assert "SEGLIB_DATA=oxford" in message


def test_tfds_imported_before_the_fix_asks_for_a_restart(half_imported_tfds):
    half_imported_tfds(None)  # the dependency is fixed, the module is still the broken one
    with pytest.raises(DataError, match=r"restart the Python kernel.*SEGLIB_DATA=oxford"):
        data.import_tfds()


def test_a_missing_module_when_the_builder_is_made_is_named(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def builder(*args, **kwargs):
        raise ModuleNotFoundError(
            "No module named 'importlib_resources'", name="importlib_resources"
        )

    monkeypatch.setattr(tfds, "builder", builder)
    with pytest.raises(DataError) as info:
        data.tfds_builder(tmp_path)
    message = str(info.value)
    assert message.startswith(f"Could not create the TFDS builder for {data.TFDS_NAME}")
    assert 'pip install "importlib-resources==7.1.0"' in message


def test_a_missing_module_when_tfds_reads_its_checksums_is_named(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    class Missing:  # TFDS reads url_infos through etils, which imports importlib_resources
        def __get__(self, instance, owner):
            raise ModuleNotFoundError(
                "No module named 'importlib_resources'", name="importlib_resources"
            )

    class Builder:
        url_infos = Missing()

        def is_prepared(self):
            return False

    monkeypatch.setattr(tfds, "builder", lambda *a, **k: Builder())
    with pytest.raises(DataError, match=r'pip install "importlib-resources==7\.1\.0"'):
        data.tfds_builder(tmp_path)


def test_a_network_failure_during_the_download_is_named(tmp_path, monkeypatch):
    import urllib.error

    import tensorflow_datasets as tfds

    class Builder:
        url_infos = {data.TFDS_DOWNLOAD_URLS[0]: None}
        data_dir_root = str(tmp_path)

        def is_prepared(self):
            return False

        def download_and_prepare(self):
            try:
                raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
            except urllib.error.URLError as e:
                raise RuntimeError("Failed to download the archive") from e

    monkeypatch.setattr(tfds, "builder", lambda *a, **k: Builder())
    # The probe got through.
    monkeypatch.setattr(data.tfds_source, "_unreachable", lambda *a, **k: None)
    with pytest.raises(DataError) as info:
        data.tfds_builder(tmp_path)
    message = str(info.value)
    assert "the network failed (URLError" in message and "name resolution" in message
    assert "SEGLIB_DATA=oxford" in message


def test_the_oxford_source_downloads_what_tfds_records():
    import tensorflow_datasets as tfds

    infos = tfds.builder_cls("oxford_iiit_pet").url_infos  # its checksums.tsv
    recorded = {(url, info.size, info.checksum) for url, info in infos.items()}
    assert recorded == set(data.OXFORD_ARCHIVES)
