import json

from seglib import metrics, predict

import keras
import numpy as np
import pandas as pd
import pytest

# A hand-computed example: 10 pixels, classes 0 pet, 1 background, 2 border.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 0])
# true\pred   0  1  2
# 0 (pet)     3  1  0
# 1 (bg)      0  3  1
# 2 (border)  1  0  1
CONFUSION = np.array([[3, 1, 0], [0, 3, 1], [1, 0, 1]])


def test_confusion_matrix_by_hand():
    np.testing.assert_array_equal(metrics.confusion_matrix(Y_TRUE, Y_PRED), CONFUSION)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(Y_TRUE.reshape(2, 5, 1), Y_PRED.reshape(2, 5)), CONFUSION
    )


def test_confusion_matrix_rejects_bad_labels():
    with pytest.raises(ValueError, match="outside"):
        metrics.confusion_matrix([0, 3], [0, 1])
    with pytest.raises(ValueError, match="labels"):
        metrics.confusion_matrix([0, 1], [0])


def test_scores_by_hand():
    s = metrics.Scores(CONFUSION)
    # IoU: pet 3/(4+4-3)=0.6, background 3/(4+4-3)=0.6, border 1/(2+2-1)=1/3
    np.testing.assert_allclose(s.iou, [0.6, 0.6, 1 / 3])
    np.testing.assert_allclose(s.dice, [0.75, 0.75, 0.5])
    np.testing.assert_allclose(s.precision, [0.75, 0.75, 0.5])
    np.testing.assert_allclose(s.recall, [0.75, 0.75, 0.5])
    assert s.pixel_accuracy == pytest.approx(0.7)
    assert s.mean_iou == pytest.approx((0.6 + 0.6 + 1 / 3) / 3)
    assert list(s.table.index) == ["pet", "background", "border"]
    np.testing.assert_allclose(s.table["pixel share"], [0.4, 0.4, 0.2])
    assert s.summary()["iou_border"] == pytest.approx(1 / 3)


def test_absent_class_is_left_out_of_miou():
    s = metrics.Scores(np.array([[2, 0, 0], [0, 2, 0], [0, 0, 0]]))
    assert np.isnan(s.iou[2]) and s.mean_iou == pytest.approx(1.0)


def _logits_for(pred, num_classes=3):
    return np.eye(num_classes)[pred] * 5.0 - 2.0


def test_keras_metrics_agree_with_hand_example():
    y_true = Y_TRUE.reshape(1, 2, 5, 1)
    logits = _logits_for(Y_PRED).reshape(1, 2, 5, 3).astype(np.float32)
    values = {}
    for metric in metrics.keras_metrics():
        metric.update_state(y_true, logits)
        values[metric.name] = float(metric.result())
    s = metrics.Scores(CONFUSION)
    assert values["pixel_accuracy"] == pytest.approx(s.pixel_accuracy)
    assert values["mean_iou"] == pytest.approx(s.mean_iou, abs=1e-6)
    assert values["iou_border"] == pytest.approx(1 / 3, abs=1e-6)
    assert values["iou_pet"] == pytest.approx(0.6, abs=1e-6)


def test_evaluate_accumulates_over_batches():
    import tensorflow as tf

    inputs = keras.Input((2, 5, 3))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))  # logits = the input
    images = _logits_for(Y_PRED).reshape(1, 2, 5, 3).astype(np.float32)
    masks = Y_TRUE.reshape(1, 2, 5, 1).astype(np.uint8)
    ds = tf.data.Dataset.from_tensor_slices((np.repeat(images, 3, 0), np.repeat(masks, 3, 0)))
    scores = metrics.evaluate(model, ds.batch(2))
    np.testing.assert_array_equal(scores.confusion, 3 * CONFUSION)


def test_report_tabulates_and_records(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    monkeypatch.setenv("SEGLIB_METRICS_FILE", str(path))
    table = metrics.report({"a": metrics.Scores(CONFUSION)})
    assert table.loc["a", "pixel_accuracy"] == pytest.approx(0.7)
    metrics.report({"b": metrics.Scores(np.eye(3, dtype=int))})
    recorded = json.loads(path.read_text())
    assert recorded["a"]["mean_iou"] == pytest.approx(s_miou := (0.6 + 0.6 + 1 / 3) / 3)
    assert recorded["b"]["mean_iou"] == pytest.approx(1.0) and s_miou < 1


def test_report_records_plain_figures_too(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    monkeypatch.setenv("SEGLIB_METRICS_FILE", str(path))
    table = metrics.report({"int8": {"size_mib": np.float32(6.5), "met": np.bool_(True)}})
    assert table.loc["int8", "size_mib"] == pytest.approx(6.5)
    recorded = json.loads(path.read_text())  # NumPy scalars became JSON numbers
    assert recorded["int8"] == {"size_mib": pytest.approx(6.5), "met": True}


# Scoring at original resolution, per photo, and paired bootstrap intervals (issue 10).

PET, BACKGROUND, BORDER = 1, 2, 3  # trimap values


def _colour_model():
    """Logits = 10 x colour: a red pixel is called pet, green background, blue border."""
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])
    model.layers[0].set_weights([10 * np.eye(3, dtype=np.float32)[None, None], np.zeros(3)])
    return model


def _painted(trimap, predicted):
    """A photo coloured by the labels we want predicted; its trimap is the truth."""
    image = (255 * np.eye(3)[predicted - 1]).astype(np.uint8)
    return image, trimap[..., None].astype(np.uint8)


def test_evaluate_photos_per_image_and_dataset_level_on_a_worked_example():
    # Photo A (4x4): pet in the left two columns; the model calls three columns pet.
    truth_a = np.full((4, 4), BACKGROUND)
    truth_a[:, :2] = PET
    called_a = np.full((4, 4), BACKGROUND)
    called_a[:, :3] = PET
    # Photo B: a small pet (one column), predicted perfectly.
    truth_b = np.full((4, 4), BACKGROUND)
    truth_b[:, 0] = PET
    pairs = [_painted(truth_a, called_a), _painted(truth_b, truth_b)]
    result = metrics.evaluate_photos(_colour_model(), pairs, image_size=4)
    per = result.per_image
    assert len(per) == 2
    # A: pet IoU 8 / 12, background 4 / 8; border absent from both -> NaN, left out of mIoU.
    np.testing.assert_allclose(per.loc[0, ["iou_pet", "iou_background"]], [8 / 12, 4 / 8])
    assert np.isnan(per.loc[0, "iou_border"])
    np.testing.assert_allclose(per.loc[0, "mean_iou"], (8 / 12 + 4 / 8) / 2)
    np.testing.assert_allclose(per.loc[1, ["iou_pet", "iou_background"]], [1.0, 1.0])
    # Dataset level: one confusion matrix over all 32 pixels. Pet: 12 / 16, background 16 / 20.
    assert result.scores.confusion.sum() == 32
    np.testing.assert_allclose(result.scores.iou[:2], [12 / 16, 16 / 20])
    # The two averages differ: per image, the small perfect pet counts as much as A.
    np.testing.assert_allclose(per["iou_pet"].mean(), (8 / 12 + 1) / 2)
    assert result.summary()["per_image_mean_iou"] == pytest.approx(per["mean_iou"].mean())


def test_evaluate_photos_scores_at_the_photos_own_resolution():
    pairs = []
    for height, width in ((37, 53), (64, 40)):
        truth = np.full((height, width), BACKGROUND)
        truth[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = PET
        pairs.append(_painted(truth, truth))
    result = metrics.evaluate_photos(_colour_model(), pairs, image_size=16)
    assert result.scores.confusion.sum() == 37 * 53 + 64 * 40  # every original pixel
    # Logits resized bilinearly from 16 px back to full size: only edge pixels can miss.
    assert result.scores.pixel_accuracy > 0.9
    assert result.scores.iou[0] > 0.8


def test_evaluate_photos_rejects_a_trimap_out_of_range():
    image, trimap = _painted(np.full((4, 4), PET), np.full((4, 4), PET))
    with pytest.raises(ValueError, match="trimap values"):
        metrics.evaluate_photos(_colour_model(), [(image, trimap * 0)], image_size=4)


def test_confusion_ignoring_border_by_hand():
    # 8 pixels; scores are (pet, background, border). Border-true pixels are not scored, and
    # the others are called by the larger of the pet and background scores alone.
    truth = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    scores = np.array(
        [
            [3, 1, 0],  # pet: pet (right)
            [1, 0, 5],  # pet: border in 3 classes, pet of the two (right)
            [0, 2, 1],  # pet: background (wrong)
            [0, 4, 1],  # background: background (right)
            [2, 1, 6],  # background: border in 3 classes, pet of the two (wrong)
            [1, 1.5, 0],  # background: background (right)
            [5, 0, 0],  # border: not scored
            [0, 0, 9],  # border: not scored
        ]
    )
    confusion = metrics.confusion_ignoring_border(truth, scores)
    np.testing.assert_array_equal(confusion, [[2, 1], [1, 2]])
    two = metrics.Scores(confusion, metrics.TWO_CLASS_NAMES)
    assert two.pixel_accuracy == pytest.approx(4 / 6)
    np.testing.assert_allclose(two.iou, [2 / 4, 2 / 4])  # pet: 2 / (3 + 3 - 2)
    # The three-class score of all 8 pixels: right are 0, 3, 5 and the last border pixel.
    three = metrics.Scores(metrics.confusion_matrix(truth, scores.argmax(-1)))
    assert three.pixel_accuracy == pytest.approx(4 / 8)
    # Shape [2, 4] + classes works the same; bad input gets a clear error.
    np.testing.assert_array_equal(
        metrics.confusion_ignoring_border(truth.reshape(2, 4), scores.reshape(2, 4, 3)), confusion
    )
    with pytest.raises(ValueError, match="class axis"):
        metrics.confusion_ignoring_border(truth, scores[:, :2])
    with pytest.raises(ValueError, match="outside 0..2"):
        metrics.confusion_ignoring_border(truth + 1, scores)


def test_evaluate_photos_ignoring_the_border_on_a_worked_example():
    red, green = (255, 0, 0), (0, 255, 0)
    bluish_green = (0, 100, 255)  # logits (0, 3.9, 10): border, else background
    bluish_red = (100, 0, 255)  # logits (3.9, 0, 10): border, else pet
    image = np.array([[red, bluish_red, green], [bluish_green, red, red]], np.uint8)
    trimap = np.array([[PET, PET, BORDER], [BACKGROUND, BACKGROUND, BORDER]], np.uint8)[..., None]
    pairs = [(image, trimap)]
    three = metrics.evaluate_photos(_colour_model(), pairs, image_size=(2, 3))
    two = metrics.evaluate_photos(_colour_model(), pairs, image_size=(2, 3), ignore_border=True)
    # Three classes: only the red pet pixel is right (1 of 6).
    assert three.scores.pixel_accuracy == pytest.approx(1 / 6)
    # Pet vs background, border pixels left out: pet 2 of 2, background 1 of 2 (one called pet).
    np.testing.assert_array_equal(two.scores.confusion, [[2, 0], [1, 1]])
    assert two.scores.class_names == ("pet", "background")
    row = two.per_image.iloc[0]
    assert list(two.per_image.columns) == [
        "pixel_accuracy",
        "mean_iou",
        "iou_pet",
        "iou_background",
    ]
    assert row["pixel_accuracy"] == pytest.approx(3 / 4)
    assert row["iou_pet"] == pytest.approx(2 / 3) and row["iou_background"] == pytest.approx(1 / 2)
    assert row["mean_iou"] == pytest.approx(7 / 12)


def test_evaluate_photos_with_tta_scores_the_averaged_prediction():
    from seglib.inference import TTA

    truth = np.full((6, 8), BACKGROUND)
    truth[1:4, 2:6] = PET
    truth[4, :] = BORDER
    pairs = [_painted(truth, truth)]
    plain = metrics.evaluate_photos(_colour_model(), pairs, image_size=(6, 8))
    # One pass at scale 1 is the plain prediction; a per-pixel model is mirror-invariant.
    for tta in (TTA((1.0,), flip=False), TTA((1.0,), flip=True)):
        same = metrics.evaluate_photos(_colour_model(), pairs, image_size=(6, 8), tta=tta)
        np.testing.assert_array_equal(same.scores.confusion, plain.scores.confusion)
    assert plain.scores.pixel_accuracy == 1.0
    with pytest.raises(ValueError, match="antialias"):
        metrics.evaluate_photos(_colour_model(), pairs, (6, 8), antialias=False, tta=True)


def test_paired_bootstrap_finds_a_real_difference_and_not_noise():
    rng = np.random.default_rng(0)
    b = rng.uniform(0.5, 0.9, 200)
    a = b + 0.03 + rng.normal(0, 0.02, 200)  # a is better by 0.03 on every photo, plus noise
    real = metrics.paired_bootstrap(a, b)
    assert real.excludes_zero and real.low < 0.03 < real.high and real.n == 200
    noise = metrics.paired_bootstrap(b + rng.normal(0, 0.05, 200), b)
    assert not noise.excludes_zero and noise.low < 0 < noise.high
    again = metrics.paired_bootstrap(a, b)  # seeded: the interval repeats
    assert (again.low, again.high) == (real.low, real.high)
    assert "95% CI" in str(real)


def test_paired_bootstrap_pairs_photos_and_checks_input():
    # Unpaired, these overlap completely; paired, b beats a on every photo by 0.01.
    a = np.linspace(0.2, 0.9, 50)
    b = a + 0.01
    pair = metrics.paired_bootstrap(a, b)
    assert pair.excludes_zero and pair.mean == pytest.approx(-0.01)
    with_nan = metrics.paired_bootstrap(np.append(a, np.nan), np.append(b, 0.5))
    assert with_nan.n == 50
    with pytest.raises(ValueError, match="paired"):
        metrics.paired_bootstrap(a, b[:-1])
    with pytest.raises(ValueError, match="at least 2"):
        metrics.paired_bootstrap([np.nan, 0.1], [0.2, np.nan])


def test_report_records_evaluations_and_differences(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    monkeypatch.setenv("SEGLIB_METRICS_FILE", str(path))
    image, trimap = _painted(np.full((4, 4), PET), np.full((4, 4), PET))
    evaluation = metrics.evaluate_photos(_colour_model(), [(image, trimap)], image_size=4)
    diff = metrics.Difference(0.02, 0.01, 0.03, 0.95, 40)
    table = metrics.report({"model": evaluation, "model - other": diff})
    recorded = json.loads(path.read_text())
    assert recorded["model"]["per_image_mean_iou"] == pytest.approx(1.0)
    assert recorded["model - other"] == {
        "difference": 0.02,
        "ci_low": 0.01,
        "ci_high": 0.03,
        "photos": 40,
    }
    assert table.loc["model", "iou_pet"] == pytest.approx(1.0)


def test_report_keeps_photo_counts_whole():
    diffs = {
        "a - b": metrics.Difference(0.02, 0.01, 0.03, 0.95, 298),
        "a - c": metrics.Difference(-0.01, -0.02, 0.00, 0.95, 298),
    }
    table = metrics.report(diffs)
    assert list(table.index) == ["a - b", "a - c"]
    assert pd.api.types.is_integer_dtype(table["photos"])
    assert "298.0" not in table.round(3).to_string()


def test_verdict_names_a_winner_only_above_the_noise():
    winner = metrics.Difference(-0.021, -0.030, -0.012, 0.95, 298)
    text = winner.verdict("fine-tuned", "frozen")
    assert winner.above_noise
    assert text.startswith(
        "On these test photos, for this training run, the difference in per-image mIoU "
        "favours **frozen** over fine-tuned"
    )
    assert "fine-tuned − frozen = -0.021 (95% CI -0.030 to -0.012, 298 photos)" in text
    noise = metrics.Difference(0.004, -0.002, 0.010, 0.95, 298)
    assert not noise.above_noise
    assert "**within noise** on per-image mIoU" in noise.verdict("a", "b")
    assert noise.verdict("a", "b").count("**") == 2  # only "within noise" is in bold
    # Excludes zero but prints as +0.000: no winner either (the one rule, not just the sign).
    tiny = metrics.Difference(0.0002, 0.0001, 0.0004, 0.95, 50)
    assert tiny.excludes_zero and not tiny.above_noise
    assert "the same on pet IoU to three decimals" in tiny.verdict("a", "b", what="pet IoU")
    scoped = winner.verdict("a", "b", scope="on these validation photos")
    assert scoped.startswith(
        "On these validation photos, the difference in per-image mIoU favours **b**"
    )


def test_bonferroni_level_and_the_note_that_offers_it():
    assert metrics.bonferroni(0.95, 1) == pytest.approx(0.95)
    assert metrics.bonferroni(0.95, 10) == pytest.approx(0.995)
    with pytest.raises(ValueError, match="comparisons"):
        metrics.bonferroni(0.95, 0)
    with pytest.raises(ValueError, match="confidence"):
        metrics.bonferroni(1.5, 3)
    note = metrics.multiple_comparisons_note(10)
    assert "10 comparisons" in note and "about 0.5 of them" in note and "99.5%" in note
    # The adjusted level really widens the interval.
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 0.9, 100), rng.uniform(0.5, 0.9, 100)
    plain = metrics.paired_bootstrap(a, b)
    strict = metrics.paired_bootstrap(a, b, confidence=metrics.bonferroni(0.95, 10))
    assert strict.high - strict.low > plain.high - plain.low


def test_evaluate_photos_with_one_plain_pass_of_tta_scores_as_without():
    from seglib import inference

    pairs = []
    for height, width in ((37, 53), (64, 40)):
        truth = np.full((height, width), BACKGROUND)
        truth[height // 4 : 3 * height // 4, : width // 2] = PET
        pairs.append(_painted(truth, truth))
    plain = metrics.evaluate_photos(_colour_model(), pairs, image_size=16)
    one_pass = inference.TTA((1.0,), flip=False)
    same = metrics.evaluate_photos(_colour_model(), pairs, image_size=16, tta=one_pass)
    np.testing.assert_array_equal(same.scores.confusion, plain.scores.confusion)
    pd.testing.assert_frame_equal(same.per_image, plain.per_image)


def test_evaluate_photos_with_tta_scores_the_averaged_probabilities():
    from seglib import inference

    inputs = keras.Input((None, None, 3))  # random, not mirror-symmetric, any input size
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(hidden))
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(0.0, 1.5, w.shape) for w in model.get_weights()])
    image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    trimap = rng.integers(1, 4, (40, 60, 1), dtype=np.uint8)
    tta = inference.TTA((0.5, 1.0, 1.5), flip=True)
    result = metrics.evaluate_photos(model, [(image, trimap)], image_size=32, tta=tta)
    averaged = predict.predict_tta(model, image, (32, 32), tta)
    expected = metrics.confusion_matrix(trimap[..., 0] - 1, averaged.argmax(-1))
    np.testing.assert_array_equal(result.scores.confusion, expected)
    plain = metrics.evaluate_photos(model, [(image, trimap)], image_size=32)
    assert not np.array_equal(plain.scores.confusion, expected)  # TTA changed the masks


def test_evaluate_photos_refuses_bad_tta_arguments():
    from seglib.errors import CalibrationError

    image, trimap = _painted(np.full((4, 4), PET), np.full((4, 4), PET))
    with pytest.raises(CalibrationError, match="tta"):
        metrics.evaluate_photos(_colour_model(), [(image, trimap)], image_size=4, tta="yes")
    with pytest.raises(ValueError, match="antialias"):
        metrics.evaluate_photos(
            _colour_model(), [(image, trimap)], image_size=4, tta=True, antialias=False
        )


def test_evaluate_photos_in_batches_scores_as_photo_by_photo():
    # A model whose output mixes neighbouring pixels and channels (3x3 convolutions,
    # BatchNorm in inference mode), on photos of different sizes and aspect ratios: each
    # photo's logits must be resized to its own size, whatever else is in its batch.
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Conv2D(3, 3, padding="same"),
        ]
    )
    rng = np.random.default_rng(0)
    sizes = [(20, 30), (41, 17), (16, 16), (33, 33), (25, 40)]
    pairs = [
        (
            rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
            rng.integers(1, 4, (h, w, 1), dtype=np.uint8),
        )
        for h, w in sizes
    ]
    one_by_one = [
        metrics.confusion_matrix(
            t[..., 0] - 1, predict.predict_full_resolution(model, i, 16).argmax(-1)
        )
        for i, t in pairs
    ]
    for batch_size in (1, 2, 16):
        result = metrics.evaluate_photos(model, pairs, 16, batch_size=batch_size)
        np.testing.assert_array_equal(result.scores.confusion, np.sum(one_by_one, axis=0))
        expected = [metrics.Scores(c, metrics.CLASS_NAMES).mean_iou for c in one_by_one]
        np.testing.assert_allclose(result.per_image["mean_iou"], expected)
    for bad in (0, 2.5, True, "16"):
        with pytest.raises(ValueError, match="batch_size"):
            metrics.evaluate_photos(model, pairs, 16, batch_size=bad)
