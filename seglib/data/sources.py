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
from seglib.data.folder import load_directory, scan_directory
from seglib.data.layout import (
    SPLITS,
    VALIDATION_FRACTION,
    _limit_rows,
    _select,
    check_limit,
    check_not_empty,
    is_validation,
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
    source = str(source) if source is not None else data_source()
    if source == "tfds":
        return load_tfds(split, validation_fraction, limit, breeds=breeds)
    return load_directory(
        resolve_directory(source), split, validation_fraction, limit, breeds=breeds
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
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split = split
        self.source = str(source) if source is not None else data_source()
        self.validation_fraction = validation_fraction
        self.limit = check_limit(limit)
        self._rows = None
        if self.source == "tfds":
            self._size = count(load_tfds(split, validation_fraction, limit))
        else:
            root = resolve_directory(self.source)
            table = scan_directory(root, validation_fraction=validation_fraction)
            self._rows = _limit_rows(_select(table, split), limit)
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
            ds = tfds_builder().as_dataset(split=f"{tfds_split}[{index}:{index + 1}]")
            example = next(iter(ds))
            return example["image"], example["segmentation_mask"]
        ds = load_tfds(self.split, self.validation_fraction, self.limit)
        return next(iter(ds.skip(index).take(1)))


def resolve_directory(source: str | os.PathLike) -> Path:
    """Map ``"synthetic"`` to its cache folder (creating it) and ``"oxford"`` to the
    downloaded release (see :func:`~seglib.data.oxford_dataset_dir`); return other paths as given."""
    if str(source) == "synthetic":
        return synthetic_dataset_dir()
    if str(source) == "oxford":
        return oxford_dataset_dir()
    return Path(source).expanduser()


def describe(source: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per image of ``trainval`` and ``test`` (see :func:`~seglib.data.scan_directory`).

    For ``"tfds"`` this decodes every image once (minutes for the full dataset) and
    fills ``name``, ``split``, ``species``, ``breed``, ``width`` and ``height``.
    """
    source = str(source) if source is not None else data_source()
    if source != "tfds":
        return scan_directory(resolve_directory(source))
    builder = tfds_builder()
    tfds = import_tfds()
    rows = []
    for split in ("train", "test"):
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            name = ex["file_name"].decode().rsplit(".", 1)[0]
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
    source: str | os.PathLike | None = None, validation_fraction: float = VALIDATION_FRACTION
) -> pd.DataFrame:
    """Photos per breed and split, cheaply: for choosing breeds to hold out.

    A directory (or ``"synthetic"``) is read from its split lists and file headers; for
    ``"tfds"`` only the file names are read (images are not decoded: seconds, where
    :func:`describe` takes minutes on the full dataset).

    Args:
        source: see :func:`load`. validation_fraction: see :func:`~seglib.data.is_validation`.

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
    counts = pd.crosstab(table["breed"], table["split"])
    return counts.reindex(columns=["train", "validation", "test"], fill_value=0).sort_index()


def count(ds: tf.data.Dataset) -> int:
    """Number of elements of a finite dataset (iterates it once when the size is unknown)."""
    n = int(ds.cardinality())
    if n >= 0:
        return n
    return int(ds.reduce(np.int64(0), lambda c, _: c + 1))
