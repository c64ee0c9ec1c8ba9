"""Training throughput (images/s) of each notebook's model, with and without XLA.

Each model trains on a fixed random batch at its notebook's resolution with Adam and
cross-entropy on logits. ``jit_compile=True`` compiles the train step with XLA; the first
steps (tracing and compiling) are excluded from the timing.
"""

from __future__ import annotations

import itertools

from seglib import models, training

import keras
import numpy as np

#: (label, builder name in seglib.models, input side in px, builder kwargs)
NOTEBOOK_MODELS = [
    ("02 MobileNetV2 U-Net (frozen encoder)", "mobilenetv2_unet", 128, {"weights": None}),
    (
        "05 the same, half-width decoder",
        "mobilenetv2_unet",
        128,
        {"weights": None, "decoder_filters": (256, 128, 64, 32)},
    ),
    ("03 Xception-style U-Net", "xception_unet", 160, {}),
    ("04 U-Net from scratch", "unet", 128, {}),
]


def images_per_second(model, image_size, batch_size=16, steps=8, warmup=2, jit=False) -> float:
    """Train ``steps`` steps after ``warmup`` untimed ones; return images per second."""
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(batch_size, image_size, image_size, 3)).astype("float32")
    y = rng.integers(0, 3, size=(batch_size, image_size, image_size, 1))
    return batch_size / training.seconds_per_step(model, itertools.repeat((x, y)), steps, warmup)


def run(batch_size=16, steps=8) -> list[dict]:
    """Measure every notebook model present in seglib.models; one dict per model."""
    rows = []
    for label, builder, size, kwargs in NOTEBOOK_MODELS:
        build = getattr(models, builder, None)
        if build is None:
            rows.append({"model": label, "size": size, "error": f"seglib.models.{builder} missing"})
            continue
        row = {"model": label, "size": size}
        for jit in (False, True):
            keras.utils.set_random_seed(0)
            model = build(input_shape=(size, size, 3), **kwargs)
            try:
                row["xla" if jit else "eager_graph"] = images_per_second(
                    model, size, batch_size, steps, jit=jit
                )
            except Exception as e:  # XLA may not support every op on every device
                row["xla_error"] = f"{type(e).__name__}: {str(e)[:120]}"
            keras.backend.clear_session()
        rows.append(row)
    return rows
