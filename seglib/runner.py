"""Execute notebooks headless, in order, and print a summary: ``python -m seglib.runner``.

Execution is papermill's (``papermill.execute_notebook``): each notebook runs in a fresh
kernel with its own folder as working directory, ``-p NAME=VALUE`` values are injected in a
cell right after the notebook's ``parameters`` cell (the defaults stay visible above the
override), and the executed copy with all outputs goes to ``--out`` while the source stays
output-free. What this module adds is the summary: the status and wall time of every
notebook, and the test metrics each one records with :func:`seglib.metrics.report`. The
exit status is 1 when any notebook failed. Beside each executed copy it writes
``<stem>.run.json`` (:func:`write_run_record`): status, wall time, smoke mode, when and on
how many CPU cores, which the course site (``make site``) reads for its time table.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

METRICS_VARIABLE = "SEGLIB_METRICS_FILE"


def parse_parameter(text: str) -> tuple[str, object]:
    """``"NAME=VALUE"`` -> ``(NAME, value)``; VALUE is a Python literal, else a string.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not ``NAME=VALUE`` with a valid identifier.
    """
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


@contextmanager
def _environment(name: str, value: str):
    """Set one environment variable for the kernels started inside, then restore it."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


PATH_VARIABLES = ("SEGLIB_DATA", "SEGLIB_ENCODER_WEIGHTS", "SEGLIB_EXAMPLE_IMAGE", "TFDS_DATA_DIR")


def absolute_path_variables(environ=None) -> dict:
    """Make the path-valued variables that name an existing relative path absolute.

    Each notebook's kernel works in the notebook's own folder, so
    ``SEGLIB_DATA=../pets`` given from the repository root would point nowhere
    there. Values that are not existing paths (``tfds``, ``synthetic``) are left alone.

    Args:
        environ: the mapping to update in place; ``os.environ`` by default.

    Returns:
        ``{name: new value}`` for the variables that changed.
    """
    environ = os.environ if environ is None else environ
    changed = {}
    for name in PATH_VARIABLES:
        value = environ.get(name, "").strip()
        if value and not os.path.isabs(value) and os.path.exists(value):
            environ[name] = changed[name] = os.path.abspath(value)
    return changed


def _has_parameters_cell(path: Path) -> bool:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])


def run_notebook(
    source: Path, out_dir: Path, timeout: int | None = None, parameters: dict | None = None
) -> dict:
    """Execute one notebook with papermill; return ``{"name", "ok", "seconds", "error", "metrics"}``.

    Args:
        source: the ``.ipynb`` to run; its folder is the kernel's working directory.
        out_dir: where the executed copy (and ``<stem>.metrics.json``) are written.
        timeout: seconds allowed per cell; None for no limit.
        parameters: values that override the ``parameters`` cell.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: parameters were given but the notebook has no cell tagged ``parameters``
            (papermill would only warn and put them at the top, where the defaults overwrite them).
    """
    import papermill as pm
    from jupyter_client.manager import KernelManager

    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such notebook")
    if parameters and not _has_parameters_cell(source):
        raise ValueError(f"{source}: no cell tagged 'parameters' to override")
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_file = (out_dir / f"{source.stem}.metrics.json").resolve()
    metrics_file.unlink(missing_ok=True)
    start, error = time.perf_counter(), None
    with (
        _environment(METRICS_VARIABLE, str(metrics_file)),
        tempfile.TemporaryDirectory(prefix="seglib-kernel-") as sockets,
    ):
        # The kernel talks over local IPC sockets in a private folder rather than TCP ports.
        km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "k"))
        try:
            pm.execute_notebook(
                str(source),
                str(out_dir / source.name),
                parameters=parameters or {},
                cwd=str(source.parent.resolve()),
                kernel_name="python3",
                execution_timeout=timeout,
                progress_bar=sys.stderr.isatty(),
                km=km,
            )
        except pm.PapermillExecutionError as e:
            error = f"cell {e.exec_count}: {e.ename}: {e.evalue}"
        except Exception as e:  # kernel died, timeout, ...
            error = f"{type(e).__name__}: {e}"
        finally:
            if km.has_kernel:  # we made the manager, so we stop its kernel (papermill won't)
                km.shutdown_kernel(now=True)
    seconds = time.perf_counter() - start
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return {
        "name": source.name,
        "ok": error is None,
        "seconds": seconds,
        "error": error,
        "metrics": metrics,
    }


def write_run_record(result: dict, out_dir: Path, parameters: dict | None = None) -> Path:
    """Write ``<out_dir>/<stem>.run.json``: how one notebook's run went, for the course site.

    Keys: ``notebook`` (file name), ``ok``, ``seconds`` (wall time, float), ``error``
    (None or one line), ``smoke`` (``seglib.smoke_mode()`` in this process, which the
    kernels inherit, or the ``SMOKE`` parameter when one was given), ``parameters`` (the
    overrides), ``finished`` (UTC, ISO 8601), ``cpu_count`` (logical cores) and
    ``machine`` (``platform.machine()``). Written to a temporary name and renamed, so a
    reader never sees half a file.

    Returns:
        The path written.
    """
    from seglib.config import smoke_mode

    parameters = dict(parameters or {})
    record = {
        "notebook": result["name"],
        "ok": result["ok"],
        "seconds": result["seconds"],
        "error": result["error"],
        "smoke": bool(parameters.get("SMOKE", smoke_mode())),
        "parameters": {k: repr(v) for k, v in parameters.items()},
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }
    path = Path(out_dir) / f"{Path(result['name']).stem}.run.json"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_summary(results: list[dict]) -> str:
    """Human-readable summary: status and wall time per notebook, then its metrics."""
    lines = ["", "notebook                              status   wall time"]
    for r in results:
        status = "ok" if r["ok"] else "FAILED"
        lines.append(f"{r['name']:<38}{status:<9}{r['seconds'] / 60:6.1f} min")
        if r["error"]:
            lines.append(f"    error: {r['error']}")
        for label, values in r["metrics"].items():
            cells = ", ".join(f"{k} {_format_value(v)}" for k, v in values.items())
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
    absolute_path_variables()
    results = []
    for nb in args.notebooks:
        print(f"running {nb} ...", flush=True)
        result = run_notebook(nb, args.out, args.timeout, dict(args.parameter))
        write_run_record(result, args.out, dict(args.parameter))
        print(f"  {'ok' if result['ok'] else 'FAILED'} in {result['seconds']:.0f} s", flush=True)
        results.append(result)
    print(format_summary(results))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
