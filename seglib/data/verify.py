"""Reading and checking the release's files.

:func:`_decode_pair` decodes one photo/trimap pair in ``tf.data`` (by content: a GIF or PNG
named ``.jpg`` is read as what it is); :func:`verify_pair` runs that very decoder on one pair
and turns TensorFlow's errors into a :class:`~seglib.errors.DataError` that names the file.
A folder's pairs are verified once before training (``SEGLIB_VERIFY_DATA=0`` switches it off).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from seglib.data.layout import TRIMAP_BORDER, TRIMAP_PET
from seglib.errors import DataError

import numpy as np
import tensorflow as tf
from PIL import Image

#: Image formats the pipeline's decoder (``tf.io.decode_image``) reads.
DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "BMP")
#: Trimap modes: 8-bit grayscale, 16-bit grayscale (read as 16 bits, values 1..3 kept), or a
#: palette image (read by its indices, which are the labels).
TRIMAP_MODES = ("L", "I;16", "I;16B", "I;16L", "I", "P")
#: Environment variable that switches the full decode of :func:`~seglib.data.scan_directory` off.
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


def _palette_indices(content) -> np.ndarray:
    """A palette PNG's pixel values (the palette indices), uint8 ``[H, W, 1]``."""
    with Image.open(io.BytesIO(content.numpy())) as im:
        return np.asarray(im, dtype=np.uint8)[..., None]


def _decode_trimap(content):
    """PNG bytes -> uint8 ``[H, W, 1]``; a 16-bit PNG is read as 16 bits (1..3 stay 1..3).

    ``decode_png(dtype=uint8)`` would scale 16-bit values by 255/65535, turning 1..3 into 0.
    The bit depth is byte 24 of a PNG (in the IHDR chunk); values over 255 become 255.
    A palette PNG (colour type 3, byte 25; what some editors save a label image as) is read
    by its palette indices, the labels, through Pillow: ``decode_png`` would turn the
    indices into the grey levels of their palette colours.
    """
    sixteen_bits = tf.equal(tf.strings.substr(content, 24, 1), b"\x10")
    palette = tf.equal(tf.strings.substr(content, 25, 1), b"\x03")

    def wide():
        values = tf.io.decode_png(content, channels=1, dtype=tf.uint16)
        return tf.cast(tf.minimum(values, 255), tf.uint8)

    def indices():
        values = tf.py_function(_palette_indices, [content], tf.uint8)
        values.set_shape([None, None, 1])
        return values

    mask = tf.case(
        [(palette, indices), (sixteen_bits, wide)],
        default=lambda: tf.io.decode_png(content, channels=1, dtype=tf.uint8),
        exclusive=False,
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
