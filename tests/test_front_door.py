"""The doors users take: make run / make nbval / make clean, Colab links, .ci/run."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _make_n(*args):
    out = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return out


def _named_notebooks(text):
    return re.findall(r"\b\d\d_[A-Za-z0-9_]+\.ipynb\b", text)


def test_make_run_and_nbval_name_every_notebook_in_order():
    assert len(NOTEBOOKS) >= 7
    run = [line for line in _make_n("run").splitlines() if "seglib.runner" in line]
    assert len(run) == 1, run
    assert _named_notebooks(run[0]) == NOTEBOOKS
    nbval = [line for line in _make_n("nbval").splitlines() if "--nbval-lax" in line]
    assert len(nbval) == 1, nbval
    assert _named_notebooks(nbval[0]) == NOTEBOOKS


def test_make_run_takes_a_subset():
    one = "notebooks/01_data_exploration.ipynb"
    run = [line for line in _make_n("run", f"NOTEBOOKS={one}").splitlines() if "runner" in line]
    assert _named_notebooks(run[0]) == ["01_data_exploration.ipynb"]


def test_make_clean_does_not_descend_into_the_venv(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    kept = tmp_path / ".venv" / "lib" / "pkg" / "__pycache__"
    gone = tmp_path / "seglib" / "__pycache__"
    build = tmp_path / "build" / "notebooks"
    for folder in (kept, gone, build):
        folder.mkdir(parents=True)
        (folder / "x.pyc").write_bytes(b"0")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert kept.is_dir() and not gone.exists() and not build.exists()


def _colab_links():
    spec = importlib.util.spec_from_file_location("colab_links", ROOT / ".ci" / "colab_links.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_every_notebook_points_colab_at_the_one_repository_and_ref():
    config = tomllib.loads((ROOT / "notebooks" / "colab.toml").read_text())
    repo, ref = config["repo"], config["ref"]
    for name in NOTEBOOKS:
        cells = _cells(ROOT / "notebooks" / name)
        title = "".join(cells[0]["source"])
        badge = f"https://colab.research.google.com/github/{repo}/blob/{ref}/notebooks/{name}"
        assert f"({badge})" in title, name
        assert len(re.findall(r"colab\.research\.google\.com/github/", title)) == 1, name
        setup = "".join(cells[1]["source"])
        installs = re.findall(r"%pip install[^\n]*seglib @ git\+https://github\.com/\S+", setup)
        assert installs, f"{name}: no seglib install line in the setup cell"
        for line in installs:
            assert f'"seglib @ git+https://github.com/{repo}@{ref}"' in line, (name, line)
        assert 'if "google.colab" in sys.modules:' in setup, name  # only in Colab


def test_colab_links_rewrites_badges_and_install_cells(tmp_path, monkeypatch):
    tool = _colab_links()
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(ROOT / "notebooks" / "colab.toml", notebooks / "colab.toml")
    for name in NOTEBOOKS[:2]:
        shutil.copy(ROOT / "notebooks" / name, notebooks / name)
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "CONFIG", notebooks / "colab.toml")
    assert tool.main(["--repo", "someone/pets-course", "--ref", "v9.9"]) == 0
    assert tool.read_config(notebooks / "colab.toml") == ("someone/pets-course", "v9.9")
    for name in NOTEBOOKS[:2]:
        cells = _cells(notebooks / name)
        title, setup = "".join(cells[0]["source"]), "".join(cells[1]["source"])
        assert f"github/someone/pets-course/blob/v9.9/notebooks/{name})" in title
        assert '"seglib @ git+https://github.com/someone/pets-course@v9.9"' in setup
        assert "unet-pets-course" not in title + setup
        # only those two places change
        before = _cells(ROOT / "notebooks" / name)
        assert [c["source"] for c in cells[2:]] == [c["source"] for c in before[2:]]
    with pytest.raises(SystemExit):
        tool.main(["--repo", "not a repo", "--ref", "v1"])


def test_ci_picks_the_mobilenet_v2_weights_by_name():
    text = (ROOT / ".ci" / "run").read_text()
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" in text
    assert "*.h5" not in text
    assert re.search(r"^make test$", text, re.M)  # the README's test command
    assert 'make run NOTEBOOKS="notebooks/01_data_exploration.ipynb"' in text  # front door


def test_python_claim_agrees_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.11,<3.14"
    assert project["tool"]["ruff"]["target-version"] == "py311"
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11 to 3.13" in readme and "3.10" not in readme
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"python=3\.1[123]\b", env)
    assert sys.version_info >= (3, 11)
