"""Short cells: no code cell of a course notebook is over 30 lines (issue 17, NOTEBOOKS.md).

And no figure left to fill: the exercises quote measured figures, written in as
``[[MEASURE ...]]`` placeholders while a text is drafted.
"""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_LINES = 30


def test_the_course_notebooks_are_found():
    assert len(NOTEBOOKS) >= 8


def sources(path):
    """``(index, cell type, source text)`` of every cell of the notebook at ``path``."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(i, cell["cell_type"], "".join(cell["source"])) for i, cell in enumerate(cells)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_code_cell_is_over_30_lines(path):
    long = [
        f"cell {index}: {len(text.splitlines())} lines"
        for index, kind, text in sources(path)
        if kind == "code" and len(text.splitlines()) > MAX_LINES
    ]
    assert not long, (
        f"{path.name}: code cells over {MAX_LINES} lines (move plumbing to seglib): {long}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_placeholder_is_left_for_a_figure(path):
    left = [f"cell {index}" for index, _, text in sources(path) if "[[MEASURE" in text]
    assert not left, f"{path.name}: figures still to measure ([[MEASURE ...]]) in {left}"
