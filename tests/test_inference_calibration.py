"""seglib.inference: test-time augmentation (TTA), a temperature stored beside the model and
applied by segment, and the uncertainty map. Tiny convolutional models keep it fast."""

import json
import warnings

from seglib import calibration, inference, models, predict
from seglib.errors import CalibrationError, ModelError

import keras
import numpy as np
import pytest
import tensorflow as tf


def symmetric_model(size: int = 32) -> keras.Model:
    """A 3x3 convolution whose kernel is its own mirror image (left-right): mirroring the
    input mirrors the logits, so the model is flip-equivariant, yet it sees neighbours."""
    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(3, 3, padding="same", name="logits")
    model = keras.Model(inputs, conv(inputs))
    kernel = np.random.default_rng(0).normal(0.0, 1.0, (3, 3, 3, 3))
    kernel[1, 1] += 8.0 * (1.5 * np.eye(3) - 0.5)  # red -> pet, blue -> border, as a colour
    kernel = (kernel + kernel[:, ::-1]) / 2
    conv.set_weights([kernel, np.array([0.0, 1.0, 0.0])])
    return model


def lopsided_model(size: int = 32) -> keras.Model:
    """Two 3x3 convolutions with random kernels: not flip-equivariant, any input size."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same", name="logits")(x))
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(0.0, 1.5, w.shape) for w in model.get_weights()])
    return model


def photo(height=40, width=60, seed=0) -> np.ndarray:
    """A lopsided photo (a bright block on the left, noise): flipping it changes it."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image[5:25, 3:20] = (250, 40, 40)
    return image


@pytest.fixture(scope="module")
def sym():
    return symmetric_model()


@pytest.fixture(scope="module")
def lop():
    return lopsided_model()


# --- TTA ------------------------------------------------------------------------------------


def test_tta_is_off_by_default_and_one_plain_pass_is_segment(lop):
    plain = inference.segment(photo(), lop)
    assert plain.tta is None and plain.forward_passes == 1 and plain.temperature == 1.0
    one = inference.segment(photo(), lop, tta=inference.TTA(scales=(1.0,), flip=False))
    assert one.forward_passes == 1
    np.testing.assert_allclose(one.probabilities, plain.probabilities, atol=1e-6)
    np.testing.assert_array_equal(one.mask, plain.mask)
    off = inference.segment(photo(), lop, tta=False)
    np.testing.assert_array_equal(off.probabilities, plain.probabilities)


def test_flip_equivariant_model_gives_the_same_with_and_without_the_flip(sym):
    image = photo()
    plain = inference.segment(image, sym)
    flipped = inference.segment(image, sym, tta=inference.TTA(scales=(1.0,), flip=True))
    assert flipped.forward_passes == 2
    np.testing.assert_allclose(flipped.probabilities, plain.probabilities, atol=1e-5)
    np.testing.assert_array_equal(flipped.mask, plain.mask)
    # The mirrored photo gives the mirrored mask: the check above is not vacuous.
    mirrored = inference.segment(image[:, ::-1], sym)
    np.testing.assert_array_equal(mirrored.mask, plain.mask[:, ::-1])
    assert not np.array_equal(plain.mask, plain.mask[:, ::-1])


def test_flip_changes_a_lopsided_models_output(lop):
    plain = inference.segment(photo(), lop)
    flipped = inference.segment(photo(), lop, tta=inference.TTA(scales=(1.0,), flip=True))
    assert np.abs(flipped.probabilities - plain.probabilities).max() > 1e-3


def manual_tta(model, image, sizes, flip, temperature=1.0):
    """The TTA average written out: for each size (and mirror image), logits from a copy
    of the model that takes any size, mirrored back, resized to the photo, softmax."""
    inputs = keras.Input((None, None, 3))
    x = inputs
    for layer in model.layers[1:]:
        x = layer(x)
    any_size = keras.Model(inputs, x)
    height, width = image.shape[:2]
    passes = []
    for size in sizes:
        x = predict.to_model_input(image, size)[None]
        for mirrored in (False, True) if flip else (False,):
            logits = any_size(x[:, :, ::-1] if mirrored else x).numpy()
            logits = logits[:, :, ::-1] if mirrored else logits
            logits = tf.image.resize(logits, (height, width), "bilinear", antialias=True)
            passes.append(calibration.calibrated_probabilities(logits[0].numpy(), temperature))
    return np.mean(passes, axis=0)


def test_tta_equals_the_manual_average_over_flips_and_scales():
    image, model = photo(45, 70), lopsided_model(64)
    tta = inference.TTA(scales=(0.5, 1.0, 1.5), flip=True)
    assert tta.sizes((64, 64)) == [(32, 32), (64, 64), (96, 96)]
    result = inference.segment(image, model, tta=tta, temperature=1.7)
    assert result.forward_passes == 6 and result.tta == tta and result.temperature == 1.7
    expected = manual_tta(model, image, [(32, 32), (64, 64), (96, 96)], True, 1.7)
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)
    np.testing.assert_array_equal(result.mask, expected.argmax(-1))
    assert result.probabilities.shape == (45, 70, 3) and result.probabilities.dtype == np.float32
    np.testing.assert_allclose(result.probabilities.sum(-1), 1.0, atol=1e-5)


def test_tta_true_is_flip_and_three_scales(lop):
    default = inference.TTA()
    assert default.scales == (0.75, 1.0, 1.25) and default.flip and default.forward_passes == 6
    assert default.sizes((128, 128)) == [(96, 96), (128, 128), (160, 160)]
    # Sizes stay multiples of the largest power of two (up to 32) dividing the input size.
    assert default.sizes((96, 160)) == [(64, 128), (96, 160), (128, 192)]
    assert inference.TTA(scales=(0.1,)).sizes((128, 128)) == [(32, 32)]
    assert inference.TTA(scales=(0.75, 1.25)).sizes((64, 64)) == [(64, 64), (96, 96)]
    result = inference.segment(photo(), lop, tta=True)
    assert result.tta == default and result.forward_passes == 6


def test_tta_runs_the_course_unet_at_other_sizes():
    # A U-Net with skip connections and BatchNorm, built for 64 px, runs at 32 and 96 px
    # through a copy rebuilt for any size with the same weights.
    model = models.unet((64, 64, 3), depth=2, base_filters=4)
    x = np.random.default_rng(5).random((1, 64, 64, 3)).astype(np.float32)
    twin = predict._any_size(model, (96, 96), "unet")
    assert twin is not model and predict._any_size(model, (64, 64), "unet") is model
    np.testing.assert_allclose(twin(x).numpy(), model(x).numpy(), atol=1e-5)
    result = inference.segment(photo(50, 70), model, tta=inference.TTA((0.5, 1.0, 1.5)))
    assert result.mask.shape == (50, 70) and result.forward_passes == 6
    np.testing.assert_allclose(result.probabilities.sum(-1), 1.0, atol=1e-5)


def test_tta_follows_a_model_trained_further(lop):
    model = lopsided_model()
    tta = inference.TTA(scales=(2.0,), flip=False)  # runs on the any-size copy
    before = inference.segment(photo(), model, tta=tta).probabilities
    model.set_weights([w * 0.5 for w in model.get_weights()])
    after = inference.segment(photo(), model, tta=tta).probabilities
    np.testing.assert_allclose(after, manual_tta(model, photo(), [(64, 64)], False), atol=1e-5)
    assert np.abs(after - before).max() > 1e-3


def test_a_model_that_only_takes_its_own_size_gives_a_clear_error():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(8 * 8 * 3)(x)
    model = keras.Model(inputs, keras.layers.Reshape((8, 8, 3))(x))
    assert inference.segment(photo(), model, tta=inference.TTA((1.0,))).forward_passes == 2
    with pytest.raises(ModelError, match=r"TTA scale 2|only takes 8x8"):
        inference.segment(photo(), model, tta=inference.TTA((2.0,)))


@pytest.mark.parametrize(
    "scales", [(0.0,), (-0.5, 1.0), (float("nan"),), (float("inf"),), (), ("big",)]
)
def test_bad_tta_scales_are_refused(scales):
    with pytest.raises(CalibrationError, match="scale"):
        inference.TTA(scales=scales)


@pytest.mark.parametrize("tta", ["yes", 2, (0.75, 1.0), {"flip": True}])
def test_bad_tta_values_are_refused(sym, tta):
    with pytest.raises(CalibrationError, match="tta must be"):
        inference.segment(photo(), sym, tta=tta)


def test_tta_flip_must_be_a_bool():
    with pytest.raises(CalibrationError, match="flip"):
        inference.TTA(flip="no")


# --- temperature and uncertainty -------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -2.0, float("nan"), float("inf"), "hot"])
def test_bad_temperatures_are_refused(sym, bad):
    with pytest.raises(CalibrationError, match="temperature"):
        inference.segment(photo(), sym, temperature=bad)


def test_temperature_one_changes_nothing_and_others_only_the_probabilities(lop):
    plain = inference.segment(photo(), lop)
    same = inference.segment(photo(), lop, temperature=1.0)
    np.testing.assert_array_equal(same.probabilities, plain.probabilities)
    np.testing.assert_array_equal(same.mask, plain.mask)
    for temperature in (0.5, 3.0):
        scaled = inference.segment(photo(), lop, temperature=temperature)
        assert scaled.temperature == temperature
        np.testing.assert_array_equal(scaled.mask, plain.mask)
        # softmax(log p / T) = softmax(logits / T): the same probabilities, recomputed.
        expected = calibration.calibrated_probabilities(np.log(plain.probabilities), temperature)
        np.testing.assert_allclose(scaled.probabilities, expected, atol=1e-4)
    softer = inference.segment(photo(), lop, temperature=3.0)
    assert softer.uncertainty.mean() > plain.uncertainty.mean()


def test_uncertainty_map_shape_range_and_unsure_pixels(lop):
    plain = inference.segment(photo(45, 70), lop)
    calibrated = inference.segment(photo(45, 70), lop, tta=True, temperature=2.0)
    for result in (plain, calibrated):
        u = result.uncertainty
        assert u.shape == (45, 70) and u.dtype == np.float32
        assert u.min() >= 0.0 and u.max() <= 1.0 - 1.0 / 3 + 1e-6
        np.testing.assert_allclose(u, 1.0 - result.probabilities.max(-1), atol=1e-6)
        np.testing.assert_allclose(result.confidence, 1.0 - u, atol=1e-6)
        unsure = result.unsure(0.8)
        assert unsure.dtype == bool and unsure.shape == (45, 70)
        np.testing.assert_array_equal(unsure, result.confidence < 0.8)
        assert not result.unsure(1 / 3).any() and result.unsure(1.0).mean() > 0.5
    for bad in (0.0, 1.5, float("nan"), "high"):
        with pytest.raises(CalibrationError, match="threshold"):
            calibrated.unsure(bad)


def test_segmentation_built_the_old_way_still_works():
    result = inference.Segmentation(
        np.zeros((2, 2, 3), np.uint8),
        np.zeros((2, 2), np.uint8),
        np.full((2, 2, 3), 1 / 3, np.float32),
        "<array>",
        (32, 32),
    )
    assert result.temperature == 1.0 and result.tta is None and result.forward_passes == 1
    np.testing.assert_allclose(result.uncertainty, 2 / 3, atol=1e-6)


# --- the temperature stored beside the model -------------------------------------------------


@pytest.fixture
def saved(tmp_path, lop):
    path = tmp_path / "lopsided.keras"
    lop.save(path)
    return path


def test_saved_temperature_is_applied_by_segment_and_load_model(saved, lop):
    assert inference.load_temperature(saved) is None
    assert inference.model_temperature(inference.load_model(saved)) is None
    written = inference.save_temperature(saved, 2.5, fitted_on="validation, 3 photos")
    assert (
        written
        == saved.with_name("lopsided.calibration.json")
        == (inference.calibration_path(saved))
    )
    record = json.loads(written.read_text())
    assert record["temperature"] == 2.5 and record["fitted_on"] == "validation, 3 photos"
    assert sorted(p.name for p in saved.parent.iterdir()) == [written.name, saved.name]
    assert inference.load_temperature(saved) == 2.5

    plain = inference.segment(photo(), lop)
    from_path = inference.segment(photo(), saved)
    loaded = inference.load_model(saved)
    assert inference.model_temperature(loaded) == 2.5
    from_model = inference.segment(photo(), loaded)
    for result in (from_path, from_model):
        assert result.temperature == 2.5
        np.testing.assert_array_equal(result.mask, plain.mask)
        expected = calibration.calibrated_probabilities(np.log(plain.probabilities), 2.5)
        np.testing.assert_allclose(result.probabilities, expected, atol=1e-4)
    # With TTA too, on the loaded model (whose any-size copy is rebuilt from the file's config).
    tta = inference.segment(photo(), loaded, tta=True)
    expected = inference.segment(photo(), lop, tta=True, temperature=2.5)
    assert tta.temperature == 2.5 and tta.forward_passes == 6
    np.testing.assert_allclose(tta.probabilities, expected.probabilities, atol=1e-5)
    # An explicit temperature wins over the stored one; 1.0 switches it off.
    off = inference.segment(photo(), loaded, temperature=1.0)
    np.testing.assert_array_equal(off.probabilities, plain.probabilities)
    # Saving again replaces the value, and leaves no temporary file behind.
    inference.save_temperature(saved, 1.25)
    assert inference.load_temperature(saved) == 1.25
    assert len(list(saved.parent.iterdir())) == 2


def test_a_stale_temperature_is_not_applied(saved):
    inference.save_temperature(saved, 2.5)
    retrained = lopsided_model()
    retrained.set_weights([w * 0.9 for w in retrained.get_weights()])
    retrained.save(saved)  # the model file changes after the temperature was fitted
    with pytest.warns(UserWarning, match="another version"):
        assert inference.load_temperature(saved) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert inference.segment(photo(), saved).temperature == 1.0


def test_bad_temperature_files_and_values(saved, tmp_path):
    with pytest.raises(CalibrationError, match="temperature"):
        inference.save_temperature(saved, 0.0)
    with pytest.raises(CalibrationError, match="temperature"):
        inference.save_temperature(saved, float("nan"))
    assert not inference.calibration_path(saved).exists()
    with pytest.raises(ModelError, match="not found"):
        inference.save_temperature(tmp_path / "missing.keras", 1.5)
    sidecar = inference.calibration_path(saved)
    sidecar.write_text("{not json")
    with pytest.raises(CalibrationError, match=r"lopsided\.calibration\.json.*cannot read"):
        inference.load_model(saved)
    sidecar.write_text(json.dumps({"temperature": -1}))
    with pytest.raises(CalibrationError, match="above 0"):
        inference.segment(photo(), saved)
    sidecar.write_text(json.dumps({"scale": 2}))
    with pytest.raises(CalibrationError, match="no 'temperature'"):
        inference.load_temperature(saved)
