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
Predictions come from :mod:`seglib.predict`; calibration (ECE, temperature scaling) is in
:mod:`seglib.calibration`.

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
from dataclasses import dataclass
from pathlib import Path

from seglib.config import progress
from seglib.data import CLASS_NAMES, NUM_CLASSES
from seglib.predict import predict_logits, predict_photos

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


def _length(pairs) -> int | None:
    """How many pairs an iterable holds, when it says so (a list, an IndexedSplit, a
    tf.data.Dataset of known cardinality); None otherwise."""
    try:
        return len(pairs)
    except TypeError:
        pass
    cardinality = getattr(pairs, "cardinality", None)
    if cardinality is not None:
        n = int(cardinality())
        return n if n >= 0 else None
    return None


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
        model: see :func:`~seglib.predict.predict_full_resolution` (with ``tta``: a Keras model).
        pairs: unbatched raw pairs ``(uint8 [H, W, 3], uint8 [H, W, 1] trimap 1..3)`` from
            :func:`seglib.data.load` (or any iterable of such arrays).
        image_size: the model's input side ``S`` or ``(height, width)``.
        antialias: False scores photos shrunk without antialiasing (robustness check).
        ignore_border: True scores **pet vs background only**, the trimap's border
            ("not classified") pixels left out and each other pixel called by the larger
            of its pet and background scores (:func:`confusion_ignoring_border`); the
            scores then have the classes :data:`TWO_CLASS_NAMES`.
        tta: None (the default) predicts once; True or a
            :class:`seglib.predict.TTA` averages the probabilities of flipped and
            rescaled copies of each photo (:func:`seglib.predict.predict_tta`, about
            ``tta.forward_passes`` times the time) and scores their argmax.
        batch_size: photos resized and predicted in one call (without ``tta``); only the
            speed and memory change, not the scores (each photo's logits are resized to
            its own size, as :func:`~seglib.predict.predict_full_resolution` does).

    Returns:
        :class:`Evaluation`.

    Raises:
        ValueError: a trimap holds a value outside 1..num_classes; ``ignore_border`` with
            a model of other than 3 classes; ``tta`` with ``antialias=False``;
            ``batch_size`` not a whole number >= 1.
        CalibrationError: a bad ``tta`` (see :class:`seglib.predict.TTA`).
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
    predicted = predict_photos(model, pairs, image_size, antialias, tta, batch_size)
    desc = "scoring with TTA" if tta is not None else "scoring"
    for trimap, scores in progress(predicted, total=_length(pairs), desc=desc):
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
    chance alone (ten comparisons: 0.5 misses expected, and for independent intervals a
    1 − 0.95¹⁰ ≈ 40% chance of at least one). Bonferroni's correction (C. E. Bonferroni,
    1936; O. J. Dunn, "Multiple comparisons among means", JASA 1961) asks
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
        f"no difference were real, about {round(expected, 2):g} of them would exclude zero by "
        f"chance ({1 - confidence:.2f} × {comparisons}). To keep the chance of any false winner "
        f"at most {1 - confidence:.0%}, ask each interval for {level:.1%} confidence "
        f"(`metrics.bonferroni({confidence}, {comparisons})`, passed to "
        "`paired_bootstrap(..., confidence=...)`): the intervals widen, and only the "
        "winners that survive that are safe to quote together."
    )


#: A difference of per-image scores below this size (0.01 of IoU or mIoU: one pixel in a
#: hundred of a class's union) is called negligible in practice even when above the noise.
PRACTICAL = 0.01


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
            sentence = (
                f"{lead}, the difference in {what} favours **{better}** over {worse}: {formula}."
            )
            if abs(self.mean) < PRACTICAL:
                sentence += (
                    f" Real on these photos, but under {PRACTICAL} it is too small to matter in "
                    "practice: no user would see it in a mask."
                )
            return sentence
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
    both models saw the same photo, so the photo's difficulty cancels out). Over repeated
    samples of test photos, intervals built this way cover the true mean difference about
    ``confidence`` of the time; an interval that excludes zero is the course's sign that the
    difference is larger than the noise of choosing these photos (it says nothing about
    another training run). (Efron & Tibshirani, *An Introduction to
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
