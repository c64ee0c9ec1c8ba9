import json
import os

import seglib
from seglib import runner

import nbformat
import pytest


def _notebook(path, *cells, params="EPOCHS = 3"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def test_runner_executes_records_metrics_and_keeps_source_clean(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(runner.METRICS_VARIABLE, raising=False)
    code = (
        "import numpy as np\n"
        "from seglib import metrics\n"
        "s = metrics.Scores(np.diag([EPOCHS, 1, 1]))\n"
        "metrics.report({'demo': s})\n"
        "print('EPOCHS is', EPOCHS)"
    )
    source = _notebook(tmp_path / "01_ok.ipynb", code)
    failing = _notebook(tmp_path / "02_bad.ipynb", "raise RuntimeError('boom')")
    out = tmp_path / "build"
    status = runner.main([str(source), str(failing), "--out", str(out), "-p", "EPOCHS=8"])
    assert status == 1  # one notebook failed
    text = capsys.readouterr().out
    assert "01_ok.ipynb" in text and "FAILED" in text and "RuntimeError: boom" in text
    assert "demo: pixel_accuracy 1.000" in text
    executed = nbformat.read(out / "01_ok.ipynb", as_version=4)
    # papermill injects the override right after the parameters cell; defaults stay visible
    assert executed.cells[0].source == "EPOCHS = 3"
    assert "injected-parameters" in executed.cells[1].metadata["tags"]
    assert "EPOCHS = 8" in executed.cells[1].source
    printed = "".join(o.get("text", "") for o in executed.cells[2].outputs)
    assert "EPOCHS is 8" in printed
    assert json.loads((out / "01_ok.metrics.json").read_text())["demo"]["mean_iou"] == 1.0
    # the run records the course site reads: status, wall time, smoke mode, overrides
    ok_run = json.loads((out / "01_ok.run.json").read_text())
    bad_run = json.loads((out / "02_bad.run.json").read_text())
    assert ok_run["ok"] is True and bad_run["ok"] is False and "boom" in bad_run["error"]
    assert ok_run["seconds"] > 0 and ok_run["parameters"] == {"EPOCHS": "8"}
    assert ok_run["smoke"] is seglib.smoke_mode() and ok_run["cpu_count"] == os.cpu_count()
    assert not list(out.glob("*.partial"))
    assert not list(out.glob(".*"))  # the temporary copies were moved into place
    assert not any(c.get("outputs") for c in nbformat.read(source, as_version=4).cells)
    # the metrics file variable is for the kernels only, not left in the caller's environment
    assert runner.METRICS_VARIABLE not in os.environ


def test_tuple_parameters_reach_the_notebook_as_tuples(tmp_path):
    # papermill alone writes a tuple as its text: ("pet", "border") would arrive as a string
    code = (
        "assert CLASSES == ('pet', 'border'), CLASSES\n"
        "assert NESTED == [(1,), {'a': (2, 3)}], NESTED\n"
        "assert EMPTY == (), EMPTY"
    )
    source = _notebook(
        tmp_path / "tuples.ipynb", code, params="CLASSES = ('pet',)\nNESTED = []\nEMPTY = (1,)"
    )
    parameters = {"CLASSES": ("pet", "border"), "NESTED": [(1,), {"a": (2, 3)}], "EMPTY": ()}
    result = runner.run_notebook(source, tmp_path / "out", parameters=parameters)
    assert result["ok"], result["error"]


def test_runner_refuses_parameters_without_a_parameters_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("EPOCHS = 3")]
    nbformat.write(nb, tmp_path / "x.ipynb")
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        runner.run_notebook(tmp_path / "x.ipynb", tmp_path / "out", parameters={"EPOCHS": 1})


def test_parse_parameter():
    assert runner.parse_parameter("EPOCHS=5") == ("EPOCHS", "5")
    assert runner.convert_value("EPOCHS", "5", 3) == 5
    assert runner.convert_value("SOURCE", "synthetic", "tfds") == "synthetic"
    assert runner.convert_value("SOURCE", "'tfds'", "synthetic") == "tfds"
    assert runner.convert_value("LR", "1", 0.5) == 1.0  # an int where a float is expected
    assert runner.convert_value("SIZES", "[1, 2]", [3]) == [1, 2]
    assert runner.convert_value("LIMIT", "8", None) == 8  # None: any literal
    assert runner.convert_value("SMOKE", "True", False) is True
    with pytest.raises(Exception, match="NAME=VALUE"):
        runner.parse_parameter("5")


@pytest.mark.parametrize(
    "name, text, default, problem",
    [
        ("EPOCHS", "five", 3, "not a Python literal; EPOCHS expects int"),
        ("LIMIT", "[1,2", [1], "not a Python literal"),
        ("EPOCHS", "", 3, "empty value"),
        ("LR", "(1,2)", 0.001, r"\(1, 2\) is tuple, but LR expects float"),
        ("EPOCHS", "2.5", 3, "is float, but EPOCHS expects int"),
        ("SMOKE", "1", False, "expects bool"),
        ("SOURCE", "[1]", "tfds", "is list, but SOURCE expects str"),
    ],
)
def test_bad_parameter_values_are_refused(name, text, default, problem):
    with pytest.raises(runner.ParameterError, match=problem) as info:
        runner.convert_value(name, text, default)
    assert f"-p {name}=" in str(info.value)


def test_unknown_parameter_lists_the_known_ones(tmp_path):
    path = _notebook(tmp_path / "x.ipynb", params="EPOCHS = 3\nSOURCE = 'synthetic'\nLR = 1e-3")
    with pytest.raises(runner.ParameterError, match="Its parameters are: EPOCHS, SOURCE, LR"):
        runner.check_parameters(path, {"EPOCH": "5"}, from_command_line=True)
    assert runner.check_parameters(path, {"LR": "1", "SOURCE": "tfds"}, True) == {
        "LR": 1.0,
        "SOURCE": "tfds",
    }
    with pytest.raises(runner.ParameterError, match="expects int"):
        runner.check_parameters(path, {"EPOCHS": "3"})  # from Python: a str is not an int


def test_parameters_computed_in_the_cell_take_a_word_or_any_literal(tmp_path):
    params = "from seglib import config\nSOURCE = config.data_source()\nLIMIT = None"
    path = _notebook(tmp_path / "x.ipynb", params=params)
    assert runner.notebook_parameters(path) == {"SOURCE": runner.EXPRESSION, "LIMIT": None}
    values = {"SOURCE": "../data/pets", "LIMIT": "8"}
    assert runner.check_parameters(path, values, True) == {"SOURCE": "../data/pets", "LIMIT": 8}
    with pytest.raises(runner.ParameterError, match="not a Python literal"):
        runner.check_parameters(path, {"LIMIT": "eight"}, True)


def test_relative_data_paths_are_made_absolute_for_the_kernels(tmp_path, monkeypatch):
    (tmp_path / "pets").mkdir()
    monkeypatch.chdir(tmp_path)
    env = {"SEGLIB_DATA": "pets", "SEGLIB_ENCODER_WEIGHTS": "missing.h5", "TFDS_DATA_DIR": ""}
    changed = runner.absolute_path_variables(env)
    assert env["SEGLIB_DATA"] == str(tmp_path / "pets") == changed["SEGLIB_DATA"]
    assert env["SEGLIB_ENCODER_WEIGHTS"] == "missing.h5"  # not a path that exists: unchanged
    env = {"SEGLIB_DATA": "synthetic"}
    assert runner.absolute_path_variables(env) == {} and env["SEGLIB_DATA"] == "synthetic"
