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
        extras = " ".join(f'"{spec}"' for spec in config["colab_extras"])
        assert f"    %pip install --quiet {extras}\n" in setup, name  # what Colab lacks
        pips = [line for line in setup.splitlines() if "%pip install" in line]
        assert "seglib @ git+" in pips[-1], name  # seglib last: see colab_links.with_extras


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


def test_colab_links_writes_the_extras_line_from_colab_toml(tmp_path, monkeypatch):
    tool = _colab_links()
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    config = (ROOT / "notebooks" / "colab.toml").read_text()
    config = config.replace('"importlib-resources==7.1.0"', '"importlib-resources==9.9.9"')
    (notebooks / "colab.toml").write_text(config)
    name = NOTEBOOKS[0]
    before = _cells(ROOT / "notebooks" / name)
    setup = "".join(before[1]["source"])
    without = tool.EXTRAS.sub("", setup).replace("\n\n\n", "\n\n")
    cells = json.loads((ROOT / "notebooks" / name).read_text())
    cells["cells"][1]["source"] = without.splitlines(keepends=True)
    (notebooks / name).write_text(json.dumps(cells, indent=1))
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "CONFIG", notebooks / "colab.toml")
    assert "importlib-resources" not in without
    assert tool.main([]) == 0
    setup = "".join(_cells(notebooks / name)[1]["source"])
    lines = setup.splitlines()
    seglib_line = next(i for i, line in enumerate(lines) if "seglib @ git+" in line)
    assert lines[seglib_line - 2] == "    " + tool.EXTRAS_COMMENT  # inserted before seglib
    assert lines[seglib_line - 1] == (
        '    %pip install --quiet "tensorflow-metadata==1.17.2" "importlib-resources==9.9.9" '
        '"jupyterquiz==2.9.6.4"'
    )
    assert tool.main([]) == 0 and "".join(_cells(notebooks / name)[1]["source"]) == setup
    (notebooks / "colab.toml").write_text(config.replace("==9.9.9", ">=9"))
    with pytest.raises(ValueError, match="not 'name==version'"):
        tool.main([])


def test_seglib_names_the_same_fixes_as_the_setup_cells():
    from seglib import data

    config = tomllib.loads((ROOT / "notebooks" / "colab.toml").read_text())
    assert set(data.TFDS_FIXES.values()) <= set(config["colab_extras"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert data.TFDS_FIXES["importlib_resources"] in project  # the project's own pin


def _ci_module(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / ".ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_colab_constraints_come_from_a_freeze_with_their_snapshot(tmp_path):
    tool = _ci_module("colab_constraints")
    freeze = tmp_path / "pip-freeze.txt"
    freeze.write_text(
        "# a comment\nprotobuf==5.29.6\nKeras==3.13.2\n"
        "torch @ https://example.invalid/torch.whl\nabsl-py==1.4.0\n"
    )
    (tmp_path / "os-info.txt").write_text("Ubuntu 22.04.5 LTS\nPython 3.13.15\n")
    out = tmp_path / "constraints.txt"
    args = [str(freeze), "--date", "2026-08-19", "--commit", "abc", "--output", str(out)]
    assert tool.main([*args, "--os-info", str(tmp_path / "os-info.txt")]) == 0
    text = out.read_text()
    assert "# snapshot: 2026-08-19\n# commit: abc\n# python: 3.13\n" in text
    assert "left out (direct references, not constrainable): torch" in text
    pins = [line for line in text.splitlines() if not line.startswith("#")]
    assert pins == ["absl-py==1.4.0", "Keras==3.13.2", "protobuf==5.29.6"]
    freeze.write_text("protobuf>=5\n")
    with pytest.raises(SystemExit):
        tool.main([*args, "--python", "3.13"])
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path / "pip-freeze.txt"), "--date", "Aug 2026", "--python", "3.13"])


def test_the_committed_colab_constraints_record_their_snapshot():
    text = (ROOT / ".ci" / "colab-constraints.txt").read_text()
    assert re.search(r"(?m)^# snapshot: \d{4}-\d{2}-\d{2}$", text)
    assert re.search(r"(?m)^# python: 3\.\d+$", text)
    assert re.search(r"(?m)^tensorflow==\S+$", text) and re.search(r"(?m)^protobuf==\S+$", text)


def test_make_test_colab_installs_seglib_as_the_setup_cells_do():
    check = _ci_module("colab_check")
    commands = check.setup_cell_installs()
    seglib = [c for c in commands if any(a.startswith("seglib @ ") for a in c)]
    assert seglib == [["install", "--quiet", "--no-deps", f"seglib @ {ROOT.as_uri()}"]]
    assert commands[-1] == seglib[0]  # last, as in every setup cell
    config = tomllib.loads((ROOT / "notebooks" / "colab.toml").read_text())
    assert ["install", "--quiet", *config["colab_extras"]] in commands
    assert any("ai-edge-litert==2.3.0" in c for c in commands)  # 08's
    assert [line for line in _make_n("test-colab").splitlines() if "colab_check.py" in line]
    assert re.search(r"(?m)^make test-colab$", (ROOT / ".ci" / "run").read_text())


def test_make_test_colab_says_what_it_skipped_without_colabs_python(monkeypatch, capsys):
    check = _ci_module("colab_check")
    monkeypatch.setattr(check, "find_python", lambda version: None)
    monkeypatch.setattr(check, "build_venv", lambda *a: pytest.fail("must not build a venv"))
    assert check.main() == 0
    out = capsys.readouterr().out
    assert f"SKIPPED: no Python {check.colab_python_version()}" in out and "did not run" in out
