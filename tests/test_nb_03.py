"""Notebook 03 (Xception-style U-Net, BatchNorm lag): its layout, quiz and checks, the facts of
issue 30 and the figures of issue 35, read from the committed notebook without running it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from seglib import course, quiz

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "notebooks" / "03_xception_unet.ipynb"


def _cells():
    return course.read(PATH)["cells"]


def _markdown() -> str:
    return "\n".join(course.text(c) for c in _cells() if c["cell_type"] == "markdown")


def _index(predicate) -> int:
    return next(i for i, c in enumerate(_cells()) if predicate(c))


def test_layout_core_path_deep_dives_and_folded_blocks():
    nb = course.read(PATH)
    assert course.problems(nb, PATH.name) == []
    assert course.core_words(nb) <= course.CORE_WORDS
    titles = [s.title for s in course.sections(nb) if s.kind == "deeper"]
    assert any("separable" in t for t in titles) and any("version" in t for t in titles)
    first = course.text(nb["cells"][0])
    assert re.search(r"Reading time: about \d+ min for the core path, \d+ min for the deep", first)
    assert "Run time at real settings: about 9 min" in first
    assert "about 9 minutes on the 3-breed sample" in course.text(nb["cells"][1])


def test_every_check_cell_has_its_check_and_every_check_its_cell():
    content = quiz.load("03")
    cells = "\n".join(course.text(c) for c in _cells() if c["cell_type"] == "code")
    called = set(re.findall(r'quiz\.check\("(03\.\d+)"', cells))
    assert called == set(content["checks"]) == {"03.1", "03.2", "03.3"}
    assert 'quiz.show("03")' in cells
    for key in called:  # the check never shows our figure
        message = str(quiz.check(key, -12345.0))
        assert repr(content["checks"][key]["answer"]) not in message


def test_quiz_questions_do_not_all_have_the_first_answer_right():
    questions = quiz.load("03")["questions"]
    assert len(questions) >= 5
    positions = {next(i for i, a in enumerate(q["answers"]) if a["correct"]) for q in questions}
    assert len(positions) > 1


def test_the_keras_io_version_is_cited_by_its_commit():
    text = _markdown()
    link = "https://github.com/keras-team/keras-io/blob/e594caa/examples/vision/oxford_pets_image_segmentation.py"
    assert link in text and "13 April 2021" in text
    assert "2020 version" not in text


def test_the_lag_figure_plots_pixel_accuracy_and_is_read_before_it():
    cells = _cells()
    figure = _index(lambda c: c["cell_type"] == "code" and "lag[" in course.text(c))
    assert '"pixel accuracy"' in course.text(cells[figure])
    assert "predicted background" not in course.text(cells[figure])
    before = course.text(cells[figure - 1])
    assert cells[figure - 1]["cell_type"] == "markdown" and "Look at" in before


def test_no_typed_promise_of_background_everywhere_and_predictions_are_introduced():
    assert 'background" nearly everywhere' not in _markdown()
    cells = _cells()
    shown = _index(lambda c: "viz.show_predictions" in course.text(c))
    assert cells[shown - 1]["cell_type"] == "markdown"
    assert "Look at" in course.text(cells[shown - 1])


def test_the_exercise_cells_follow_the_course_pattern():
    nb = json.loads(PATH.read_text(encoding="utf-8"))
    tagged = [c for c in nb["cells"] if c.get("metadata", {}).get("tags")]
    runs = [c for c in tagged if "our-run" in c["metadata"]["tags"]]
    solutions = [c for c in tagged if "solution" in c["metadata"]["tags"]]
    assert len(runs) == len(solutions) == 3
    exercises = [c for c in nb["cells"] if "**Predict first:**" in "".join(c["source"])]
    assert len(exercises) == 3
