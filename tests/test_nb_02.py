"""Notebook 02: a working model first (issue 30), the watched photo kept epoch by epoch and the
fine-tuning speed sentence checked against its numbers (issue 35)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from seglib import prose, viz
from seglib.alttext import alt_text

import keras
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_pretrained_unet.ipynb"


# prose.fine_tuning_speed: the cause is named only when stage 2 is clearly slower.


def test_fine_tuning_speed_names_the_encoders_gradients_only_when_clearly_slower():
    slower = prose.fine_tuning_speed(600, 20, 450, 10)  # 30 s against 45 s per epoch: 1.5x
    assert slower.startswith("Stage 2 took 7.5 min (45.0 s per epoch, 1.5× stage 1's 30.0 s).")
    assert "slower because the encoder's gradients are computed now" in slower
    at_threshold = prose.fine_tuning_speed(100, 10, 60, 5)  # exactly 1.2x
    assert "slower because the encoder's gradients" in at_threshold

    same = prose.fine_tuning_speed(1336, 20, 668, 10)  # 66.8 s per epoch both: 1.0x
    assert "1.0× stage 1's" in same and "About as fast" in same
    assert "because the encoder's gradients are computed now" not in same
    just_under = prose.fine_tuning_speed(100, 10, 59, 5)  # 1.18x: not clearly slower
    assert "About as fast" in just_under and "slower because" not in just_under

    faster = prose.fine_tuning_speed(1000, 10, 350, 5)  # 0.7x
    assert "faster" in faster and "slower because" not in faster
    assert "cache" in faster


def test_fine_tuning_speed_is_read_by_the_estimates_benchmark_and_refuses_nonsense():
    from benchmarks import estimates

    text = prose.fine_tuning_speed(600, 20, 450, 10)
    assert estimates.ACTUAL.findall(text) == [("2", "7.5")]
    with pytest.raises(ValueError):
        prose.fine_tuning_speed(0, 20, 450, 10)
    with pytest.raises(ValueError):
        prose.fine_tuning_speed(600, 20, 450, 0)


# prose.watched_photo: what the strip of one photo over the epochs shows.


def test_watched_photo_reads_a_rise_a_late_rise_a_fall_and_no_change():
    early = prose.watched_photo({1: 0.50, 2: 0.85, 3: 0.90, 4: 0.91})
    assert "from 50% after epoch 1 to 91% after epoch 4" in early
    assert "nine tenths of that rise had come by epoch 3" in early
    late = prose.watched_photo({1: 0.50, 2: 0.55, 3: 0.60, 4: 0.90})
    assert "still rising at the last epoch" in late and "nine tenths" not in late
    fall = prose.watched_photo({21: 0.93, 25: 0.95, 30: 0.90})
    assert "worse at the end" in fall and "rise" not in fall
    flat = prose.watched_photo({21: 0.930, 25: 0.95, 30: 0.945})
    assert "barely changed" in flat and "worse" not in flat and "rise" not in flat
    assert "epoch 7" in prose.watched_photo({7: 0.8})
    with pytest.raises(ValueError):
        prose.watched_photo({})


# viz.DisplayCallback(record=True) and viz.show_epochs: the strip after training.


def _toy_model():
    from seglib import models

    model = models.unet((16, 16, 3), depth=1, base_filters=2)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_display_callback_records_nothing_by_default_and_every_epoch_when_asked():
    x = np.random.default_rng(0).random((4, 16, 16, 3), dtype=np.float32)
    y = np.zeros((4, 16, 16, 1), np.uint8)
    model = _toy_model()
    plain = viz.DisplayCallback(x[0], y[0])
    kept = viz.DisplayCallback(x[0], y[0], record=True)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[plain, kept])
    assert plain.frames == [] and len(plain.lines) == 3  # default behaviour unchanged
    assert [epoch for epoch, _ in kept.frames] == [1, 2, 3]
    assert all(f.shape == (16, 16) and f.dtype == np.uint8 for _, f in kept.frames)
    accuracy = kept.pixel_accuracy()
    assert list(accuracy) == [1, 2, 3] and all(0 <= a <= 1 for a in accuracy.values())
    assert kept.seconds is not None and kept.seconds > 0
    fig = kept.show_epochs(columns=5)
    assert len(fig.axes) == 2 + 3  # photo, true mask, three epochs
    assert "epoch 1" in alt_text(fig) and "epoch 3" in alt_text(fig)
    with pytest.raises(ValueError):
        plain.show_epochs()


def test_show_epochs_picks_the_first_and_last_epoch_and_evenly_between():
    rng = np.random.default_rng(2)
    image = rng.random((8, 8, 3))
    mask = rng.integers(0, 3, (8, 8), dtype=np.uint8)
    frames = [(e, mask if e == 20 else np.zeros((8, 8), np.uint8)) for e in range(1, 21)]
    fig = viz.show_epochs(image, mask, frames, columns=5)
    titles = [ax.get_title() for ax in fig.axes[2:]]
    assert [t.split("\n")[0] for t in titles] == [f"epoch {e}" for e in (1, 6, 11, 15, 20)]
    assert titles[-1].endswith("100% pixels right")
    assert "share of pixels labelled right" in alt_text(fig)
    with pytest.raises(ValueError):
        viz.show_epochs(image, mask, [])


# The notebook: a working model within its first seven code cells (issue 30).


def _code_cells():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"], nb


def test_the_first_training_is_seglibs_pipeline_within_seven_code_cells_and_fifteen_lines():
    code, _ = _code_cells()
    first_fit = next(i for i, c in enumerate(code) if "model.fit(" in c)
    assert first_fit < 7
    cell = code[first_fit]
    assert "data.make_pipelines(" in cell and "models.mobilenetv2_unet(" in cell
    assert len([line for line in cell.splitlines() if line.strip()]) <= 15
    picture = next(i for i, c in enumerate(code) if "show_epochs(" in c)
    assert first_fit < picture < 7
    # the written-out pipeline is checked equal to seglib's, further down
    assert any("data.build_pipeline(" in c and "assert_array_equal" in c for c in code)


def test_no_typed_input_size_verdict_and_no_forward_reference_to_its_comparison():
    _, nb = _code_cells()
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert "2.4 times" not in text
    assert not re.search(r"09[^\n]{0,80}(128|160|224)", text)
    assert not re.search(r"(128|160|224)[^\n]{0,80}notebook 09", text)


def test_the_exercise_benchmark_still_finds_what_it_edits():
    from benchmarks.exercises import EXERCISES
    from benchmarks.exercises.core import apply_edits

    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for key in ("02.1",):
        apply_edits(nb["cells"], EXERCISES[key].edits)  # raises when an edit no longer fits
