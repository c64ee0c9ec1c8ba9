"""Short cells: no code cell of a course notebook is over 30 lines (issue 17, NOTEBOOKS.md)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_LINES = 30


def test_the_course_notebooks_are_found():
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_code_cell_is_over_30_lines(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    long = [
        f"cell {index}: {len(''.join(cell['source']).splitlines())} lines"
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code" and len("".join(cell["source"]).splitlines()) > MAX_LINES
    ]
    assert not long, (
        f"{path.name}: code cells over {MAX_LINES} lines (move plumbing to seglib): {long}"
    )
