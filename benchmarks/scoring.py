"""Scoring speed: photos per second through ``seglib.metrics.evaluate_photos``.

Every notebook scores its models with ``evaluate_photos`` on the test photos at their original
resolution. A Keras model called eagerly costs about as much per call for one photo as for
sixteen, so the photos go through the model ``batch_size`` at a time; this measures what that
buys against one call per photo (``batch_size=1``), on the same photos and model, and checks
that both give the same confusion matrix.
"""

from __future__ import annotations

import time

from seglib import data, metrics, models

import keras
import numpy as np


def run(source, photos: int = 64, image_size: int = 128) -> dict:
    """Score ``photos`` test photos with an untrained 02-style model, per photo and batched.

    Returns:
        ``{"photos": n, "per_photo": photos/s, "batched": photos/s, "same_scores": bool}``.
    """
    pairs = [(np.asarray(i), np.asarray(t)) for i, t in data.load("test", source, limit=photos)]
    keras.utils.set_random_seed(0)
    model = models.mobilenetv2_unet((image_size, image_size, 3), weights=None)
    metrics.evaluate_photos(model, pairs[:2], image_size)  # warm-up
    rates, confusions = {}, {}
    for name, batch_size in (("per_photo", 1), ("batched", 16)):
        start = time.perf_counter()
        result = metrics.evaluate_photos(model, pairs, image_size, batch_size=batch_size)
        rates[name] = len(pairs) / (time.perf_counter() - start)
        confusions[name] = result.scores.confusion
    same = bool(np.array_equal(confusions["per_photo"], confusions["batched"]))
    return {"photos": len(pairs), **rates, "same_scores": same}
