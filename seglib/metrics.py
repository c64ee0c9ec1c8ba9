"""Scoring segmentations: pixel accuracy, per-class IoU, mean IoU, Dice, confusion matrix.

All scores come from one confusion matrix ``C`` with ``C[t, p]`` = number of pixels of
true class ``t`` predicted as ``p``:

* pixel accuracy = ``trace(C) / sum(C)``;
* IoU of class k (Jaccard index) = ``C[k,k] / (row_k + col_k - C[k,k])``;
* mean IoU (mIoU) = mean of the per-class IoUs (classes absent from both truth and
  prediction are left out, as Keras' ``MeanIoU`` does);
* Dice (F1) of class k = ``2 C[k,k] / (row_k + col_k)``;
* precision = ``C[k,k] / col_k``, recall = ``C[k,k] / row_k``.

During training, :func:`keras_metrics` gives Keras' own metrics configured for logits.

Two ways to average over a test set, both reported by :func:`evaluate_photos`:

* **dataset-level** IoU sums one confusion matrix over all pixels of all photos, so a
  large pet counts more than a small one;
* **per-image** IoU scores each photo on its own and averages the photos, so every photo
  counts once; a few failed photos pull it down more. Its spread over photos is what
  :func:`paired_bootstrap` uses to tell a real difference between two models from noise.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from seglib.data import CLASS_NAMES, NUM_CLASSES
from seglib.errors import CalibrationError

import keras
import numpy as np
import pandas as pd


def keras_metrics(num_classes: int = NUM_CLASSES, class_names=CLASS_NAMES) -> list:
    """Keras metrics for a model that outputs logits ``[B, H, W, C]`` and sparse masks.

    Returns ``[pixel_accuracy, mean_iou, iou_<class>...]``. ``MeanIoU`` and ``IoU`` take
    ``sparse_y_pred=False`` so they argmax the logits themselves (without it they
    would read the logits as class ids).
    """
    metrics = [
        keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
        keras.metrics.MeanIoU(num_classes=num_classes, sparse_y_pred=False, name="mean_iou"),
    ]
    for k, name in enumerate(class_names[:num_classes]):
        metrics.append(
            keras.metrics.IoU(
                num_classes=num_classes,
                target_class_ids=[k],
                sparse_y_pred=False,
                name=f"iou_{name}",
            )
        )
    return metrics


def confusion_matrix(y_true, y_pred, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Confusion matrix of integer label arrays.

    Args:
        y_true, y_pred: int arrays of the same number of elements, labels in
            ``[0, num_classes)`` (any shape; ``[B, H, W, 1]`` and ``[B, H, W]`` mix fine).

    Returns:
        int64 ``[num_classes, num_classes]``, rows = true class, columns = predicted.

    Raises:
        ValueError: sizes differ or a label is out of range.
    """
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if y_true.size != y_pred.size:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    for label, what in ((y_true, "y_true"), (y_pred, "y_pred")):
        if label.size and (label.min() < 0 or label.max() >= num_classes):
            raise ValueError(f"{what} holds labels outside [0, {num_classes})")
    flat = y_true * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass
class Scores:
    """Scores derived from a confusion matrix (see module docstring for formulas).

    Attributes:
        confusion: int64 ``[C, C]``, rows true, columns predicted.
        class_names: names of the C classes.
    """

    confusion: np.ndarray
    class_names: tuple = CLASS_NAMES

    def _ratio(self, num, den):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.maximum(den, 1), np.nan)

    @property
    def iou(self) -> np.ndarray:
        """Per-class IoU, float ``[C]`` in [0, 1] (NaN for a class absent everywhere)."""
        tp = np.diag(self.confusion).astype(float)
        union = self.confusion.sum(0) + self.confusion.sum(1) - tp
        return self._ratio(tp, union)

    @property
    def dice(self) -> np.ndarray:
        """Per-class Dice (F1), float ``[C]``."""
        tp = np.diag(self.confusion).astype(float)
        return self._ratio(2 * tp, self.confusion.sum(0) + self.confusion.sum(1))

    @property
    def precision(self) -> np.ndarray:
        """Per-class precision, float ``[C]``."""
        return self._ratio(np.diag(self.confusion).astype(float), self.confusion.sum(0))

    @property
    def recall(self) -> np.ndarray:
        """Per-class recall, float ``[C]``."""
        return self._ratio(np.diag(self.confusion).astype(float), self.confusion.sum(1))

    @property
    def pixel_accuracy(self) -> float:
        """Share of pixels labelled correctly, in [0, 1]."""
        return float(np.trace(self.confusion) / max(self.confusion.sum(), 1))

    @property
    def mean_iou(self) -> float:
        """Mean of the per-class IoUs over classes that occur (mIoU)."""
        return float(np.nanmean(self.iou))

    @property
    def table(self) -> pd.DataFrame:
        """One row per class: IoU, Dice, precision, recall and share of true pixels."""
        share = self.confusion.sum(1) / max(self.confusion.sum(), 1)
        return pd.DataFrame(
            {
                "IoU": self.iou,
                "Dice": self.dice,
                "precision": self.precision,
                "recall": self.recall,
                "pixel share": share,
            },
            index=pd.Index(list(self.class_names), name="class"),
        )

    def summary(self) -> dict:
        """Flat dict: ``pixel_accuracy``, ``mean_iou`` and ``iou_<class>`` (floats)."""
        out = {"pixel_accuracy": self.pixel_accuracy, "mean_iou": self.mean_iou}
        out.update({f"iou_{n}": float(v) for n, v in zip(self.class_names, self.iou, strict=True)})
        return out

    def __repr__(self) -> str:
        return (
            f"pixel accuracy {self.pixel_accuracy:.3f}, mIoU {self.mean_iou:.3f}\n"
            f"{self.table.round(3).to_string()}"
        )


def predict_logits(model, images) -> np.ndarray:
    """Logits of one batch: float32 ``[B, H, W, C]`` for float32 images ``[B, H, W, 3]``.

    A Keras model is called directly, ``model(images, training=False)`` (BatchNorm in
    inference mode), not through ``predict_on_batch``: that builds a ``tf.function`` per
    model, and scoring several models in one notebook then makes TensorFlow warn about
    "retracing" although nothing is wrong. Any other object with a ``predict_on_batch``
    method (a LiteRT model from :mod:`seglib.export`) is called through that method.
    """
    if isinstance(model, keras.Model):
        return np.asarray(model(images, training=False))
    return np.asarray(model.predict_on_batch(images))


def evaluate(model, dataset, num_classes: int = NUM_CLASSES, class_names=CLASS_NAMES) -> Scores:
    """Score a model on a batched dataset of ``(image, mask)``.

    Args:
        model: maps ``[B, H, W, 3]`` to logits (or probabilities) ``[B, H, W, C]``.
        dataset: batches of images and masks ``[B, H, W, 1]`` with labels 0..C-1.

    Returns:
        :class:`Scores`; ``scores.table`` is the per-class table, ``scores.summary()``
        the headline numbers.
    """
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for images, masks in dataset:
        logits = predict_logits(model, images)
        confusion += confusion_matrix(masks, np.argmax(logits, axis=-1), num_classes)
    return Scores(confusion, tuple(class_names[:num_classes]))


PER_IMAGE_COLUMNS = ("pixel_accuracy", "mean_iou")


@dataclass
class Evaluation:
    """Scores of one model on a split, at the photos' original resolution.

    Attributes:
        scores: dataset-level :class:`Scores` (one confusion matrix over all pixels).
        per_image: one row per photo, in the split's order: ``pixel_accuracy``,
            ``mean_iou`` and ``iou_<class>`` (float in [0, 1]; NaN for a class absent from
            both the trimap and the prediction of that photo).
    """

    scores: Scores
    per_image: pd.DataFrame

    def summary(self) -> dict:
        """Dataset-level headline numbers plus ``per_image_mean_iou`` (the photos' mean)."""
        out = self.scores.summary()
        out["per_image_mean_iou"] = float(self.per_image["mean_iou"].mean())
        return out


def predict_full_resolution(model, image, image_size, antialias: bool = True) -> np.ndarray:
    """Logits of one photo at its own resolution: float32 ``[H, W, C]``.

    The photo is resized to the model's input (:func:`seglib.data.preprocess_image`), the
    logits come back at that size, and are resized **bilinearly** to ``H x W`` before the
    argmax, as :func:`seglib.inference.segment` does for a user's photo. Resizing logits
    rather than the predicted mask gives smooth, sub-pixel boundaries (FCN, Long et al. 2015,
    upsample class scores by interpolation).

    Args:
        model: Keras model (or LiteRT wrapper) mapping ``[1, S, S, 3]`` to ``[1, S, S, C]``.
        image: uint8 ``[H, W, 3]``. image_size: ``S`` or ``(height, width)``.
        antialias: see :func:`seglib.data.preprocess_image`.
    """
    return _logits_at_photo_sizes(model, [image], image_size, antialias)[0]


def _logits_at_photo_sizes(model, images, image_size, antialias) -> list[np.ndarray]:
    """Logits of several photos in one model call, each resized to its photo's ``[H, W]``."""
    from seglib.data import preprocess_image

    import tensorflow as tf

    batch = np.stack([preprocess_image(image, image_size, antialias=antialias) for image in images])
    logits = tf.convert_to_tensor(predict_logits(model, batch))
    return [
        tf.image.resize(one, (int(image.shape[0]), int(image.shape[1])), method="bilinear")[
            0
        ].numpy()
        for image, one in zip(images, tf.split(logits, len(images)), strict=True)
    ]


#: Label of the trimap's border ("not classified") class after ``trimap - 1``.
BORDER = 2
#: Class names of the two-class score that ignores the border (:func:`confusion_ignoring_border`).
TWO_CLASS_NAMES = ("pet", "background")


def confusion_ignoring_border(truth, scores, border: int = BORDER) -> np.ndarray:
    """Pet-vs-background confusion matrix with the trimap's border pixels left out.

    The Oxford-IIIT Pet trimap marks a band along each outline as "not classified"
    (label 3, here 2 after ``trimap - 1``): the annotators could not tell pet from
    background there. Treating such a band as *void* is the common convention: PASCAL VOC
    marks a 5-pixel "void" band along every object's boundary and leaves those pixels out of
    its scores (Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV
    2010); torchvision's segmentation reference scripts and mmsegmentation's ``IoUMetric``
    skip a label (``ignore_index=255``) the same way. Here:

    * pixels whose **true** label is ``border`` are not scored at all;
    * every other pixel is called pet or background by the larger of the model's **pet and
      background** scores (the border score is dropped: it does not count as a third answer).

    Args:
        truth: int array ``[...]`` of labels 0 pet, 1 background, 2 border (any shape).
        scores: float array ``[..., 3]`` (logits or probabilities; only their order per
            pixel matters) with ``truth``'s shape plus a class axis.
        border: the label to ignore (default :data:`BORDER`).

    Returns:
        int64 ``[2, 2]``: rows true (pet, background), columns predicted.

    Raises:
        ValueError: shapes that do not match, fewer than 3 classes in ``scores``, or a true
            label outside 0..2.
    """
    truth = np.asarray(truth).astype(np.int64)
    scores = np.asarray(scores)
    if scores.ndim < 1 or scores.shape[-1] < 3 or scores.shape[:-1] != truth.shape:
        raise ValueError(
            f"scores must have truth's shape {truth.shape} plus a class axis of 3, got "
            f"{scores.shape}"
        )
    if truth.size and (truth.min() < 0 or truth.max() > 2):
        raise ValueError(f"truth holds labels outside 0..2: {np.unique(truth)}")
    keep = truth != border
    predicted = np.argmax(scores[..., :2], axis=-1)  # pet (0) or background (1)
    return confusion_matrix(truth[keep], predicted[keep], num_classes=2)


def _photo_scores(model, image, image_size, antialias, tta):
    """Per-pixel class scores of one photo at its size: logits, or TTA-averaged probabilities."""
    if tta is None:
        return predict_full_resolution(model, image, image_size, antialias)
    from seglib.inference import predict_tta  # inference imports metrics: imported here

    size = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
    return predict_tta(model, image, size, tta)


def _predicted_photos(model, pairs, image_size, antialias, tta, batch_size):
    """Yield ``(trimap, scores)`` per photo, in the order of ``pairs``.

    Without TTA the photos go through the model ``batch_size`` at a time (they all have
    the model's input size once resized); each photo's logits are then resized to its own
    size. A Keras model called eagerly costs about the same per call for 1 photo or 16, so
    this is many times faster than one call per photo, with the same predictions.
    """
    if tta is not None:
        for image, trimap in pairs:
            image = np.asarray(image)
            yield np.asarray(trimap), _photo_scores(model, image, image_size, antialias, tta)
        return

    def predict(chunk):
        images = [image for image, _ in chunk]
        scores = _logits_at_photo_sizes(model, images, image_size, antialias)
        yield from zip((trimap for _, trimap in chunk), scores, strict=True)

    chunk = []
    for image, trimap in pairs:
        chunk.append((np.asarray(image), np.asarray(trimap)))
        if len(chunk) == batch_size:
            yield from predict(chunk)
            chunk = []
    if chunk:
        yield from predict(chunk)


def evaluate_photos(
    model,
    pairs,
    image_size: int | tuple[int, int],
    num_classes: int = NUM_CLASSES,
    class_names=CLASS_NAMES,
    antialias: bool = True,
    ignore_border: bool = False,
    tta=None,
    batch_size: int = 16,
) -> Evaluation:
    """Score a model on raw photos at their original resolution, overall and per photo.

    This is the course's one scoring protocol: every model, whatever its input size, is
    judged against the same full-resolution trimaps (a 128 px and a 160 px model are
    compared on identical ground truth; shrinking the trimap instead would thin out the
    border class differently for each).

    Args:
        model: see :func:`predict_full_resolution` (with ``tta``: a Keras model).
        pairs: unbatched raw pairs ``(uint8 [H, W, 3], uint8 [H, W, 1] trimap 1..3)`` from
            :func:`seglib.data.load` (or any iterable of such arrays).
        image_size: the model's input side ``S`` or ``(height, width)``.
        antialias: False scores photos shrunk without antialiasing (robustness check).
        ignore_border: True scores **pet vs background only**, the trimap's border
            ("not classified") pixels left out and each other pixel called by the larger
            of its pet and background scores (:func:`confusion_ignoring_border`); the
            scores then have the classes :data:`TWO_CLASS_NAMES`.
        tta: None (the default) predicts once; True or a
            :class:`seglib.inference.TTA` averages the probabilities of flipped and
            rescaled copies of each photo (:func:`seglib.inference.predict_tta`, about
            ``tta.forward_passes`` times the time) and scores their argmax.
        batch_size: photos resized and predicted in one call (without ``tta``); only the
            speed and memory change, not the scores (each photo's logits are resized to
            its own size, as :func:`predict_full_resolution` does).

    Returns:
        :class:`Evaluation`.

    Raises:
        ValueError: a trimap holds a value outside 1..num_classes; ``ignore_border`` with
            a model of other than 3 classes; ``tta`` with ``antialias=False``;
            ``batch_size`` not a whole number >= 1.
        CalibrationError: a bad ``tta`` (see :class:`seglib.inference.TTA`).
    """
    if (
        not isinstance(batch_size, int | np.integer)
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    if ignore_border and num_classes != NUM_CLASSES:
        raise ValueError(f"ignore_border needs the 3 trimap classes, got num_classes={num_classes}")
    if tta is False:
        tta = None
    if tta is not None and not antialias:  # refused before any photo is predicted
        raise ValueError("tta= scores antialiased photos only; leave antialias=True")
    names = TWO_CLASS_NAMES if ignore_border else tuple(class_names[:num_classes])
    confusion = np.zeros((len(names), len(names)), dtype=np.int64)
    rows = []
    for trimap, scores in _predicted_photos(model, pairs, image_size, antialias, tta, batch_size):
        truth = trimap[..., 0].astype(np.int64) - 1
        if truth.min() < 0 or truth.max() >= num_classes:
            raise ValueError(f"trimap values must be 1..{num_classes}, got {np.unique(trimap)}")
        if ignore_border:
            counts = confusion_ignoring_border(truth, scores)
        else:
            counts = confusion_matrix(truth, np.argmax(scores, -1), num_classes)
        photo = Scores(counts, names)
        confusion += photo.confusion
        rows.append(photo.summary())
    columns = list(PER_IMAGE_COLUMNS) + [f"iou_{n}" for n in names]
    return Evaluation(Scores(confusion, names), pd.DataFrame(rows, columns=columns))


SCOPE = "on these test photos, for this training run"
"""What a paired bootstrap over test photos covers: the photos, not the training seed."""

ROUNDS_TO_ZERO = 0.0005
"""A mean difference below this prints as +0.000 and is never called a win."""


def bonferroni(confidence: float = 0.95, comparisons: int = 1) -> float:
    """Confidence level per interval so that ``comparisons`` intervals hold together.

    With k intervals at 95% each, about 0.05·k of them miss the true difference by
    chance alone (ten comparisons: one miss expected). Bonferroni's correction asks
    each interval for ``1 - (1 - confidence) / k``, so that the chance that *any* of
    them misses stays at most ``1 - confidence``. Pass the result to
    :func:`paired_bootstrap` as ``confidence``; the intervals get wider.

    Args:
        confidence: family-wise coverage wanted, in (0, 1).
        comparisons: number of intervals read together, an int >= 1.

    Returns:
        Per-interval confidence in [confidence, 1), e.g. ``bonferroni(0.95, 10) = 0.995``.

    Raises:
        ValueError: confidence outside (0, 1) or comparisons below 1.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if int(comparisons) != comparisons or comparisons < 1:
        raise ValueError(f"comparisons must be a whole number >= 1, got {comparisons}")
    return 1 - (1 - confidence) / int(comparisons)


def multiple_comparisons_note(comparisons: int, confidence: float = 0.95) -> str:
    """One Markdown sentence on what reading ``comparisons`` intervals at once does.

    States how many intervals are expected to miss by chance and the Bonferroni level
    (:func:`bonferroni`) that would keep the family at ``confidence``.
    """
    level = bonferroni(confidence, comparisons)
    expected = (1 - confidence) * comparisons
    return (
        f"These are {comparisons} comparisons, each with a {confidence:.0%} interval: even if "
        f"no difference were real, about {expected:.1f} of them would exclude zero by chance "
        f"({1 - confidence:.2f} × {comparisons}). To keep the chance of any false winner at "
        f"{1 - confidence:.0%}, ask each interval for {level:.1%} confidence "
        f"(`metrics.bonferroni({confidence}, {comparisons})`, passed to "
        "`paired_bootstrap(..., confidence=...)`): the intervals widen, and only the "
        "winners that survive that are safe to quote together."
    )


@dataclass
class Difference:
    """A paired difference with its bootstrap confidence interval.

    Attributes:
        mean: mean over photos of ``a - b``. low, high: ends of the interval.
        confidence: e.g. 0.95. n: photos compared.
    """

    mean: float
    low: float
    high: float
    confidence: float
    n: int

    def summary(self) -> dict:
        """``difference``, ``ci_low``, ``ci_high`` and ``photos``, for :func:`report`."""
        return {"difference": self.mean, "ci_low": self.low, "ci_high": self.high, "photos": self.n}

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    @property
    def above_noise(self) -> bool:
        """The course's one rule for "is this difference real?".

        True when the interval excludes zero **and** the mean difference shows at the
        three decimals the course prints (``|mean| >= 0.0005``): a difference that rounds
        to +0.000 is not called a win even when its interval is a hair away from zero.
        """
        return self.excludes_zero and abs(self.mean) >= ROUNDS_TO_ZERO

    def verdict(self, a: str, b: str, what: str = "per-image mIoU", scope: str = SCOPE) -> str:
        """The course's one wording for "is this difference real?", as a Markdown sentence.

        Names a winner only when :attr:`above_noise`; otherwise says the two are within
        noise. The sentence says what it covers (``scope``): the interval resamples the
        test photos, not the training run, so it says nothing about another seed.

        Args:
            a, b: names of the two things compared; the difference is ``a - b``.
            what: the score compared, e.g. ``"per-image mIoU"``.
            scope: what the interval covers, e.g. ``"on these test photos, for this
                training run"`` (the default) or ``"on these validation photos"``.

        Returns:
            One sentence ending with a full stop, e.g. ``"On these test photos, for this
            training run, the difference in per-image mIoU favours **fine-tuned** over
            frozen: fine-tuned − frozen = +0.021 (95% CI +0.012 to +0.030, 298 photos)."``
        """
        formula = f"{a} − {b} = {self}"
        lead = scope[:1].upper() + scope[1:]
        if self.above_noise:
            better, worse = (a, b) if self.mean > 0 else (b, a)
            return f"{lead}, the difference in {what} favours **{better}** over {worse}: {formula}."
        if self.excludes_zero:
            return f"{lead}, {a} and {b} score the same on {what} to three decimals: {formula}."
        return (
            f"{lead}, {a} and {b} are **within noise** on {what}: {formula}; the interval "
            "includes zero, so these photos cannot rank them."
        )

    def __str__(self) -> str:
        return (
            f"{self.mean:+.3f} ({self.confidence:.0%} CI {self.low:+.3f} to {self.high:+.3f}, "
            f"{self.n} photos)"
        )


def paired_bootstrap(
    a, b, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> Difference:
    """Paired bootstrap confidence interval of ``mean(a - b)`` over the same photos.

    Resamples photos with replacement, keeping each photo's two scores together (paired:
    both models saw the same photo, so the photo's difficulty cancels out). If the interval
    excludes zero, another test set like this one would very likely rank the two the same
    way; otherwise the difference is within noise. (Efron & Tibshirani, *An Introduction to
    the Bootstrap*, 1993; computed with ``scipy.stats.bootstrap`` on the per-photo
    differences, percentile method.)

    Args:
        a, b: per-photo scores of two models, float arrays ``[N]`` in the same photo order
            (e.g. ``Evaluation.per_image["iou_pet"]``). Photos where either is NaN are
            left out.
        confidence: coverage of the interval, in (0, 1).
        n_resamples: bootstrap resamples. seed: resampling seed (the interval repeats).

    Returns:
        :class:`Difference` with ``a - b``: positive means ``a`` scores higher.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, or fewer than 2 photos remain.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D and paired, got shapes {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = a[keep] - b[keep]
    if diff.size < 2:
        raise ValueError(f"need at least 2 photos scored by both, got {diff.size}")
    if np.all(diff == diff[0]):  # no spread: every resample gives the same mean
        return Difference(float(diff[0]), float(diff[0]), float(diff[0]), confidence, diff.size)
    result = stats.bootstrap(
        (diff,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Difference(float(diff.mean()), float(low), float(high), confidence, diff.size)


def _plain(value):
    """NumPy scalars -> Python numbers, so the row can be written as JSON."""
    return value.item() if isinstance(value, np.generic) else value


def report(results: dict) -> pd.DataFrame:
    """Tabulate headline test scores of one or more models, and record them for ``make run``.

    Args:
        results: ``{label: Scores or Evaluation}``, e.g. ``{"frozen encoder": e1,
            "fine-tuned": e2}`` (an :class:`Evaluation` adds ``per_image_mean_iou``; a
            :class:`Difference` gives its interval, e.g. ``{"fine-tuned - frozen": d}``); a
            value may also be a flat dict of numbers (e.g. ``{"size_mib": 6.4,
            "ms_1_thread": 31.2}``), for figures that are not scores (notebook 08's
            export targets).

    Returns:
        DataFrame, one row per label: pixel accuracy, mIoU and per-class IoU (or the
        dict's keys).

    When ``SEGLIB_METRICS_FILE`` is set (``python -m seglib.runner`` sets it), the rows
    are also written there as JSON so the runner can print them in its summary.
    """
    rows = {
        label: (dict(s) if isinstance(s, dict) else s.summary()) for label, s in results.items()
    }
    rows = {label: {k: _plain(v) for k, v in row.items()} for label, row in rows.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")  # keeps whole counts as ints
    path = os.environ.get("SEGLIB_METRICS_FILE")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
        previous.update(rows)
        Path(path).write_text(json.dumps(previous, indent=2))
    return table


# ---------------------------------------------------------------------------
# Calibration: expected calibration error, reliability diagrams, temperature scaling
# ---------------------------------------------------------------------------

#: Equal-width confidence bins used by default: 15, as in Guo et al. (2017).
DEFAULT_CALIBRATION_BINS = 15
#: Name of the top-label curve ("overall") in :class:`Calibration` tables.
OVERALL = "overall"
_CHUNK_PIXELS = 1 << 20  # pixels per step when a loss runs over many photos (memory bound)


def check_temperature(temperature, what: str = "temperature") -> float:
    """``temperature`` as a float, checked: a finite number above 0.

    Raises:
        CalibrationError: not a number, NaN, infinite, 0 or negative (names ``what``).
    """
    try:
        value = float(temperature)
    except (TypeError, ValueError) as e:
        raise CalibrationError(f"{what} must be a number above 0, got {temperature!r}") from e
    if not np.isfinite(value) or value <= 0:
        raise CalibrationError(f"{what} must be a finite number above 0, got {value!r}")
    return value


def calibrated_probabilities(logits, temperature: float = 1.0) -> np.ndarray:
    """Temperature-scaled softmax: ``softmax(logits / T)`` over the last axis.

    ``T > 1`` softens the probabilities (less confident), ``T < 1`` sharpens them, ``T = 1``
    is the plain softmax. The argmax, and so the mask, is the same for every ``T > 0``.

    Args:
        logits: float ``[..., C]``. temperature: ``T``, a finite number above 0.

    Returns:
        float32 ``[..., C]`` in [0, 1], summing to 1 over the last axis.

    Raises:
        CalibrationError: a bad temperature (see :func:`check_temperature`).
    """
    scaled = np.asarray(logits, dtype=np.float32) / np.float32(check_temperature(temperature))
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)


def _labels_and_scores(probabilities, labels, label_what="labels"):
    """Checked float64 ``[P, C]`` probabilities and int64 ``[P]`` labels of one photo."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    if p.ndim < 1 or p.shape[-1] < 2:
        raise ValueError(f"probabilities must be [..., C] with C >= 2 classes, got {p.shape}")
    if y.ndim == p.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != p.shape[:-1]:
        raise ValueError(
            f"{label_what} have shape {y.shape} but the probabilities {p.shape}: expected "
            f"{label_what} {p.shape[:-1]}"
        )
    num_classes = p.shape[-1]
    p, y = p.reshape(-1, num_classes), y.reshape(-1).astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{label_what} hold values outside [0, {num_classes})")
    if not np.isfinite(p).all():
        raise ValueError("probabilities hold NaN or infinite values")
    if p.size and (p.min() < -1e-6 or p.max() > 1 + 1e-6):
        raise ValueError(
            f"probabilities must lie in [0, 1] (softmax output, not logits), got "
            f"{p.min():g}..{p.max():g}"
        )
    return np.clip(p, 0.0, 1.0), y


def calibration_counts(probabilities, labels, n_bins: int = DEFAULT_CALIBRATION_BINS):
    """Bin statistics of one photo (or any set of pixels) for :class:`Calibration`.

    There are ``C + 1`` curves. Curve ``k < C`` is class ``k`` **one-vs-rest**: every
    pixel's probability of ``k`` is binned, and a "hit" is a pixel whose true class is ``k``.
    Curve ``C`` is the **top label**: the probability of the predicted class (the
    confidence), and a hit is a pixel predicted right. Bins are equal-width: bin ``b`` holds
    scores ``b / n_bins <= s < (b + 1) / n_bins`` (the last one includes 1).

    Args:
        probabilities: float ``[..., C]`` in [0, 1] (softmax output).
        labels: int ``[...]`` or ``[..., 1]``, true classes ``0..C-1``.
        n_bins: number of bins, >= 1.

    Returns:
        ``(counts, score_sums, hit_sums)``, each float64 ``[C + 1, n_bins]``: pixels, sum of
        their scores and number of hits per curve and bin.

    Raises:
        ValueError: shapes differ, labels out of range, probabilities outside [0, 1] or
            not finite, ``n_bins < 1``.
    """
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a whole number >= 1, got {n_bins!r}")
    n_bins = int(n_bins)
    p, y = _labels_and_scores(probabilities, labels)
    num_classes = p.shape[1]
    predicted = p.argmax(axis=1)
    scores = [p[:, k] for k in range(num_classes)] + [p.max(axis=1)]
    hits = [(y == k) for k in range(num_classes)] + [predicted == y]
    shape = (num_classes + 1, n_bins)
    counts, score_sums, hit_sums = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for curve, (score, hit) in enumerate(zip(scores, hits, strict=True)):
        bins = np.minimum((score * n_bins).astype(np.int64), n_bins - 1)
        counts[curve] = np.bincount(bins, minlength=n_bins)
        score_sums[curve] = np.bincount(bins, weights=score, minlength=n_bins)
        hit_sums[curve] = np.bincount(bins, weights=hit.astype(np.float64), minlength=n_bins)
    return counts, score_sums, hit_sums


def _ece_from_sums(counts, score_sums, hit_sums) -> np.ndarray:
    """ECE per curve from bin sums ``[..., curves, bins]``: ``sum_b |hits_b - scores_b| / N``.

    (``sum_b (n_b / N) |accuracy_b - confidence_b|`` with ``accuracy_b = hits_b / n_b`` and
    ``confidence_b = scores_b / n_b``; an empty bin adds nothing.)
    """
    total = counts.sum(axis=-1)
    gap = np.abs(hit_sums - score_sums).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, gap / np.maximum(total, 1), np.nan)


def _bootstrap_over_photos(statistic, n: int, confidence: float, n_resamples: int, seed: int):
    """Percentile bootstrap interval of ``statistic(weights)`` over photos.

    ``statistic`` takes float ``[R, n]`` photo weights (how often each photo is drawn in
    each of R resamples) and returns ``[R, K]``. The resampling is ``scipy.stats.bootstrap``
    over photo indices, percentile method, as in :func:`paired_bootstrap`.
    """
    from scipy import stats

    def on_indices(indices, axis=-1):
        indices = np.moveaxis(np.asarray(indices, dtype=np.int64), axis, -1)
        rows = indices.reshape(-1, n)
        offsets = (np.arange(rows.shape[0]) * n)[:, None]
        weights = np.bincount((rows + offsets).ravel(), minlength=rows.shape[0] * n)
        values = statistic(weights.reshape(rows.shape[0], n).astype(np.float64))  # [R, K]
        return np.moveaxis(values.reshape(indices.shape[:-1] + values.shape[-1:]), -1, 0)

    result = stats.bootstrap(
        (np.arange(n),),
        on_indices,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return np.atleast_1d(low), np.atleast_1d(high)


@dataclass
class Calibration:
    """How well a model's probabilities match how often it is right, photo by photo.

    Built with :meth:`from_photos` from each photo's probabilities and true labels. Keeps
    the bin statistics of every photo (a few numbers each), so an interval can resample
    photos, as :func:`paired_bootstrap` does for IoU.

    **Expected calibration error** (ECE; Naeini et al., AAAI 2015; Guo et al., "On
    Calibration of Modern Neural Networks", ICML 2017): sort the pixels into equal-width
    bins by score, and average ``|accuracy - confidence|`` over the bins weighted by their
    share of pixels: ``ECE = sum_b (n_b / N) |acc_b - conf_b|``, between 0 (calibrated)
    and 1. Pixels of all photos are pooled (a large photo counts more), as in the
    dataset-level IoU. Two kinds of curve:

    * ``overall`` is the **top label**, Guo et al.'s ECE: the probability of the predicted
      class against whether the prediction is right. This is the confidence that the mask
      and the uncertainty map of :func:`seglib.inference.segment` use.
    * each class is **one-vs-rest** ("classwise" ECE, Kull et al., NeurIPS 2019): every
      pixel's probability of that class against whether the pixel is of that class. Unlike
      the top label restricted to one class (pixels predicted as that class only, scores
      above 1/C), it covers every pixel and the whole range of the class's probability,
      e.g. a 30 % border probability, which is what a soft cut-out uses. Most pixels have a
      probability near 0 for a class and are right about it, so a class's ECE is usually
      smaller than the top-label ECE: compare classes with classes.

    Attributes:
        counts, score_sums, hit_sums: float64 ``[N, C + 1, B]``: per photo, curve (the C
            classes, then ``overall``) and bin, the pixels, the sum of their scores and
            the number of hits (see :func:`calibration_counts`).
        class_names: the C class names.
    """

    counts: np.ndarray
    score_sums: np.ndarray
    hit_sums: np.ndarray
    class_names: tuple = CLASS_NAMES

    @classmethod
    def from_photos(
        cls, pairs, n_bins: int = DEFAULT_CALIBRATION_BINS, class_names=CLASS_NAMES
    ) -> Calibration:
        """Collect the bin statistics of ``(probabilities, labels)`` pairs, one per photo.

        Args:
            pairs: iterable of ``(float [H, W, C] in [0, 1], int [H, W] or [H, W, 1]
                labels 0..C-1)``; photos may differ in size. Only one photo is held at a
                time, so a generator keeps the memory of one photo.
            n_bins: equal-width bins (default :data:`DEFAULT_CALIBRATION_BINS`).
            class_names: names of the C classes.

        Raises:
            ValueError: no photos, or a photo fails :func:`calibration_counts`' checks
                (the message gives the photo's position), or its class count differs.
        """
        stats = []
        for i, (probabilities, labels) in enumerate(pairs):
            try:
                stats.append(calibration_counts(probabilities, labels, n_bins))
            except ValueError as e:
                raise ValueError(f"photo {i}: {e}") from e
            classes = stats[-1][0].shape[0] - 1
            if classes > len(class_names):
                raise ValueError(f"photo {i}: {classes} classes but {len(class_names)} names")
            if stats[-1][0].shape != stats[0][0].shape:
                raise ValueError(
                    f"photo {i} has {classes} classes and {stats[-1][0].shape[1]} bins, "
                    f"photo 0 {stats[0][0].shape[0] - 1} and {stats[0][0].shape[1]}"
                )
        if not stats:
            raise ValueError("no photos to measure calibration on")
        counts, score_sums, hit_sums = (np.stack(s) for s in zip(*stats, strict=True))
        return cls(counts, score_sums, hit_sums, tuple(class_names[: counts.shape[1] - 1]))

    @property
    def n_bins(self) -> int:
        """Number of equal-width bins."""
        return int(self.counts.shape[-1])

    @property
    def n_photos(self) -> int:
        """Number of photos measured."""
        return int(self.counts.shape[0])

    @property
    def curves(self) -> tuple:
        """Curve names: the classes (one-vs-rest), then :data:`OVERALL` (top label)."""
        return tuple(self.class_names) + (OVERALL,)

    def _ece(self, weights=None) -> np.ndarray:
        """ECE per curve ``[C + 1]``; with photo weights ``[R, N]``, ``[R, C + 1]``."""
        sums = (self.counts, self.score_sums, self.hit_sums)
        if weights is None:
            return _ece_from_sums(*(s.sum(axis=0) for s in sums))
        shape = (weights.shape[0],) + self.counts.shape[1:]
        pooled = [(weights @ s.reshape(self.n_photos, -1)).reshape(shape) for s in sums]
        return _ece_from_sums(*pooled)

    def ece(self) -> pd.Series:
        """Expected calibration error per class (one-vs-rest) and ``overall`` (top label),
        float in [0, 1], indexed by :attr:`curves`."""
        return pd.Series(self._ece(), index=pd.Index(self.curves, name="curve"), name="ECE")

    def summary(self) -> dict:
        """``ece_<class>`` and ``ece_overall`` (floats), for :func:`report`."""
        return {f"ece_{name}": float(v) for name, v in self.ece().items()}

    def reliability(self) -> pd.DataFrame:
        """The data of a reliability diagram: one row per curve and bin.

        Columns: ``curve``, ``bin_low``, ``bin_high`` (the bin's score range), ``confidence``
        (mean score of its pixels), ``accuracy`` (share of hits: for a class, the share of
        its pixels that are of that class; for ``overall``, the share predicted right),
        ``count`` (pixels, int) and ``share`` (of all pixels). Empty bins have NaN
        confidence and accuracy. A calibrated model has ``accuracy == confidence``.
        """
        counts, scores, hits = (
            s.sum(axis=0) for s in (self.counts, self.score_sums, self.hit_sums)
        )
        edges = np.linspace(0.0, 1.0, self.n_bins + 1)
        rows = []
        for c, curve in enumerate(self.curves):
            total = max(counts[c].sum(), 1)
            for b in range(self.n_bins):
                n = counts[c, b]
                rows.append(
                    {
                        "curve": curve,
                        "bin_low": edges[b],
                        "bin_high": edges[b + 1],
                        "confidence": scores[c, b] / n if n else np.nan,
                        "accuracy": hits[c, b] / n if n else np.nan,
                        "count": int(n),
                        "share": n / total,
                    }
                )
        return pd.DataFrame(rows)

    def ece_interval(
        self, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
    ) -> pd.DataFrame:
        """ECE per curve with a bootstrap confidence interval over photos.

        Photos are resampled with replacement (their pixels stay together: neighbouring
        pixels are not independent) and the ECE recomputed from the pooled bins of each
        resample; percentile interval via ``scipy.stats.bootstrap``, as
        :func:`paired_bootstrap`.

        Returns:
            DataFrame indexed by :attr:`curves`: ``ece``, ``ci_low``, ``ci_high``,
            ``photos``.

        Raises:
            ValueError: fewer than 2 photos.
        """
        if self.n_photos < 2:
            raise ValueError(f"need at least 2 photos for an interval, got {self.n_photos}")
        low, high = _bootstrap_over_photos(self._ece, self.n_photos, confidence, n_resamples, seed)
        table = pd.DataFrame(
            {"ece": self._ece(), "ci_low": low, "ci_high": high},
            index=pd.Index(self.curves, name="curve"),
        )
        table["photos"] = self.n_photos
        return table

    def ece_difference(
        self, other: Calibration, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
    ) -> dict:
        """Paired bootstrap interval of ``ECE(self) - ECE(other)`` on the same photos.

        E.g. before minus after temperature scaling: a positive difference whose interval
        excludes zero means the temperature lowered the ECE on these photos. Both are
        resampled with the same photos (paired, as :func:`paired_bootstrap`).

        Returns:
            ``{curve: Difference}`` for every curve; ``Difference.mean`` is the difference
            of the two ECEs on all photos.

        Raises:
            ValueError: the two were not measured on the same number of photos, bins and
                classes, or on fewer than 2 photos.
        """
        if self.counts.shape != other.counts.shape:
            raise ValueError(
                f"not paired: {self.counts.shape} vs {other.counts.shape} "
                "(photos, curves, bins); measure both on the same photos and bins"
            )
        if self.n_photos < 2:
            raise ValueError(f"need at least 2 photos for an interval, got {self.n_photos}")

        def statistic(weights):
            return self._ece(weights) - other._ece(weights)

        low, high = _bootstrap_over_photos(statistic, self.n_photos, confidence, n_resamples, seed)
        diff = self._ece() - other._ece()
        return {
            curve: Difference(float(d), float(lo), float(hi), confidence, self.n_photos)
            for curve, d, lo, hi in zip(self.curves, diff, low, high, strict=True)
        }


def expected_calibration_error(
    probabilities, labels, n_bins: int = DEFAULT_CALIBRATION_BINS, class_names=CLASS_NAMES
) -> pd.Series:
    """ECE of one set of pixels, per class (one-vs-rest) and ``overall`` (top label).

    A shortcut for ``Calibration.from_photos([(probabilities, labels)], n_bins).ece()``;
    see :class:`Calibration` for the definitions.

    Args:
        probabilities: float ``[..., C]`` in [0, 1]. labels: int ``[...]``, ``0..C-1``.
        n_bins: equal-width bins.

    Returns:
        float Series in [0, 1] indexed by the class names and ``overall``.
    """
    return Calibration.from_photos([(probabilities, labels)], n_bins, class_names).ece()


def _flat_logits_and_labels(logits, labels, pixels_per_photo, seed):
    """Per-photo float32 ``[n_i, C]`` logits and int64 ``[n_i]`` labels, sampled if asked."""
    single = isinstance(logits, np.ndarray) or hasattr(logits, "numpy")
    if single and np.ndim(logits) == 4:  # a batch [N, H, W, C]: N photos
        single, logits = False, np.asarray(logits)
        labels = np.asarray(labels)
        if labels.shape[:1] != logits.shape[:1]:
            raise CalibrationError(
                f"logits {logits.shape} and labels {labels.shape} hold different numbers of photos"
            )
    if single:
        photos = [(logits, labels)]
    else:
        logits, labels = list(logits), list(labels)
        if len(logits) != len(labels):
            raise CalibrationError(
                f"{len(logits)} photos of logits but {len(labels)} of labels: they must pair up"
            )
        photos = list(zip(logits, labels, strict=True))
    rng = np.random.default_rng(seed)
    out = []
    for i, (z, y) in enumerate(photos):
        z = np.asarray(z, dtype=np.float32)
        y = np.asarray(y)
        if y.ndim == z.ndim and y.shape[-1] == 1:
            y = y[..., 0]
        where = "" if single else f" (photo {i})"
        if z.ndim < 2 or y.shape != z.shape[:-1]:
            raise CalibrationError(
                f"logits {z.shape} and labels {y.shape} do not match{where}: expected "
                "logits [..., C] and labels [...] (or [..., 1])"
            )
        z, y = z.reshape(-1, z.shape[-1]), y.reshape(-1).astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
            raise CalibrationError(f"labels hold values outside [0, {z.shape[1]}){where}")
        if not np.isfinite(z).all():
            raise CalibrationError(f"logits hold NaN or infinite values{where}")
        if pixels_per_photo is not None and y.size > pixels_per_photo:
            keep = rng.choice(y.size, size=int(pixels_per_photo), replace=False)
            z, y = z[keep], y[keep]
        for start in range(0, y.size, _CHUNK_PIXELS):
            out.append((z[start : start + _CHUNK_PIXELS], y[start : start + _CHUNK_PIXELS]))
    if not out or sum(y.size for _, y in out) == 0:
        raise CalibrationError("no pixels to fit the temperature on")
    if len({z.shape[1] for z, _ in out}) > 1:
        raise CalibrationError("the photos' logits have different numbers of classes")
    return out


def cross_entropy_at(logits, labels, temperature: float) -> float:
    """Mean cross-entropy (nats per pixel) of ``softmax(logits / T)`` against ``labels``.

    Args: as :func:`fit_temperature`; ``temperature`` a finite number above 0.
    """
    chunks = _flat_logits_and_labels(logits, labels, None, 0)
    return _nll(chunks, check_temperature(temperature))


def _nll(chunks, temperature: float) -> float:
    total, pixels = 0.0, 0
    for z, y in chunks:
        scaled = z.astype(np.float64) / temperature
        top = scaled.max(axis=1)
        log_norm = top + np.log(np.exp(scaled - top[:, None]).sum(axis=1))
        total += float((log_norm - scaled[np.arange(y.size), y]).sum())
        pixels += y.size
    return total / pixels


def fit_temperature(
    logits,
    labels,
    *,
    bounds: tuple[float, float] = (0.05, 20.0),
    pixels_per_photo: int | None = None,
    seed: int = 0,
) -> float:
    """Temperature scaling: the one scalar ``T > 0`` that minimises the cross-entropy of
    ``softmax(logits / T)`` on held-out (validation) pixels.

    Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017): dividing the
    logits by one fitted ``T`` fixes most of a network's over- (``T > 1``) or
    under-confidence (``T < 1``) without changing any prediction (the argmax is the same
    for every ``T > 0``). Fit it on the validation split, never on the test photos you
    report. The search is ``scipy.optimize.minimize_scalar`` (bounded Brent) over ``log T``:
    the cross-entropy is convex in ``1 / T``, so it has a single minimum in ``log T``.

    Memory: the logits are never stacked; each loss evaluation goes photo by photo (in
    chunks of about a million pixels). ``pixels_per_photo`` samples that many pixels of
    each photo once, at random (seeded), which makes the fit cheap on full-resolution
    photos and changes ``T`` very little.

    Args:
        logits: float ``[N, H, W, C]`` (N photos), any other ``[..., C]`` array (one set
            of pixels), or a sequence of per-photo arrays ``[H_i, W_i, C]`` of different
            sizes (e.g. logits at each photo's resolution from
            :func:`predict_full_resolution`).
        labels: int true classes ``0..C-1`` of the same shape without ``C`` (``[..., 1]``
            is accepted), or a sequence matching ``logits``.
        bounds: the range searched for ``T``, ``0 < low < high``.
        pixels_per_photo: if set, at most this many random pixels of each photo are used.
        seed: seed of that sampling.

    Returns:
        ``T`` as a float. A value at the edge of ``bounds`` is returned with a warning.

    Raises:
        CalibrationError: shapes do not match, labels out of range, non-finite logits, no
            pixels, or bad ``bounds``.
    """
    from scipy import optimize

    low, high = (check_temperature(b, "bounds") for b in bounds)
    if low >= high:
        raise CalibrationError(f"bounds must be (low, high) with low < high, got {bounds}")
    if pixels_per_photo is not None and (
        int(pixels_per_photo) != pixels_per_photo or pixels_per_photo < 1
    ):
        raise CalibrationError(
            f"pixels_per_photo must be a whole number >= 1, got {pixels_per_photo!r}"
        )
    chunks = _flat_logits_and_labels(logits, labels, pixels_per_photo, seed)
    result = optimize.minimize_scalar(
        lambda log_t: _nll(chunks, float(np.exp(log_t))),
        bounds=(np.log(low), np.log(high)),
        method="bounded",
        options={"xatol": 1e-5},
    )
    temperature = float(np.exp(result.x))
    if np.isclose(temperature, low, rtol=1e-3) or np.isclose(temperature, high, rtol=1e-3):
        warnings.warn(
            f"the fitted temperature {temperature:.4g} is at the edge of bounds={bounds}; "
            "widen them, or check the logits and labels",
            stacklevel=2,
        )
    return temperature


def _photo_logits_and_truth(model, pairs, image_size, antialias, num_classes):
    """Yield each photo's full-resolution logits ``[H, W, C]`` and true labels ``[H, W]``."""
    for trimap, logits in _predicted_photos(model, pairs, image_size, antialias, None, 16):
        truth = (trimap[..., 0] if trimap.ndim == 3 else trimap).astype(np.int64) - 1
        if truth.min() < 0 or truth.max() >= num_classes:
            raise ValueError(f"trimap values must be 1..{num_classes}, got {np.unique(trimap)}")
        yield logits, truth


def validation_logits(
    model,
    pairs,
    image_size: int | tuple[int, int],
    pixels_per_photo: int | None = 20_000,
    seed: int = 0,
    antialias: bool = True,
    num_classes: int = NUM_CLASSES,
):
    """Logits and true labels of photos at their original resolution, for
    :func:`fit_temperature`: ``fit_temperature(*validation_logits(model, val_pairs, 128))``.

    Predicts as :func:`evaluate_photos` does (logits resized bilinearly to each photo's
    size) and keeps ``pixels_per_photo`` random pixels of each photo (seeded), so 200
    validation photos take about 50 MB instead of the gigabytes of every pixel.

    Args:
        model, pairs, image_size, antialias: as :func:`evaluate_photos` (trimaps 1..C).
        pixels_per_photo: pixels kept per photo; None keeps all of them.
        seed: seed of the sampling.

    Returns:
        ``(logits, labels)``: lists with one float32 ``[n_i, C]`` and one int64 ``[n_i]``
        array per photo.

    Raises:
        ValueError: a trimap holds a value outside 1..num_classes.
    """
    rng = np.random.default_rng(seed)
    all_logits, all_labels = [], []
    for logits, truth in _photo_logits_and_truth(model, pairs, image_size, antialias, num_classes):
        z, y = logits.reshape(-1, logits.shape[-1]).astype(np.float32), truth.reshape(-1)
        if pixels_per_photo is not None and y.size > pixels_per_photo:
            keep = rng.choice(y.size, size=int(pixels_per_photo), replace=False)
            z, y = z[keep], y[keep]
        all_logits.append(z)
        all_labels.append(y)
    return all_logits, all_labels


def evaluate_calibration(
    model,
    pairs,
    image_size: int | tuple[int, int],
    temperatures=(1.0,),
    n_bins: int = DEFAULT_CALIBRATION_BINS,
    antialias: bool = True,
    num_classes: int = NUM_CLASSES,
    class_names=CLASS_NAMES,
) -> dict:
    """:class:`Calibration` of a model on raw photos at their original resolution, at one or
    more temperatures, predicting each photo once.

    The protocol of :func:`evaluate_photos` (logits resized bilinearly to the photo's
    size), then ``softmax(logits / T)`` for each ``T``. E.g. ``evaluate_calibration(model,
    test_pairs, 128, (1.0, T))`` gives before and after temperature scaling on the same
    photos, ready for :meth:`Calibration.ece_difference`.

    Args:
        model, pairs, image_size, antialias: as :func:`evaluate_photos`.
        temperatures: the temperatures to measure, each a finite number above 0.
        n_bins: equal-width bins.

    Returns:
        ``{T: Calibration}`` in the order given.

    Raises:
        CalibrationError: a bad temperature. ValueError: a trimap outside 1..C, no photos.
    """
    temperatures = [check_temperature(t) for t in temperatures]
    if not temperatures:
        raise CalibrationError("temperatures must hold at least one temperature (1.0: none)")
    names = tuple(class_names[:num_classes])
    stats = {t: [] for t in temperatures}
    for logits, truth in _photo_logits_and_truth(model, pairs, image_size, antialias, num_classes):
        for t in temperatures:
            stats[t].append(calibration_counts(calibrated_probabilities(logits, t), truth, n_bins))
    if not any(stats.values()):
        raise ValueError("no photos to measure calibration on")
    out = {}
    for t, per_photo in stats.items():
        counts, score_sums, hit_sums = (np.stack(s) for s in zip(*per_photo, strict=True))
        out[t] = Calibration(counts, score_sums, hit_sums, names)
    return out
