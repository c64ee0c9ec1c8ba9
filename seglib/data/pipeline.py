"""Preprocessing, augmentation and the ``tf.data`` pipelines the notebooks train on.

:func:`preprocess` resizes photos bilinearly (with antialiasing) and trimaps with nearest
neighbour, scales photos to [0, 1] and shifts labels to 0 pet, 1 background, 2 border;
:func:`augment` (flips, zoom, colour jitter) and :func:`augment_strong` draw from stateless
seeds; :func:`make_pipelines` builds the batched train/validation/test datasets.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

from seglib.config import data_source
from seglib.data.layout import NUM_CLASSES, TRIMAP_PET, VALIDATION_FRACTION, resolve_subset
from seglib.data.sources import breed_counts, count, load

import numpy as np
import tensorflow as tf

# ---------------------------------------------------------------------------
# Preprocessing, augmentation, pipelines
# ---------------------------------------------------------------------------


def preprocess_image(image, image_size: int | tuple[int, int] = 128, antialias: bool = True):
    """Resize a photo and scale it to what the models take (training and inference alike).

    Args:
        image: ``uint8 [H, W, 3]`` RGB (0..255).
        image_size: output side in pixels, or ``(height, width)``.
        antialias: filter before shrinking (the default, as in training). False imitates a
            photo shrunk carelessly elsewhere (plain bilinear sampling, which aliases); used
            to measure robustness.

    Returns:
        float32 ``[S, S, 3]`` in [0, 1], resized bilinearly, by default with antialiasing
        (so shrinking a large photo does not alias).
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    image = tf.image.resize(image, size, method="bilinear", antialias=antialias)
    return tf.clip_by_value(image / 255.0, 0.0, 1.0)


def preprocess(image, mask, image_size: int | tuple[int, int] = 128):
    """Resize a pair and map it to what the models take.

    Args:
        image: ``uint8 [H, W, 3]`` (0..255).
        mask: ``uint8 [H, W, 1]`` trimap (1 pet, 2 background, 3 border).
        image_size: output side in pixels, or ``(height, width)``.

    Returns:
        ``image`` float32 ``[S, S, 3]`` in [0, 1] (:func:`preprocess_image`); ``mask`` uint8
        ``[S, S, 1]`` with labels 0 pet, 1 background, 2 border, resized with **nearest
        neighbour**: bilinear interpolation would invent in-between values (1.5 between pet
        and background) that are not classes at all.
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    mask = tf.image.resize(mask, size, method="nearest")
    mask = tf.cast(mask, tf.uint8) - TRIMAP_PET
    return preprocess_image(image, size), mask


def augment_seed(seed=None) -> tf.Tensor:
    """Turn ``seed`` into the shape-``[2]`` int64 seed that TensorFlow's stateless ops take.

    Stateless random ops (``tf.random.stateless_uniform``, ``tf.image.stateless_random_*``)
    give the same draw for the same seed, in any thread and in any run. That is what makes
    a seeded training run repeat exactly: the pipeline hands every photo its own seed
    (:func:`build_pipeline`), instead of sharing one random state between the threads of a
    parallel ``map``, whose order of use differs from run to run. (TensorFlow guide "Random
    number generation", section "Stateless RNGs".)

    Args:
        seed: None (a fresh random seed: for trying augmentation out by hand, different on
            every call), an int, or an int tensor/array of shape ``[2]``.

    Returns:
        int64 tensor ``[2]``.

    Raises:
        ValueError: ``seed`` is neither a scalar nor of shape ``[2]``.
    """
    if seed is None:
        return tf.random.uniform([2], maxval=tf.int64.max, dtype=tf.int64)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        return tf.stack([seed, tf.constant(0, tf.int64)])
    if seed.shape.as_list() != [2]:
        raise ValueError(f"a seed is an int or a pair of ints, got shape {seed.shape}")
    return seed


def augment(image, mask, seed=None):
    """Flip image and mask left-right together, with probability 0.5.

    One random draw decides for both, so the mask stays aligned with the photo
    (flipping them independently would teach the model wrong labels on half the
    batches).

    Args:
        image: float32 ``[H, W, 3]``; mask: uint8 ``[H, W, 1]``.
        seed: None (a fresh draw on every call), an int or a shape-``[2]`` seed
            (:func:`augment_seed`): the same seed gives the same flip.

    Returns:
        ``(image, mask)`` with the same shapes and dtypes.
    """
    flip = tf.random.stateless_uniform((), augment_seed(seed)) < 0.5
    image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
    mask = tf.cond(flip, lambda: tf.image.flip_left_right(mask), lambda: mask)
    return image, mask


@dataclass
class Pipelines:
    """Batched, prefetched pipelines for one experiment.

    Attributes:
        train: shuffled, augmented batches of ``(float32 [B, S, S, 3], uint8 [B, S, S, 1])``.
        validation, test: the same without shuffling or augmentation.
        sizes: number of pairs per split, e.g. ``{"train": 255, ...}``.
        image_size: side ``S`` in pixels. batch_size: ``B``.
        source, subset: where the photos came from, and the subset (``lab`` or ``all``).
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    sizes: dict
    image_size: int
    batch_size: int
    source: str = ""
    subset: str = "lab"

    @property
    def steps_per_epoch(self) -> int:
        """Training batches per epoch (the last, smaller batch counts)."""
        return -(-self.sizes["train"] // self.batch_size)

    @property
    def validation_steps(self) -> int:
        """Validation batches per epoch."""
        return -(-self.sizes["validation"] // self.batch_size)

    @property
    def lab_share(self) -> float | None:
        """With the subset ``all``: the lab set's training photos / this run's (what the
        lab set would cost, as a share); None for ``lab`` and for the synthetic source."""
        if self.subset != "all" or self.source in ("", "synthetic") or not self.sizes["train"]:
            return None
        lab = breed_counts(self.source, subset="lab")["train"].sum()
        return float(lab) / self.sizes["train"]


def _with_seed(fn):
    """``fn`` as a function of ``(image, mask, seed)``, whether or not it takes a seed."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # some builtins have no signature: assume it takes one
        return fn
    takes_seed = "seed" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
    if takes_seed:
        return lambda image, mask, seed: fn(image, mask, seed=seed)
    return lambda image, mask, seed: fn(image, mask)


def build_pipeline(
    pairs: tf.data.Dataset,
    image_size: int = 128,
    batch_size: int = 16,
    training: bool = False,
    shuffle_seed: int = 0,
    augment_fn=None,
    mixed_resize: bool = False,
    plain_augment_fn=None,
) -> tf.data.Dataset:
    """Preprocess, cache, (shuffle, augment,) batch and prefetch a dataset of pairs.

    Decoding and resizing run once: the resized pairs are cached in memory, and the
    random augmentation runs after ``cache()`` so that every epoch sees new draws.

    Every training photo gets its own augmentation seed, drawn by
    ``tf.data.Dataset.random(shuffle_seed, rerandomize_each_iteration=True)``: new seeds
    every epoch, yet the same sequence of epochs in every run with the same
    ``shuffle_seed``. With stateless random ops inside ``augment_fn``, a seeded run
    therefore sees exactly the same batches each time, even though the ``map`` runs in
    parallel threads.

    Args:
        pairs: raw ``(uint8 image, uint8 trimap)`` pairs from :func:`~seglib.data.load`.
        training: shuffle every epoch and augment.
        shuffle_seed: seed of the shuffle order and of the per-photo augmentation seeds.
        augment_fn: ``fn(image, mask, seed)`` mapping ``(float32 [S, S, 3], uint8
            [S, S, 1])`` to the same, with ``seed`` an int64 tensor ``[2]`` for stateless
            ops; default :func:`augment` (paired flips); e.g. :func:`augment_strong`. A
            function of ``(image, mask)`` alone also works, but its random ops then
            do not repeat from run to run.
        mixed_resize: (training only) cache each photo shrunk both with and without
            antialiasing, and train on either, drawn at random per photo and epoch. Photos
            users bring were often shrunk carelessly (no antialiasing: jagged edges,
            moire); a model that has seen both is less thrown by either.
        plain_augment_fn: (with ``mixed_resize``) the augmentation of the copies shrunk
            without antialiasing, same signature as ``augment_fn``; None: ``augment_fn``.
            Give it one that does not zoom, e.g. ``functools.partial(augment_strong,
            min_crop=1.0)``: zooming enlarges the small photo bilinearly, which smooths
            away the very aliasing the copy is there to show. Notebook 04 measures what
            this does to a U-Net trained from scratch.

    Returns:
        Batches of ``(float32 [B, S, S, 3] in [0, 1], uint8 [B, S, S, 1])``.
    """
    mixed = training and mixed_resize

    def prepare(image, mask):
        image_aa, mask = preprocess(image, mask, image_size)
        if not mixed:
            return image_aa, mask
        return tf.stack([image_aa, preprocess_image(image, image_size, antialias=False)]), mask

    ds = pairs.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).cache()
    if training:
        fn = _with_seed(augment_fn or augment)
        plain_fn = None if plain_augment_fn is None else _with_seed(plain_augment_fn)
        ds = ds.shuffle(1000, seed=shuffle_seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds.batch(2, drop_remainder=True)))

        def augment_one(pair, seed):
            image, mask = pair
            if mixed:
                pick_seed, seed = tf.unstack(tf.random.split(seed, 2))
                pick = tf.cast(tf.random.stateless_uniform((), pick_seed) < 0.5, tf.int32)
                if plain_fn is not None:  # index 1 is the copy shrunk without antialiasing
                    return tf.cond(
                        pick == 1,
                        lambda: plain_fn(image[1], mask, seed),
                        lambda: fn(image[0], mask, seed),
                    )
                image = tf.gather(image, pick)
            return fn(image, mask, seed)

        ds = ds.map(augment_one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def take_rows(pairs: tf.data.Dataset, rows) -> tf.data.Dataset:
    """The elements of a finite dataset at the given positions, in the dataset's order.

    For a seeded random subsample of a split (``rows =
    np.sort(np.random.default_rng(0).choice(n, k, replace=False))``) that is scored or trained
    on without decoding the other photos twice: the dataset is read once, and elements not in
    ``rows`` are skipped before any map that follows.

    Args:
        pairs: any finite dataset, e.g. :func:`~seglib.data.load`'s ``(uint8 photo, uint8 trimap)`` pairs.
        rows: 0-based positions, integers (a list or 1-D array); each must be below the
            dataset's length and appear once.

    Returns:
        A dataset of ``len(rows)`` elements of the same structure, dtypes and shapes, its
        cardinality set to that number.

    Raises:
        ValueError: ``rows`` is not 1-D, holds a negative position or a repeated one.
        tf.errors.FailedPreconditionError (when iterated): a position is not below the dataset's
            length (fewer elements come out than ``rows`` asks for).
    """
    rows = np.asarray(rows)
    if rows.ndim != 1 or (rows.size and (rows.min() < 0 or len(np.unique(rows)) != rows.size)):
        raise ValueError(f"rows: expected distinct non-negative positions, got {rows.tolist()}")
    rows = tf.constant(rows.astype(np.int64))
    picked = pairs.enumerate().filter(lambda i, *element: tf.reduce_any(i == rows))
    picked = picked.map(lambda i, *element: element[0] if len(element) == 1 else element)
    return picked.apply(tf.data.experimental.assert_cardinality(int(rows.shape[0])))


def make_pipelines(
    source: str | os.PathLike | None = None,
    image_size: int = 128,
    batch_size: int = 16,
    limit: int | None = None,
    augment_train: bool = True,
    validation_fraction: float = VALIDATION_FRACTION,
    shuffle_seed: int = 0,
    augment_fn=None,
    breeds=None,
    mixed_resize: bool = False,
    plain_augment_fn=None,
    subset: str | None = None,
) -> Pipelines:
    """Build the training, validation and test pipelines in one call.

    Args:
        source: see :func:`~seglib.data.load`. image_size: side in pixels. batch_size: per step.
        limit: cap on pairs per split (smoke runs). augment_train: shuffle and augment
            the training split. augment_fn: the augmentation (default :func:`augment`,
            paired flips; :func:`augment_strong` adds zoom and colour jitter).
        shuffle_seed: seed of the shuffle and of the per-photo augmentation seeds.
        breeds: keep only these breeds in all three splits (see :func:`~seglib.data.load`); None: all.
        subset: ``"lab"`` or ``"all"`` (see :func:`~seglib.data.load`); None reads
            ``SEGLIB_SUBSET`` (default ``"lab"``).
        mixed_resize: train on photos shrunk with and without antialiasing (see
            :func:`build_pipeline`).
        plain_augment_fn: with ``mixed_resize``, the augmentation of the copies shrunk
            without antialiasing (see :func:`build_pipeline`); None: ``augment_fn``.

    Returns:
        :class:`Pipelines`.
    """
    raw = {
        s: load(s, source, validation_fraction, limit, breeds=breeds, subset=subset)
        for s in ("train", "validation", "test")
    }
    sizes = {s: count(ds) for s, ds in raw.items()}
    return Pipelines(
        train=build_pipeline(
            raw["train"],
            image_size,
            batch_size,
            augment_train,
            shuffle_seed,
            augment_fn,
            mixed_resize=mixed_resize,
            plain_augment_fn=plain_augment_fn,
        ),
        validation=build_pipeline(raw["validation"], image_size, batch_size),
        test=build_pipeline(raw["test"], image_size, batch_size),
        sizes=sizes,
        image_size=image_size,
        batch_size=batch_size,
        source=str(source) if source is not None else data_source(),
        subset=resolve_subset(subset),
    )


def class_pixel_counts(dataset: tf.data.Dataset, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Count pixels per class over a dataset of ``(image, mask)`` (batched or not).

    Args:
        dataset: yields masks with labels 0..num_classes-1 (after :func:`preprocess`).

    Returns:
        int64 array ``[num_classes]``: pixel counts for pet, background, border.
    """
    total = np.zeros(num_classes, dtype=np.int64)
    for _, mask in dataset:
        total += np.bincount(np.asarray(mask).ravel(), minlength=num_classes)[:num_classes]
    return total


# ---------------------------------------------------------------------------
# Stronger augmentation for training from scratch (notebooks 03 and 04)
# ---------------------------------------------------------------------------


def augment_strong(
    image,
    mask,
    seed: int | None = None,
    min_crop: float = 0.6,
    brightness: float = 0.1,
    contrast: float = 0.2,
    saturation: float = 0.2,
):
    """Flip, zoom in (random crop) and colour-jitter a pair; the mask stays aligned.

    A model trained from scratch on a few hundred photos memorises them within a few
    epochs; each random change shows it a "new" photo with a correct mask. Geometric
    changes are applied to photo and mask together (one random draw for both), photo
    by bilinear and mask by nearest-neighbour resizing, so labels stay 0, 1, 2. Colour
    changes touch the photo only. (The keras.io U-Net example uses no augmentation;
    random crops, flips and colour jitter are the usual recipe, e.g. in torchvision's
    segmentation references.)

    Args:
        image: float32 ``[S, S, 3]`` in [0, 1]. mask: uint8 ``[S, S, 1]`` labels 0..2.
        seed: None (fresh draws), an int or a shape-``[2]`` seed (:func:`augment_seed`).
            It is split into one seed per random decision (flip, zoom, crop offset,
            brightness, contrast, saturation), so the draws are independent.
        min_crop: smallest crop side as a share of the image side, in (0, 1]; the crop
            is resized back to ``S``, a zoom of up to ``1 / min_crop``.
        brightness: largest brightness shift (added, in [0, 1] units).
        contrast, saturation: largest relative change, e.g. 0.2 = factor in [0.8, 1.2];
            0 turns a colour change off.

    Returns:
        ``(image float32 [S, S, 3] in [0, 1], mask uint8 [S, S, 1])``, shapes unchanged.
    """
    if not 0 < min_crop <= 1:
        raise ValueError(f"min_crop must be in (0, 1], got {min_crop}")
    # One independent seed per random decision: reusing one seed for all of them would tie
    # the draws together (with the same seed, every flipped photo would also be zoomed more).
    flip_seed, zoom_seed, offset_seed, b_seed, c_seed, s_seed = tf.unstack(
        tf.random.split(augment_seed(seed), 6)
    )
    image, mask = augment(image, mask, seed=flip_seed)
    size = tf.shape(image)[:2]
    side = tf.cast(tf.reduce_min(size), tf.float32)
    crop_share = tf.random.stateless_uniform((), zoom_seed, min_crop, 1.0)
    crop = tf.cast(side * crop_share, tf.int32)
    stacked = tf.concat([image, tf.cast(mask, tf.float32)], axis=-1)
    stacked = tf.image.stateless_random_crop(stacked, tf.stack([crop, crop, 4]), offset_seed)
    image = tf.image.resize(stacked[..., :3], size, method="bilinear")
    mask = tf.cast(tf.image.resize(stacked[..., 3:], size, method="nearest"), tf.uint8)
    if brightness:
        image = tf.image.stateless_random_brightness(image, brightness, b_seed)
    if contrast:
        image = tf.image.stateless_random_contrast(image, 1 - contrast, 1 + contrast, c_seed)
    if saturation:
        image = tf.image.stateless_random_saturation(image, 1 - saturation, 1 + saturation, s_seed)
    return tf.clip_by_value(image, 0.0, 1.0), mask
