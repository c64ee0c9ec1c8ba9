"""Execute notebooks headless, in order, and print a summary: ``python -m seglib.runner``.

Execution is papermill's (``papermill.execute_notebook``): each notebook runs in a fresh
kernel with its own folder as working directory, ``-p NAME=VALUE`` values are injected in a
cell right after the notebook's ``parameters`` cell (the defaults stay visible above the
override), and the executed copy with all outputs goes to ``--out`` while the source stays
output-free.

Before anything runs, the runner refuses (one line on stderr, exit status 2): a notebook
that does not exist; an ``--out`` where an executed copy would replace a source notebook
(same folder, or a link to it); a ``-p`` name that is not in the notebook's ``parameters``
cell (the message lists the names there and the closest one); a value that is not a
Python literal of the default's type (``-p EPOCHS=five``; a bare word is a string only
where the default is one). The executed copy is written under a temporary name and
moved into place when the run ends, so an interrupted run leaves no half notebook.

What this module adds is the summary: the status and wall time of every notebook, and the
test metrics each one records with :func:`seglib.metrics.report`. The exit status is 1 when
any notebook failed. Beside each executed copy it writes
``<stem>.run.json`` (:func:`write_run_record`): status, wall time, smoke mode, when and on
how many CPU cores, which the course site (``make site``) reads for its time table.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import logging
import os
import platform
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from seglib.errors import SeglibError
from seglib.files import new_temporary_file

METRICS_VARIABLE = "SEGLIB_METRICS_FILE"
#: seglib.config.PROGRESS_VARIABLE (not imported: the runner does not start TensorFlow).
PROGRESS_VARIABLE = "SEGLIB_PROGRESS"


def parse_parameter(text: str) -> tuple[str, str]:
    """``"NAME=VALUE"`` -> ``(NAME, VALUE)``, the value still as text (see :func:`convert_value`).

    Raises:
        argparse.ArgumentTypeError: ``text`` is not ``NAME=VALUE`` with a valid identifier.
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


class ParameterError(SeglibError, ValueError):
    """A ``-p`` override the notebook cannot take: unknown name, or a value of the wrong type."""


_TYPE_NAMES = {
    bool: "bool (True or False)",
    int: "int",
    float: "float",
    str: "str",
    list: "list",
    tuple: "tuple",
    dict: "dict",
    type(None): "None",
}


class _Expression:
    """The default of a parameter assigned something other than a literal (a call, say)."""

    def __repr__(self) -> str:
        return "an expression"


#: Stands for a default that is not a literal: any literal, or a bare word, is taken.
EXPRESSION = _Expression()


def _type_name(value) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


#: Longest ``-p`` value accepted, in characters (a literal that long is a mistake).
MAX_VALUE_CHARS = 1000


def _shorten(text: str, keep: int = 60) -> str:
    """``text``, or its first ``keep`` characters and how long it was (messages stay short)."""
    text = str(text)
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text):,} characters)"


def convert_value(name: str, text: str, default):
    """Parse ``-p NAME=TEXT`` as a Python literal and check it against the notebook's default.

    ``TEXT`` is read with :func:`ast.literal_eval`. A bare word that is not a literal
    (``-p SOURCE=synthetic``) stays a string only where the default is a string. The
    value must have the default's type (``bool``, ``int``, ``float``, ``str``, ``None``,
    ``list``, ``tuple``, ``dict``); an int where the default is a float is fine (it becomes
    a float). A default of ``None`` takes any literal (None means "not set"); a default
    that is not a literal (:data:`EXPRESSION`, e.g. ``SOURCE = config.data_source()``)
    takes any literal or a bare word.

    Raises:
        ParameterError: empty value, not a literal where the default is not a string, or
            a type mismatch; the message names the parameter, the value and the type.
    """
    if not text.strip():
        raise ParameterError(
            f"-p {name}=: empty value; the default is {default!r} ({_type_name(default)})"
        )
    if len(text) > MAX_VALUE_CHARS:
        raise ParameterError(
            f"-p {name}={_shorten(text)}: the value is {len(text):,} characters long; a "
            f"parameter takes a short literal (at most {MAX_VALUE_CHARS:,} characters), like "
            f"its default {_shorten(repr(default))}"
        )
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if isinstance(default, str) or default is EXPRESSION:
            return text
        expected = "a Python literal" if default is None else _type_name(default)
        raise ParameterError(
            f"-p {name}={_shorten(text)}: not a Python literal; {name} expects {expected} "
            f"(default {default!r}). Quote strings: -p {name}=\"'...'\""
        ) from None
    return _match_default(name, value, default, text.strip())


def _match_default(name: str, value, default, text: str | None = None):
    """``value`` if it has ``default``'s type (int for float is fine), else ParameterError."""
    if default is None or default is EXPRESSION or type(value) is type(default):
        return value
    if isinstance(default, float) and type(value) is int:
        return float(value)
    if isinstance(default, str) and text is not None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return text  # -p NAME=123 where a string is expected: the text as typed
    shown = _shorten(text if text is not None else repr(value))
    raise ParameterError(
        f"-p {name}={shown}: {_shorten(repr(value))} is {_type_name(value)}, but {name} expects "
        f"{_type_name(default)} (default {default!r})"
    )


def notebook_parameters(path: Path) -> dict:
    """The defaults of a notebook's ``parameters`` cell: ``{NAME: value}`` (literals only).

    Reads the cell tagged ``parameters`` without running it: every top-level
    ``NAME = <literal>`` assignment (names assigned something else, such as
    ``SOURCE = config.data_source()``, map to :data:`EXPRESSION`).

    Raises:
        ValueError: no cell tagged ``parameters``, or the file is not a notebook.
    """
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a readable notebook ({e})") from e
    sources = [
        "".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source", "")
        for c in cells
        if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    if not sources:
        raise ValueError(f"{path}: no cell tagged 'parameters' to override")
    defaults = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError as e:
            raise ValueError(f"{path}: the parameters cell is not valid Python ({e})") from e
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        defaults[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, RecursionError):
                        defaults[target.id] = EXPRESSION
    return defaults


def check_parameters(path: Path, overrides: dict, from_command_line: bool = False) -> dict:
    """Check overrides against ``path``'s parameters cell.

    ``overrides`` maps names to values; with ``from_command_line`` the values are the
    texts typed after ``-p NAME=`` and are parsed by :func:`convert_value`.

    Returns:
        ``{NAME: value}`` with each value converted by :func:`convert_value`.

    Raises:
        ParameterError: an unknown name (the message lists the known names and the
            closest match) or a bad value. ValueError: no parameters cell.
    """
    import difflib

    if not overrides:
        return {}
    defaults = notebook_parameters(path)
    values = {}
    for name, text in overrides.items():
        if name not in defaults:
            close = difflib.get_close_matches(name, list(defaults), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ParameterError(
                f"-p {name}: {Path(path).name} has no parameter {name!r}.{hint} "
                f"Its parameters are: {', '.join(defaults) or '(none)'}"
            )
        if isinstance(text, str) and from_command_line:
            values[name] = convert_value(name, text, defaults[name])
        else:
            values[name] = _match_default(name, text, defaults[name])
    return values


def check_out_dir(sources: list[Path], out_dir: Path) -> None:
    """Refuse an output folder where an executed copy would replace a source notebook.

    Raises:
        ValueError: ``out_dir/<name>`` is a source notebook (same file, hard or symbolic
            link included), or ``out_dir`` is a file.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: is a file, not a folder")
    for source in sources:
        target = out_dir / Path(source).name
        if not target.exists() and not target.is_symlink():
            continue
        clash = [
            other
            for other in sources
            if target.resolve() == Path(other).resolve()
            or (Path(other).exists() and os.path.samefile(target, other))
        ]
        if clash:
            raise ValueError(
                f"--out {out_dir}: the executed copy {target} would replace the source "
                f"notebook {clash[0]}; choose another folder (default build/notebooks)"
            )


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


class _CheckedParameters(logging.Filter):
    """Drop papermill's "Passed unknown parameter" and "Unable to parse line" warnings: the
    runner checked every name against the parameters cell already, and papermill's own
    reading misses names assigned an expression (``LIMIT = 24 if SMOKE else None``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("Passed unknown parameter", "Unable to parse line"))


def _teach_papermill_tuples() -> None:
    """Make papermill write a tuple parameter as a tuple.

    papermill's Python translator knows str, bool, int, float, dict, list and None, and writes
    anything else as a string: ``-p CUTOUT_CLASSES="('pet', 'border')"`` would reach the
    notebook as the text ``"('pet', 'border')"``. The runner checks that a value has its
    default's type, tuples included, so it registers a translator that writes tuples (and
    tuples inside lists and dicts) as Python tuples.
    """
    from papermill.translators import PythonTranslator, papermill_translators

    class TupleTranslator(PythonTranslator):
        @classmethod
        def translate(cls, val):
            if isinstance(val, tuple):
                items = ", ".join(cls.translate(v) for v in val)
                return f"({items},)" if len(val) == 1 else f"({items})"
            return super().translate(val)

    papermill_translators.register("python", TupleTranslator)


class Interrupted(BaseException):
    """The run was stopped by a signal (SIGINT: Ctrl-C, or SIGTERM) while a notebook ran.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception`` on the
    way swallows it. ``signum`` is the signal; :func:`main` exits with ``128 + signum``
    (130 for Ctrl-C, 143 for SIGTERM), as shells do.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _stop_on_signal(signum, frame):
    """The runner's handler for SIGINT and SIGTERM: stop now, once.

    Further SIGINT/SIGTERM are ignored from here on, so that the clean-up (kernel shut
    down, partial files removed, summary printed) runs to its end; SIGKILL still ends the
    process at once.
    """
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


def _one_line_error(error: BaseException, timeout: int | None) -> str:
    """What went wrong with a notebook, in one line a reader can act on."""
    kind = type(error).__name__
    if kind == "CellTimeoutError":
        return (
            f"a cell ran past the limit of {timeout} s per cell (--timeout); raise the limit "
            "or make the cell faster"
        )
    if kind == "DeadKernelError":
        return (
            "the kernel died (it crashed, was killed, or ran out of memory; see the "
            "executed copy for the last cell that ran)"
        )
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{kind}: {first}" if first else kind


def run_notebook(
    source: Path, out_dir: Path, timeout: int | None = None, parameters: dict | None = None
) -> dict:
    """Execute one notebook with papermill; return ``{"name", "ok", "seconds", "error", "metrics"}``.

    Args:
        source: the ``.ipynb`` to run; its folder is the kernel's working directory.
        out_dir: where the executed copy (and ``<stem>.metrics.json``) are written.
        timeout: seconds allowed per cell; None for no limit. A cell that runs longer
            fails the notebook (its executed copy shows which cell), as does a kernel that
            dies, within seconds.
        parameters: values that override the ``parameters`` cell.

    Returns:
        ``error`` is None when every cell ran, else one line (the cell and its exception,
        a cell that ran past ``timeout``, or a dead kernel).

    Raises:
        Interrupted, KeyboardInterrupt: passed on after the kernel is shut down and the
            partial copy and the kernel's temporary folder are removed (nothing is left in
            ``out_dir`` from this run).
        FileNotFoundError: ``source`` does not exist.
        ValueError: parameters were given but the notebook has no cell tagged ``parameters``
            (papermill would only warn and put them at the top, where the defaults overwrite
            them); or the executed copy would replace a source (:func:`check_out_dir`).
        ParameterError: a parameter the notebook does not have, or a value of the wrong type
            (:func:`check_parameters`).
    """
    import papermill as pm
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    _teach_papermill_tuples()
    for name in ("papermill", "papermill.translators"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _CheckedParameters) for f in log.filters):
            log.addFilter(_CheckedParameters())

    source, out_dir = Path(source), Path(out_dir)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such notebook")
    check_out_dir([source], out_dir)
    parameters = check_parameters(source, parameters or {})
    out_dir.mkdir(parents=True, exist_ok=True)
    # papermill writes the copy as it goes: into a temporary name, moved into place at the end.
    partial = new_temporary_file(out_dir, source.stem, ".ipynb")
    metrics_file = (out_dir / f"{source.stem}.metrics.json").resolve()
    metrics_file.unlink(missing_ok=True)
    start, error, keep = time.perf_counter(), None, False
    try:
        with (
            _environment(METRICS_VARIABLE, str(metrics_file)),
            _environment(PROGRESS_VARIABLE, "0"),  # no repainted bars in the executed copy
            tempfile.TemporaryDirectory(prefix="seglib-kernel-") as sockets,
        ):
            # The kernel talks over local IPC sockets in a private folder rather than TCP
            # ports. An AsyncKernelManager, which nbclient expects: with a blocking one its
            # output poller holds the event loop, so neither the per-cell timeout nor the
            # check that the kernel is alive ever runs.
            km = AsyncKernelManager(
                kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "k")
            )
            try:
                pm.execute_notebook(
                    str(source),
                    str(partial),
                    parameters=parameters,
                    cwd=str(source.parent.resolve()),
                    kernel_name="python3",
                    execution_timeout=timeout,
                    progress_bar=sys.stderr.isatty(),
                    km=km,
                )
                keep = True
            except pm.PapermillExecutionError as e:
                error, keep = f"cell {e.exec_count}: {e.ename}: {e.evalue}", True
            except Exception as e:  # kernel died, cell timeout, ...: the copy shows where
                error, keep = _one_line_error(e, timeout), True
            finally:  # also on Interrupted: we made the manager, so we stop its kernel
                if km.has_kernel:
                    run_sync(km.shutdown_kernel)(now=True)
    finally:
        if keep and partial.is_file() and partial.stat().st_size > 0:
            os.replace(partial, out_dir / source.name)
        else:  # interrupted, or nothing written: no half notebook, no metrics of half a run
            partial.unlink(missing_ok=True)
            if not keep:
                metrics_file.unlink(missing_ok=True)
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
    width = max([len("notebook")] + [len(r["name"]) for r in results]) + 2
    lines = ["", f"{'notebook':<{width}}{'status':<13}wall time"]
    for r in results:
        status = "interrupted" if r.get("interrupted") else "ok" if r["ok"] else "FAILED"
        lines.append(f"{r['name']:<{width}}{status:<13}{r['seconds'] / 60:6.1f} min")
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
    overrides = dict(args.parameter)
    missing = [str(nb) for nb in args.notebooks if not nb.is_file()]
    try:
        if args.timeout is not None and args.timeout <= 0:
            raise ValueError(
                f"--timeout {args.timeout}: give the seconds a cell may run, a whole number "
                "above 0 (leave it out for no limit)"
            )
        if missing:
            raise FileNotFoundError(f"no such notebook: {', '.join(missing)}")
        check_out_dir(args.notebooks, args.out)
        values = {
            nb: check_parameters(nb, overrides, from_command_line=True) for nb in args.notebooks
        }
    except (OSError, ValueError) as e:  # before anything ran: one line, no traceback
        print(f"runner: {e}", file=sys.stderr)
        return 2
    absolute_path_variables()
    results, stopped = [], None
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in handlers:
        signal.signal(s, _stop_on_signal)
    try:
        for nb in args.notebooks:
            print(f"running {nb} ...", flush=True)
            start = time.perf_counter()
            try:
                result = run_notebook(nb, args.out, args.timeout, values[nb])
            except Interrupted as e:
                stopped = e
                result = {
                    "name": nb.name,
                    "ok": False,
                    "interrupted": True,
                    "seconds": time.perf_counter() - start,
                    "error": f"interrupted by {e.name}: the run stopped here, nothing was kept",
                    "metrics": {},
                }
            except Exception as e:  # a broken notebook file, a full disk, ...
                result = {
                    "name": nb.name,
                    "ok": False,
                    "seconds": time.perf_counter() - start,
                    "error": f"{type(e).__name__}: {e}",
                    "metrics": {},
                }
            write_run_record(result, args.out, values[nb])
            status = (
                "interrupted" if result.get("interrupted") else "ok" if result["ok"] else "FAILED"
            )
            print(f"  {status} in {result['seconds']:.0f} s", flush=True)
            results.append(result)
            if stopped is not None:
                break
    except Interrupted as e:  # between two notebooks
        stopped = e
    finally:  # even when stopped: the summary of those that ran
        print(format_summary(results), flush=True)
        for s, handler in handlers.items():
            signal.signal(s, handler)
    if stopped is not None:
        print(f"runner: stopped by {stopped.name}", file=sys.stderr)
        return 128 + stopped.signum
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
