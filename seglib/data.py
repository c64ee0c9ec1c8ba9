"""Loading Oxford-IIIT Pet for segmentation: one contract for every source.

Every source yields a ``tf.data.Dataset`` of ``(image, mask)`` pairs:

* ``image``: ``uint8`` tensor ``[H, W, 3]``, RGB, values 0..255, original size;
* ``mask``: ``uint8`` tensor ``[H, W, 1]`` holding the official trimap values
  **1 = pet, 2 = background, 3 = border** ("not classified" in the release README).

Sources (``SEGLIB_DATA`` picks the default, see :mod:`seglib.config`):

* ``"tfds"``: TFDS's ``oxford_iiit_pet:4.*.*`` builder, prepared in ``TFDS_DATA_DIR``
  (default ``~/tensorflow_datasets``). TFDS's ``train`` split is the release's
  ``trainval.txt``; its ``test`` split is ``test.txt``. Offline, with the dataset not yet
  prepared, it fails within seconds with a :class:`~seglib.errors.DataError` that says
  what to do (see :func:`tfds_builder`).
* a directory in the release layout: ``images/<name>.jpg``,
  ``annotations/trimaps/<name>.png``, ``annotations/trainval.txt`` and ``test.txt``.
  The release's oddities are handled: a GIF and an RGBA PNG named ``.jpg`` (decoded by
  content, first frame, alpha dropped), grayscale images (expanded to RGB) and ``.mat``
  files in ``images/`` (ignored: only names in the split lists are read).
* ``"oxford"``: the release's two archives downloaded directly (no TFDS; the URLs and
  checksums TFDS records), checked and unpacked once into a cache folder, then read as a
  directory (see :func:`oxford_dataset_dir`). When TFDS cannot be imported (a broken
  install) its error names the cause and the fix (see :func:`explain_tfds_failure`) and
  suggests this source.
* ``"synthetic"``: a small generated dataset in the same layout (pet-like blobs with a
  border band on textured backgrounds), written once to a cache folder, so everything
  runs with no data and no network.

Splits: ``"trainval"`` and ``"test"`` are the release's. ``"train"`` and ``"validation"``
are carved out of ``trainval`` by a hash of the image name (about
``validation_fraction`` of it), so the carve is deterministic and the same for every
source. ``test`` is only for the final evaluation (the TF tutorial validates on
``test``; we do not).

Preprocessing (:func:`preprocess`) resizes images bilinearly and masks with nearest
neighbour, scales images to [0, 1] and shifts labels to 0 pet, 1 background, 2 border.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from seglib.config import data_source
from seglib.errors import DataError

import numpy as np
import pandas as pd
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFilter

#: Trimap values in the release's PNGs.
TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER = 1, 2, 3
#: Class names after preprocessing, indexed by label: 0 pet, 1 background, 2 border.
CLASS_NAMES = ("pet", "background", "border")
#: Number of classes after preprocessing.
NUM_CLASSES = 3
#: The TFDS spec. ``3.*.*`` (used by older tutorials) no longer exists.
TFDS_NAME = "oxford_iiit_pet:4.*.*"
#: The release archives TFDS downloads (its builder's ``checksums.tsv`` is read first).
TFDS_DOWNLOAD_URLS = (
    "https://thor.robots.ox.ac.uk/~vgg/data/pets/images.tar.gz",
    "https://thor.robots.ox.ac.uk/~vgg/data/pets/annotations.tar.gz",
)
#: Seconds to wait for the download host before giving up (offline: fail fast).
TFDS_PROBE_TIMEOUT = 10.0
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
#: The pins that make TFDS 4.9.10 work on Colab's packages (see the notebooks' setup cell):
#: a tensorflow-metadata generated with protobuf 4.25.6, which Colab's protobuf 5.29.6
#: accepts (``make test-colab``), and importlib-resources (etils imports it; Colab lacks it).
TFDS_FIXES = {
    "tensorflow_metadata": "tensorflow-metadata==1.17.2",
    "importlib_resources": "importlib-resources==7.1.0",
}
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
        (1..37), ``species`` (``"cat"`` or ``"dog"``) and ``breed`` (str), in file order.

    A UTF-8 byte-order mark is ignored; blank lines and ``#`` comments are skipped.

    Raises:
        DataError: the file is missing or not UTF-8, a line is malformed, or a name is
            listed twice (names file and line).
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


#: Image formats the pipeline's decoder (``tf.io.decode_image``) reads.
DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "BMP")
#: Trimap modes: 8-bit grayscale, or 16-bit grayscale (read as 16 bits, values 1..3 kept).
TRIMAP_MODES = ("L", "I;16", "I;16B", "I;16L", "I")
#: Environment variable that switches the full decode of :func:`scan_directory` off.
VERIFY_VARIABLE = "SEGLIB_VERIFY_DATA"


def _check_image_file(path: Path, what: str, listed_in: Path) -> tuple[int, int, str, str]:
    if not path.is_file():
        raise DataError(f"{path}: {what} file is missing (the name is listed in {listed_in})")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: {what} file is empty")
    try:
        with Image.open(path) as im:
            return im.size[0], im.size[1], str(im.format), im.mode
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: {what} file is not a readable image ({e})") from e


def _verify_default() -> bool:
    return os.environ.get(VERIFY_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


#: Pairs already decoded without fault: ``(path, size, mtime)`` of photo and trimap.
_verified: set = set()


def _file_key(path: str) -> tuple:
    stat = os.stat(path)
    return (path, stat.st_size, stat.st_mtime_ns)


def _tf_reason(error: Exception) -> str:
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", getattr(error, "message", None) or str(error))
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def verify_pair(image_path: str, mask_path: str) -> None:
    """Decode one pair with the pipeline's own decoders; raise a named error if it fails.

    Checks what the header scan cannot: the photo decodes to the end (not truncated, not
    corrupt) and the trimap holds only 1, 2 and 3. Pairs that passed are remembered by
    path, size and modification time, so a second scan in the same process skips them.

    Raises:
        DataError: the photo or trimap cannot be decoded, or the trimap holds other
            values; the message names the file and the reason.
    """
    key = (_file_key(image_path), _file_key(mask_path))
    if key in _verified:
        return
    try:
        tf.io.decode_image(
            tf.io.read_file(image_path), channels=3, expand_animations=False, dtype=tf.uint8
        )
    except tf.errors.OpError as e:
        raise DataError(
            f"{image_path}: photo cannot be decoded, it is truncated or corrupt "
            f"(TensorFlow: {_tf_reason(e)}). Replace the file or remove its name from the "
            "split list."
        ) from None
    try:
        mask = _decode_trimap(tf.io.read_file(mask_path)).numpy()
    except tf.errors.OpError as e:
        raise DataError(
            f"{mask_path}: trimap cannot be decoded, it is truncated or corrupt "
            f"(TensorFlow: {_tf_reason(e)})"
        ) from None
    values = np.unique(mask)
    bad = values[(values < TRIMAP_PET) | (values > TRIMAP_BORDER)]
    if bad.size:
        raise DataError(
            f"{mask_path}: trimap values must be 1 (pet), 2 (background) or 3 (border); "
            f"found {', '.join(str(v) for v in bad[:8])}"
        )
    _verified.add(key)


def _verify_all(pairs: list[tuple[str, str]]) -> None:
    """:func:`verify_pair` on every pair, in threads; raise for the first bad one in order."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(pair):
        try:
            verify_pair(*pair)
        except DataError as e:
            return e
        return None

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        errors = [e for e in pool.map(attempt, pairs) if e is not None]
    if errors:
        more = f" ({len(errors) - 1} more bad pair(s) after it)" if len(errors) > 1 else ""
        raise DataError(f"{errors[0]}{more}")


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
      pipeline's own decoders (:func:`verify_pair`): a truncated or corrupt photo or
      trimap, or a trimap value other than 1, 2, 3, is named. Measured on a shared
      2-core machine: the 598 pairs of the real-release sample in 3.2 s (5.4 ms a pair,
      beyond the 0.5 s of the header scan), so about 40 s for the full 7,349 (less with
      more cores: it runs in threads). Pairs that passed are remembered
      for the rest of the session, so the three splits of
      :func:`make_pipelines` decode each file once. To skip it (a copy you trust, a slow
      disk): pass ``verify=False``, or set ``SEGLIB_VERIFY_DATA=0``; a broken file then
      surfaces as a TensorFlow decode error while iterating.

    Args:
        root: dataset directory (``images/``, ``annotations/trimaps/``,
            ``annotations/trainval.txt``, ``annotations/test.txt``).
        splits: which split lists to read.
        validation_fraction: passed to :func:`is_validation` to fill ``split``.

    Returns:
        DataFrame, one row per pair, with columns ``name``, ``release_split``
        (``trainval``/``test``), ``split`` (``train``/``validation``/``test``),
        ``breed``, ``species``, ``class_id``, ``image_path``, ``mask_path``, ``width``
        and ``height`` (pixels), ``image_format`` (what the bytes really are, e.g.
        ``GIF`` for ``Abyssinian_34.jpg``) and ``image_mode`` (PIL mode, e.g. ``RGBA``).

    Raises:
        DataError: the directory or a split list is missing, a name is listed twice, or
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
    for split in splits:
        listing = read_split_file(root, split)
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
                    f"{mask_path}: trimap must be a single-channel PNG (8 or 16 bits) holding "
                    f"1, 2, 3; found PIL mode {mmode!r}"
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


def _select(table: pd.DataFrame, split: str) -> pd.DataFrame:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "trainval":
        return table[table["release_split"] == "trainval"]
    return table[table["split"] == split]


def _limit_rows(rows: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """Keep ``limit`` rows, drawn evenly across breeds in a fixed order."""
    if limit is None or limit >= len(rows):
        return rows
    order = np.random.default_rng(0).permutation(len(rows))
    return rows.iloc[np.sort(order[:limit])]


def _decode_trimap(content):
    """PNG bytes -> uint8 ``[H, W, 1]``; a 16-bit PNG is read as 16 bits (1..3 stay 1..3).

    ``decode_png(dtype=uint8)`` would scale 16-bit values by 255/65535, turning 1..3 into 0.
    The bit depth is byte 24 of a PNG (in the IHDR chunk); values over 255 become 255.
    """
    sixteen_bits = tf.equal(tf.strings.substr(content, 24, 1), b"\x10")

    def wide():
        values = tf.io.decode_png(content, channels=1, dtype=tf.uint16)
        return tf.cast(tf.minimum(values, 255), tf.uint8)

    mask = tf.cond(
        sixteen_bits, wide, lambda: tf.io.decode_png(content, channels=1, dtype=tf.uint8)
    )
    mask.set_shape([None, None, 1])
    return mask


def _decode_pair(image_path, mask_path):
    """Decode one pair by content (JPEG, PNG, GIF, BMP), first frame, RGB, uint8."""
    image = tf.io.decode_image(
        tf.io.read_file(image_path), channels=3, expand_animations=False, dtype=tf.uint8
    )
    mask = _decode_trimap(tf.io.read_file(mask_path))
    tf.debugging.Assert(
        tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.shape(mask)[:2])),
        ["image and trimap differ in size:", image_path, mask_path],
    )
    in_range = tf.reduce_all((mask >= TRIMAP_PET) & (mask <= TRIMAP_BORDER))
    tf.debugging.Assert(in_range, ["trimap values outside {1, 2, 3} in", mask_path])
    image.set_shape([None, None, 3])
    mask.set_shape([None, None, 1])
    return image, mask


def _check_breeds(breeds) -> list[str] | None:
    if breeds is None:
        return None
    if isinstance(breeds, str):
        raise ValueError(f"breeds must be a list of breed names, got the string {breeds!r}")
    breeds = [str(b) for b in breeds]
    if not breeds:
        raise ValueError("breeds is empty: give at least one breed name, or None for all")
    return breeds


def load_directory(
    root: str | os.PathLike,
    split: str = "train",
    validation_fraction: float = VALIDATION_FRACTION,
    limit: int | None = None,
    breeds=None,
) -> tf.data.Dataset:
    """Load one split of a release-layout directory (see :func:`scan_directory`).

    ``breeds`` keeps only those breeds (see :func:`load`).

    Returns:
        ``tf.data.Dataset`` of ``(image uint8 [H, W, 3], mask uint8 [H, W, 1] in {1, 2, 3})``
        in a fixed order.

    Raises:
        DataError: see :func:`scan_directory`.
    """
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
    rows = _limit_rows(rows, limit)
    paths = tf.data.Dataset.from_tensor_slices(
        (rows["image_path"].tolist(), rows["mask_path"].tolist())
    )
    return paths.map(_decode_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def tfds_data_dir(data_dir: str | os.PathLike | None = None) -> str | None:
    """The TFDS data folder seglib uses: ``data_dir`` if given, else ``TFDS_DATA_DIR``.

    TFDS itself reads ``TFDS_DATA_DIR`` once, when ``tensorflow_datasets`` is imported;
    seglib reads it on every call, so setting it later in a session (or a test) works too.

    Returns:
        the folder as a string, or None for TFDS's default (``~/tensorflow_datasets``).
    """
    if data_dir is not None:
        return os.fspath(data_dir)
    return os.environ.get("TFDS_DATA_DIR", "").strip() or None


def _tfds_download_urls(builder) -> list[str]:
    """The archive URLs the TFDS builder downloads (from its ``checksums.tsv``)."""
    return sorted((type(builder).url_infos or {}).keys()) or list(TFDS_DOWNLOAD_URLS)


def _unreachable(url: str, timeout: float | None = None) -> str | None:
    """Return why ``url``'s host does not answer over HTTP, or None when it answers.

    A ``HEAD`` request through :mod:`urllib` (which honours ``HTTPS_PROXY``), run in a
    daemon thread so that a slow DNS lookup cannot hold the caller much longer than
    ``timeout`` seconds (default :data:`TFDS_PROBE_TIMEOUT`). Any HTTP status counts as an
    answer: only "no answer" is reported.
    """
    import threading
    import urllib.error
    import urllib.request

    timeout = TFDS_PROBE_TIMEOUT if timeout is None else timeout
    outcome: list[str | None] = []

    def probe():
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout):
                outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # the server answered, even if with an error status
        except Exception as e:  # DNS failure, refused, timeout, TLS, proxy refused ...
            reason = getattr(e, "reason", None) or e
            outcome.append(f"{type(e).__name__}: {reason}")

    thread = threading.Thread(target=probe, name="seglib-tfds-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not outcome:
        return f"no answer within {timeout:.0f} s"
    return outcome[0]


def _offline_help(urls: list[str]) -> str:
    archives = " and ".join(urls) if urls else "images.tar.gz and annotations.tar.gz"
    return (
        f"To work without TFDS's download: fetch {archives} (the Oxford-IIIT Pet release, "
        "http://www.robots.ox.ac.uk/~vgg/data/pets/), unpack both into one folder (giving "
        "images/ and annotations/) and set SEGLIB_DATA=/path/to/that/folder; or set "
        "SEGLIB_DATA=synthetic to run on generated data; or point TFDS_DATA_DIR at a folder "
        "where TFDS has already prepared the dataset."
    )


_OXFORD_HINT = (
    "Or skip TFDS: SEGLIB_DATA=oxford downloads the same two archives from the release's "
    "site (about 800 MB) and unpacks them (see seglib.data.oxford_dataset_dir)."
)


def _exception_chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception it was raised from or while handling, in order."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _installed_version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def explain_tfds_failure(error: BaseException, doing: str = "import TensorFlow Datasets") -> str:
    """Name the real cause of a TFDS failure and its one-line fix.

    TFDS's ``__init__`` logs and swallows the errors of its own imports, so a broken
    install first shows as ``module 'tensorflow_datasets' has no attribute 'builder'``.
    Here the chain of ``error`` (see :func:`import_tfds`, which re-raises the swallowed
    error) is searched for a known cause:

    * protobuf's ``VersionError`` (``Detected incompatible Protobuf Gencode/Runtime
      versions``): tensorflow-metadata was generated with a newer protobuf than the one
      installed (Colab: tensorflow-metadata 1.21.0 is built with protobuf 6.31.1, Colab
      has protobuf 5.29.6; tensorflow/metadata#68). Fix: :data:`TFDS_FIXES`' pin.
    * ``ModuleNotFoundError``: a dependency is missing (``importlib_resources`` on Colab,
      where seglib is installed with ``--no-deps``). Fix: install it.
    * a network error (``URLError``, ``ConnectionError``, ``TimeoutError``): no network.

    Args:
        error: the exception TFDS raised.
        doing: what was being done, for the first words of the message.

    Returns:
        one paragraph: cause, the original error, the fix, and :data:`_OXFORD_HINT`.
    """
    import urllib.error

    chain = _exception_chain(error)
    original = f"{type(chain[-1]).__name__}: {chain[-1]}"
    for exc in chain:
        text = str(exc)
        if type(exc).__name__ == "VersionError" or "Gencode/Runtime" in text:
            versions = re.search(r"gencode (\S+) runtime (\S+?)\.?(?:\s|$)", text)
            gencode, runtime = versions.groups() if versions else ("another version", None)
            runtime = runtime or _installed_version("protobuf")
            return (
                f"Could not {doing}: the installed protobuf ({runtime}) refuses "
                f"tensorflow-metadata {_installed_version('tensorflow-metadata')}, whose files "
                f"were generated with protobuf {gencode} ({type(exc).__name__}: {text.strip()}). "
                f'Fix: pip install "{TFDS_FIXES["tensorflow_metadata"]}" (generated with '
                "protobuf 4.25, which protobuf 5 accepts), then restart the Python kernel "
                "(Colab: Runtime > Restart session). " + _OXFORD_HINT
            )
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            top = exc.name.split(".")[0]
            fix = TFDS_FIXES.get(top, top.replace("_", "-"))
            return (
                f"Could not {doing}: the module {top!r} it needs is not installed "
                f'({type(exc).__name__}: {exc}). Fix: pip install "{fix}" (on Colab the '
                "notebooks' setup cell does this), then run this cell again. " + _OXFORD_HINT
            )
        if isinstance(exc, urllib.error.URLError | ConnectionError | TimeoutError):
            return (
                f"Could not {doing}: the network failed ({type(exc).__name__}: {exc}). "
                "Fix: check the connection and run this cell again (a download resumes). "
                + _OXFORD_HINT
            )
    return f"Could not {doing} ({original}). " + _OXFORD_HINT


def import_tfds():
    """Import ``tensorflow_datasets``, or raise a :class:`~seglib.errors.DataError` that
    names why it cannot be imported (see :func:`explain_tfds_failure`).

    TFDS catches the errors of its own imports and only logs them, leaving a module
    without ``builder``; its ``public_api`` is then imported again here, which raises the
    swallowed error so that it can be named.

    Returns:
        the ``tensorflow_datasets`` module.

    Raises:
        DataError: TFDS or one of its dependencies cannot be imported; the message names
            the cause (protobuf/tensorflow-metadata mismatch, missing module) and the fix.
    """
    import importlib

    try:
        import tensorflow_datasets as tfds

        if not hasattr(tfds, "builder"):
            importlib.import_module("tensorflow_datasets.public_api")  # raises the real error
            raise ImportError(
                "tensorflow_datasets was imported while one of its dependencies was broken; "
                "the dependency is fixed now, but a module is only imported once per session"
            )
    except Exception as e:
        message = explain_tfds_failure(e)
        if isinstance(e, ImportError) and "imported once per session" in str(e):
            message = (
                f"TensorFlow Datasets was imported before its dependencies were fixed ({e}). "
                "Fix: restart the Python kernel (Colab: Runtime > Restart session) and run "
                "the notebook again. " + _OXFORD_HINT
            )
        raise DataError(message) from e
    return tfds


def tfds_builder(data_dir: str | os.PathLike | None = None):
    """Return the TFDS ``oxford_iiit_pet`` builder, downloading and preparing it if needed.

    When the dataset is already prepared in the data folder (see :func:`tfds_data_dir`)
    nothing touches the network. Otherwise the download host is probed first (one
    ``HEAD`` request, at most :data:`TFDS_PROBE_TIMEOUT` seconds), so that offline the
    call fails in seconds instead of TFDS retrying for minutes; then TFDS downloads
    (about 800 MB) and prepares it.

    Args:
        data_dir: TFDS data folder; None means ``TFDS_DATA_DIR`` or TFDS's default.

    Returns:
        a prepared ``tfds.core.DatasetBuilder`` (use ``.as_dataset(split=...)``).

    Raises:
        DataError: TFDS cannot be imported or its builder created (the message names the
            cause and the fix, see :func:`explain_tfds_failure`), the host cannot be
            reached, or TFDS failed to download or prepare the dataset; the message names
            the problem and how to use a local folder (``SEGLIB_DATA``), the direct
            download (``SEGLIB_DATA=oxford``) or the synthetic source instead.
    """
    from urllib.parse import urlsplit

    tfds = import_tfds()
    data_dir = tfds_data_dir(data_dir)
    try:  # TFDS imports some modules only here (importlib_resources for its checksums)
        builder = tfds.builder(TFDS_NAME, data_dir=data_dir)
        if builder.is_prepared():
            return builder
        urls = _tfds_download_urls(builder)
    except Exception as e:
        raise DataError(explain_tfds_failure(e, f"create the TFDS builder for {TFDS_NAME}")) from e
    problem = _unreachable(urls[0]) if urls else None
    if problem is not None:
        host = urlsplit(urls[0]).hostname or urls[0]
        raise DataError(
            f"{TFDS_NAME} is not prepared in {builder.data_dir_root} and TFDS cannot download "
            f"it: {host} does not answer ({problem}). Offline? " + _offline_help(urls)
        )
    try:
        builder.download_and_prepare()
    except Exception as e:  # TFDS raises many types for a failed download
        raise DataError(
            explain_tfds_failure(e, f"load {TFDS_NAME} from TensorFlow Datasets")
            + " "
            + _offline_help(urls)
        ) from e
    return builder


def load_tfds(
    split: str = "train",
    validation_fraction: float = VALIDATION_FRACTION,
    limit: int | None = None,
    data_dir: str | os.PathLike | None = None,
    breeds=None,
) -> tf.data.Dataset:
    """Load one split from TensorFlow Datasets (``oxford_iiit_pet:4.*.*``).

    Downloads about 800 MB on first use (see :func:`tfds_builder`); later calls read the
    prepared copy in the data folder (``data_dir``, else ``TFDS_DATA_DIR``, else
    ``~/tensorflow_datasets``) without the network. Same contract and same validation
    carve as :func:`load_directory` (the carve hashes ``file_name`` without its extension).

    Raises:
        DataError: TFDS could not download or prepare the dataset (offline, say: raised
            within :data:`TFDS_PROBE_TIMEOUT` seconds); the message says how to use a local
            directory or the synthetic source instead. Also: a name in ``breeds`` is not
            one of the dataset's 37 breeds (the message lists them).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    builder = tfds_builder(data_dir)
    breeds = _check_breeds(breeds)
    if breeds is not None:  # a misspelt breed would otherwise give an empty split, silently
        known = list(builder.info.features["label"].names)
        unknown = set(breeds) - set(known)
        if unknown:  # not a label name: look at the file names (a custom build, say)
            known = sorted(
                {n.rsplit("_", 1)[0] for s in ("train", "test") for n in _tfds_names(builder, s)}
            )
            unknown = sorted(unknown - set(known))
        if unknown:
            raise DataError(
                f"oxford_iiit_pet (TFDS) has no breed {', '.join(map(repr, unknown))}; "
                f"its {len(known)} breeds are: {', '.join(known)}"
            )
    ds = builder.as_dataset(split="test" if split == "test" else "train")
    if split in ("train", "validation"):
        threshold = int(round(validation_fraction * _HASH_BUCKETS))
        want_validation = split == "validation"

        def keep(example):
            stem = tf.strings.regex_replace(example["file_name"], r"\.[^.]*$", "")
            bucket = tf.strings.to_hash_bucket_fast(stem, _HASH_BUCKETS)
            return (bucket < threshold) == want_validation

        ds = ds.filter(keep)
    if breeds is not None:
        wanted = tf.constant(breeds)

        def of_breed(example):  # "Abyssinian_34.jpg" -> "Abyssinian"
            breed = tf.strings.regex_replace(example["file_name"], r"_\d+\.[^.]*$", "")
            return tf.reduce_any(tf.equal(breed, wanted))

        ds = ds.filter(of_breed)
    ds = ds.map(lambda ex: (ex["image"], ex["segmentation_mask"]))
    return ds.take(limit) if limit is not None else ds


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
            :func:`load_tfds`); ``"oxford"`` downloads the release without TFDS (see
            :func:`oxford_dataset_dir`).
        validation_fraction: share of ``trainval`` held out (see :func:`is_validation`).
        limit: keep at most this many pairs (smoke runs); None keeps all.
        breeds: keep only these breeds, e.g. ``["Abyssinian", "beagle"]`` (names as in
            the file names: capitalised = cat, lower case = dog); None keeps all. For
            leave-one-breed-out experiments (train on some breeds, test on another).

    Returns:
        ``tf.data.Dataset`` of ``(image uint8 [H, W, 3], mask uint8 [H, W, 1])`` with
        trimap values 1 pet, 2 background, 3 border, at original resolution.

    Raises:
        DataError: the source is missing or broken (the message names the file), or a
            breed in ``breeds`` is unknown (TFDS) or has no photo in the split (directory).
        ValueError: ``breeds`` is a bare string or empty.
    """
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
        self.limit = limit
        self._rows = None
        if self.source == "tfds":
            self._size = count(load_tfds(split, validation_fraction, limit))
        else:
            root = resolve_directory(self.source)
            table = scan_directory(root, validation_fraction=validation_fraction)
            self._rows = _limit_rows(_select(table, split), limit)
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
    downloaded release (see :func:`oxford_dataset_dir`); return other paths as given."""
    if str(source) == "synthetic":
        return synthetic_dataset_dir()
    if str(source) == "oxford":
        return oxford_dataset_dir()
    return Path(source).expanduser()


def describe(source: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per image of ``trainval`` and ``test`` (see :func:`scan_directory`).

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


def _tfds_names(builder, split: str) -> list[str]:
    """File names without extension of one TFDS split, read without decoding any image."""
    tfds = import_tfds()

    skip = {"image": tfds.decode.SkipDecoding(), "segmentation_mask": tfds.decode.SkipDecoding()}
    ds = builder.as_dataset(split=split, decoders=skip).map(lambda ex: ex["file_name"])
    return [n.decode().rsplit(".", 1)[0] for n in tfds.as_numpy(ds)]


def breed_counts(
    source: str | os.PathLike | None = None, validation_fraction: float = VALIDATION_FRACTION
) -> pd.DataFrame:
    """Photos per breed and split, cheaply: for choosing breeds to hold out.

    A directory (or ``"synthetic"``) is read from its split lists and file headers; for
    ``"tfds"`` only the file names are read (images are not decoded: seconds, where
    :func:`describe` takes minutes on the full dataset).

    Args:
        source: see :func:`load`. validation_fraction: see :func:`is_validation`.

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
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race
            if not (target / "annotations" / "test.txt").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def oxford_dataset_dir(cache_dir=None, archives=None, timeout: float | None = None) -> Path:
    """Return the folder of the Oxford-IIIT Pet release, downloading it on first use.

    What ``SEGLIB_DATA=oxford`` loads, without TensorFlow Datasets: the release's two
    archives (``images.tar.gz``, 792 MB; ``annotations.tar.gz``, 19 MB; the URLs, sizes
    and SHA-256 checksums TFDS records, :data:`OXFORD_ARCHIVES`) are downloaded into
    ``<cache>/downloads/``, checked, and unpacked into ``<cache>/oxford-iiit-pet/`` in the
    release layout read by :func:`load_directory`. The cache is ``cache_dir``, else
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
        DataError: the host does not answer (offline: within :data:`TFDS_PROBE_TIMEOUT`
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


# ---------------------------------------------------------------------------
# Preprocessing, augmentation, pipelines
# ---------------------------------------------------------------------------


def preprocess_image(image, image_size: int | tuple[int, int] = 128, antialias: bool = True):
    """Resize a photo and scale it to what the models take (training and inference alike).

    Args:
        image: ``uint8 [H, W, 3]`` RGB (0..255).
        image_size: output side in pixels, or ``(height, width)``.
        antialias: filter before shrinking (the default, as in training). False imitates a
            photo shrunk carelessly elsewhere (plain bilinear sampling, which aliases); used
            to measure robustness.

    Returns:
        float32 ``[S, S, 3]`` in [0, 1], resized bilinearly, by default with antialiasing
        (so shrinking a large photo does not alias).
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    image = tf.image.resize(image, size, method="bilinear", antialias=antialias)
    return tf.clip_by_value(image / 255.0, 0.0, 1.0)


def preprocess(image, mask, image_size: int | tuple[int, int] = 128):
    """Resize a pair and map it to what the models take.

    Args:
        image: ``uint8 [H, W, 3]`` (0..255).
        mask: ``uint8 [H, W, 1]`` trimap (1 pet, 2 background, 3 border).
        image_size: output side in pixels, or ``(height, width)``.

    Returns:
        ``image`` float32 ``[S, S, 3]`` in [0, 1] (:func:`preprocess_image`); ``mask`` uint8
        ``[S, S, 1]`` with labels 0 pet, 1 background, 2 border, resized with **nearest
        neighbour**: bilinear interpolation would invent in-between values (1.5 between pet
        and background) that are not classes at all.
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    mask = tf.image.resize(mask, size, method="nearest")
    mask = tf.cast(mask, tf.uint8) - TRIMAP_PET
    return preprocess_image(image, size), mask


def augment_seed(seed=None) -> tf.Tensor:
    """Turn ``seed`` into the shape-``[2]`` int64 seed that TensorFlow's stateless ops take.

    Stateless random ops (``tf.random.stateless_uniform``, ``tf.image.stateless_random_*``)
    give the same draw for the same seed, in any thread and in any run. That is what makes
    a seeded training run repeat exactly: the pipeline hands every photo its own seed
    (:func:`build_pipeline`), instead of sharing one random state between the threads of a
    parallel ``map``, whose order of use differs from run to run. (TensorFlow guide "Random
    number generation", section "Stateless RNGs".)

    Args:
        seed: None (a fresh random seed: for trying augmentation out by hand, different on
            every call), an int, or an int tensor/array of shape ``[2]``.

    Returns:
        int64 tensor ``[2]``.

    Raises:
        ValueError: ``seed`` is neither a scalar nor of shape ``[2]``.
    """
    if seed is None:
        return tf.random.uniform([2], maxval=tf.int64.max, dtype=tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        return tf.stack([seed, tf.constant(0, tf.int64)])
    if seed.shape.as_list() != [2]:
        raise ValueError(f"a seed is an int or a pair of ints, got shape {seed.shape}")
    return seed


def augment(image, mask, seed=None):
    """Flip image and mask left-right together, with probability 0.5.

    One random draw decides for both, so the mask stays aligned with the photo
    (flipping them independently would teach the model wrong labels on half the
    batches).

    Args:
        image: float32 ``[H, W, 3]``; mask: uint8 ``[H, W, 1]``.
        seed: None (a fresh draw on every call), an int or a shape-``[2]`` seed
            (:func:`augment_seed`): the same seed gives the same flip.

    Returns:
        ``(image, mask)`` with the same shapes and dtypes.
    """
    flip = tf.random.stateless_uniform((), augment_seed(seed)) < 0.5
    image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
    mask = tf.cond(flip, lambda: tf.image.flip_left_right(mask), lambda: mask)
    return image, mask


@dataclass
class Pipelines:
    """Batched, prefetched pipelines for one experiment.

    Attributes:
        train: shuffled, augmented batches of ``(float32 [B, S, S, 3], uint8 [B, S, S, 1])``.
        validation, test: the same without shuffling or augmentation.
        sizes: number of pairs per split, e.g. ``{"train": 255, ...}``.
        image_size: side ``S`` in pixels. batch_size: ``B``.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    sizes: dict
    image_size: int
    batch_size: int

    @property
    def steps_per_epoch(self) -> int:
        """Training batches per epoch (the last, smaller batch counts)."""
        return -(-self.sizes["train"] // self.batch_size)


def _with_seed(fn):
    """``fn`` as a function of ``(image, mask, seed)``, whether or not it takes a seed."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # some builtins have no signature: assume it takes one
        return fn
    takes_seed = "seed" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
    if takes_seed:
        return lambda image, mask, seed: fn(image, mask, seed=seed)
    return lambda image, mask, seed: fn(image, mask)


def build_pipeline(
    pairs: tf.data.Dataset,
    image_size: int = 128,
    batch_size: int = 16,
    training: bool = False,
    shuffle_seed: int = 0,
    augment_fn=None,
    mixed_resize: bool = False,
    plain_augment_fn=None,
) -> tf.data.Dataset:
    """Preprocess, cache, (shuffle, augment,) batch and prefetch a dataset of pairs.

    Decoding and resizing run once: the resized pairs are cached in memory, and the
    random augmentation runs after ``cache()`` so that every epoch sees new draws.

    Every training photo gets its own augmentation seed, drawn by
    ``tf.data.Dataset.random(shuffle_seed, rerandomize_each_iteration=True)``: new seeds
    every epoch, yet the same sequence of epochs in every run with the same
    ``shuffle_seed``. With stateless random ops inside ``augment_fn``, a seeded run
    therefore sees exactly the same batches each time, even though the ``map`` runs in
    parallel threads.

    Args:
        pairs: raw ``(uint8 image, uint8 trimap)`` pairs from :func:`load`.
        training: shuffle every epoch and augment.
        shuffle_seed: seed of the shuffle order and of the per-photo augmentation seeds.
        augment_fn: ``fn(image, mask, seed)`` mapping ``(float32 [S, S, 3], uint8
            [S, S, 1])`` to the same, with ``seed`` an int64 tensor ``[2]`` for stateless
            ops; default :func:`augment` (paired flips); e.g. :func:`augment_strong`. A
            function of ``(image, mask)`` alone also works, but its random ops then
            do not repeat from run to run.
        mixed_resize: (training only) cache each photo shrunk both with and without
            antialiasing, and train on either, drawn at random per photo and epoch. Photos
            users bring were often shrunk carelessly (no antialiasing: jagged edges,
            moire); a model that has seen both is less thrown by either.
        plain_augment_fn: (with ``mixed_resize``) the augmentation of the copies shrunk
            without antialiasing, same signature as ``augment_fn``; None: ``augment_fn``.
            Give it one that does not zoom, e.g. ``functools.partial(augment_strong,
            min_crop=1.0)``: zooming enlarges the small photo bilinearly, which smooths
            away the very aliasing the copy is there to show. Notebook 04 measures what
            this does to a U-Net trained from scratch.

    Returns:
        Batches of ``(float32 [B, S, S, 3] in [0, 1], uint8 [B, S, S, 1])``.
    """
    mixed = training and mixed_resize

    def prepare(image, mask):
        image_aa, mask = preprocess(image, mask, image_size)
        if not mixed:
            return image_aa, mask
        return tf.stack([image_aa, preprocess_image(image, image_size, antialias=False)]), mask

    ds = pairs.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).cache()
    if training:
        fn = _with_seed(augment_fn or augment)
        plain_fn = None if plain_augment_fn is None else _with_seed(plain_augment_fn)
        ds = ds.shuffle(1000, seed=shuffle_seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds.batch(2, drop_remainder=True)))

        def augment_one(pair, seed):
            image, mask = pair
            if mixed:
                pick_seed, seed = tf.unstack(tf.random.split(seed, 2))
                pick = tf.cast(tf.random.stateless_uniform((), pick_seed) < 0.5, tf.int32)
                if plain_fn is not None:  # index 1 is the copy shrunk without antialiasing
                    return tf.cond(
                        pick == 1,
                        lambda: plain_fn(image[1], mask, seed),
                        lambda: fn(image[0], mask, seed),
                    )
                image = tf.gather(image, pick)
            return fn(image, mask, seed)

        ds = ds.map(augment_one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def count(ds: tf.data.Dataset) -> int:
    """Number of elements of a finite dataset (iterates it once when the size is unknown)."""
    n = int(ds.cardinality())
    if n >= 0:
        return n
    return int(ds.reduce(np.int64(0), lambda c, _: c + 1))


def take_rows(pairs: tf.data.Dataset, rows) -> tf.data.Dataset:
    """The elements of a finite dataset at the given positions, in the dataset's order.

    For a seeded random subsample of a split (``rows =
    np.sort(np.random.default_rng(0).choice(n, k, replace=False))``) that is scored or trained
    on without decoding the other photos twice: the dataset is read once, and elements not in
    ``rows`` are skipped before any map that follows.

    Args:
        pairs: any finite dataset, e.g. :func:`load`'s ``(uint8 photo, uint8 trimap)`` pairs.
        rows: 0-based positions, integers (a list or 1-D array); each must be below the
            dataset's length and appear once.

    Returns:
        A dataset of ``len(rows)`` elements of the same structure, dtypes and shapes, its
        cardinality set to that number.

    Raises:
        ValueError: ``rows`` is not 1-D, holds a negative position or a repeated one.
        tf.errors.FailedPreconditionError (when iterated): a position is not below the dataset's
            length (fewer elements come out than ``rows`` asks for).
    """
    rows = np.asarray(rows)
    if rows.ndim != 1 or (rows.size and (rows.min() < 0 or len(np.unique(rows)) != rows.size)):
        raise ValueError(f"rows: expected distinct non-negative positions, got {rows.tolist()}")
    rows = tf.constant(rows.astype(np.int64))
    picked = pairs.enumerate().filter(lambda i, *element: tf.reduce_any(i == rows))
    picked = picked.map(lambda i, *element: element[0] if len(element) == 1 else element)
    return picked.apply(tf.data.experimental.assert_cardinality(int(rows.shape[0])))


def make_pipelines(
    source: str | os.PathLike | None = None,
    image_size: int = 128,
    batch_size: int = 16,
    limit: int | None = None,
    augment_train: bool = True,
    validation_fraction: float = VALIDATION_FRACTION,
    shuffle_seed: int = 0,
    augment_fn=None,
    breeds=None,
    mixed_resize: bool = False,
    plain_augment_fn=None,
) -> Pipelines:
    """Build the training, validation and test pipelines in one call.

    Args:
        source: see :func:`load`. image_size: side in pixels. batch_size: per step.
        limit: cap on pairs per split (smoke runs). augment_train: shuffle and augment
            the training split. augment_fn: the augmentation (default :func:`augment`,
            paired flips; :func:`augment_strong` adds zoom and colour jitter).
        shuffle_seed: seed of the shuffle and of the per-photo augmentation seeds.
        breeds: keep only these breeds in all three splits (see :func:`load`); None: all.
        mixed_resize: train on photos shrunk with and without antialiasing (see
            :func:`build_pipeline`).
        plain_augment_fn: with ``mixed_resize``, the augmentation of the copies shrunk
            without antialiasing (see :func:`build_pipeline`); None: ``augment_fn``.

    Returns:
        :class:`Pipelines`.
    """
    raw = {
        s: load(s, source, validation_fraction, limit, breeds=breeds)
        for s in ("train", "validation", "test")
    }
    sizes = {s: count(ds) for s, ds in raw.items()}
    return Pipelines(
        train=build_pipeline(
            raw["train"],
            image_size,
            batch_size,
            augment_train,
            shuffle_seed,
            augment_fn,
            mixed_resize=mixed_resize,
            plain_augment_fn=plain_augment_fn,
        ),
        validation=build_pipeline(raw["validation"], image_size, batch_size),
        test=build_pipeline(raw["test"], image_size, batch_size),
        sizes=sizes,
        image_size=image_size,
        batch_size=batch_size,
    )


def class_pixel_counts(dataset: tf.data.Dataset, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Count pixels per class over a dataset of ``(image, mask)`` (batched or not).

    Args:
        dataset: yields masks with labels 0..num_classes-1 (after :func:`preprocess`).

    Returns:
        int64 array ``[num_classes]``: pixel counts for pet, background, border.
    """
    total = np.zeros(num_classes, dtype=np.int64)
    for _, mask in dataset:
        total += np.bincount(np.asarray(mask).ravel(), minlength=num_classes)[:num_classes]
    return total


# ---------------------------------------------------------------------------
# The synthetic source
# ---------------------------------------------------------------------------

SYNTHETIC_VERSION = 1


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seglib"


def synthetic_dataset_dir(num_images: int = 60, seed: int = 0, cache_dir=None) -> Path:
    """Return the folder of the synthetic dataset, generating it on first use.

    The folder is written in a temporary place and renamed into the cache
    (``$XDG_CACHE_HOME/seglib`` or ``~/.cache/seglib``), so two processes that ask at
    once never see half a dataset.
    """
    cache = Path(cache_dir) if cache_dir is not None else _cache_root()
    target = cache / f"synthetic-v{SYNTHETIC_VERSION}-n{num_images}-s{seed}"
    if (target / "annotations" / "test.txt").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=cache))
    try:
        write_synthetic_dataset(tmp, num_images, seed)
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race
            if not (target / "annotations" / "test.txt").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A striped, noisy RGB background, float in [0, 255]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 215, size=3)
    angle, freq = rng.uniform(0, np.pi), rng.uniform(0.05, 0.3)
    stripes = np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy))
    tint = rng.uniform(-40, 40, size=3)
    noise = rng.normal(0, 12, size=(h, w, 3))
    return np.clip(base + stripes[..., None] * tint + noise, 0, 255)


def _synthetic_pair(rng: np.random.Generator, cat: bool) -> tuple[np.ndarray, np.ndarray]:
    """One photo (uint8 [H, W, 3]) and trimap (uint8 [H, W], values 1, 2, 3)."""
    w, h = int(rng.integers(150, 260)), int(rng.integers(130, 230))
    shape = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(shape)
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.45, 0.65) * h
    bw, bh = rng.uniform(0.18, 0.3) * w, rng.uniform(0.15, 0.25) * h
    draw.ellipse([cx - bw, cy - bh, cx + bw, cy + bh], fill=255)  # body
    hx, hy, r = cx + rng.choice([-1, 1]) * bw * 0.8, cy - bh * 0.9, min(w, h) * 0.12
    draw.ellipse([hx - r, hy - r, hx + r, hy + r], fill=255)  # head
    ear = r * (0.9 if cat else 0.5)
    for side in (-1, 1):  # pointed ears for cats, short ones for dogs
        ex = hx + side * r * 0.6
        draw.polygon(
            [(ex - r * 0.35, hy - r * 0.6), (ex + r * 0.35, hy - r * 0.6), (ex, hy - r - ear)],
            fill=255,
        )
    pet = np.asarray(shape) > 127
    band = 5  # the release's "not classified" band is a few pixels wide around the outline
    grown = np.asarray(shape.filter(ImageFilter.MaxFilter(band))) > 127
    shrunk = np.asarray(shape.filter(ImageFilter.MinFilter(band))) > 127
    trimap = np.full((h, w), TRIMAP_BACKGROUND, np.uint8)
    trimap[pet] = TRIMAP_PET
    trimap[grown & ~shrunk] = TRIMAP_BORDER
    fur = rng.uniform(60, 230, size=3)
    spots = rng.normal(0, 25, size=(h, w, 1)) * (1.0 if cat else 0.3)
    photo = _texture(rng, h, w)
    photo[pet] = np.clip(fur + spots[pet] + rng.normal(0, 8, size=(int(pet.sum()), 3)), 0, 255)
    return photo.astype(np.uint8), trimap


def write_synthetic_dataset(root: str | os.PathLike, num_images: int = 60, seed: int = 0) -> Path:
    """Write a synthetic dataset in the Oxford-IIIT Pet release layout.

    Names follow the release's convention (capitalised breed = cat, lower case = dog):
    ``Synthcat_N`` and ``synthdog_N``. Even indices go to ``trainval``, odd to ``test``.
    Like the real release it holds a grayscale JPEG, an RGBA PNG and a GIF named
    ``.jpg``, and a ``.mat`` file in ``images/``, so the loader's handling of those
    oddities is exercised offline too.

    Args:
        root: folder to write into (created). num_images: pairs (>= 8). seed: RNG seed.

    Returns:
        ``root`` as a Path.
    """
    if num_images < 8:
        raise ValueError(f"num_images must be at least 8, got {num_images}")
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = {"trainval": [], "test": []}
    for i in range(num_images):
        cat = i % 4 < 2
        name = f"Synthcat_{i + 1}" if cat else f"synthdog_{i + 1}"
        photo, trimap = _synthetic_pair(rng, cat)
        image = Image.fromarray(photo)
        path = root / "images" / f"{name}.jpg"
        if i == 2:
            image.convert("L").save(path, format="JPEG", quality=92)
        elif i == 4:
            image.convert("RGBA").save(path, format="PNG")
        elif i == 6:
            image.convert("P").save(path, format="GIF")
        else:
            image.save(path, format="JPEG", quality=92)
        Image.fromarray(trimap).save(root / "annotations" / "trimaps" / f"{name}.png")
        split = "trainval" if i % 2 == 0 else "test"
        lines[split].append(f"{name} {1 if cat else 2} {1 if cat else 2} 1")
    (root / "images" / "Synthcat_1.mat").write_bytes(b"MATLAB 5.0 MAT-file placeholder")
    for split, rows in lines.items():
        (root / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    (root / "annotations" / "list.txt").write_text(
        "\n".join(lines["trainval"] + lines["test"]) + "\n"
    )
    (root / "README").write_text(
        "Synthetic stand-in for Oxford-IIIT Pet written by seglib.data.write_synthetic_dataset.\n"
        "Trimap values: 1 pet, 2 background, 3 border.\n"
    )
    return root


# ---------------------------------------------------------------------------
# Stronger augmentation for training from scratch (notebooks 03 and 04)
# ---------------------------------------------------------------------------


def augment_strong(
    image,
    mask,
    seed: int | None = None,
    min_crop: float = 0.6,
    brightness: float = 0.1,
    contrast: float = 0.2,
    saturation: float = 0.2,
):
    """Flip, zoom in (random crop) and colour-jitter a pair; the mask stays aligned.

    A model trained from scratch on a few hundred photos memorises them within a few
    epochs; each random change shows it a "new" photo with a correct mask. Geometric
    changes are applied to photo and mask together (one random draw for both), photo
    by bilinear and mask by nearest-neighbour resizing, so labels stay 0, 1, 2. Colour
    changes touch the photo only. (The keras.io U-Net example uses no augmentation;
    random crops, flips and colour jitter are the usual recipe, e.g. in torchvision's
    segmentation references.)

    Args:
        image: float32 ``[S, S, 3]`` in [0, 1]. mask: uint8 ``[S, S, 1]`` labels 0..2.
        seed: None (fresh draws), an int or a shape-``[2]`` seed (:func:`augment_seed`).
            It is split into one seed per random decision (flip, zoom, crop offset,
            brightness, contrast, saturation), so the draws are independent.
        min_crop: smallest crop side as a share of the image side, in (0, 1]; the crop
            is resized back to ``S``, a zoom of up to ``1 / min_crop``.
        brightness: largest brightness shift (added, in [0, 1] units).
        contrast, saturation: largest relative change, e.g. 0.2 = factor in [0.8, 1.2];
            0 turns a colour change off.

    Returns:
        ``(image float32 [S, S, 3] in [0, 1], mask uint8 [S, S, 1])``, shapes unchanged.
    """
    if not 0 < min_crop <= 1:
        raise ValueError(f"min_crop must be in (0, 1], got {min_crop}")
    # One independent seed per random decision: reusing one seed for all of them would tie
    # the draws together (with the same seed, every flipped photo would also be zoomed more).
    flip_seed, zoom_seed, offset_seed, b_seed, c_seed, s_seed = tf.unstack(
        tf.random.split(augment_seed(seed), 6)
    )
    image, mask = augment(image, mask, seed=flip_seed)
    size = tf.shape(image)[:2]
    side = tf.cast(tf.reduce_min(size), tf.float32)
    crop_share = tf.random.stateless_uniform((), zoom_seed, min_crop, 1.0)
    crop = tf.cast(side * crop_share, tf.int32)
    stacked = tf.concat([image, tf.cast(mask, tf.float32)], axis=-1)
    stacked = tf.image.stateless_random_crop(stacked, tf.stack([crop, crop, 4]), offset_seed)
    image = tf.image.resize(stacked[..., :3], size, method="bilinear")
    mask = tf.cast(tf.image.resize(stacked[..., 3:], size, method="nearest"), tf.uint8)
    if brightness:
        image = tf.image.stateless_random_brightness(image, brightness, b_seed)
    if contrast:
        image = tf.image.stateless_random_contrast(image, 1 - contrast, 1 + contrast, c_seed)
    if saturation:
        image = tf.image.stateless_random_saturation(image, 1 - saturation, 1 + saturation, s_seed)
    return tf.clip_by_value(image, 0.0, 1.0), mask
