"""Calibration: expected calibration error (ECE), reliability diagrams, temperature scaling.

A model is calibrated when, of the pixels it labels with confidence 0.8, about 80 % are
right. :class:`Calibration` bins per-pixel confidences (Naeini et al., AAAI 2015; 15 equal
bins as in Guo et al., "On Calibration of Modern Neural Networks", ICML 2017) and gives the
ECE with a bootstrap interval over photos; :func:`fit_temperature` fits the one number ``T``
of temperature scaling (Guo et al. 2017) on validation logits, and
:func:`calibrated_probabilities` applies it. Predictions come from :mod:`seglib.predict`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from seglib.config import progress
from seglib.data import CLASS_NAMES, NUM_CLASSES
from seglib.errors import CalibrationError
from seglib.metrics import Difference, _length
from seglib.predict import check_temperature, predict_photos

import numpy as np
import pandas as pd

#: Equal-width confidence bins used by default: 15, as in Guo et al. (2017).
DEFAULT_CALIBRATION_BINS = 15
#: Name of the top-label curve ("overall") in :class:`Calibration` tables.
OVERALL = "overall"
_CHUNK_PIXELS = 1 << 20  # pixels per step when a loss runs over many photos (memory bound)


def calibrated_probabilities(logits, temperature: float = 1.0) -> np.ndarray:
    """Temperature-scaled softmax: ``softmax(logits / T)`` over the last axis.

    ``T > 1`` softens the probabilities (less confident), ``T < 1`` sharpens them, ``T = 1``
    is the plain softmax. The argmax, and so the mask, is the same for every ``T > 0``.

    Args:
        logits: float ``[..., C]``. temperature: ``T``, a finite number above 0.

    Returns:
        float32 ``[..., C]`` in [0, 1], summing to 1 over the last axis.

    Raises:
        CalibrationError: a bad temperature (see :func:`~seglib.predict.check_temperature`).
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
    over photo indices, percentile method, as in :func:`~seglib.metrics.paired_bootstrap`.
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
    photos, as :func:`~seglib.metrics.paired_bootstrap` does for IoU.

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
        """``ece_<class>`` and ``ece_overall`` (floats), for :func:`~seglib.metrics.report`."""
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
        :func:`~seglib.metrics.paired_bootstrap`.

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
        resampled with the same photos (paired, as :func:`~seglib.metrics.paired_bootstrap`).

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
            :func:`~seglib.predict.predict_full_resolution`).
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
    predicted = predict_photos(model, pairs, image_size, antialias, None, 16)
    for trimap, logits in progress(predicted, total=_length(pairs), desc="calibration"):
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

    Predicts as :func:`~seglib.metrics.evaluate_photos` does (logits resized bilinearly to each photo's
    size) and keeps ``pixels_per_photo`` random pixels of each photo (seeded), so 200
    validation photos take about 50 MB instead of the gigabytes of every pixel.

    Args:
        model, pairs, image_size, antialias: as :func:`~seglib.metrics.evaluate_photos` (trimaps 1..C).
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

    The protocol of :func:`~seglib.metrics.evaluate_photos` (logits resized bilinearly to the photo's
    size), then ``softmax(logits / T)`` for each ``T``. E.g. ``evaluate_calibration(model,
    test_pairs, 128, (1.0, T))`` gives before and after temperature scaling on the same
    photos, ready for :meth:`Calibration.ece_difference`.

    Args:
        model, pairs, image_size, antialias: as :func:`~seglib.metrics.evaluate_photos`.
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
