"""Environment variables and seeds, with one meaning everywhere.

==========================  ============================================================
variable                    meaning
==========================  ============================================================
``SEGLIB_DATA``             data source: ``tfds``, ``synthetic``, or a directory in the
                            Oxford-IIIT Pet release layout (default ``tfds``)
``SEGLIB_ENCODER_WEIGHTS``  a local ``.h5`` file used wherever ``"imagenet"`` is asked for
``SEGLIB_SMOKE``            ``1``: tiny data and few steps (also on whenever ``CI`` is set)
``SEGLIB_EXAMPLE_IMAGE``    the photo the own-images notebook segments by default
==========================  ============================================================
"""

from __future__ import annotations

import os

import keras


def smoke_mode() -> bool:
    """Return True when notebooks and tests should shrink data and training.

    On when ``SEGLIB_SMOKE=1`` or when ``CI`` is set (the Pyro/GPyTorch convention).
    """
    return os.environ.get("SEGLIB_SMOKE") == "1" or "CI" in os.environ


def data_source() -> str:
    """Return ``SEGLIB_DATA`` (``tfds``, ``synthetic`` or a directory), default ``tfds``."""
    return os.environ.get("SEGLIB_DATA", "").strip() or "tfds"


def encoder_weights_override() -> str | None:
    """Return the path in ``SEGLIB_ENCODER_WEIGHTS``, or None when it is unset or empty."""
    value = os.environ.get("SEGLIB_ENCODER_WEIGHTS", "").strip()
    return value or None


def example_image() -> str | None:
    """Return the path in ``SEGLIB_EXAMPLE_IMAGE``, or None when it is unset or empty."""
    value = os.environ.get("SEGLIB_EXAMPLE_IMAGE", "").strip()
    return value or None


def set_seed(seed: int = 42, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow in one call.

    Wraps ``keras.utils.set_random_seed``: model initialisation, dropout, shuffling and
    augmentation then repeat from run to run. On a CPU that is enough for identical
    weights after training on the same data in the same order.

    Args:
        seed: the seed.
        deterministic: also call ``tf.config.experimental.enable_op_determinism()``, which
            makes GPU kernels and parallel ``tf.data`` maps deterministic too, at some cost
            in speed. It cannot be switched off again in the same process.
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
