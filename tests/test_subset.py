"""SEGLIB_SUBSET (issue 32): ``lab`` keeps exactly the official split lines of the three lab
breeds through every source (a release-layout folder, the archive download, TFDS); ``all``
keeps every line; with the ../shared sample (only the lab breeds) both give the same photos.

The release used here is written from the synthetic generator: photos renamed to three lab
breeds and two others (Persian, beagle), with official-style split lists, packed into the
release's two archives, served on 127.0.0.1 for ``oxford`` and handed to TFDS's real builder
for ``tfds`` (the network is blocked)."""

from __future__ import annotations

import shutil
from pathlib import Path

from seglib import DataError, data

import numpy as np
import pytest
from test_oxford import _Server, _tar_gz
from test_tfds import _block_network, _key

#: breed -> (class id, species id) as in the release's list.txt.
BREEDS = {
    "Abyssinian": (1, 1),
    "american_bulldog": (2, 2),
    "Bengal": (6, 1),
    "beagle": (11, 2),
    "Persian": (24, 1),
}
LAB = set(data.LAB_BREEDS)


def _write_release(work: Path) -> Path:
    """The synthetic photos renamed to five breeds, lines in the release's format."""
    source = data.write_synthetic_dataset(work / "generated", num_images=60, seed=2)
    table = data.scan_directory(source)
    table = table[table["image_format"] != "GIF"]  # TFDS cannot read a GIF named .jpg
    root = work / "release"
    (root / "images").mkdir(parents=True)
    (root / "annotations" / "trimaps").mkdir(parents=True)
    lines = {"trainval": [], "test": []}
    for number, row in enumerate(table.itertuples(), start=1):
        breed = list(BREEDS)[number % len(BREEDS)]
        name = f"{breed}_{1000 + number}"  # not a name TFDS re-encodes (Abyssinian_5, ...)
        shutil.copy(row.image_path, root / "images" / f"{name}.jpg")
        shutil.copy(row.mask_path, root / "annotations" / "trimaps" / f"{name}.png")
        class_id, species = BREEDS[breed]
        lines[row.release_split].append(f"{name} {class_id} {species} {number}")
    for split, rows in lines.items():
        (root / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    (root / "annotations" / "list.txt").write_text(
        "\n".join(lines["trainval"] + lines["test"]) + "\n"
    )
    return root


def _listed(root: Path, split: str, breeds=None) -> set[str]:
    names = {
        line.split()[0]
        for line in (root / "annotations" / f"{split}.txt").read_text().split("\n")
        if line
    }
    return {n for n in names if breeds is None or n.rsplit("_", 1)[0] in breeds}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = _write_release(tmp_path_factory.mktemp("lab-release"))
    archives = {
        "images.tar.gz": _tar_gz(root / "images", "images"),
        "annotations.tar.gz": _tar_gz(root / "annotations", "annotations"),
    }
    return root, archives


@pytest.fixture(scope="module")
def tfds_dir(release, tmp_path_factory):
    """TFDS's real oxford_iiit_pet builder, prepared from the release's archives."""
    import tensorflow_datasets as tfds

    root, archives = release
    downloads = tmp_path_factory.mktemp("downloads")
    for name, content in archives.items():
        (downloads / name).write_bytes(content)

    def download_and_extract(self, url_or_urls):
        def local(url):
            return downloads / url.rsplit("/", 1)[-1]

        if isinstance(url_or_urls, dict):
            return self.extract({key: local(url) for key, url in url_or_urls.items()})
        return self.extract(local(url_or_urls))

    data_dir = tmp_path_factory.mktemp("tfds")
    with pytest.MonkeyPatch.context() as mp:
        _block_network(mp)
        mp.setattr(tfds.download.DownloadManager, "download_and_extract", download_and_extract)
        tfds.builder(data.TFDS_NAME, data_dir=str(data_dir)).download_and_prepare()
    return data_dir


def _keys(pairs) -> set[str]:
    return {_key(image.numpy(), mask.numpy()) for image, mask in pairs}


def test_the_release_has_lab_and_other_breeds(release):
    root, _ = release
    for split in ("trainval", "test"):
        breeds = {n.rsplit("_", 1)[0] for n in _listed(root, split)}
        assert breeds == set(BREEDS), split  # three lab breeds and two others in each list


def test_lab_keeps_the_lab_lines_of_a_folder_and_all_every_line(release, monkeypatch):
    root, _ = release
    monkeypatch.delenv("SEGLIB_SUBSET")  # the default is the lab set
    assert data.describe(root).pipe(lambda t: set(t["name"])) == (
        _listed(root, "trainval", LAB) | _listed(root, "test", LAB)
    )
    everything = data.describe(root, subset="all")
    assert set(everything["name"]) == _listed(root, "trainval") | _listed(root, "test")
    for split in ("trainval", "test"):
        lab = list(data.load(split, root))
        assert len(lab) == len(_listed(root, split, LAB)) > 0
        assert len(list(data.load(split, root, subset="all"))) == len(_listed(root, split))
    counts = data.breed_counts(root)
    assert set(counts.index) == LAB
    assert set(data.breed_counts(root, subset="ALL ").index) == set(BREEDS)  # case, spaces


def test_the_environment_variable_chooses_the_subset(release, monkeypatch):
    root, _ = release
    monkeypatch.setenv("SEGLIB_SUBSET", "all")
    assert len(data.IndexedSplit("test", root)) == len(_listed(root, "test"))
    monkeypatch.setenv("SEGLIB_SUBSET", "lab")
    assert len(data.IndexedSplit("test", root)) == len(_listed(root, "test", LAB))
    pipes = data.make_pipelines(root, image_size=32, batch_size=4)
    assert pipes.sizes["test"] == len(_listed(root, "test", LAB))
    monkeypatch.setenv("SEGLIB_SUBSET", "three")
    with pytest.raises(DataError, match=r"subset 'three' \(SEGLIB_SUBSET or subset=\): give 'lab'"):
        data.load("test", root)


def test_lab_through_the_archive_download(release, tmp_path, monkeypatch):
    root, archives = release
    server = _Server(archives)
    try:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        monkeypatch.setattr(data.archive, "OXFORD_ARCHIVES", tuple(server.archives()))
        for split in ("trainval", "test"):
            lab = _keys(data.load(split, "oxford", subset="lab"))
            assert lab == _keys(data.load(split, root, subset="lab"))
            assert len(lab) == len(_listed(root, split, LAB))
            assert len(list(data.load(split, "oxford", subset="all"))) == len(_listed(root, split))
    finally:
        server.close()


def test_lab_through_tfds(release, tfds_dir, monkeypatch):
    root, _ = release
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
    _block_network(monkeypatch)
    for split in ("train", "validation", "test"):
        lab = _keys(data.load(split, "tfds", subset="lab"))
        assert lab == _keys(data.load(split, root, subset="lab")), split
        everything = _keys(data.load(split, "tfds", subset="all"))
        assert everything == _keys(data.load(split, root, subset="all")), split
        assert lab < everything
    indexed = data.IndexedSplit("test", "tfds", subset="lab")
    pairs = list(data.load("test", "tfds", subset="lab"))
    assert len(indexed) == len(pairs) == len(_listed(root, "test", LAB))
    for i in (0, len(pairs) - 1):  # TFDS slices at the lab photos' own places
        assert _key(*(t.numpy() for t in indexed[i])) == _key(*(t.numpy() for t in pairs[i]))
    assert set(data.breed_counts("tfds", subset="lab").index) == LAB


def test_a_folder_without_the_lab_breeds_says_to_choose_all(tmp_path, synthetic_dir, monkeypatch):
    copy = tmp_path / "pets"
    shutil.copytree(synthetic_dir, copy)
    monkeypatch.setenv("SEGLIB_SUBSET", "lab")
    with pytest.raises(DataError, match=r"pets: the lab set .* set SEGLIB_SUBSET=all"):
        data.load("test", copy)
    assert len(list(data.load("test", "synthetic"))) > 0  # the synthetic source ignores it


def test_with_the_shared_sample_lab_and_all_are_the_same_photos(real_data_dir):
    for split in ("train", "validation", "test"):
        lab = list(data.load(split, real_data_dir, subset="lab"))
        everything = list(data.load(split, real_data_dir, subset="all"))
        assert len(lab) == len(everything) > 0
        for (a, b), (c, d) in zip(lab[:3], everything[:3], strict=True):
            np.testing.assert_array_equal(a.numpy(), c.numpy())
            np.testing.assert_array_equal(b.numpy(), d.numpy())
    sizes = {s: len(list(data.load(s, real_data_dir, subset="lab"))) for s in ("trainval", "test")}
    assert sizes == {"trainval": 300, "test": 298}


def test_use_subset_chooses_for_later_loads_and_names_the_folder_not_its_path(release, monkeypatch):
    root, _ = release
    monkeypatch.setenv("SEGLIB_SUBSET", "all")
    line = data.use_subset("lab", root)
    lab = {s: len(_listed(root, s, LAB)) for s in ("trainval", "test")}
    assert line.startswith(
        "data: folder release, subset lab (Abyssinian, Bengal, american_bulldog): "
    )
    assert line.endswith(f"test {lab['test']} photos") and str(root) not in line
    assert len(list(data.load("test", root))) == lab["test"]  # the choice holds for later loads
    assert "subset all (every breed)" in data.use_subset("all", root)
    assert len(list(data.load("test", root))) == len(_listed(root, "test"))
