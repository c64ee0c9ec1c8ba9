"""Notebook 07 (comparing the models): its generated sentences, its quiz and its layout."""

import re
from pathlib import Path

from seglib import course, metrics, prose, quiz

import pandas as pd

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "07_compare_models.ipynb"
ROWS = [
    "3 classes: pet IoU",
    "border ignored: pet IoU",
    "3 classes: per-image mIoU",
    "border ignored: per-image mIoU",
]


def _table(**columns):
    return pd.DataFrame(columns, index=ROWS)


def test_border_ignored_calls_a_tie_at_three_decimals_no_change_of_order():
    # 03 ahead of 04 with three classes; with the border ignored both print 0.802
    table = _table(
        **{"03 Xception": [0.64, 0.85, 0.580, 0.8021], "04 U-Net": [0.65, 0.86, 0.591, 0.8018]}
    )
    text = prose.border_ignored(table)
    assert "changes" not in text.split("(dataset level).")[1]
    assert "is the same under both evaluations" in text
    assert "04 U-Net and 03 Xception tie at 0.802 with the border ignored" in text or (
        "03 Xception and 04 U-Net tie at 0.802 with the border ignored" in text
    )


def test_border_ignored_still_reports_a_real_change_of_order_with_ties_marked():
    table = _table(A=[0.6, 0.7, 0.70, 0.80], B=[0.6, 0.7, 0.60, 0.90], C=[0.6, 0.7, 0.6001, 0.70])
    text = prose.border_ignored(table)
    assert "changes: A > B = C with three classes, B > A > C with the border ignored" in text


def test_border_ignored_same_order_without_ties_says_nothing_about_ties():
    table = _table(A=[0.6, 0.7, 0.70, 0.90], B=[0.6, 0.7, 0.60, 0.80])
    text = prose.border_ignored(table)
    assert "is the same under both evaluations;" in text and "tie" not in text


def test_tta_decision_scores_test_photos_only_when_validation_says_it_helps():
    helps = metrics.Difference(0.012, 0.009, 0.015, 0.95, 44)
    text = prose.tta_decision(helps, "02 MobileNetV2", 200.0, 800.0)
    assert text.startswith("On these validation photos, the difference in per-image mIoU favours")
    assert "4.0× the time per photo (200 → 800 ms)" in text
    assert "scored once on the test photos" in text
    for no in (
        metrics.Difference(0.004, -0.002, 0.010, 0.95, 44),  # within noise
        metrics.Difference(-0.012, -0.015, -0.009, 0.95, 44),  # above the noise, but harmful
    ):
        text = prose.tta_decision(no, "02 MobileNetV2", 200.0, 800.0)
        assert "not scored on the test photos" in text and "scored once" not in text


def _notebook():
    return course.read(NOTEBOOK)


def test_notebook_07_follows_the_layout_and_states_what_an_interval_means():
    nb = _notebook()
    assert course.problems(nb, NOTEBOOK.name) == []
    kinds = course.kind_of_cells(nb)
    text = "\n".join(
        course.text(c)
        for c, k in zip(nb.cells, kinds, strict=True)
        if c.cell_type == "markdown" and k == "core"
    )
    assert "would very likely rank" not in text
    assert "95% of the time" in text
    assert "02's architecture trained with class weights" not in text
    assert "half-width decoder" in text  # 05's model described as it is


def test_notebook_07_decides_tta_on_validation_photos_and_keeps_keras_quiet():
    sources = "\n".join(course.text(c) for c in _notebook().cells if c.cell_type == "code")
    assert 'data.load("validation"' in sources and "prose.tta_decision(" in sources
    assert "contextlib.redirect_stdout" in sources  # Keras' download message stays out


def test_notebook_07_check_cells_match_its_quiz():
    called = set()
    for cell in _notebook().cells:
        if cell.cell_type == "code":
            called |= set(re.findall(r'quiz\.check\("(07\.\d+)"', course.text(cell)))
    checks = quiz.load("07")["checks"]
    assert called == set(checks) == {"07.1", "07.2", "07.3", "07.4"}
    for key in checks:
        assert quiz.check(key, checks[key]["answer"]).grade == "right"
