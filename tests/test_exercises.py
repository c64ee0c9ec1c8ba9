"""The exercises' cheap variants (benchmarks/exercises/) still fit the notebooks they change."""

import json

from seglib import runner

import pytest

from benchmarks import exercises


@pytest.mark.parametrize("exercise", exercises.EXERCISES.values(), ids=lambda e: e.key)
def test_each_exercise_applies_to_its_notebook(exercise, tmp_path):
    path = exercises.prepared_notebook(exercise, tmp_path / "run")
    runner.check_parameters(path, exercise.parameters)  # raises on an unknown name or type
    if exercise.seeded:
        assert "SEED" in runner.notebook_parameters(path)
    code = "".join(
        "".join(c["source"])
        for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
        if c["cell_type"] == "code"
    )
    for old, new in exercise.edits:
        assert new in code and old not in code.replace(new, "")
    if exercise.added:
        assert exercise.added in code


def test_an_edit_that_no_longer_matches_is_refused():
    cells = [{"cell_type": "code", "source": ["x = 1\n", "x = 1\n"]}]
    with pytest.raises(ValueError, match="found 2 times"):
        exercises.apply_edits(cells, [("x = 1\n", "x = 2\n")])
    with pytest.raises(ValueError, match="found 0 times"):
        exercises.apply_edits(cells, [("y = 1\n", "y = 2\n")])
    exercises.apply_edits(cells, [("x = 1\nx", "x = 3\nx")])
    assert cells[0]["source"] == ["x = 3\n", "x = 1\n"]


def test_a_rerun_starts_from_an_empty_folder(tmp_path):
    exercise = exercises.EXERCISES["04.base"]
    folder = tmp_path / "run"
    exercises.prepared_notebook(exercise, folder)
    (folder / "runs").mkdir()  # what an earlier run left
    exercises.prepared_notebook(exercise, folder)
    assert sorted(p.name for p in folder.iterdir()) == [exercise.notebook]


def test_relative_data_paths_are_made_absolute_before_an_exercise_runs(tmp_path, monkeypatch):
    (tmp_path / "pets").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGLIB_DATA", "pets")
    seen = []

    def fake_run(exercise, seed, out, models):
        import os

        seen.append(os.environ["SEGLIB_DATA"])
        return {"ok": True, "seconds": 0.0, "metrics": {}, "error": None}

    monkeypatch.setattr(exercises.core, "run", fake_run)
    assert exercises.main(["06.1", "--out", str(tmp_path / "out")]) == 0
    assert seen == [str(tmp_path / "pets")]  # the exercise's own folder would not find "pets"
