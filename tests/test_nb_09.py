"""Notebook 09's generated verdicts (both sides of each condition) and its choices."""

import json
from pathlib import Path

from seglib import metrics, prose

import pandas as pd

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "09_generalisation_and_uncertainty.ipynb"
LOWER = metrics.Difference(0.015, 0.003, 0.020, 0.95, 298)  # before - after: ECE lowered
RAISE = metrics.Difference(-0.006, -0.009, -0.003, 0.95, 298)  # ECE raised
NOISE = metrics.Difference(0.001, -0.002, 0.003, 0.95, 298)


def _reliability(pet_gap, background_gap):
    """A reliability table at T = 1 with one confident bin per class: confidence - accuracy."""
    return pd.DataFrame(
        [
            {"curve": "pet", "bin_low": 0.9, "confidence": 0.95, "accuracy": 0.95 - pet_gap},
            {
                "curve": "background",
                "bin_low": 0.9,
                "confidence": 0.93,
                "accuracy": 0.93 - background_gap,
            },
            {"curve": "border", "bin_low": 0.6, "confidence": 0.65, "accuracy": 0.65},
        ]
    ).assign(count=100)


def _ece(overall, pet, background, border):
    return {"pet": pet, "background": background, "border": border, "overall": overall}


def test_temperature_helped_only_when_no_class_got_worse():
    helped = prose.calibration_verdict(
        _ece(LOWER, LOWER, LOWER, NOISE), 1.2, _reliability(0.05, 0.02)
    )
    assert "It helped" in helped and "lowered the overall ECE" in helped
    mixed = prose.calibration_verdict(
        _ece(LOWER, NOISE, RAISE, NOISE), 1.2, _reliability(0.05, -0.04)
    )
    assert "It helped:" not in mixed and "not every class's" in mixed
    assert "raised it for background" in mixed and "left it within noise for pet, border" in mixed
    assert "background was under-confident" in mixed and "further off" in mixed
    assert "Pet leaned the other way" in mixed and "did not fall measurably" in mixed
    assert "err in opposite directions" in mixed
    pet_mended = prose.calibration_verdict(
        _ece(LOWER, LOWER, RAISE, NOISE), 1.2, _reliability(0.05, -0.04)
    )
    assert "the temperature lowered their ECE" in pet_mended
    alone = prose.calibration_verdict(
        _ece(LOWER, NOISE, RAISE, NOISE), 1.2, _reliability(0.0, -0.04)
    )
    assert "further off" in alone and "other way" not in alone


def test_a_class_close_to_calibrated_is_not_called_under_confident():
    # 09's run: background's lean -0.003 (close to calibrated) and its ECE rose; pet +0.045.
    diffs = _ece(LOWER, NOISE, RAISE, NOISE)
    level = prose.calibration_verdict(diffs, 1.15, _reliability(0.045, -0.003))
    assert "background was already close to calibrated" in level and "-0.003" in level
    assert "under-confident" not in level and "opposite directions" not in level
    assert "whether that class needed it or not" in level
    leaning = prose.calibration_verdict(diffs, 1.15, _reliability(0.045, -0.03))  # beyond 0.01
    assert "background was under-confident" in leaning and "opposite directions" in leaning
    assert "close to calibrated" not in leaning
    # A class over-confident by less than the threshold is not "the other way" either.
    slight = prose.calibration_verdict(diffs, 1.15, _reliability(0.005, -0.03))
    assert "leaned the other way" not in slight and "further off" in slight


def test_temperature_cause_is_named_only_when_the_diagram_shows_it():
    diffs = _ece(LOWER, NOISE, RAISE, NOISE)
    assert "do not show why" in prose.calibration_verdict(diffs, 1.2)  # no reliability table
    same_way = _reliability(0.05, 0.03)  # background over-confident too: softening cannot hurt it
    assert "do not show why" in prose.calibration_verdict(diffs, 1.2, same_way)
    sharpened = prose.calibration_verdict(diffs, 0.8, _reliability(-0.05, 0.04))  # T < 1
    assert "background was over-confident" in sharpened and "sharpens" in sharpened


def test_temperature_harm_and_noise_are_said_plainly():
    harm = prose.calibration_verdict(_ece(RAISE, RAISE, NOISE, NOISE), 1.2)
    assert "raised the overall ECE" in harm and "did harm" in harm
    flat = prose.calibration_verdict(_ece(NOISE, NOISE, NOISE, NOISE), 1.2)
    assert "within noise" in flat and "nothing worth applying" in flat


def _history(values):
    return pd.DataFrame({"epoch": range(len(values)), "val_mean_iou": values})


def test_still_learning_reads_the_last_epoch():
    climbing = prose.still_learning({"lobo": _history([0.2, 0.3, 0.335, 0.488])}, 4)
    assert "Still climbing" in climbing and "0.335 → 0.488" in climbing
    flat = prose.still_learning({"lobo": _history([0.2, 0.48, 0.485])}, 3)
    assert "Still climbing" not in flat and "closer to levelled off" in flat
    assert "Still climbing" in prose.still_learning({"one": _history([0.3])}, 1)
    assert "No training log" in prose.still_learning({"none": pd.DataFrame()}, 5)


def test_size_choice_says_which_size_and_why():
    gains = {160: NOISE, 224: LOWER}
    chosen = prose.size_choice(gains, 128, 224, "validation pet IoU")
    assert "**224 px is chosen**" in chosen and "once" in chosen
    kept = prose.size_choice({160: NOISE, 224: NOISE}, 128, 128, "validation pet IoU")
    assert "**128 px is kept**" in kept and "more validation photos" not in kept
    wide = metrics.Difference(0.043, -0.001, 0.092, 0.95, 13)
    hidden = prose.size_choice({160: NOISE, 224: wide}, 128, 128, "validation pet IoU")
    assert "**128 px is kept**" in hidden and "+0.043 for 224 px" in hidden
    assert "noise of 13 photos" in hidden


def test_input_size_cost_explains_growth_below_the_pixel_count():
    slow = prose.input_size_cost([128, 224], [60, 100], [124, 158])  # 1.3x against 3.1x
    assert "1.3×" in slow and "3.1×" in slow and "resizes the photo in" in slow
    assert "Likely reasons" in slow  # the model call too grows 1.7x, well under 3.1x
    call_scales = prose.input_size_cost([128, 224], [30, 90], [124, 190])  # call 3.0x
    assert "resizes the photo in" in call_scales and "Likely reasons" not in call_scales
    square = prose.input_size_cost([128, 224], [60, 180], [70, 200])
    assert "arithmetic dominates" in square and "Likely reasons" not in square


def _notebook_text(kind=None):
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if kind is None or c["cell_type"] == kind)


def test_09_has_no_course_history_and_chooses_on_validation():
    text = _notebook_text()
    for history in ("once compared", "until this comparison", "now trains at", "02 once"):
        assert history not in text, history
    code = _notebook_text("code")
    assert "size_validation" in code and "unseen_validation" in code
    assert "confidence=level" in code and "metrics.bonferroni(0.95, COMPARISONS)" in code
    assert "prose.calibration_verdict(" in code and "prose.still_learning(" in code


def test_bonferroni_verdict_prints_its_level_and_reads_the_question():
    tiny = metrics.Difference(-0.002, -0.005, 0.001, metrics.bonferroni(0.95, 14), 298)
    text = prose.bonferroni_verdict(tiny, "antialiased", "not antialiased", "mIoU", 14, "here")
    assert "99.6%" in text and "100% CI" not in text and "for 14 intervals" in text
    bound = prose.bonferroni_verdict(tiny, "a", "b", "mIoU", 14, "here", at_most=True)
    assert "for at most 14 intervals" in bound
    assert "within noise" in text and "cost nothing measurable" in text
    real_but_small = metrics.Difference(-0.004, -0.006, -0.002, 0.996, 298)
    small = prose.bonferroni_verdict(real_but_small, "a", "b", "mIoU", 14, "here")
    assert "too small to matter" in small and "cost nothing measurable" in small
    costly = metrics.Difference(0.03, 0.02, 0.04, 0.996, 298)
    assert "B cost this model 0.030" in prose.bonferroni_verdict(costly, "a", "b", "mIoU", 14, "x")
    better = metrics.Difference(-0.03, -0.04, -0.02, 0.996, 298)
    assert "did not expect" in prose.bonferroni_verdict(better, "a", "b", "mIoU", 14, "x")


def test_input_size_cost_declines_to_split_noisy_timings():
    noisy = prose.input_size_cost([128, 224], [100, 120], [60, 130])  # model call > whole
    assert "too noisy" in noisy and "resizes the photo in" not in noisy
    all_model = prose.input_size_cost([128, 224], [146, 205], [145, 206])  # resizing ~0 ms
    assert "Nearly all of that time is the model call" in all_model
    assert "Likely reasons" in all_model and "too noisy" not in all_model
    faster = prose.input_size_cost([128, 224], [166, 101], [175, 109])  # larger ran faster
    assert "not what these timings measure" in faster and "fixed cost per call" in faster
    assert "other work on the machine" in faster and "resizes the photo in" not in faster
    flat = prose.input_size_cost([128, 224], [140, 136], [142, 137])  # 09's run: 1.0x and 1.0x
    assert "not what these timings measure" in flat and "tf.function" in flat
    grows = prose.input_size_cost([128, 224], [30, 90], [124, 190])  # the arithmetic shows
    assert "not what these timings measure" not in grows


def test_size_choice_keeps_the_smallest_size_when_no_interval_was_possible():
    from seglib import prose

    text = prose.size_choice({}, 128, 128, "per-image pet IoU of the validation photos")
    assert "too few photos for an interval" in text and "**128 px is kept**" in text
