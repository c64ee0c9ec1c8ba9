"""benchmarks.estimates reads an executed notebook 02 and compares estimates with stage times."""

import nbformat

from benchmarks import estimates


def _executed(path, stage_lines, took):
    nb = nbformat.v4.new_notebook()
    fit = nbformat.v4.new_code_cell("model.fit(...)")
    fit.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stage_lines)]
    prose = nbformat.v4.new_code_cell("display(Markdown(...))")
    prose.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": took, "text/plain": "<md>"})
    ]
    nb.cells = [fit, prose]
    nbformat.write(nb, path)
    return path


def test_estimates_are_compared_with_the_stage_times(tmp_path, capsys):
    path = _executed(
        tmp_path / "02.ipynb",
        "stage 1 (frozen encoder): 20 epochs x 16 steps (+ 3 validation steps); about 10 min on "
        "this machine (estimate 600 s: 1.80 s per training step, timed over steps 3 to 6)\n"
        "epoch 1: loss 0.9\n"
        "stage 2 (fine-tuning): 10 epochs x 16 steps; about 9 min on this machine (estimate "
        "540 s: 3.10 s per training step, timed over steps 3 to 6)\n",
        "Stage 1 took 8.0 min on this machine (24 s per epoch). Stage 2 took 15.0 min (90 s).",
    )
    rows = estimates.compare(path)
    assert [(r["stage"], r["estimate_s"], r["actual_s"]) for r in rows] == [
        (1, 600.0, 480.0),
        (2, 540.0, 900.0),
    ]
    assert [r["within"] for r in rows] == [True, False]  # 1.25 inside 30 %, 0.60 outside
    assert estimates.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "1.25  yes" in out and "0.60  NO" in out
    assert estimates.main([str(tmp_path / "missing.ipynb")]) == 2
