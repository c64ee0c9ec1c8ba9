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

import keras
import numpy as np
from keras import layers

from seglib.config import encoder_weights_override, smoke_mode
from seglib.errors import WeightsError

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


def resolve_encoder_weights(weights: str | os.PathLike | None) -> str | None:
    """Turn a ``weights`` argument into what ``keras.applications`` accepts.

    * ``"imagenet"``: replaced by ``SEGLIB_ENCODER_WEIGHTS`` when that is set;
    * a path: returned when the file exists;
    * None: random initialisation.

    Raises:
        WeightsError: the path (argument or ``SEGLIB_ENCODER_WEIGHTS``) does not exist.
    """
    if weights == "imagenet":
        override = encoder_weights_override()
        if override is None:
            return "imagenet"
        weights, origin = override, "SEGLIB_ENCODER_WEIGHTS"
    else:
        origin = "weights"
    if weights is None:
        return None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsError(f"{path}: encoder weights file not found (from {origin})")
    return str(path)


def mobilenetv2_encoder(input_shape=(128, 128, 3), weights="imagenet") -> keras.Model:
    """MobileNetV2 (Sandler et al., CVPR 2018) cut into a 5-output feature extractor.

    Args:
        input_shape: ``(H, W, 3)``, H and W multiples of 32.
        weights: ``"imagenet"``, None, or a path to a no-top ``.h5`` (see
            :func:`resolve_encoder_weights`).

    Returns:
        ``keras.Model`` taking inputs in [-1, 1] (what the ImageNet weights expect) and
        returning the five :data:`MOBILENETV2_SKIP_LAYERS` activations, at strides
        2, 4, 8, 16, 32 with 96, 144, 192, 576 and 320 channels.

    Raises:
        WeightsError: ``"imagenet"`` cannot be downloaded (outside smoke mode), or a
            weights file is missing or does not fit.
    """
    resolved = resolve_encoder_weights(weights)
    try:
        base = keras.applications.MobileNetV2(
            input_shape=input_shape, include_top=False, weights=resolved
        )
    except Exception as e:
        if resolved != "imagenet":
            raise WeightsError(f"{resolved}: could not load MobileNetV2 weights ({e})") from e
        message = (
            f"Could not download MobileNetV2 ImageNet weights ({e}). Point "
            "SEGLIB_ENCODER_WEIGHTS (or weights=) at a local "
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5, or copy it "
            "into ~/.keras/models/."
        )
        if not smoke_mode():
            raise WeightsError(message) from e
        warnings.warn(
            message + " Smoke mode: using RANDOM encoder weights; results mean nothing.",
            stacklevel=2,
        )
        base = keras.applications.MobileNetV2(
            input_shape=input_shape, include_top=False, weights=None
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
    *skips, x = encoder(x)
    for filters, skip in zip(decoder_filters, reversed(skips), strict=True):
        x = upsample(filters, 3, dropout)(x)
        x = layers.Concatenate()([x, skip])
    logits = layers.Conv2DTranspose(num_classes, 3, strides=2, padding="same", name="logits")(x)
    return keras.Model(inputs, logits, name="mobilenetv2_unet")


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
    logits = model.predict_on_batch(images)
    return np.argmax(logits, axis=-1).astype(np.uint8)
