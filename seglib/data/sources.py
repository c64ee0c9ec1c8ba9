"""One entry point over every source: :func:`load` picks the folder, TFDS, archive or
synthetic source (``SEGLIB_DATA``, see :mod:`seglib.config`) and returns one split as raw
``(image, trimap)`` pairs; :class:`IndexedSplit`, :func:`describe` and :func:`breed_counts`
look at a split without building a pipeline.
"""

from __future__ import annotations

import os
from pathlib import Path

from seglib.config import data_source
from seglib.data.archive import oxford_dataset_dir
from seglib.data.folder import load_directory, scan_directory, subset_rows
from seglib.data.layout import (
    LAB_BREEDS,
    SPLITS,
    VALIDATION_FRACTION,
    _limit_rows,
    _select,
    check_limit,
    check_not_empty,
    choose_subset,
    is_validation,
    resolve_subset,
    subset_breeds,
)
from seglib.data.synthetic import synthetic_dataset_dir
from seglib.data.tfds_source import _tfds_names, import_tfds, load_tfds, tfds_builder
from seglib.data.verify import _decode_pair

import numpy as np
import pandas as pd
import tensorflow as tf


def load(
    split: str = "train",
    source: str | os.PathLike | None = None,
    validation_fraction: float = VALIDATION_FRACTION,
    limit: int | None = None,
    breeds=None,
    subset: str | None = None,
) -> tf.data.Dataset:
    """Load one split from any source: the single entry point the notebooks use.

    Args:
        split: ``"train"``, ``"validation"``, ``"trainval"`` or ``"test"``.
        source: ``"tfds"``, ``"oxford"``, ``"synthetic"`` or a directory; None reads
            ``SEGLIB_DATA``. ``"tfds"`` uses the TFDS data folder in ``TFDS_DATA_DIR`` (see
            :func:`~seglib.data.load_tfds`); ``"oxford"`` downloads the release without TFDS (see
            :func:`~seglib.data.oxford_dataset_dir`).
        validation_fraction: share of ``trainval`` held out (see :func:`~seglib.data.is_validation`).
        limit: keep at most this many pairs (smoke runs); None keeps all.
        breeds: keep only these breeds, e.g. ``["Abyssinian", "beagle"]`` (names as in
            the file names: capitalised = cat, lower case = dog); None keeps all. For
            leave-one-breed-out experiments (train on some breeds, test on another).
            Given, it replaces ``subset``.
        subset: ``"lab"``, the course's lab set: the official ``trainval``/``test`` lines
            of :data:`~seglib.data.LAB_BREEDS` (Abyssinian, Bengal, american_bulldog;
            598 photos), on which every reference figure was measured; ``"all"``: every
            breed (7,349 photos in the full release). None reads ``SEGLIB_SUBSET`` (default
            ``"lab"``). It applies to TFDS, the archive and any release-layout folder; a
            folder that holds only the lab breeds gives the same photos under both. The
            synthetic source ignores it (its made-up breeds stand in for the whole set).

    Returns:
        ``tf.data.Dataset`` of ``(image uint8 [H, W, 3], mask uint8 [H, W, 1])`` with
        trimap values 1 pet, 2 background, 3 border, at original resolution.

    Raises:
        DataError: the source is missing or broken (the message names the file), a
            breed in ``breeds`` is unknown (TFDS) or has no photo in the split (directory),
            ``limit`` is not a whole number 0 or more, or the split is empty (the message
            says what emptied it).
        ValueError: ``breeds`` is a bare string or empty.
    """
    limit = check_limit(limit)
    subset = resolve_subset(subset)
    source = str(source) if source is not None else data_source()
    if source == "tfds":
        return load_tfds(split, validation_fraction, limit, breeds=breeds, subset=subset)
    if source == "synthetic":
        subset = "all"
    return load_directory(
        resolve_directory(source), split, validation_fraction, limit, breeds=breeds, subset=subset
    )


class IndexedSplit:
    """One split as a sequence: ``split[i]`` decodes the ``i``-th pair of :func:`load` alone.

    A ``tf.data`` pipeline only reads forward: ``load(...).skip(i)`` decodes the ``i``
    photos before the one wanted, seconds per jump on the full test split. A widget that
    jumps anywhere in the split (notebook 07's photo slider) needs random access instead:

    * a directory (and ``"synthetic"``): the split's file list is read once, and
      ``split[i]`` decodes that one image and trimap;
    * ``"tfds"``: ``test`` and ``trainval`` are TFDS splits, read with TFDS's slicing
      (``"test[i:i+1]"``, which skips records without decoding them); ``train`` and
      ``validation`` are carved out of them by a hash, so they fall back to
      ``load(...).skip(i)``.

    The order, the ``limit`` and the validation carve are those of :func:`load`, so
    ``split[i]`` is the ``i``-th element of ``load(split, source, validation_fraction, limit)``.

    Args:
        split: ``"train"``, ``"validation"``, ``"trainval"`` or ``"test"``.
        source: ``"tfds"``, ``"synthetic"`` or a directory; None reads ``SEGLIB_DATA``.
        validation_fraction: see :func:`load`. limit: at most this many pairs; None: all.
        subset: ``"lab"`` or ``"all"``; None reads ``SEGLIB_SUBSET`` (see :func:`load`).

    Items are ``(image uint8 [H, W, 3], trimap uint8 [H, W, 1] in {1, 2, 3})`` tensors at
    the photo's own resolution; ``len()`` is the number of pairs.

    Raises:
        ValueError: unknown split. DataError: the source is missing or broken (see
            :func:`load`). IndexError: an index outside ``-len .. len - 1``.
    """

    def __init__(
        self,
        split: str = "test",
        source: str | os.PathLike | None = None,
        validation_fraction: float = VALIDATION_FRACTION,
        limit: int | None = None,
        subset: str | None = None,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split = split
        self.source = str(source) if source is not None else data_source()
        self.validation_fraction = validation_fraction
        self.limit = check_limit(limit)
        self.subset = resolve_subset(subset)
        if self.source == "synthetic":
            self.subset = "all"
        self._rows = None
        self._positions = None
        if self.source == "tfds":
            loaded = load_tfds(split, validation_fraction, limit, subset=self.subset)
            self._size = count(loaded)
            lab = subset_breeds(self.subset, "tfds")
            if lab is not None and split in ("test", "trainval"):
                # The lab photos' places in TFDS's own split, for slicing one record.
                names = _tfds_names(tfds_builder(), "test" if split == "test" else "train")
                self._positions = [i for i, n in enumerate(names) if n.rsplit("_", 1)[0] in lab][
                    : self._size
                ]
        else:
            root = resolve_directory(self.source)
            table = scan_directory(root, validation_fraction=validation_fraction)
            rows = subset_rows(_select(table, split), self.subset, root, split)
            self._rows = _limit_rows(rows, limit)
            check_not_empty(len(self._rows), root, split, limit)
            self._size = len(self._rows)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: int):
        index = int(index)
        if not -self._size <= index < self._size:
            raise IndexError(f"index {index} is outside the {self._size} pairs of {self.split}")
        index %= self._size
        if self._rows is not None:
            row = self._rows.iloc[index]
            return _decode_pair(str(row["image_path"]), str(row["mask_path"]))
        if self.split in ("test", "trainval"):
            tfds_split = "test" if self.split == "test" else "train"
            at = self._positions[index] if self._positions is not None else index
            ds = tfds_builder().as_dataset(split=f"{tfds_split}[{at}:{at + 1}]")
            example = next(iter(ds))
            return example["image"], example["segmentation_mask"]
        ds = load_tfds(self.split, self.validation_fraction, self.limit, subset=self.subset)
        return next(iter(ds.skip(index).take(1)))


def resolve_directory(source: str | os.PathLike) -> Path:
    """Map ``"synthetic"`` to its cache folder (creating it) and ``"oxford"`` to the
    downloaded release (see :func:`~seglib.data.oxford_dataset_dir`); return other paths as given."""
    if str(source) == "synthetic":
        return synthetic_dataset_dir()
    if str(source) == "oxford":
        return oxford_dataset_dir()
    return Path(source).expanduser()


def describe(source: str | os.PathLike | None = None, subset: str | None = None) -> pd.DataFrame:
    """One row per image of ``trainval`` and ``test`` (see :func:`~seglib.data.scan_directory`)
    of the ``subset`` (see :func:`load`; None reads ``SEGLIB_SUBSET``).

    For ``"tfds"`` this decodes every image of the subset once (minutes for the full
    dataset) and fills ``name``, ``split``, ``species``, ``breed``, ``width`` and ``height``.
    """
    source = str(source) if source is not None else data_source()
    subset = resolve_subset(subset)
    lab = subset_breeds(subset, source)
    if source != "tfds":
        table = scan_directory(resolve_directory(source))
        return table if lab is None else table[table["breed"].isin(lab)].reset_index(drop=True)
    builder = tfds_builder()
    tfds = import_tfds()
    rows = []
    for split in ("train", "test"):
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            name = ex["file_name"].decode().rsplit(".", 1)[0]
            if lab is not None and name.rsplit("_", 1)[0] not in lab:
                continue
            rows.append(
                {
                    "name": name,
                    "release_split": "trainval" if split == "train" else "test",
                    "breed": name.rsplit("_", 1)[0],
                    "species": "cat" if ex["species"] == 0 else "dog",
                    "width": ex["image"].shape[1],
                    "height": ex["image"].shape[0],
                }
            )
    table = pd.DataFrame(rows)
    held_out = is_validation(table["name"]) & (table["release_split"] == "trainval")
    table["split"] = np.where(
        table["release_split"] == "test", "test", np.where(held_out, "validation", "train")
    )
    return table


def breed_counts(
    source: str | os.PathLike | None = None,
    validation_fraction: float = VALIDATION_FRACTION,
    subset: str | None = None,
) -> pd.DataFrame:
    """Photos per breed and split, cheaply: for choosing breeds to hold out.

    A directory (or ``"synthetic"``) is read from its split lists and file headers; for
    ``"tfds"`` only the file names are read (images are not decoded: seconds, where
    :func:`describe` takes minutes on the full dataset).

    Args:
        source: see :func:`load`. validation_fraction: see :func:`~seglib.data.is_validation`.
        subset: ``"lab"`` or ``"all"``; None reads ``SEGLIB_SUBSET`` (see :func:`load`).

    Returns:
        DataFrame indexed by breed (sorted; capitalised = cat, lower case = dog), int
        columns ``train``, ``validation``, ``test``.

    Raises:
        DataError: see :func:`load`.
    """
    source = str(source) if source is not None else data_source()
    if source == "tfds":
        builder = tfds_builder()
        rows = []
        for split in ("train", "test"):
            names = _tfds_names(builder, split)
            held_out = is_validation(names, validation_fraction)
            for name, val in zip(names, held_out, strict=True):
                part = "test" if split == "test" else ("validation" if val else "train")
                rows.append({"breed": name.rsplit("_", 1)[0], "split": part})
        table = pd.DataFrame(rows)
    else:
        table = scan_directory(
            resolve_directory(source), validation_fraction=validation_fraction, verify=False
        )
    lab = subset_breeds(resolve_subset(subset), source)
    if lab is not None:
        table = table[table["breed"].isin(lab)]
    counts = pd.crosstab(table["breed"], table["split"])
    return counts.reindex(columns=["train", "validation", "test"], fill_value=0).sort_index()


def count(ds: tf.data.Dataset) -> int:
    """Number of elements of a finite dataset (iterates it once when the size is unknown)."""
    n = int(ds.cardinality())
    if n >= 0:
        return n
    return int(ds.reduce(np.int64(0), lambda c, _: c + 1))


def _source_name(source: str) -> str:
    """How a line shows the source: a folder by its name (no machine path), or the source."""
    if source == "tfds":
        return "TFDS oxford_iiit_pet"
    if source == "synthetic":
        return "synthetic (a generated stand-in)"
    if source == "oxford":
        return "the release's archives (SEGLIB_DATA=oxford)"
    return f"folder {Path(source).name}"


def use_subset(subset: str | None = None, source: str | os.PathLike | None = None) -> str:
    """Choose the subset that :func:`load` (and every loader) uses from now on in this
    process, and describe it: which source, which subset, how many photos per split.

    A notebook's ``SUBSET`` parameter goes through here, so ``-p SUBSET=all`` (papermill)
    or an edited cell changes what every later cell loads. None: ``SEGLIB_SUBSET``.

    Returns:
        One line, e.g. ``"data: folder oxford-iiit-pet-sample, subset lab (Abyssinian,
        Bengal, american_bulldog): train 256, validation 44, test 298 photos"``.

    Raises:
        DataError: a subset other than ``"lab"`` or ``"all"``, or a source that cannot be
            read (see :func:`load`).
    """
    chosen = choose_subset(subset)
    source = str(source) if source is not None else data_source()
    counts = breed_counts(source, subset=chosen).sum()
    if source == "synthetic":
        which = "subset ignored (the synthetic source has its own breeds)"
    elif chosen == "lab":
        which = f"subset lab ({', '.join(LAB_BREEDS)})"
    else:
        which = "subset all (every breed)"
    sizes = ", ".join(
        f"{split} {int(counts.get(split, 0))}" for split in ("train", "validation", "test")
    )
    return f"data: {_source_name(source)}, {which}: {sizes} photos"
