import json

from seglib import metrics

import keras
import numpy as np
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
