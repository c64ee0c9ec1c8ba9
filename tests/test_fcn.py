"""The FCN baseline of notebook 04: shapes, parameters, and its bilinear initialisation."""

from seglib import models

import keras
import numpy as np
import pytest
import tensorflow as tf


def _upsampler(stride, channels=1):
    """A lone Conv2DTranspose holding the bilinear kernel, as at the top of the FCN."""
    layer = keras.layers.Conv2DTranspose(
        channels, 2 * stride, strides=stride, padding="same", use_bias=False
    )
    layer.build((None, None, None, channels))
    layer.set_weights([models.bilinear_kernel(channels, 2 * stride)])
    return layer


@pytest.mark.parametrize("size,depth", [(32, 2), (64, 4), (48, 4)])
def test_fcn_outputs_logits_at_input_resolution(size, depth):
    model = models.fcn((size, size, 3), depth=depth, base_filters=4)
    x = np.random.default_rng(0).uniform(0, 1, (2, size, size, 3)).astype(np.float32)
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, size, size, 3)
    assert model.get_layer("class_scores").output.shape[1:3] == (size // 2**depth,) * 2


def test_fcn_parameter_count_by_hand():
    depth, base, classes = 3, 4, 3
    model = models.fcn((64, 64, 3), num_classes=classes, depth=depth, base_filters=base)
    total, channels = 0, 3
    for f in (base * 2**k for k in range(depth + 1)):  # encoder levels and the bottom
        total += 9 * channels * f + 4 * f + 9 * f * f + 4 * f  # two 3×3 convs + BatchNorm
        channels = f
    total += channels * classes + classes  # the 1×1 convolution to class scores
    total += (2 * 2**depth) ** 2 * classes * classes  # the upsampling kernel, no bias
    assert model.count_params() == total


def test_fcn_starts_from_the_bilinear_kernel_and_has_no_skips():
    model = models.fcn((64, 64, 3), depth=3, base_filters=4)
    kernel = model.get_layer("upsample").get_weights()[0]
    np.testing.assert_array_equal(kernel, models.bilinear_kernel(3, 16))
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "Concatenate" not in kinds
    assert sum(isinstance(layer, keras.layers.Conv2DTranspose) for layer in model.layers) == 1


@pytest.mark.parametrize("stride", [2, 4, 16])
def test_bilinear_init_upsamples_a_constant_to_the_constant(stride):
    x = np.full((1, 5, 6, 1), 0.7, np.float32)
    y = np.asarray(_upsampler(stride)(x))[0, ..., 0]
    assert y.shape == (5 * stride, 6 * stride)
    inner = y[stride // 2 : -(stride // 2), stride // 2 : -(stride // 2)]
    np.testing.assert_allclose(inner, 0.7, atol=1e-6)
    assert y[0, 0] < 0.7  # at the edges it sees zero padding, unlike a resize


@pytest.mark.parametrize("stride", [2, 4, 16])
def test_bilinear_init_equals_tf_image_resize_on_a_ramp(stride):
    rows, cols = np.meshgrid(np.arange(6.0), np.arange(5.0), indexing="ij")
    x = (0.3 * rows - 0.2 * cols + 0.05 * rows * cols).astype(np.float32)[None, ..., None]
    ours = np.asarray(_upsampler(stride)(x))[0, ..., 0]
    resized = tf.image.resize(x, (6 * stride, 5 * stride), "bilinear").numpy()[0, ..., 0]
    edge = stride // 2
    np.testing.assert_allclose(
        ours[edge:-edge, edge:-edge], resized[edge:-edge, edge:-edge], atol=1e-5
    )


def test_bilinear_kernel_keeps_channels_apart():
    kernel = models.bilinear_kernel(3, 4)
    assert kernel.shape == (4, 4, 3, 3) and kernel.dtype == np.float32
    np.testing.assert_allclose(
        kernel[:, :, 0, 0], np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25])
    )
    off_diagonal = kernel[:, :, ~np.eye(3, dtype=bool)]
    assert not off_diagonal.any()
    two = np.random.default_rng(1).uniform(size=(1, 3, 3, 3)).astype(np.float32)
    up = _upsampler(2, channels=3)(two)
    single = _upsampler(2)(two[..., 1:2])
    np.testing.assert_allclose(np.asarray(up)[..., 1], np.asarray(single)[..., 0], atol=1e-6)


@pytest.mark.parametrize("channels,kernel_size", [(0, 4), (3, 0), (2.5, 4), (3, True)])
def test_bilinear_kernel_rejects_bad_sizes(channels, kernel_size):
    with pytest.raises(ValueError, match="whole number"):
        models.bilinear_kernel(channels, kernel_size)


def test_fcn_rejects_bad_shapes():
    with pytest.raises(ValueError, match="multiples of 2\\*\\*depth = 16"):
        models.fcn((100, 100, 3), depth=4)
    with pytest.raises(ValueError, match="depth"):
        models.fcn((64, 64, 3), depth=0)


def test_fcn_learns_one_batch(square_batch):
    """The model trains: the loss on one fixed batch falls well below its start."""
    keras.utils.set_random_seed(0)
    model = models.fcn((32, 32, 3), depth=2, base_filters=4)
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y = square_batch(32)
    losses = model.fit(x, y, epochs=30, batch_size=4, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0]
