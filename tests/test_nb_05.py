"""Notebook 05 (class weighting): its generated sentences, its forest plot, its quiz and layout."""

import re
from pathlib import Path

from seglib import course, metrics, prose, quiz, viz

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "05_class_weighting.ipynb"
REAL = metrics.Difference(0.003, 0.001, 0.004, 0.95, 298)
NOISE = metrics.Difference(-0.002, -0.004, 0.001, 0.95, 298)


def test_seed_agreement_adds_nothing_to_a_difference_within_noise():
    assert prose.seed_agreement(NOISE, True, 3) == ""
    assert prose.seed_agreement(NOISE, False, 1) == ""


def test_seed_agreement_names_one_seed_and_disagreeing_seeds():
    assert "One training seed" in prose.seed_agreement(REAL, True, 1)
    disagree = prose.seed_agreement(REAL, False, 3)
    assert "disagree" in disagree and "within noise" in disagree


def test_seed_agreement_says_how_weak_agreement_is():
    three = prose.seed_agreement(REAL, True, 3)
    assert "All 3 seeds" in three and "weak check" in three
    assert "25%" in three and "2 × 0.5³" in three  # 2 × 0.5 ** 3 = 0.25
    assert "6%" in prose.seed_agreement(REAL, True, 5)  # 2 × 0.5 ** 5 = 0.0625
    assert "0.20%" in prose.seed_agreement(REAL, True, 10)  # 2 × 0.5 ** 10 ≈ 0.002
    with pytest.raises(ValueError):
        prose.seed_agreement(REAL, True, 0)


def test_forest_plot_explains_its_colours_and_leaves_room_for_the_plot():
    long = "Dice + cross-entropy - unweighted (per-image mIoU)"
    ax = viz.plot_differences({long: REAL, "short": NOISE})
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["above the noise (excludes zero)", "within noise (includes zero)"]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("Dice + cross-entropy\n- unweighted")  # broken before the minus
    assert all(len(line) <= 26 for label in labels for line in label.splitlines())
    assert [c.lines[0].get_color() for c in ax.containers] == ["black", "0.6"]
    assert "black: the interval excludes zero" in viz.alt_text(ax.figure)
    plt.close("all")
    _, axes = plt.subplots(1, 2)
    viz.plot_differences({"a - b": REAL}, ax=axes[1], legend=False)
    assert axes[1].get_legend() is None
    plt.close("all")


def _notebook():
    return course.read(NOTEBOOK)


def test_notebook_05_follows_the_layout_and_defines_the_forest_plot_on_its_core_path():
    nb = _notebook()
    assert course.problems(nb, NOTEBOOK.name) == []
    kinds = course.kind_of_cells(nb)
    core = [
        course.text(c)
        for c, k in zip(nb.cells, kinds, strict=True)
        if c.cell_type == "markdown" and k == "core"
    ]
    first = next(i for i, t in enumerate(core) if "forest plot" in t)
    assert "**forest plot**" in core[first]  # defined where first used
    text = "\n".join(core)
    assert "refused outright" not in text
    assert not re.search(r"Every seed ranks the same way", text)


def test_notebook_05_check_cells_match_its_quiz():
    nb = _notebook()
    called = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            called |= set(re.findall(r'quiz\.check\("(05\.\d+)"', course.text(cell)))
    checks = quiz.load("05")["checks"]
    assert called == set(checks) == {"05.2", "05.3", "05.4"}
    for key in checks:
        assert quiz.check(key, None).grade == "missing"
        assert quiz.check(key, checks[key]["answer"]).grade == "right"
