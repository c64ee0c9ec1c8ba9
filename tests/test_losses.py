from seglib import losses

import keras
import numpy as np
import pytest

# A hand-computed example: one 1x2 image, labels [pet, background], three classes.
# Logits 0 everywhere -> softmax 1/3 per class.
LABELS = np.array([[[[0], [1]]]], np.uint8)  # [1, 1, 2, 1]
ZERO_LOGITS = np.zeros((1, 1, 2, 3), np.float32)


def _perfect_logits(labels, num_classes=3, margin=30.0):
    return (np.eye(num_classes)[labels[..., 0]] * margin).astype(np.float32)


def test_soft_dice_by_hand():
    s = 1.0
    # pet:        intersection 1/3, |p| = 2/3, |g| = 1 -> (2/3 + s) / (5/3 + s)
    # background: the same; border: intersection 0, |p| = 2/3, |g| = 0 -> s / (2/3 + s)
    pet = (2 / 3 + s) / (5 / 3 + s)
    border = s / (2 / 3 + s)
    dice = np.asarray(losses.soft_dice_per_class(LABELS, ZERO_LOGITS, 3, s))
    np.testing.assert_allclose(dice, [[pet, pet, border]], rtol=1e-6)
    loss = losses.SoftDiceLoss(smooth=s)
    assert float(loss(LABELS, ZERO_LOGITS)) == pytest.approx(1 - (2 * pet + border) / 3, rel=1e-6)
    # masks without the channel axis give the same value
    assert float(loss(LABELS[..., 0], ZERO_LOGITS)) == pytest.approx(
        float(loss(LABELS, ZERO_LOGITS))
    )


def _masks(seed=0, batch=3, size=8):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, size=(batch, size, size, 1)).astype(np.uint8)


@pytest.mark.parametrize("make", [losses.SoftDiceLoss, losses.DiceCrossEntropyLoss])
def test_perfect_logits_give_about_zero_and_wrong_ones_more(make):
    masks = _masks()
    loss = make()
    perfect = float(loss(masks, _perfect_logits(masks)))
    wrong = float(loss(masks, _perfect_logits((masks + 1) % 3)))  # every pixel wrong
    uninformed = float(loss(masks, np.zeros(masks.shape[:-1] + (3,), np.float32)))
    assert 0 <= perfect < 1e-3
    assert wrong > uninformed > perfect
    assert wrong > 0.9


def test_dice_weighs_errors_on_a_rare_class_more_than_cross_entropy_does():
    """Five wrong pixels cost cross-entropy the same whichever class they belong to; for
    the Dice loss, losing the whole of a rare class (5 border pixels) costs far more than
    losing 5 of 40 pet pixels (the point of using Dice against class imbalance)."""
    truth = np.ones((1, 10, 10, 1), np.uint8)  # background
    truth[0, 2:6, 2::] = 0  # 4 x 8 = 32 pet pixels
    truth[0, 0, :5] = 2  # 5 border pixels
    border_missed = np.where(truth == 2, 1, truth)
    pet_cut = truth.copy()
    pet_cut[0, 2, 2:7] = 1  # 5 pet pixels called background
    dice = losses.SoftDiceLoss()
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def cost(loss, prediction):
        return float(loss(truth, _perfect_logits(prediction, margin=5.0))) - float(
            loss(truth, _perfect_logits(truth, margin=5.0))
        )

    assert cost(ce, border_missed) == pytest.approx(cost(ce, pet_cut), rel=1e-4)
    assert cost(dice, border_missed) > 4 * cost(dice, pet_cut)


def test_reduction_none_gives_one_value_per_image_and_sample_weights_per_image():
    masks = _masks(batch=3)
    logits = np.random.default_rng(1).normal(size=masks.shape[:-1] + (3,)).astype(np.float32)
    per_image = np.asarray(losses.SoftDiceLoss(reduction=None)(masks, logits))
    assert per_image.shape == (3,)
    mean = float(losses.SoftDiceLoss()(masks, logits))
    assert mean == pytest.approx(per_image.mean(), rel=1e-6)
    weighted = float(losses.SoftDiceLoss()(masks, logits, sample_weight=np.array([1.0, 0, 0])))
    assert weighted == pytest.approx(per_image[0] / 3, rel=1e-6)  # sum_over_batch_size


def test_dice_cross_entropy_is_the_sum_of_its_parts():
    masks = _masks(seed=2)
    logits = np.random.default_rng(2).normal(size=masks.shape[:-1] + (3,)).astype(np.float32)
    ce = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(masks, logits))
    dice = float(losses.SoftDiceLoss()(masks, logits))
    combined = losses.DiceCrossEntropyLoss(ce_weight=1.0, dice_weight=2.0)
    assert float(combined(masks, logits)) == pytest.approx(ce + 2 * dice, rel=1e-5)


def test_losses_train_a_model_and_survive_serialisation(tmp_path):
    keras.utils.set_random_seed(0)
    masks = _masks(batch=4)
    images = np.eye(3)[masks[..., 0]].astype(np.float32)  # the answer is in the input
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    model.compile(keras.optimizers.Adam(0.05), loss=losses.DiceCrossEntropyLoss(dice_weight=2.0))
    history = model.fit(images, masks, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.loss, losses.DiceCrossEntropyLoss)
    assert restored.loss.dice_weight == 2.0
    np.testing.assert_allclose(
        restored.predict(images, verbose=0), model.predict(images, verbose=0)
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="do not fit logits"):
        losses.SoftDiceLoss()(LABELS[0], ZERO_LOGITS)  # labels [1, 2, 1] for logits [1, 1, 2, 3]
    with pytest.raises(ValueError, match="do not fit logits"):
        losses.DiceCrossEntropyLoss()(np.zeros((1, 2, 2, 1)), ZERO_LOGITS)
    with pytest.raises(ValueError, match="smooth"):
        losses.SoftDiceLoss(smooth=-1)
    with pytest.raises(ValueError, match="dice_weight"):
        losses.DiceCrossEntropyLoss(dice_weight=-1)
