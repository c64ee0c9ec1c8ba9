"""Self-check questions and answer checks for the notebooks' "Check your understanding" and
exercises.

Each notebook ``NN`` has its questions and checks in ``seglib/quizzes/NN.json``:

``{"questions": [...], "checks": {...}}``

* ``questions``: a list in the format of `jupyterquiz <https://github.com/jmshea/jupyterquiz>`_
  (J. M. Shea, MIT licence; plain HTML and JavaScript, no ipywidgets, so it works in
  JupyterLab, in Colab's ipywidgets 7 set and on the course site). Every question is
  ``{"question": str, "type": "multiple_choice" | "many_choice", "answers": [{"answer": str,
  "correct": bool, "feedback": str}, ...]}``: every answer, right or wrong, carries feedback
  that says why.
* ``checks``: ``{"NN.k": {"what": str, "answer": float, "right": float, "close": float,
  "hint_low": str, "hint_high": str}}``, one per exercise that ends in a number: our run's
  figure (on the lab set) and two tolerances in the same unit. :func:`check` compares a
  student's figure with it and says right, close or wrong, with a hint, without printing
  our figure (Kaggle Learn's ``q1.check()`` idea).

``show(notebook)`` displays a notebook's questions; ``check(exercise, value)`` checks one
figure; ``outputs(notebook)`` returns the quiz as notebook outputs (the course site puts it
on pages of notebooks that were not executed).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

#: The quiz library's question types that the course uses.
QUESTION_TYPES = ("multiple_choice", "many_choice")
#: Fewest questions per notebook (issue 31).
MIN_QUESTIONS = 4


def _notebook_key(notebook: str) -> str:
    key = str(notebook).strip()[:2]
    if not (len(key) == 2 and key.isdigit()):
        raise ValueError(
            f"notebook={notebook!r}: give the notebook's two-digit number, for example '02'"
        )
    return key


def load(notebook: str) -> dict:
    """The questions and checks of one notebook.

    Args:
        notebook: its two-digit number (``"02"``) or a name starting with it.

    Returns:
        ``{"questions": list, "checks": dict}``, validated (:func:`validate`).

    Raises:
        ValueError: ``notebook`` names no notebook, or its file is malformed.
        FileNotFoundError: the notebook has no quiz file.
    """
    key = _notebook_key(notebook)
    path = resources.files("seglib").joinpath("quizzes", f"{key}.json")
    if not path.is_file():
        raise FileNotFoundError(f"notebook {key} has no quiz: seglib/quizzes/{key}.json is missing")
    content = json.loads(path.read_text(encoding="utf-8"))
    validate(content, f"seglib/quizzes/{key}.json")
    return content


def validate(content: dict, name: str = "quiz") -> None:
    """Check a quiz file's structure.

    Raises:
        ValueError: naming ``name`` and the question or check at fault: fewer than
            :data:`MIN_QUESTIONS` questions, an unknown type, an answer without feedback, a
            multiple-choice question without exactly one correct answer, a check whose
            tolerances are not ``0 < right < close``.
    """
    questions = content.get("questions")
    if not isinstance(questions, list) or len(questions) < MIN_QUESTIONS:
        raise ValueError(f"{name}: needs at least {MIN_QUESTIONS} questions")
    for i, q in enumerate(questions, 1):
        where = f"{name}, question {i}"
        if q.get("type") not in QUESTION_TYPES or not str(q.get("question", "")).strip():
            raise ValueError(f"{where}: needs a question and a type in {QUESTION_TYPES}")
        answers = q.get("answers") or []
        if len(answers) < 2:
            raise ValueError(f"{where}: needs at least two answers")
        for a in answers:
            if not str(a.get("feedback", "")).strip() or not str(a.get("answer", "")).strip():
                raise ValueError(f"{where}: every answer needs its text and its feedback")
        n_correct = sum(bool(a.get("correct")) for a in answers)
        if q["type"] == "multiple_choice" and n_correct != 1:
            raise ValueError(f"{where}: a multiple_choice question has exactly one correct answer")
        if q["type"] == "many_choice" and n_correct < 1:
            raise ValueError(f"{where}: a many_choice question has at least one correct answer")
    for key, c in (content.get("checks") or {}).items():
        where = f"{name}, check {key}"
        for field in ("what", "answer", "right", "close", "hint_low", "hint_high"):
            if field not in c:
                raise ValueError(f"{where}: missing {field!r}")
        if not 0 < c["right"] < c["close"]:
            raise ValueError(f"{where}: needs 0 < right < close")


def questions(notebook: str) -> list[dict]:
    """The notebook's questions, in jupyterquiz's format (see the module docstring)."""
    return load(notebook)["questions"]


def show(notebook: str) -> None:
    """Display the notebook's "Check your understanding" questions with jupyterquiz.

    Click an answer: it turns green or red and its feedback says why. Answers keep their
    order (no shuffling), so a teacher can refer to them by position.
    """
    from jupyterquiz import display_quiz

    display_quiz(questions(notebook), shuffle_answers=False, max_width=760)


def outputs(notebook: str) -> list[dict]:
    """The quiz as notebook ``display_data`` outputs (HTML, then the JavaScript that fills
    it in), exactly what :func:`show` displays; for pages of notebooks not executed."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()  # display() needs a shell to publish to
    with capture_output() as captured:
        show(notebook)
    return [
        {"output_type": "display_data", "metadata": {}, "data": dict(o.data)}
        for o in captured.outputs
    ]


@dataclass(frozen=True)
class Verdict:
    """What :func:`check` found: ``grade`` is ``"right"``, ``"close"``, ``"wrong"`` or
    ``"missing"``; ``message`` is the sentence shown (never our figure)."""

    grade: str
    message: str

    def __str__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return self.message


def check(exercise: str, value) -> Verdict:
    """Compare a student's figure for an exercise with our run's, without showing ours.

    Args:
        exercise: ``"NN.k"``, the notebook and exercise number (``"05.2"``).
        value: the student's figure, a number in the unit the exercise asks for (a score
            in [0, 1], a difference of scores, minutes...), or ``None`` before they have one.

    Returns:
        a :class:`Verdict`: right (within ``right`` of ours), close (within ``close``) or
        wrong, with the check's hint on which way to look; ``missing`` for ``None``. Our
        figures come from runs on the lab set: on ``SEGLIB_SUBSET=all``, synthetic data or
        in smoke mode only "right" or "close" for the direction is meaningful.

    Raises:
        KeyError: no check for ``exercise``.
        TypeError: ``value`` is not a real number (a string, a tensor of several values).
    """
    notebook = _notebook_key(exercise)
    checks = load(notebook).get("checks", {})
    if exercise not in checks:
        known = ", ".join(sorted(checks)) or "none"
        raise KeyError(f"no check for exercise {exercise!r} (checks of {notebook}: {known})")
    c = checks[exercise]
    if value is None:
        return Verdict(
            "missing",
            f"Exercise {exercise}: run its cheap variant, then put your {c['what']} in the "
            "variable above and run this cell again.",
        )
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"exercise {exercise}: expected one number (your {c['what']}), got {value!r}"
        ) from None
    if not math.isfinite(number):
        raise TypeError(f"exercise {exercise}: expected a finite number, got {number}")
    gap = number - c["answer"]
    if abs(gap) <= c["right"]:
        return Verdict("right", f"Exercise {exercise}: right, your {c['what']} matches our run.")
    hint = c["hint_high"] if gap > 0 else c["hint_low"]
    if abs(gap) <= c["close"]:
        return Verdict(
            "close",
            f"Exercise {exercise}: close, your {c['what']} is near our run's, a little "
            f"{'higher' if gap > 0 else 'lower'}. {hint}",
        )
    return Verdict(
        "wrong",
        f"Exercise {exercise}: not what our run found: your {c['what']} is "
        f"{'higher' if gap > 0 else 'lower'} by more than {c['close']:g}. Hint: {hint}",
    )
