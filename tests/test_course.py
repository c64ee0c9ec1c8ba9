"""The course's layout (seglib.course), its quizzes and checks (seglib.quiz), student copies
(make student) and the site's folded deep dives (site/build_site.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from seglib import course, quiz

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.name[:2] for p in NOTEBOOKS]


def md(source: str, **meta) -> dict:
    return {
        "cell_type": "markdown",
        "id": f"c{abs(hash(source)) % 10**8}",
        "metadata": meta,
        "source": source,
    }


def code(source: str, **meta) -> dict:
    return {
        "cell_type": "code",
        "id": f"k{abs(hash(source)) % 10**8}",
        "metadata": meta,
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def folded(summary: str, body: str) -> str:
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def toy_notebook() -> dict:
    """A notebook in the course layout: core, a deep dive with a sub-heading, exercises."""
    return {
        "metadata": {},
        "cells": [
            md("# 99 · Toy\n\nOne two three four five."),
            code("x = 1"),
            md("## Core section\n\nsix seven eight"),
            md("## Deeper: a side topic\n\n" + "word " * 40),
            code("y = 2"),
            md("### Inside the deep dive\n\n" + "more " * 10),
            md("## Back on the core path\n\nnine ten"),
            md("## Exercises\n\n" + "exercise " * 100),
            md(folded("Our run (lab set)", "0.5"), tags=["our-run"]),
            md(folded("Solution 1", "because"), tags=["solution"]),
            md("## Check your understanding\n\nClick an answer."),
            code('quiz.show("99")'),
        ],
    }


def test_sections_and_core_words_leave_out_deep_dives_and_exercises():
    nb = toy_notebook()
    kinds = course.kind_of_cells(nb)
    assert kinds[3:6] == ["deeper"] * 3 and kinds[6] == "core"
    assert kinds[7:10] == ["exercises"] * 3 and kinds[10:] == ["quiz"] * 2
    # Title 2 + 5 words, "Core section" 2 + 3, "Back on the core path" 5 + 2, quiz 3 + 3.
    assert course.core_words(nb) == 7 + 5 + 7 + 6
    assert course.deeper_words(nb) == 4 + 40 + 4 + 10
    assert course.words("see [the site](https://x.org/a-b) and `code`\n```\nnot counted\n```") == 5


def test_fold_sets_jupyterlab_and_colab_state_and_check_finds_what_is_missing():
    nb = toy_notebook()
    problems = course.problems(nb, "toy")
    assert any("deep dive not folded" in p for p in problems)
    assert course.fold(nb) == 2  # the heading cell and the notebook's Colab metadata
    assert course.problems(nb, "toy") == []
    heading = nb["cells"][3]
    assert heading["metadata"][course.JUPYTERLAB_COLLAPSED] is True
    assert nb["metadata"]["colab"]["collapsed_sections"] == [heading["id"]]
    assert course.fold(nb) == 0  # idempotent
    # An our-run figure outside its folded, tagged cell, and a tagged code cell, are caught.
    nb["cells"].append(md("Our run: 0.7"))
    nb["cells"].append(code("print(1)", tags=["solution"]))
    problems = course.problems(nb, "toy")
    assert any("outside a cell tagged our-run" in p for p in problems)
    assert any("code cell tagged solution" in p for p in problems)


def test_check_reports_a_long_core_path_and_a_missing_quiz():
    nb = toy_notebook()
    course.fold(nb)
    nb["cells"][2]["source"] += " word" * course.CORE_WORDS
    nb["cells"] = nb["cells"][:-2]
    problems = course.problems(nb, "toy")
    assert any("core path has" in p for p in problems)
    assert any("Check your understanding" in p for p in problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_follows_the_layout(path):
    """Core path <= 1,500 words, deep dives folded for JupyterLab and Colab, every our-run
    figure and solution one folded block in a tagged Markdown cell, a quiz section."""
    nb = course.read(path)
    assert course.problems(nb, path.name) == []
    tagged = [c for c in nb["cells"] if set(course.tags(c)) & set(course.TEACHER_TAGS)]
    exercises = [s for s in course.sections(nb) if s.kind == "exercises"]
    assert exercises, f"{path.name}: no Exercises section"
    assert any("solution" in course.tags(c) for c in tagged), f"{path.name}: no solution cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_has_its_quiz_with_feedback_on_every_answer(path):
    content = quiz.load(path.name[:2])  # validates: >= 4 questions, feedback on every answer
    assert len(content["questions"]) >= quiz.MIN_QUESTIONS
    calls = [c for c in course.read(path)["cells"] if "quiz.show(" in course.text(c)]
    assert len(calls) == 1 and f'quiz.show("{path.name[:2]}")' in course.text(calls[0])
    # Every check an exercise cell calls exists, and answers "missing" before a figure.
    nb_text = "\n".join(course.text(c) for c in course.read(path)["cells"])
    for key in content.get("checks", {}):
        assert f'quiz.check("{key}"' in nb_text, f"check {key} is never called"
        assert quiz.check(key, None).grade == "missing"


def fake_quiz(monkeypatch):
    content = {
        "questions": [],
        "checks": {
            "42.1": {
                "what": "border IoU",
                "answer": 0.5,
                "right": 0.02,
                "close": 0.06,
                "hint_low": "train longer",
                "hint_high": "did you score on validation?",
            }
        },
    }
    monkeypatch.setattr(quiz, "load", lambda notebook: content)


def test_check_says_right_close_or_wrong_without_showing_our_figure(monkeypatch):
    fake_quiz(monkeypatch)
    cases = {0.51: "right", 0.49: "right", 0.54: "close", 0.45: "close", 0.7: "wrong", 0.2: "wrong"}
    for value, grade in cases.items():
        verdict = quiz.check("42.1", value)
        assert verdict.grade == grade, (value, verdict)
        assert "0.5" not in verdict.message.replace("0.51", "").replace("0.49", "")
    assert "did you score on validation?" in quiz.check("42.1", 0.7).message
    assert "train longer" in quiz.check("42.1", 0.2).message
    assert quiz.check("42.1", None).grade == "missing"
    with pytest.raises(TypeError, match="expected one number"):
        quiz.check("42.1", "0.5")
    with pytest.raises(TypeError, match="finite"):
        quiz.check("42.1", float("nan"))
    with pytest.raises(KeyError, match="no check for exercise '42.9'"):
        quiz.check("42.9", 0.5)


def test_validate_refuses_a_question_without_feedback_or_with_two_right_answers():
    good = {"answer": "a", "correct": True, "feedback": "yes"}
    bad = {"answer": "b", "correct": False, "feedback": ""}
    question = {"question": "q", "type": "multiple_choice"}
    with pytest.raises(ValueError, match="at least 4 questions"):
        quiz.validate({"questions": []}, "t")
    with pytest.raises(ValueError, match="question 1: every answer needs"):
        quiz.validate({"questions": [{**question, "answers": [good, bad]}] * 4}, "t")
    two = [good, {**good, "answer": "c"}]
    with pytest.raises(ValueError, match="exactly one correct"):
        quiz.validate({"questions": [{**question, "answers": two}] * 4}, "t")
    ok = {**question, "answers": [good, {**bad, "feedback": "no"}]}
    checks = {
        "1.1": {
            "what": "x",
            "answer": 0,
            "right": 0.1,
            "close": 0.05,
            "hint_low": "",
            "hint_high": "",
        }
    }
    with pytest.raises(ValueError, match="0 < right < close"):
        quiz.validate({"questions": [ok] * 4, "checks": checks}, "t")
    with pytest.raises(ValueError, match="two-digit number"):
        quiz.load("quiz")


def test_quiz_outputs_are_the_html_and_javascript_jupyterquiz_displays():
    outputs = quiz.outputs(IDS[0])
    mimes = [set(o["data"]) for o in outputs]
    assert any("text/html" in m for m in mimes) and any(
        "application/javascript" in m for m in mimes
    )
    script = "\n".join(
        o["data"]["application/javascript"]
        for o in outputs
        if "application/javascript" in o["data"]
    )
    first = quiz.questions(IDS[0])[0]["question"]
    assert json.dumps(first)[1:-1][:40] in script  # the questions travel inside the script


def test_student_copies_drop_solutions_and_our_run_and_keep_every_code_cell(tmp_path):
    """make student's copies: no solution, no our-run figure; the same code cells in the same
    order as the teacher's copy, so the teacher copy's nbval run covers them."""
    written = course.student_copies(NOTEBOOKS, tmp_path)
    assert sorted(p.name for p in written) == [p.name for p in NOTEBOOKS]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    for teacher, student in zip(NOTEBOOKS, sorted(written), strict=True):
        t, s = course.read(teacher), course.read(student)
        for cell in s["cells"]:
            assert not set(course.tags(cell)) & set(course.TEACHER_TAGS)
            assert "Our run" not in course.text(cell) and "<summary>Solution" not in course.text(
                cell
            )
        codes = [c["source"] for c in t["cells"] if c["cell_type"] == "code"]
        assert codes == [c["source"] for c in s["cells"] if c["cell_type"] == "code"]
        dropped = len(t["cells"]) - len(s["cells"])
        assert dropped == sum(
            bool(set(course.tags(c)) & set(course.TEACHER_TAGS)) for c in t["cells"]
        )
        assert dropped > 0


def test_a_student_copy_runs_under_nbval_in_smoke_mode(tmp_path):
    """The first notebook's student copy, run as is from its own folder (nbval, smoke mode)."""
    course.student_copies(NOTEBOOKS[:1], tmp_path)
    env = {**os.environ, "SEGLIB_SMOKE": "1", "SEGLIB_PROGRESS": "0"}
    env.setdefault("SEGLIB_DATA", "synthetic")
    for name in ("SEGLIB_DATA", "SEGLIB_ENCODER_WEIGHTS", "SEGLIB_EXAMPLE_IMAGE"):
        if env.get(name) and Path(env[name]).exists():  # relative to here, not to tmp_path
            env[name] = str(Path(env[name]).resolve())
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            NOTEBOOKS[0].name,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


def test_make_student_writes_the_copies(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "seglib.course",
            "student",
            "--out",
            str(tmp_path),
            *map(str, NOTEBOOKS[:2]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in NOTEBOOKS[:2]]


def load_builder():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "site" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_turns_each_deep_dive_into_one_details_block():
    builder = load_builder()
    cells = builder.fold_deep_dives(toy_notebook()["cells"])
    sources = [course.text(c) for c in cells]
    start = next(i for i, s in enumerate(sources) if s.startswith('<details class="deeper">'))
    assert "<summary>Deeper: a side topic</summary>" in sources[start]
    end = sources.index("</details>")
    assert start < end and sources[end + 1].startswith("## Back on the core path")
    # The sub-heading inside the deep dive is a bold line: no page section opens inside.
    assert sources[start + 2].startswith("**Inside the deep dive**")
    assert sum(s.count("<details") for s in sources) == sum(s.count("</details>") for s in sources)


def test_the_site_gives_an_unexecuted_notebook_its_quiz():
    builder = load_builder()
    nb = course.read(NOTEBOOKS[0])
    staged = builder.prepare_notebook(nb, NOTEBOOKS[0].name, False, None, {})
    cells = [c for c in staged["cells"] if "quiz.show(" in course.text(c)]
    assert cells and any("application/javascript" in o["data"] for o in cells[0]["outputs"])
