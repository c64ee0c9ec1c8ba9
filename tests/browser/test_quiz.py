"""A "Check your understanding" quiz in JupyterLab, answered as a student does.

The quiz cell of a course notebook (``quiz.show("NN")``, drawn by jupyterquiz) runs in a
small notebook of its own in the served folder (the rest of the course notebook is not needed
to draw its quiz); the test clicks a wrong answer of one question and the right answer of
another and reads the feedback each shows.
"""

from __future__ import annotations

import json
import re

from seglib import course, quiz

import labpage
from conftest import NOTEBOOKS, screenshot

QUIZ_S = 60


def _quiz_notebook(root) -> tuple[str, str]:
    """Write ``quiz_check.ipynb`` with the first course notebook's quiz cell; return its name
    and the notebook number."""
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in course.read(path)["cells"] if "quiz.show(" in course.text(c)]
        if cells:
            number = path.name[:2]
            source = "from seglib import quiz\n\n" + course.text(cells[0])
            break
    else:
        raise AssertionError("no course notebook has a quiz cell")
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "quiz",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "quiz_check.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return "quiz_check.ipynb", number


def _plain(html: str) -> str:
    """Text as the page shows it: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


FEEDBACK = """label => {
    const fb = document.getElementById("fb" + label.id.split("-")[0]);
    return {text: fb ? fb.innerText.trim() : "", classes: fb ? fb.className : ""};
}"""


def test_a_quiz_answer_shows_its_feedback_wrong_and_right(page, lab):
    name, number = _quiz_notebook(lab.root)
    questions = quiz.questions(number)
    labpage.open_notebook(page, lab, name)
    labpage.run_all(page, 120)
    buttons = page.locator(f"{labpage.NOTEBOOK} label.MCButton")
    labpage.wait_for(lambda: buttons.count() > 0, QUIZ_S, "the quiz's answer buttons", page)
    total = sum(len(q["answers"]) for q in questions)
    assert buttons.count() == total, f"{buttons.count()} answer buttons, {total} answers"

    # Question 1, a wrong answer: red, and that answer's own feedback.
    first = questions[0]["answers"]
    wrong = next(i for i, a in enumerate(first) if not a["correct"])
    label = buttons.nth(wrong)
    label.click()
    shown = label.evaluate(FEEDBACK)
    assert "incorrect" in shown["classes"], shown
    assert _plain(shown["text"]) == _plain(first[wrong]["feedback"]), shown
    assert "incorrectButton" in (label.get_attribute("class") or "")

    # Question 2, the right answer: green, and its feedback.
    second = questions[1]["answers"]
    right = next(i for i, a in enumerate(second) if a["correct"])
    label = buttons.nth(len(first) + right)
    label.click()
    shown = label.evaluate(FEEDBACK)
    assert "correct" in shown["classes"].split(), shown
    assert _plain(shown["text"]) == _plain(second[right]["feedback"]), shown
    screenshot(page, "quiz_answered")
    labpage.assert_clean(page)
