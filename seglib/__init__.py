"""seglib: the plumbing behind the U-Net segmentation course.

The notebooks in ``notebooks/`` teach one idea each; everything they share (loading
Oxford-IIIT Pet, building models, scoring, plotting) lives here so that the idea a
notebook teaches stays visible in it.

Modules
-------
seglib.config   environment variables (``SEGLIB_DATA``, ``SEGLIB_ENCODER_WEIGHTS``,
                ``SEGLIB_SMOKE``, ``SEGLIB_EXAMPLE_IMAGE``) and seeds
seglib.data     one loader contract for TFDS, a directory in the release layout, or
                a synthetic stand-in; preprocessing, augmentation, pipelines
seglib.models   the pix2pix ``upsample`` block, the MobileNetV2 U-Net, the keras.io
                Xception-style U-Net and the original U-Net (all output logits)
seglib.metrics  pixel accuracy, per-class IoU, mIoU, Dice, confusion matrices
seglib.viz      masks, overlays, training curves, a live ``DisplayCallback``
seglib.weights  class frequencies, inverse- and median-frequency weights, sample weights
seglib.losses   soft Dice (+ cross-entropy) on logits
seglib.training resumable run folders (checkpoint, backup, log) and a tf.distribute helper
seglib.inference segment your own photos at full resolution, cut-outs, safe saving
seglib.runner   execute notebooks headless (``make run``)
"""

from seglib.config import set_seed, smoke_mode
from seglib.data import CLASS_NAMES, NUM_CLASSES
from seglib.errors import DataError, ImageError, ModelError, SeglibError, WeightsError

__version__ = "0.1.0"

__all__ = [
    "CLASS_NAMES",
    "DataError",
    "ImageError",
    "ModelError",
    "NUM_CLASSES",
    "SeglibError",
    "WeightsError",
    "set_seed",
    "smoke_mode",
]
