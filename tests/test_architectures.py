"""The models trained from scratch: keras.io's Xception-style U-Net and the original U-Net."""

from seglib import data, models

import keras
import numpy as np
import pytest
import tensorflow as tf


def expected_unet_params(depth, base_filters, num_classes=3, batch_norm=True, skips=True):
    """Parameter count of the U-Net of Ronneberger et al. with "same" convolutions, by hand.

    A 3×3 convolution from ``cin`` to ``cout`` channels has ``9 cin cout`` weights, plus
    ``cout`` biases without BatchNorm; BatchNorm adds 4 per channel (gamma, beta and the
    two moving statistics). A 2×2 up-convolution has ``4 cin cout + cout``.
    """

    def conv3(cin, cout):
        return 9 * cin * cout + (4 * cout if batch_norm else cout)

    def level(cin, cout):
        return conv3(cin, cout) + conv3(cout, cout)

    filters = [base_filters * 2**k for k in range(depth + 1)]
    total, channels = 0, 3
    for f in filters:  # encoder levels and the bottom
        total += level(channels, f)
        channels = f
    for f in reversed(filters[:-1]):  # decoder levels
        total += 4 * channels * f + f  # up-convolution
        total += level(2 * f if skips else f, f)
        channels = f
    return total + base_filters * num_classes + num_classes  # 1×1 logits


def _assert_logits(model, size, num_classes=3):
    x = np.random.default_rng(0).uniform(0, 1, (2, size, size, 3)).astype(np.float32)
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, size, size, num_classes)
    assert not np.allclose(y.sum(-1), 1.0)  # logits, not probabilities


def test_xception_unet_matches_the_keras_io_parameter_count():
    model = models.xception_unet((160, 160, 3), num_classes=3)
    assert model.count_params() == 2_058_979
    assert model.output_shape == (None, 160, 160, 3)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"SeparableConv2D", "Conv2DTranspose", "Add", "UpSampling2D"} <= kinds
    assert "Concatenate" not in kinds  # residual additions, no U-Net concatenations


@pytest.mark.parametrize("size", [64, 96])
def test_xception_unet_outputs_logits_at_input_resolution(size):
    _assert_logits(models.xception_unet((size, size, 3), num_classes=3), size)


@pytest.mark.parametrize(
    "depth, base_filters, batch_norm, skips",
    [(4, 16, True, True), (4, 64, False, True), (3, 8, True, False), (2, 4, False, False)],
)
def test_unet_parameter_count_follows_the_paper(depth, base_filters, batch_norm, skips):
    model = models.unet(
        (64, 64, 3),
        depth=depth,
        base_filters=base_filters,
        batch_norm=batch_norm,
        skip_connections=skips,
    )
    assert model.count_params() == expected_unet_params(
        depth, base_filters, batch_norm=batch_norm, skips=skips
    )


def test_unet_paper_size_is_about_31_million_parameters():
    model = models.unet((64, 64, 3), depth=4, base_filters=64, batch_norm=False)
    assert 31.0e6 < model.count_params() < 31.1e6  # 31,031,875 with 3 classes


def test_unet_filters_double_with_depth():
    model = models.unet((64, 64, 3), depth=4, base_filters=8)
    widths = [model.get_layer(f"down{k}_conv2").filters for k in range(4)]
    assert widths == [8, 16, 32, 64]
    assert model.get_layer("bottom_conv2").filters == 128


@pytest.mark.parametrize("size, depth", [(64, 4), (96, 3)])
def test_unet_outputs_logits_at_input_resolution(size, depth):
    _assert_logits(models.unet((size, size, 3), depth=depth, base_filters=4), size)


def test_unet_without_skips_has_no_concatenations():
    with_skips = models.unet((64, 64, 3), depth=3, base_filters=4)
    without = models.unet((64, 64, 3), depth=3, base_filters=4, skip_connections=False)
    count = lambda m: sum(isinstance(layer, keras.layers.Concatenate) for layer in m.layers)  # noqa: E731
    assert count(with_skips) == 3 and count(without) == 0
    assert without.output_shape == with_skips.output_shape


def test_unet_rejects_sizes_the_pooling_cannot_halve():
    with pytest.raises(ValueError, match="multiples of 2\\*\\*depth = 16"):
        models.unet((100, 100, 3), depth=4)
    with pytest.raises(ValueError, match="depth"):
        models.unet((64, 64, 3), depth=0)


@pytest.mark.parametrize(
    "build",
    [
        lambda: models.xception_unet((64, 64, 3)),
        lambda: models.unet((64, 64, 3), depth=3, base_filters=8),
        lambda: models.unet((64, 64, 3), depth=3, base_filters=8, skip_connections=False),
    ],
    ids=["xception_unet", "unet", "unet_no_skips"],
)
def test_overfits_one_batch(build, square_batch):
    """A real learning check: the loss on one fixed batch must fall well below its start."""
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(
        keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y = square_batch(64, border=True)
    losses = model.fit(x, y, epochs=40, batch_size=4, verbose=0).history["loss"]
    assert losses[-1] < 0.4 * losses[0]


def test_unet_round_trips_through_keras_file(tmp_path):
    model = models.unet((64, 64, 3), depth=2, base_filters=4)
    path = tmp_path / "unet.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(1).uniform(0, 1, (1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-5)


# The training recipe of notebooks 03 and 04 relies on seglib.data.augment_strong.


def _coded_pair(size=64):
    """A photo whose colour encodes its own label: red pet, green background, blue border."""
    rng = np.random.default_rng(3)
    mask = np.ones((size, size, 1), np.uint8)
    mask[6:30, 4:30] = 0  # off-centre: a flip of the photo alone would misalign it
    mask[6, 4:30] = 2
    mask[rng.uniform(size=(size, size, 1)) < 0.02] = 2
    image = np.eye(3, dtype=np.float32)[mask[..., 0]]
    return tf.constant(image), tf.constant(mask)


def test_augment_strong_keeps_photo_and_mask_aligned():
    image, mask = _coded_pair()
    tf.random.set_seed(0)
    changed = 0
    for _ in range(8):
        out_image, out_mask = data.augment_strong(
            image, mask, brightness=0, contrast=0, saturation=0
        )
        assert out_image.shape == image.shape and out_image.dtype == tf.float32
        assert out_mask.shape == mask.shape and out_mask.dtype == tf.uint8
        labels = out_mask.numpy()[..., 0]
        assert set(np.unique(labels)) <= {0, 1, 2}  # nearest neighbour: no invented classes
        pure = out_image.numpy().max(-1) > 0.99  # pixels away from bilinear blending
        agree = np.argmax(out_image.numpy(), -1)[pure] == labels[pure]
        assert agree.mean() > 0.97
        changed += not np.array_equal(out_mask.numpy(), mask.numpy())
    assert changed >= 4  # it does augment


def test_augment_strong_colour_jitter_stays_in_range():
    image = tf.random.uniform((32, 32, 3), seed=1)
    mask = tf.zeros((32, 32, 1), tf.uint8)
    out, _ = data.augment_strong(image, mask, brightness=0.5, contrast=0.5, saturation=0.5)
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0
    with pytest.raises(ValueError, match="min_crop"):
        data.augment_strong(image, mask, min_crop=0.0)
