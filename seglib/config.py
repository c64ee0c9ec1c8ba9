"""Environment variables, seeds, the runtime line and TensorFlow's quiet start, in one place.

==========================  ============================================================
variable                    meaning
==========================  ============================================================
``SEGLIB_DATA``             data source: ``tfds``, ``oxford`` (the release downloaded
                            without TFDS), ``synthetic``, or a directory in the
                            Oxford-IIIT Pet release layout (default ``tfds``, on Colab
                            too; empty means the default)
``SEGLIB_ENCODER_WEIGHTS``  local ImageNet weights used wherever ``"imagenet"`` is asked
                            for: one or more ``.h5`` files or folders, separated by
                            ``os.pathsep`` (``:``; ``;`` on Windows); each encoder takes the
                            file whose name contains its key (``mobilenet_v2``,
                            ``mobilenet_v3_large``, as in Keras' file names), see
                            :func:`seglib.models.encoder_weights_file`
``SEGLIB_SMOKE``            ``1``: tiny data and few steps (also on whenever ``CI`` is set to
                            anything but ``""``, ``0``, ``false`` or ``no``)
``SEGLIB_EXAMPLE_IMAGE``    the photo the own-images notebook segments by default
==========================  ============================================================

This module imports no TensorFlow at import time: :func:`quiet_tensorflow_startup` must be
able to run before TensorFlow is first imported.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

_FALSE_WORDS = {"", "0", "false", "no", "off"}

COLAB_DRIVE = Path("/content/drive/MyDrive")
"""Where Colab mounts Google Drive (``drive.mount("/content/drive")``)."""

DRIVE_FOLDER = "unet-pets-course"
"""The course's folder on Drive: models and run folders survive a Colab disconnect there."""


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE_WORDS


def smoke_mode() -> bool:
    """Return True when notebooks and tests should shrink data and training.

    On when ``SEGLIB_SMOKE`` is true (``1``, ``true``, ``yes``) or when ``CI`` is (the
    Pyro/GPyTorch convention). ``CI=false``, ``CI=0`` or an empty value leave it off: the
    same rule in every notebook, since they all call this function.
    """
    return _is_true(os.environ.get("SEGLIB_SMOKE")) or _is_true(os.environ.get("CI"))


def data_source() -> str:
    """Return ``SEGLIB_DATA`` (``tfds``, ``oxford``, ``synthetic`` or a directory); unset or
    empty: ``tfds``, everywhere including Colab (whose setup cell makes TFDS work there)."""
    return os.environ.get("SEGLIB_DATA", "").strip() or "tfds"


def data_subset() -> str:
    """Return ``SEGLIB_SUBSET``: ``lab`` (unset or empty: the course's 3-breed lab set) or
    ``all`` (every breed), lower-cased; :func:`seglib.data.load` checks the value."""
    return os.environ.get("SEGLIB_SUBSET", "").strip().lower() or "lab"


#: Environment variable that switches progress bars off (``0``): ``make run`` and
#: ``make nbval`` set it, so executed notebooks and the site keep no repainted bars.
PROGRESS_VARIABLE = "SEGLIB_PROGRESS"


def progress_enabled() -> bool:
    """False when ``SEGLIB_PROGRESS`` is ``0``, ``false``, ``no`` or ``off``; else True."""
    value = os.environ.get(PROGRESS_VARIABLE)
    return value is None or value.strip().lower() not in _FALSE_WORDS - {""}


def progress(iterable=None, total: int | None = None, desc: str = "", unit: str = "photo"):
    """A progress bar with the time left over ``iterable`` (``tqdm.auto``: a widget in
    JupyterLab and in Colab's ipywidgets 7, text in a terminal), or the iterable unchanged
    when :func:`progress_enabled` is False. The bar disappears when the loop ends
    (``leave=False``), so a finished cell shows its results, not a bar."""
    if not progress_enabled():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, mininterval=1.0)


def encoder_weights_override() -> str | None:
    """Return ``SEGLIB_ENCODER_WEIGHTS`` as set (files or folders separated by ``os.pathsep``;
    :func:`seglib.models.encoder_weights_file` picks each encoder's file), or None when it is
    unset or empty."""
    value = os.environ.get("SEGLIB_ENCODER_WEIGHTS", "").strip()
    return value or None


def example_image() -> str | None:
    """Return the path in ``SEGLIB_EXAMPLE_IMAGE``, or None when it is unset or empty."""
    value = os.environ.get("SEGLIB_EXAMPLE_IMAGE", "").strip()
    return value or None


def in_colab() -> bool:
    """True when this Python runs in Google Colab (its ``google.colab`` module is loaded)."""
    return "google.colab" in sys.modules


def storage_dir() -> Path:
    """Folder under which notebooks keep ``models/`` and ``runs/``.

    On Colab with Google Drive mounted at ``/content/drive`` it is
    ``/content/drive/MyDrive/unet-pets-course`` (created if needed), so trained models and
    resumable run folders survive a disconnect, which wipes the virtual machine's own disk.
    Everywhere else it is ``Path(".")``: the notebook's own folder.
    """
    if in_colab() and COLAB_DRIVE.is_dir():
        folder = COLAB_DRIVE / DRIVE_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return Path(".")


def quiet_tensorflow_startup(level: str = "3") -> None:
    """Import TensorFlow without its C++ start-up banner; keep its C++ logs to errors and up.

    TensorFlow 2.21 writes its start-up lines (the absl ``InitializeLog`` warning, the
    oneDNN notice, the CUDA-driver probe) to file descriptor 2 *before* its logging reads
    ``TF_CPP_MIN_LOG_LEVEL``, so no setting hides them. This function sets
    ``TF_CPP_MIN_LOG_LEVEL`` (unless the user already did) to ``level`` ("3" hides the
    C++ INFO, WARNING and ERROR lines, such as ``failed call to cuInit`` on a machine without
    a GPU, or grappler's ``remapper failed``), drops the retracing warning of Keras' own
    step functions (see :class:`_TrainerRetracingFilter`), then imports TensorFlow with descriptor 2
    pointed at a temporary file. When the import fails, what TensorFlow wrote is printed and
    the error is raised. Python warnings (Keras' ``UserWarning``\\ s) are untouched.

    Does nothing when TensorFlow is already imported. ``import seglib`` calls it, which is
    why the notebooks import seglib before TensorFlow and Keras.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", level)
    _drop_trainer_retracing_warnings()
    if "tensorflow" in sys.modules:
        return
    with quiet_stderr():
        import tensorflow  # noqa: F401


@contextmanager
def quiet_stderr():
    """Point file descriptor 2 at a temporary file for the duration of the block.

    For C++ libraries that print straight to descriptor 2 with no log level to set
    (TensorFlow's start-up banner, the LiteRT converter's ``fully_quantize: ...`` line, the
    interpreter's ``Created TensorFlow Lite XNNPACK delegate``). Python's own warnings go
    through ``sys.stderr`` and are kept. When the block raises, what was written is printed
    first, so a real error message is never lost.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _TrainerRetracingFilter(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" warning for Keras' own step functions.

    Every model a notebook builds gets its own Keras train/test/predict ``tf.function``, all
    made from the same Python code; TensorFlow counts their traces together and, from the
    fifth model on, advises "avoid defining tf.function in a loop". The lessons train and
    compare several models on purpose, so for Keras' trainer the advice does not apply.
    Retracing warnings about any other function still show.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and "Trainer" in message)


def _drop_trainer_retracing_warnings() -> None:
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _TrainerRetracingFilter) for f in logger.filters):
        logger.addFilter(_TrainerRetracingFilter())


def describe_runtime(cpu_cost: str) -> None:
    """One line: which accelerator TensorFlow sees, and what the real settings cost without one.

    Args:
        cpu_cost: the notebook's own estimate of its real settings on a CPU, e.g.
            ``"about an hour on the full dataset"``; printed only when there is no GPU or TPU.

    Prints (returns nothing, so a notebook cell ending with the call shows the line once),
    e.g. ``"GPU: 1 × Tesla T4. ..."`` or ``"No GPU or TPU: running on 2 CPU cores. ..."``.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    tpu = bool(os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"))
    tpu = tpu or bool(tf.config.list_physical_devices("TPU"))
    if tpu:
        line = "TPU attached: training runs on it (seglib.training.distribution_strategy)."
    elif gpus:
        names = sorted(
            {tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus}
        )
        line = f"GPU: {len(gpus)} × {', '.join(names)}. The real settings run at GPU speed."
    else:
        where = (
            "in Colab: Runtime → Change runtime type → GPU"
            if in_colab()
            else "a GPU is many times faster"
        )
        line = (
            f"No GPU or TPU: running on {os.cpu_count()} CPU cores. At the real settings this "
            f"notebook takes {cpu_cost} on a CPU ({where})."
        )
    if smoke_mode():
        line += " Smoke mode is on: tiny data and few epochs, a check run only."
    elif not (tpu or gpus):
        line += " SEGLIB_SMOKE=1 gives a quick check run."
    print(line)


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
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
