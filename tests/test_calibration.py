"""seglib.metrics calibration: expected calibration error on a worked example, reliability
diagram data, bootstrap intervals over photos, and temperature scaling."""

import warnings

from seglib import calibration, predict
from seglib.errors import CalibrationError

import numpy as np
import pandas as pd
import pytest

# A worked example: 4 pixels, classes 0 pet, 1 background, 2 border, 4 equal-width bins
# [0, .25) [.25, .5) [.5, .75) [.75, 1]. No score lies on a bin edge.
PROBABILITIES = np.array(
    [
        [0.7, 0.2, 0.1],  # true 0: predicted 0 (right) with confidence 0.7
        [0.6, 0.3, 0.1],  # true 1: predicted 0 (wrong) with confidence 0.6
        [0.2, 0.2, 0.6],  # true 2: predicted 2 (right) with confidence 0.6
        [0.1, 0.8, 0.1],  # true 1: predicted 1 (right) with confidence 0.8
    ]
)
LABELS = np.array([0, 1, 2, 1])
# ECE = sum over bins of (n_b / N) * |accuracy_b - confidence_b|, N = 4.
# overall (top label): bin [.5,.75) holds 0.7, 0.6, 0.6: confidence 1.9/3, accuracy 2/3
#   -> 3/4 * |2/3 - 1.9/3| = 0.025; bin [.75,1] holds 0.8, right: 1/4 * |1 - 0.8| = 0.05.
ECE_OVERALL = 0.025 + 0.05
# pet, one-vs-rest: scores 0.7 0.6 0.2 0.1, pet pixels: the first only.
#   bin [0,.25): 0.2, 0.1, no pet -> 2/4 * |0 - 0.15| = 0.075
#   bin [.5,.75): 0.7, 0.6, one pet -> 2/4 * |0.5 - 0.65| = 0.075
ECE_PET = 0.075 + 0.075
# background: scores 0.2 0.3 0.2 0.8, background pixels: the second and fourth.
#   [0,.25): 0.2, 0.2, none -> 2/4 * 0.2 = 0.1; [.25,.5): 0.3, one -> 1/4 * 0.7 = 0.175;
#   [.75,1]: 0.8, one -> 1/4 * 0.2 = 0.05
ECE_BACKGROUND = 0.1 + 0.175 + 0.05
# border: scores 0.1 0.1 0.6 0.1, border pixel: the third.
#   [0,.25): three, none -> 3/4 * 0.1 = 0.075; [.5,.75): 0.6, one -> 1/4 * 0.4 = 0.1
ECE_BORDER = 0.075 + 0.1


def test_ece_on_a_worked_example():
    ece = calibration.expected_calibration_error(PROBABILITIES, LABELS, n_bins=4)
    assert list(ece.index) == ["pet", "background", "border", "overall"]
    np.testing.assert_allclose(
        ece.to_numpy(), [ECE_PET, ECE_BACKGROUND, ECE_BORDER, ECE_OVERALL], atol=1e-12
    )
    # The same pixels as an image [1, 2, 2, C] with labels [1, 2, 2, 1] give the same.
    again = calibration.expected_calibration_error(
        PROBABILITIES.reshape(1, 2, 2, 3), LABELS.reshape(1, 2, 2, 1), n_bins=4
    )
    pd.testing.assert_series_equal(ece, again)


def test_reliability_table_on_the_worked_example():
    cal = calibration.Calibration.from_photos([(PROBABILITIES, LABELS)], n_bins=4)
    table = cal.reliability()
    assert len(table) == 4 * 4 and set(table["curve"]) == set(cal.curves)
    overall = table[table["curve"] == "overall"].reset_index(drop=True)
    np.testing.assert_allclose(overall["bin_low"], [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(overall["count"], [0, 0, 3, 1])
    assert np.isnan(overall.loc[0, "confidence"]) and np.isnan(overall.loc[0, "accuracy"])
    assert overall.loc[2, "confidence"] == pytest.approx(1.9 / 3)
    assert overall.loc[2, "accuracy"] == pytest.approx(2 / 3)
    assert overall.loc[3, "accuracy"] == pytest.approx(1.0)
    np.testing.assert_allclose(overall["share"], [0, 0, 0.75, 0.25])
    background = table[table["curve"] == "background"].reset_index(drop=True)
    np.testing.assert_array_equal(background["count"], [2, 1, 0, 1])
    np.testing.assert_allclose(background["accuracy"], [0.0, 1.0, np.nan, 1.0])
    assert cal.summary()["ece_overall"] == pytest.approx(ECE_OVERALL)


def test_ece_pools_pixels_of_all_photos():
    # Two photos: the dataset-level ECE is that of all their pixels together.
    photos = [(PROBABILITIES[:2], LABELS[:2]), (PROBABILITIES[2:], LABELS[2:])]
    cal = calibration.Calibration.from_photos(iter(photos), n_bins=4)
    assert cal.n_photos == 2 and cal.n_bins == 4
    np.testing.assert_allclose(
        cal.ece().to_numpy(), [ECE_PET, ECE_BACKGROUND, ECE_BORDER, ECE_OVERALL], atol=1e-12
    )


def test_perfectly_calibrated_and_overconfident():
    # Each probability row is used as often as its class frequency says: calibrated, ECE 0.
    probabilities = np.array([[0.5, 0.5, 0.0]] * 4 + [[1.0, 0.0, 0.0]] * 2)
    labels = np.array([0, 0, 1, 1, 0, 0])
    ece = calibration.expected_calibration_error(probabilities, labels, n_bins=10)
    np.testing.assert_allclose(ece.to_numpy(), 0.0, atol=1e-12)
    # Always 100 % sure and right half of the time: overall ECE = |0.5 - 1| = 0.5.
    sure = np.array([[1.0, 0.0, 0.0]] * 4)
    assert calibration.expected_calibration_error(sure, [0, 1, 0, 1])["overall"] == 0.5


def test_ece_checks_its_input():
    with pytest.raises(ValueError, match="shape"):
        calibration.expected_calibration_error(PROBABILITIES, LABELS[:3])
    with pytest.raises(ValueError, match="outside"):
        calibration.expected_calibration_error(PROBABILITIES, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration.expected_calibration_error(PROBABILITIES * 5 - 2, LABELS)  # logits
    with pytest.raises(ValueError, match="NaN"):
        calibration.expected_calibration_error(np.full((4, 3), np.nan), LABELS)
    with pytest.raises(ValueError, match="n_bins"):
        calibration.expected_calibration_error(PROBABILITIES, LABELS, n_bins=0)
    with pytest.raises(ValueError, match="photo 1"):
        calibration.Calibration.from_photos([(PROBABILITIES, LABELS), (PROBABILITIES, LABELS[:2])])
    with pytest.raises(ValueError, match="no photos"):
        calibration.Calibration.from_photos([])


def _photos(n, temperature, seed, size=16):
    """Photos of pixels whose labels are drawn from softmax(logits): calibrated at T=1;
    their probabilities at 1/temperature-sharpened logits are over-confident when T < 1."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        logits = rng.normal(0.0, 2.0, (size, size, 3))
        true = calibration.calibrated_probabilities(logits)
        labels = (true.cumsum(-1) > rng.random((size, size, 1))).argmax(-1)
        out.append((calibration.calibrated_probabilities(logits, temperature), labels))
    return out


def test_bootstrap_resamples_whole_photos():
    cal = calibration.Calibration.from_photos(_photos(5, 1.0, seed=0), n_bins=10)
    # Photo weights [R, N] give the ECE of the photos drawn that often: check by hand.
    drawn = [0, 0, 3, 4, 4]
    weights = np.bincount(drawn, minlength=5)[None].astype(float)
    photos = _photos(5, 1.0, seed=0)
    direct = calibration.Calibration.from_photos([photos[i] for i in drawn], n_bins=10)
    np.testing.assert_allclose(cal._ece(weights)[0], direct.ece().to_numpy())


def test_ece_interval_and_paired_difference():
    calibrated = calibration.Calibration.from_photos(_photos(30, 1.0, seed=1), n_bins=10)
    overconfident = calibration.Calibration.from_photos(_photos(30, 0.4, seed=1), n_bins=10)
    table = calibrated.ece_interval(n_resamples=500)
    assert list(table.index) == list(calibrated.curves)
    assert (table["ci_low"] <= table["ece"]).all() and (table["ece"] <= table["ci_high"]).all()
    assert (table["photos"] == 30).all()
    assert table.loc["overall", "ci_high"] < overconfident.ece()["overall"]
    differences = overconfident.ece_difference(calibrated, n_resamples=500)
    for curve, d in differences.items():
        assert d.n == 30 and d.low <= d.mean <= d.high
        assert d.mean == pytest.approx(overconfident.ece()[curve] - calibrated.ece()[curve])
    assert differences["overall"].excludes_zero and differences["overall"].mean > 0.05
    same = calibrated.ece_difference(calibrated, n_resamples=200)["overall"]
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="not paired"):
        calibrated.ece_difference(calibration.Calibration.from_photos(_photos(3, 1.0, 2)))
    with pytest.raises(ValueError, match="at least 2 photos"):
        calibration.Calibration.from_photos(_photos(1, 1.0, 3)).ece_interval()


def _sampled(logits, temperature, rng):
    """Labels drawn from softmax(logits / temperature): that temperature is the true one."""
    p = calibration.calibrated_probabilities(logits, temperature)
    return (p.cumsum(-1) > rng.random(p.shape[:-1] + (1,))).argmax(-1)


@pytest.mark.parametrize("true_temperature", [0.5, 2.0])
def test_fit_temperature_recovers_a_known_temperature(true_temperature):
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, (8, 64, 64, 3)).astype(np.float32)
    labels = _sampled(logits, true_temperature, rng)
    fitted = calibration.fit_temperature(logits, labels[..., None])
    assert fitted == pytest.approx(true_temperature, rel=0.04)
    # A batch [N, H, W, C] is N photos: the same pixels as a list of photos.
    assert calibration.fit_temperature(list(logits), list(labels)) == pytest.approx(fitted)
    sampled = calibration.fit_temperature(logits, labels, pixels_per_photo=1000)
    assert sampled == pytest.approx(true_temperature, rel=0.1)
    # It minimises the validation cross-entropy: both neighbours are worse.
    loss = calibration.cross_entropy_at(logits, labels, fitted)
    assert loss < calibration.cross_entropy_at(logits, labels, fitted * 1.1)
    assert loss < calibration.cross_entropy_at(logits, labels, fitted / 1.1)


def test_fit_temperature_on_photos_of_different_sizes_and_sampled_pixels():
    rng = np.random.default_rng(1)
    logits = [rng.normal(0.0, 3.0, (h, w, 3)) for h, w in [(60, 80), (90, 50), (70, 70)] * 4]
    labels = [_sampled(z, 1.5, rng) for z in logits]
    everything = calibration.fit_temperature(logits, labels)
    sampled = calibration.fit_temperature(logits, labels, pixels_per_photo=2000, seed=3)
    assert everything == pytest.approx(1.5, rel=0.05)
    assert sampled == pytest.approx(1.5, rel=0.08) and sampled != everything


def test_fit_temperature_checks_its_input():
    z, y = np.zeros((4, 4, 3)), np.zeros((4, 4), int)
    with pytest.raises(CalibrationError, match="do not match"):
        calibration.fit_temperature(z, y[:2])
    with pytest.raises(CalibrationError, match="outside"):
        calibration.fit_temperature(z, y + 3)
    with pytest.raises(CalibrationError, match="NaN"):
        calibration.fit_temperature(np.full((4, 4, 3), np.nan), y)
    with pytest.raises(CalibrationError, match="photo 1"):
        calibration.fit_temperature([z, z[:2]], [y, y])
    with pytest.raises(CalibrationError, match="pair up"):
        calibration.fit_temperature([z, z], [y])
    with pytest.raises(CalibrationError, match="numbers of photos"):
        calibration.fit_temperature(z[None].repeat(3, 0), y[None].repeat(2, 0))
    with pytest.raises(CalibrationError, match="low < high"):
        calibration.fit_temperature(z, y, bounds=(2.0, 1.0))
    with pytest.raises(CalibrationError, match="pixels_per_photo"):
        calibration.fit_temperature(z, y, pixels_per_photo=0)


def test_fit_temperature_warns_at_the_edge_of_its_bounds():
    # Labels always the argmax: sharper is always better, so T runs to the lower bound.
    logits = np.random.default_rng(2).normal(0.0, 1.0, (500, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = calibration.fit_temperature(logits, logits.argmax(-1), bounds=(0.5, 4.0))
    assert fitted == pytest.approx(0.5, rel=1e-3)
    assert any("edge of bounds" in str(w.message) for w in caught)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "warm", None])
def test_temperature_must_be_a_finite_number_above_zero(bad):
    with pytest.raises(CalibrationError, match="temperature"):
        predict.check_temperature(bad)
    with pytest.raises(CalibrationError):
        calibration.calibrated_probabilities(np.zeros((2, 3)), bad)


def test_temperature_keeps_the_argmax_and_softens_or_sharpens():
    logits = np.random.default_rng(4).normal(0.0, 3.0, (32, 32, 3)).astype(np.float32)
    plain = calibration.calibrated_probabilities(logits)
    np.testing.assert_allclose(plain.sum(-1), 1.0, atol=1e-6)
    for temperature in (0.3, 1.0, 2.5):
        p = calibration.calibrated_probabilities(logits, temperature)
        np.testing.assert_array_equal(p.argmax(-1), logits.argmax(-1))
    assert calibration.calibrated_probabilities(logits, 2.5).max(-1).mean() < plain.max(-1).mean()
    assert calibration.calibrated_probabilities(logits, 0.3).max(-1).mean() > plain.max(-1).mean()


def _colour_model():
    """Logits = 4 * (colour channel - 0.5): a red pixel says pet, green background, blue
    border, with probabilities short of 1 (so temperatures matter). Any input size."""
    import keras

    inputs = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(3, 1)
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([4.0 * np.eye(3).reshape(1, 1, 3, 3), np.full(3, -2.0)])
    return model


def _pairs():
    """Two photos of different sizes; the truth differs from the colours on a few pixels."""
    rng = np.random.default_rng(7)
    out = []
    for height, width in ((20, 30), (24, 16)):
        truth = rng.integers(0, 3, (height, width))
        painted = np.where(rng.random((height, width)) < 0.8, truth, (truth + 1) % 3)
        image = (255 * np.eye(3)[painted]).astype(np.uint8)
        out.append((image, (truth + 1)[..., None].astype(np.uint8)))
    return out


def test_evaluate_calibration_at_several_temperatures_on_photos():
    model, pairs = _colour_model(), _pairs()
    results = calibration.evaluate_calibration(model, pairs, 16, temperatures=(1.0, 2.0), n_bins=5)
    assert list(results) == [1.0, 2.0]
    for t, cal in results.items():
        assert cal.n_photos == 2 and cal.n_bins == 5
        assert cal.counts[:, -1].sum() == 20 * 30 + 24 * 16  # every pixel, full resolution
        by_hand = []
        for image, trimap in pairs:
            logits = predict.predict_full_resolution(model, image, 16)
            by_hand.append((calibration.calibrated_probabilities(logits, t), trimap[..., 0] - 1))
        expected = calibration.Calibration.from_photos(by_hand, n_bins=5).ece()
        pd.testing.assert_series_equal(cal.ece(), expected)
    assert results[1.0].ece()["overall"] != results[2.0].ece()["overall"]
    with pytest.raises(CalibrationError, match="at least one"):
        calibration.evaluate_calibration(model, pairs, 16, temperatures=())
    with pytest.raises(CalibrationError, match="temperature"):
        calibration.evaluate_calibration(model, pairs, 16, temperatures=(0.0,))
    with pytest.raises(ValueError, match="trimap values"):
        calibration.evaluate_calibration(model, [(pairs[0][0], pairs[0][1] * 0)], 16)


def test_validation_logits_feed_fit_temperature():
    model, pairs = _colour_model(), _pairs()
    logits, labels = calibration.validation_logits(model, pairs, 16, pixels_per_photo=None)
    assert [z.shape for z in logits] == [(600, 3), (384, 3)]
    full = [predict.predict_full_resolution(model, image, 16) for image, _ in pairs]
    np.testing.assert_allclose(logits[0], full[0].reshape(-1, 3), atol=1e-6)
    np.testing.assert_array_equal(labels[1], pairs[1][1].reshape(-1) - 1)
    fitted = calibration.fit_temperature(logits, labels)
    assert fitted == pytest.approx(
        calibration.fit_temperature(full, [t[..., 0] - 1 for _, t in pairs]), rel=1e-4
    )
    sampled, sampled_labels = calibration.validation_logits(model, pairs, 16, pixels_per_photo=100)
    assert [z.shape for z in sampled] == [(100, 3), (100, 3)]
    # The sampled rows are rows of the full photo, with their own labels.
    rows = {tuple(np.round(r, 5)) + (int(y),) for r, y in zip(logits[0], labels[0], strict=True)}
    assert all(
        tuple(np.round(r, 5)) + (int(y),) in rows
        for r, y in zip(sampled[0], sampled_labels[0], strict=True)
    )
