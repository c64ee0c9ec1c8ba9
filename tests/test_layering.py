"""seglib's layering (README, *Layout*): no module over 1,000 lines, and make lint's
import-linter contracts fail on an upward import or an import circle."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 1000


def test_no_seglib_module_is_over_1000_lines():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in (ROOT / "seglib").rglob("*.py")
    }
    assert len(sizes) >= 20, sizes  # the whole package was found
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def _lint_copy(tmp_path: Path, edit=None) -> subprocess.CompletedProcess:
    """Run lint-imports on a copy of seglib and pyproject.toml, after ``edit(copy_root)``."""
    shutil.copytree(
        ROOT / "seglib", tmp_path / "seglib", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if edit is not None:
        edit(tmp_path)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _append(path: Path, code: str) -> None:
    path.write_text(path.read_text() + "\n\n" + code)


@pytest.fixture(scope="module", autouse=True)
def _needs_lint_imports():
    if not LINT_IMPORTS.exists():
        pytest.skip(f"{LINT_IMPORTS} is not installed (make install)")


def test_the_layers_hold_on_this_tree(tmp_path):
    result = _lint_copy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_fails_the_lint(tmp_path):
    # Scoring must not reach up to photo inference (the circle issue 34 removed).
    upward = "def _upward():\n    from seglib import inference\n\n    return inference\n"
    result = _lint_copy(tmp_path, lambda root: _append(root / "seglib" / "metrics.py", upward))
    assert result.returncode != 0
    assert "seglib.metrics is not allowed to import seglib.inference" in result.stdout


def test_an_import_circle_inside_data_fails_the_lint(tmp_path):
    # The release layout importing the pipeline would close a circle (pipeline -> layout).
    circle = "def _circle():\n    from seglib.data import pipeline\n\n    return pipeline\n"
    result = _lint_copy(
        tmp_path, lambda root: _append(root / "seglib" / "data" / "layout.py", circle)
    )
    assert result.returncode != 0
    assert "seglib.data.layout is not allowed to import seglib.data.pipeline" in result.stdout
