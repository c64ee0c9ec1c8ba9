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
import tempfile
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


def minutes(seconds: float) -> str:
    """``"about 12 min"``, ``"under a minute"`` or ``"about 1.5 h"`` for a duration in seconds."""
    if seconds < 60:
        return "under a minute"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def time_left(epochs_done: int, epochs_left: int, seconds_so_far: float) -> str:
    """``"about 7 min left"``: ``epochs_left`` more epochs at the mean time of the
    ``epochs_done`` run so far in this ``fit``; ``""`` when none is left or none has run."""
    if epochs_left <= 0 or epochs_done <= 0:
        return ""
    return f"{minutes(seconds_so_far / epochs_done * epochs_left)} left"


class EpochClock:
    """Counts the epochs one ``fit`` runs (it may start at ``initial_epoch`` or resume from a
    backup) and the seconds since its first epoch began."""

    def __init__(self):
        self.first = None
        self.begun = 0.0

    def start(self, epoch: int) -> None:
        if self.first is None:
            self.first, self.begun = epoch, time.perf_counter()

    def left(self, epoch: int, epochs: int | None) -> str:
        if self.first is None or not epochs:
            return ""
        done = epoch - self.first + 1
        return time_left(done, epochs - epoch - 1, time.perf_counter() - self.begun)


#: Steps of a stage's first epoch that :class:`StageEstimate` leaves untimed (tracing), then
#: times before it prints its estimate.
ESTIMATE_WARMUP_STEPS, ESTIMATE_TIMED_STEPS = 2, 4
#: A validation step (forward pass only) costs about this share of a training step; the
#: estimate's assumption until an epoch has run (:class:`StageEstimate`).
VALIDATION_STEP_SHARE = 0.35


class StageEstimate(keras.callbacks.Callback):
    """Print, during the first steps of a training stage, how long the stage will take.

    ``fit`` gives no sign of its cost before an epoch ends. This callback times a few
    training steps (after :data:`ESTIMATE_WARMUP_STEPS` untimed ones, which trace the step
    function) and prints, before the first epoch's line::

        stage 1 (frozen encoder): 20 epochs x 16 steps (+ 3 validation steps); about 4 min on
        this machine (estimate 254 s: 0.70 s per training step, timed over steps 3 to 6, 0.8 s
        per epoch to save)

    The estimate counts each validation step as :data:`VALIDATION_STEP_SHARE` of a training
    step (a forward pass). With ``checkpoints=True`` (the default, for a ``fit`` that uses
    :func:`run_callbacks`) it also saves the model once as a ``.keras`` file and once as
    weights into a temporary folder, what :class:`BestModelCheckpoint` and Keras'
    ``BackupAndRestore`` write at an epoch's end, and counts that time once per epoch (the
    checkpoint is written only in epochs that improve, so this part is an upper bound). On a
    2-core CPU with the lab set, 02's stage 1 was estimated at 4.2 min (0.8 s per epoch of it
    for the saves) and took 5.8, stage 2 3.0 against 3.2 (2026-12-07): the rest of an epoch's
    end (validation metrics, the other callbacks, refilling the input pipeline) is not timed,
    so expect the estimate to run short by up to about a third. ``lab_share`` (the
    lab set's share of the training photos, when the subset is ``all``) adds what the lab
    set would take. ``python -m benchmarks.estimates`` checks the estimates against the stage
    times of a real run. Training itself is not changed (the saves read the weights only).

    Args:
        name: the stage's name in the line, e.g. ``"stage 1 (frozen encoder)"``.
        steps_per_epoch, validation_steps: when the datasets do not say (unknown
            cardinality); None reads them from ``fit``'s parameters and the validation data.
        lab_share: lab training photos / training photos of this run, or None.
        checkpoints: time one save of each kind and count it per epoch (see above).
    """

    def __init__(
        self,
        name: str = "training",
        steps_per_epoch=None,
        validation_steps=None,
        lab_share=None,
        checkpoints: bool = True,
    ):
        super().__init__()
        self.name = name
        self.steps_per_epoch = steps_per_epoch
        self.validation_steps = validation_steps
        self.lab_share = lab_share
        self.checkpoints = checkpoints
        self.save_seconds = 0.0  # the timed saves per epoch, for benchmarks
        self.estimate_seconds = None  # the printed estimate, for benchmarks
        self._timer = None

    def on_train_begin(self, logs=None):
        params = self.params or {}
        self._epochs = int(params.get("epochs") or 1)
        self._steps = params.get("steps") or self.steps_per_epoch
        self._timer = None
        self.estimate_seconds = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.estimate_seconds is None and self._timer is None:
            self._epochs_to_run = max(1, self._epochs - epoch)  # initial_epoch, or a resume

    def on_train_batch_begin(self, batch, logs=None):
        if batch == ESTIMATE_WARMUP_STEPS and self.estimate_seconds is None:
            self._timer = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        last = ESTIMATE_WARMUP_STEPS + ESTIMATE_TIMED_STEPS - 1
        if batch != last or self._timer is None or self.estimate_seconds is not None:
            return
        per_step = (time.perf_counter() - self._timer) / ESTIMATE_TIMED_STEPS
        self.save_seconds = self._time_saves() if self.checkpoints else 0.0
        steps = self._steps or (batch + 1)
        validation = self.validation_steps or 0
        per_epoch = per_step * (steps + VALIDATION_STEP_SHARE * validation) + self.save_seconds
        epochs = getattr(self, "_epochs_to_run", self._epochs)
        self.estimate_seconds = per_epoch * epochs
        extra = f" (+ {validation} validation steps)" if validation else ""
        saves = f", {self.save_seconds:.1f} s per epoch to save" if self.checkpoints else ""
        line = (
            f"{self.name}: {epochs} epochs x {steps} steps{extra}; "
            f"{minutes(self.estimate_seconds)} on this machine (estimate "
            f"{self.estimate_seconds:.0f} s: {per_step:.2f} s per training step, timed over "
            f"steps {ESTIMATE_WARMUP_STEPS + 1} to {last + 1}{saves})"
        )
        if self.lab_share and not tf.config.list_physical_devices("GPU"):
            line += f"; on the lab set (SEGLIB_SUBSET=lab) {minutes(self.estimate_seconds * self.lab_share)}"
        print(line, flush=True)

    def _time_saves(self) -> float:
        """Seconds to save the model as ``.keras`` and as weights, in a temporary folder."""
        with tempfile.TemporaryDirectory(prefix="seglib-estimate-") as folder:
            start = time.perf_counter()
            self.model.save(Path(folder) / "model.keras")
            self.model.save_weights(Path(folder) / "model.weights.h5")
            return time.perf_counter() - start


class EpochLog(keras.callbacks.Callback):
    """Print one short line per epoch:
    ``epoch  3/20  loss 0.4123  val_mean_iou 0.612  (12 s, about 4 min left)``.

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
        self._clock = EpochClock()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._clock.start(epoch)

    def format(self, epoch: int, logs: dict, seconds: float, left: str = "") -> str:
        """The line for one epoch (0-based ``epoch``), without printing it; ``left`` (from
        :func:`time_left`) is appended after the epoch's time."""
        total = f"/{self._epochs}" if self._epochs else ""
        width = len(str(self._epochs)) if self._epochs else 1
        cells = "  ".join(f"{k} {float(logs[k]):.4f}" for k in self.keys if k in logs)
        timing = f"{seconds:.0f} s, {left}" if left else f"{seconds:.0f} s"
        return f"{self.prefix}epoch {epoch + 1:>{width}}{total}  {cells}  ({timing})"

    def on_epoch_end(self, epoch, logs=None):
        left = self._clock.left(epoch, self._epochs)
        print(self.format(epoch, logs or {}, time.perf_counter() - self._start, left), flush=True)
