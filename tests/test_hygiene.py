"""Notebooks are committed clean (no outputs, no execution counts, no metadata noise), the
pre-commit hook makes them so, and the licence and citation files are in place."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Cell metadata a notebook may carry in git: tags (papermill's parameters cell, our-run and
#: solution), and a deep dive's folded state: ``id`` for Colab, the collapsed heading for
#: JupyterLab (``python -m seglib.course fold``).
ALLOWED_CELL_METADATA = {"tags", "id", "jp-MarkdownHeadingCollapsed"}
NOISE = {"papermill", "widgets"}  # notebook-level metadata that execution leaves behind


def notebook_problems(path: Path) -> list[str]:
    """What makes a notebook unfit to commit: outputs, execution counts, metadata noise."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = [
        f"{path.name}: notebook metadata {k!r}" for k in sorted(NOISE & set(nb["metadata"]))
    ]
    for index, cell in enumerate(nb["cells"]):
        where = f"{path.name} cell {index}"
        if cell.get("outputs"):
            problems.append(f"{where}: {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"{where}: execution count {cell['execution_count']}")
        extra = set(cell.get("metadata", {})) - ALLOWED_CELL_METADATA
        if extra:
            problems.append(f"{where}: metadata {sorted(extra)}")
    return problems


def _hook(hook_id: str) -> dict:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [h for repo in config["repos"] for h in repo["hooks"] if h["id"] == hook_id]
    assert len(hooks) == 1, f"no single hook {hook_id!r} in .pre-commit-config.yaml"
    return hooks[0]


def _strip(paths) -> None:
    """Run the nbstripout hook's own command (from .pre-commit-config.yaml) on ``paths``."""
    command = shlex.split(_hook("nbstripout")["entry"])
    executable = ROOT / command[0]
    if not executable.exists():
        pytest.skip(f"{command[0]} not installed (make install)")
    subprocess.run([str(executable), *command[1:], *map(str, paths)], check=True, cwd=ROOT)


def _doctored(tmp_path: Path) -> Path:
    """A copy of notebook 01 as an executed notebook looks: outputs, counts, metadata."""
    nb = json.loads(NOTEBOOKS[0].read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code[0]["execution_count"] = 1
    code[0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hello\n"]}]
    code[1]["metadata"]["execution"] = {"iopub.status.idle": "2026-12-02T18:00:00Z"}
    code[1]["metadata"]["papermill"] = {"duration": 1.5}
    nb["metadata"]["papermill"] = {"duration": 20.1}
    path = tmp_path / NOTEBOOKS[0].name
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_committed_notebooks_carry_no_outputs_counts_or_metadata_noise():
    assert NOTEBOOKS
    problems = [p for path in NOTEBOOKS for p in notebook_problems(path)]
    assert not problems, (
        "strip them (.venv/bin/pre-commit run nbstripout --all-files) and commit again:\n"
        + "\n".join(problems)
    )


def test_the_check_catches_an_executed_notebook(tmp_path):
    problems = notebook_problems(_doctored(tmp_path))
    assert any("cell 1: 1 output(s)" in p for p in problems), problems
    assert any("execution count 1" in p for p in problems)
    assert any("metadata ['execution', 'papermill']" in p for p in problems)
    assert any("notebook metadata 'papermill'" in p for p in problems)


def test_the_hook_strips_a_doctored_notebook_and_leaves_clean_ones_byte_for_byte(tmp_path):
    doctored = _doctored(tmp_path)
    clean = tmp_path / "clean"
    clean.mkdir()
    copies = [Path(shutil.copy2(p, clean / p.name)) for p in NOTEBOOKS]
    _strip([doctored, *copies])
    assert notebook_problems(doctored) == []
    assert doctored.read_bytes() == NOTEBOOKS[0].read_bytes()  # back to what git holds
    for copy, original in zip(copies, NOTEBOOKS, strict=True):
        assert copy.read_bytes() == original.read_bytes(), copy.name


def test_hooks_use_the_pinned_tools_in_the_virtual_environment():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {p.split("==")[0] for p in pins["dev"]}
    assert {"pre-commit", "nbstripout", "ruff", "nbqa"} <= names
    for hook_id in ("nbstripout", "ruff-check", "ruff-format", "nbqa-ruff", "nbqa-ruff-format"):
        hook = _hook(hook_id)
        assert hook["language"] == "system" and hook["entry"].startswith(".venv/bin/"), hook_id


def test_licences_and_citation_are_in_place():
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "Version 2.0" in (ROOT / "LICENSE").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "Apache-2.0"
    assert "CC BY-SA 4.0" in (ROOT / "LICENSE-CONTENT.md").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "Apache-2.0"
    assert cff["version"] == project["version"]
    dataset = cff["references"][0]
    assert dataset["title"] == "Cats and Dogs" and dataset["year"] == 2012
    assert [a["family-names"] for a in dataset["authors"]] == [
        "Parkhi",
        "Vedaldi",
        "Zisserman",
        "Jawahar",
    ]
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:  # the dataset's citation and licence open every notebook
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        assert "Parkhi" in first and "Cats and Dogs" in first and "CC BY-SA 4.0" in first
    assert "Parkhi" in readme and "CC BY-SA 4.0" in readme
