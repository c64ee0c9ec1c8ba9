"""Segmenting your own photos: photos in, masks, cut-outs and files out (the top layer).

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
   (default :data:`~seglib.images.DEFAULT_MAX_PIXELS`, 50 megapixels, more than a 48-megapixel phone
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
validation split (:func:`seglib.calibration.fit_temperature`) and saved beside the model with
:func:`save_temperature` makes those probabilities calibrated; :func:`load_model` and
:func:`segment` apply it without changing the mask. ``segment(..., tta=True)`` averages
the probabilities of flipped and rescaled copies of the photo (test-time augmentation):
6 forward passes instead of 1.

The work is shared with two lower modules: :mod:`seglib.images` decodes and checks photos
(steps 1 to 4) and :mod:`seglib.predict` predicts (steps 5 and 6, TTA, temperature); this
module adds the model files, the saved temperature, cut-outs and safe saving. ``TTA``,
``load_image``, ``check_model``, ``model_input_size``, ``model_stride`` and
``DEFAULT_MAX_PIXELS`` stay importable from here.

Every bad input raises :class:`~seglib.errors.ImageError` (or
:class:`~seglib.errors.ModelError` for the model) with a message that starts with the
file name (``<bytes>``, ``<array>`` or ``name=`` for in-memory input) and says what is
wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
import warnings
import weakref
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from seglib.data import CLASS_NAMES, NUM_CLASSES
from seglib.errors import CalibrationError, ImageError, ModelError
from seglib.files import new_temporary_file
from seglib.images import DEFAULT_MAX_PIXELS, _expand_path, _label, load_image
from seglib.predict import (
    TTA,
    _check_input_size,
    _check_tta,
    check_model,
    check_temperature,
    model_input_size,
    model_stride,
    predict_photo,
)

import keras
import numpy as np
from PIL import Image

#: The names students use, those defined here and those kept importable from here.
__all__ = [
    "CALIBRATION_SUFFIX",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "Segmentation",
    "TTA",
    "calibration_path",
    "check_model",
    "list_images",
    "load_image",
    "load_model",
    "load_temperature",
    "mask_image",
    "model_input_size",
    "model_stride",
    "model_temperature",
    "remove_background",
    "save_outputs",
    "save_temperature",
    "segment",
    "show_result",
    "uploaded_files",
]

#: File suffixes that :func:`list_images` picks up (decoding still goes by content).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic")


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
        tta: the :class:`~seglib.predict.TTA` whose predictions were averaged, or None (one prediction).
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


def _describe_file(path: Path) -> str:
    """'a JPEG image' when Pillow recognises the file, else 'not one'."""
    try:
        with Image.open(path) as im:
            return f"a {im.format} image"
    except Exception:
        return "not one"


#: Largest ``config.json`` (or ``metadata.json``) accepted in a ``.keras`` archive: 32 MiB.
#: The course's models need under 1 MiB; a crafted archive can unpack to gigabytes.
MAX_MODEL_CONFIG_BYTES = 32 * 1024 * 1024
#: Largest total that a ``.keras`` archive may declare unpacked: 4 GiB.
MAX_MODEL_ARCHIVE_BYTES = 4 * 1024**3


def _check_model_archive(path: Path) -> None:
    """Refuse a ``.keras`` archive whose parts unpack to implausible sizes, before Keras
    reads it into memory: the declared sizes first, then ``config.json`` and
    ``metadata.json`` read in pieces, stopping at :data:`MAX_MODEL_CONFIG_BYTES` (a zip
    entry's declared size can lie)."""
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
            if declared > MAX_MODEL_ARCHIVE_BYTES:
                raise ModelError(
                    f"{path}: the archive declares {declared / 1024**3:.1f} GiB unpacked, more "
                    f"than a segmentation model needs (limit {MAX_MODEL_ARCHIVE_BYTES / 1024**3:.0f}"
                    " GiB); it is damaged or made to exhaust memory"
                )
            names = set(archive.namelist())
            for name in ("config.json", "metadata.json"):
                if name not in names:
                    continue
                read = 0
                with archive.open(name) as member:
                    while chunk := member.read(1 << 20):
                        read += len(chunk)
                        if read > MAX_MODEL_CONFIG_BYTES:
                            raise ModelError(
                                f"{path}: its {name} unpacks to more than "
                                f"{MAX_MODEL_CONFIG_BYTES // 1024**2} MiB (a model's is under "
                                "1 MiB); the file is damaged or made to exhaust memory, and was "
                                "not loaded"
                            )
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
        raise ModelError(
            f"{path}: not a loadable Keras model (a broken zip archive: {e}). Save models with "
            "model.save('name.keras')."
        ) from e


def load_model(path: str | os.PathLike, num_classes: int = NUM_CLASSES) -> keras.Model:
    """Load a saved segmentation model (``.keras``, as notebook 02 writes) and check it.

    Loads with ``compile=False`` (inference needs no optimizer) and Keras' default
    ``safe_mode`` (no arbitrary code from the file), then :func:`~seglib.predict.check_model`. A
    temperature saved beside the file (:func:`save_temperature`) is remembered for the
    model (:func:`model_temperature`), and :func:`segment` applies it.

    Returns:
        ``keras.Model`` taking float32 ``[B, H, W, 3]`` in [0, 1], returning logits
        ``[B, H, W, num_classes]``.

    Raises:
        ModelError: the file is missing, a folder, empty, not loadable by Keras, or not a
            segmentation model (see :func:`~seglib.predict.check_model`). The message names the file.
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
    is_zip = zipfile.is_zipfile(path)
    if path.suffix == ".keras" and not is_zip:
        raise ModelError(
            f"{path}: not a Keras model: a .keras file is a zip archive, and this file is "
            f"{_describe_file(path)}. Save models with model.save('name.keras')."
        )
    if path.suffix in (".h5", ".hdf5") and is_zip:
        raise ModelError(
            f"{path}: this is a Keras 3 model archive (.keras, a zip file) with an .h5 name; "
            f"rename it to {path.with_suffix('.keras').name} and load that"
        )
    if is_zip:
        _check_model_archive(path)
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

    Decodes and preprocesses the photo as in training (:func:`~seglib.images.load_image`,
    :func:`~seglib.predict.to_model_input`), predicts logits at the model's input size, resizes the
    logits bilinearly to the photo's size, and returns their softmax and argmax. See the
    module docstring for why the logits and not the mask are resized (FCN, DeepLab).

    Memory: about 26 bytes per pixel of the photo at the peak, with or without TTA: the
    photo (3), its float copy for the resize to the model's input (12, briefly), the
    probabilities (12) and the mask (1); above 4 megapixels the logits are resized and
    turned into probabilities a strip of rows at a time (:mod:`seglib.predict`). Measured
    with ``python -m benchmarks.segment_memory`` (the 224 px MobileNetV2 U-Net, 2-core
    CPU): 12 MP (4000x3000) adds 273 MiB at the peak, 276 with TTA; 48 MP (8000x6000),
    near the default pixel limit of 50 MP, adds 1.25 GiB, 1.15 GiB with TTA (before the
    strips: 2.5 and 4.1 GiB). A file whose header declares more pixels than its data can
    hold is refused before decoding (:func:`~seglib.images.load_image`).

    Args:
        image: path, bytes, PIL image or array (see :func:`~seglib.images.load_image`).
        model: a model from :func:`load_model` (or any model passing
            :func:`~seglib.predict.check_model`), or the path of a saved one.
        name: what error messages and :attr:`Segmentation.name` call the input.
        max_pixels: pixel limit (decompression-bomb guard); None switches it off.
        input_size: side or ``(height, width)`` to resize to; None uses the model's input
            size (:func:`~seglib.predict.model_input_size`).
        tta: test-time augmentation, off by default. True uses :class:`~seglib.predict.TTA`'s default
            (the photo and its mirror image at 0.75, 1.0 and 1.25 times the input size:
            **6 forward passes** over 6.25 times the pixels of one: 3 to 5 times the time
            of ``tta=False`` as measured, see :class:`~seglib.predict.TTA`); a :class:`~seglib.predict.TTA` chooses the
            scales and the flip. The probabilities of all passes are averaged at the
            photo's size (see :func:`seglib.predict.predict_tta`).
        temperature: divide the logits by this ``T > 0`` before the softmax (calibrated
            probabilities; the mask does not change). None: the temperature saved beside
            the model file (:func:`save_temperature`), if any, else 1.

    Returns:
        :class:`Segmentation` with ``image`` uint8 ``[H, W, 3]``, ``mask`` uint8
        ``[H, W]`` (0 pet, 1 background, 2 border), ``probabilities`` float32
        ``[H, W, C]``, where ``H x W`` is the upright photo's size, and the ``uncertainty``
        map float32 ``[H, W]`` (1 - the chosen class's probability).

    Raises:
        ImageError: see :func:`~seglib.images.load_image`. ModelError: see :func:`load_model` and
            :func:`~seglib.predict.check_model`; an ``input_size`` the model cannot take (see
            :func:`~seglib.predict.model_stride`; the message lists the allowed sizes); or the model cannot
            run at a TTA scale's size.
        CalibrationError: ``tta`` is not True/False/None/:class:`~seglib.predict.TTA`, a scale is not
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
    probabilities = predict_photo(model, rgb, size, tta, temperature)
    mask = np.argmax(probabilities, axis=-1).astype(np.uint8)
    shape = (int(size[0]), int(size[1]))
    return Segmentation(rgb, mask, probabilities, label, shape, temperature, tta)


#: File beside a model that holds its temperature: ``pets.keras`` -> ``pets.calibration.json``.
CALIBRATION_SUFFIX = ".calibration.json"


# Temperatures of the models load_model loaded (keyed weakly: a model's entry goes with it).
_MODEL_TEMPERATURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
        temperature: ``T``, a finite number above 0 (:func:`seglib.calibration.fit_temperature`).
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
    """Class names or labels -> labels, checked (a float such as 1.5 is not a label)."""
    listed = [classes] if isinstance(classes, (str, int, np.integer)) else classes
    try:
        listed = list(listed)
    except TypeError:
        listed = [listed]
    ids = []
    for c in listed:
        if isinstance(c, str):
            if c not in CLASS_NAMES:
                raise ImageError(f"classes: unknown class {c!r}; the classes are {CLASS_NAMES}")
            ids.append(CLASS_NAMES.index(c))
        elif isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= int(c) < NUM_CLASSES:
                raise ImageError(f"classes: class id {c} is outside 0..{NUM_CLASSES - 1}")
            ids.append(int(c))
        else:
            raise ImageError(
                f"classes: {c!r} is not a class; give names {CLASS_NAMES} or labels "
                f"0..{NUM_CLASSES - 1}"
            )
    if not ids:
        raise ImageError("classes is empty: the cut-out would keep nothing; give e.g. ('pet',)")
    return ids


def _as_uint8_rgb(image, what: str = "image") -> np.ndarray:
    """A photo as uint8 ``[H, W, 3]``, read as :func:`~seglib.images.load_image` reads arrays:
    uint8 0..255, float in [0, 1] (a float photo in 0..255 is refused, not whitened),
    uint16, bool, grey ``[H, W]`` or RGBA; at least 1x1."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3:
        if image.shape[-1] == 3 and image.shape[0] and image.shape[1]:
            return image
    return load_image(image, name=what, max_pixels=None)


def _labels_of(mask, shape: tuple[int, int]) -> np.ndarray:
    """A mask as labels ``[H, W]``: ``[H, W]`` or ``[H, W, 1]`` labels as they are; a one-hot
    or probability mask ``[H, W, C]`` (C = the number of classes) by its argmax. Checked
    against the photo's ``shape``."""
    labels = np.asarray(mask)
    if labels.ndim == 3 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    elif labels.ndim == 3 and labels.shape[-1] == NUM_CLASSES:
        values = labels.astype(np.float64, copy=False)
        if not np.isfinite(values).all() or values.min(initial=0) < 0:
            raise ImageError(
                f"mask: a [H, W, {NUM_CLASSES}] mask must hold one-hot labels or probabilities "
                "(finite, 0 or more)"
            )
        labels = np.argmax(values, axis=-1).astype(np.uint8)
    if labels.ndim != 2:
        raise ImageError(
            f"mask: expected labels [H, W] or [H, W, 1], or one-hot [H, W, {NUM_CLASSES}], "
            f"got shape {np.shape(mask)}"
        )
    if labels.shape != tuple(shape):
        raise ImageError(
            f"mask: it is {labels.shape[1]}x{labels.shape[0]} but the photo is "
            f"{shape[1]}x{shape[0]} (width x height); give the mask of this photo"
        )
    return labels


def remove_background(image, mask, classes: Sequence[str | int] = ("pet",)) -> np.ndarray:
    """Cut the pet out of a photo: an RGBA image, transparent wherever the mask is not kept.

    Args:
        image: ``[H, W, 3]`` RGB, uint8 0..255 or float in [0, 1] (see
            :func:`~seglib.images.load_image` for the other arrays it takes).
        mask: labels ``[H, W]`` or ``[H, W, 1]`` (0 pet, 1 background, 2 border), or a
            one-hot / probability mask ``[H, W, 3]``, taken by its argmax.
        classes: the classes that count as the pet, by name or label: ``("pet",)`` gives a
            tight cut-out, ``("pet", "border")`` keeps the uncertain band along the outline
            too (a looser cut that keeps whiskers and fur tips, and some background).

    Returns:
        uint8 ``[H, W, 4]``: the photo's RGB and alpha 255 on kept pixels, 0 elsewhere.

    Raises:
        ImageError (a ValueError): the image is not a photo array (a float photo in 0..255,
            no pixels, ...), the mask's shape differs from the photo's, or ``classes`` holds
            an unknown name, a label outside 0..2 or a non-integer (``1.5``), or is empty.
    """
    rgb = _as_uint8_rgb(image)
    labels = _labels_of(mask, rgb.shape[:2])
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
        mask: labels ``[H, W]`` when ``result`` is an image (or a one-hot ``[H, W, 3]``
            mask, taken by its argmax, see :func:`remove_background`).
        classes: classes kept in the cut-out (see :func:`remove_background`).

    Returns:
        ``{"mask": Path, "overlay": Path, "cutout": Path}``.

    Raises:
        ValueError: no mask given with an image.
        ImageError: the image is not a photo (see :func:`remove_background`), the mask's
            shape differs from it, the mask holds values other than 0, 1, 2, or
            ``classes`` is bad.
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
        image, default_stem = _as_uint8_rgb(result), "image"
        labels = _labels_of(mask, image.shape[:2])
    stem = _safe_stem(stem if stem is not None else default_stem)
    _check_labels(labels)
    _class_ids(classes)  # before anything is drawn
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
                temporary[kind] = new_temporary_file(out_dir, f"{stem}_{kind}", ".part")
                with open(temporary[kind], "wb") as f:
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

    Raises:
        ImageError: ``value`` has neither shape (names what was found).
    """
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        return []
    hint = (
        "expected a FileUpload widget's .value: a tuple of {'name', 'content'} dicts "
        "(ipywidgets 8) or a dict {name: {'content': bytes}} (ipywidgets 7)"
    )
    try:
        if isinstance(value, dict):  # ipywidgets 7
            return [(str(n), bytes(v["content"])) for n, v in value.items()]
        return [(str(f["name"]), bytes(f["content"])) for f in value]
    except (KeyError, TypeError, ValueError) as e:
        raise ImageError(f"uploaded files: {hint}; got {type(value).__name__} ({e!r})") from e


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
