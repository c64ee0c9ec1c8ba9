from seglib import calibration, metrics, models, viz

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
    assert "3 test photos with the lowest mIoU (#1 0.10, #3 0.30, #0 0.50)" in viz.alt_text(fig)
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
    alts = [o.metadata.get("image/png", {}).get("alt", "") for o in shown if "image/png" in o.data]
    assert alts and all("epoch" in a and "predicted mask" in a for a in alts)  # alt text too
    lines = [o.data["text/plain"] for o in shown if "epoch 3" in o.data.get("text/plain", "")]
    assert lines and "epoch 1" in lines[0]  # the epoch log, updated in place


# Alt text: every figure seglib draws describes itself (issue 19).


def _masks(n=2, size=8):
    rng = np.random.default_rng(1)
    return rng.random((n, size, size, 3)), rng.integers(0, 3, (n, size, size), dtype=np.uint8)


def test_every_seglib_figure_carries_an_alt_text_generated_from_its_data():
    images, masks = _masks()
    fig = viz.show_masks(
        images, masks, masks, titles=["test photo 12", "test photo 3"], suptitle="mIoU 0.71"
    )
    text = viz.alt_text(fig)
    assert text.startswith("photo, true mask and predicted mask for 2 photos")
    assert "test photo 12, test photo 3" in text and "mIoU 0.71" in text
    assert "pet orange" in text
    fig = viz.show_overlays(list(images), list(masks), titles=["a", "b"], suptitle="training")
    assert viz.alt_text(fig).startswith("training: 2 photos with their masks blended over them")
    history = {"loss": [0.9, 0.5], "val_loss": [1.0, 0.6], "mean_iou": [0.3, 0.4]}
    text = viz.alt_text(viz.plot_history(history))
    assert "training curves: loss, mean iou" in text
    assert "loss: by epoch over 2 epochs, last epoch training 0.500, validation 0.600" in text
    ax = viz.plot_confusion(np.array([[8, 2, 0], [1, 9, 0], [0, 5, 5]]), title="test")
    assert "test: confusion matrix" in viz.alt_text(ax.figure)
    assert "pet 0.80, background 0.90, border 0.50" in viz.alt_text(ax.figure)
    table = pd.DataFrame({"iou_pet": [0.8], "mean_iou": [0.7]}, index=["model A"])
    ax = viz.plot_scores(table, metrics=("iou_pet", "mean_iou"))
    assert "model A: IoU pet 0.800, mIoU 0.700" in viz.alt_text(ax.figure)
    ax = viz.plot_differences({"tuned - frozen": metrics.Difference(0.05, 0.02, 0.08, 0.95, 9)})
    plt.title("fine-tuning")  # a title set afterwards leads the panel's text
    assert viz.alt_text(ax.figure).startswith("fine-tuning: difference in per-image IoU")
    assert "tuned - frozen +0.050 (+0.020 to +0.080, excludes zero)" in viz.alt_text(ax.figure)
    plt.close("all")


def test_panels_described_one_by_one_in_panel_order():
    fig, axes = plt.subplots(1, 2)
    viz.plot_confusion(np.eye(3), ax=axes[1], title="second")
    viz.plot_confusion(np.eye(3), ax=axes[0], title="first")
    text = viz.alt_text(fig)
    assert text.index("first: confusion") < text.index("second: confusion")
    plt.close(fig)


def test_figures_seglib_did_not_draw_are_described_by_their_own_words():
    fig, axes = plt.subplots(1, 2)
    axes[0].set_title("class shares")
    axes[0].set_ylabel("share of pixels")
    fig.suptitle("the data")
    assert viz.alt_text(fig) == "the data; figure with 2 panels: class shares (share of pixels)"
    plt.close(fig)
    fig, _ = plt.subplots()
    assert viz.alt_text(fig) == "figure with 1 panel"  # never empty
    plt.close(fig)
    with pytest.raises(TypeError, match="Figure or Axes"):
        viz.set_alt_text("not a figure", "text")


def test_ipython_displays_a_figure_with_its_alt_text_as_image_metadata():
    from types import SimpleNamespace

    from IPython.core.formatters import DisplayFormatter
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    # A shell's formatters as the inline backend sets them up (no shell: no global state).
    formatter = DisplayFormatter()
    formatter.formatters["image/png"].for_type(Figure, lambda f: print_figure(f, "png"))
    shell = SimpleNamespace(display_formatter=formatter)
    assert viz.enable_alt_text(shell) is True
    images, masks = _masks(1)
    fig = viz.show_masks(images, masks, titles=["test photo 5"])
    data, metadata = formatter.format(fig)
    assert data["image/png"]  # the image still comes from matplotlib
    assert metadata["image/png"]["alt"] == viz.alt_text(fig)
    assert "test photo 5" in metadata["image/png"]["alt"]
    plt.close(fig)
    assert viz.enable_alt_text(None) in (True, False)  # outside IPython: nothing to do


def test_show_result_describes_the_photo_and_the_cutout():
    from seglib import inference

    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    mask = np.zeros((30, 40), np.uint8)
    mask[:, 20:] = 1
    probabilities = np.zeros((30, 40, 3), np.float32)
    result = inference.Segmentation(image, mask, probabilities, "cat.jpg", (16, 16))
    fig = inference.show_result(result)
    text = viz.alt_text(fig)
    assert text.startswith("cat.jpg (40×30 px)") and "cut-out keeping pet" in text
    assert "pet 50% of the pixels" in text
    plt.close(fig)


def test_plot_architecture_returns_the_diagram_with_alt_text(tmp_path, monkeypatch):
    from PIL import Image

    model = models.unet((32, 32, 3), depth=1, base_filters=2)

    def fake_plot_model(model, to_file, **options):  # graphviz's part, not ours
        Image.new("RGB", (8, 8)).save(to_file)
        return object()

    monkeypatch.setattr(viz, "graphviz_available", lambda: True)
    monkeypatch.setattr(viz.keras.utils, "plot_model", fake_plot_model)
    shown = viz.plot_architecture(model, to_file=tmp_path / "unet.png")
    alt = f"diagram of model {model.name}: its {len(model.layers)} layers"
    assert shown.alt.startswith(alt) and f"{model.count_params():,} parameters" in shown.alt
    data, metadata = shown._repr_png_()
    assert data and metadata["alt"] == shown.alt  # what IPython displays, with its alt


def test_plot_unet_sketch_draws_one_box_per_level_and_side():
    ax = viz.plot_unet_sketch(depth=3, image_size=64, base_filters=8)
    texts = [t.get_text() for t in ax.texts]
    assert "64×64\n8 ch" in texts and "8×8\n64 ch" in texts  # top and bottom of the U
    assert len(ax.patches) == 2 * 3 + 1  # encoder and decoder boxes, one bottom box
    assert "U-Net with 4 levels" in viz.alt_text(ax.figure) and "64×64 px" in viz.alt_text(
        ax.figure
    )
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


def _unsure_result(temperature=1.0):
    """A 10x20 photo whose left half is sure (0.9 pet) and right quarter unsure (0.5 border)."""
    from seglib import inference

    probabilities = np.zeros((10, 20, 3), np.float32)
    probabilities[:, :10] = [0.9, 0.05, 0.05]  # pet, sure
    probabilities[:, 10:15] = [0.1, 0.85, 0.05]  # background, sure
    probabilities[:, 15:] = [0.25, 0.25, 0.5]  # border, unsure
    image = np.full((10, 20, 3), 200, np.uint8)
    mask = probabilities.argmax(-1).astype(np.uint8)
    return inference.Segmentation(image, mask, probabilities, "dog.png", (8, 8), temperature)


def test_unsure_overlay_paints_only_the_unsure_pixels():
    result = _unsure_result()
    unsure = result.unsure(0.8)
    assert unsure.mean() == pytest.approx(0.25)
    picture = viz.unsure_overlay(result.image, unsure, alpha=1.0)
    np.testing.assert_allclose(picture[unsure], np.tile(viz.UNSURE_COLOR, (50, 1)), atol=1e-6)
    grey = picture[~unsure]
    np.testing.assert_allclose(grey[:, 0], grey[:, 1])  # colourless where sure
    with pytest.raises(ValueError, match="shape"):
        viz.unsure_overlay(result.image, unsure[:5])


def test_show_result_adds_the_unsure_panel_in_the_same_figure():
    from seglib import inference
    from seglib.errors import CalibrationError

    result = _unsure_result()
    fig = inference.show_result(result, unsure=0.8)
    assert len(fig.axes) == 4 and "confidence < 0.8" in fig.axes[3].get_title()
    assert "unsure (confidence below 0.8) in yellow, 25%" in viz.alt_text(fig)
    plt.close(fig)
    plain = inference.show_result(result)
    assert len(plain.axes) == 3 and "unsure" not in viz.alt_text(plain)
    plt.close(plain)
    with pytest.raises(CalibrationError, match="threshold"):
        inference.show_result(result, unsure=2)


def test_show_unsure_draws_the_unsure_pixels_and_the_confidence_map():
    fig = viz.show_unsure(_unsure_result(temperature=1.7), 0.8)
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert "25.0% of pixels" in titles[0] and "temperature 1.7" in titles[1]
    assert "below 0.8 in yellow (25.0% of the photo)" in viz.alt_text(fig)
    plt.close(fig)


# Reliability diagrams and the unsure-pixel figure (issue 20).


def _calibration(shift: float) -> calibration.Calibration:
    rng = np.random.default_rng(0)
    photos = []
    for _ in range(3):
        logits = rng.normal(0.0, 2.0, (8, 8, 3)) * shift
        labels = rng.integers(0, 3, (8, 8))
        photos.append((calibration.calibrated_probabilities(logits), labels))
    return calibration.Calibration.from_photos(photos, n_bins=5)


def test_plot_reliability_draws_one_panel_per_curve_with_each_ece():
    before, after = _calibration(1.0), _calibration(0.3)
    fig = viz.plot_reliability({"T = 1": before, "T = 3": after})
    try:
        assert len(fig.axes) == 4  # pet, background, border, overall
        titles = [ax.get_title() for ax in fig.axes]
        assert titles[3].startswith("overall")
        assert f"T = 1: ECE {before.ece()['overall']:.3f}" in titles[3]
        assert f"T = 3: ECE {after.ece()['pet']:.3f}" in titles[0]
        text = viz.alt_text(fig)
        assert "5 equal-width bins" in text and "T = 3" in text
        # a bin's point sits at (mean score, share right) of the reliability table
        table = before.reliability()
        row = table[(table["curve"] == "overall") & (table["count"] > 0)].iloc[0]
        xs, ys = fig.axes[3].lines[1].get_data()
        assert xs[0] == pytest.approx(row["confidence"]) and ys[0] == pytest.approx(row["accuracy"])
    finally:
        plt.close(fig)
    fig = viz.plot_reliability({"T = 1": before}, curves=["border"])
    assert len(fig.axes) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="unknown curves"):
        viz.plot_reliability({"T = 1": before}, curves=["cat"])
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_reliability({})


def test_show_unsure_and_wrong_paints_the_two_maps_and_says_their_shares():
    image = np.full((4, 5, 3), 100, dtype=np.uint8)
    unsure = np.zeros((4, 5), bool)
    unsure[0, :] = True  # 5 of 20 pixels
    wrong = np.zeros((4, 5), bool)
    wrong[0, :2] = True  # 2 of 20
    fig = viz.show_unsure_and_wrong([image], [unsure], [wrong], titles=["#7"])
    try:
        left, right = fig.axes
        assert left.get_title() == "#7: unsure pixels (25%)"
        assert right.get_title() == "#7: wrong pixels (10%)"
        painted = left.images[0].get_array()
        assert painted[0, 0, 2] < painted[3, 0, 2]  # yellow has no blue: an unsure pixel
        assert "25% unsure, 10% wrong" in viz.alt_text(fig)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="maps"):
        viz.show_unsure_and_wrong([image], [unsure[:2]], [wrong])
    with pytest.raises(ValueError, match="as many"):
        viz.show_unsure_and_wrong([image], [], [wrong])
