from seglib import metrics, models, viz

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_show_masks_lays_the_suptitle_out_above_the_column_titles():
    rng = np.random.default_rng(0)
    image = rng.random((1, 32, 32, 3), dtype=np.float32)
    mask = rng.integers(0, 3, (1, 32, 32), dtype=np.uint8)
    fig = viz.show_masks(image, mask, mask, titles=["a model"], suptitle="test photo 0: mIoU 1")
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        top = fig._suptitle.get_window_extent(renderer)
        assert fig._suptitle.get_text() == "test photo 0: mIoU 1"
        titles = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
        assert len(titles) == 3
        assert not any(_overlaps(top, t) for t in titles)
        assert all(top.y0 >= t.y1 for t in titles)  # above them, inside the figure
        assert top.y1 <= fig.bbox.y1 + 1
    finally:
        plt.close(fig)


# Architecture diagrams, comparison charts and error analysis (issue 10).


def test_plot_architecture_draws_a_diagram_or_prints_the_summary(tmp_path, monkeypatch, capsys):
    model = models.unet((32, 32, 3), depth=2, base_filters=4)
    if viz.graphviz_available():
        image = viz.plot_architecture(model, to_file=tmp_path / "unet.png")
        assert (tmp_path / "unet.png").stat().st_size > 1000
        assert image is not None
        monkeypatch.chdir(tmp_path)  # without to_file: nothing written where the user works
        before = sorted(tmp_path.iterdir())
        assert viz.plot_architecture(model).data[:4] == b"\x89PNG"
        assert sorted(tmp_path.iterdir()) == before
    monkeypatch.setattr(viz, "graphviz_available", lambda: False)
    assert viz.plot_architecture(model, to_file=tmp_path / "none.png") is None
    out = capsys.readouterr().out
    assert "graphviz is not installed" in out and "Total params" in out
    assert not (tmp_path / "none.png").exists()


def test_plot_scores_labels_metrics_in_words_and_colours_classes():
    table = pd.DataFrame(
        {
            "iou_pet": [0.8, 0.7],
            "iou_background": [0.9, 0.85],
            "iou_border": [0.4, 0.3],
            "mean_iou": [0.7, 0.62],
        },
        index=["model A", "model B"],
    )
    ax = viz.plot_scores(table)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["IoU pet", "IoU background", "IoU border", "mIoU"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["model A", "model B"]
    pet_bar = ax.containers[0][0]
    np.testing.assert_allclose(pet_bar.get_facecolor()[:3], viz.CLASS_COLORS[0])
    assert pet_bar.get_height() == pytest.approx(0.8)
    plt.close("all")


def test_plot_differences_greys_out_intervals_that_cross_zero():
    real = metrics.Difference(0.05, 0.02, 0.08, 0.95, 100)
    noise = metrics.Difference(0.01, -0.02, 0.04, 0.95, 100)
    ax = viz.plot_differences({"real": real, "noise": noise})
    colours = [c.lines[0].get_color() for c in ax.containers]
    assert colours == ["black", "0.6"]
    assert "95%" in ax.get_xlabel()
    plt.close("all")


def test_show_worst_ranks_photos_by_their_score():
    model = models.unet((16, 16, 3), depth=1, base_filters=2)
    rng = np.random.default_rng(0)
    photos = [
        (
            rng.integers(0, 255, (20 + i, 24, 3), dtype=np.uint8),
            rng.integers(1, 4, (20 + i, 24, 1), dtype=np.uint8),
        )
        for i in range(5)
    ]
    per_image = pd.DataFrame({"mean_iou": [0.5, 0.1, 0.9, 0.3, 0.7]})
    fig = viz.show_worst(model, photos, per_image, 16, k=3)
    row_labels = [fig.axes[4 * r].get_ylabel() for r in range(3)]
    assert [label.split()[0] for label in row_labels] == ["#1", "#3", "#0"]
    plt.close(fig)


def test_display_callback_keeps_what_the_cell_printed_before_training():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = """
import numpy as np, keras, seglib
from seglib import models, viz
model = models.unet((16, 16, 3), depth=1, base_filters=2)
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.default_rng(0).random((4, 16, 16, 3), dtype=np.float32)
y = np.zeros((4, 16, 16, 1), np.uint8)
print("parameters before training:", model.count_params())
model.fit(x, y, epochs=3, verbose=0, callbacks=[viz.DisplayCallback(x[0], y[0], every=1)])
"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "parameters before training:" in printed  # not erased by the callback
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert any("image/png" in o.data for o in shown)  # the live figure
    lines = [o.data["text/plain"] for o in shown if "epoch 3" in o.data.get("text/plain", "")]
    assert lines and "epoch 1" in lines[0]  # the epoch log, updated in place


def test_plot_unet_sketch_draws_one_box_per_level_and_side():
    ax = viz.plot_unet_sketch(depth=3, image_size=64, base_filters=8)
    texts = [t.get_text() for t in ax.texts]
    assert "64×64\n8 ch" in texts and "8×8\n64 ch" in texts  # top and bottom of the U
    assert len(ax.patches) == 2 * 3 + 1  # encoder and decoder boxes, one bottom box
    plt.close("all")


def test_unet_blocks_draws_one_box_per_level_with_the_same_weights():
    blocks = viz.unet_blocks((64, 64, 3), depth=3, base_filters=8)
    plain = models.unet((64, 64, 3), depth=3, base_filters=8)
    assert blocks.count_params() == plain.count_params()
    # input, 3 x (block, pool), bottom, 3 x (upconv, skip, block), logits
    assert len(blocks.layers) == 5 * 3 + 3
    assert len(plain.layers) > 3 * len(blocks.layers) // 2  # far fewer boxes than layers
    nested = [layer.name for layer in blocks.layers if isinstance(layer, keras.Model)]
    assert nested == ["down0", "down1", "down2", "bottom", "up2", "up1", "up0"]
