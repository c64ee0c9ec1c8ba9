"""Shared fixtures. Real-data tests run when SEGLIB_DATA names a directory (CI sets it
to ../shared/data/oxford-iiit-pet-sample) and are skipped otherwise; everything else
runs on the synthetic source, so the suite passes with no data and no network."""

import os
import shutil
from pathlib import Path

from seglib import data

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
