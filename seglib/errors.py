"""Exceptions raised by seglib. Every message names the file or setting at fault."""


class SeglibError(Exception):
    """Base class of every error seglib raises on purpose."""


class DataError(SeglibError, ValueError):
    """A data source is missing, unreadable or inconsistent (the message names the file)."""


class WeightsError(SeglibError, ValueError):
    """Encoder weights could not be found, downloaded or loaded."""


class ImageError(SeglibError, ValueError):
    """An input photo is missing, empty, not an image, truncated, corrupt or too large
    (the message names the file, or ``<bytes>``/``<array>`` for in-memory input)."""


class ModelError(SeglibError, ValueError):
    """A model file is missing, not loadable, or not a segmentation model (names the file)."""


class ExportError(SeglibError, ValueError):
    """An export cannot be written or run: the target exists (seglib never overwrites), an
    unknown quantization, bad calibration images, or an unreadable LiteRT file (names it)."""


class CalibrationError(SeglibError, ValueError):
    """A temperature or test-time augmentation setting is invalid (a temperature that is not
    a finite number above 0, a scale that is not above 0), or a stored calibration file
    cannot be read or does not fit its model (the message names the argument or file)."""


class OutputError(SeglibError, OSError):
    """Results cannot be written: the target folder is a file, the disk is full, no
    permission, ... (names the file and the reason; nothing half-written is left)."""
