"""Seeded augmentation repeats exactly, and its random decisions are independent (issue 10)."""

import seglib
from seglib import data, models

import keras
import numpy as np
import pytest
import tensorflow as tf


def _ramp_pair(size=48):
    """Channel 0 holds the x coordinate, channel 1 the y coordinate, both in [0, 1]."""
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    xs, ys = np.meshgrid(ramp, ramp)
    image = np.stack([xs, ys, np.zeros_like(xs)], -1)
    mask = (np.arange(size)[None, :, None] < size // 3).repeat(size, 0).astype(np.uint8)
    return tf.constant(image), tf.constant(mask)


def _draws(image, mask, seed):
    """Read the flip and the zoom back from an augmented ramp."""
    out, _ = data.augment_strong(image, mask, seed=seed, brightness=0, contrast=0, saturation=0)
    x = out.numpy()[..., 0]
    flipped = x[:, -1].mean() < x[:, 0].mean()
    crop_share = x.max() - x.min()  # the crop keeps this share of the x range
    return flipped, crop_share


def test_same_seed_same_augmentation_and_new_seed_new_one():
    image, mask = _ramp_pair()
    a = data.augment_strong(image, mask, seed=5)
    b = data.augment_strong(image, mask, seed=5)
    c = data.augment_strong(image, mask, seed=6)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())
    seed_pair = tf.constant([5, 0], tf.int64)  # an int seed n means the pair (n, 0)
    np.testing.assert_array_equal(a[0].numpy(), data.augment_strong(image, mask, seed_pair)[0])


def test_flip_and_crop_draws_are_independent():
    image, mask = _ramp_pair()
    draws = [_draws(image, mask, seed) for seed in range(200)]
    flipped = np.array([f for f, _ in draws])
    share = np.array([s for _, s in draws])
    assert 60 < flipped.sum() < 140  # about half are flipped
    assert share.min() < 0.7 and share.max() > 0.95  # zooms cover [0.6, 1]
    # One seed shared by both decisions made them move together (with the same seed,
    # every flipped photo was also zoomed more). Independent draws: same zoom either way.
    assert abs(share[flipped].mean() - share[~flipped].mean()) < 0.05
    assert abs(np.corrcoef(flipped, share)[0, 1]) < 0.2


def test_augment_seed_rejects_a_bad_shape():
    with pytest.raises(ValueError, match="pair of ints"):
        data.augment_seed([1, 2, 3])
    assert data.augment_seed(None).shape == (2,)


def _epochs(pipeline, n=2):
    return [[(x.numpy(), y.numpy()) for x, y in pipeline] for _ in range(n)]


def test_two_seeded_pipelines_give_identical_epochs(synthetic_dir):
    def build():
        raw = data.load("train", synthetic_dir)
        return data.build_pipeline(
            raw, 48, 8, training=True, shuffle_seed=3, augment_fn=data.augment_strong
        )

    first, second = _epochs(build()), _epochs(build())
    for epoch_a, epoch_b in zip(first, second, strict=True):
        assert len(epoch_a) == len(epoch_b)
        for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    # ... while each epoch still brings new draws.
    assert not np.array_equal(first[0][0][0], first[1][0][0])


def test_augment_fn_gets_one_seed_per_photo(synthetic_dir):
    seen = []

    def record(image, mask, seed):
        seen.append(seed.shape)
        return image, mask

    raw = data.load("train", synthetic_dir, limit=4)
    next(iter(data.build_pipeline(raw, 32, 2, training=True, augment_fn=record)))
    assert seen and all(shape == (2,) for shape in seen)


def _train_once(synthetic_dir):
    seglib.set_seed(11)
    raw = data.load("train", synthetic_dir, limit=16)
    train = data.build_pipeline(raw, 32, 4, True, shuffle_seed=11, augment_fn=data.augment_strong)
    model = models.unet((32, 32, 3), depth=2, base_filters=4)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(train, epochs=2, verbose=0)
    return history.history["loss"], model.get_weights()


def test_a_seeded_training_run_repeats_exactly(synthetic_dir):
    loss_a, weights_a = _train_once(synthetic_dir)
    loss_b, weights_b = _train_once(synthetic_dir)
    assert loss_a == loss_b
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mixed_resize_trains_on_both_kinds_of_shrinking(synthetic_dir):
    raw = data.load("train", synthetic_dir, limit=6)
    smooth = [data.preprocess(i, m, 32)[0].numpy() for i, m in raw]
    jagged = [data.preprocess_image(i, 32, antialias=False).numpy() for i, _ in raw]
    assert not np.allclose(smooth[0], jagged[0])  # the two really differ

    def keep(image, mask, seed):
        return image, mask

    pipeline = data.build_pipeline(raw, 32, 6, True, 4, keep, mixed_resize=True)
    kinds = []
    for _ in range(4):  # epochs
        ((batch, _),) = list(pipeline)
        for x in batch.numpy():
            kinds.append(
                "smooth"
                if any(np.array_equal(x, s) for s in smooth)
                else "jagged"
                if any(np.array_equal(x, j) for j in jagged)
                else "other"
            )
    assert "other" not in kinds
    assert 4 < kinds.count("smooth") < 20  # both kinds, drawn at random
    off = data.build_pipeline(raw, 32, 6, True, 4, keep)  # default: antialiased only
    ((batch, _),) = list(off)
    assert all(any(np.array_equal(x, s) for s in smooth) for x in batch.numpy())


def test_mixed_resize_plain_copies_get_their_own_augmentation(synthetic_dir):
    raw = data.load("train", synthetic_dir, limit=6)
    jagged = [data.preprocess_image(i, 32, antialias=False).numpy() for i, _ in raw]

    def blank(image, mask, seed):  # marks the antialiased copies
        return tf.zeros_like(image), mask

    def keep(image, mask, seed):
        return image, mask

    pipeline = data.build_pipeline(
        raw, 32, 6, True, 4, blank, mixed_resize=True, plain_augment_fn=keep
    )
    kinds = []
    for _ in range(4):  # epochs
        ((batch, masks),) = list(pipeline)
        assert masks.shape == (6, 32, 32, 1)
        for x in batch.numpy():
            if not x.any():
                kinds.append("antialiased, augment_fn")
            else:  # untouched by blank: must be a plain copy, exactly as shrunk
                assert any(np.array_equal(x, j) for j in jagged)
                kinds.append("plain, plain_augment_fn")
    assert 4 < kinds.count("plain, plain_augment_fn") < 20  # both, drawn at random
    # Without plain_augment_fn, both copies go through augment_fn.
    same = data.build_pipeline(raw, 32, 6, True, 4, blank, mixed_resize=True)
    ((batch, _),) = list(same)
    assert not batch.numpy().any()
