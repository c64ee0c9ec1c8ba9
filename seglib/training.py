"""Training that survives interruptions and scales out: callbacks and a tf.distribute helper.

A Colab runtime that disconnects at epoch 17 of 20 should cost three epochs, not twenty.
:func:`run_callbacks` gives the standard Keras callbacks for one *run folder*:

======================  =====================================================================
``history.csv``         one row per epoch (``CSVLogger``, appended across resumes; read it
                        with :func:`read_history`)
``best.keras``          the best model so far (native Keras format), replaced atomically so
                        a kill never leaves half a file
``backup/``             ``BackupAndRestore`` state: calling the same ``fit`` again resumes at
                        the epoch after the last one finished
``logs/``               TensorBoard logs (``tensorboard --logdir <run folder>/logs``)
======================  =====================================================================

To resume after a disconnect, run the same code again with the same run folder: the model is
rebuilt, ``fit`` finds ``backup/`` and continues. When ``fit`` finishes normally Keras deletes
``backup/``, so running a finished stage again trains it afresh (its old log is kept as
``history.1.csv``). On Colab, put the run folder
on Google Drive: a disconnect wipes the virtual machine's own disk.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf


def read_history(run_dir: str | os.PathLike) -> pd.DataFrame:
    """The per-epoch log of a run folder, one row per epoch, in order.

    A run killed between logging an epoch and backing it up repeats that epoch when it
    resumes; the later row wins.

    Returns:
        DataFrame with an ``epoch`` column (0-based) and one column per logged value;
        empty when nothing was logged yet.
    """
    path = Path(run_dir) / "history.csv"
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    table = pd.read_csv(path)
    return table.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


class BestModelCheckpoint(keras.callbacks.Callback):
    """Save the model whenever ``monitor`` improves, atomically, remembering across resumes.

    Like ``keras.callbacks.ModelCheckpoint(save_best_only=True)``, with two differences
    that matter for interrupted runs: the file is written to a temporary name and then
    renamed over the old one (a kill mid-save leaves the previous best intact), and the
    best value so far is read back from ``history_csv`` on resume, so a resumed run does
    not overwrite a better model with the first epoch it finishes.

    Args:
        path: ``.keras`` file to write. monitor: logged value, e.g. ``"val_mean_iou"``.
        mode: ``"max"`` or ``"min"``. history_csv: the run's ``CSVLogger`` file, or None.
    """

    def __init__(self, path, monitor="val_mean_iou", mode="max", history_csv=None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.path = Path(path)
        self.monitor = monitor
        self.mode = mode
        self.history_csv = history_csv
        self.best = None

    def _better(self, value) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_train_begin(self, logs=None):
        self.best = None
        if self.history_csv is not None and self.path.is_file():
            past = read_history(Path(self.history_csv).parent)
            if self.monitor in past:
                column = past[self.monitor].dropna()
                if len(column):
                    self.best = float(column.max() if self.mode == "max" else column.min())

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"BestModelCheckpoint: {self.monitor!r} is not logged", stacklevel=2)
            return
        if self._better(float(value)):
            self.best = float(value)
            tmp = self.path.with_name(f".{self.path.stem}.tmp.keras")
            self.model.save(tmp)
            os.replace(tmp, self.path)


def run_callbacks(
    run_dir: str | os.PathLike,
    monitor: str = "val_mean_iou",
    mode: str = "max",
    tensorboard: bool = True,
) -> list:
    """The standard callbacks for a resumable run, writing into ``run_dir``.

    Args:
        run_dir: folder for this run (created). Use one folder per training stage.
        monitor: the logged value that decides the best model (e.g. ``"val_loss"``).
        mode: ``"max"`` or ``"min"`` for ``monitor``.
        tensorboard: also write TensorBoard logs.

    Returns:
        ``[CSVLogger, BestModelCheckpoint, BackupAndRestore(, TensorBoard)]`` for
        ``model.fit(callbacks=...)``. The log is written before the backup, so a kill
        between the two repeats an epoch (:func:`read_history` keeps the later row)
        rather than losing one.

    A folder without ``backup/`` holds a finished run (or none): the new ``fit`` starts
    afresh, and the old ``history.csv`` is kept as ``history.1.csv`` (``.2`` and so on).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    history_csv = run_dir / "history.csv"
    if history_csv.is_file() and not (run_dir / "backup").exists():
        # The earlier run in this folder finished: this is a fresh run, not a resume.
        # Keep its log as history.N.csv; best.keras will be replaced by the new run's.
        n = 1
        while (run_dir / f"history.{n}.csv").exists():
            n += 1
        history_csv.rename(run_dir / f"history.{n}.csv")
    callbacks = [
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        BestModelCheckpoint(run_dir / "best.keras", monitor, mode, history_csv),
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), double_checkpoint=True),
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "logs")))
    return callbacks


def distribution_strategy() -> tf.distribute.Strategy:
    """Pick a ``tf.distribute`` strategy for the hardware present.

    * a TPU (Colab, Kaggle): ``TPUStrategy``;
    * one or more GPUs: ``MirroredStrategy`` over all of them;
    * otherwise the default strategy (one device, nothing changes).

    Build and compile the model inside ``with strategy.scope():`` and multiply the batch
    size by ``strategy.num_replicas_in_sync`` (the batch size is global: each replica gets
    its share).
    """
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.NotFoundError):
        pass
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def seconds_per_step(model: keras.Model, batches, steps: int = 8, warmup: int = 2) -> float:
    """Mean wall-clock seconds of one training step of a compiled model.

    The first ``warmup`` steps trace (and, with ``jit_compile=True``, compile) the train
    step and are not timed. The model's weights change: save and restore them if needed.

    Args:
        model: a compiled ``keras.Model``.
        batches: an iterator of ``(x, y)`` batches (e.g. ``iter(ds.repeat())``, or
            ``itertools.repeat((x, y))`` for one fixed batch).
        steps: timed steps (> 0). warmup: untimed steps before them.

    Returns:
        seconds per step (float). Images per second = batch size / this.
    """
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    for _ in range(warmup):
        model.train_on_batch(*next(batches))
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(*next(batches))
    return (time.perf_counter() - start) / steps


class EpochLog(keras.callbacks.Callback):
    """Print one short line per epoch: ``epoch  3/20  loss 0.4123  val_mean_iou 0.612  (12 s)``.

    Keras' own display is either a progress bar that redraws many times per epoch
    (``verbose=1``) or a line of every metric, over 300 characters for this course's models
    (``verbose=2``); in a notebook both bury the results. Use ``fit(..., verbose=0,
    callbacks=[EpochLog()])`` to see the loss, the validation scores and the epoch's wall time.

    Args:
        keys: log entries to print, in this order, when present (others are skipped).
        prefix: text before each line, e.g. the name of the model being trained.
    """

    def __init__(self, keys=("loss", "val_loss", "val_pixel_accuracy", "val_mean_iou"), prefix=""):
        super().__init__()
        self.keys = tuple(keys)
        self.prefix = prefix
        self._start = 0.0
        self._epochs = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def format(self, epoch: int, logs: dict, seconds: float) -> str:
        """The line for one epoch (0-based ``epoch``), without printing it."""
        total = f"/{self._epochs}" if self._epochs else ""
        width = len(str(self._epochs)) if self._epochs else 1
        cells = "  ".join(f"{k} {float(logs[k]):.4f}" for k in self.keys if k in logs)
        return f"{self.prefix}epoch {epoch + 1:>{width}}{total}  {cells}  ({seconds:.0f} s)"

    def on_epoch_end(self, epoch, logs=None):
        print(self.format(epoch, logs or {}, time.perf_counter() - self._start), flush=True)
