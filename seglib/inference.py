"""Segmenting your own photos: decoding, preprocessing, prediction at full resolution, cut-outs.

The one call is :func:`segment`::

    model = inference.load_model("models/02_pretrained_unet.keras")
    result = inference.segment("my_cat.jpg", model)  # path, bytes, PIL image or NumPy array
    result.mask           # uint8 [H, W]: 0 pet, 1 background, 2 border, at the photo's size
    result.probabilities  # float32 [H, W, 3], softmax over the classes, rows sum to 1
    inference.save_outputs(result, "outputs")  # mask, overlay and cut-out PNGs

What happens to a photo, step by step:

1. **Decode by content**, not by file name (a ``.jpg`` may be a PNG or a GIF); an animated
   GIF, APNG or multi-picture JPEG gives its first frame.
2. **Check the size from the header, before decoding**: an image over ``max_pixels``
   (default :data:`DEFAULT_MAX_PIXELS`, 50 megapixels, more than a 48-megapixel phone
   photo) is refused. A "decompression bomb" is a small file that unpacks to billions of
   pixels; this check does not depend on Pillow's global ``Image.MAX_IMAGE_PIXELS``.
3. **Honour the EXIF orientation** (tag 0x0112): phones store the sensor's pixels as they
   come and record how to turn them; ``PIL.ImageOps.exif_transpose`` turns them upright.
4. **Convert to RGB uint8**: grayscale is repeated, palette and CMYK go through Pillow,
   16-bit images (``I;16``) are scaled by 255/65535 (Pillow's own conversion would clip
   everything above 255 to white), and transparency is composited over white, as a
   viewer shows it (the colours hidden under transparent pixels are arbitrary).
5. **Preprocess exactly as in training** (:func:`seglib.data.preprocess`): resize
   bilinearly with antialiasing to the model's input size, scale to [0, 1], RGB order.
6. **Predict logits** at the model's size, **resize the logits bilinearly back to the
   photo's size**, then take the softmax (probabilities) and the argmax (the mask).

Why resize the logits and not the mask: blowing a 128x128 mask up with nearest neighbour
gives staircase outlines whose steps are ``H / 128`` pixels tall (30 pixels on a phone
photo). Interpolating the logits, the linear output of the last layer, gives smooth
boundaries that fall between the model's pixels, and the mask and the probabilities stay
consistent (``mask == probabilities.argmax(-1)``). This is what FCN (Long, Shelhamer and
Darrell, CVPR 2015) and DeepLab (Chen et al., TPAMI 2018) do: "bilinearly upsample the
logits to the input resolution". Logits rather than probabilities because the softmax is
non-linear: interpolating the scores before it is the convention of those papers and of
mmsegmentation, and the argmax of interpolated logits equals the class with the highest
interpolated score.

How sure the model is: ``result.uncertainty`` (1 - the highest class probability per
pixel) and ``result.unsure(0.8)`` mark where it hesitates. A temperature fitted on the
validation split (:func:`seglib.metrics.fit_temperature`) and saved beside the model with
:func:`save_temperature` makes those probabilities calibrated; :func:`load_model` and
:func:`segment` apply it without changing the mask. ``segment(..., tta=True)`` averages
the probabilities of flipped and rescaled copies of the photo (test-time augmentation):
6 forward passes instead of 1.

Every bad input raises :class:`~seglib.errors.ImageError` (or
:class:`~seglib.errors.ModelError` for the model) with a message that starts with the
file name (``<bytes>``, ``<array>`` or ``name=`` for in-memory input) and says what is
wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import uuid
import warnings
import weakref
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from seglib import data
from seglib.data import CLASS_NAMES, NUM_CLASSES
from seglib.errors import CalibrationError, ImageError, ModelError
from seglib.metrics import check_temperature

import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

#: Largest image accepted by default, in pixels (width x height): 50 megapixels, above
#: the 48 MP of current phone cameras. Pass ``max_pixels=`` to change it per call.
DEFAULT_MAX_PIXELS = 50_000_000
#: Input side used when a model accepts any size (``input_shape`` ``[None, None, None, 3]``).
DEFAULT_INPUT_SIZE = 128
#: File suffixes that :func:`list_images` picks up (decoding still goes by content).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic")
#: Colour under transparent pixels (RGBA, LA, palette with transparency): white.
TRANSPARENCY_BACKGROUND = (255, 255, 255)

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis")


@dataclass
class Segmentation:
    """The result of :func:`segment` for one photo, at the photo's own resolution.

    Attributes:
        image: uint8 ``[H, W, 3]``, RGB 0..255: the photo as decoded, turned upright by
            its EXIF orientation and converted to RGB (what the model saw, before resizing).
        mask: uint8 ``[H, W]`` labels: 0 pet, 1 background, 2 border.
        probabilities: float32 ``[H, W, C]`` in [0, 1], summing to 1 over the classes
            (softmax of the logits resized to ``H x W``); ``mask`` is their argmax.
        name: the file name, or ``<bytes>`` / ``<array>`` / the ``name=`` given.
        input_size: ``(height, width)`` the photo was resized to for the model.
        temperature: the temperature ``T`` the logits were divided by before the softmax
            (1.0: none; see :func:`save_temperature`).
        tta: the :class:`TTA` whose predictions were averaged, or None (one prediction).
    """

    image: np.ndarray
    mask: np.ndarray
    probabilities: np.ndarray
    name: str
    input_size: tuple[int, int]
    temperature: float = 1.0
    tta: TTA | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return self.mask.shape[:2]

    def class_shares(self, class_names: Sequence[str] = CLASS_NAMES) -> dict:
        """Share of the photo's pixels given each class, e.g. ``{"pet": 0.31, ...}`` (sums to 1)."""
        counts = np.bincount(self.mask.ravel(), minlength=len(class_names))
        return {n: float(c) / self.mask.size for n, c in zip(class_names, counts, strict=False)}

    @property
    def forward_passes(self) -> int:
        """How many predictions of the model were averaged (1 without TTA)."""
        return 1 if self.tta is None else self.tta.forward_passes

    @property
    def confidence(self) -> np.ndarray:
        """float32 ``[H, W]`` in [1/C, 1]: the probability of the chosen class per pixel."""
        return self.probabilities.max(axis=-1).astype(np.float32)

    @property
    def uncertainty(self) -> np.ndarray:
        """float32 ``[H, W]`` in [0, 1 - 1/C]: ``1 - confidence``, 0 where the model is sure.

        With a calibrated temperature (:func:`save_temperature`), an uncertainty of 0.3
        means the mask is wrong at about 30 % of such pixels (on photos like the validation
        split's); without one the model is usually over-confident (Guo et al., 2017).
        """
        return (1.0 - self.confidence).astype(np.float32)

    def unsure(self, threshold: float) -> np.ndarray:
        """bool ``[H, W]``: pixels whose confidence is below ``threshold`` (e.g. 0.8).

        Raises:
            CalibrationError: ``threshold`` is not a number in (0, 1].
        """
        try:
            value = float(threshold)
        except (TypeError, ValueError) as e:
            raise CalibrationError(
                f"threshold must be a number in (0, 1], got {threshold!r}"
            ) from e
        if not 0.0 < value <= 1.0:
            raise CalibrationError(f"threshold must be a number in (0, 1], got {value!r}")
        return self.confidence < value


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


def _check_pixels(width: int, height: int, label: str, max_pixels: int | None) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"{label}: the image has no pixels ({width}x{height})")
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
    im: Image.Image, label: str, max_pixels: int | None, first_frame: bool = True
) -> np.ndarray:
    """Size check from the header, then decode (the first frame), orient and convert."""
    _check_pixels(im.size[0], im.size[1], label, max_pixels)
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


def _open_and_decode(stream, label: str, head: bytes, max_pixels: int | None) -> np.ndarray:
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
            return _decode_opened(im, label, max_pixels)


def _from_path(path: Path, label: str, max_pixels: int | None) -> np.ndarray:
    if not path.exists():
        raise ImageError(f"{label}: file not found")
    if path.is_dir():
        raise ImageError(
            f"{label}: is a folder, not an image file (list its photos with list_images)"
        )
    size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{label}: the file is empty (0 bytes)")
    try:
        f = open(path, "rb")  # closed by the with block below
    except OSError as e:  # permission denied, ...
        raise ImageError(f"{label}: cannot read the file ({e.strerror or e})") from e
    with f:
        head = f.read(16)
        f.seek(0)
        return _open_and_decode(f, label, head, max_pixels)


def _from_bytes(content: bytes, label: str, max_pixels: int | None) -> np.ndarray:
    content = bytes(content)
    if not content:
        raise ImageError(f"{label}: the data is empty (0 bytes)")
    return _open_and_decode(io.BytesIO(content), label, content[:16], max_pixels)


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
        ImageError: file not found, a folder, empty, not an image (with a hint for
            HEIC), truncated or corrupt, over ``max_pixels``, an array of the wrong shape,
            dtype or value range, or an unsupported type. The message starts with the name.
    """
    label = _label(image, name)
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


def to_model_input(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Preprocess an RGB photo with the very function training uses
    (:func:`seglib.data.preprocess_image`), so the two can never drift apart.

    Args:
        image: uint8 ``[H, W, 3]``, RGB 0..255.
        size: ``(height, width)`` of the model's input.

    Returns:
        float32 ``[height, width, 3]`` in [0, 1]: resized bilinearly with antialiasing,
        then divided by 255.
    """
    return data.preprocess_image(image, size).numpy().astype(np.float32)


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


def _output_is_softmax(model: keras.Model) -> str:
    """The squashing activation of the last layer (``"softmax"``, ``"sigmoid"``) or ``""``."""
    last = model.layers[-1] if model.layers else None
    if isinstance(last, keras.layers.Softmax):
        return "softmax"
    if isinstance(last, keras.layers.Activation):
        activation = last.activation
    else:
        activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", "")
    return name if name in ("softmax", "sigmoid") else ""


def check_model(model, name: str = "<model>", num_classes: int = NUM_CLASSES) -> keras.Model:
    """Check that ``model`` is a segmentation model in this course's convention.

    The convention (:mod:`seglib.models`): one input, float32 images ``[B, H, W, 3]`` in
    [0, 1]; one output, **logits** ``[B, H, W, num_classes]`` at the input's resolution.

    Returns:
        ``model``.

    Raises:
        ModelError: not a Keras model, wrong number of inputs or outputs, input not
            ``[B, H, W, 3]``, output not ``[B, H, W, num_classes]`` at the input's size, or
            a last layer that applies softmax (we expect logits). Names ``name``.
    """
    if not isinstance(model, keras.Model):
        raise ModelError(f"{name}: not a Keras model (got {type(model).__name__})")
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError) as e:
        raise ModelError(f"{name}: the model has no defined inputs/outputs ({e})") from e
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(
            f"{name}: not a segmentation model: it has {len(inputs)} inputs and "
            f"{len(outputs)} outputs, expected one image in and one mask of logits out"
        )
    in_shape, out_shape = tuple(inputs[0].shape), tuple(outputs[0].shape)
    if len(in_shape) != 4 or in_shape[-1] != 3:
        raise ModelError(
            f"{name}: not a segmentation model: its input has shape {in_shape}, expected "
            "RGB images [batch, height, width, 3]"
        )
    if len(out_shape) != 4 or out_shape[1:3] != in_shape[1:3] or out_shape[-1] != num_classes:
        raise ModelError(
            f"{name}: not a segmentation model: its output has shape {out_shape}, expected "
            f"logits [batch, {in_shape[1]}, {in_shape[2]}, {num_classes}] (one score per "
            "pixel and class, at the input's resolution)"
        )
    squash = _output_is_softmax(model)
    if squash:
        raise ModelError(
            f"{name}: the model's last layer applies {squash}; seglib models output logits "
            "(build the last layer without activation and train with from_logits=True)"
        )
    return model


def _describe_file(path: Path) -> str:
    """'a JPEG image' when Pillow recognises the file, else 'not one'."""
    try:
        with Image.open(path) as im:
            return f"a {im.format} image"
    except Exception:
        return "not one"


def load_model(path: str | os.PathLike, num_classes: int = NUM_CLASSES) -> keras.Model:
    """Load a saved segmentation model (``.keras``, as notebook 02 writes) and check it.

    Loads with ``compile=False`` (inference needs no optimizer) and Keras' default
    ``safe_mode`` (no arbitrary code from the file), then :func:`check_model`. A
    temperature saved beside the file (:func:`save_temperature`) is remembered for the
    model (:func:`model_temperature`), and :func:`segment` applies it.

    Returns:
        ``keras.Model`` taking float32 ``[B, H, W, 3]`` in [0, 1], returning logits
        ``[B, H, W, num_classes]``.

    Raises:
        ModelError: the file is missing, a folder, empty, not loadable by Keras, or not a
            segmentation model (see :func:`check_model`). The message names the file.
    """
    path = _expand_path(path, str(path), ModelError)
    if not path.exists():
        raise ModelError(
            f"{path}: model file not found (notebook 02 saves one to "
            "notebooks/models/02_pretrained_unet.keras)"
        )
    if path.is_dir():
        raise ModelError(f"{path}: is a folder, not a model file")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: the model file is empty (0 bytes)")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ModelError(
            f"{path}: not a Keras model: a .keras file is a zip archive, and this file is "
            f"{_describe_file(path)}. Save models with model.save('name.keras')."
        )
    try:
        model = keras.models.load_model(path, compile=False)
    except MemoryError:
        raise
    except Exception as e:  # Keras raises ValueError, OSError, zipfile errors, ...
        raise ModelError(
            f"{path}: not a loadable Keras model ({type(e).__name__}: {e}). Save models with "
            "model.save('name.keras')."
        ) from e
    _MODEL_TEMPERATURES[model] = load_temperature(path)
    return check_model(model, str(path), num_classes)


def model_input_size(model: keras.Model) -> tuple[int, int]:
    """``(height, width)`` the model takes; :data:`DEFAULT_INPUT_SIZE` where it accepts any."""
    _, height, width, _ = model.inputs[0].shape
    return (height or DEFAULT_INPUT_SIZE, width or DEFAULT_INPUT_SIZE)


#: Measured strides: ``{id(model): (weak reference to the model, stride)}``.
_strides: dict = {}


def model_stride(model: keras.Model) -> int:
    """The model's total stride: the input sides it takes are multiples of it.

    A fixed-size model takes only its own size (returned as 0). For a model that takes
    any size, the smallest power of two ``S`` (1..256) for which the model maps a
    ``[1, S, S, 3]`` input to logits of the same height and width (a U-Net whose encoder
    halves five times needs 32). Measured once per model, on zeros.

    Raises:
        ModelError: no size up to 256 works.
    """
    height, width = model.inputs[0].shape[1:3]
    if height is not None and width is not None:
        return 0
    known = _strides.get(id(model))
    if known is not None and known[0]() is model:
        return known[1]
    import weakref

    for side in (2**k for k in range(9)):
        try:
            out = model(np.zeros((1, side, side, 3), np.float32), training=False)
        except Exception:  # a Concatenate of 24 and 25 rows, a zero-sized pooling, ...
            continue
        if tuple(out.shape[1:3]) == (side, side):
            _strides[id(model)] = (weakref.ref(model), side)
            return side
    raise ModelError("the model maps no input size up to 256 x 256 to logits of its size")


def _check_input_size(model: keras.Model, input_size) -> tuple[int, int]:
    """``input_size`` as ``(height, width)``, checked against what the model takes."""
    if input_size is None:
        return model_input_size(model)
    if isinstance(input_size, (int, np.integer)) and not isinstance(input_size, bool):
        size = (int(input_size), int(input_size))
    else:
        try:
            size = tuple(input_size)
        except TypeError:
            size = ()
        if len(size) != 2 or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in size
        ):
            raise ModelError(
                f"input_size={input_size!r}: give one side or (height, width) in pixels, ints"
            )
        size = (int(size[0]), int(size[1]))
    fixed = model_input_size(model) if model_stride(model) == 0 else None
    if fixed is not None and size != fixed:
        raise ModelError(
            f"input_size={input_size!r}: this model takes only {fixed[0]}x{fixed[1]} photos; "
            "leave input_size=None"
        )
    stride = model_stride(model) or 1
    if min(size) <= 0 or size[0] % stride or size[1] % stride:
        examples = ", ".join(str(stride * k) for k in (2, 3, 4, 5) if stride * k >= 8)
        raise ModelError(
            f"input_size={input_size!r}: this model takes sides that are positive multiples "
            f"of {stride} (its total stride), e.g. {examples}"
        )
    return size


# ---------------------------------------------------------------------------
# Segmenting
# ---------------------------------------------------------------------------


def segment(
    image,
    model,
    *,
    name: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    input_size: int | tuple[int, int] | None = None,
    tta: bool | TTA | None = None,
    temperature: float | None = None,
) -> Segmentation:
    """Segment one photo into pet, background and border at its original resolution.

    Decodes and preprocesses the photo as in training (:func:`load_image`,
    :func:`to_model_input`), predicts logits at the model's input size, resizes the
    logits bilinearly to the photo's size, and returns their softmax and argmax. See the
    module docstring for why the logits and not the mask are resized (FCN, DeepLab).

    Args:
        image: path, bytes, PIL image or array (see :func:`load_image`).
        model: a model from :func:`load_model` (or any model passing
            :func:`check_model`), or the path of a saved one.
        name: what error messages and :attr:`Segmentation.name` call the input.
        max_pixels: pixel limit (decompression-bomb guard); None switches it off.
        input_size: side or ``(height, width)`` to resize to; None uses the model's input
            size (:func:`model_input_size`).
        tta: test-time augmentation, off by default. True uses :class:`TTA`'s default
            (the photo and its mirror image at 0.75, 1.0 and 1.25 times the input size:
            **6 forward passes** over 6.25 times the pixels of one: 3 to 5 times the time
            of ``tta=False`` as measured, see :class:`TTA`); a :class:`TTA` chooses the
            scales and the flip. The probabilities of all passes are averaged at the
            photo's size (see :func:`predict_tta`).
        temperature: divide the logits by this ``T > 0`` before the softmax (calibrated
            probabilities; the mask does not change). None: the temperature saved beside
            the model file (:func:`save_temperature`), if any, else 1.

    Returns:
        :class:`Segmentation` with ``image`` uint8 ``[H, W, 3]``, ``mask`` uint8
        ``[H, W]`` (0 pet, 1 background, 2 border), ``probabilities`` float32
        ``[H, W, C]``, where ``H x W`` is the upright photo's size, and the ``uncertainty``
        map float32 ``[H, W]`` (1 - the chosen class's probability).

    Raises:
        ImageError: see :func:`load_image`. ModelError: see :func:`load_model` and
            :func:`check_model`; an ``input_size`` the model cannot take (see
            :func:`model_stride`; the message lists the allowed sizes); or the model cannot
            run at a TTA scale's size.
        CalibrationError: ``tta`` is not True/False/None/:class:`TTA`, a scale is not
            above 0, ``temperature`` is not a finite number above 0, or the saved
            temperature file is unreadable.
    """
    tta = _check_tta(tta)
    if temperature is not None:
        temperature = check_temperature(temperature)
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    else:
        check_model(model)
    if temperature is None:
        temperature = model_temperature(model) or 1.0
    label = _label(image, name)
    rgb = load_image(image, name=label, max_pixels=max_pixels)
    size = _check_input_size(model, input_size)
    if tta is not None or temperature != 1.0:
        probabilities = predict_tta(model, rgb, size, tta or TTA((1.0,), flip=False), temperature)
        mask = np.argmax(probabilities, axis=-1).astype(np.uint8)
        shape = (int(size[0]), int(size[1]))
        return Segmentation(rgb, mask, probabilities, label, shape, temperature, tta)
    x = to_model_input(rgb, size)
    logits = model(x[None], training=False)[0]
    height, width = rgb.shape[:2]
    logits = tf.image.resize(logits, (height, width), method="bilinear", antialias=True)
    probabilities = tf.nn.softmax(logits, axis=-1).numpy().astype(np.float32)
    mask = np.argmax(probabilities, axis=-1).astype(np.uint8)
    return Segmentation(rgb, mask, probabilities, label, (int(size[0]), int(size[1])))


# ---------------------------------------------------------------------------
# Calibration (a stored temperature) and test-time augmentation
# ---------------------------------------------------------------------------

#: File beside a model that holds its temperature: ``pets.keras`` -> ``pets.calibration.json``.
CALIBRATION_SUFFIX = ".calibration.json"
#: Largest power of two that TTA sizes are rounded to a multiple of (MobileNet's stride).
TTA_MAX_MULTIPLE = 32

# Temperatures of the models load_model loaded (keyed weakly: a model's entry goes with it).
_MODEL_TEMPERATURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Copies of fixed-size models that accept any input size, for TTA scales (see _any_size).
_ANY_SIZE_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class TTA:
    """Test-time augmentation: the copies of a photo whose predictions :func:`segment` averages.

    Each scale ``s`` resizes the photo to ``s`` times the model's input size (rounded to a
    multiple of the largest power of two up to :data:`TTA_MAX_MULTIPLE` that divides the
    input size, so a U-Net's skip connections still line up: 0.75 and 1.25 of 128 px give
    96 and 160 px); ``flip`` adds the mirror image (left-right) of each. The number of
    forward passes is ``len(scales) * (2 if flip else 1)``; a pass at scale ``s`` costs
    about ``s**2`` times the compute of one at 1.0. The default makes 6 passes over
    ``2 * (0.75**2 + 1 + 1.25**2) = 6.25`` times the pixels of one plain pass (measured: 3
    to 5 times the time of ``tta=False`` for a 128 px MobileNetV2 U-Net on a 500x375
    photo, on a shared 2-core CPU; decoding the photo is not repeated). A model built for
    one input size (all of this course's) runs at the other sizes through a copy rebuilt
    from its config with open input sizes (about a second, once per model; the weights
    are copied from the model at every call, so a model trained further is followed).

    A horizontal flip is safe for pets (a mirrored cat is still a cat), unlike a vertical
    one; the scales average over how large the pet's fur and outline appear to the model.

    Attributes:
        scales: input-size multipliers, each a finite number above 0; 1.0 is the model's
            own input size.
        flip: also predict the mirrored photo at each scale and mirror its logits back.

    Raises:
        CalibrationError: no scales, a scale that is not a finite number above 0, or a
            ``flip`` that is not True or False.
    """

    scales: tuple = (0.75, 1.0, 1.25)
    flip: bool = True

    def __post_init__(self):
        scales = self.scales
        if isinstance(scales, (int, float)):
            scales = (scales,)
        try:
            values = tuple(float(s) for s in scales)
        except (TypeError, ValueError) as e:
            raise CalibrationError(f"TTA scales must be numbers above 0, got {scales!r}") from e
        if not values:
            raise CalibrationError("TTA scales must hold at least one scale (1.0: as is)")
        bad = [s for s in values if not np.isfinite(s) or s <= 0]
        if bad:
            raise CalibrationError(
                f"TTA scales must be finite numbers above 0 (times the input size), got {bad}"
            )
        if not isinstance(self.flip, (bool, np.bool_)):
            raise CalibrationError(f"TTA flip must be True or False, got {self.flip!r}")
        object.__setattr__(self, "scales", values)
        object.__setattr__(self, "flip", bool(self.flip))

    @property
    def forward_passes(self) -> int:
        """Predictions averaged per photo: ``len(scales) * (2 if flip else 1)``."""
        return len(self.scales) * (2 if self.flip else 1)

    def sizes(self, input_size: tuple[int, int]) -> list:
        """``(height, width)`` of each scale for a model taking ``input_size``."""
        height, width = (int(v) for v in input_size)
        multiple = TTA_MAX_MULTIPLE
        while multiple > 1 and (height % multiple or width % multiple):
            multiple //= 2

        def side(length: int, scale: float) -> int:  # nearest multiple, halves rounded up
            return max(multiple, int(np.floor(length * scale / multiple + 0.5)) * multiple)

        return [(side(height, s), side(width, s)) for s in self.scales]


def _check_tta(tta) -> TTA | None:
    if tta is None or tta is False:
        return None
    if tta is True:
        return TTA()
    if isinstance(tta, TTA):
        return tta
    raise CalibrationError(
        f"tta must be True (flip and scales 0.75, 1.0, 1.25), False/None (off) or "
        f"seglib.inference.TTA(scales=..., flip=...), got {tta!r}"
    )


def _free_input_sizes(config):
    """A model config with every 4-D input's height and width set to None (any size)."""
    if isinstance(config, dict):
        return {
            key: [value[0], None, None, value[3]]
            if key == "batch_shape" and isinstance(value, (list, tuple)) and len(value) == 4
            else _free_input_sizes(value)
            for key, value in config.items()
        }
    if isinstance(config, list):
        return [_free_input_sizes(value) for value in config]
    return config


def _any_size(model: keras.Model, size: tuple[int, int], label: str) -> keras.Model:
    """``model``, or a copy with the same (current) weights that accepts inputs of ``size``.

    Keras refuses inputs of another size than a model was built for, even when every layer
    is a convolution that would take them. The copy is rebuilt from the model's config
    with the input sizes left open, built once per model; its weights are copied from the
    model at each call, so a model trained further is followed.
    """
    declared = tuple(model.inputs[0].shape[1:3])
    if all(d is None or d == s for d, s in zip(declared, size, strict=True)):
        return model
    twin = _ANY_SIZE_TWINS.get(model)
    if twin is None:
        try:
            twin = model.__class__.from_config(_free_input_sizes(model.get_config()))
        except Exception as e:  # Keras raises many types for configs it cannot rebuild
            raise ModelError(
                f"{label}: the model only takes {declared[0]}x{declared[1]} inputs and cannot "
                f"be rebuilt for other sizes ({type(e).__name__}: {e}); use "
                "TTA(scales=(1.0,)) for the flip alone"
            ) from e
        _ANY_SIZE_TWINS[model] = twin
    twin.set_weights(model.get_weights())
    return twin


def predict_tta(model, rgb: np.ndarray, input_size, tta: TTA | None = None, temperature=1.0):
    """Probabilities of one photo averaged over test-time augmentations, at its own size.

    For each scale of ``tta`` (and each mirror image when ``tta.flip``): preprocess the
    photo as in training to that scale's size (:meth:`TTA.sizes`), predict logits, mirror
    them back, resize them bilinearly to the photo's size, divide by ``temperature`` and
    take the softmax; then average the probabilities of all passes. Averaging
    probabilities (not logits) is the usual ensemble of predictions (as in mmsegmentation's
    TTA); the resize of logits before the softmax is :func:`segment`'s. ``TTA((1.0,),
    flip=False)`` with temperature 1 gives :func:`segment`'s plain probabilities.

    Cost: ``tta.forward_passes`` model calls (the mirror image goes in the same batch as
    the photo), each at ``s**2`` times the pixels of one at scale 1, plus a resize and a
    softmax at the photo's size per pass.

    Args:
        model: a Keras model passing :func:`check_model`.
        rgb: uint8 ``[H, W, 3]``, RGB 0..255 (as :func:`load_image` gives).
        input_size: ``(height, width)`` of scale 1.0.
        tta: a :class:`TTA`; None means ``TTA()`` (the default flip and scales).
        temperature: ``T > 0`` the logits are divided by.

    Returns:
        float32 ``[H, W, C]`` in [0, 1], summing to 1 over the classes.

    Raises:
        CalibrationError: bad ``tta`` or ``temperature``. ModelError: the model cannot run
            at a scale's size.
    """
    tta = TTA() if tta is None else _check_tta(tta)
    temperature = check_temperature(temperature)
    rgb = np.asarray(rgb)
    height, width = rgb.shape[:2]
    base = (int(input_size[0]), int(input_size[1]))
    label = getattr(model, "name", "<model>")
    total = None
    for scale, size in zip(tta.scales, tta.sizes(base), strict=True):
        x = to_model_input(rgb, base if scale == 1.0 else size)[None]
        batch = np.concatenate([x, x[:, :, ::-1]]) if tta.flip else x
        runner = _any_size(model, batch.shape[1:3], label)
        try:
            logits = tf.convert_to_tensor(runner(batch, training=False))
        except Exception as e:  # a model whose layers need its own input size
            raise ModelError(
                f"{label}: cannot predict at {batch.shape[2]}x{batch.shape[1]} px (TTA scale "
                f"{scale:g}): {type(e).__name__}: {e}"
            ) from e
        for i in range(batch.shape[0]):
            one = logits[i : i + 1] if i == 0 else tf.reverse(logits[i : i + 1], axis=[2])
            one = tf.image.resize(one, (height, width), method="bilinear", antialias=True)[0]
            if temperature != 1.0:
                one = one / temperature
            probabilities = tf.nn.softmax(one, axis=-1)
            total = probabilities if total is None else total + probabilities
    return (total / tta.forward_passes).numpy().astype(np.float32)


def calibration_path(model_path: str | os.PathLike) -> Path:
    """Where the temperature of the model file ``model_path`` is kept:
    ``models/pets.keras`` -> ``models/pets.calibration.json``."""
    return Path(model_path).expanduser().with_suffix(CALIBRATION_SUFFIX)


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def save_temperature(
    model_path: str | os.PathLike, temperature: float, *, fitted_on: str = ""
) -> Path:
    """Keep a fitted temperature beside a saved model, in :func:`calibration_path`.

    The JSON file records the temperature, what it was fitted on (``fitted_on``, e.g.
    ``"validation split, 120 photos"``) and the SHA-256 of the model file, so that a model
    saved again after more training does not silently get a temperature fitted for its
    old weights (:func:`load_temperature` then ignores it, with a warning). The file is
    written to a temporary name in the same folder and renamed when complete, so a reader
    sees the previous file or the new one, never half of one; an earlier temperature of the
    same model is replaced.

    Args:
        model_path: the saved model (``.keras``); it must exist.
        temperature: ``T``, a finite number above 0 (:func:`seglib.metrics.fit_temperature`).
        fitted_on: a note on the data the temperature was fitted on.

    Returns:
        The path of the JSON file.

    Raises:
        ModelError: the model file does not exist. CalibrationError: a bad temperature.
    """
    temperature = check_temperature(temperature)
    model_path = Path(model_path).expanduser()
    if not model_path.is_file():
        raise ModelError(f"{model_path}: model file not found (save the model first)")
    target = calibration_path(model_path)
    record = {
        "temperature": temperature,
        "method": "temperature scaling: probabilities = softmax(logits / temperature)",
        "fitted_on": str(fitted_on),
        "model_file": model_path.name,
        "model_sha256": _file_sha256(model_path),
    }
    partial = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(partial, "x") as f:  # a new file, with the usual permissions
            json.dump(record, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def load_temperature(model_path: str | os.PathLike) -> float | None:
    """The temperature saved beside ``model_path`` by :func:`save_temperature`, or None.

    None when there is no such file, and (with a warning) when the model file changed since
    the temperature was fitted (its SHA-256 differs): a temperature fits one set of weights.

    Raises:
        CalibrationError: the file exists but is not readable JSON, has no temperature, or
            holds one that is not a finite number above 0 (names the file).
    """
    model_path = Path(model_path).expanduser()
    path = calibration_path(model_path)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CalibrationError(
            f"{path}: cannot read the saved temperature ({e}); delete the file to use the "
            "model uncalibrated, or save it again with save_temperature"
        ) from e
    if not isinstance(record, dict) or "temperature" not in record:
        raise CalibrationError(f"{path}: no 'temperature' in the file; delete or save it again")
    temperature = check_temperature(record["temperature"], f"{path}: temperature")
    expected = record.get("model_sha256")
    if expected and model_path.is_file() and _file_sha256(model_path) != expected:
        warnings.warn(
            f"{path}: this temperature was fitted for another version of {model_path.name} "
            "(the file changed since); it is not applied. Fit and save it again.",
            stacklevel=2,
        )
        return None
    return temperature


def model_temperature(model) -> float | None:
    """The temperature :func:`load_model` found beside ``model``'s file, or None."""
    try:
        return _MODEL_TEMPERATURES.get(model)
    except TypeError:  # not weak-referenceable: not a model load_model returned
        return None


# ---------------------------------------------------------------------------
# Cut-outs and files
# ---------------------------------------------------------------------------


def _class_ids(classes: Iterable[str | int]) -> list[int]:
    ids = []
    for c in [classes] if isinstance(classes, (str, int)) else classes:
        if isinstance(c, str):
            if c not in CLASS_NAMES:
                raise ValueError(f"unknown class {c!r}; the classes are {CLASS_NAMES}")
            ids.append(CLASS_NAMES.index(c))
        elif 0 <= int(c) < NUM_CLASSES:
            ids.append(int(c))
        else:
            raise ValueError(f"class id {c} is outside 0..{NUM_CLASSES - 1}")
    return ids


def _as_uint8_rgb(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {image.shape}")
    if image.dtype == np.uint8:
        return image
    return np.clip(np.round(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.uint8)


def remove_background(image, mask, classes: Sequence[str | int] = ("pet",)) -> np.ndarray:
    """Cut the pet out of a photo: an RGBA image, transparent wherever the mask is not kept.

    Args:
        image: ``[H, W, 3]`` RGB, uint8 0..255 or float in [0, 1].
        mask: labels ``[H, W]`` or ``[H, W, 1]`` (0 pet, 1 background, 2 border).
        classes: the classes that count as the pet, by name or label: ``("pet",)`` gives a
            tight cut-out, ``("pet", "border")`` keeps the uncertain band along the outline
            too (a looser cut that keeps whiskers and fur tips, and some background).

    Returns:
        uint8 ``[H, W, 4]``: the photo's RGB and alpha 255 on kept pixels, 0 elsewhere.

    Raises:
        ValueError: shapes differ, the image is not ``[H, W, 3]``, or a class is unknown.
    """
    rgb = _as_uint8_rgb(image)
    labels = np.asarray(mask)
    labels = labels[..., 0] if labels.ndim == 3 else labels
    if labels.shape != rgb.shape[:2]:
        raise ValueError(f"mask is {labels.shape} but the image is {rgb.shape[:2]}")
    alpha = np.isin(labels, _class_ids(classes)).astype(np.uint8) * 255
    return np.dstack([rgb, alpha])


def mask_image(mask) -> Image.Image:
    """A label mask as a palette PNG image: pixel values are the labels, shown in class colours.

    ``np.asarray(Image.open(path))`` gives the labels 0 pet, 1 background, 2 border back
    exactly, while any image viewer shows them in :data:`seglib.viz.CLASS_COLORS`.
    """
    from seglib.viz import CLASS_COLORS

    labels = np.asarray(mask)
    labels = labels[..., 0] if labels.ndim == 3 else labels
    im = Image.fromarray(labels.astype(np.uint8), mode="L").convert("P")
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(CLASS_COLORS)] = np.round(np.asarray(CLASS_COLORS) * 255).astype(np.uint8)
    im.putpalette(palette.ravel().tolist())
    return im


def _safe_stem(stem: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(stem)).stem).strip("._")
    return stem or "image"


def save_outputs(
    result,
    out_dir: str | os.PathLike,
    stem: str | None = None,
    *,
    mask=None,
    classes: Sequence[str | int] = ("pet",),
) -> dict:
    """Write the mask, an overlay and the cut-out of one photo as PNGs; never overwrite.

    Files, in ``out_dir`` (created):

    * ``<stem>_mask.png``: a **label PNG** with a palette: its pixel values are the labels
      0 pet, 1 background, 2 border (read back exactly with ``np.asarray(Image.open(p))``)
      and viewers show them in the course's class colours;
    * ``<stem>_overlay.png``: the photo with the class colours blended over it (RGB);
    * ``<stem>_cutout.png``: :func:`remove_background` with ``classes`` (RGBA).

    If any of the three names exists already, the set is written as ``<stem>-2_*``,
    ``<stem>-3_*``, ... (the first free number), so saving twice keeps both. All or
    nothing: the three files are written under temporary names first (``.<stem>_*.part``)
    and given their names only when all are complete, by hard links, which never replace
    a file; on any error (a full disk, say) what was written is removed and the error
    names the file and the reason.

    Args:
        result: a :class:`Segmentation`, or an RGB image ``[H, W, 3]`` with ``mask=``.
        out_dir: output folder. stem: base name; default the photo's file name without
            suffix (``image`` for in-memory input); unsafe characters become ``_``.
        mask: labels ``[H, W]`` when ``result`` is an image.
        classes: classes kept in the cut-out (see :func:`remove_background`).

    Returns:
        ``{"mask": Path, "overlay": Path, "cutout": Path}``.

    Raises:
        ValueError: no mask, or the image and mask differ in size.
        ImageError: the mask holds values other than 0, 1, 2.
        OutputError: ``out_dir`` is a file or cannot be created, or a file cannot be
            written (disk full, no permission); nothing of the set is left behind.
    """
    from seglib.viz import overlay

    if isinstance(result, Segmentation):
        image, labels = result.image, result.mask
        default_stem = "image" if result.name.startswith("<") else result.name
    else:
        if mask is None:
            raise ValueError("save_outputs needs mask= when given an image, not a Segmentation")
        image, labels, default_stem = _as_uint8_rgb(result), np.asarray(mask), "image"
    stem = _safe_stem(stem if stem is not None else default_stem)
    _check_labels(labels)
    cutout = remove_background(image, labels, classes)
    blended = np.clip(np.round(overlay(image, labels) * 255), 0, 255).astype(np.uint8)
    pictures = {
        "mask": mask_image(labels),
        "overlay": Image.fromarray(blended, mode="RGB"),
        "cutout": Image.fromarray(cutout, mode="RGBA"),
    }
    return _write_set(pictures, Path(out_dir).expanduser(), stem)


def _check_labels(labels: np.ndarray) -> None:
    """Refuse a mask holding anything but the labels 0..NUM_CLASSES-1 (names the values)."""
    values = np.unique(labels)
    integral = np.issubdtype(values.dtype, np.integer) or (
        np.issubdtype(values.dtype, np.floating)
        and np.isfinite(values).all()
        and (values == np.round(values)).all()
    )
    bad = values if not integral else values[(values < 0) | (values >= NUM_CLASSES)]
    if bad.size:
        shown = ", ".join(str(v) for v in bad[:6])
        raise ImageError(
            f"mask: labels must be 0 (pet), 1 (background) or 2 (border); found {shown}"
        )


def _place(temporary: Path, path: Path) -> bool:
    """Give ``temporary`` the name ``path`` unless ``path`` exists (FileExistsError).

    A hard link is atomic and never replaces; where the file system has none (some
    network and FAT drives), a rename after checking. Returns True for a link.
    """
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        raise
    except OSError:
        if path.exists() or path.is_symlink():
            raise FileExistsError(path) from None
        os.rename(temporary, path)
        return False


def _write_set(pictures: dict, out_dir: Path, stem: str) -> dict:
    """Write ``{kind: PIL image}`` as ``<stem>[-N]_<kind>.png``: all of them or none."""
    from seglib.errors import OutputError

    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: is a file, not a folder; give save_outputs a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot create the folder ({e.strerror or e})") from e
    temporary = {}
    try:
        try:  # 1. every file under a temporary name ...
            for kind, picture in pictures.items():
                target = out_dir / f"{stem}_{kind}.png"
                handle, name = tempfile.mkstemp(
                    prefix=f".{stem}_{kind}-", suffix=".part", dir=out_dir
                )
                temporary[kind] = Path(name)
                with os.fdopen(handle, "wb") as f:
                    picture.save(f, format="PNG")
        except OSError as e:
            raise OutputError(
                f"{target}: could not be written ({e.strerror or e}); nothing of this set was kept"
            ) from e
        number = 1
        while True:  # 2. ... then the first free set of names, never replacing a file
            name = stem if number == 1 else f"{stem}-{number}"
            paths = {kind: out_dir / f"{name}_{kind}.png" for kind in pictures}
            placed = []
            try:
                for kind, path in paths.items():
                    placed.append((path, _place(temporary[kind], path), temporary[kind]))
                return paths
            except FileExistsError:
                pass
            except OSError as e:
                raise OutputError(f"{path}: could not be written ({e.strerror or e})") from e
            finally:
                if len(placed) < len(paths):  # undo a partial set
                    for path, linked, source in placed:
                        if linked:
                            path.unlink(missing_ok=True)
                        else:
                            os.rename(path, source)
            number += 1
    finally:
        for path in temporary.values():
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------
# Bringing photos in: folders and upload widgets
# ---------------------------------------------------------------------------


def list_images(folder: str | os.PathLike, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> list:
    """The files in ``folder`` (not recursive) whose suffix is in ``suffixes``, sorted by name.

    Raises:
        ImageError: the folder does not exist or is a file.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ImageError(f"{folder}: folder not found")
    wanted = {s.lower() for s in suffixes}
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in wanted)


def uploaded_files(value) -> list:
    """``(name, bytes)`` pairs from an ipywidgets ``FileUpload.value``.

    Handles both ipywidgets 8 (a tuple of dicts with ``name`` and ``content``, a
    memoryview) and ipywidgets 7, which Colab ships (a dict ``{name: {"content": bytes}}``).
    Nothing uploaded gives ``[]``.
    """
    if not value:
        return []
    if isinstance(value, dict):  # ipywidgets 7
        return [(str(n), bytes(v["content"])) for n, v in value.items()]
    return [(str(f["name"]), bytes(f["content"])) for f in value]


def show_result(
    result: Segmentation, classes: Sequence[str | int] = ("pet",), title=None, unsure=None
):
    """Photo | mask overlay | cut-out side by side, with the class legend.

    ``unsure``, a confidence threshold in (0, 1] (e.g. 0.8), adds a fourth panel: the
    photo in grey with the pixels whose confidence is below it in yellow
    (:meth:`Segmentation.unsure`, :func:`seglib.viz.unsure_overlay`). All panels stay in
    one figure.

    The cut-out is drawn over a grey checkerboard, so transparent pixels are visible as such.
    ``title`` replaces the photo's file name above the first panel. Photos larger than
    about 1600 px are drawn subsampled (the saved files keep every pixel).

    Returns:
        The matplotlib figure.

    Raises:
        CalibrationError: ``unsure`` is not a number in (0, 1].
    """
    from seglib.viz import add_legend, overlay, set_alt_text, unsure_overlay

    import matplotlib.pyplot as plt

    height, width = result.shape
    step = max(1, max(height, width) // 1600)  # a screen needs no more than ~1600 px
    image, mask = result.image[::step, ::step], result.mask[::step, ::step]
    cutout = remove_background(image, mask, classes)
    tile = max(4, min(cutout.shape[:2]) // 16)
    rows = np.arange(cutout.shape[0])[:, None] // tile
    cols = np.arange(cutout.shape[1])[None, :] // tile
    checker = np.where(((rows + cols) % 2)[..., None] == 0, 0.85, 0.65)
    alpha = cutout[..., 3:4] / 255.0
    cutout_view = cutout[..., :3] / 255.0 * alpha + checker * (1 - alpha)
    doubtful = None if unsure is None else result.unsure(unsure)
    scale = min(max(width / height, 0.6), 2.0)
    columns = 3 if doubtful is None else 4
    fig, axes = plt.subplots(1, columns, figsize=(columns * 3.2 * scale, 3.6))
    kept = " + ".join(CLASS_NAMES[k] for k in _class_ids(classes))
    name = title if title is not None else Path(result.name).name
    panels = [
        (image, f"{name} ({width}×{height} px)"),
        (overlay(image, mask), "mask overlay"),
        (cutout_view, f"cut-out ({kept})"),
    ]
    if doubtful is not None:
        picture = unsure_overlay(image, doubtful[::step, ::step])
        panels.append((picture, f"unsure (yellow): confidence < {unsure:g}"))
    for ax, (picture, text) in zip(axes, panels, strict=True):
        ax.imshow(np.clip(picture, 0, 1) if picture.dtype != np.uint8 else picture)
        ax.set_title(text)
        ax.axis("off")
    add_legend(fig)
    set_alt_text(
        fig,
        f"{name} ({width}×{height} px), its predicted mask blended over it, and the cut-out "
        f"keeping {kept}; pet {np.mean(result.mask == 0):.0%} of the pixels"
        + (
            ""
            if doubtful is None
            else f"; unsure (confidence below {unsure:g}) in yellow, {doubtful.mean():.0%}"
        ),
    )
    return fig
