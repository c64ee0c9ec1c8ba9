"""Reading a photo safely: decode by content, check the size before decoding, turn it
upright, convert to RGB uint8.

:func:`load_image` takes a path, bytes, a PIL image or a NumPy array and returns uint8
``[H, W, 3]`` RGB, or raises :class:`~seglib.errors.ImageError` naming the file and the
problem. The steps (decode by content, the pixel limit against decompression bombs, the
EXIF orientation, 16-bit and transparent images) are described in
:mod:`seglib.inference`, the module students call.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from pathlib import Path

from seglib.errors import ImageError

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

#: Largest image accepted by default, in pixels (width x height): 50 megapixels, above
#: the 48 MP of current phone cameras. Pass ``max_pixels=`` to change it per call.
DEFAULT_MAX_PIXELS = 50_000_000


#: Bytes read from a file that reports a size of 0 but has content (``/proc``): 64 MiB.
MAX_UNSIZED_BYTES = 64 * 1024 * 1024
#: Colour under transparent pixels (RGBA, LA, palette with transparency): white.
TRANSPARENCY_BACKGROUND = (255, 255, 255)

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis")


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------


def _label(image, name: str | None) -> str:
    if name is not None:
        return str(name)
    if isinstance(image, (str, os.PathLike)):
        return str(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(image, Image.Image):
        return getattr(image, "filename", "") or "<PIL image>"
    if isinstance(image, np.ndarray) or hasattr(image, "__array__"):
        return "<array>"
    return "<input>"


def _expand_path(path, label: str, error=ImageError) -> Path:
    """``Path(path).expanduser()``, with a named error for ``''`` and an unknown ``~user``."""
    if not str(path).strip():
        raise error(f"{label!r}: the path is empty; give the file's name")
    try:
        return Path(path).expanduser()
    except RuntimeError as e:  # "Could not determine home directory"
        raise error(f"{label}: cannot expand '~' ({e}); is the user name right?") from e


def _check_max_pixels(max_pixels) -> int | None:
    """``max_pixels`` checked: None (no limit) or a whole number above 0."""
    if max_pixels is None:
        return None
    if isinstance(max_pixels, (int, np.integer)) and not isinstance(max_pixels, bool):
        if max_pixels > 0:
            return int(max_pixels)
    raise ImageError(
        f"max_pixels={max_pixels!r}: give the largest number of pixels (width x height) to "
        f"accept, a whole number above 0 (the default is {DEFAULT_MAX_PIXELS:,}), or None to "
        "switch the check off"
    )


#: Fewest bytes a JPEG needs per pixel it declares: every 8x8 block of the luminance needs
#: at least one bit (a progressive JPEG's DC scan), so 1 byte per 512 pixels; we allow half.
JPEG_MIN_BYTES_PER_PIXEL = 1 / 1024
#: Largest compression ratio of deflate, PNG's compression: about 1032 to 1 (a match of 258
#: bytes costs at least 2 bits; zlib's "technical details" give 1032:1 as the limit).
DEFLATE_MAX_RATIO = 1032
#: A GIF's canvas may be at most this many times the area of its first frame.
GIF_MAX_CANVAS_PER_FRAME = 64


def _check_data_supports_size(
    im: Image.Image, label: str, file_size: int | None, head: bytes = b""
) -> None:
    """Refuse, before decoding, a file whose data cannot fill the size its header declares.

    A few hundred bytes can declare 7000 x 7000 pixels: libjpeg then fills the missing
    scan data with grey, a GIF's canvas with its background, and decoding allocates the
    whole size (a "decompression bomb" under the pixel limit). Checked from the file size
    and the header: a JPEG needs at least :data:`JPEG_MIN_BYTES_PER_PIXEL`, a PNG at least
    its raw scanlines (at the bit depth and colour type of its IHDR chunk, in ``head``, the
    file's first 32 bytes) over :data:`DEFLATE_MAX_RATIO`, and a GIF's first frame must cover at
    least 1/:data:`GIF_MAX_CANVAS_PER_FRAME` of its canvas.
    """
    width, height = im.size
    pixels = width * height
    if (
        file_size is not None
        and im.format == "JPEG"
        and file_size < pixels * JPEG_MIN_BYTES_PER_PIXEL
    ):
        raise ImageError(
            f"{label}: the JPEG header declares {width}x{height} pixels, but the file holds only "
            f"{file_size:,} bytes, too few to describe that many (a real photo of that size "
            f"takes at least {pixels * JPEG_MIN_BYTES_PER_PIXEL / 1024:,.0f} KiB). The file is "
            "damaged or made to exhaust memory; open it in an image viewer and save it again."
        )
    if file_size is not None and im.format == "PNG" and head[12:16] == b"IHDR":
        # Bits per pixel from the IHDR chunk: bit depth (byte 24) x samples of the colour
        # type (byte 25): 0 grey 1, 2 RGB 3, 3 palette 1, 4 grey + alpha 2, 6 RGBA 4.
        samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(head[25], 1)
        bits = max(1, head[24]) * samples
        raw = height * (1 + (width * bits + 7) // 8)
        if file_size * DEFLATE_MAX_RATIO < raw:
            raise ImageError(
                f"{label}: the PNG header declares {width}x{height} pixels ({raw:,} bytes "
                f"unpacked), but the file holds only {file_size:,} bytes, less than PNG's "
                f"compression can pack them into (at most {DEFLATE_MAX_RATIO}:1). The file is "
                "truncated or made to exhaust memory; save the photo again."
            )
    if im.format == "GIF" and im.tile:
        x0, y0, x1, y1 = im.tile[0][1]
        frame = max(0, x1 - x0) * max(0, y1 - y0)
        if frame * GIF_MAX_CANVAS_PER_FRAME < pixels:
            raise ImageError(
                f"{label}: the GIF declares a {width}x{height} canvas, but its first frame "
                f"covers only {x1 - x0}x{y1 - y0} pixels of it; decoding would fill the rest "
                "with the background colour. Crop the GIF to its picture, or save it as PNG."
            )


def _check_pixels(width: int, height: int, label: str, max_pixels: int | None) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(
            f"{label}: the image has no pixels ({width}x{height}); give a photo at least 1x1"
        )
    if max_pixels is not None and width * height > max_pixels:
        raise ImageError(
            f"{label}: {width}x{height} = {width * height / 1e6:.1f} megapixels is over the "
            f"pixel limit of {max_pixels / 1e6:.1f} megapixels (a guard against decompression "
            "bombs). Shrink the photo, or pass a larger max_pixels= if you trust the file."
        )


def _looks_like_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def _not_an_image(label: str, head: bytes, error: Exception) -> ImageError:
    if _looks_like_heif(head):
        return ImageError(
            f"{label}: this is a HEIC/HEIF photo (the iPhone default), which Pillow cannot "
            "read. Export it as JPEG (on the iPhone: Settings > Camera > Formats > Most "
            "Compatible), or `pip install pillow-heif` and call "
            "`pillow_heif.register_heif_opener()` first."
        )
    # Pillow's own text for an unknown format only repeats the file object's repr.
    detail = "" if isinstance(error, UnidentifiedImageError) else f" ({error})"
    return ImageError(
        f"{label}: not an image, or a format Pillow cannot read{detail}. Use a JPEG, PNG, "
        "GIF, BMP, WebP or TIFF file."
    )


def _exif_upright(im: Image.Image, label: str) -> Image.Image:
    """Apply the EXIF orientation (EXIF 2.3, tag 0x0112); on a broken EXIF block, warn."""
    try:
        upright = ImageOps.exif_transpose(im)
    except Exception as e:  # Pillow raises several types on malformed EXIF data
        warnings.warn(
            f"{label}: could not read the EXIF orientation ({e}); using the pixels as stored.",
            stacklevel=3,
        )
        return im
    return upright if upright is not None else im


def _composite_over_background(rgba: np.ndarray) -> np.ndarray:
    """uint8 ``[H, W, 4]`` -> uint8 ``[H, W, 3]`` blended over :data:`TRANSPARENCY_BACKGROUND`."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    background = np.array(TRANSPARENCY_BACKGROUND, np.float32)
    blended = rgba[..., :3].astype(np.float32) * alpha + background * (1.0 - alpha)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def _pil_to_rgb(im: Image.Image, label: str) -> np.ndarray:
    """Any Pillow mode -> uint8 ``[H, W, 3]`` (see the module docstring, step 4)."""
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(im).astype(np.float64)
        if mode != "I" or values.max(initial=0) > 255:  # 16-bit range 0..65535
            values = values * (255.0 / 65535.0)
        gray = np.clip(np.round(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "F":
        values = np.asarray(im, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ImageError(f"{label}: the image holds NaN or infinite values")
        if values.max(initial=0) <= 1.0:
            values = values * 255.0
        gray = np.clip(np.round(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    transparent = mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info
    try:
        if transparent:
            return _composite_over_background(np.asarray(im.convert("RGBA")))
        return np.asarray(im.convert("RGB"))
    except (ValueError, OSError) as e:
        raise ImageError(f"{label}: cannot convert colour mode {mode!r} to RGB ({e})") from e


def _decode_opened(
    im: Image.Image,
    label: str,
    max_pixels: int | None,
    first_frame: bool = True,
    file_size: int | None = None,
    head: bytes = b"",
) -> np.ndarray:
    """Size checks from the header, then decode (the first frame), orient and convert."""
    _check_pixels(im.size[0], im.size[1], label, max_pixels)
    _check_data_supports_size(im, label, file_size, head)
    try:
        if first_frame:
            im.seek(0)  # animated GIF / APNG / MPO: the first frame
        im.load()
    except MemoryError:
        raise
    except Exception as e:  # OSError, SyntaxError, struct.error, ... on damaged data
        problem = "truncated (it ends early)" if "truncated" in str(e) else "corrupt"
        raise ImageError(
            f"{label}: the {im.format or 'image'} file is {problem} and cannot be decoded ({e})"
        ) from e
    return _pil_to_rgb(_exif_upright(im, label), label)


def _open_and_decode(
    stream, label: str, head: bytes, max_pixels: int | None, size: int | None = None
) -> np.ndarray:
    with warnings.catch_warnings():
        # We check the size ourselves (max_pixels); Pillow's global warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(stream)
        except Image.DecompressionBombError as e:
            raise ImageError(
                f"{label}: over Pillow's decompression-bomb limit ({e}); refused before decoding"
            ) from e
        except (OSError, SyntaxError, ValueError) as e:
            raise _not_an_image(label, head, e) from e
        with im:
            return _decode_opened(im, label, max_pixels, file_size=size, head=head)


def _from_path(path: Path, label: str, max_pixels: int | None) -> np.ndarray:
    try:
        info = path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ImageError(
                f"{label}: a symbolic link that loops back on itself; point it at a photo"
            ) from e
        if e.errno == errno.ENOENT:
            where = (
                "a link to a file that does not exist" if path.is_symlink() else "file not found"
            )
            raise ImageError(f"{label}: {where}") from e
        raise ImageError(f"{label}: cannot read the file ({e.strerror or e})") from e
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(
            f"{label}: is a folder, not an image file (list its photos with list_images)"
        )
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a pipe"
            if stat.S_ISFIFO(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "not a regular file"
        )
        raise ImageError(
            f"{label}: is {kind}, not a photo file; save the photo to a file and give its path"
        )
    try:
        f = open(path, "rb")  # closed by the with block below
    except OSError as e:  # permission denied, ...
        raise ImageError(f"{label}: cannot read the file ({e.strerror or e})") from e
    with f:
        head = f.read(32)
        if info.st_size == 0:
            if not head:
                raise ImageError(f"{label}: the file is empty (0 bytes)")
            # A file that reports 0 bytes but has content (/proc, /sys): read what it holds.
            content = head + f.read(MAX_UNSIZED_BYTES)
            return _from_bytes(content, label, max_pixels)
        f.seek(0)
        return _open_and_decode(f, label, head, max_pixels, info.st_size)


def _from_bytes(content: bytes, label: str, max_pixels: int | None) -> np.ndarray:
    content = bytes(content)
    if not content:
        raise ImageError(f"{label}: the data is empty (0 bytes)")
    return _open_and_decode(io.BytesIO(content), label, content[:32], max_pixels, len(content))


def _from_array(array, label: str, max_pixels: int | None) -> np.ndarray:
    try:
        array = np.asarray(array)
    except Exception as e:
        raise ImageError(f"{label}: cannot be read as an array ({e})") from e
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    shape_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))
    if not shape_ok:
        raise ImageError(
            f"{label}: expected an image array [H, W], [H, W, 1], [H, W, 3] (RGB) or "
            f"[H, W, 4] (RGBA), got shape {array.shape}"
        )
    _check_pixels(array.shape[1], array.shape[0], label, max_pixels)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype == np.uint16:
        array = np.round(array * (255.0 / 65535.0)).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError(f"{label}: the array holds NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ImageError(
                f"{label}: a float image must hold values in [0, 1] (what the models take), "
                f"got {low:g}..{high:g}. For 0..255 values pass array.astype(np.uint8)."
            )
        array = np.round(array * 255.0).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ImageError(
                f"{label}: an integer image must hold values in 0..255 (uint8) or be uint16, "
                f"got {array.dtype} with values {low}..{high}"
            )
        array = array.astype(np.uint8)
    else:
        raise ImageError(f"{label}: unsupported array dtype {array.dtype}")
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=-1)
    if array.shape[-1] == 4:
        return _composite_over_background(array)
    return np.ascontiguousarray(array)


def load_image(image, *, name: str | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS):
    """Decode a photo from a path, bytes, a PIL image or an array into upright RGB uint8.

    Steps 1-4 of the module docstring: decode by content (first frame), check the size
    against ``max_pixels`` before decoding, apply the EXIF orientation, convert any mode
    (RGB, RGBA, LA, L, 1, P, CMYK, YCbCr, I;16, I, F) to RGB.

    Args:
        image: a path (``str`` or ``os.PathLike``); the file's content (``bytes``,
            ``bytearray``, ``memoryview``); a ``PIL.Image.Image``; or an array-like
            ``[H, W]``, ``[H, W, 1]``, ``[H, W, 3]`` or ``[H, W, 4]`` in **RGB** order
            (OpenCV's ``cv2.imread`` gives BGR: convert with ``cv2.cvtColor`` first) with
            dtype uint8 (0..255), uint16 (0..65535), bool, or float in [0, 1].
        name: what error messages call the input (default: the path, ``<bytes>``,
            ``<array>``, or the PIL image's ``filename``).
        max_pixels: refuse images with more pixels than this (width x height); None
            switches the check off (Pillow's own limit, 2 x ``Image.MAX_IMAGE_PIXELS``,
            still applies to files).

    Returns:
        uint8 ``[H, W, 3]``, RGB, 0..255, upright.

    Raises:
        ImageError: file not found, a folder, a device, pipe or socket, a link that loops
            or points nowhere, empty, not an image (with a hint for HEIC), truncated or
            corrupt, over ``max_pixels``, a header that declares more pixels than the file's
            data can hold (a JPEG under 1 byte per 1,024 pixels, a PNG under its raw size /
            1032, a GIF canvas over 64 times its first frame), an array of the wrong shape,
            dtype or value range, no pixels (0x0), an unsupported type, or a ``max_pixels``
            that is not None or a whole number above 0. The message starts with the name.
    """
    label = _label(image, name)
    max_pixels = _check_max_pixels(max_pixels)
    if isinstance(image, (str, os.PathLike)):
        return _from_path(_expand_path(image, label), label, max_pixels)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _from_bytes(image, label, max_pixels)
    if isinstance(image, Image.Image):
        return _decode_opened(image, label, max_pixels, first_frame=False)  # the frame given
    if isinstance(image, (np.ndarray, tf.Tensor)) or hasattr(image, "__array__"):
        return _from_array(image, label, max_pixels)
    raise ImageError(
        f"{label}: expected a file path, bytes, a PIL image or a NumPy array, "
        f"got {type(image).__name__}"
    )
