"""Class weights for segmentation: class frequencies, two weight formulas, per-pixel sample weights.

In Oxford-IIIT Pet the background covers most pixels and the border band only a thin
slice, so a loss that counts every pixel equally spends most of its effort on the
background. Class weighting scales each pixel's loss by a weight of its true class:

1. count pixels per class on the training split (:func:`seglib.data.class_pixel_counts`
   for the totals, :func:`per_image_class_counts` for the per-image table);
2. turn the counts into weights, :func:`inverse_frequency_weights` or
   :func:`median_frequency_weights`;
3. attach them to the data as per-pixel **sample weights** with :func:`add_sample_weights`
   (``tf.gather``, the pattern of the TensorFlow "Image segmentation" tutorial), so
   ``model.fit`` multiplies each pixel's loss by its weight.

Why a weight vector of mean 1 per pixel? Keras' default loss reduction,
``"sum_over_batch_size"``, divides the sum of weighted pixel losses by the *number of
pixels*, not by the sum of the weights. Weights whose pixel-weighted mean is 1 keep the
weighted loss on the same scale as the unweighted one, so loss curves, learning rates
and gradient-clipping thresholds stay comparable (:func:`mean_pixel_weight` checks it).
"""

from __future__ import annotations

from seglib.data import CLASS_NAMES, NUM_CLASSES, class_pixel_counts

import numpy as np
import tensorflow as tf


def _as_counts(counts, what: str = "counts") -> np.ndarray:
    """Validate pixel counts: ``[C]`` or ``[N, C]``, finite, non-negative, some pixels."""
    counts = np.asarray(counts)
    if counts.ndim not in (1, 2) or counts.shape[-1] == 0:
        raise ValueError(
            f"{what} must be a vector [C] of pixels per class or a table [N, C] of pixels "
            f"per image and class; got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"{what} must be finite and non-negative; got {counts.tolist()}")
    if counts.sum() <= 0:
        raise ValueError(f"{what} hold no pixels at all")
    return counts.astype(np.float64)


def _class_name(k: int) -> str:
    return CLASS_NAMES[k] if k < len(CLASS_NAMES) else f"class {k}"


def _require_every_class(totals: np.ndarray) -> None:
    missing = [_class_name(k) for k in np.flatnonzero(totals == 0)]
    if missing:
        raise ValueError(
            f"no pixels of {', '.join(missing)} in the counts: a class that never occurs "
            "in training cannot be weighted (its weight would be infinite)"
        )


def per_image_class_counts(dataset, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Pixels per class for every image of a dataset of ``(image, mask)``.

    Each mask is counted by :func:`seglib.data.class_pixel_counts`, so the table's column
    sums equal ``class_pixel_counts(dataset)``.

    Args:
        dataset: ``tf.data.Dataset`` (or any iterable) of ``(image, mask)`` pairs, batched
            (``mask`` uint8 ``[B, H, W, 1]``) or not (``[H, W, 1]``), with labels
            0..num_classes-1 (after :func:`seglib.data.preprocess`).
        num_classes: C.

    Returns:
        int64 ``[N, C]``: row i holds the pixel counts of pet, background and border in
        image i, in dataset order.
    """
    rows = []
    for _, masks in dataset:
        masks = np.asarray(masks)
        if masks.ndim == 3:  # one unbatched mask [H, W, 1]
            masks = masks[None]
        for mask in masks:
            rows.append(class_pixel_counts([(None, mask)], num_classes))
    return np.array(rows, dtype=np.int64).reshape(-1, num_classes)


def class_frequencies(counts) -> np.ndarray:
    """Share of pixels per class.

    Args:
        counts: pixels per class ``[C]`` (e.g. from :func:`seglib.data.class_pixel_counts`)
            or per image and class ``[N, C]`` (summed over images).

    Returns:
        float64 ``[C]`` in [0, 1], summing to 1.

    Raises:
        ValueError: the counts have the wrong shape, are negative, or are all zero.
    """
    counts = _as_counts(counts)
    totals = counts.sum(axis=0) if counts.ndim == 2 else counts
    return totals / totals.sum()


def inverse_frequency_weights(counts) -> np.ndarray:
    """Normalised inverse-frequency class weights: ``w_c = N / (C * n_c)``.

    ``n_c`` is the number of pixels of class c, N the total and C the number of classes.
    Each weight is proportional to ``1 / freq_c``, so every class contributes the same
    total weight to the loss; the scale is chosen so that the **pixel-weighted mean weight
    is 1** (``sum_c freq_c * w_c = 1``). With Keras' ``"sum_over_batch_size"`` reduction
    (sum of weighted pixel losses / number of pixels) the weighted loss then stays on the
    scale of the unweighted one. (Normalising so the weights sum to C instead would scale
    the loss by a data-dependent factor.) It is the formula of scikit-learn's
    ``compute_class_weight("balanced")``, applied to pixels instead of samples.

    Args:
        counts: pixels per class ``[C]`` or per image and class ``[N, C]``.

    Returns:
        float64 ``[C]``, positive; rare classes get weights above 1, common ones below.

    Raises:
        ValueError: bad counts (see :func:`class_frequencies`) or a class with no pixels.
    """
    freq = class_frequencies(counts)
    _require_every_class(freq)
    return 1.0 / (len(freq) * freq)


def median_frequency_weights(counts) -> np.ndarray:
    """Median-frequency balancing (Eigen and Fergus, ICCV 2015): ``w_c = median(freq) / freq_c``.

    In the paper, ``freq_c`` is "the number of pixels of class c divided by the total
    number of pixels in images where c is present": a class that appears in few images
    is not penalised for the images it is absent from. That needs per-image counts:

    * ``counts`` ``[N, C]`` (from :func:`per_image_class_counts`): the paper's definition;
    * ``counts`` ``[C]`` (totals): every class is taken to be present in every image, so
      ``freq_c`` is the plain pixel share.

    The class with the median frequency gets weight 1, rarer classes more, commoner
    ones less. The weights are **not** renormalised (as in the paper, and in SegNet,
    which uses them): their pixel-weighted mean (:func:`mean_pixel_weight`) is generally
    not 1. With the Adam optimiser a constant factor on the loss barely changes training.

    Args:
        counts: pixels per image and class ``[N, C]``, or per class ``[C]``.

    Returns:
        float64 ``[C]``, positive.

    Raises:
        ValueError: bad counts (see :func:`class_frequencies`) or a class with no pixels.
    """
    counts = _as_counts(counts)
    if counts.ndim == 1:
        freq = counts / counts.sum()
    else:
        image_totals = counts.sum(axis=1, keepdims=True)  # [N, 1]
        present = counts > 0  # [N, C]
        pixels_in_images_with_c = (image_totals * present).sum(axis=0)  # [C]
        _require_every_class(counts.sum(axis=0))
        freq = counts.sum(axis=0) / pixels_in_images_with_c
    _require_every_class(freq)
    return np.median(freq) / freq


def mean_pixel_weight(class_weights, counts) -> float:
    """Average weight per pixel, ``sum_c freq_c * w_c``, for weights applied to these counts.

    1 means the weighted loss has the scale of the unweighted loss (under Keras'
    ``"sum_over_batch_size"`` reduction); 2 would double it.

    Args:
        class_weights: float ``[C]``. counts: pixels ``[C]`` or ``[N, C]``.
    """
    class_weights = np.asarray(class_weights, dtype=np.float64)
    freq = class_frequencies(counts)
    if class_weights.shape != freq.shape:
        raise ValueError(f"{class_weights.shape[0]} weights for {freq.shape[0]} classes")
    return float((freq * class_weights).sum())


def _as_weight_tensor(class_weights) -> tf.Tensor:
    weights = np.asarray(class_weights, dtype=np.float64)
    if weights.ndim != 1 or weights.size == 0:
        raise ValueError(
            f"class_weights must be a vector [C] with one weight per class; got shape "
            f"{weights.shape}"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"class weights must be finite and >= 0; got {weights.tolist()}")
    return tf.constant(weights, dtype=tf.float32)


def pixel_weights(mask, class_weights) -> tf.Tensor:
    """Per-pixel weights for a mask: ``class_weights[mask]`` with ``tf.gather``.

    Args:
        mask: integer labels ``[..., H, W, 1]`` (0..C-1), e.g. uint8 ``[B, H, W, 1]``.
        class_weights: float ``[C]`` (a list, NumPy array or tensor).

    Returns:
        float32 ``[..., H, W]``: the weight of each pixel's true class. The trailing
        channel axis is dropped so the shape matches the per-pixel losses of
        ``SparseCategoricalCrossentropy`` (``[B, H, W]``).

    Raises:
        ValueError: ``class_weights`` is not a vector of finite, non-negative numbers.
        tf.errors.InvalidArgumentError: a label is ``>= C`` (``tf.gather`` would silently
            return 0 for it on a GPU, so it is checked first).
    """
    return _gather(mask, _as_weight_tensor(class_weights))


def _gather(mask, weights: tf.Tensor) -> tf.Tensor:
    labels = tf.cast(tf.squeeze(mask, axis=-1), tf.int32)
    check = tf.debugging.assert_less(
        labels,
        tf.shape(weights, out_type=tf.int32)[0],
        message="mask holds a label with no class weight (labels must be 0..C-1)",
    )
    with tf.control_dependencies([check] if check is not None else []):
        return tf.gather(weights, labels)


def add_sample_weights(dataset: tf.data.Dataset, class_weights) -> tf.data.Dataset:
    """Map ``(image, mask)`` to ``(image, mask, sample_weight)`` for ``model.fit``.

    The pattern of the TensorFlow "Image segmentation" tutorial: ``model.fit`` reads the
    third element of each batch as sample weights and multiplies every pixel's loss by
    its weight before reducing.

    Args:
        dataset: batched ``(image float32 [B, H, W, 3], mask uint8 [B, H, W, 1])`` (as
            :func:`seglib.data.make_pipelines` yields; unbatched pairs work too).
        class_weights: float ``[C]``, one weight per class (0 pet, 1 background,
            2 border), e.g. from :func:`inverse_frequency_weights`.

    Returns:
        ``tf.data.Dataset`` of ``(image, mask, sample_weight)``: image and mask unchanged,
        ``sample_weight`` float32 ``[B, H, W]`` (see :func:`pixel_weights`).

    Raises:
        ValueError: bad ``class_weights``, or the dataset does not yield pairs.
    """
    weights = _as_weight_tensor(class_weights)
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise ValueError(
            f"add_sample_weights expects a dataset of (image, mask) pairs; got elements {spec}"
        )

    def attach(image, mask):
        return image, mask, _gather(mask, weights)

    return dataset.map(attach, num_parallel_calls=tf.data.AUTOTUNE)
