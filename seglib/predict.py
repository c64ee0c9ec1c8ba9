"""Prediction, in one place: the model contract, logits at the model's size and at the
photo's size, test-time augmentation (TTA) and the temperature.

Scoring (:mod:`seglib.metrics`), calibration (:mod:`seglib.calibration`), plotting
(:mod:`seglib.viz`) and photo inference (:mod:`seglib.inference`) all predict through this
module, so a photo is preprocessed, predicted and resized back the same way everywhere:

* :func:`check_model`, :func:`model_input_size`, :func:`model_stride`: what a segmentation
  model in this course takes (float32 ``[B, H, W, 3]`` in [0, 1]) and returns (logits
  ``[B, H, W, C]``);
* :func:`predict_logits` (a batch at the model's size), :func:`predict_full_resolution`
  (one photo's logits resized bilinearly to its own size, as FCN and DeepLab do),
  :func:`predict_photos` (many photos, batched, for scoring);
* :class:`TTA` and :func:`predict_tta` (probabilities averaged over flips and scales),
  :func:`predict_photo` (one photo's probabilities, as :func:`seglib.inference.segment`
  gives them), :func:`check_temperature`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from seglib import data
from seglib.data import NUM_CLASSES
from seglib.errors import CalibrationError, ModelError

import keras
import numpy as np
import tensorflow as tf

#: Input side used when a model accepts any size (``input_shape`` ``[None, None, None, 3]``).
DEFAULT_INPUT_SIZE = 128


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


#: Largest power of two that TTA sizes are rounded to a multiple of (MobileNet's stride).
TTA_MAX_MULTIPLE = 32
#: Largest TTA scale: 4 times the input size (16 times the compute of one pass).
TTA_MAX_SCALE = 4.0


# Copies of fixed-size models that accept any input size, for TTA scales (see _any_size).
_ANY_SIZE_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class TTA:
    """Test-time augmentation: the copies of a photo whose predictions :func:`~seglib.inference.segment` averages.

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
        CalibrationError: no scales, a scale that is not a finite number above 0 or is
            above :data:`TTA_MAX_SCALE`, or a ``flip`` that is not True or False.
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
        big = [s for s in values if s > TTA_MAX_SCALE]
        if big:
            raise CalibrationError(
                f"TTA scales must be at most {TTA_MAX_SCALE:g} (times the input size), got "
                f"{[float(f'{s:g}') for s in big]}: a pass at scale s costs s**2 times the "
                "compute and memory of one at 1.0; the usual scales are 0.5 to 2"
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
    TTA); the resize of logits before the softmax is :func:`~seglib.inference.segment`'s. ``TTA((1.0,),
    flip=False)`` with temperature 1 gives :func:`~seglib.inference.segment`'s plain probabilities.

    Cost: ``tta.forward_passes`` model calls (the mirror image goes in the same batch as
    the photo), each at ``s**2`` times the pixels of one at scale 1, plus a resize and a
    softmax at the photo's size per pass.

    Args:
        model: a Keras model passing :func:`check_model`.
        rgb: uint8 ``[H, W, 3]``, RGB 0..255 (as :func:`~seglib.images.load_image` gives).
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
    total = None  # float32 [H, W, C], the sum of the passes' probabilities
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
            total = _probabilities_at_photo_size(one, height, width, temperature, total)
    total /= np.float32(tta.forward_passes)
    return total


def predict_logits(model, images) -> np.ndarray:
    """Logits of one batch: float32 ``[B, H, W, C]`` for float32 images ``[B, H, W, 3]``.

    A Keras model is called directly, ``model(images, training=False)`` (BatchNorm in
    inference mode), not through ``predict_on_batch``: that builds a ``tf.function`` per
    model, and scoring several models in one notebook then makes TensorFlow warn about
    "retracing" although nothing is wrong. Any other object with a ``predict_on_batch``
    method (a LiteRT model from :mod:`seglib.export`) is called through that method.
    """
    if isinstance(model, keras.Model):
        return np.asarray(model(images, training=False))
    return np.asarray(model.predict_on_batch(images))


def predict_full_resolution(model, image, image_size, antialias: bool = True) -> np.ndarray:
    """Logits of one photo at its own resolution: float32 ``[H, W, C]``.

    The photo is resized to the model's input (:func:`seglib.data.preprocess_image`), the
    logits come back at that size, and are resized **bilinearly** to ``H x W`` before the
    argmax, as :func:`seglib.inference.segment` does for a user's photo. Resizing logits
    rather than the predicted mask gives smooth, sub-pixel boundaries (FCN, Long et al. 2015,
    upsample class scores by interpolation).

    Args:
        model: Keras model (or LiteRT wrapper) mapping ``[1, S, S, 3]`` to ``[1, S, S, C]``.
        image: uint8 ``[H, W, 3]``. image_size: ``S`` or ``(height, width)``.
        antialias: see :func:`seglib.data.preprocess_image`.
    """
    return _logits_at_photo_sizes(model, [image], image_size, antialias)[0]


def _logits_at_photo_sizes(model, images, image_size, antialias) -> list[np.ndarray]:
    """Logits of several photos in one model call, each resized to its photo's ``[H, W]``."""
    batch = np.stack(
        [data.preprocess_image(image, image_size, antialias=antialias) for image in images]
    )
    logits = tf.convert_to_tensor(predict_logits(model, batch))
    return [
        tf.image.resize(one, (int(image.shape[0]), int(image.shape[1])), method="bilinear")[
            0
        ].numpy()
        for image, one in zip(images, tf.split(logits, len(images)), strict=True)
    ]


def check_temperature(temperature, what: str = "temperature") -> float:
    """``temperature`` as a float, checked: a finite number above 0.

    Raises:
        CalibrationError: not a number, NaN, infinite, 0 or negative (names ``what``).
    """
    try:
        value = float(temperature)
    except (TypeError, ValueError) as e:
        raise CalibrationError(f"{what} must be a number above 0, got {temperature!r}") from e
    if not np.isfinite(value) or value <= 0:
        raise CalibrationError(f"{what} must be a finite number above 0, got {value!r}")
    return value


def _photo_scores(model, image, image_size, antialias, tta):
    """Per-pixel class scores of one photo at its size: logits, or TTA-averaged probabilities."""
    if tta is None:
        return predict_full_resolution(model, image, image_size, antialias)
    size = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
    return predict_tta(model, image, size, tta)


def predict_photos(
    model, pairs, image_size, antialias: bool = True, tta=None, batch_size: int = 16
):
    """Yield ``(trimap, scores)`` per photo, in the order of ``pairs``.

    ``scores`` is float32 ``[H, W, C]`` at the photo's size: logits
    (:func:`predict_full_resolution`), or with ``tta`` (a :class:`TTA`) the averaged
    probabilities of :func:`predict_tta`; ``trimap`` is the pair's trimap as a NumPy array.
    Scoring (:mod:`seglib.metrics`) and calibration (:mod:`seglib.calibration`) both predict
    through this one function.

    Without TTA the photos go through the model ``batch_size`` at a time (they all have
    the model's input size once resized); each photo's logits are then resized to its own
    size. A Keras model called eagerly costs about the same per call for 1 photo or 16, so
    this is many times faster than one call per photo, with the same predictions.
    """
    if tta is not None:
        for image, trimap in pairs:
            image = np.asarray(image)
            yield np.asarray(trimap), _photo_scores(model, image, image_size, antialias, tta)
        return

    def predict(chunk):
        images = [image for image, _ in chunk]
        scores = _logits_at_photo_sizes(model, images, image_size, antialias)
        yield from zip((trimap for _, trimap in chunk), scores, strict=True)

    chunk = []
    for image, trimap in pairs:
        chunk.append((np.asarray(image), np.asarray(trimap)))
        if len(chunk) == batch_size:
            yield from predict(chunk)
            chunk = []
    if chunk:
        yield from predict(chunk)


def predict_photo(model, rgb: np.ndarray, input_size, tta=None, temperature=1.0) -> np.ndarray:
    """Class probabilities of one photo at its own size: what :func:`seglib.inference.segment`
    returns before the argmax.

    Preprocess as in training (:func:`to_model_input`), predict logits at ``input_size``,
    resize them bilinearly to the photo's ``H x W`` (FCN, Long, Shelhamer and Darrell, CVPR
    2015; DeepLab), and take the softmax. With ``tta`` or a temperature other than 1 this is
    :func:`predict_tta` (``TTA((1.0,), flip=False)`` when only the temperature is given).

    Args:
        model: a Keras model passing :func:`check_model`.
        rgb: uint8 ``[H, W, 3]``, RGB 0..255.
        input_size: ``(height, width)`` of the model's input, checked by the caller.
        tta: None, or a :class:`TTA`.
        temperature: ``T > 0`` the logits are divided by (1.0: none).

    Returns:
        float32 ``[H, W, C]`` in [0, 1], summing to 1 over the classes.

    Raises:
        CalibrationError: bad ``tta`` or ``temperature``. ModelError: the model cannot run
            at a TTA scale's size.
    """
    if tta is not None or temperature != 1.0:
        return predict_tta(model, rgb, input_size, tta or TTA((1.0,), flip=False), temperature)
    x = to_model_input(rgb, input_size)
    logits = tf.convert_to_tensor(model(x[None], training=False))
    height, width = np.asarray(rgb).shape[:2]
    return _probabilities_at_photo_size(logits, height, width)


#: Photos above this many pixels have their logits resized and turned into probabilities a
#: strip of rows at a time (:func:`_probabilities_at_photo_size`), so the peak memory is the
#: result (12 bytes per pixel for 3 classes) plus one strip, not three times the result.
STRIP_PIXELS = 4_000_000
#: Pixels per strip.
_STRIP_SIZE = 1_000_000


def _probabilities_at_photo_size(logits, height: int, width: int, temperature=1.0, add_to=None):
    """``softmax(resize(logits) / T)`` at ``height x width``: float32 ``[H, W, C]``.

    ``logits``: float32 ``[1, h, w, C]`` at the model's size, resized bilinearly with
    antialiasing (``tf.image.resize(..., antialias=True)``). With ``add_to`` (float32
    ``[H, W, C]``) the probabilities are added into it in place and it is returned.

    Up to :data:`STRIP_PIXELS` this is one resize; above, each strip of rows is computed
    by the same resampling (``ScaleAndTranslate``, the op behind ``tf.image.resize``,
    translated to the strip's first row: equal to the whole resize within 1e-5), so a
    48-megapixel photo never holds its logits, their resized copy and their softmax at
    once.
    """
    if height * width <= STRIP_PIXELS:
        one = tf.image.resize(logits, (height, width), method="bilinear", antialias=True)[0]
        if temperature != 1.0:
            one = one / temperature
        probabilities = tf.nn.softmax(one, axis=-1).numpy().astype(np.float32)
        if add_to is None:
            return probabilities
        add_to += probabilities
        return add_to
    logits = tf.cast(logits, tf.float32)
    in_height, in_width = int(logits.shape[1]), int(logits.shape[2])
    scale = tf.constant([height / in_height, width / in_width], tf.float32)
    out = add_to if add_to is not None else np.zeros((height, width, logits.shape[-1]), np.float32)
    rows = max(1, _STRIP_SIZE // width)
    for top in range(0, height, rows):
        count = min(rows, height - top)
        strip = tf.raw_ops.ScaleAndTranslate(
            images=logits,
            size=[count, width],
            scale=scale,
            translation=tf.constant([-float(top), 0.0], tf.float32),
            kernel_type="triangle",
            antialias=True,
        )[0]
        if temperature != 1.0:
            strip = strip / temperature
        strip = tf.nn.softmax(strip, axis=-1).numpy()
        if add_to is None:
            out[top : top + count] = strip
        else:
            out[top : top + count] += strip
    return out
