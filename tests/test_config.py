"""seglib.config: the smoke switch, data source, Drive folder, runtime line, quiet start."""

import subprocess
import sys

from seglib import config, training

import pytest


@pytest.mark.parametrize(
    ("smoke", "ci", "expected"),
    [
        (None, None, False),
        ("1", None, True),
        ("true", None, True),
        ("0", None, False),
        ("", None, False),
        (None, "true", True),
        (None, "1", True),
        (None, "false", False),
        (None, "0", False),
        (None, "", False),
        ("0", "false", False),
    ],
)
def test_smoke_mode(monkeypatch, smoke, ci, expected):
    for name, value in (("SEGLIB_SMOKE", smoke), ("CI", ci)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert config.smoke_mode() is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "tfds"), ("", "tfds"), ("  ", "tfds"), ("synthetic", "synthetic"), ("/d", "/d")],
)
def test_data_source_empty_means_default(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("SEGLIB_DATA", raising=False)
    else:
        monkeypatch.setenv("SEGLIB_DATA", value)
    assert config.data_source() == expected


def test_storage_dir_is_drive_on_colab_with_drive_mounted(monkeypatch, tmp_path):
    drive = tmp_path / "MyDrive"
    monkeypatch.setattr(config, "COLAB_DRIVE", drive)
    monkeypatch.setattr(config, "in_colab", lambda: True)
    assert config.storage_dir() == config.storage_dir().__class__(".")  # Drive not mounted
    drive.mkdir()
    assert config.storage_dir() == drive / config.DRIVE_FOLDER
    assert (drive / config.DRIVE_FOLDER).is_dir()
    monkeypatch.setattr(config, "in_colab", lambda: False)
    assert str(config.storage_dir()) == "."


def test_describe_runtime_says_cpu_and_the_cost(capsys):
    assert config.describe_runtime("about an hour") is None  # a cell shows the line once
    line = capsys.readouterr().out.strip()
    assert "No GPU or TPU" in line and "about an hour" in line  # this machine has no GPU


def _stderr_of(code, **env):
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=300
    ).stderr


def test_importing_seglib_starts_tensorflow_without_its_banner():
    code = (
        "import seglib, tensorflow as tf, keras\n"
        "m = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 3)])\n"
        "m.compile('sgd', 'mse'); m.fit(tf.zeros((2, 4, 4, 3)), tf.zeros((2, 2, 2, 2)), verbose=0)\n"
        "import warnings; warnings.warn('a real warning stays visible')\n"
    )
    quiet = _stderr_of(code)
    assert "InitializeLog" not in quiet and "oneDNN" not in quiet and "cuInit" not in quiet
    assert "a real warning stays visible" in quiet
    # the same program importing TensorFlow first shows what seglib hides
    loud = _stderr_of("import tensorflow\n" + code)
    assert "InitializeLog" in loud or "oneDNN" in loud


def test_epoch_log_prints_one_short_line(capsys):
    log = training.EpochLog(keys=("loss", "val_mean_iou"), prefix="m: ")
    log.params = {"epochs": 20}
    log.on_train_begin()
    log.on_epoch_begin(2)
    log.on_epoch_end(2, {"loss": 0.41234, "val_mean_iou": 0.6, "val_iou_pet": 0.7})
    line = capsys.readouterr().out.strip()
    assert line.startswith("m: epoch  3/20  loss 0.4123  val_mean_iou 0.6000  (")
    assert "iou_pet" not in line and line.endswith(" s, under a minute left)")
    log.on_epoch_begin(19)
    log.on_epoch_end(19, {"loss": 0.3})
    assert capsys.readouterr().out.strip().endswith(" s)")  # the last epoch: nothing left


def test_progress_bars_follow_seglib_progress(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.setenv("SEGLIB_PROGRESS", "0")
    assert config.progress(items, total=3) is items  # off: the iterable itself, no bar
    monkeypatch.delenv("SEGLIB_PROGRESS")
    bar = config.progress(items, total=3, desc="scoring")
    assert bar is not items and list(bar) == items and bar.total == 3


def test_keras_trainer_retracing_warning_is_dropped_others_are_kept():
    import logging

    import seglib  # noqa: F401  (installs the filter)

    logger = logging.getLogger("tensorflow")
    (rule,) = [f for f in logger.filters if isinstance(f, config._TrainerRetracingFilter)]

    def record(message):
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, (), None)

    keras_own = (
        "5 out of the last 11 calls to <function TensorFlowTrainer.make_predict_function."
        "<locals>.one_step_on_data_distributed at 0x7f> triggered tf.function retracing."
    )
    users = (
        "6 out of the last 6 calls to <function my_step at 0x7f> triggered tf.function retracing."
    )
    assert rule.filter(record(keras_own)) is False
    assert rule.filter(record(users)) is True
    assert rule.filter(record("some other warning")) is True
