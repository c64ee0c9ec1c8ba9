"""The release's layout: classes, trimap values, split lists and the validation carve.

The Oxford-IIIT Pet release (Parkhi, Vedaldi, Zisserman and Jawahar, CVPR 2012) lists its
photos in ``annotations/trainval.txt`` and ``annotations/test.txt``; its trimaps hold
**1 = pet, 2 = background, 3 = border**. This module reads those lists
(:func:`read_split_file`), carves validation out of ``trainval`` by a hash of each name
(:func:`is_validation`) and selects rows of a split; every source uses it.
"""

from __future__ import annotations

import os
from pathlib import Path

from seglib.config import data_subset
from seglib.errors import DataError

import numpy as np
import pandas as pd
import tensorflow as tf

#: Trimap values in the release's PNGs.
TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER = 1, 2, 3
#: Class names after preprocessing, indexed by label: 0 pet, 1 background, 2 border.
CLASS_NAMES = ("pet", "background", "border")
#: Number of classes after preprocessing.
NUM_CLASSES = 3


#: The course's **lab set**: the official split lines of these three breeds (two cats, one
#: dog), 598 photos, on which every reference figure of the course was measured.
LAB_BREEDS = ("Abyssinian", "Bengal", "american_bulldog")
#: ``SEGLIB_SUBSET`` values: the lab set, or every breed.
SUBSETS = ("lab", "all")

#: Share of ``trainval`` held out for validation.
VALIDATION_FRACTION = 0.15
SPLITS = ("train", "validation", "trainval", "test")
_HASH_BUCKETS = 10_000


# ---------------------------------------------------------------------------
# The release layout
# ---------------------------------------------------------------------------


def read_split_file(root: str | os.PathLike, split: str) -> pd.DataFrame:
    """Read ``annotations/<split>.txt`` of a release-layout directory.

    Args:
        root: the dataset directory.
        split: ``"trainval"``, ``"test"`` or ``"list"``.

    Returns:
        DataFrame with columns ``name`` (str, e.g. ``"Abyssinian_100"``), ``class_id``
        (1..37), ``species`` (``"cat"`` or ``"dog"``), ``breed`` (str) and ``line`` (the
        line number in the file, from 1), in file order.

    A UTF-8 byte-order mark is ignored; blank lines and ``#`` comments are skipped.

    Raises:
        DataError: the file is missing or not UTF-8, a line is malformed, a name holds a
            path separator, ``..`` or a leading dot, or a name is listed twice (names file
            and line).
    """
    path = Path(root) / "annotations" / f"{split}.txt"
    if not path.is_file():
        raise DataError(
            f"{path}: split list not found. A dataset directory needs the release layout: "
            "images/<name>.jpg, annotations/trimaps/<name>.png, annotations/trainval.txt "
            "and annotations/test.txt."
        )
    rows, seen = [], {}
    try:  # utf-8-sig: a byte-order mark (some Windows editors write one) is dropped
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: split list cannot be read as UTF-8 text ({e})") from e
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.replace("\ufeff", "").strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
            raise DataError(
                f"{path}, line {number}: expected 'NAME CLASS-ID SPECIES BREED-ID', got {line!r}"
            )
        name, class_id, species = parts[0], int(parts[1]), int(parts[2])
        if "/" in name or "\\" in name or ".." in name or name.startswith("."):
            raise DataError(
                f"{path}, line {number}: {name!r} is not a photo name: a list names photos "
                "in images/ by their bare name (like Abyssinian_100), without folders, "
                "'..' or a leading dot, so that no file outside the dataset is read"
            )
        if name in seen:
            raise DataError(
                f"{path}, line {number}: {name} is listed twice (first on line {seen[name]}); "
                "a pair listed twice would be loaded twice"
            )
        seen[name] = number
        rows.append(
            {
                "name": name,
                "class_id": class_id,
                "species": "cat" if species == 1 else "dog",
                "breed": name.rsplit("_", 1)[0],
                "line": number,
            }
        )
    if not rows:
        raise DataError(f"{path}: the split list is empty")
    return pd.DataFrame(rows)


def is_validation(names, fraction: float = VALIDATION_FRACTION) -> np.ndarray:
    """Decide which ``trainval`` images form the validation split.

    An image is in validation when the 64-bit fingerprint of its name (without
    extension), taken modulo 10,000, falls below ``fraction * 10,000``. The rule
    depends only on the name, so every source and every run agree.

    Args:
        names: sequence of image names, e.g. ``["Abyssinian_100", ...]``.
        fraction: expected share held out, in [0, 1).

    Returns:
        bool array, one entry per name.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    buckets = tf.strings.to_hash_bucket_fast(list(names), _HASH_BUCKETS).numpy()
    return buckets < int(round(fraction * _HASH_BUCKETS))


def _select(table: pd.DataFrame, split: str) -> pd.DataFrame:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "trainval":
        return table[table["release_split"] == "trainval"]
    return table[table["split"] == split]


def check_limit(limit) -> int | None:
    """``limit`` checked: None (every photo) or a whole number of photos, 0 or more.

    Raises:
        DataError: anything else (a string, a float, a bool, a negative number).
    """
    if limit is None:
        return None
    if isinstance(limit, (int, np.integer)) and not isinstance(limit, bool) and limit >= 0:
        return int(limit)
    raise DataError(
        f"limit={limit!r}: give the number of photos to keep, a whole number 0 or more "
        "(e.g. limit=24), or None for every photo of the split"
    )


def check_not_empty(count: int, where, split: str, limit, breeds=None) -> None:
    """Refuse an empty split with what emptied it (``where`` names the source)."""
    if count > 0:
        return
    if limit == 0:
        why = "limit=0 keeps no photo; give limit=None for all, or a number above 0"
    elif breeds:
        why = f"no photo of the breeds {list(breeds)} is in it"
    elif split == "validation":
        why = (
            "no trainval photo falls in the validation carve (too few photos listed in "
            "trainval.txt for the validation fraction); list more photos, or raise "
            "validation_fraction"
        )
    else:
        why = f"its list holds no photo for the {split} split"
    raise DataError(f"{where}: the {split} split is empty: {why}")


def check_disjoint(root, trainval: pd.DataFrame, test: pd.DataFrame) -> None:
    """Refuse a photo listed in both ``trainval.txt`` and ``test.txt``: it would be trained
    on and then scored as if unseen (a leak that inflates every test figure).

    Raises:
        DataError: names the photo and its line in each list.
    """
    both = trainval.merge(test, on="name", suffixes=("_trainval", "_test"))
    if both.empty:
        return
    first = both.iloc[0]
    folder = Path(root) / "annotations"
    raise DataError(
        f"{folder}: {first['name']} is listed in both trainval.txt (line "
        f"{first['line_trainval']}) and test.txt (line {first['line_test']}) "
        f"({len(both)} photo(s) in both): it would be trained on and tested on. Each photo "
        "belongs to one list; remove it from one of them."
    )


def _limit_rows(rows: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """Keep ``limit`` rows, drawn evenly across breeds in a fixed order."""
    limit = check_limit(limit)
    if limit is None or limit >= len(rows):
        return rows
    order = np.random.default_rng(0).permutation(len(rows))
    return rows.iloc[np.sort(order[:limit])]


def _check_breeds(breeds) -> list[str] | None:
    if breeds is None:
        return None
    if isinstance(breeds, str):
        raise ValueError(f"breeds must be a list of breed names, got the string {breeds!r}")
    breeds = [str(b) for b in breeds]
    if not breeds:
        raise ValueError("breeds is empty: give at least one breed name, or None for all")
    return breeds


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seglib"


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename a finished dataset folder ``tmp`` to ``target`` in one step, so a reader never
    sees half a dataset; when another process got there first, keep its complete copy."""
    try:
        os.replace(tmp, target)
    except OSError:  # another process won the race
        if not (target / "annotations" / "test.txt").is_file():
            raise


def check_subset(subset) -> str:
    """``subset`` checked: ``"lab"`` or ``"all"`` (case and spaces ignored).

    Raises:
        DataError: anything else; the message names ``SEGLIB_SUBSET``.
    """
    value = str(subset).strip().lower() if isinstance(subset, str) else subset
    if value in SUBSETS:
        return value
    raise DataError(
        f"subset {subset!r} (SEGLIB_SUBSET or subset=): give 'lab' for the course's lab set "
        f"({', '.join(LAB_BREEDS)}: the photos every figure of the course was measured on) "
        "or 'all' for every breed"
    )


#: The subset chosen with :func:`seglib.data.use_subset` in this process (None: not chosen).
_chosen_subset: str | None = None


def choose_subset(subset: str | None) -> str:
    """Make ``subset`` (checked; None: ``SEGLIB_SUBSET``) this process's default; return it."""
    global _chosen_subset
    _chosen_subset = check_subset(subset if subset is not None else data_subset())
    return _chosen_subset


def resolve_subset(subset: str | None) -> str:
    """``subset`` checked; None gives the one chosen with :func:`seglib.data.use_subset`, else
    ``SEGLIB_SUBSET`` (default ``"lab"``)."""
    if subset is None:
        subset = _chosen_subset if _chosen_subset is not None else data_subset()
    return check_subset(subset)


def subset_breeds(subset: str, source: str) -> tuple[str, ...] | None:
    """The breeds a subset keeps from a source: :data:`LAB_BREEDS` for ``lab``, None (all)
    for ``all`` and for the synthetic source, whose made-up breeds are a stand-in for the
    whole dataset."""
    if check_subset(subset) == "all" or source == "synthetic":
        return None
    return LAB_BREEDS
