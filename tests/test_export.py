"""seglib.export: LiteRT round trips in four forms, errors, and the SavedModel without seglib."""

import io
import json
import subprocess
import sys
import textwrap

from seglib import data, export, inference, models
from seglib.errors import ExportError, ModelError

import keras
import numpy as np
import pytest
from PIL import Image

SIZE = 32


def _blocks(n=8, size=SIZE, seed=0):
    """Photos of an orange square on a noisy dark background, and their masks."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.3, (n, size, size, 3)).astype(np.float32)
    y = np.ones((n, size, size, 1), np.int64)  # background
    for i in range(n):
        top, left = rng.integers(0, size // 2, 2)
        side = size // 2
        x[i, top : top + side, left : left + side] = [0.9, 0.5, 0.1]
        y[i, top : top + side, left : left + side] = 0  # pet
        y[i, top, left : left + side] = 2  # a border line
    return x, y


@pytest.fixture(scope="module")
def trained():
    """A tiny U-Net trained until its predictions are confident (ties would make the
    agreement between forms a coin toss, not a measurement)."""
    keras.utils.set_random_seed(0)
    model = models.unet((SIZE, SIZE, 3), depth=2, base_filters=4)
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y = _blocks()
    model.fit(x, y, epochs=60, batch_size=8, verbose=0)
    return model


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """Every form written once: ``{quantization: path}``."""
    folder = tmp_path_factory.mktemp("litert")
    calibration, _ = _blocks(16, seed=1)  # the "training photos" of this test
    return {
        q: export.to_litert(trained, folder / f"{q}.tflite", q, calibration=calibration)
        for q in export.QUANTIZATIONS
    }


@pytest.mark.parametrize("quantization", export.QUANTIZATIONS)
def test_round_trip_agrees_with_keras(trained, exported, quantization):
    x, _ = _blocks(4, seed=2)  # photos the calibration did not see
    keras_logits = np.asarray(trained(x, training=False))
    logits = export.litert_predict(exported[quantization], x, num_threads=1)
    assert logits.shape == keras_logits.shape and logits.dtype == np.float32
    agreement = (logits.argmax(-1) == keras_logits.argmax(-1)).mean()
    if quantization == "float32":
        np.testing.assert_allclose(logits, keras_logits, atol=1e-4)
    elif quantization == "int8":
        assert agreement >= 0.97
        # dequantized logits stay within a few quantization steps of the float ones
        scale = np.ptp(keras_logits) / 255
        assert np.median(np.abs(logits - keras_logits)) < 4 * scale
    else:
        assert agreement >= 0.995


def test_quantized_files_are_smaller(exported):
    size = {q: p.stat().st_size for q, p in exported.items()}
    assert size["float16"] < size["float32"]
    assert size["dynamic_range"] < size["float32"]
    assert size["int8"] < size["float16"]


def test_int8_is_full_integer(exported):
    lite = export.LiteRTModel(exported["int8"])
    assert lite.input_dtype == np.int8 and lite.output_dtype == np.int8
    # The input's range was calibrated on the training photos: [0, their maximum] over
    # 256 levels (LiteRT widens every range to include 0).
    scale, zero_point = lite._input["quantization"]
    calibration, _ = _blocks(16, seed=1)
    assert scale == pytest.approx(calibration.max() / 255, rel=0.02)
    assert zero_point == -128
    float_tensors = [
        d["name"]
        for d in lite.interpreter.get_tensor_details()
        if np.dtype(d["dtype"]) == np.float32
    ]
    assert float_tensors == []  # no float activation left inside


def test_float_files_keep_float_io(exported):
    for q in ("float32", "float16", "dynamic_range"):
        lite = export.LiteRTModel(exported[q], num_threads=2)
        assert lite.input_dtype == np.float32 and lite.input_size == (SIZE, SIZE)


def test_default_calibration_reads_the_training_split(monkeypatch, trained, tmp_path):
    calls = []
    real_load = data.load

    def spy(split, *args, **kwargs):
        calls.append(split)
        return real_load(split, *args, **kwargs)

    monkeypatch.setattr(data, "load", spy)
    path = export.to_litert(
        trained, tmp_path / "m.tflite", "int8", source="synthetic", num_calibration_images=4
    )
    assert path.is_file()
    assert calls == ["train"]


def test_never_overwrites(trained, tmp_path):
    path = tmp_path / "mine.tflite"
    path.write_bytes(b"precious")
    with pytest.raises(ExportError, match="mine.tflite: already exists"):
        export.to_litert(trained, path)
    assert path.read_bytes() == b"precious"
    folder = tmp_path / "served"
    folder.mkdir()
    with pytest.raises(ExportError, match="served: already exists"):
        export.save_serving_model(trained, folder)
    assert list(folder.iterdir()) == []


def test_unknown_quantization_is_refused_before_writing(trained, tmp_path):
    path = tmp_path / "m.tflite"
    with pytest.raises(ExportError, match="'int4'.*float32, float16, dynamic_range, int8"):
        export.to_litert(trained, path, "int4")
    assert not path.exists()


def _softmax_model():
    inputs = keras.Input((SIZE, SIZE, 3))
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="softmax")(inputs))


def _classifier():
    inputs = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(pooled))


@pytest.mark.parametrize("build", [_softmax_model, _classifier], ids=["softmax", "classifier"])
def test_wrong_contract_is_refused(build, tmp_path):
    model = build()
    with pytest.raises(ModelError):
        export.to_litert(model, tmp_path / "m.tflite")
    with pytest.raises(ModelError):
        export.serving_model(model)
    assert not (tmp_path / "m.tflite").exists()


def test_bad_calibration_images_are_named(trained, tmp_path):
    wrong_size = np.zeros((2, SIZE * 2, SIZE * 2, 3), np.float32)
    with pytest.raises(ExportError, match="calibration images"):
        export.to_litert(trained, tmp_path / "a.tflite", "int8", calibration=wrong_size)
    with pytest.raises(ExportError, match="empty"):
        export.to_litert(trained, tmp_path / "b.tflite", "int8", calibration=[])


def test_litert_model_errors(exported, tmp_path):
    with pytest.raises(ExportError, match="not found"):
        export.LiteRTModel(tmp_path / "missing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ExportError, match="junk.tflite: not a loadable LiteRT model"):
        export.LiteRTModel(junk)
    with pytest.raises(ExportError, match="expected a batch of at least one image"):
        export.litert_predict(exported["float32"], np.zeros((SIZE, SIZE, 3), np.float32))


def _photo_bytes(fmt, height, width, seed):
    """A non-square photo with a large orange square, encoded as ``fmt``."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 70, (height, width, 3))
    image[height // 4 : 3 * height // 4, width // 5 : 3 * width // 5] = [230, 128, 25]
    buffer = io.BytesIO()
    Image.fromarray(image.astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_saved_model_segments_without_seglib(trained, tmp_path):
    saved = export.save_serving_model(trained, tmp_path / "segmenter")
    photos = {
        "photo.png": _photo_bytes("PNG", 75, 130, 3),
        "photo.jpg": _photo_bytes("JPEG", 201, 97, 4),
    }
    for name, content in photos.items():
        (tmp_path / name).write_bytes(content)
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import tensorflow as tf

        folder, names = sys.argv[1], sys.argv[2:]
        segment = tf.saved_model.load(folder).signatures["serving_default"]
        result = {"seglib_imported": "seglib" in sys.modules}
        for name in names:
            content = open(f"{folder}/../{name}", "rb").read()
            mask = segment(image_bytes=tf.constant(content))["mask"].numpy()
            np.save(f"{folder}/../{name}.npy", mask)
            result[name] = [str(mask.dtype), list(mask.shape)]
        print("RESULT " + json.dumps(result))
        """
    )
    # A fresh interpreter from a folder outside the project, so seglib cannot sneak in.
    run = subprocess.run(
        [sys.executable, "-c", script, str(saved), *photos],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(t for t in run.stdout.splitlines() if t.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result.pop("seglib_imported") is False
    for name, content in photos.items():
        expected = inference.segment(content, trained).mask
        assert result[name] == ["uint8", list(expected.shape)]
        mask = np.load(tmp_path / f"{name}.npy")
        assert (mask == expected).mean() >= 0.999
        assert set(np.unique(mask)) <= {0, 1, 2}
        assert (mask == 0).any()  # it found the square


def test_serving_module_runs_in_process(trained):
    import tensorflow as tf

    module = export.serving_model(trained)
    content = _photo_bytes("PNG", 50, 40, 5)
    mask = module.serve(tf.constant(content))["mask"].numpy()
    assert mask.shape == (50, 40) and mask.dtype == np.uint8
    assert (mask == inference.segment(content, trained).mask).mean() >= 0.999


def test_new_weights_are_exported_not_a_stale_graph(trained, tmp_path):
    # Freezing is reused between exports of an unchanged model; changed weights must show.
    model = keras.models.clone_model(trained)
    model.set_weights(trained.get_weights())
    x, _ = _blocks(2, seed=6)
    first = export.litert_predict(export.to_litert(model, tmp_path / "a.tflite"), x)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    second = export.litert_predict(export.to_litert(model, tmp_path / "b.tflite"), x)
    np.testing.assert_allclose(second, np.asarray(model(x, training=False)), atol=1e-4)
    assert not np.allclose(first, second)


def test_litert_scores_like_keras_through_metrics_evaluate(trained, exported):
    from seglib import metrics

    x, y = _blocks(4, seed=7)
    batches = [(x[:2], y[:2]), (x[2:], y[2:])]
    ours = metrics.evaluate(export.LiteRTModel(exported["float32"]), batches)
    reference = metrics.evaluate(trained, batches)
    np.testing.assert_array_equal(ours.confusion, reference.confusion)


def test_compare_latency_times_every_contender(exported):
    calls = {q: export.LiteRTModel(p, num_threads=1) for q, p in exported.items()}
    x, _ = _blocks(1, seed=8)
    times = export.compare_latency(calls, x, runs=3, warmup=1)
    assert set(times) == set(calls)
    for t in times.values():
        assert t.shape == (3,) and (t > 0).all()
