import os
from pathlib import Path

from seglib import WeightsError, models

import keras
import numpy as np
import pytest


@pytest.fixture(scope="module")
def unet():
    return models.mobilenetv2_unet((64, 64, 3), num_classes=3, weights=None)


def test_upsample_doubles_resolution():
    block = models.upsample(8, dropout=0.5)
    y = block(np.zeros((2, 5, 7, 3), np.float32))
    assert tuple(y.shape) == (2, 10, 14, 8)
    kinds = [type(layer).__name__ for layer in block.layers]
    assert kinds == ["Conv2DTranspose", "BatchNormalization", "Dropout", "ReLU"]
    assert [type(x).__name__ for x in models.upsample(4).layers] == [
        "Conv2DTranspose",
        "BatchNormalization",
        "ReLU",
    ]


@pytest.mark.parametrize("size", [64, 128])
def test_unet_outputs_logits_at_input_resolution(size):
    model = models.mobilenetv2_unet((size, size, 3), num_classes=3, weights=None)
    x = np.random.default_rng(0).uniform(0, 1, (2, size, size, 3)).astype(np.float32)
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, size, size, 3)
    probabilities_would_sum_to_one = np.allclose(y.sum(-1), 1.0)
    assert not probabilities_would_sum_to_one and y.min() < 0  # logits, not softmax


def test_frozen_encoder_by_default(unet):
    encoder = unet.get_layer("mobilenetv2_encoder")
    assert not encoder.trainable
    counts = models.count_params(unet)
    assert counts["non_trainable"] >= models.count_params(encoder)["total"]  # all frozen
    assert 0 < counts["trainable"] < counts["total"]
    assert [o.shape[1] for o in encoder.outputs] == [32, 16, 8, 4, 2]


def test_model_rescales_inputs_like_preprocess_input(unet):
    x = np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 2, 2, 3)
    ours = np.asarray(unet.get_layer("to_minus1_1")(x))
    reference = keras.applications.mobilenet_v2.preprocess_input(x * 255.0)
    np.testing.assert_allclose(ours, reference, atol=1e-6)


def test_fine_tuning_keeps_encoder_batchnorm_statistics():
    model = models.mobilenetv2_unet((64, 64, 3), weights=None)
    models.set_encoder_trainable(model, True)
    bn = model.get_layer("mobilenetv2_encoder").get_layer("bn_Conv1")
    before = [np.asarray(w).copy() for w in (bn.moving_mean, bn.moving_variance)]
    kernel = model.get_layer("mobilenetv2_encoder").get_layer("Conv1").kernel
    kernel_before = np.asarray(kernel).copy()
    model.compile(
        keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (4, 64, 64, 3)).astype(np.float32)
    y = rng.integers(0, 3, (4, 64, 64, 1))
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(np.asarray(bn.moving_mean), before[0])
    np.testing.assert_array_equal(np.asarray(bn.moving_variance), before[1])
    assert not np.array_equal(np.asarray(kernel), kernel_before)  # weights did train


def test_saved_model_round_trip(unet, tmp_path):
    path = tmp_path / "unet.keras"
    unet.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(2).uniform(0, 1, (1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_on_batch(x), unet.predict_on_batch(x), atol=1e-5)
    assert models.predict_masks(loaded, x).shape == (1, 64, 64)


def test_overfits_one_batch(square_batch):
    """A real learning check: the loss on one fixed batch must fall well below its start."""
    keras.utils.set_random_seed(0)
    model = models.mobilenetv2_unet((64, 64, 3), weights=None)
    model.compile(
        keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y = square_batch(64)
    history = model.fit(x, y, epochs=40, batch_size=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.4 * losses[0]


def test_missing_weights_file_is_named(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(WeightsError, match="nope.h5"):
        models.mobilenetv2_unet((64, 64, 3), weights=missing)


def test_environment_overrides_imagenet(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGLIB_ENCODER_WEIGHTS", str(tmp_path / "gone.h5"))
    with pytest.raises(WeightsError, match="gone.h5.*SEGLIB_ENCODER_WEIGHTS"):
        models.mobilenetv2_unet((64, 64, 3), weights="imagenet")


def _fail_imagenet(monkeypatch):
    real = keras.applications.MobileNetV2

    def fake(*args, weights="imagenet", **kwargs):
        if weights == "imagenet":
            raise Exception("URL fetch failure: Name or service not known")
        return real(*args, weights=weights, **kwargs)

    monkeypatch.setattr(keras.applications, "MobileNetV2", fake)
    monkeypatch.delenv("SEGLIB_ENCODER_WEIGHTS", raising=False)


def test_imagenet_download_failure_says_how_to_fix(monkeypatch, no_smoke):
    _fail_imagenet(monkeypatch)
    with pytest.raises(WeightsError, match="SEGLIB_ENCODER_WEIGHTS"):
        models.mobilenetv2_unet((64, 64, 3), weights="imagenet")


def test_imagenet_download_failure_in_smoke_mode_warns(monkeypatch):
    _fail_imagenet(monkeypatch)
    monkeypatch.setenv("SEGLIB_SMOKE", "1")
    with pytest.warns(UserWarning, match="RANDOM encoder weights"):
        model = models.mobilenetv2_unet((64, 64, 3), weights="imagenet")
    assert model.output_shape == (None, 64, 64, 3)


def test_shared_weights_load_exactly():
    path = os.environ.get("SEGLIB_ENCODER_WEIGHTS", "")
    if not Path(path).is_file():
        pytest.skip("SEGLIB_ENCODER_WEIGHTS does not name a file")
    model = models.mobilenetv2_unet((64, 64, 3), weights="imagenet")
    reference = keras.applications.MobileNetV2(
        input_shape=(64, 64, 3), include_top=False, weights=path
    )
    ours = model.get_layer("mobilenetv2_encoder").get_layer("Conv1").kernel
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(reference.get_layer("Conv1").kernel))
