"""Input pipeline throughput: seglib's tf.data pipeline against a per-batch PIL loader.

The PIL loader is written like the keras.io "U-Net-like architecture" example's
``OxfordPets(keras.utils.Sequence)`` (a ``PyDataset`` in Keras 3): every batch opens,
converts and resizes its files again with PIL, in Python. seglib decodes and resizes in
parallel tf.data maps, caches the resized pairs in memory, and augments after the cache.
"""

from __future__ import annotations

import time

from seglib import data

import keras
import numpy as np
from PIL import Image


class PilPetsSequence(keras.utils.PyDataset):
    """Batches of (float32 [B, S, S, 3] in [0, 1], uint8 [B, S, S, 1] labels 0..2) via PIL."""

    def __init__(self, image_paths, mask_paths, image_size=128, batch_size=16, seed=0):
        super().__init__()
        self.image_paths, self.mask_paths = list(image_paths), list(mask_paths)
        self.size, self.batch_size = image_size, batch_size
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.image_paths) // self.batch_size)

    def __getitem__(self, index):
        lo, hi = index * self.batch_size, (index + 1) * self.batch_size
        images, masks = [], []
        for image_path, mask_path in zip(
            self.image_paths[lo:hi], self.mask_paths[lo:hi], strict=True
        ):
            with Image.open(image_path) as im:
                image = im.convert("RGB").resize((self.size, self.size), Image.BILINEAR)
            with Image.open(mask_path) as m:
                mask = m.resize((self.size, self.size), Image.NEAREST)
            image = np.asarray(image, np.float32) / 255.0
            mask = np.asarray(mask, np.uint8)[..., None] - 1
            if self.rng.random() < 0.5:  # the same flip for photo and mask
                image, mask = image[:, ::-1], mask[:, ::-1]
            images.append(image)
            masks.append(mask)
        return np.stack(images), np.stack(masks)


def _images_per_second(batches) -> tuple[float, int]:
    start, n = time.perf_counter(), 0
    for images, _ in batches:
        n += len(images)
    return n / (time.perf_counter() - start), n


def run(source, image_size=128, batch_size=16, cached_epochs=3) -> dict:
    """Measure and return images/s for both loaders on the training split of ``source``."""
    root = data.resolve_directory(source)
    table = data.scan_directory(root)
    train = table[table["split"] == "train"]

    pipes = data.make_pipelines(root, image_size, batch_size)
    first, n = _images_per_second(pipes.train)
    cached = np.mean([_images_per_second(pipes.train)[0] for _ in range(cached_epochs)])

    sequence = PilPetsSequence(train["image_path"], train["mask_path"], image_size, batch_size)
    pil, _ = _images_per_second(sequence[i] for i in range(len(sequence)))
    return {
        "images": n,
        "seglib_first_epoch": first,
        "seglib_cached": cached,
        "pil_sequence": pil,
    }
