"""The synthetic source (``SEGLIB_DATA=synthetic``): generated stand-in data.

Pet-like blobs with a border band on textured backgrounds, written once in the release
layout to a cache folder, so that every notebook and test runs with no data and no network.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from seglib.data.layout import (
    TRIMAP_BACKGROUND,
    TRIMAP_BORDER,
    TRIMAP_PET,
    _cache_root,
    _move_into_place,
)

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# ---------------------------------------------------------------------------
# The synthetic source
# ---------------------------------------------------------------------------

SYNTHETIC_VERSION = 1


def synthetic_dataset_dir(num_images: int = 60, seed: int = 0, cache_dir=None) -> Path:
    """Return the folder of the synthetic dataset, generating it on first use.

    The folder is written in a temporary place and renamed into the cache
    (``$XDG_CACHE_HOME/seglib`` or ``~/.cache/seglib``), so two processes that ask at
    once never see half a dataset.
    """
    cache = Path(cache_dir) if cache_dir is not None else _cache_root()
    target = cache / f"synthetic-v{SYNTHETIC_VERSION}-n{num_images}-s{seed}"
    if (target / "annotations" / "test.txt").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=cache))
    try:
        write_synthetic_dataset(tmp, num_images, seed)
        _move_into_place(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A striped, noisy RGB background, float in [0, 255]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 215, size=3)
    angle, freq = rng.uniform(0, np.pi), rng.uniform(0.05, 0.3)
    stripes = np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy))
    tint = rng.uniform(-40, 40, size=3)
    noise = rng.normal(0, 12, size=(h, w, 3))
    return np.clip(base + stripes[..., None] * tint + noise, 0, 255)


def _synthetic_pair(rng: np.random.Generator, cat: bool) -> tuple[np.ndarray, np.ndarray]:
    """One photo (uint8 [H, W, 3]) and trimap (uint8 [H, W], values 1, 2, 3)."""
    w, h = int(rng.integers(150, 260)), int(rng.integers(130, 230))
    shape = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(shape)
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.45, 0.65) * h
    bw, bh = rng.uniform(0.18, 0.3) * w, rng.uniform(0.15, 0.25) * h
    draw.ellipse([cx - bw, cy - bh, cx + bw, cy + bh], fill=255)  # body
    hx, hy, r = cx + rng.choice([-1, 1]) * bw * 0.8, cy - bh * 0.9, min(w, h) * 0.12
    draw.ellipse([hx - r, hy - r, hx + r, hy + r], fill=255)  # head
    ear = r * (0.9 if cat else 0.5)
    for side in (-1, 1):  # pointed ears for cats, short ones for dogs
        ex = hx + side * r * 0.6
        draw.polygon(
            [(ex - r * 0.35, hy - r * 0.6), (ex + r * 0.35, hy - r * 0.6), (ex, hy - r - ear)],
            fill=255,
        )
    pet = np.asarray(shape) > 127
    band = 5  # the release's "not classified" band is a few pixels wide around the outline
    grown = np.asarray(shape.filter(ImageFilter.MaxFilter(band))) > 127
    shrunk = np.asarray(shape.filter(ImageFilter.MinFilter(band))) > 127
    trimap = np.full((h, w), TRIMAP_BACKGROUND, np.uint8)
    trimap[pet] = TRIMAP_PET
    trimap[grown & ~shrunk] = TRIMAP_BORDER
    fur = rng.uniform(60, 230, size=3)
    spots = rng.normal(0, 25, size=(h, w, 1)) * (1.0 if cat else 0.3)
    photo = _texture(rng, h, w)
    photo[pet] = np.clip(fur + spots[pet] + rng.normal(0, 8, size=(int(pet.sum()), 3)), 0, 255)
    return photo.astype(np.uint8), trimap


def write_synthetic_dataset(root: str | os.PathLike, num_images: int = 60, seed: int = 0) -> Path:
    """Write a synthetic dataset in the Oxford-IIIT Pet release layout.

    Names follow the release's convention (capitalised breed = cat, lower case = dog):
    ``Synthcat_N`` and ``synthdog_N``. Even indices go to ``trainval``, odd to ``test``.
    Like the real release it holds a grayscale JPEG, an RGBA PNG and a GIF named
    ``.jpg``, and a ``.mat`` file in ``images/``, so the loader's handling of those
    oddities is exercised offline too.

    Args:
        root: folder to write into (created). num_images: pairs (>= 8). seed: RNG seed.

    Returns:
        ``root`` as a Path.
    """
    if num_images < 8:
        raise ValueError(f"num_images must be at least 8, got {num_images}")
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = {"trainval": [], "test": []}
    for i in range(num_images):
        cat = i % 4 < 2
        name = f"Synthcat_{i + 1}" if cat else f"synthdog_{i + 1}"
        photo, trimap = _synthetic_pair(rng, cat)
        image = Image.fromarray(photo)
        path = root / "images" / f"{name}.jpg"
        if i == 2:
            image.convert("L").save(path, format="JPEG", quality=92)
        elif i == 4:
            image.convert("RGBA").save(path, format="PNG")
        elif i == 6:
            image.convert("P").save(path, format="GIF")
        else:
            image.save(path, format="JPEG", quality=92)
        Image.fromarray(trimap).save(root / "annotations" / "trimaps" / f"{name}.png")
        split = "trainval" if i % 2 == 0 else "test"
        lines[split].append(f"{name} {1 if cat else 2} {1 if cat else 2} 1")
    (root / "images" / "Synthcat_1.mat").write_bytes(b"MATLAB 5.0 MAT-file placeholder")
    for split, rows in lines.items():
        (root / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    (root / "annotations" / "list.txt").write_text(
        "\n".join(lines["trainval"] + lines["test"]) + "\n"
    )
    (root / "README").write_text(
        "Synthetic stand-in for Oxford-IIIT Pet written by seglib.data.write_synthetic_dataset.\n"
        "Trimap values: 1 pet, 2 background, 3 border.\n"
    )
    return root
