"""The runner stops when told (issue 33): a per-cell timeout, a kernel that dies, Ctrl-C
(SIGINT) and SIGTERM, each in a subprocess as a user meets it (``python -m seglib.runner``),
and the permissions of what it writes."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

SLEEP = "import time\ntime.sleep(120)"


def _notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell("EPOCHS = 1")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def _kernel_folders() -> set:
    return set(Path(tempfile.gettempdir()).glob("seglib-kernel-*"))


def _start(tmp_path: Path, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "seglib.runner", *map(str, args)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a signal reaches the runner alone, as kill PID sends it
    )


def _finish(process: subprocess.Popen, limit: float) -> tuple[int, str, float]:
    start = time.monotonic()
    try:
        out, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"the runner did not stop within {limit:.0f} s")
    return process.returncode, out, time.monotonic() - start


def _wait_for_the_cell(out_dir: Path, limit: float = 90.0) -> None:
    """Wait until papermill has written the executed copy's first version (cells running)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if any(p.stat().st_size > 0 for p in out_dir.glob(".*.ipynb")):
            time.sleep(2.0)  # into the sleeping cell
            return
        time.sleep(0.2)
    pytest.fail("the notebook never started")


def test_a_cell_over_the_timeout_fails_the_notebook_within_seconds(tmp_path):
    _notebook(tmp_path / "slow.ipynb", SLEEP)
    process = _start(tmp_path, "slow.ipynb", "--out", "out", "--timeout", "2")
    status, out, seconds = _finish(process, 100)
    assert status == 1, out
    assert "FAILED" in out and "ran past the limit of 2 s per cell (--timeout)" in out
    assert seconds < 60  # the cell sleeps 120 s
    assert "Traceback" not in out
    assert (tmp_path / "out" / "slow.ipynb").is_file()  # the copy shows which cell


def test_a_dead_kernel_fails_the_notebook_within_seconds(tmp_path):
    _notebook(tmp_path / "dies.ipynb", "import os\nos._exit(1)")
    _notebook(tmp_path / "after.ipynb", "print('still runs')")
    process = _start(tmp_path, "dies.ipynb", "after.ipynb", "--out", "out")
    status, out, seconds = _finish(process, 150)
    assert status == 1, out
    assert "the kernel died" in out and "Traceback" not in out
    assert re.search(r"after\.ipynb\s+ok", out), out  # the next notebook still ran
    assert seconds < 120


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_and_leaves_nothing_behind(tmp_path, signum, status):
    _notebook(tmp_path / "slow.ipynb", SLEEP)
    _notebook(tmp_path / "next.ipynb", "print('must not run')")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("the user's file")
    kernels = _kernel_folders()
    process = _start(tmp_path, "slow.ipynb", "next.ipynb", "--out", "out")
    _wait_for_the_cell(tmp_path / "out")
    process.send_signal(signum)
    code, out, seconds = _finish(process, 60)
    assert code == status, out
    assert seconds < 30
    name = signal.Signals(signum).name
    assert f"interrupted by {name}" in out and "interrupted" in out.split("notebook")[-1]
    assert "running next.ipynb" not in out and "Traceback" not in out
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert left == ["mine.txt", "slow.run.json"], left  # no partial copy, no metrics
    assert (tmp_path / "out" / "mine.txt").read_text() == "the user's file"
    assert _kernel_folders() - kernels == set()  # the kernel's socket folder is gone


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_executed_copies_get_the_permissions_the_umask_gives(tmp_path, umask):
    _notebook(tmp_path / "quick.ipynb", "print('hi')")
    old = os.umask(umask)
    try:
        process = _start(tmp_path, "quick.ipynb", "--out", "out")
    finally:
        os.umask(old)
    code, out, _ = _finish(process, 100)
    assert code == 0, out
    mode = stat.S_IMODE((tmp_path / "out" / "quick.ipynb").stat().st_mode)
    assert mode == 0o666 & ~umask
