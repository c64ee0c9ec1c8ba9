"""The MobileNetV3-Large U-Net and SEGLIB_ENCODER_WEIGHTS naming a file per encoder.

ImageNet weights for MobileNetV3 cannot be downloaded on the development machines, so
every model here has random encoder weights (``weights=None``)."""

import os

from seglib import models
from seglib.errors import WeightsError

import keras
import numpy as np
import pytest

V2_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
V3_FILE = "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5"


@pytest.mark.parametrize("size", [128, 160])
def test_taps_are_at_strides_2_to_32(size):
    encoder = models.mobilenetv3_encoder((size, size, 3), weights=None)
    shapes = [tuple(t.shape[1:]) for t in encoder.outputs]
    channels = [16, 24, 40, 112, 160]
    assert shapes == [
        (size // s, size // s, c) for s, c in zip((2, 4, 8, 16, 32), channels, strict=True)
    ]


def test_taps_are_found_by_name_whatever_was_built_before():
    # Keras numbers unnamed layers per session (re_lu_7, activation_3, ...): building
    # twice shifts those numbers, but not the names we tap.
    first = models.mobilenetv3_encoder((64, 64, 3), weights=None)
    second = models.mobilenetv3_encoder((64, 64, 3), weights=None)
    for encoder in (first, second):
        names = [t._keras_history[0].name for t in encoder.outputs]
        assert names == list(models.MOBILENETV3_SKIP_LAYERS)


def test_unet_outputs_logits_and_feeds_the_encoder_0_to_255():
    model = models.mobilenetv3_unet((64, 64, 3), weights=None)
    assert model.output_shape == (None, 64, 64, 3)
    # [0, 1] photos -> x255 (ours) -> /127.5 - 1 (Keras' MobileNetV3) = [-1, 1].
    encoder = model.get_layer("mobilenetv3_encoder")
    inner = encoder.layers[1]  # Keras' own preprocessing, right after the input
    assert isinstance(inner, keras.layers.Rescaling)
    probe = keras.Model(model.input, inner(model.get_layer("to_0_255").output))
    x = np.stack([np.zeros((64, 64, 3)), np.full((64, 64, 3), 0.5), np.ones((64, 64, 3))])
    out = np.asarray(probe(x.astype(np.float32)))
    np.testing.assert_allclose(out[:, 0, 0, 0], [-1.0, 0.0, 1.0], atol=1e-6)
    assert not encoder.trainable  # frozen by default, like the MobileNetV2 U-Net


def test_overfits_one_batch(square_batch):
    keras.utils.set_random_seed(0)
    model = models.mobilenetv3_unet(
        (64, 64, 3), weights=None, freeze_encoder=False, decoder_filters=(64, 32, 32, 16)
    )
    model.compile(
        keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y = square_batch(64)
    losses = model.fit(x, y, epochs=40, batch_size=4, verbose=0).history["loss"]
    assert losses[-1] < 0.4 * losses[0]


# --- SEGLIB_ENCODER_WEIGHTS: one variable, a file per encoder, matched by file name ---


def _touch(path):
    path.write_bytes(b"h5 stand-in")
    return path


def test_files_are_matched_to_encoders_by_name(monkeypatch, tmp_path):
    v2, v3 = _touch(tmp_path / V2_FILE), _touch(tmp_path / V3_FILE)
    monkeypatch.setenv("SEGLIB_ENCODER_WEIGHTS", os.pathsep.join([str(v3), str(v2)]))
    assert models.encoder_weights_file("mobilenet_v2") == v2
    assert models.encoder_weights_file("mobilenet_v3_large") == v3
    assert models.resolve_encoder_weights("imagenet", "mobilenet_v3_large") == str(v3)


def test_a_folder_serves_every_encoder(monkeypatch, tmp_path):
    v2 = _touch(tmp_path / V2_FILE)
    _touch(tmp_path / "weights_mobilenet_v3_large_minimalistic_224_1.0_float_no_top_v2.h5")
    monkeypatch.setenv("SEGLIB_ENCODER_WEIGHTS", str(tmp_path))
    assert models.encoder_weights_file("mobilenet_v2") == v2
    # the minimalistic variant does not fit MobileNetV3Large(minimalistic=False)
    assert models.encoder_weights_file("mobilenet_v3_large") is None
    assert models.resolve_encoder_weights("imagenet", "mobilenet_v3_large") == "imagenet"


def test_a_single_v2_file_keeps_working(monkeypatch, tmp_path):
    v2 = _touch(tmp_path / V2_FILE)
    monkeypatch.setenv("SEGLIB_ENCODER_WEIGHTS", str(v2))
    assert models.resolve_encoder_weights("imagenet") == str(v2)
    assert models.encoder_weights_file("mobilenet_v3_large") is None


def test_a_missing_entry_is_named(monkeypatch, tmp_path):
    v2 = _touch(tmp_path / V2_FILE)
    missing = tmp_path / "gone"
    monkeypatch.setenv("SEGLIB_ENCODER_WEIGHTS", os.pathsep.join([str(v2), str(missing)]))
    with pytest.raises(WeightsError, match="gone.*SEGLIB_ENCODER_WEIGHTS"):
        models.encoder_weights_file("mobilenet_v3_large")


def test_v3_download_failure_says_which_file_to_provide(monkeypatch, no_smoke, tmp_path):
    real = keras.applications.MobileNetV3Large

    def offline(*args, weights="imagenet", **kwargs):
        if weights == "imagenet":
            raise Exception("URL fetch failure: Name or service not known")
        return real(*args, weights=weights, **kwargs)

    monkeypatch.setattr(keras.applications, "MobileNetV3Large", offline)
    monkeypatch.setenv("SEGLIB_ENCODER_WEIGHTS", str(_touch(tmp_path / V2_FILE)))
    with pytest.raises(WeightsError, match="MobileNetV3-Large.*'mobilenet_v3_large'"):
        models.mobilenetv3_unet((64, 64, 3), weights="imagenet")
    with pytest.warns(UserWarning, match="RANDOM encoder weights"):
        model = models.mobilenetv3_unet((64, 64, 3), weights="imagenet", random_fallback=True)
    assert model.output_shape == (None, 64, 64, 3)
