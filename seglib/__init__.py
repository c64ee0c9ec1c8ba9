"""seglib: the plumbing behind the U-Net segmentation course.

The notebooks in ``notebooks/`` teach one idea each; everything they share (loading
Oxford-IIIT Pet, building models, scoring, plotting) lives here so that the idea a
notebook teaches stays visible in it.

Modules
-------
Top to bottom: a module imports only modules listed below it (``make lint`` checks the
layers with import-linter; the contracts are in ``pyproject.toml``).

seglib.runner     execute notebooks headless with papermill (``make run``), summary
seglib.export     LiteRT (float32, float16, dynamic range, int8) and SavedModel export
seglib.inference  segment your own photos at full resolution, cut-outs, safe saving
seglib.course     the notebook layout (core path, folded deep dives), student copies
seglib.quiz       "Check your understanding" quizzes (jupyterquiz) and exercise checks
seglib.viz        masks, overlays, training curves, a live ``DisplayCallback``
seglib.calibration expected calibration error, reliability tables, temperature scaling
seglib.prose      the sentences notebooks print about their own results
seglib.reference  reference figures over seeds, printed next to a run's own
seglib.metrics    pixel accuracy, per-class IoU, mIoU, Dice, confusion matrices, paired
                  bootstrap differences and the one verdict on them (``Difference.verdict``)
seglib.models     the pix2pix ``upsample`` block, the MobileNetV2 U-Net, the keras.io
                  Xception-style U-Net and the original U-Net (all output logits)
seglib.losses     soft Dice (+ cross-entropy) on logits
seglib.weights    class frequencies, inverse- and median-frequency weights, sample weights
seglib.training   resumable run folders (checkpoint, backup, log) and a tf.distribute helper
seglib.predict    prediction in one place: the model contract, logits at the model's and
                  the photo's size, test-time augmentation, the temperature
seglib.images     decoding a photo safely (by content, size checked before decoding)
seglib.data       one loader contract for TFDS, a directory in the release layout, the
                  release's archives or a synthetic stand-in; preprocessing, pipelines
seglib.config     environment variables (``SEGLIB_DATA``, ``SEGLIB_ENCODER_WEIGHTS``,
                  ``SEGLIB_SMOKE``, ``SEGLIB_EXAMPLE_IMAGE``), seeds, the runtime line,
                  Colab's Drive folder, TensorFlow's quiet start
seglib.errors     the error types, all subclasses of ``SeglibError``
seglib.files      new temporary files with the umask's permissions (renamed into place)
"""

import os
import warnings

from seglib import config

# Keras 3 warns on every fit() with a tf.data.Dataset that its default shuffle=True "will be
# ignored"; the course's datasets shuffle themselves (seglib.data.pipeline), so this one
# message is noise. Every other warning stays visible.
warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed, but will be ignored")

_format_warning = warnings.formatwarning
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _short_warning(message, category, filename, lineno, line=None):
    """A warning from seglib (or from a notebook cell, which a kernel files under a temporary
    path) as ``Category: message``: no path of this machine in a notebook's output."""
    if str(filename).startswith(_PACKAGE) or "ipykernel_" in str(filename):
        return f"{category.__name__}: {message}\n"
    return _format_warning(message, category, filename, lineno, line)


warnings.formatwarning = _short_warning

# Before anything imports TensorFlow: its C++ start-up banner stays out of the notebooks.
config.quiet_tensorflow_startup()

from seglib.config import describe_runtime, set_seed, smoke_mode, storage_dir  # noqa: E402
from seglib.data import CLASS_NAMES, NUM_CLASSES  # noqa: E402
from seglib.errors import DataError, ImageError, ModelError, SeglibError, WeightsError  # noqa: E402

__version__ = "0.2.0"

__all__ = [
    "CLASS_NAMES",
    "DataError",
    "ImageError",
    "ModelError",
    "NUM_CLASSES",
    "SeglibError",
    "WeightsError",
    "config",
    "describe_runtime",
    "set_seed",
    "smoke_mode",
    "storage_dir",
]
