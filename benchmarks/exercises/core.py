"""The machinery of :mod:`benchmarks.exercises`: prepare a notebook for a cheap variant, run it."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


@dataclass(frozen=True)
class Exercise:
    """One exercise's cheap variant.

    Attributes:
        key: ``"<notebook>.<number>"``, or ``"<notebook>.base"`` for the cheap settings with no
            change, the run an exercise compares with.
        notebook: the notebook's file name in ``notebooks/``.
        what: one line: what the variant changes.
        parameters: overrides of the parameters cell (as ``-p NAME=value``).
        edits: ``(old, new)`` replacements in the code cells; each ``old`` must occur exactly
            once in the notebook's code.
        stop_after: text of the last code cell to run (the first code cell containing it);
            the cells after it are left out, as a student stops after one section.
        added: code run in a new cell at the end (e.g. a solution that starts from the
            notebook's trained model); it is timed on its own.
        saved_models: read ``notebooks/models`` (models earlier notebooks saved).
        seeded: the notebook has a ``SEED`` parameter, so ``--seeds`` draws other runs.
    """

    key: str
    notebook: str
    what: str
    parameters: dict = field(default_factory=dict)
    edits: tuple = ()
    stop_after: str = ""
    added: str = ""
    saved_models: bool = False
    seeded: bool = False


def apply_edits(cells: list, edits) -> None:
    """Replace each ``(old, new)`` in the code cells, in place.

    Raises:
        ValueError: an ``old`` that does not occur exactly once in the notebook's code (the
            notebook changed under the exercise: its text must change too).
    """
    code = [c for c in cells if c["cell_type"] == "code"]
    for old, new in edits:
        hits = [c for c in code if old in "".join(c["source"])]
        count = sum("".join(c["source"]).count(old) for c in hits)
        if count != 1:
            raise ValueError(
                f"edit {old.strip()!r}: found {count} times in the code, expected once"
            )
        source = "".join(hits[0]["source"]).replace(old, new)
        hits[0]["source"] = source.splitlines(keepends=True)


def cells_until(cells: list, text: str) -> list:
    """The cells up to and including the first code cell whose source contains ``text``.

    Raises:
        ValueError: no code cell contains ``text``.
    """
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and text in "".join(cell["source"]):
            return cells[: i + 1]
    raise ValueError(f"stop_after {text!r}: no code cell contains it")


def prepared_notebook(
    exercise: Exercise, folder: Path, models: Path = NOTEBOOKS / "models"
) -> Path:
    """Write the exercise's notebook into ``folder`` (created, emptied first); return its path.

    An exercise with ``saved_models`` finds ``models`` (default ``notebooks/models``) linked
    as the folder's ``models/``.
    """
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    nb = json.loads((NOTEBOOKS / exercise.notebook).read_text(encoding="utf-8"))
    apply_edits(nb["cells"], exercise.edits)
    if exercise.stop_after:
        nb["cells"] = cells_until(nb["cells"], exercise.stop_after)
    if exercise.added:
        timed = (
            "import time as _time\n_started = _time.perf_counter()\n"
            + exercise.added
            + 'print(f"exercise cell: {_time.perf_counter() - _started:.1f} s")\n'
        )
        nb["cells"].append(
            {
                "cell_type": "code",
                "id": "exercise-added",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": timed.splitlines(keepends=True),
            }
        )
    if exercise.saved_models:
        (folder / "models").symlink_to(Path(models).resolve(), target_is_directory=True)
    path = folder / exercise.notebook
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run(exercise: Exercise, seed: int, out: Path, models: Path = NOTEBOOKS / "models") -> dict:
    """Run one exercise at one seed; return the runner's result (``seconds``, ``metrics``...)."""
    from seglib import runner

    folder = out / f"{exercise.key}-seed{seed}"
    path = prepared_notebook(exercise, folder, models)
    parameters = dict(exercise.parameters)
    if exercise.seeded:
        parameters["SEED"] = seed
    return runner.run_notebook(path, folder / "executed", parameters=parameters)


def _figures(metrics: dict) -> list[str]:
    lines = []
    for name, values in metrics.items():
        shown = ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
        )
        lines.append(f"    {name}: {shown}")
    return lines


def main(argv=None, exercises: dict | None = None) -> int:
    """The command line: run the exercises named in ``argv`` (all of ``exercises`` by default)."""
    parser = argparse.ArgumentParser(
        description="Run notebook exercises' cheap variants; print time and figures."
    )
    parser.add_argument("keys", nargs="*", help="exercises, e.g. 04.base 04.2 (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="SEED values")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "exercises")
    parser.add_argument(
        "--models",
        type=Path,
        default=NOTEBOOKS / "models",
        help="the saved models an exercise starts from (default: notebooks/models)",
    )
    parser.add_argument("--list", action="store_true", help="list the exercises and stop")
    args = parser.parse_args(argv)
    if args.list:
        for e in exercises.values():
            print(f"{e.key:<8} {e.notebook:<40} {e.what}")
        return 0
    unknown = [k for k in args.keys if k not in exercises]
    if unknown:
        print(f"unknown exercise(s) {unknown}; known: {', '.join(exercises)}", file=sys.stderr)
        return 2
    from seglib import config, runner  # starts TensorFlow: only when something runs

    # Each exercise runs in a folder of its own under --out: a relative SEGLIB_DATA (the
    # README's ../shared/...) must name the same folder there, as make run's runner does.
    runner.absolute_path_variables()
    failed = 0
    runs = [
        (key, seed)
        for key in args.keys or list(exercises)
        for seed in (args.seeds if exercises[key].seeded else args.seeds[:1])
    ]
    # A bar with the time left over the runs (each is minutes long); the lines stay.
    for key, seed in config.progress(runs, total=len(runs), desc="exercises", unit="run"):
        exercise = exercises[key]
        result = run(exercise, seed, args.out, args.models)
        status = "ok" if result["ok"] else f"FAILED: {result['error']}"
        print(f"{key} seed {seed}: {result['seconds'] / 60:.1f} min, {status} ({exercise.what})")
        print("\n".join(_figures(result["metrics"])), flush=True)
        failed += not result["ok"]
    print(f"data: {os.environ.get('SEGLIB_DATA', '(not set)')}")
    return 1 if failed else 0
