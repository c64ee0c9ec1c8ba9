"""Figures for the course: masks, overlays, predictions, training curves, a live callback.

Class colours are the same in every figure (Okabe-Ito, colour-blind safe):
pet orange, background sky blue, border reddish purple.

Every figure drawn here carries a short **alt text** generated with it (what it shows and
the numbers it is about), read with :func:`alt_text`. Inside IPython the figure's display
carries it as output metadata (``{"image/png": {"alt": ...}}``, see
:func:`enable_alt_text`), which survives into executed notebooks and becomes the ``alt``
attribute of the image on the course site (``make site``). Other matplotlib figures get a
description generated from their titles and axis labels.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

from seglib.data import CLASS_NAMES
from seglib.predict import predict_full_resolution
from seglib.training import EpochClock

import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

#: RGB colours (0..1) by label: 0 pet, 1 background, 2 border.
CLASS_COLORS = np.array(
    [
        [0.902, 0.624, 0.000],  # pet: orange  #E69F00
        [0.337, 0.706, 0.914],  # background: sky blue  #56B4E9
        [0.800, 0.475, 0.655],  # border: reddish purple  #CC79A7
    ]
)


#: Names of the class colours, for alt text.
COLOR_WORDS = "pet orange, background sky blue, border reddish purple"
from seglib.alttext import (  # noqa: E402, F401  (re-exported: viz.alt_text, ...)
    _ALT_ATTRIBUTE,
    _alt_bundle,
    _draws,
    alt_text,
    describe_figure,
    enable_alt_text,
    set_alt_text,
)


def _rows(names, limit: int = 6) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _labels(mask) -> np.ndarray:
    """``[H, W]`` or ``[H, W, 1]`` labels 0..2 as an int array ``[H, W]``."""
    mask = np.asarray(mask)
    return mask[..., 0] if mask.ndim == 3 else mask


def mask_to_rgb(mask) -> np.ndarray:
    """Colour a label mask: ``[H, W]`` or ``[H, W, 1]`` (0..2) -> float ``[H, W, 3]`` in [0, 1]."""
    return CLASS_COLORS[_labels(mask).astype(np.int64)]


def overlay(image, mask, alpha: float = 0.5, background_alpha: float = 0.35) -> np.ndarray:
    """Blend class colours over a photo; every class is tinted, as the legend shows.

    Args:
        image: float ``[H, W, 3]`` in [0, 1] (or uint8 0..255).
        mask: labels ``[H, W]`` or ``[H, W, 1]`` (0 pet, 1 background, 2 border).
        alpha: opacity of the pet and border colours, in [0, 1].
        background_alpha: opacity of the background colour: a lighter tint, so the photo
            still shows, yet strong enough that a mask of all background reads as one.

    Returns:
        float ``[H, W, 3]`` in [0, 1].
    """
    image = np.asarray(image, dtype=np.float32)
    if image.max() > 1.0:
        image = image / 255.0
    labels = _labels(mask).astype(np.int64)
    opacity = np.array([alpha, background_alpha, alpha], dtype=np.float32)[labels][..., None]
    return (1 - opacity) * image + opacity * mask_to_rgb(labels)


#: Colour of unsure pixels (Okabe-Ito yellow #F0E442, unlike the three class colours).
UNSURE_COLOR = np.array([0.941, 0.894, 0.259])


def unsure_overlay(image, unsure, alpha: float = 0.75) -> np.ndarray:
    """The photo in dimmed grey with its unsure pixels painted :data:`UNSURE_COLOR`.

    Args:
        image: float ``[H, W, 3]`` in [0, 1] (or uint8 0..255).
        unsure: bool ``[H, W]``, e.g. :meth:`seglib.inference.Segmentation.unsure`.
        alpha: opacity of the colour on unsure pixels, in [0, 1].

    Returns:
        float ``[H, W, 3]`` in [0, 1].

    Raises:
        ValueError: ``unsure`` does not have the photo's height and width.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.max() > 1.0:
        image = image / 255.0
    unsure = np.asarray(unsure, dtype=bool)
    if unsure.shape != image.shape[:2]:
        raise ValueError(f"unsure has shape {unsure.shape}, the photo {image.shape[:2]}")
    grey = 0.25 + 0.5 * image.mean(-1, keepdims=True).repeat(3, axis=-1)  # dimmed, colourless
    weight = alpha * unsure[..., None]
    return (1 - weight) * grey + weight * UNSURE_COLOR


def show_unsure(result, threshold: float):
    """Where the model is unsure on one photo: unsure pixels over it, and the confidence map.

    Args:
        result: a :class:`seglib.inference.Segmentation`.
        threshold: confidence (the chosen class's probability) below which a pixel is
            unsure, in (0, 1] (:meth:`~seglib.inference.Segmentation.unsure`).

    Returns:
        The matplotlib figure (two panels, with alt text).

    Raises:
        CalibrationError: a bad ``threshold``.
    """
    unsure = result.unsure(threshold)
    step = max(1, max(result.shape) // 1600)  # a screen needs no more than ~1600 px
    image, confidence = result.image[::step, ::step], result.confidence[::step, ::step]
    calibrated = f"temperature {result.temperature:g}" if result.temperature != 1 else "raw"
    height, width = result.shape
    scale = min(max(width / height, 0.6), 2.0)
    fig, axes = plt.subplots(1, 2, figsize=(2 * 3.6 * scale, 3.9))
    axes[0].imshow(unsure_overlay(image, unsure[::step, ::step]))
    axes[0].set_title(f"unsure (yellow): confidence < {threshold:g}\n{unsure.mean():.1%} of pixels")
    shown = axes[1].imshow(confidence, cmap="gray", vmin=1 / result.probabilities.shape[-1], vmax=1)
    axes[1].set_title(f"confidence ({calibrated} probabilities)\nblack 1/3, white 1")
    for ax in axes:
        ax.axis("off")
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04, label="confidence")
    set_alt_text(
        fig,
        f"{Path(str(result.name)).name}: pixels with confidence below {threshold:g} in yellow "
        f"({unsure.mean():.1%} of the photo), and the confidence map, black 1/3, white 1",
    )
    return fig


def legend_handles(class_names=CLASS_NAMES) -> list:
    """Matplotlib legend patches naming each class in its colour."""
    return [Patch(color=CLASS_COLORS[k], label=n) for k, n in enumerate(class_names)]


def add_legend(fig, class_names=CLASS_NAMES) -> None:
    """Lay out a figure and put the class legend in a strip under it."""
    bottom = 0.4 / fig.get_size_inches()[1]  # about 0.4 inch for the legend
    with warnings.catch_warnings():  # a colour bar's axes are laid out beside their image
        warnings.filterwarnings("ignore", message=".*not compatible with tight_layout")
        fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.legend(
        handles=legend_handles(class_names),
        loc="lower center",
        ncol=len(class_names),
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )


def show_masks(images, masks, predictions=None, titles=None, max_rows: int = 4, suptitle=None):
    """Rows of photo | true mask | predicted mask (the last column only with predictions).

    Args:
        images: float ``[N, H, W, 3]`` in [0, 1]. masks: labels ``[N, H, W(, 1)]``.
        predictions: labels ``[N, H, W]`` or None. titles: optional row titles.
        suptitle: a title over the whole figure, laid out above the column titles
            (set after this call, ``fig.suptitle`` would overlap them).

    Returns:
        The matplotlib figure.
    """
    n = min(len(images), max_rows)
    cols = 3 if predictions is not None else 2
    fig, axes = plt.subplots(n, cols, figsize=(3 * cols, 3 * n), squeeze=False)
    headers = ["input image", "true mask", "predicted mask"]
    for i in range(n):
        panels = [images[i], mask_to_rgb(masks[i])]
        if predictions is not None:
            panels.append(mask_to_rgb(predictions[i]))
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(np.clip(np.asarray(panel, dtype=np.float32), 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(headers[j])
        if titles is not None:
            axes[i, 0].set_ylabel(titles[i])
    if suptitle:
        fig.suptitle(suptitle)
    add_legend(fig)
    columns = "photo, true mask and predicted mask" if cols == 3 else "photo and true mask"
    text = f"{columns} for {n} photo{'s' if n != 1 else ''}"
    if titles is not None:
        text += f" ({_rows(titles[:n])})"
    if suptitle:
        text += f"; {suptitle}"
    set_alt_text(fig, f"{text}; mask colours {COLOR_WORDS}")
    return fig


def show_predictions(model, dataset, num: int = 3):
    """Predict on the first batch of ``dataset`` and show ``num`` rows (see :func:`show_masks`)."""
    images, masks = next(iter(dataset))
    images, masks = images[:num], masks[:num]
    predictions = np.argmax(model(images, training=False), axis=-1)
    return show_masks(np.asarray(images), np.asarray(masks), predictions, max_rows=num)


def show_overlays(images, masks, titles=None, ncols: int = 4, alpha: float = 0.5, suptitle=None):
    """A grid of photos with their masks blended over them, with a class legend.

    Args:
        images: sequence of ``[H, W, 3]`` photos (sizes may differ), floats in [0, 1]
            or uint8. masks: matching label masks ``[H, W(, 1)]`` with labels 0..2.
    """
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 2.8 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        ax = axes.ravel()[i]
        ax.imshow(overlay(image, mask, alpha))
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    add_legend(fig)
    text = f"{n} photo{'s' if n != 1 else ''} with their masks blended over them"
    if titles is not None:
        text += f" ({_rows(titles)})"
    if suptitle:
        text = f"{suptitle}: {text}"
    set_alt_text(fig, f"{text}; mask colours {COLOR_WORDS}")
    return fig


def _as_dict(history) -> dict:
    return history.history if hasattr(history, "history") else dict(history)


def plot_history(histories, metrics=("loss", "pixel_accuracy", "mean_iou"), stage_names=None):
    """Training and validation curves, one panel per metric.

    Args:
        histories: a Keras ``History`` (or its ``.history`` dict), or a list of them for
            training run in stages (epochs are numbered on; a dashed line marks where each
            later stage starts).
        metrics: keys to plot; ``val_<key>`` is drawn dashed when present.
        stage_names: optional labels for the stages.

    Returns:
        The matplotlib figure.
    """
    if not isinstance(histories, (list, tuple)):
        histories = [histories]
    logs = [_as_dict(h) for h in histories]
    metrics = [m for m in metrics if any(m in log for log in logs)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        train, val, starts = [], [], []
        for log in logs:
            starts.append(len(train))
            train += list(log.get(metric, []))
            val += list(log.get(f"val_{metric}", []))
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, "o-", ms=3, label="training")
        if val:
            ax.plot(epochs[: len(val)], val, "s--", ms=3, label="validation")
        for k, start in enumerate(starts[1:], start=1):
            label = stage_names[k] if stage_names else f"stage {k + 1}"
            ax.axvline(start + 0.5, color="gray", ls=":", lw=1)
            ax.text(start + 0.7, ax.get_ylim()[1], label, va="top", fontsize=8, color="gray")
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric.replace("_", " "))
        ax.legend()
        last = f"training {train[-1]:.3f}" if train else "no values"
        if val:
            last += f", validation {val[-1]:.3f}"
        set_alt_text(ax, f"by epoch over {len(train)} epochs, last epoch {last}")
    fig.tight_layout()
    set_alt_text(fig, "training curves: " + ", ".join(m.replace("_", " ") for m in metrics))
    return fig


def plot_confusion(confusion, class_names=CLASS_NAMES, normalize: bool = True, ax=None, title=None):
    """Heat map of a confusion matrix (rows true, columns predicted), row-normalised by default."""
    confusion = np.asarray(confusion, dtype=float)
    if normalize:
        confusion = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.6))
    im = ax.imshow(confusion, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for t in range(len(class_names)):
        for p in range(len(class_names)):
            value = confusion[t, p]
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            color = "white" if normalize and value > 0.6 else "black"
            ax.text(p, t, text, ha="center", va="center", color=color)
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(
        title or ("confusion matrix (row-normalised)" if normalize else "confusion matrix")
    )
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    diagonal = ", ".join(
        f"{n} {confusion[k, k]:.2f}" if normalize else f"{n} {int(confusion[k, k])}"
        for k, n in enumerate(class_names)
    )
    kind = "share" if normalize else "count"
    set_alt_text(
        ax,
        f"confusion matrix heat map, rows true class, columns predicted; "
        f"correct {kind} per class: {diagonal}",
    )
    return ax


class DisplayCallback(keras.callbacks.Callback):
    """Show the prediction on a fixed photo after every ``every`` epochs while training.

    In a notebook the figure is redrawn in place (an updatable ``display``), so you watch
    the mask sharpen as the model learns; under it, one line per epoch lists the loss and
    the validation scores (use ``fit(..., verbose=0)``). What the cell printed before
    training stays visible. Outside IPython it only prints
    the lines. Idea from the TensorFlow segmentation tutorial.

    An executed notebook keeps only the last redraw. With ``record=True`` the callback also
    keeps each epoch's prediction (:attr:`frames`), so that a later cell can lay them side
    by side (:meth:`show_epochs`, :meth:`pixel_accuracy`).

    Args:
        image: float ``[H, W, 3]`` in [0, 1]; mask: labels ``[H, W(, 1)]``.
        every: draw (and record) every this many epochs.
        keys: log entries to print each epoch, when present.
        record: keep the predicted masks; default False (nothing kept).

    Attributes:
        frames: ``[(epoch, predicted labels uint8 [H, W])]``, epochs counted from 1, in the
            order trained (empty unless ``record``).
        seconds: wall time of the last ``fit`` this callback watched, from its start to its
            end (None before one has ended).
    """

    def __init__(
        self,
        image,
        mask,
        every: int = 1,
        keys=("loss", "val_loss", "val_mean_iou"),
        record: bool = False,
    ):
        super().__init__()
        self.image = np.asarray(image)[None]
        self.mask = np.asarray(mask)[None]
        self.every = every
        self.keys = keys
        self.record = record
        self.frames = []
        self.seconds = None
        self.lines = []
        self._figure_handle = None
        self._text_handle = None

    def on_train_begin(self, logs=None):
        self._figure_handle = None
        self._text_handle = None
        self._clock = EpochClock()
        self._began = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self._began

    def on_epoch_begin(self, epoch, logs=None):
        self._clock.start(epoch)

    def _predict(self) -> np.ndarray:
        return np.argmax(self.model(self.image, training=False), axis=-1)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        cells = "  ".join(f"{k} {logs[k]:.4f}" for k in self.keys if k in logs)
        left = self._clock.left(epoch, (self.params or {}).get("epochs"))
        self.lines.append(f"epoch {epoch + 1}: {cells}" + (f"  ({left})" if left else ""))
        due = (epoch + 1) % self.every == 0
        prediction = None
        if self.record and due:
            prediction = self._predict()
            self.frames.append((epoch + 1, prediction[0].astype(np.uint8)))
        try:
            from IPython import get_ipython
            from IPython.display import Pretty, display
        except ImportError:
            get_ipython = None
        if get_ipython is None or get_ipython() is None:
            print(self.lines[-1])
            return
        # Update two display areas in place (display_id) rather than clear_output(), which
        # would also erase everything the cell printed before training started.
        if due:
            prediction = self._predict() if prediction is None else prediction
            fig = show_masks(self.image, self.mask, prediction, titles=[f"epoch {epoch + 1}"])
            if self._figure_handle is None:
                self._figure_handle = display(fig, display_id=True)
            else:
                self._figure_handle.update(fig)
            plt.close(fig)
        text = Pretty("\n".join(self.lines))
        if self._text_handle is None:
            self._text_handle = display(text, display_id=True)
        else:
            self._text_handle.update(text)

    def pixel_accuracy(self) -> dict:
        """``{epoch: share of the photo's pixels predicted right}`` for each recorded frame."""
        truth = _labels(self.mask[0])
        return {epoch: float(np.mean(labels == truth)) for epoch, labels in self.frames}

    def show_epochs(self, columns: int = 5, suptitle=None):
        """The recorded frames side by side (see :func:`show_epochs`).

        Raises:
            ValueError: nothing recorded (``record=False``, or no epoch has ended).
        """
        return show_epochs(self.image[0], self.mask[0], self.frames, columns, suptitle)


# ---------------------------------------------------------------------------
# Architecture, comparisons and error analysis (issue 10)
# ---------------------------------------------------------------------------

#: Readable names for the metric keys of :meth:`seglib.metrics.Scores.summary`.
METRIC_LABELS = {
    "pixel_accuracy": "pixel accuracy",
    "mean_iou": "mIoU",
    "per_image_mean_iou": "per-image mIoU",
    **{f"iou_{name}": f"IoU {name}" for name in CLASS_NAMES},
}


def graphviz_available() -> bool:
    """True when ``keras.utils.plot_model`` can draw: pydot imports and graphviz's ``dot`` runs."""
    import shutil

    try:
        import pydot  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def plot_architecture(model, to_file=None, dpi: int = 60, **kwargs):
    """Draw a model as a diagram of its layers with their output shapes.

    Uses ``keras.utils.plot_model(show_shapes=True)`` as the TensorFlow segmentation
    tutorial does. It needs the Python package ``pydot`` (pinned) and the graphviz
    program ``dot`` from the operating system (``apt-get install graphviz``, ``brew
    install graphviz``, ``conda install -c conda-forge graphviz``; Colab has it). Without
    graphviz the text view ``model.summary()`` is printed instead, with that hint.

    Args:
        model: a built Keras model. to_file: where the PNG goes (a file there is
            overwritten); None: a new temporary folder, so no file of yours is touched.
        dpi: resolution of the PNG. kwargs: more ``plot_model`` options.

    Returns:
        An ``IPython.display.Image`` with alt text (shown when it is the cell's last
        value), or None when the summary was printed instead.
    """
    if not graphviz_available():
        print(
            "graphviz is not installed, so here is the text view (model.summary()). "
            "For the diagram: apt-get install graphviz (or brew/conda install graphviz)."
        )
        model.summary(line_length=100)
        return None
    if to_file is None:
        to_file = Path(tempfile.mkdtemp(prefix="seglib-architecture-")) / f"{model.name}.png"
    options = {"show_shapes": True, "show_layer_names": True, "dpi": dpi}
    options.update(kwargs)
    shown = keras.utils.plot_model(model, to_file=str(to_file), **options)
    if shown is None:
        return None
    from IPython.display import Image

    alt = (
        f"diagram of model {model.name}: its {len(model.layers)} layers from input to "
        f"output with their output shapes ({model.count_params():,} parameters)"
    )
    # Image(alt=...) is IPython 8's; Colab's IPython 7.34 takes the alt through metadata.
    image = Image(filename=str(to_file), metadata={"alt": alt})
    image.alt = alt
    return image


def plot_scores(table, metrics=("iou_pet", "iou_background", "iou_border", "mean_iou"), ax=None):
    """Grouped bars: one group per model, one bar per metric, class colours for the IoUs.

    Args:
        table: DataFrame with one row per model and metric columns (e.g. from
            :func:`seglib.metrics.report`). metrics: columns to draw, in order.
        ax: axes to draw into, or None for a new figure.

    Returns:
        The axes. Bars carry their values (3 decimals); the legend names metrics in words.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5, 1.6 * len(table) + 2), 3.6))
    width = 0.8 / len(metrics)
    x = np.arange(len(table))
    for j, key in enumerate(metrics):
        name = key[4:] if key.startswith("iou_") else None
        color = CLASS_COLORS[CLASS_NAMES.index(name)] if name in CLASS_NAMES else "0.35"
        values = table[key].astype(float).to_numpy()
        bars = ax.bar(
            x + (j - (len(metrics) - 1) / 2) * width,
            values,
            width,
            color=color,
            label=METRIC_LABELS.get(key, key),
        )
        ax.bar_label(bars, fmt="%.3f", fontsize=7, rotation=90, padding=2)
    ax.set_xticks(x, [str(i) for i in table.index])
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("score on the test photos")
    ax.legend(fontsize=8, ncols=len(metrics), loc="upper center")
    rows = []
    for model_name, row in table.iterrows():
        values = ", ".join(f"{METRIC_LABELS.get(k, k)} {float(row[k]):.3f}" for k in metrics)
        rows.append(f"{model_name}: {values}")
    set_alt_text(ax, "bar chart of test scores per model; " + "; ".join(rows))
    return ax


def plot_differences(
    differences: dict,
    xlabel="difference in per-image IoU",
    ax=None,
    legend: bool = True,
    wrap: int = 26,
):
    """Forest plot: each paired difference with its confidence interval and a zero line.

    A **forest plot** has one row per comparison: a dot at the mean difference, a horizontal
    bar for its interval and a dashed line at zero, so that which intervals cross zero shows
    at a glance.

    Args:
        differences: ``{label: seglib.metrics.Difference}``.
        xlabel: what the differences measure.
        ax: axes to draw into, or None for a new figure sized to the rows.
        legend: name the two colours in a legend (pass False on all but one panel of a
            figure with several).
        wrap: labels longer than this many characters are wrapped onto several lines, so
            that they leave the plot most of the figure's width.

    Returns:
        The axes. A difference that :attr:`seglib.metrics.Difference.above_noise` calls real
        (its interval excludes zero) is drawn black; one within noise is drawn grey.
    """
    import textwrap

    from matplotlib.lines import Line2D

    def fold(label: str) -> str:  # a long "a - b" label breaks before its minus sign
        for sep in (" − ", " - "):
            if len(label) > wrap and sep in label:
                first, second = label.split(sep, 1)
                return f"{fold(first)}\n{textwrap.fill(sep[1:] + second, wrap)}"
        return textwrap.fill(label, wrap, break_on_hyphens=False)

    labels = list(differences)
    shown = [fold(str(label)) for label in labels]
    if ax is None:
        lines = sum(s.count("\n") + 1 for s in shown)
        _, ax = plt.subplots(figsize=(7.5, 0.28 * lines + 0.3 * len(labels) + 1.7))
    for i, label in enumerate(labels):
        d = differences[label]
        color = "black" if d.above_noise else "0.6"
        ax.errorbar(
            d.mean, i, xerr=[[d.mean - d.low], [d.high - d.mean]], fmt="o", color=color, capsize=4
        )
    ax.axvline(0, color="0.3", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(labels)), shown, fontsize=9)
    # first row on top, half a row of margin below; above it, room for the legend (kept
    # without one too, so that panels sharing this y axis keep it)
    ax.set_ylim(len(labels) - 0.5, -1.1)
    confidence = next(iter(differences.values())).confidence if differences else 0.95
    ax.set_xlabel(f"{xlabel}\n({confidence:.0%} paired bootstrap interval)")
    if legend:
        key = [
            Line2D([], [], color="black", marker="o", label="above the noise (excludes zero)"),
            Line2D([], [], color="0.6", marker="o", label="within noise (includes zero)"),
        ]
        ax.legend(handles=key, fontsize=8, loc="upper center", ncols=2, framealpha=0.9)
    rows = [
        f"{label} {d.mean:+.3f} ({d.low:+.3f} to {d.high:+.3f}, "
        f"{'excludes zero' if d.excludes_zero else 'within noise'})"
        for label, d in differences.items()
    ]
    set_alt_text(
        ax,
        f"{xlabel} with {confidence:.0%} intervals and a zero line (black: the interval "
        "excludes zero; grey: within noise); " + "; ".join(rows),
    )
    return ax


def show_worst(model, photos, per_image, image_size, k: int = 8, by: str = "mean_iou"):
    """Error analysis: the ``k`` test photos with the lowest per-image score.

    Each row: the photo with its true trimap, the prediction, the probability of *pet*,
    and the model's confidence (the largest class probability; dark = unsure). The
    uncertain band usually follows the border class, which is itself the annotators'
    "not sure" zone.

    Args:
        model: maps ``[1, S, S, 3]`` to logits. photos: random-access raw pairs in the
            order of ``per_image`` (e.g. :class:`seglib.data.IndexedSplit`), uint8.
        per_image: :attr:`seglib.metrics.Evaluation.per_image`. image_size: ``S``.
        k: rows. by: column to rank by (lowest first).

    Returns:
        The matplotlib figure.
    """
    import tensorflow as tf

    worst = per_image[by].sort_values().index[:k]
    fig, axes = plt.subplots(len(worst), 4, figsize=(12, 2.8 * len(worst)), squeeze=False)
    headers = [
        "photo + true trimap",
        "prediction",
        "P(pet): black 0, white 1",
        "confidence: black 1/3, white 1",
    ]
    for row, index in enumerate(worst):
        image, trimap = photos[int(index)]
        image = np.asarray(image)
        logits = predict_full_resolution(model, image, image_size)
        prob = tf.nn.softmax(logits, axis=-1).numpy()
        truth = np.asarray(trimap)[..., 0].astype(np.int64) - 1
        panels = [overlay(image, truth), overlay(image, prob.argmax(-1))]
        for j, panel in enumerate(panels):
            axes[row, j].imshow(panel)
        axes[row, 2].imshow(prob[..., 0], cmap="gray", vmin=0, vmax=1)
        axes[row, 3].imshow(prob.max(-1), cmap="gray", vmin=1 / prob.shape[-1], vmax=1)
        for j in range(4):
            axes[row, j].set_xticks([])
            axes[row, j].set_yticks([])
            if row == 0:
                axes[row, j].set_title(headers[j])
        axes[row, 0].set_ylabel(
            f"#{int(index)}  {METRIC_LABELS.get(by, by)} {per_image.loc[index, by]:.2f}"
        )
    add_legend(fig)
    scores = _rows([f"#{int(i)} {per_image.loc[i, by]:.2f}" for i in worst], limit=len(worst))
    set_alt_text(
        fig,
        f"error analysis of the {len(worst)} test photos with the lowest "
        f"{METRIC_LABELS.get(by, by)} ({scores}); each row: photo with true trimap, "
        f"prediction, probability of pet, confidence; mask colours {COLOR_WORDS}",
    )
    return fig


def plot_reliability(calibrations: dict, curves=None, suptitle=None):
    """Reliability diagrams: one panel per curve, one line per calibration, and the diagonal.

    A point is one equal-width bin: its mean score (x) against how often its pixels were
    right (y; for a class, the share of its pixels that are of that class). A calibrated
    model lies on the diagonal; points below it are over-confident. Marker area grows with
    the bin's share of pixels (most pixels sit in the first and last bins).

    Args:
        calibrations: ``{label: seglib.calibration.Calibration}``, e.g. ``{"T = 1": before,
            "T = 1.6": after}``, measured with the same bins.
        curves: curve names to draw (default: every class, then ``overall``).
        suptitle: figure title, or None.

    Returns:
        The matplotlib figure. Each panel's title gives the ECE of every calibration.

    Raises:
        ValueError: no calibrations, or a curve name they do not have.
    """
    if not calibrations:
        raise ValueError("plot_reliability needs at least one Calibration")
    first = next(iter(calibrations.values()))
    curves = list(first.curves if curves is None else curves)
    unknown = [c for c in curves if c not in first.curves]
    if unknown:
        raise ValueError(f"unknown curves {unknown}; these exist: {list(first.curves)}")
    fig, axes = plt.subplots(1, len(curves), figsize=(3.2 * len(curves), 3.6), squeeze=False)
    styles = ["o-", "s--", "^:", "d-."]
    panel_alt = {}
    for ax, curve in zip(axes[0], curves, strict=True):
        ax.plot([0, 1], [0, 1], color="0.6", linewidth=1, label="calibrated")
        color = CLASS_COLORS[CLASS_NAMES.index(curve)] if curve in CLASS_NAMES else (0, 0, 0)
        eces = []
        for k, (label, calibration) in enumerate(calibrations.items()):
            table = calibration.reliability()
            rows = table[(table["curve"] == curve) & (table["count"] > 0)]
            ax.plot(
                rows["confidence"],
                rows["accuracy"],
                styles[k % len(styles)],
                color=color,
                alpha=1.0 if k == 0 else 0.6,
                markersize=3,
                label=label,
            )
            ax.scatter(
                rows["confidence"], rows["accuracy"], s=300 * rows["share"], color=color, alpha=0.3
            )
            eces.append(f"{label}: ECE {calibration.ece()[curve]:.3f}")
        ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal")
        what = (
            "probability of the predicted class"
            if curve not in CLASS_NAMES
            else (f"probability of {curve}")
        )
        ax.set_xlabel(what, fontsize=8)
        ax.set_ylabel(
            "share right" if curve not in CLASS_NAMES else f"share that is {curve}", fontsize=8
        )
        ax.set_title(f"{curve}\n" + "\n".join(eces), fontsize=8)
        ax.legend(fontsize=7, loc="upper left")
        panel_alt[curve] = "; ".join(eces)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    bins = first.n_bins
    set_alt_text(
        fig,
        f"reliability diagrams with {bins} equal-width bins for {_rows(curves)}, each "
        f"comparing {_rows(list(calibrations))} with the diagonal; "
        + "; ".join(f"{c}: {t}" for c, t in panel_alt.items()),
    )
    return fig


def show_unsure_and_wrong(images, unsure, wrong, titles=None, suptitle=None):
    """Where the model is unsure, beside where it is wrong: one row per photo.

    Left: the photo with its unsure pixels painted yellow. Right: the photo with its wrong
    pixels painted red. When the two paintings look alike, the uncertainty map points at
    the errors.

    Args:
        images: uint8 ``[H, W, 3]`` photos (or floats in [0, 1]); sizes may differ.
        unsure, wrong: bool ``[H, W]`` per photo, the same sizes as the photos.
        titles: one label per photo (e.g. its test index), or None.
        suptitle: figure title, or None.

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: the three lists differ in length, or a map's shape differs from its photo.
    """
    if not (len(images) == len(unsure) == len(wrong)) or not len(images):
        raise ValueError(
            "show_unsure_and_wrong needs as many unsure and wrong maps as photos (at least 1)"
        )
    fig, axes = plt.subplots(len(images), 2, figsize=(8, 3.2 * len(images)), squeeze=False)
    rows = []
    for i, (image, u, w) in enumerate(zip(images, unsure, wrong, strict=True)):
        image = np.asarray(image, dtype=np.float32)
        image = image / 255.0 if image.max() > 1.0 else image
        u, w = np.asarray(u, dtype=bool), np.asarray(w, dtype=bool)
        if u.shape != image.shape[:2] or w.shape != image.shape[:2]:
            raise ValueError(f"photo {i}: maps {u.shape}, {w.shape} but photo {image.shape[:2]}")
        label = titles[i] if titles is not None else f"photo {i}"
        for j, (m, colour, name) in enumerate(
            [(u, UNSURE_COLOR, "unsure"), (w, (0.9, 0.1, 0.1), "wrong")]
        ):
            painted = np.where(m[..., None], 0.35 * image + 0.65 * np.array(colour), image)
            axes[i, j].imshow(painted)
            axes[i, j].set_title(f"{label}: {name} pixels ({m.mean():.0%})", fontsize=9)
            axes[i, j].axis("off")
        rows.append(f"{label}: {u.mean():.0%} unsure, {w.mean():.0%} wrong")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    set_alt_text(
        fig,
        f"{len(images)} photos, each shown twice: unsure pixels painted yellow, wrong pixels "
        "painted red; " + "; ".join(rows),
    )
    return fig


def plot_unet_sketch(depth: int, image_size: int, base_filters: int, ax=None):
    """Sketch of a U-Net's levels as the letter U (notebook 04), one box per level.

    The encoder (blue) halves the side and doubles the channels at every level, the bottom
    (grey) is the smallest map, the decoder (green) climbs back up; dashed arrows are the
    skip connections, each joining an encoder level to the decoder level of the same side.

    Args:
        depth: max-pool steps (``depth + 1`` levels). image_size: input side in pixels.
        base_filters: channels at the first level, doubled per level.

    Returns:
        The axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 1.1 * (depth + 1) + 0.8))
    arrow = {"arrowstyle": "->", "color": "0.2"}
    for level in range(depth + 1):
        side, filters = image_size // 2**level, base_filters * 2**level
        columns = [(level, "tab:blue")] + ([(2 * depth - level, "tab:green")] * (level < depth))
        for x, color in columns:
            color = "0.4" if level == depth else color
            ax.add_patch(plt.Rectangle((x - 0.42, -level - 0.3), 0.84, 0.6, color=color))
            ax.text(
                x, -level, f"{side}×{side}\n{filters} ch", ha="center", va="center", color="white"
            )
        if level < depth:
            right = 2 * depth - level
            dashed = {**arrow, "linestyle": "--"}
            ax.annotate("", (right - 0.45, -level), (level + 0.45, -level), arrowprops=dashed)
            ax.annotate("", (level + 1, -level - 0.72), (level, -level - 0.3), arrowprops=arrow)
            ax.annotate("", (right, -level - 0.3), (right - 1, -level - 0.72), arrowprops=arrow)
    ax.text(depth, 0.1, "skip connections: copy and concatenate", ha="center", va="bottom")
    ax.text(depth / 2 - 0.6, -depth / 2, "2×2 max-pool", ha="right", rotation=-38)
    ax.text(1.5 * depth + 0.6, -depth / 2, "2×2 up-convolution", ha="left", rotation=38)
    ax.set_xlim(-0.6, 2 * depth + 0.6)
    ax.set_ylim(-depth - 0.5, 0.6)
    ax.axis("off")
    ax.set_title(
        f"our U-Net at depth {depth}: encoder (blue), bottom (grey), decoder (green); "
        "each box is two 3×3 convolutions"
    )
    set_alt_text(
        ax,
        f"sketch of a U-Net with {depth + 1} levels as the letter U: the encoder goes down from "
        f"{image_size}×{image_size} px with {base_filters} channels to "
        f"{image_size // 2**depth}×{image_size // 2**depth} px with {base_filters * 2**depth} "
        "channels, the decoder climbs back up, and dashed skip connections join each encoder "
        "level to the decoder level of the same size",
    )
    return ax


def unet_blocks(input_shape=(128, 128, 3), depth: int = 4, base_filters: int = 16, **kwargs):
    """The U-Net of :func:`seglib.models.unet` regrouped for drawing: one box per level.

    Each level's two 3×3 convolutions (with BatchNorm and ReLU) become one nested model
    named ``down0`` ... ``bottom`` ... ``up0``, so :func:`plot_architecture` draws about
    ``5 · depth + 3`` boxes instead of every layer: readable at notebook width. The weights
    are the same in number and kind as ``models.unet`` with the same arguments (checked).

    Args:
        input_shape, depth, base_filters, kwargs (``batch_norm``, ``num_classes``,
            ``skip_connections``): as for :func:`seglib.models.unet`.

    Returns:
        An untrained ``keras.Model`` (for drawing; train ``models.unet`` itself).

    Raises:
        ValueError: the regrouped model's parameter count differs from ``models.unet``'s.
    """
    from seglib import models

    reference = models.unet(input_shape, depth=depth, base_filters=base_filters, **kwargs)
    batch_norm = kwargs.get("batch_norm", True)
    skip_connections = kwargs.get("skip_connections", True)

    def block(x, filters, name):
        inner = keras.Input(shape=x.shape[1:])
        out = models.conv_block(inner, filters, batch_norm, name=name)
        return keras.Model(inner, out, name=name)(x)

    inputs = keras.Input(shape=input_shape, name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = block(x, base_filters * 2**level, f"down{level}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = block(x, base_filters * 2**depth, "bottom")
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = keras.layers.Conv2DTranspose(filters, 2, strides=2, name=f"upconv{level}")(x)
        if skip_connections:
            x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = block(x, filters, f"up{level}")
    logits = keras.layers.Conv2D(kwargs.get("num_classes", 3), 1, name="logits")(x)
    model = keras.Model(inputs, logits, name=f"{reference.name}_blocks")
    if model.count_params() != reference.count_params():
        raise ValueError(
            f"regrouped U-Net has {model.count_params():,} parameters, "
            f"models.unet {reference.count_params():,}"
        )
    return model


enable_alt_text()


def show_epochs(image, mask, frames, columns: int = 5, suptitle=None):
    """One photo's predicted mask after several epochs, side by side (a strip).

    Panels: the photo, its true mask, then the prediction after up to ``columns`` of the
    recorded epochs, picked evenly from first to last (both always shown), each titled with
    its epoch and the share of the photo's pixels it labels right.

    Args:
        image: float ``[H, W, 3]`` in [0, 1]. mask: labels ``[H, W(, 1)]``.
        frames: ``[(epoch, predicted labels [H, W])]`` in training order, e.g.
            :attr:`DisplayCallback.frames` of a callback made with ``record=True``.
        columns: most prediction panels, at least 1.
        suptitle: a title over the figure.

    Returns:
        The matplotlib figure, with alt text naming the epochs and their shares.

    Raises:
        ValueError: ``frames`` is empty or ``columns`` below 1.
    """
    if not frames:
        raise ValueError("no frames to show: make the DisplayCallback with record=True and train")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    picks = np.unique(np.round(np.linspace(0, len(frames) - 1, min(columns, len(frames)))))
    shown = [frames[int(i)] for i in picks]
    truth = _labels(mask)
    height = 3.1 + (0.45 if suptitle else 0.0)
    fig, axes = plt.subplots(1, 2 + len(shown), figsize=(2.4 * (2 + len(shown)), height))
    panels = [(image, "input image"), (mask_to_rgb(truth), "true mask")]
    right = []
    for epoch, labels in shown:
        right.append(float(np.mean(_labels(labels) == truth)))
        panels.append((mask_to_rgb(labels), f"epoch {epoch}\n{right[-1]:.0%} pixels right"))
    for ax, (panel, title) in zip(axes, panels, strict=True):
        ax.imshow(np.clip(np.asarray(panel, dtype=np.float32), 0, 1))
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    add_legend(fig)
    if suptitle:  # above the two-line panel titles, which tight_layout alone would overlap
        fig.subplots_adjust(top=fig.subplotpars.top - 0.45 / height)
        fig.suptitle(suptitle)
    steps = ", ".join(f"epoch {e} {r:.0%}" for (e, _), r in zip(shown, right, strict=True))
    text = (
        "one photo, its true mask and its predicted mask after "
        f"{len(shown)} epoch{'s' if len(shown) != 1 else ''}, side by side; share of pixels "
        f"labelled right: {steps}"
    )
    set_alt_text(fig, f"{suptitle + ': ' if suptitle else ''}{text}; mask colours {COLOR_WORDS}")
    return fig
