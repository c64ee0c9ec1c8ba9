"""Notebook 02's model on this CPU: mixed_bfloat16 vs float32 training, LiteRT int8 vs Keras.

* Training throughput (images/s) of 02's MobileNetV2 U-Net (frozen encoder, batch 16, 128 px)
  under Keras' ``mixed_bfloat16`` policy and under ``float32``, measured in the same run and
  in alternating rounds (float32, bf16, float32, bf16), so a slow stretch on a shared machine
  does not favour either; the ratio is of the medians.
* Latency per photo at batch 1 of the same model: Keras called through a compiled
  ``tf.function`` (TensorFlow's own thread pool) against its LiteRT float32 and int8 files
  (1 thread), contenders taking turns (:func:`seglib.export.compare_latency`).
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from seglib import export, models, training

import keras
import numpy as np
import tensorflow as tf

SIZE, BATCH = 128, 16


def _images_per_second(policy: str, steps: int, warmup: int) -> float:
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = models.mobilenetv2_unet((SIZE, SIZE, 3), weights=None)
        model.compile(
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(BATCH, SIZE, SIZE, 3)).astype("float32")
        y = rng.integers(0, 3, size=(BATCH, SIZE, SIZE, 1))
        seconds = training.seconds_per_step(model, itertools.repeat((x, y)), steps, warmup)
        return BATCH / seconds
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def bfloat16_vs_float32(rounds: int = 2, steps: int = 8, warmup: int = 2) -> dict:
    """Training images/s of 02's model per policy; ``{"float32": [..], "mixed_bfloat16": [..]}``."""
    result = {"float32": [], "mixed_bfloat16": []}
    for _ in range(rounds):
        for policy in result:
            result[policy].append(_images_per_second(policy, steps, warmup))
    return result


def int8_vs_keras_latency(source: str, runs: int = 30) -> dict:
    """Milliseconds per photo at batch 1 (medians) of 02's model: Keras, LiteRT float32, int8.

    The model has random encoder weights (speed does not depend on their values); int8 is
    calibrated on training photos of ``source``.
    """
    keras.utils.set_random_seed(0)
    model = models.mobilenetv2_unet((SIZE, SIZE, 3), weights=None)
    spec = tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32)
    keras_call = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    with tempfile.TemporaryDirectory() as folder:
        paths = {
            form: export.to_litert(
                model,
                Path(folder) / f"{form}.tflite",
                form,
                source=source,
                num_calibration_images=32,
            )
            for form in ("float32", "int8")
        }
        calls = {"Keras tf.function": keras_call}
        calls.update({f"LiteRT {f}, 1 thread": export.LiteRTModel(p, 1) for f, p in paths.items()})
        image = np.random.default_rng(1).uniform(size=(1, SIZE, SIZE, 3)).astype(np.float32)
        times = export.compare_latency(calls, image, runs=runs)
    keras.backend.clear_session()
    return {name: float(np.median(t)) for name, t in times.items()}
