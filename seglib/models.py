"""Segmentation models. Every builder follows one convention:

* input: float32 images ``[batch, H, W, 3]``, RGB in [0, 1], exactly as
  :func:`seglib.data.preprocess` yields them; any encoder-specific preprocessing
  happens inside the model, so a saved ``.keras`` file is all anyone needs;
* output: **logits** ``[batch, H, W, num_classes]`` (no softmax): train with
  ``SparseCategoricalCrossentropy(from_logits=True)``, predict with ``argmax``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from seglib.config import encoder_weights_override, smoke_mode
from seglib.errors import WeightsError

import keras
import numpy as np
from keras import layers

#: MobileNetV2 layers tapped for the skip connections, as in the TensorFlow
#: segmentation tutorial; strides 2, 4, 8, 16 and 32 (64, 32, 16, 8, 4 px at 128 px).
MOBILENETV2_SKIP_LAYERS = (
    "block_1_expand_relu",
    "block_3_expand_relu",
    "block_6_expand_relu",
    "block_13_expand_relu",
    "block_16_project",
)


def upsample(filters: int, size: int = 3, dropout: float = 0.0, name: str | None = None):
    """The pix2pix decoder block: Conv2DTranspose (stride 2) -> BatchNorm -> [Dropout] -> ReLU.

    Doubles height and width: ``[B, H, W, C] -> [B, 2H, 2W, filters]``. Written out
    here because ``tensorflow_examples.models.pix2pix`` (where the TF tutorial takes it
    from) is not on PyPI. Source: Isola et al., "Image-to-Image Translation with
    Conditional Adversarial Networks" (pix2pix), CVPR 2017.

    Args:
        filters: output channels. size: kernel side. dropout: rate in [0, 1); 0 skips it.
        name: name of the returned ``keras.Sequential``.
    """
    block = keras.Sequential(name=name)
    block.add(
        layers.Conv2DTranspose(
            filters,
            size,
            strides=2,
            padding="same",
            kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
            use_bias=False,
        )
    )
    block.add(layers.BatchNormalization())
    if dropout:
        block.add(layers.Dropout(dropout))
    block.add(layers.ReLU())
    return block


#: File-name keys that match a weights file to its encoder, as in Keras' own file names
#: (``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5``,
#: ``weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5``).
ENCODER_WEIGHTS_KEYS = {"mobilenet_v2": "mobilenet_v2", "mobilenet_v3_large": "mobilenet_v3_large"}


def _weights_candidates(entry: Path) -> list[Path]:
    """The entry itself when it is a file, or the ``.h5`` files in it when it is a folder."""
    if entry.is_dir():
        return sorted(entry.glob("*.h5"))
    return [entry]


def _matches(path: Path, encoder: str) -> bool:
    name = path.name.lower()
    return ENCODER_WEIGHTS_KEYS[encoder] in name and "minimalistic" not in name


def encoder_weights_file(encoder: str = "mobilenet_v2") -> Path | None:
    """The file ``SEGLIB_ENCODER_WEIGHTS`` provides for ``encoder``, or None.

    ``SEGLIB_ENCODER_WEIGHTS`` holds one or more local files or folders separated by
    ``os.pathsep`` (``:`` on Linux and macOS, ``;`` on Windows). Each encoder takes the
    file whose name contains its key in :data:`ENCODER_WEIGHTS_KEYS` (``mobilenet_v2``,
    ``mobilenet_v3_large``; Keras' own file names do), looked up among the files listed
    and the ``.h5`` files directly inside the folders listed. So one variable serves every
    encoder, e.g. ``SEGLIB_ENCODER_WEIGHTS=~/weights`` (a folder holding both files).

    Args:
        encoder: a key of :data:`ENCODER_WEIGHTS_KEYS`.

    Returns:
        The matching file (the first in the order listed), or None when the variable is
        unset or names no file for this encoder (the caller then lets Keras download).

    Raises:
        WeightsError: an entry of the variable does not exist.
        ValueError: ``encoder`` is not a key of :data:`ENCODER_WEIGHTS_KEYS`.
    """
    if encoder not in ENCODER_WEIGHTS_KEYS:
        raise ValueError(f"unknown encoder {encoder!r}; known: {sorted(ENCODER_WEIGHTS_KEYS)}")
    override = encoder_weights_override()
    if override is None:
        return None
    for raw in filter(None, (e.strip() for e in override.split(os.pathsep))):
        entry = Path(raw).expanduser()
        if not entry.exists():
            raise WeightsError(
                f"{entry}: encoder weights file not found (from SEGLIB_ENCODER_WEIGHTS)"
            )
        for candidate in _weights_candidates(entry):
            if candidate.is_file() and _matches(candidate, encoder):
                return candidate
    return None


def resolve_encoder_weights(
    weights: str | os.PathLike | None, encoder: str = "mobilenet_v2"
) -> str | None:
    """Turn a ``weights`` argument into what ``keras.applications`` accepts.

    * ``"imagenet"``: replaced by the file ``SEGLIB_ENCODER_WEIGHTS`` provides for
      ``encoder`` (see :func:`encoder_weights_file`), else left as ``"imagenet"``
      (Keras downloads the weights into ``~/.keras/models``);
    * a path: returned when the file exists;
    * None: random initialisation.

    Raises:
        WeightsError: the path (argument or an entry of ``SEGLIB_ENCODER_WEIGHTS``) does
            not exist.
    """
    if weights == "imagenet":
        found = encoder_weights_file(encoder)
        return "imagenet" if found is None else str(found)
    if weights is None:
        return None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsError(f"{path}: encoder weights file not found (from weights)")
    return str(path)


def _build_application(build, label: str, encoder: str, weights, random_fallback, **kwargs):
    """Call a ``keras.applications`` builder, with seglib's weights lookup and errors.

    ``random_fallback`` (None: :func:`seglib.config.smoke_mode`) decides what happens when
    the ImageNet weights cannot be downloaded: random weights with a warning, or
    :class:`~seglib.errors.WeightsError`.
    """
    resolved = resolve_encoder_weights(weights, encoder)
    try:
        return build(include_top=False, weights=resolved, **kwargs)
    except Exception as e:
        if resolved != "imagenet":
            raise WeightsError(f"{resolved}: could not load {label} weights ({e})") from e
        key = ENCODER_WEIGHTS_KEYS[encoder]
        message = (
            f"Could not download {label} ImageNet weights ({e}). Point SEGLIB_ENCODER_WEIGHTS "
            f"(or weights=) at a local no-top .h5 whose name contains {key!r} (Keras' file "
            "name does), or a folder holding it, or copy it into ~/.keras/models/."
        )
        if not (smoke_mode() if random_fallback is None else random_fallback):
            raise WeightsError(message) from e
        warnings.warn(
            message + " Smoke mode: using RANDOM encoder weights; results mean nothing.",
            stacklevel=3,
        )
        return build(include_top=False, weights=None, **kwargs)


def mobilenetv2_encoder(
    input_shape=(128, 128, 3), weights="imagenet", random_fallback: bool | None = None
) -> keras.Model:
    """MobileNetV2 (Sandler et al., CVPR 2018) cut into a 5-output feature extractor.

    Args:
        input_shape: ``(H, W, 3)``, H and W multiples of 32.
        weights: ``"imagenet"``, None, or a path to a no-top ``.h5`` (see
            :func:`resolve_encoder_weights`).
        random_fallback: when the ImageNet weights cannot be downloaded, use random
            weights with a warning (True) or raise (False); None: only in smoke mode.

    Returns:
        ``keras.Model`` taking inputs in [-1, 1] (what the ImageNet weights expect) and
        returning the five :data:`MOBILENETV2_SKIP_LAYERS` activations, at strides
        2, 4, 8, 16, 32 with 96, 144, 192, 576 and 320 channels.

    Raises:
        WeightsError: ``"imagenet"`` cannot be downloaded (outside smoke mode), or a
            weights file is missing or does not fit.
    """
    base = _build_application(
        keras.applications.MobileNetV2,
        "MobileNetV2",
        "mobilenet_v2",
        weights,
        random_fallback,
        input_shape=input_shape,
    )
    outputs = [base.get_layer(name).output for name in MOBILENETV2_SKIP_LAYERS]
    return keras.Model(base.input, outputs, name="mobilenetv2_encoder")


def mobilenetv2_unet(
    input_shape=(128, 128, 3),
    num_classes: int = 3,
    weights="imagenet",
    freeze_encoder: bool = True,
    decoder_filters=(512, 256, 128, 64),
    dropout: float = 0.0,
) -> keras.Model:
    """U-Net with a pretrained MobileNetV2 encoder and a pix2pix decoder.

    The architecture of the TensorFlow "Image segmentation" tutorial, with one fix:
    the ImageNet weights expect inputs in [-1, 1]
    (``keras.applications.mobilenet_v2.preprocess_input``), so the model rescales its
    [0, 1] input itself (the tutorial feeds [0, 1] straight in).

    To fine-tune, unfreeze the encoder with :func:`set_encoder_trainable`, which keeps
    its BatchNorm layers frozen (they keep their ImageNet statistics).

    Args:
        input_shape: ``(H, W, 3)``; H and W multiples of 32.
        num_classes: output channels (3: pet, background, border).
        weights: encoder weights, see :func:`mobilenetv2_encoder`.
        freeze_encoder: True keeps the encoder's weights fixed.
        decoder_filters: channels of the four upsampling blocks, deepest first.
        dropout: dropout rate inside each upsampling block.

    Returns:
        ``keras.Model`` mapping float32 ``[B, H, W, 3]`` in [0, 1] to logits
        ``[B, H, W, num_classes]``. The encoder is the sub-model ``"mobilenetv2_encoder"``.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(inputs)
    encoder = mobilenetv2_encoder(input_shape, weights)
    encoder.trainable = not freeze_encoder
    logits = _pix2pix_decoder(encoder(x), num_classes, decoder_filters, dropout)
    return keras.Model(inputs, logits, name="mobilenetv2_unet")


def _pix2pix_decoder(features, num_classes, decoder_filters, dropout):
    """The TF tutorial's decoder on five encoder maps at strides 2, 4, 8, 16, 32.

    Four :func:`upsample` blocks, each followed by the concatenation of the skip of the
    same resolution, then a stride-2 ``Conv2DTranspose`` to full resolution: logits.
    """
    *skips, x = features
    for filters, skip in zip(decoder_filters, reversed(skips), strict=True):
        x = upsample(filters, 3, dropout)(x)
        x = layers.Concatenate()([x, skip])
    # float32 logits even under a mixed precision policy, so the loss stays accurate.
    return layers.Conv2DTranspose(
        num_classes, 3, strides=2, padding="same", name="logits", dtype="float32"
    )(x)


#: MobileNetV3-Large layers tapped for the skip connections, by name (Keras gives these
#: fixed names; the activations in between get counters such as ``re_lu_7`` that change
#: with what else was built in the session). Each is the output of the last block at its
#: stride, i.e. 2, 4, 8, 16 and 32 (64, 32, 16, 8, 4 px at 128 px), with 16, 24, 40,
#: 112 and 160 channels.
MOBILENETV3_SKIP_LAYERS = (
    "expanded_conv_add",
    "expanded_conv_2_add",
    "expanded_conv_5_add",
    "expanded_conv_11_add",
    "expanded_conv_14_add",
)


def mobilenetv3_encoder(
    input_shape=(128, 128, 3), weights="imagenet", random_fallback: bool | None = None
) -> keras.Model:
    """MobileNetV3-Large (Howard et al., "Searching for MobileNetV3", ICCV 2019) cut into
    a 5-output feature extractor, tapped by layer name (:data:`MOBILENETV3_SKIP_LAYERS`).

    Unlike Keras' MobileNetV2, Keras' MobileNetV3 **rescales inside the model**: its first
    layer is ``Rescaling(1/127.5, offset=-1)`` (``include_preprocessing=True``, the
    default), so it expects pixel values in **0..255** and its
    ``keras.applications.mobilenet_v3.preprocess_input`` does nothing. Feeding it [0, 1]
    would squeeze every photo into [-1, -0.99], nearly black.

    Args:
        input_shape: ``(H, W, 3)``, H and W multiples of 32.
        weights: ``"imagenet"``, None, or a path to a no-top ``.h5``; ``"imagenet"`` uses
            the file ``SEGLIB_ENCODER_WEIGHTS`` names for ``mobilenet_v3_large``
            (:func:`encoder_weights_file`), else Keras downloads
            ``weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5``.
        random_fallback: see :func:`mobilenetv2_encoder`.

    Returns:
        ``keras.Model`` taking float32 ``[B, H, W, 3]`` in **0..255** and returning the
        five activations at strides 2, 4, 8, 16, 32 (16, 24, 40, 112, 160 channels).

    Raises:
        WeightsError: ``"imagenet"`` cannot be downloaded (outside smoke mode), or a
            weights file is missing or does not fit.
    """
    base = _build_application(
        keras.applications.MobileNetV3Large,
        "MobileNetV3-Large",
        "mobilenet_v3_large",
        weights,
        random_fallback,
        input_shape=input_shape,
        include_preprocessing=True,
    )
    outputs = [base.get_layer(name).output for name in MOBILENETV3_SKIP_LAYERS]
    return keras.Model(base.input, outputs, name="mobilenetv3_encoder")


def mobilenetv3_unet(
    input_shape=(128, 128, 3),
    num_classes: int = 3,
    weights="imagenet",
    freeze_encoder: bool = True,
    decoder_filters=(512, 256, 128, 64),
    dropout: float = 0.0,
    random_fallback: bool | None = None,
) -> keras.Model:
    """U-Net with a MobileNetV3-Large encoder and the same pix2pix decoder as
    :func:`mobilenetv2_unet`, for notebook 07's comparison of the two encoders (Howard et al.,
    "Searching for MobileNetV3", ICCV 2019).

    Input scaling: seglib models take [0, 1]; Keras' MobileNetV3 wants 0..255 and maps it
    to [-1, 1] itself (see :func:`mobilenetv3_encoder`). So this model multiplies by 255
    first (a ``Rescaling(255)`` layer named ``to_0_255``); the encoder's own rescaling then
    gives the [-1, 1] its ImageNet weights were trained on. (MobileNetV2 in Keras has no
    such layer, which is why :func:`mobilenetv2_unet` maps [0, 1] to [-1, 1] itself.)

    Args:
        input_shape: ``(H, W, 3)``; H and W multiples of 32.
        num_classes, freeze_encoder, decoder_filters, dropout: as in
            :func:`mobilenetv2_unet`.
        weights: encoder weights, see :func:`mobilenetv3_encoder`.
        random_fallback: see :func:`mobilenetv2_encoder`.

    Returns:
        ``keras.Model`` mapping float32 ``[B, H, W, 3]`` in [0, 1] to logits
        ``[B, H, W, num_classes]``. The encoder is the sub-model ``"mobilenetv3_encoder"``
        (fine-tune with ``set_encoder_trainable(model, True, "mobilenetv3_encoder")``).

    Raises:
        WeightsError: see :func:`mobilenetv3_encoder`.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(255.0, name="to_0_255")(inputs)
    encoder = mobilenetv3_encoder(input_shape, weights, random_fallback)
    encoder.trainable = not freeze_encoder
    logits = _pix2pix_decoder(encoder(x), num_classes, decoder_filters, dropout)
    return keras.Model(inputs, logits, name="mobilenetv3_unet")


def set_encoder_trainable(
    model: keras.Model, trainable: bool = True, name: str = "mobilenetv2_encoder"
) -> keras.Model:
    """Freeze or unfreeze the encoder sub-model of a U-Net for fine-tuning.

    When unfreezing, the encoder's BatchNormalization layers stay frozen: in Keras 3 a
    BatchNormalization layer with ``trainable=False`` runs in inference mode, so it keeps
    its ImageNet statistics instead of re-estimating them from small batches (Keras'
    transfer-learning guide). Only the convolution weights adapt. Recompile afterwards.

    Returns:
        ``model`` (changed in place).
    """
    encoder = model.get_layer(name)
    encoder.trainable = trainable
    if trainable:
        for layer in encoder.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
    return model


def count_params(model: keras.Model) -> dict:
    """Return ``{"trainable": int, "non_trainable": int, "total": int}`` parameter counts."""
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    return {"trainable": trainable, "non_trainable": frozen, "total": trainable + frozen}


def predict_masks(model: keras.Model, images) -> np.ndarray:
    """Predicted label masks: uint8 ``[B, H, W]`` (0 pet, 1 background, 2 border).

    Args:
        images: float32 ``[B, H, W, 3]`` in [0, 1] (one batch).
    """
    logits = model(images, training=False)  # a direct call: no tf.function per model
    return np.argmax(logits, axis=-1).astype(np.uint8)


# ---------------------------------------------------------------------------
# Models trained from scratch: the keras.io Xception-style U-Net and the original U-Net
# ---------------------------------------------------------------------------


def conv_block(x, filters: int, batch_norm: bool = True, name: str | None = None):
    """Two 3×3 convolutions, each followed by [BatchNorm and] ReLU: one U-Net level.

    ``[B, H, W, C] -> [B, H, W, filters]`` (``padding="same"`` keeps H and W; the paper
    used ``"valid"`` convolutions, which lose 2 pixels per side at every level). With
    ``batch_norm`` the convolutions have no bias (BatchNorm's offset replaces it).
    Source: Ronneberger, Fischer, Brox, "U-Net: Convolutional Networks for Biomedical
    Image Segmentation", MICCAI 2015, Fig. 1.
    """
    for i in (1, 2):
        label = f"{name}_conv{i}" if name else None
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=label)(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"{name}_bn{i}" if name else None)(x)
        x = layers.ReLU(name=f"{name}_relu{i}" if name else None)(x)
    return x


def _unet_encoder(input_shape, depth: int, base_filters: int, batch_norm: bool):
    """The encoder shared by :func:`unet` and :func:`fcn`: ``depth`` levels of
    :func:`conv_block` (``base_filters * 2**level`` filters) each followed by a 2×2
    max-pool, then the ``bottom`` block at ``1 / 2**depth`` of the input resolution.

    Returns:
        ``(inputs, bottom, skips)``: the ``keras.Input``, the bottom block's output and the
        output of each level before its pool (for the skip connections), shallowest first.

    Raises:
        ValueError: ``depth < 1`` or H, W not divisible by ``2**depth``.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    height, width = input_shape[:2]
    factor = 2**depth
    if height is not None and height % factor or width is not None and width % factor:
        raise ValueError(
            f"input height and width must be multiples of 2**depth = {factor}, got {input_shape}"
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = conv_block(x, base_filters * 2**level, batch_norm, name=f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = conv_block(x, base_filters * 2**depth, batch_norm, name="bottom")
    return inputs, x, skips


def unet(
    input_shape=(128, 128, 3),
    num_classes: int = 3,
    depth: int = 4,
    base_filters: int = 16,
    batch_norm: bool = True,
    skip_connections: bool = True,
) -> keras.Model:
    """The original U-Net (Ronneberger et al., 2015), sized to train on a laptop CPU.

    Encoder: ``depth + 1`` levels of :func:`conv_block` with ``base_filters * 2**level``
    filters, a 2×2 max-pool between levels. Decoder: at each level a 2×2 up-convolution
    (``Conv2DTranspose``, stride 2) halves the channels and doubles H and W, the encoder
    map of the same level is concatenated (the **skip connection**), then a
    :func:`conv_block`. A 1×1 convolution gives the logits.

    The paper: ``depth=4`` (five levels, 64 to 1024 filters, ``base_filters=64``, about
    31 million parameters), ``"valid"`` convolutions on 572×572 inputs giving 388×388
    outputs, no BatchNorm (it predates its wide use), dropout at the end of the encoder.
    Here: ``"same"`` padding (output size = input size), BatchNorm optional and on by
    default (a modern choice that makes training from scratch faster and steadier).

    Args:
        input_shape: ``(H, W, 3)``; H and W multiples of ``2**depth``.
        num_classes: output channels (3: pet, background, border).
        depth: number of max-pool steps (levels - 1), >= 1.
        base_filters: filters at the first level; doubled at each level down.
        batch_norm: BatchNormalization after every 3×3 convolution.
        skip_connections: False builds the same network without the concatenations
            (an encoder-decoder, for the ablation in notebook 04).

    Returns:
        ``keras.Model`` mapping float32 ``[B, H, W, 3]`` in [0, 1] to logits
        ``[B, H, W, num_classes]``.

    Raises:
        ValueError: ``depth < 1`` or H, W not divisible by ``2**depth``.
    """
    inputs, x, skips = _unet_encoder(input_shape, depth, base_filters, batch_norm)
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"upconv{level}")(x)
        if skip_connections:
            x = layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = conv_block(x, filters, batch_norm, name=f"up{level}")
    logits = layers.Conv2D(num_classes, 1, name="logits")(x)
    name = "unet" if skip_connections else "unet_no_skips"
    return keras.Model(inputs, logits, name=name)


def xception_unet(input_shape=(160, 160, 3), num_classes: int = 3) -> keras.Model:
    """The keras.io "Image segmentation with a U-Net-like architecture" model (F. Chollet).

    Entry block: Conv2D 32 (3×3, stride 2) + BatchNorm + ReLU. Three downsampling blocks
    (64, 128, 256 filters): [ReLU, SeparableConv2D 3×3, BatchNorm] ×2, MaxPooling 3×3
    stride 2, plus a residual 1×1 Conv2D with stride 2 from the block's input. Four
    upsampling blocks (256, 128, 64, 32): [ReLU, Conv2DTranspose 3×3, BatchNorm] ×2,
    UpSampling2D(2), plus a residual UpSampling2D + 1×1 Conv2D. A 3×3 Conv2D gives the
    classes. 2,058,979 parameters for 3 classes, like the original. Unlike a classic
    U-Net it has no encoder-to-decoder concatenations; its shortcuts are residual
    additions inside each block.

    Two changes from keras.io: the output is **logits** (the original ends in a
    softmax; train with ``from_logits=True``), and inputs are RGB in [0, 1] like every
    seglib model (the Keras 3 version of the example feeds [0, 1] too).

    Args:
        input_shape: ``(H, W, 3)``; H and W multiples of 16.
        num_classes: output channels.

    Returns:
        ``keras.Model`` mapping float32 ``[B, H, W, 3]`` in [0, 1] to logits
        ``[B, H, W, num_classes]``.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", name="entry_conv")(inputs)
    x = layers.BatchNormalization(name="entry_bn")(x)
    x = layers.Activation("relu", name="entry_relu")(x)
    previous = x  # set aside for the residual
    for filters in (64, 128, 256):
        for i in (1, 2):
            x = layers.Activation("relu")(x)
            x = layers.SeparableConv2D(filters, 3, padding="same", name=f"down{filters}_sep{i}")(x)
            x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(
            filters, 1, strides=2, padding="same", name=f"down{filters}_residual"
        )(previous)
        x = layers.add([x, residual])
        previous = x
    for filters in (256, 128, 64, 32):
        for i in (1, 2):
            x = layers.Activation("relu")(x)
            x = layers.Conv2DTranspose(filters, 3, padding="same", name=f"up{filters}_tconv{i}")(x)
            x = layers.BatchNormalization()(x)
        x = layers.UpSampling2D(2)(x)
        residual = layers.UpSampling2D(2)(previous)
        residual = layers.Conv2D(filters, 1, padding="same", name=f"up{filters}_residual")(residual)
        x = layers.add([x, residual])
        previous = x
    logits = layers.Conv2D(num_classes, 3, padding="same", name="logits")(x)
    return keras.Model(inputs, logits, name="xception_unet")


def bilinear_kernel(channels: int, kernel_size: int) -> np.ndarray:
    """Weights that make a ``Conv2DTranspose`` upsample by bilinear interpolation.

    d2l's ``bilinear_kernel`` (Zhang et al., *Dive into Deep Learning*, section
    "Fully Convolutional Networks"), in Keras' layout: channel ``c`` of the output is
    channel ``c`` of the input, upsampled; no channel mixes with another. With
    ``kernel_size = 2 * stride`` and ``padding="same"``, a ``Conv2DTranspose`` holding
    these weights reproduces ``tf.image.resize(..., "bilinear")`` (half-pixel centres)
    away from the edges; within ``stride // 2`` pixels of an edge its output falls off,
    because the transposed convolution sees zeros beyond the input where the resize
    repeats the edge pixel.

    Args:
        channels: input and output channels, an int >= 1.
        kernel_size: kernel side, an int >= 1 (``2 * stride`` to upsample by ``stride``).

    Returns:
        float32 ``[kernel_size, kernel_size, channels, channels]`` (``Conv2DTranspose``'s
        kernel layout: height, width, output channels, input channels), values in [0, 1],
        zero off the channel diagonal.

    Raises:
        ValueError: ``channels`` or ``kernel_size`` is not a whole number >= 1.
    """
    for name, value in (("channels", channels), ("kernel_size", kernel_size)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    channels, kernel_size = int(channels), int(kernel_size)
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    ramp = 1 - np.abs(np.arange(kernel_size) - center) / factor
    weights = np.zeros((kernel_size, kernel_size, channels, channels), np.float32)
    for c in range(channels):
        weights[:, :, c, c] = np.outer(ramp, ramp)
    return weights


def fcn(
    input_shape=(128, 128, 3),
    num_classes: int = 3,
    depth: int = 4,
    base_filters: int = 16,
    batch_norm: bool = True,
) -> keras.Model:
    """A fully convolutional network (FCN-32s style) on the U-Net's encoder: no decoder.

    The encoder of :func:`unet` (``depth`` levels of :func:`conv_block` and 2×2
    max-pools, then the bottom block), a 1×1 convolution to ``num_classes`` class scores
    at ``1 / 2**depth`` of the input resolution, and **one** ``Conv2DTranspose`` that
    upsamples them by ``2**depth`` (kernel ``2 * 2**depth``, ``padding="same"``, no bias),
    initialised by :func:`bilinear_kernel` to bilinear interpolation and trained with the
    rest, as d2l does (Long et al. keep this last upsampling fixed at bilinear; only
    their intermediate upsamplings learn). No skip connections. Source: Long, Shelhamer and Darrell, "Fully Convolutional
    Networks for Semantic Segmentation", CVPR 2015 (FCN-32s: one upsampling by the
    backbone's stride 32); d2l's "Fully Convolutional Networks" chapter.

    Args:
        input_shape: ``(H, W, 3)``; H and W multiples of ``2**depth``.
        num_classes: output channels (3: pet, background, border).
        depth: number of max-pool steps, >= 1; the upsampling factor is ``2**depth``.
        base_filters: filters at the first level; doubled at each level down.
        batch_norm: BatchNormalization after every 3×3 convolution.

    Returns:
        ``keras.Model`` (name ``"fcn"``) mapping float32 ``[B, H, W, 3]`` in [0, 1] to
        logits ``[B, H, W, num_classes]``.

    Raises:
        ValueError: ``depth < 1`` or H, W not divisible by ``2**depth``.
    """
    inputs, x, _ = _unet_encoder(input_shape, depth, base_filters, batch_norm)
    stride = 2**depth
    scores = layers.Conv2D(num_classes, 1, name="class_scores")(x)
    upsample_layer = layers.Conv2DTranspose(
        num_classes, 2 * stride, strides=stride, padding="same", use_bias=False, name="upsample"
    )
    logits = upsample_layer(scores)
    upsample_layer.set_weights([bilinear_kernel(num_classes, 2 * stride)])
    return keras.Model(inputs, logits, name="fcn")
