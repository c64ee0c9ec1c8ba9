"""How good are the training-time estimates? ``python -m benchmarks.estimates [NOTEBOOK]``.

Reads an executed copy of notebook 02 (default ``build/notebooks/02_pretrained_unet.ipynb``,
what ``make run`` writes) and compares, for each training stage, the estimate that
:class:`seglib.training.StageEstimate` printed during the stage's first steps with the
stage's wall time that the notebook printed afterwards ("Stage 1 took ... min"). Prints a
table: estimate, actual, ratio, and whether the estimate is within 30 % of the actual time.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

DEFAULT = Path("build/notebooks/02_pretrained_unet.ipynb")
ESTIMATE = re.compile(r"^stage (\d)[^:\n]*:.*\(estimate (\d+) s:", re.MULTILINE)
ACTUAL = re.compile(r"Stage (\d) took ([\d.]+) min")
TOLERANCE = 0.30


def _texts(path: Path) -> str:
    """Every text the executed notebook shows: stream output and text/markdown/plain data."""
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            for kind in ("text/markdown", "text/plain"):
                value = output.get("data", {}).get(kind)
                if value:
                    parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


def compare(path: Path) -> list[dict]:
    """``[{"stage", "estimate_s", "actual_s", "ratio", "within"}]`` from an executed 02."""
    text = _texts(path)
    estimates = {int(s): float(v) for s, v in ESTIMATE.findall(text)}
    actuals = {int(s): float(v) * 60 for s, v in ACTUAL.findall(text)}
    rows = []
    for stage in sorted(estimates.keys() & actuals.keys()):
        ratio = estimates[stage] / actuals[stage]
        rows.append(
            {
                "stage": stage,
                "estimate_s": estimates[stage],
                "actual_s": actuals[stage],
                "ratio": ratio,
                "within": abs(ratio - 1) <= TOLERANCE,
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT)
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"{args.notebook}: no executed notebook 02 (run make run first)", file=sys.stderr)
        return 2
    rows = compare(args.notebook)
    if not rows:
        print(f"{args.notebook}: no stage estimates and times found (an older run?)")
        return 1
    print(f"02's stage estimates against the stage times ({args.notebook})")
    print(f"{'stage':>6} {'estimate min':>13} {'actual min':>11} {'ratio':>7}  within 30 %")
    for r in rows:
        print(
            f"{r['stage']:>6} {r['estimate_s'] / 60:13.1f} {r['actual_s'] / 60:11.1f} "
            f"{r['ratio']:7.2f}  {'yes' if r['within'] else 'NO'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
