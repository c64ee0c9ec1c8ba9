"""Notebook 06 (your own photos): self-sufficient, and its overlays show every class."""

import json
import re
from pathlib import Path

from seglib import quiz, viz

import numpy as np

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "06_your_own_images.ipynb"


def _cells():
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def _text(kind=None):
    return "\n".join(
        "".join(c["source"]) for c in _cells() if kind is None or c["cell_type"] == kind
    )


def test_the_overlay_tints_the_background_too():
    grey = np.full((4, 6, 3), 0.5, np.float32)
    for label in (0, 1, 2):  # pet, background, border: each visibly tinted, as the legend says
        tinted = viz.overlay(grey, np.full((4, 6), label))
        assert np.abs(tinted - grey).max() > 0.1, f"label {label} is not visibly tinted"
    pet = np.abs(viz.overlay(grey, np.zeros((4, 6), int)) - grey).max()
    background = np.abs(viz.overlay(grey, np.ones((4, 6), int)) - grey).max()
    assert background < pet  # the background tint is lighter, so the photo still shows


def test_06_uses_no_temperature_from_a_later_notebook():
    text = _text()
    for later in ("notebook 09", "09 stor", "calibration.json", "stored temperature"):
        assert later not in text, later
    assert "model_temperature" not in text and "calibration_path" not in text
    # every segment call (code cells and the solutions' code) keeps the model's own softmax
    fenced = re.findall(r"```python\n(.*?)```", _text("markdown"), re.S)
    code = "\n".join([_text("code"), *fenced])
    calls = code.split("inference.segment(")[1:]
    assert len(calls) >= 8
    for call in calls:
        arguments = call.split(")\n", 1)[0]
        if arguments.startswith("bomb"):  # refused before any prediction
            continue
        assert "temperature=1.0" in arguments, arguments


def test_06_quotes_no_tta_gain_it_did_not_measure():
    markdown = _text("markdown")
    assert "never saw" not in markdown and "breed never seen" not in markdown
    assert not re.search(r"TTA (?:raised|helps|helped)", markdown)


def test_06_checks_hold_for_any_example_photo():
    checks = quiz.load("06")["checks"]
    assert checks["06.1"]["answer"] == 0.0  # one mask cut twice: the gain is the border share
    assert checks["06.2"]["answer"] == 1.0  # alpha 0.2-0.8 of pet means no class reaches 0.8
    assert quiz.check("06.1", 0.0).grade == "right"
    assert quiz.check("06.2", 0.5).grade == "wrong"
