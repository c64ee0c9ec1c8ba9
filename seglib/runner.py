"""Execute notebooks headless, in order, and print a summary: ``python -m seglib.runner``.

``-p NAME=VALUE`` overrides a value of the notebooks' ``parameters`` cell. Each notebook
runs in a fresh kernel with its own folder as working directory; the
executed copy (with outputs) goes to ``--out`` and the source stays output-free. Test
metrics that a notebook records with :func:`seglib.metrics.report` appear in the
summary. The exit status is 1 when any notebook failed.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from pathlib import Path


def inject_parameters(nb, parameters: dict) -> None:
    """Insert a cell that overrides ``parameters`` right after the ``parameters``-tagged cell.

    papermill's convention: the notebook's defaults stay visible, the override follows them.

    Raises:
        ValueError: parameters were given but the notebook has no ``parameters`` cell.
    """
    import nbformat

    if not parameters:
        return
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if not tagged:
        raise ValueError("the notebook has no cell tagged 'parameters' to override")
    lines = ["# Injected parameters"] + [f"{k} = {v!r}" for k, v in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(tagged[0] + 1, cell)


def parse_parameter(text: str) -> tuple[str, object]:
    """``"NAME=VALUE"`` -> ``(NAME, value)``; VALUE is a Python literal, else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def run_notebook(
    source: Path, out_dir: Path, timeout: int | None = None, parameters: dict | None = None
) -> dict:
    """Execute one notebook; return ``{"name", "ok", "seconds", "error", "metrics"}``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_file = out_dir / f"{source.stem}.metrics.json"
    metrics_file.unlink(missing_ok=True)
    os.environ["SEGLIB_METRICS_FILE"] = str(metrics_file.resolve())
    nb = nbformat.read(source, as_version=4)
    inject_parameters(nb, parameters or {})
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(source.parent.resolve())}},
    )
    start, error = time.perf_counter(), None
    try:
        client.execute()
    except CellExecutionError as e:
        error = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)
    except Exception as e:  # kernel died, timeout, ...
        error = f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - start
    nbformat.write(nb, out_dir / source.name)
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return {
        "name": source.name,
        "ok": error is None,
        "seconds": seconds,
        "error": error,
        "metrics": metrics,
    }


def format_summary(results: list[dict]) -> str:
    """Human-readable summary: status and wall time per notebook, then its metrics."""
    lines = ["", "notebook                              status   wall time"]
    for r in results:
        status = "ok" if r["ok"] else "FAILED"
        lines.append(f"{r['name']:<38}{status:<9}{r['seconds'] / 60:6.1f} min")
        if r["error"]:
            lines.append(f"    error: {r['error']}")
        for label, values in r["metrics"].items():
            cells = ", ".join(f"{k} {v:.3f}" for k, v in values.items())
            lines.append(f"    {label}: {cells}")
    total = sum(r["seconds"] for r in results)
    lines.append(f"total wall time {total / 60:.1f} min")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("build/notebooks"))
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        type=parse_parameter,
        default=[],
        help="override a value of the parameters cell, e.g. -p EPOCHS=5 (repeatable)",
    )
    args = parser.parse_args(argv)
    results = []
    for nb in args.notebooks:
        print(f"running {nb} ...", flush=True)
        result = run_notebook(nb, args.out, args.timeout, dict(args.parameter))
        print(f"  {'ok' if result['ok'] else 'FAILED'} in {result['seconds']:.0f} s", flush=True)
        results.append(result)
    print(format_summary(results))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
