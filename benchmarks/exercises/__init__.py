"""``python -m benchmarks.exercises``: run notebook exercises' cheap variants, print time and figures.

Every exercise in the notebooks has a cheap variant meant to fit in class time (at most five
minutes on a 2-core CPU with the 3-breed sample); the ones that train or load a model are here
(01's exercises and 04's first run in seconds inside their notebook). This module runs a cheap
variant the way a student would: the notebook, with the parameters and the code changes the
exercise names, executed top to bottom (:func:`seglib.runner.run_notebook`) in a folder of its
own under ``build/exercises/`` (its own ``runs/`` and ``models/``, so nothing resumes an earlier
run and no model the user saved is overwritten). An exercise that starts from a model an earlier
notebook saved reads ``notebooks/models`` instead. It prints each run's wall time, the figures
the notebook recorded (``metrics.report``) and, for an exercise that adds a cell, that cell's
own seconds. The notebooks' *Exercises* quote these figures; rerun them here to see what your
machine takes::

    python -m benchmarks.exercises --list
    python -m benchmarks.exercises 04.base 04.2 --seeds 0 1
    python -m benchmarks.exercises 05.2 --models ../other-clone/notebooks/models

The data and weights come from the usual variables (``SEGLIB_DATA``, ``SEGLIB_ENCODER_WEIGHTS``);
without them the notebooks use their offline fallbacks, and the figures mean little.

Each notebook's variants are in ``nbNN.py`` beside this file; the machinery is in ``core.py``.
"""

from __future__ import annotations

from . import nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09
from .core import NOTEBOOKS, ROOT, Exercise, apply_edits, cells_until, prepared_notebook, run
from .core import main as _main

__all__ = [
    "EXERCISES",
    "NOTEBOOKS",
    "ROOT",
    "Exercise",
    "apply_edits",
    "cells_until",
    "main",
    "prepared_notebook",
    "run",
]

#: Every cheap variant, by key (``"04.2"``), in the notebooks' order.
EXERCISES = {
    e.key: e for module in (nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09) for e in module.ENTRIES
}
if len(EXERCISES) != sum(len(m.ENTRIES) for m in (nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09)):
    raise RuntimeError("two cheap variants share a key")


def main(argv=None) -> int:
    """``python -m benchmarks.exercises``: see the module's docstring."""
    return _main(argv, EXERCISES)
