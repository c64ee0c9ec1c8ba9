"""``python -m benchmarks.exercises``: run notebook exercises' cheap variants, print time and figures.

Every exercise in the notebooks has a cheap variant meant to fit in class time (at most five
minutes on a 2-core CPU with the 3-breed sample). This module runs a cheap variant the way a
student would: the notebook, with the parameters and the code changes the exercise names,
executed top to bottom (:func:`seglib.runner.run_notebook`) in a folder of its own under
``build/exercises/`` (its own ``runs/`` and ``models/``, so nothing resumes an earlier run and
no model the user saved is overwritten). An exercise that starts from a model an earlier
notebook saved reads ``notebooks/models`` instead. It prints each run's wall time, the
figures the notebook recorded (``metrics.report``) and, for an exercise that adds a cell, that
cell's own seconds. The notebooks' *Exercises* quote these figures; rerun them here to see
what your machine takes::

    python -m benchmarks.exercises --list
    python -m benchmarks.exercises 04.base 04.2 --seeds 0 1

The data and weights come from the usual variables (``SEGLIB_DATA``, ``SEGLIB_ENCODER_WEIGHTS``);
without them the notebooks use their offline fallbacks, and the figures mean little.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: The cheap settings of notebook 02's training exercises: 128 px (02 trains at 224), 128
#: photos per split, 3 + 3 epochs.
_CHEAP_02 = {"IMAGE_SIZE": 128, "LIMIT": 128, "EPOCHS": 3, "FINE_TUNE_EPOCHS": 3}
#: The cheap settings of notebook 04's training exercises: all photos, 5 epochs.
_CHEAP_04 = {"EPOCHS": 5}
#: Where 04's cheap variants stop: the U-Net's build, and the U-Net's training.
_BUILT_04 = 'return keras.Model(inputs, logits, name="unet" if skips else "unet_no_skips")'
_TRAINED_04 = 'display(Markdown(timing("04_unet")))'

#: 04's cheap variants that train: the U-Net scored on the test photos shrunk both ways.
_SCORED_04 = """\
test_pairs = data.load("test", SOURCE, limit=LIMIT)
scored = metrics.evaluate_photos(unet_best, test_pairs, IMAGE_SIZE)
aliased = metrics.evaluate_photos(unet_best, test_pairs, IMAGE_SIZE, antialias=False)
val = history["val_mean_iou"].to_numpy()
metrics.report({
    "U-Net": scored,
    "antialiased - not, per-image mIoU": metrics.paired_bootstrap(
        scored.per_image["mean_iou"], aliased.per_image["mean_iou"]
    ),
    "training": {
        "parameters": float(unet_best.count_params()),
        "seconds per epoch": fit_seconds["04_unet"] / EPOCHS,
        "best validation mIoU": float(val.max()),
        "mean epoch-to-epoch change of validation mIoU": float(np.abs(np.diff(val)).mean()),
    },
})
print([round(v, 3) for v in val])
"""

#: 04 exercise 4, cheap: the saved U-Net, shallow skips zeroed, against itself.
_KNOCKED_OUT_04 = """\
saved = keras.models.load_model(MODEL_DIR / "04_unet.keras")
knocked_out = build_unet(IMAGE_SIZE)
knocked_out.set_weights(saved.get_weights())
test_pairs = data.load("test", SOURCE, limit=LIMIT)
evaluations = {
    "saved U-Net": metrics.evaluate_photos(saved, test_pairs, IMAGE_SIZE),
    "shallow skips zeroed": metrics.evaluate_photos(knocked_out, test_pairs, IMAGE_SIZE),
}
metrics.report(evaluations)
"""

#: 04 exercise 5, cheap: the saved U-Net on the test photos shrunk both ways.
_ALIASED_SAVED_04 = """\
saved = keras.models.load_model(MODEL_DIR / "04_unet.keras")
test_pairs = data.load("test", SOURCE, limit=LIMIT)
scored = metrics.evaluate_photos(saved, test_pairs, IMAGE_SIZE)
aliased = metrics.evaluate_photos(saved, test_pairs, IMAGE_SIZE, antialias=False)
gap = metrics.paired_bootstrap(scored.per_image["mean_iou"], aliased.per_image["mean_iou"])
metrics.report({"antialiased": scored, "not antialiased": aliased, "gap, per-image mIoU": gap})
"""


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


def _short_run_04(key: str, what: str, **parameters) -> Exercise:
    """A cheap variant of 04 that trains: the U-Net alone, 5 epochs, then the scoring cell."""
    return Exercise(
        key,
        "04_unet_from_scratch.ipynb",
        what,
        parameters={**_CHEAP_04, **parameters},
        stop_after=_TRAINED_04,
        added=_SCORED_04,
        seeded=True,
    )


EXERCISES = {
    e.key: e
    for e in [
        Exercise(
            "02.base",
            "02_pretrained_unet.ipynb",
            "the cheap settings, no change (IMAGE_SIZE = LIMIT = 128, EPOCHS = FINE_TUNE_EPOCHS = 3)",
            parameters=_CHEAP_02,
            seeded=True,
        ),
        Exercise(
            "02.1",
            "02_pretrained_unet.ipynb",
            "a random encoder (ENCODER_WEIGHTS = None), its BatchNorm trained in stage 2",
            parameters=_CHEAP_02,
            edits=(
                (  # None is not a string, so it is typed into the cell rather than given with -p
                    'ENCODER_WEIGHTS = "imagenet"',
                    "ENCODER_WEIGHTS = None",
                ),
                (
                    "    models.set_encoder_trainable(model, True)\n",
                    "    models.set_encoder_trainable(model, True)\n"
                    '    for layer in model.get_layer("mobilenetv2_encoder").layers:\n'
                    "        layer.trainable = True\n",
                ),
            ),
            seeded=True,
        ),
        Exercise(
            "02.2",
            "02_pretrained_unet.ipynb",
            "the tutorial's batch of 64 (a quarter of the updates per epoch)",
            parameters={**_CHEAP_02, "BATCH_SIZE": 64},
            seeded=True,
        ),
        _short_run_04(
            "04.base",
            "the U-Net alone, 5 epochs (the cells up to its training, then one scoring cell)",
        ),
        _short_run_04(
            "04.2",
            "the same with BatchNorm momentum 0.99 (Keras' default) instead of 0.9",
            BN_MOMENTUM=0.99,
        ),
        _short_run_04("04.3", "the same with 32 base filters instead of 16", BASE_FILTERS=32),
        Exercise(
            "04.4",
            "04_unet_from_scratch.ipynb",
            "the saved U-Net with its two shallow skip connections zeroed (no training)",
            edits=(
                (
                    "x = keras.layers.Concatenate()([x, features[level]])",
                    "skip = features[level] if level >= depth - 2 else features[level] * 0.0\n"
                    "            x = keras.layers.Concatenate()([x, skip])",
                ),
            ),
            stop_after=_BUILT_04,
            added=_KNOCKED_OUT_04,
            saved_models=True,
        ),
        Exercise(
            "04.5",
            "04_unet_from_scratch.ipynb",
            "the saved U-Net on test photos shrunk without antialiasing (no training)",
            stop_after=_BUILT_04,
            added=_ALIASED_SAVED_04,
            saved_models=True,
        ),
        _short_run_04(
            "04.5b",
            "exercise 5, longer: 04.base on antialiased photos only (MIXED_RESIZE = False)",
            MIXED_RESIZE=False,
        ),
    ]
}


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        for e in EXERCISES.values():
            print(f"{e.key:<8} {e.notebook:<40} {e.what}")
        return 0
    unknown = [k for k in args.keys if k not in EXERCISES]
    if unknown:
        print(f"unknown exercise(s) {unknown}; known: {', '.join(EXERCISES)}", file=sys.stderr)
        return 2
    failed = 0
    for key in args.keys or list(EXERCISES):
        exercise = EXERCISES[key]
        for seed in args.seeds if exercise.seeded else args.seeds[:1]:
            result = run(exercise, seed, args.out, args.models)
            status = "ok" if result["ok"] else f"FAILED: {result['error']}"
            print(
                f"{key} seed {seed}: {result['seconds'] / 60:.1f} min, {status} ({exercise.what})"
            )
            print("\n".join(_figures(result["metrics"])), flush=True)
            failed += not result["ok"]
    print(f"data: {os.environ.get('SEGLIB_DATA', '(not set)')}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
