"""Shared fixtures. Real-data tests run when SEGLIB_DATA names a directory (CI sets it
to ../shared/data/oxford-iiit-pet-sample) and are skipped otherwise; everything else
runs on the synthetic source, so the suite passes with no data and no network."""

import os
import shutil
from pathlib import Path

from seglib import data

import numpy as np
import pytest


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    source = os.environ.get("SEGLIB_DATA", "")
    if source in ("", "tfds", "synthetic") or not Path(source).is_dir():
        pytest.skip("SEGLIB_DATA does not name a dataset directory")
    return Path(source)


@pytest.fixture(scope="session")
def synthetic_dir() -> Path:
    return data.synthetic_dataset_dir()


@pytest.fixture
def broken_copy(tmp_path, synthetic_dir) -> Path:
    """A writable copy of the synthetic dataset for tests that break it."""
    target = tmp_path / "pets"
    shutil.copytree(synthetic_dir, target)
    return target


@pytest.fixture
def no_smoke(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SEGLIB_SMOKE", raising=False)


@pytest.fixture
def square_batch():
    """``make(size, border=False)``: a batch any segmentation model can overfit.

    Four black ``size``×``size`` photos, each with an orange square (label 0, pet) at a
    different place on a background of label 1; ``border=True`` also marks the square's
    top edge as label 2 (border). float32 ``[4, size, size, 3]`` in [0, 1] and int64
    ``[4, size, size, 1]``; ``size`` a multiple of 8.
    """

    def make(size: int = 64, border: bool = False):
        s = size // 8
        x = np.zeros((4, size, size, 3), np.float32)
        y = np.ones((4, size, size, 1), np.int64)
        for i in range(4):
            top, left = 2 * s, s + s * i
            x[i, top : top + 4 * s, left : left + 4 * s] = [0.9, 0.5, 0.1]
            y[i, top : top + 4 * s, left : left + 4 * s] = 0
            if border:
                y[i, top, left : left + 4 * s] = 2
        return x, y

    return make


@pytest.fixture(autouse=True)
def every_breed_by_default(monkeypatch):
    """Unit tests read folders of made-up breeds (copies of the synthetic set): they run with
    SEGLIB_SUBSET=all whatever the shell set, unless a test sets it (tests/test_subset.py
    checks the lab default)."""
    monkeypatch.setenv("SEGLIB_SUBSET", "all")
    yield
    data.layout._chosen_subset = None  # a test's data.use_subset does not leak into the next
