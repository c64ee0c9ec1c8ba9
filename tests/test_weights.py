from seglib import data, weights

import keras
import numpy as np
import pytest
import tensorflow as tf

# A hand-computed example: two 4-pixel images (labels 0 pet, 1 background, 2 border).
# image A: pet 2, background 2, border 0      image B: pet 0, background 2, border 2
MASK_A = np.array([[0, 0], [1, 1]], np.uint8)[..., None]
MASK_B = np.array([[1, 2], [2, 1]], np.uint8)[..., None]
PER_IMAGE = np.array([[2, 2, 0], [0, 2, 2]])
TOTALS = np.array([2, 4, 2])  # 8 pixels: shares 1/4, 1/2, 1/4


def _pairs(masks, batch_size=2):
    masks = np.stack(masks)
    images = np.zeros(masks.shape[:-1] + (3,), np.float32)
    return tf.data.Dataset.from_tensor_slices((images, masks)).batch(batch_size)


def test_per_image_counts_by_hand_and_agree_with_class_pixel_counts():
    ds = _pairs([MASK_A, MASK_B, MASK_A], batch_size=2)  # batches of 2 and 1
    table = weights.per_image_class_counts(ds)
    np.testing.assert_array_equal(table, [[2, 2, 0], [0, 2, 2], [2, 2, 0]])
    np.testing.assert_array_equal(table.sum(0), data.class_pixel_counts(ds))
    np.testing.assert_array_equal(weights.per_image_class_counts(ds.unbatch()), table)


def test_inverse_frequency_weights_by_hand():
    # w_c = N / (C n_c) = 8 / (3 * [2, 4, 2]) = [4/3, 2/3, 4/3]
    w = weights.inverse_frequency_weights(TOTALS)
    np.testing.assert_allclose(w, [4 / 3, 2 / 3, 4 / 3])
    np.testing.assert_allclose(weights.inverse_frequency_weights(PER_IMAGE), w)
    # normalised so that the average weight per pixel is 1: (2*4/3 + 4*2/3 + 2*4/3) / 8
    assert weights.mean_pixel_weight(w, TOTALS) == pytest.approx(1.0)
    # and every class then carries the same total weight, n_c * w_c = 8/3
    np.testing.assert_allclose(TOTALS * w, [8 / 3] * 3)


def test_median_frequency_weights_by_hand():
    # Eigen & Fergus: freq_c = pixels of c / pixels of the images where c is present.
    # pet: 2/4 (only A), background: 4/8 (both), border: 2/4 (only B) -> all 1/2 -> w = 1
    np.testing.assert_allclose(weights.median_frequency_weights(PER_IMAGE), [1, 1, 1])
    # From totals alone every class counts as present everywhere: shares 1/4, 1/2, 1/4,
    # median 1/4 -> w = [1, 1/2, 1]
    np.testing.assert_allclose(weights.median_frequency_weights(TOTALS), [1, 0.5, 1])
    # a second example where the presence rule changes the ranking less trivially:
    table = np.array([[6, 2, 0], [0, 4, 4]])  # pet 6/8, bg 6/16, border 4/8
    freq = np.array([6 / 8, 6 / 16, 4 / 8])
    np.testing.assert_allclose(weights.median_frequency_weights(table), np.median(freq) / freq)


def test_class_frequencies_and_bad_counts():
    np.testing.assert_allclose(weights.class_frequencies(TOTALS), [0.25, 0.5, 0.25])
    with pytest.raises(ValueError, match="border"):
        weights.inverse_frequency_weights([5, 5, 0])
    with pytest.raises(ValueError, match="border"):
        weights.median_frequency_weights([[5, 5, 0], [1, 1, 0]])
    with pytest.raises(ValueError, match="non-negative"):
        weights.class_frequencies([1, -1, 2])
    with pytest.raises(ValueError, match="no pixels"):
        weights.class_frequencies([0, 0, 0])
    with pytest.raises(ValueError, match="shape"):
        weights.class_frequencies(np.ones((2, 2, 3)))


def test_add_sample_weights_triple_shapes_dtypes_and_placement():
    ds = data.build_pipeline(data.load("train", "synthetic", limit=4), image_size=32, batch_size=2)
    class_weights = [0.5, 0.25, 4.0]
    weighted = weights.add_sample_weights(ds, class_weights)
    image_spec, mask_spec, weight_spec = weighted.element_spec
    assert image_spec.dtype == tf.float32 and image_spec.shape.as_list() == [None, 32, 32, 3]
    assert mask_spec.dtype == tf.uint8 and mask_spec.shape.as_list() == [None, 32, 32, 1]
    assert weight_spec.dtype == tf.float32 and weight_spec.shape.as_list() == [None, 32, 32]
    for (image, mask), (image2, mask2, sample_weight) in zip(ds, weighted, strict=True):
        np.testing.assert_array_equal(image, image2)
        np.testing.assert_array_equal(mask, mask2)
        labels = mask.numpy()[..., 0]
        assert set(np.unique(labels)) == {0, 1, 2}  # every class shows up
        for k, w in enumerate(class_weights):
            np.testing.assert_array_equal(sample_weight.numpy()[labels == k], w)


def test_add_sample_weights_rejects_bad_input():
    ds = _pairs([MASK_A, MASK_B])
    with pytest.raises(ValueError, match="one weight per class"):
        weights.add_sample_weights(ds, [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=">= 0"):
        weights.add_sample_weights(ds, [1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match="pairs"):
        weights.add_sample_weights(ds.map(lambda x, y: x), [1.0, 1.0, 1.0])
    too_few = weights.add_sample_weights(ds, [1.0, 1.0])  # label 2 has no weight
    with pytest.raises(tf.errors.InvalidArgumentError, match="no class weight"):
        next(iter(too_few))


def _batch(seed=0, batch=2, size=6):
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, 3, size=(batch, size, size, 1)).astype(np.uint8)
    logits = rng.normal(size=(batch, size, size, 3)).astype(np.float32)
    return masks, logits


def test_weighted_loss_by_hand_and_equal_weights_change_nothing():
    masks, logits = _batch()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    unweighted = float(loss(masks, logits))
    # per-pixel cross-entropy by hand: -log softmax(logits)[true class]
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    pixel_ce = -np.take_along_axis(log_p, masks.astype(int), axis=-1)[..., 0]
    assert unweighted == pytest.approx(pixel_ce.mean(), rel=1e-5)

    class_weights = np.array([0.5, 0.25, 4.0])
    sw = weights.pixel_weights(masks, class_weights)
    # Keras' "sum_over_batch_size" divides by the number of pixels, not by the weight sum
    expected = (class_weights[masks[..., 0]] * pixel_ce).mean()
    assert float(loss(masks, logits, sample_weight=sw)) == pytest.approx(expected, rel=1e-5)

    ones = weights.pixel_weights(masks, [1.0, 1.0, 1.0])
    assert float(loss(masks, logits, sample_weight=ones)) == pytest.approx(unweighted, rel=1e-6)
    # equally frequent classes give inverse-frequency weights of exactly 1
    balanced = weights.inverse_frequency_weights([7, 7, 7])
    np.testing.assert_allclose(balanced, 1.0)
    sw = weights.pixel_weights(masks, balanced)
    assert float(loss(masks, logits, sample_weight=sw)) == pytest.approx(unweighted, rel=1e-6)


# --- what Keras 3 does with class_weight for per-pixel targets --------------------------


def _tiny_model(size=6):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((size, size, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))  # per-pixel logits
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _images_and_masks(size=6, batch=4):
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(batch, size, size, 3)).astype(np.float32)
    masks = rng.integers(0, 3, size=(batch, size, size, 1)).astype(np.uint8)
    return images, masks


CLASS_WEIGHT = {0: 1.0, 1: 0.5, 2: 4.0}


def test_keras_class_weight_on_tf_data_equals_explicit_pixel_weights():
    """Keras 3 no longer refuses class_weight for [B, H, W, 1] targets on tf.data: it maps
    each pixel's label to its weight, exactly like add_sample_weights (same first-step
    loss, same update)."""
    images, masks = _images_and_masks()
    ds = tf.data.Dataset.from_tensor_slices((images, masks)).batch(4)
    by_keras = _tiny_model()
    h1 = by_keras.fit(ds, class_weight=CLASS_WEIGHT, epochs=1, verbose=0)
    explicit = _tiny_model()
    h2 = explicit.fit(weights.add_sample_weights(ds, [1.0, 0.5, 4.0]), epochs=1, verbose=0)
    plain = _tiny_model()
    h0 = plain.fit(ds, epochs=1, verbose=0)
    assert h1.history["loss"][0] == pytest.approx(h2.history["loss"][0], rel=1e-6)
    assert abs(h1.history["loss"][0] - h0.history["loss"][0]) > 1e-3  # weights did act
    for a, b in zip(by_keras.get_weights(), explicit.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_keras_class_weight_misreads_masks_without_channel_axis():
    """With masks [B, H, W] (no channel axis) Keras takes the last axis for one-hot classes
    and argmaxes over the image width: the 'weights' are per row, not per pixel, and fit
    fails (here: a label index out of range or a shape mismatch)."""
    images, masks = _images_and_masks()
    ds = tf.data.Dataset.from_tensor_slices((images, masks[..., 0])).batch(4)
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
        _tiny_model().fit(ds, class_weight=CLASS_WEIGHT, epochs=1, verbose=0)
    _tiny_model().fit(ds, epochs=1, verbose=0)  # the same data trains fine unweighted


def test_keras_class_weight_refuses_pixel_targets_as_numpy_arrays():
    """For NumPy inputs Keras converts class_weight with one weight per *sample*, which
    fails for per-pixel targets: class weighting of masks works only on tf.data."""
    images, masks = _images_and_masks()
    with pytest.raises(TypeError):
        _tiny_model().fit(images, masks, class_weight=CLASS_WEIGHT, epochs=1, verbose=0)
