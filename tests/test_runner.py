import json

import nbformat
import pytest

from seglib import runner


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


def test_runner_executes_records_metrics_and_keeps_source_clean(tmp_path, capsys):
    code = (
        "import numpy as np\n"
        "from seglib import metrics\n"
        "s = metrics.Scores(np.diag([EPOCHS, 1, 1]))\n"
        "metrics.report({'demo': s})"
    )
    source = _notebook(tmp_path / "01_ok.ipynb", code)
    failing = _notebook(tmp_path / "02_bad.ipynb", "raise RuntimeError('boom')")
    out = tmp_path / "build"
    status = runner.main([str(source), str(failing), "--out", str(out), "-p", "EPOCHS=8"])
    assert status == 1  # one notebook failed
    text = capsys.readouterr().out
    assert "01_ok.ipynb" in text and "FAILED" in text and "boom" in text
    assert "demo: pixel_accuracy 1.000" in text
    executed = nbformat.read(out / "01_ok.ipynb", as_version=4)
    assert executed.cells[1].source == "# Injected parameters\nEPOCHS = 8"
    assert json.loads((out / "01_ok.metrics.json").read_text())["demo"]["mean_iou"] == 1.0
    assert not any(c.get("outputs") for c in nbformat.read(source, as_version=4).cells)


def test_parse_parameter():
    assert runner.parse_parameter("EPOCHS=5") == ("EPOCHS", 5)
    assert runner.parse_parameter("SOURCE=synthetic") == ("SOURCE", "synthetic")
    with pytest.raises(Exception, match="NAME=VALUE"):
        runner.parse_parameter("5")
