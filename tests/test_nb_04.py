"""Notebook 04 (U-Net, no skips, FCN): its layout, quiz and checks, the facts of issue 30 and
the degenerate-result notes of issue 35, read from the committed notebook; the note cell is
run on stand-in results on both sides of each condition."""

from __future__ import annotations

import re
from pathlib import Path

from seglib import course, metrics, prose, quiz, reference

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "notebooks" / "04_unet_from_scratch.ipynb"


def _cells():
    return course.read(PATH)["cells"]


def _markdown() -> str:
    return "\n".join(course.text(c) for c in _cells() if c["cell_type"] == "markdown")


def _code(cell_id: str) -> str:
    return next(course.text(c) for c in _cells() if c["id"] == cell_id)


def test_layout_core_path_deep_dives_and_folded_blocks():
    nb = course.read(PATH)
    assert course.problems(nb, PATH.name) == []
    assert course.core_words(nb) <= course.CORE_WORDS
    titles = " | ".join(s.title for s in course.sections(nb) if s.kind == "deeper")
    for topic in ("matrix", "output", "intervals at once", "even overlap"):
        assert topic in titles, topic
    first = course.text(nb["cells"][0])
    assert re.search(r"Reading time: about \d+ min for the core path, \d+ min for the deep", first)
    assert "Run time at real settings: about 11 min" in first


def test_every_check_cell_has_its_check_and_every_check_its_cell():
    content = quiz.load("04")
    cells = "\n".join(course.text(c) for c in _cells() if c["cell_type"] == "code")
    called = set(re.findall(r'quiz\.check\("(04\.\d+)"', cells))
    assert called == set(content["checks"]) == {"04.2", "04.3", "04.4", "04.5"}
    assert 'quiz.show("04")' in cells
    questions = content["questions"]
    assert len(questions) >= 5
    positions = {next(i for i, a in enumerate(q["answers"]) if a["correct"]) for q in questions}
    assert len(positions) > 1


def test_the_checkerboard_remedy_says_what_odena_et_al_say():
    text = _markdown()
    assert "The remedy they recommend" not in text
    assert 'interpolation="bilinear"' not in text
    assert "best results with nearest-neighbour" in text
    assert "difficulty making bilinear" in text


def test_bonferroni_is_introduced_with_its_source_before_its_first_use():
    cells = _cells()
    first_use = next(
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code"
        and re.search(r"bonferroni|multiple_comparisons", course.text(c))
    )
    before = "\n".join(course.text(c) for c in cells[:first_use] if c["cell_type"] == "markdown")
    assert "Bonferroni correction" in before and "1936" in before and "Dunn" in before
    assert "forest plot" not in (_markdown() + "".join(course.text(c) for c in cells)).lower()
    note = metrics.multiple_comparisons_note(5)
    assert "about 0.25 of them" in note and "0.05 × 5" in note
    assert "about 0.3 of them" not in _markdown()


def test_the_prose_does_not_promise_the_fcn_is_the_blobbiest():
    text = _markdown().lower()
    assert "blobby" not in text and "blobbiest" not in text
    assert "likely reason" in text


def _run_degenerate_cell(
    no_skips_border: int, fcn_gap: float, same_recipe: bool, no_skips_miou: float = 0.40
) -> list[str]:
    """Run the notebook's degenerate-note cell on stand-in results; return what it displays."""
    ref = reference.REFERENCES["04"]
    healthy = np.array([[80, 15, 5], [10, 180, 10], [5, 5, 20]])
    no_border = healthy.copy()
    if no_skips_border == 0:
        no_border[:, 0] += no_border[:, 2]
        no_border[:, 2] = 0
    scores = {
        "U-Net": metrics.Scores(healthy),
        "U-Net without skips": metrics.Scores(no_border),
        "FCN": metrics.Scores(healthy),
    }

    class Evaluation:
        def __init__(self, s):
            self.scores = s

    evaluations = {name: Evaluation(s) for name, s in scores.items()}
    table = pd.DataFrame(
        {"mean_iou": {"U-Net": 0.597, "U-Net without skips": no_skips_miou, "FCN": 0.558}}
    )
    fcn_differences = {
        "U-Net without skips - FCN (mIoU)": metrics.Difference(
            fcn_gap, fcn_gap - 0.01, fcn_gap + 0.01, 0.95, 298
        ),
        "U-Net - FCN (mIoU)": metrics.Difference(0.05, 0.04, 0.06, 0.95, 298),
    }
    shown = []

    class Pipes:
        sizes = dict(ref.sizes) if same_recipe else {"train": 24, "validation": 24, "test": 24}

    namespace = {
        "reference": reference,
        "prose": prose,
        "evaluations": evaluations,
        "table": table,
        "fcn_differences": fcn_differences,
        "pipes": Pipes,
        "settings": dict(ref.settings),
        "display": lambda m: shown.append(m),
        "Markdown": lambda text: text,
    }
    exec(_code("nb04-degenerate"), namespace)
    return shown


def test_degenerate_notes_appear_only_when_their_condition_holds():
    quiet = _run_degenerate_cell(no_skips_border=1, fcn_gap=+0.02, same_recipe=False)
    assert quiet == []
    loud = _run_degenerate_cell(no_skips_border=0, fcn_gap=-0.095, same_recipe=True)
    assert len(loud) == 1
    text = loud[0]
    assert "U-Net without skips never predicts border" in text
    assert "scores below the FCN" in text
    assert "below the reference runs' range" in text  # 0.40 < 0.461
    assert "FCN never predicts" not in text and "U-Net scores below" not in text
    other_data = _run_degenerate_cell(no_skips_border=1, fcn_gap=+0.02, same_recipe=False)
    assert not any("reference runs' range" in t for t in other_data)
    # The lowest reference run itself (0.461 as printed) is not called outside its range.
    edge = _run_degenerate_cell(
        no_skips_border=1, fcn_gap=+0.02, same_recipe=True, no_skips_miou=0.4606
    )
    assert edge == []
