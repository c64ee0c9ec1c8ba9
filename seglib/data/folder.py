"""The folder source: a directory in the release layout (``SEGLIB_DATA=/path``).

``images/<name>.jpg``, ``annotations/trimaps/<name>.png`` and the split lists
``annotations/trainval.txt`` / ``test.txt``; :func:`scan_directory` tables and checks them,
:func:`load_directory` turns one split into a ``tf.data.Dataset``.
"""

from __future__ import annotations

import os
from pathlib import Path

from seglib.data.layout import (
    LAB_BREEDS,
    VALIDATION_FRACTION,
    _check_breeds,
    _limit_rows,
    _select,
    check_disjoint,
    check_limit,
    check_not_empty,
    is_validation,
    read_split_file,
    subset_breeds,
)
from seglib.data.verify import (
    DECODABLE_FORMATS,
    TRIMAP_MODES,
    _check_image_file,
    _decode_pair,
    _verify_all,
    _verify_default,
)
from seglib.errors import DataError

import numpy as np
import pandas as pd
import tensorflow as tf


def scan_directory(
    root: str | os.PathLike,
    splits: tuple[str, ...] = ("trainval", "test"),
    validation_fraction: float = VALIDATION_FRACTION,
    verify: bool | None = None,
) -> pd.DataFrame:
    """List and check every image/trimap pair of a release-layout directory.

    Two checks, so that a broken file is named here and not met later as a nameless
    TensorFlow error in the middle of training:

    * **headers** (always; about a second for the full release): every listed photo and
      trimap exists, is not empty, and Pillow reads its header; the photo is a JPEG, PNG,
      GIF or BMP by content (what the pipeline decodes: a TIFF named ``.jpg`` is refused);
      the trimap is a PNG (JPEG compression changes values), single-channel, 8 or 16 bits
      (16-bit trimaps are read as 16 bits, so 1..3 stay 1..3), the same size as its photo;
    * **full decode** (``verify``; default on): every pair is decoded once with the
      pipeline's own decoders (:func:`~seglib.data.verify_pair`): a truncated or corrupt photo or
      trimap, or a trimap value other than 1, 2, 3, is named. Measured on a shared
      2-core machine: the 598 pairs of the real-release sample in 3.2 s (5.4 ms a pair,
      beyond the 0.5 s of the header scan), so about 40 s for the full 7,349 (less with
      more cores: it runs in threads). Pairs that passed are remembered
      for the rest of the session, so the three splits of
      :func:`~seglib.data.make_pipelines` decode each file once. To skip it (a copy you trust, a slow
      disk): pass ``verify=False``, or set ``SEGLIB_VERIFY_DATA=0``; a broken file then
      surfaces as a TensorFlow decode error while iterating.

    Args:
        root: dataset directory (``images/``, ``annotations/trimaps/``,
            ``annotations/trainval.txt``, ``annotations/test.txt``).
        splits: which split lists to read.
        validation_fraction: passed to :func:`~seglib.data.is_validation` to fill ``split``.

    Returns:
        DataFrame, one row per pair, with columns ``name``, ``release_split``
        (``trainval``/``test``), ``split`` (``train``/``validation``/``test``),
        ``breed``, ``species``, ``class_id``, ``image_path``, ``mask_path``, ``width``
        and ``height`` (pixels), ``image_format`` (what the bytes really are, e.g.
        ``GIF`` for ``Abyssinian_34.jpg``) and ``image_mode`` (PIL mode, e.g. ``RGBA``).

    Raises:
        DataError: the directory or a split list is missing, a name is listed twice or
            in both trainval and test, or a list line is a path rather than a name, or
            an image or mask is missing, empty, unreadable, of a format the pipeline
            cannot decode, truncated or corrupt, not a single-channel PNG (mask), holds
            values other than 1..3 (mask) or is of a different size than its image. The
            message names the file and the reason.
    """
    verify = _verify_default() if verify is None else verify
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"{root}: dataset directory not found. Set SEGLIB_DATA to a directory in the "
            "Oxford-IIIT Pet release layout, to 'tfds', or to 'synthetic'."
        )
    frames = []
    listings = {split: read_split_file(root, split) for split in splits}
    if "trainval" in listings and "test" in listings:
        check_disjoint(root, listings["trainval"], listings["test"])
    for split in splits:
        listing = listings[split]
        listed_in = root / "annotations" / f"{split}.txt"
        records = []
        for name in listing["name"]:
            image_path = root / "images" / f"{name}.jpg"
            mask_path = root / "annotations" / "trimaps" / f"{name}.png"
            w, h, fmt, mode = _check_image_file(image_path, "image", listed_in)
            if fmt not in DECODABLE_FORMATS:
                raise DataError(
                    f"{image_path}: the file is a {fmt} image; the loader decodes "
                    f"{', '.join(DECODABLE_FORMATS)} (by content, whatever the name). "
                    "Convert it to JPEG."
                )
            mw, mh, mfmt, mmode = _check_image_file(mask_path, "trimap", listed_in)
            if mfmt != "PNG":
                raise DataError(
                    f"{mask_path}: trimap is a {mfmt} file; trimaps must be PNG (lossy "
                    "compression such as JPEG changes the values 1, 2, 3)"
                )
            if mmode not in TRIMAP_MODES:
                raise DataError(
                    f"{mask_path}: trimap must be a single-channel PNG (8 or 16 bits, or a palette PNG) "
                    f"holding 1, 2, 3; found PIL mode {mmode!r}"
                )
            if (w, h) != (mw, mh):
                raise DataError(
                    f"{mask_path}: trimap is {mw}x{mh} but its image {image_path.name} is {w}x{h}"
                )
            records.append((str(image_path), str(mask_path), w, h, fmt, mode))
        if verify:
            _verify_all([(r[0], r[1]) for r in records])
        frame = listing.assign(
            release_split=split,
            image_path=[r[0] for r in records],
            mask_path=[r[1] for r in records],
            width=[r[2] for r in records],
            height=[r[3] for r in records],
            image_format=[r[4] for r in records],
            image_mode=[r[5] for r in records],
        )
        if split == "test":
            frame["split"] = "test"
        else:
            held_out = is_validation(frame["name"], validation_fraction)
            frame["split"] = np.where(held_out, "validation", "train")
        frames.append(frame)
    columns = [
        "name",
        "release_split",
        "split",
        "breed",
        "species",
        "class_id",
        "image_path",
        "mask_path",
        "width",
        "height",
        "image_format",
        "image_mode",
    ]
    return pd.concat(frames, ignore_index=True)[columns]


def subset_rows(rows: pd.DataFrame, subset: str, where, split: str) -> pd.DataFrame:
    """The rows of a split that ``subset`` keeps (``lab``: the lab breeds present; ``all``:
    every row).

    Raises:
        DataError: ``lab`` and none of the lab breeds is in the split (``where`` names the
            folder); the message says to set ``SEGLIB_SUBSET=all``.
    """
    lab = subset_breeds(subset, "folder")
    if lab is None:
        return rows
    kept = rows[rows["breed"].isin(lab)]
    if kept.empty and not rows.empty:
        found = sorted(set(rows["breed"]))
        shown = ", ".join(found[:6]) + (f" and {len(found) - 6} more" if len(found) > 6 else "")
        raise DataError(
            f"{where}: the lab set (SEGLIB_SUBSET=lab, the default) keeps the breeds "
            f"{', '.join(LAB_BREEDS)}, and the {split} split here has none of them (it has "
            f"{shown}); set SEGLIB_SUBSET=all to use every breed of this folder"
        )
    return kept


def load_directory(
    root: str | os.PathLike,
    split: str = "train",
    validation_fraction: float = VALIDATION_FRACTION,
    limit: int | None = None,
    breeds=None,
    subset: str = "all",
) -> tf.data.Dataset:
    """Load one split of a release-layout directory (see :func:`scan_directory`).

    ``breeds`` keeps only those breeds (see :func:`~seglib.data.load`); otherwise
    ``subset`` (``"lab"`` or ``"all"``, see :func:`subset_rows`) decides.

    Returns:
        ``tf.data.Dataset`` of ``(image uint8 [H, W, 3], mask uint8 [H, W, 1] in {1, 2, 3})``
        in a fixed order.

    Raises:
        DataError: see :func:`scan_directory`; a ``limit`` that is not a whole number 0 or
            more; a split left empty (by ``limit=0``, ``breeds``, or a validation carve
            that holds no photo), naming what emptied it.
    """
    limit = check_limit(limit)
    breeds = _check_breeds(breeds)
    rows = _select(scan_directory(root, validation_fraction=validation_fraction), split)
    if breeds is not None:
        unknown = sorted(set(breeds) - set(rows["breed"]))
        if unknown:
            raise DataError(
                f"{root}: no {split} photos of breed(s) {unknown}; "
                f"this split has {sorted(set(rows['breed']))}"
            )
        rows = rows[rows["breed"].isin(breeds)]
    else:
        rows = subset_rows(rows, subset, root, split)
    rows = _limit_rows(rows, limit)
    check_not_empty(len(rows), root, split, limit, breeds)
    paths = tf.data.Dataset.from_tensor_slices(
        (rows["image_path"].tolist(), rows["mask_path"].tolist())
    )
    return paths.map(_decode_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
