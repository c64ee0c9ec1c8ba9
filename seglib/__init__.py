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
seglib.models   the pix2pix ``upsample`` block and the MobileNetV2 U-Net
seglib.metrics  pixel accuracy, per-class IoU, mIoU, Dice, confusion matrices
seglib.viz      masks, overlays, training curves, a live ``DisplayCallback``
"""

from seglib.config import set_seed, smoke_mode
from seglib.data import CLASS_NAMES, NUM_CLASSES
from seglib.errors import DataError, SeglibError, WeightsError

__version__ = "0.1.0"

__all__ = [
    "CLASS_NAMES",
    "DataError",
    "NUM_CLASSES",
    "SeglibError",
    "WeightsError",
    "set_seed",
    "smoke_mode",
]
