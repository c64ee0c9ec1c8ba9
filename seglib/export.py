"""Taking a trained segmenter out of the notebook: LiteRT files, quantization, a SavedModel.

Three ways out, one contract in (:mod:`seglib.models`: float32 ``[B, H, W, 3]`` in [0, 1]
in, logits ``[B, H, W, 3]`` out, checked by :func:`seglib.inference.check_model`):

* :func:`to_litert` writes a **LiteRT** flatbuffer (``.tflite``, the format formerly
  called TensorFlow Lite) for phones and small boards, in one of four forms
  (:data:`QUANTIZATIONS`):

  ``"float32"``
      weights and activations in float32, as in Keras;
  ``"float16"``
      weights stored as float16 (half the file); they are turned back into float32 when
      the file is loaded on a CPU, so the arithmetic is float32 (a GPU delegate can
      compute in float16);
  ``"dynamic_range"``
      weights stored as int8 with one scale per output channel (a quarter of the file);
      activations stay float, and the int8 kernels quantize them on the fly, per call;
  ``"int8"``
      **full-integer quantization**: weights int8 per channel, and every activation int8
      with a scale and zero point fixed ahead of time from a *representative dataset*
      (the converter runs the float model on it and records each tensor's range). Input
      and output tensors are int8 too; :class:`LiteRTModel` converts to and from float.
      The representative photos come from the **training** split, never from test: the
      calibration is part of building the model, and test must stay unseen.

  A value ``x`` quantized with scale ``s`` and zero point ``z`` is stored as
  ``q = clip(round(x / s) + z, -128, 127)`` and read back as ``s (q - z)``: 256 evenly
  spaced levels over the calibrated range. Sources: LiteRT's "Post-training
  quantization" guide (ai.google.dev/edge/litert/models/post_training_quantization);
  Jacob et al., "Quantization and Training of Neural Networks for Efficient
  Integer-Arithmetic-Only Inference", CVPR 2018.

* :func:`litert_predict` (and :class:`LiteRTModel`) runs such a file with the
  ``ai_edge_litert`` interpreter, the standalone LiteRT runtime (``tf.lite.Interpreter``
  is deprecated and warns on every use).

* :func:`serving_model` wraps the model in a ``tf.Module`` whose one signature takes an
  **encoded photo** (JPEG, PNG, GIF or BMP bytes, any size) and returns the uint8 mask at
  the photo's own size; decoding, resizing, scaling and the bilinear resize of the logits
  all run in the TensorFlow graph, so a SavedModel written by :func:`save_serving_model`
  works with TF Serving or a bare ``tf.saved_model.load`` and no seglib.

Every function refuses to overwrite: a path that exists raises :class:`~seglib.errors.ExportError`.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
import weakref
from collections.abc import Iterable
from pathlib import Path

from seglib import data
from seglib.config import quiet_stderr
from seglib.errors import ExportError
from seglib.images import DEFAULT_MAX_PIXELS
from seglib.predict import check_model, model_input_size

import keras
import numpy as np
import tensorflow as tf
from absl import logging as absl_logging
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

#: The forms :func:`to_litert` writes (see the module docstring).
QUANTIZATIONS = ("float32", "float16", "dynamic_range", "int8")
#: Training photos used to calibrate ``"int8"`` when ``calibration`` is not given.
DEFAULT_CALIBRATION_IMAGES = 100


# ---------------------------------------------------------------------------
# LiteRT
# ---------------------------------------------------------------------------


def _check_new_path(path: str | os.PathLike) -> Path:
    """``path`` for a new file or folder, checked before any work: it must not exist, and
    the nearest existing folder above it must be a folder (not a file) we may write in."""
    path = Path(path).expanduser()
    if path.exists() or path.is_symlink():
        raise ExportError(
            f"{path}: already exists; seglib.export never overwrites (pick a new name)"
        )
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ExportError(
            f"{path}: cannot be created: {parent} is a file, not a folder; pick a path in a folder"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"{path}: cannot be created: no permission to write in {parent}")
    return path


def _check_quantization(quantization: str) -> str:
    if quantization not in QUANTIZATIONS:
        raise ExportError(
            f"unknown quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}"
        )
    return quantization


def calibration_images(
    source=None,
    image_size: int | tuple[int, int] = 128,
    num_images: int = DEFAULT_CALIBRATION_IMAGES,
) -> tf.data.Dataset:
    """Training photos preprocessed for a model, for int8 calibration.

    Reads the **train** split of ``source`` (:func:`seglib.data.load`; None means
    ``SEGLIB_DATA``) and preprocesses each photo exactly as training does
    (:func:`seglib.data.preprocess_image`). Never the test split.

    Args:
        source: data source (``"tfds"``, ``"synthetic"`` or a folder); None: ``SEGLIB_DATA``.
        image_size: the model's input side, or ``(height, width)``.
        num_images: how many photos (the first ones in the split's order).

    Returns:
        ``tf.data.Dataset`` of float32 ``[H, W, 3]`` in [0, 1].

    Raises:
        DataError: the source cannot be read (see :func:`seglib.data.load`).
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    pairs = data.load("train", source).take(num_images)
    return pairs.map(lambda image, mask: data.preprocess_image(image, size))


def _representative(calibration, size: tuple[int, int]):
    """A LiteRT representative-dataset generator: lists of one float32 ``[1, H, W, 3]``."""

    def generate():
        count = 0
        for element in calibration:
            image = element[0] if isinstance(element, (tuple, list)) else element
            image = np.asarray(image, dtype=np.float32)
            batch = image[None] if image.ndim == 3 else image
            if batch.ndim != 4 or tuple(batch.shape[1:3]) != size or batch.shape[-1] != 3:
                raise ExportError(
                    f"calibration images must be float32 [H, W, 3] or [B, H, W, 3] at the "
                    f"model's size {size}, got shape {image.shape}"
                )
            for single in batch:
                count += 1
                finite = np.isfinite(single)
                low = float(single[finite].min()) if finite.any() else float("nan")
                high = float(single[finite].max()) if finite.any() else float("nan")
                if not finite.all() or low < 0.0 or high > 1.0:
                    problem = (
                        f"holds {int((~finite).sum())} NaN or infinite values"
                        if not finite.all()
                        else f"holds values {low:g}..{high:g}"
                    )
                    raise ExportError(
                        f"calibration image {count} (counting from 1) {problem}; calibration "
                        "images must be finite and in [0, 1], as the model takes them (for "
                        "0..255 photos use seglib.data.preprocess_image, or divide by 255)"
                    )
                yield [single[None]]
        if count == 0:
            raise ExportError("the calibration dataset is empty: int8 needs training photos")

    return generate


def litert_bytes(
    model: keras.Model,
    quantization: str = "float32",
    *,
    calibration: Iterable | None = None,
    source=None,
    num_calibration_images: int = DEFAULT_CALIBRATION_IMAGES,
) -> bytes:
    """Convert a segmentation model to a LiteRT flatbuffer in memory (see :func:`to_litert`).

    Returns:
        The ``.tflite`` content as bytes.
    """
    check_model(model)
    _check_quantization(quantization)
    height, width = model_input_size(model)
    # A frozen graph has no variables to track: the converter's trackable_obj stays unset,
    # and absl's notice about it is not for the reader.
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        graph = _frozen(model, height, width)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([graph])
    finally:
        absl_logging.set_verbosity(verbosity)
    return _convert(
        converter, quantization, calibration, source, num_calibration_images, (height, width)
    )


#: The last frozen graph: (weak reference to the model, fingerprint of its weights, graph).
_frozen_cache: list = []


def _fingerprint(model: keras.Model) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for weight in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(weight)).tobytes())
    return digest.hexdigest()


def _frozen(model: keras.Model, height: int, width: int):
    """The model at batch 1 as a graph with its weights folded in as constants.

    Batch 1 is the phone case, and a fixed shape lets the converter fold every shape op.
    Freezing takes seconds, so the last result is reused while the model's weights are
    unchanged (exporting the four forms freezes once).
    """
    fingerprint = _fingerprint(model)
    if _frozen_cache:
        ref, known, graph = _frozen_cache[0]
        if ref() is model and known == fingerprint:
            return graph
    spec = tf.TensorSpec([1, height, width, 3], tf.float32, name="image")
    function = tf.function(lambda image: model(image, training=False), input_signature=[spec])
    graph = convert_variables_to_constants_v2(function.get_concrete_function())
    _frozen_cache[:] = [(weakref.ref(model), fingerprint, graph)]
    return graph


def _convert(converter, quantization, calibration, source, num_calibration_images, size):
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        if calibration is None:
            calibration = calibration_images(source, size, num_calibration_images)
        converter.representative_dataset = _representative(calibration, size)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)  # not the trackable_obj deprecation notice
    try:
        with warnings.catch_warnings():
            # "Statistics for quantized inputs were expected": LiteRT calibrates the input too.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            with quiet_stderr():  # the converter's C++ "fully_quantize: ..." line
                return converter.convert()
    finally:
        absl_logging.set_verbosity(verbosity)


def to_litert(
    model: keras.Model,
    path: str | os.PathLike,
    quantization: str = "float32",
    *,
    calibration: Iterable | None = None,
    source=None,
    num_calibration_images: int = DEFAULT_CALIBRATION_IMAGES,
) -> Path:
    """Write a segmentation model as a LiteRT (``.tflite``) file, optionally quantized.

    The file takes one photo, ``[1, H, W, 3]`` at the model's input size, in [0, 1]
    (float32; int8 for ``"int8"``, see :class:`LiteRTModel`) and returns logits
    ``[1, H, W, 3]``. See the module docstring for the four forms.

    Args:
        model: a model passing :func:`seglib.inference.check_model`, with a fixed input
            size (``model.inputs[0].shape`` ``[None, H, W, 3]``).
        path: the new file (e.g. ``models/08_int8.tflite``); must not exist.
        quantization: one of :data:`QUANTIZATIONS`.
        calibration: for ``"int8"`` only: training images, float32 ``[H, W, 3]`` or
            batches ``[B, H, W, 3]`` in [0, 1] at the model's size, or ``(image, mask)``
            pairs of them (e.g. a training pipeline). Default: the first
            ``num_calibration_images`` photos of the train split of ``source``
            (:func:`calibration_images`). Never pass test photos.
        source: data source for the default calibration (None: ``SEGLIB_DATA``).
        num_calibration_images: photos in the default calibration.

    Returns:
        ``path`` as a ``Path``. Size on disk: ``path.stat().st_size`` bytes.

    Raises:
        ModelError: the model breaks the convention (:func:`~seglib.inference.check_model`).
        ExportError: ``path`` exists, ``quantization`` is unknown, or the calibration
            images are empty, of the wrong shape, or not finite values in [0, 1] (the
            message names the first bad image and the range found).
        DataError: the default calibration source cannot be read.
    """
    path = _check_new_path(path)
    content = litert_bytes(
        model,
        quantization,
        calibration=calibration,
        source=source,
        num_calibration_images=num_calibration_images,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as f:  # exclusive: never overwrites, even in a race
            f.write(content)
    except FileExistsError as e:
        raise ExportError(f"{path}: already exists; seglib.export never overwrites") from e
    return path


class LiteRTModel:
    """A ``.tflite`` segmenter loaded in the ``ai_edge_litert`` interpreter.

    Calling it takes float32 images in [0, 1] and returns float32 logits, whatever the
    file stores: for int8 files the input is quantized with the file's own scale and zero
    point (``q = round(x / s) + z``) and the output read back as ``s (q - z)``.

    Args:
        path: a file written by :func:`to_litert` (or any LiteRT model with one image
            input ``[1, H, W, 3]`` and one output ``[1, H, W, C]``).
        num_threads: CPU threads for the interpreter (None: LiteRT's default).
        use_xnnpack: False runs LiteRT's built-in kernels only, without the XNNPACK delegate
            it applies by default (to see how much of the speed is XNNPACK's).

    Attributes:
        input_size: ``(H, W)``. input_dtype, output_dtype: NumPy dtypes in the file.

    Raises:
        ExportError: the file is missing or not a LiteRT model.
    """

    def __init__(
        self, path: str | os.PathLike, num_threads: int | None = None, use_xnnpack: bool = True
    ):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = (
            OpResolverType.AUTO
            if use_xnnpack
            else (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        )

        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise ExportError(f"{self.path}: LiteRT model file not found")
        try:
            with quiet_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                self.interpreter = Interpreter(
                    model_path=str(self.path),
                    num_threads=num_threads,
                    experimental_op_resolver_type=resolver,
                )
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ExportError(f"{self.path}: not a loadable LiteRT model ({e})") from e
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.input_size = tuple(int(n) for n in self._input["shape"][1:3])
        self.input_dtype = np.dtype(self._input["dtype"])
        self.output_dtype = np.dtype(self._output["dtype"])

    def _quantize(self, image: np.ndarray) -> np.ndarray:
        if not np.issubdtype(self.input_dtype, np.integer):
            return image.astype(self.input_dtype)
        scale, zero_point = self._input["quantization"]
        info = np.iinfo(self.input_dtype)
        q = np.round(image / scale) + zero_point
        return np.clip(q, info.min, info.max).astype(self.input_dtype)

    def _dequantize(self, output: np.ndarray) -> np.ndarray:
        if not np.issubdtype(self.output_dtype, np.integer):
            return output.astype(np.float32)
        scale, zero_point = self._output["quantization"]
        return (scale * (output.astype(np.float32) - zero_point)).astype(np.float32)

    def __call__(self, images) -> np.ndarray:
        """Logits for a batch: float32 ``[B, H, W, 3]`` in [0, 1] -> float32 ``[B, H, W, C]``.

        The file takes one photo at a time; a batch runs photo by photo.

        Raises:
            ExportError: the images are not float (a uint8 batch in 0..255, say), not
                ``[B, H, W, 3]`` at the file's input size with ``B >= 1``, hold NaN or
                infinite values, or values outside [0, 1].
        """
        given = np.asarray(images) if not isinstance(images, np.ndarray) else images
        if not (np.issubdtype(given.dtype, np.floating) or given.dtype == np.bool_):
            raise ExportError(
                f"{self.path}: images must be float32 in [0, 1] (as the Keras model takes "
                f"them), got dtype {given.dtype}; for uint8 photos in 0..255 pass "
                "images.astype(np.float32) / 255"
            )
        try:
            images = np.asarray(given, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise ExportError(f"{self.path}: images must be a float array ({e})") from e
        if (
            images.ndim != 4
            or images.shape[0] == 0
            or tuple(images.shape[1:])
            != (
                *self.input_size,
                3,
            )
        ):
            raise ExportError(
                f"{self.path}: expected a batch of at least one image [B, {self.input_size[0]}, "
                f"{self.input_size[1]}, 3] in [0, 1], got shape {images.shape}"
            )
        if not np.isfinite(images).all():
            raise ExportError(
                f"{self.path}: the images hold {int((~np.isfinite(images)).sum())} NaN or "
                "infinite values; the model takes finite values in [0, 1]"
            )
        low, high = float(images.min()), float(images.max())
        if low < -1e-3 or high > 1.0 + 1e-3:  # resizing may overshoot by a rounding error
            raise ExportError(
                f"{self.path}: images must hold values in [0, 1], got {low:g}..{high:g}; for "
                "photos in 0..255 divide by 255 first"
            )
        outputs = []
        for image in images:
            self.interpreter.set_tensor(self._input["index"], self._quantize(image[None]))
            self.interpreter.invoke()
            outputs.append(self._dequantize(self.interpreter.get_tensor(self._output["index"])))
        return np.concatenate(outputs, axis=0)

    def predict_on_batch(self, images) -> np.ndarray:
        """The same as calling it, under Keras' name, so :func:`seglib.metrics.evaluate`
        scores a LiteRT file as it scores a Keras model."""
        return self(images)


def compare_latency(calls: dict, image, runs: int = 50, warmup: int = 3) -> dict:
    """Time several ways of segmenting one photo, taking turns, in milliseconds per call.

    Each round calls every function once, in turn, so a background job that slows the
    machine for a while slows every contender alike (timing one after the other would
    hand the slow stretch to whoever ran then). Report the median: one call hit by a
    context switch lands in the tail, not in the middle.

    Args:
        calls: ``{name: function}``; each takes ``image`` (e.g. a :class:`LiteRTModel`, or
            a ``tf.function`` around a Keras model).
        image: one batch of one photo, float32 ``[1, H, W, 3]`` in [0, 1].
        runs: timed rounds. warmup: untimed rounds first (graph tracing, allocation).

    Returns:
        ``{name: float64 array [runs]}`` of wall-clock milliseconds per call.
    """
    for _ in range(warmup):
        for call in calls.values():
            np.asarray(call(image))
    times = {name: np.empty(runs) for name in calls}
    for r in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            np.asarray(call(image))  # includes copying a tf.function's result out
            times[name][r] = 1000 * (time.perf_counter() - start)
    return times


def litert_predict(path: str | os.PathLike, images, num_threads: int | None = None) -> np.ndarray:
    """Run a LiteRT segmenter on a batch of images with the ``ai_edge_litert`` interpreter.

    Args:
        path: a ``.tflite`` file from :func:`to_litert`.
        images: float32 ``[B, H, W, 3]`` in [0, 1] at the file's input size (a batch from
            :func:`seglib.data.make_pipelines`).
        num_threads: CPU threads (None: LiteRT's default).

    Returns:
        float32 logits ``[B, H, W, C]`` (dequantized for int8 files); the mask is their
        ``argmax(-1)``. To time repeated calls, build one :class:`LiteRTModel` and call
        it (this function loads the file every time).

    Raises:
        ExportError: the file is missing or not a LiteRT model, or the images have the
            wrong shape.
    """
    return LiteRTModel(path, num_threads)(images)


# ---------------------------------------------------------------------------
# SavedModel for serving
# ---------------------------------------------------------------------------


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check(condition, *message):
    """An in-graph assertion whose message is the readable text ``message``."""
    return tf.debugging.Assert(condition, list(message), summarize=8)


def _uint(u8, start: int, count: int, big_endian: bool):
    """Unsigned integer of ``count`` bytes at ``start`` of a uint8 vector, as int64."""
    data = tf.cast(u8[start : start + count], tf.int64)
    order = range(count - 1, -1, -1) if big_endian else range(count)
    return tf.add_n([data[i] * (256**k) for k, i in enumerate(order)])


def _header_size(image_bytes, is_jpeg, is_png, is_gif):
    """``(width, height)`` int64 from the header, without decoding the pixels.

    JPEG: ``tf.io.extract_jpeg_shape`` (reads the SOF marker); PNG: the IHDR chunk (bytes
    16..23, big-endian); GIF: the logical screen (bytes 6..9, little-endian); BMP: bytes
    18..25 (little-endian, signed; the height is negative for top-down files).
    """
    head = tf.io.decode_raw(
        tf.strings.substr(tf.strings.join([image_bytes, b"\0" * 32]), 0, 32), tf.uint8
    )

    def jpeg():
        shape = tf.cast(tf.io.extract_jpeg_shape(image_bytes), tf.int64)
        return shape[1], shape[0]

    def png():
        return _uint(head, 16, 4, True), _uint(head, 20, 4, True)

    def gif():
        return _uint(head, 6, 2, False), _uint(head, 8, 2, False)

    def bmp():
        width, height = _uint(head, 18, 4, False), _uint(head, 22, 4, False)
        signed = tf.where(height >= 2**31, 2**32 - height, height)
        return width, signed

    return tf.case([(is_jpeg, jpeg), (is_png, png), (is_gif, gif)], default=bmp, exclusive=False)


def _jpeg_is_complete(image_bytes):
    """True when an end-of-image marker (FF D9) follows the last start-of-scan (FF DA).

    A JPEG cut short (an interrupted upload) has no end marker after its image data. Inside
    the entropy-coded data every FF byte is followed by 00 or a restart marker, so the last
    FF DA is the last scan, even with an EXIF thumbnail (a small JPEG) in the header.
    """
    u8 = tf.io.decode_raw(image_bytes, tf.uint8)
    ff = tf.equal(u8[:-1], 255)
    index = tf.range(tf.size(u8) - 1, dtype=tf.int32)
    sos = tf.reduce_max(tf.where(ff & tf.equal(u8[1:], 0xDA), index, -1))
    eoi = tf.reduce_max(tf.where(ff & tf.equal(u8[1:], 0xD9), index, -1))
    return eoi > sos


def _png_is_complete(image_bytes):
    """True when a PNG ends with its IEND chunk (a PNG cut short has none)."""
    tail = tf.strings.substr(image_bytes, tf.maximum(tf.strings.length(image_bytes) - 8, 0), 8)
    return tf.equal(tail, b"IEND\xaeB`\x82")


def _exif_orientation(image_bytes):
    """The EXIF orientation (tag 0x0112, 1..8) of a JPEG, as int64; 1 when there is none.

    Walks the JPEG's markers up to the first scan to find the APP1 ``Exif`` segment, then
    reads IFD0 of its TIFF block (either byte order), as ``PIL.ImageOps.exif_transpose``
    does. Every read is clipped to the file, so a damaged EXIF block gives 1, not an error.
    """
    u8 = tf.cast(tf.io.decode_raw(image_bytes, tf.uint8), tf.int64)
    n = tf.size(u8, out_type=tf.int64)

    def byte(i):
        return tf.gather(u8, tf.clip_by_value(i, 0, tf.maximum(n - 1, 0)))

    def u16(i, big):
        return tf.where(big, byte(i) * 256 + byte(i + 1), byte(i) + byte(i + 1) * 256)

    def u32(i, big):
        return tf.where(
            big, u16(i, big) * 65536 + u16(i + 2, big), u16(i, big) + u16(i + 2, big) * 65536
        )

    def more(pos, found, steps):
        at_marker = tf.equal(byte(pos), 255) & tf.not_equal(byte(pos + 1), 0xDA)
        return (found < 0) & (pos + 4 <= n) & (steps < 64) & at_marker

    def step(pos, found, steps):
        exif = tf.equal(byte(pos + 1), 0xE1)
        for k, char in enumerate(b"Exif"):
            exif = exif & tf.equal(byte(pos + 4 + k), char)
        found = tf.where(exif, pos + 10, found)
        return pos + 2 + byte(pos + 2) * 256 + byte(pos + 3), found, steps + 1

    start = (tf.constant(2, tf.int64), tf.constant(-1, tf.int64), tf.constant(0, tf.int64))
    _, tiff, _ = tf.while_loop(more, step, start)
    big = tf.equal(byte(tiff), ord("M"))
    ifd = tiff + u32(tiff + 4, big)
    k = tf.range(64, dtype=tf.int64)
    entry = ifd + 2 + 12 * k
    match = (k < u16(ifd, big)) & (entry + 12 <= n) & tf.equal(u16(entry, big), 0x0112)
    orientation = tf.reduce_max(tf.where(match, u16(entry + 8, big), 0))
    valid = (tiff >= 0) & (orientation >= 1) & (orientation <= 8)
    return tf.where(valid, orientation, 1)


def _upright(image, orientation):
    """Turn ``[H, W, C]`` upright by an EXIF orientation, as ``PIL.ImageOps.exif_transpose``."""
    transposed = lambda: tf.transpose(image, [1, 0, 2])  # noqa: E731
    return tf.switch_case(
        tf.cast(orientation - 1, tf.int32),
        [
            lambda: image,  # 1: upright
            lambda: image[:, ::-1],  # 2: mirrored
            lambda: image[::-1, ::-1],  # 3: rotated 180
            lambda: image[::-1],  # 4: flipped
            transposed,  # 5: transposed
            lambda: tf.image.rot90(image, k=3),  # 6: Pillow's ROTATE_270
            lambda: transposed()[::-1, ::-1],  # 7: transverse
            lambda: tf.image.rot90(image, k=1),  # 8: Pillow's ROTATE_90
        ],
    )


def _composite_over_white(rgba):
    """uint8 ``[H, W, 4]`` -> uint8 ``[H, W, 3]``, as :mod:`seglib.inference` composites."""
    alpha = tf.cast(rgba[..., 3:], tf.float32) / 255.0
    blended = tf.cast(rgba[..., :3], tf.float32) * alpha + 255.0 * (1.0 - alpha)
    return tf.cast(tf.clip_by_value(tf.round(blended), 0, 255), tf.uint8)


def _decode_png(image_bytes):
    """PNG -> RGB uint8 as :func:`seglib.inference.load_image` gives it: 16 bits scaled by
    255/65535 and rounded, transparency composited over white."""
    wide = tf.cast(tf.io.decode_png(image_bytes, channels=4, dtype=tf.uint16), tf.float32)
    rgba = tf.cast(tf.round(wide * (255.0 / 65535.0)), tf.uint8)
    return _composite_over_white(rgba)


class _Segmenter(tf.Module):
    def __init__(self, model: keras.Model, size: tuple[int, int], max_pixels: int):
        super().__init__(name="segmenter")
        self.model = model
        self.size = size
        self.max_pixels = int(max_pixels)

    @tf.function(input_signature=[tf.TensorSpec(None, tf.string, name="image_bytes")])
    def serve(self, image_bytes):
        # Readable refusals first (in-graph assertions): one photo, not empty, a known
        # format, not over the pixel limit (from the header, before decoding), not cut short.
        shape = tf.shape(image_bytes)
        checks = [
            _check(
                tf.equal(tf.size(image_bytes), 1),
                "image_bytes must be ONE encoded photo (a scalar string); got a tensor of shape",
                shape,
                "- send one photo per call",
            )
        ]
        with tf.control_dependencies(checks):
            image_bytes = tf.reshape(image_bytes, [])
        length = tf.strings.length(image_bytes)
        with tf.control_dependencies(
            [_check(length > 0, "image_bytes is empty (0 bytes): no photo was sent")]
        ):  # every later op reads the bytes through this identity: the checks run first
            image_bytes = tf.identity(image_bytes)
        is_jpeg = tf.io.is_jpeg(image_bytes)
        is_png = tf.equal(tf.strings.substr(image_bytes, 0, 8, "BYTE"), _PNG_SIGNATURE)
        is_gif = tf.equal(tf.strings.substr(image_bytes, 0, 4, "BYTE"), b"GIF8")
        # "BM" and a known DIB header size (12, 40, 52, 56, 64, 108 or 124 bytes at offset
        # 14), so that text that happens to start with "BM" is not read as a bitmap.
        dib = tf.io.decode_raw(
            tf.strings.substr(tf.strings.join([image_bytes, b"\0" * 18]), 14, 4, "BYTE"),
            tf.uint8,
        )
        dib_size = tf.reduce_sum(
            tf.cast(dib, tf.int64) * tf.constant([1, 256, 65536, 16777216], tf.int64)
        )
        is_bmp = tf.equal(tf.strings.substr(image_bytes, 0, 2, "BYTE"), b"BM") & tf.reduce_any(
            tf.equal(dib_size, tf.constant([12, 40, 52, 56, 64, 108, 124], tf.int64))
        )
        known = is_jpeg | is_png | is_gif | is_bmp
        # The first bytes as numbers: binary text in an assertion message would not decode.
        first = tf.io.decode_raw(
            tf.strings.substr(image_bytes, 0, tf.minimum(length, 8), "BYTE"), tf.uint8
        )
        with tf.control_dependencies(
            [
                _check(
                    known,
                    "image_bytes is not a JPEG, PNG, GIF or BMP image; its first bytes are",
                    first,
                ),
                _check(
                    tf.logical_not(is_jpeg) | _jpeg_is_complete(image_bytes),
                    "image_bytes: the JPEG is truncated (no end-of-image marker after its "
                    "image data); was the upload interrupted?",
                ),
                _check(
                    tf.logical_not(is_png) | _png_is_complete(image_bytes),
                    "image_bytes: the PNG is truncated (it does not end with an IEND chunk); "
                    "was the upload interrupted?",
                ),
                _check(
                    is_jpeg | (length >= 26),
                    "image_bytes is truncated: only",
                    length,
                    "bytes, shorter than an image header",
                ),
            ]
        ):
            image_bytes = tf.identity(image_bytes)
        width, height = _header_size(image_bytes, is_jpeg, is_png, is_gif)
        limit = tf.constant(self.max_pixels, tf.int64)
        size_checks = [
            _check(
                (width > 0) & (height > 0),
                "image_bytes: the header gives no pixels:",
                width,
                "x",
                height,
            ),
            _check(
                width * height <= limit,
                "image_bytes: its header declares",
                width,
                "x",
                height,
                "pixels, over the pixel limit of",
                limit,
                "(a guard against decompression bombs); refused before decoding. Shrink the "
                "photo, or check that what was sent is a photo.",
            ),
        ]
        with tf.control_dependencies(size_checks):
            image_bytes = tf.identity(image_bytes)
        # Decode by content to RGB uint8 [H, W, 3], as seglib.inference.load_image:
        # JPEG with the accurate integer DCT, as Pillow decodes (TF's default, the fast
        # DCT, differs by a few levels); PNG with transparency over white; GIF's first
        # frame; BMP.
        image = tf.case(
            [
                (
                    is_jpeg,
                    lambda: tf.io.decode_jpeg(
                        image_bytes, channels=3, dct_method="INTEGER_ACCURATE"
                    ),
                ),
                (is_png, lambda: _decode_png(image_bytes)),
            ],
            default=lambda: tf.io.decode_image(image_bytes, channels=3, expand_animations=False),
            exclusive=False,
        )
        image.set_shape([None, None, 3])
        # Upright by the EXIF orientation, as segment (phones store the sensor's pixels).
        orientation = tf.cond(
            is_jpeg, lambda: _exif_orientation(image_bytes), lambda: tf.constant(1, tf.int64)
        )
        image = _upright(image, orientation)
        image.set_shape([None, None, 3])
        # The very preprocessing training uses: bilinear + antialias resize, / 255.
        x = data.preprocess_image(image, self.size)
        logits = self.model(x[None], training=False)[0]
        # As seglib.inference.segment: logits resized bilinearly to the photo, then argmax.
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        logits = tf.image.resize(logits, tf.stack([height, width]), "bilinear", antialias=True)
        mask = tf.cast(tf.argmax(logits, axis=-1), tf.uint8)
        return {"mask": mask}


def serving_model(model: keras.Model, max_pixels: int = DEFAULT_MAX_PIXELS) -> tf.Module:
    """Wrap a segmentation model for serving: encoded photo in, full-size mask out.

    The returned module's ``serve`` function (a ``tf.function``, and the
    ``serving_default`` signature of :func:`save_serving_model`) takes one scalar
    ``tf.string``, the bytes of a JPEG, PNG, GIF (first frame) or BMP file of any size,
    and returns ``{"mask": uint8 [H, W]}`` (0 pet, 1 background, 2 border) at the photo's
    own height and width. In the graph: ``tf.io.decode_jpeg`` (with the accurate integer
    DCT, as Pillow decodes) or ``tf.io.decode_image`` to RGB,
    :func:`seglib.data.preprocess_image` (bilinear resize with antialiasing to the
    model's input size, scaled to [0, 1]), the model, the bilinear resize of the logits
    to ``H x W`` and the argmax, as in :func:`seglib.inference.segment`.

    As :func:`seglib.inference.segment`: the width and height are read from the header
    (JPEG SOF marker, PNG IHDR, GIF screen, BMP header) and a photo over ``max_pixels`` is
    refused **before decoding** (a 76 KB PNG can unpack to 20000 x 20000 pixels); PNG
    transparency is composited over white and 16-bit PNGs are scaled by 255/65535, as
    :func:`seglib.inference.load_image` does; a JPEG's EXIF orientation is read in the
    graph and the photo turned upright (the mask has the upright photo's size, as
    ``segment``'s). Bad input stops the graph with an
    ``InvalidArgumentError`` whose message says what is wrong: a batch instead of one
    photo, empty bytes, not a JPEG/PNG/GIF/BMP (the first bytes are shown), a header too
    short, over the pixel limit (width and height shown), a JPEG or PNG cut short.

    Differences from :func:`seglib.inference.segment`, which decodes with Pillow (each
    tested in ``tests/test_hostile_inputs.py``):

    * the EXIF orientation of a PNG or WebP (rare; phones write JPEG or HEIC) is ignored;
    * a transparent GIF colour is not composited over white;
    * WebP and TIFF are refused;
    * a GIF whose canvas is larger than its first frame: the graph returns the frame's
      size (TensorFlow decodes the frame), ``segment`` the canvas's, and ``segment``
      refuses a canvas over 64 times the frame's area (see :mod:`seglib.images`);
    * a JPEG or PNG that declares more pixels than its data can hold is refused by
      ``segment`` before decoding; the graph checks only the pixel limit and that the file
      ends with its end marker;
    * damage inside an otherwise complete JPEG or PNG (corrupt scan data, a bad checksum)
      that Pillow decodes around, or refuses, may be accepted by TensorFlow's decoders
      with grey blocks, or refused with TensorFlow's own decode error: each side is
      consistent with itself, not with the other.

    Args:
        model: a model passing :func:`seglib.inference.check_model`.
        max_pixels: largest photo accepted, width x height (default
            :data:`seglib.inference.DEFAULT_MAX_PIXELS`, as :func:`~seglib.inference.segment`).

    Returns:
        ``tf.Module`` with ``serve(image_bytes) -> {"mask": ...}``; the Keras model is
        tracked as its attribute ``model``, so ``tf.saved_model.save`` stores its weights.

    Raises:
        ModelError: the model breaks the convention.
    """
    check_model(model)
    if not isinstance(max_pixels, int) or isinstance(max_pixels, bool) or max_pixels <= 0:
        raise ExportError(f"max_pixels must be a positive int, got {max_pixels!r}")
    return _Segmenter(model, model_input_size(model), max_pixels)


def save_serving_model(
    model: keras.Model, path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Path:
    """Write :func:`serving_model` as a SavedModel folder with a ``serving_default`` signature.

    Load it anywhere with TensorFlow alone::

        loaded = tf.saved_model.load(path)
        mask = loaded.signatures["serving_default"](image_bytes=tf.constant(jpeg_bytes))["mask"]

    Args:
        model: a model passing :func:`seglib.inference.check_model`.
        path: the new folder; must not exist.
        max_pixels: see :func:`serving_model`.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ModelError: the model breaks the convention. ExportError: ``path`` exists.
    """
    path = _check_new_path(path)
    module = serving_model(model, max_pixels)
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("WARNING")  # not "INFO: Assets written to ..." twice
    try:
        tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    finally:
        logger.setLevel(level)
    return path


def file_size_mib(path: str | os.PathLike) -> float:
    """Size of a file, or of all files under a folder, in MiB (2**20 bytes)."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20
    return path.stat().st_size / 2**20
