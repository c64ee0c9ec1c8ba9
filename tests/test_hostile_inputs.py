"""A hostile-input corpus across the public entry points (issue 18).

Every case is built in a temporary folder (nothing is committed), run once, and checked
for: the expected outcome (accepted with a correct result, or refused with an error of
the named seglib type whose message names the file or argument); no TensorFlow or
papermill trace in the message or on the console; and no existing file changed (every
file in the working folder is hashed before and after). ``python -m pytest -s`` prints
the tally (accepted correctly / refused clearly).

The serving function is checked separately against :func:`seglib.inference.segment` on
one corpus of photos (:func:`test_serving_model_agrees_with_segment`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from seglib import data, export, inference, runner
from seglib.errors import (
    CalibrationError,
    DataError,
    ExportError,
    ImageError,
    ModelError,
    OutputError,
    SeglibError,
)

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

#: Text that means a raw trace reached the user.
RAW = ("Traceback", "{{function_node", "Graph execution error", "papermill.", "tensorflow.python")
TALLY: Counter = Counter()


# ---------------------------------------------------------------------------
# Helpers: files, models, digests
# ---------------------------------------------------------------------------


def digest(folder: Path) -> dict:
    """``{path: sha256}`` of every regular file under ``folder``."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def photo(height=40, width=60, seed=0) -> np.ndarray:
    """Dark noise with a red block (pet for the colour model) top-left."""
    rng = np.random.default_rng(seed)
    image = rng.integers(60, 140, (height, width, 3)).astype(np.uint8)
    image[: height // 2, : width // 2] = (230, 20, 20)
    return image


def encode(image, fmt="PNG", **kwargs) -> bytes:
    image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@functools.lru_cache(maxsize=4)
def big_png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of ``width x height`` black pixels, streamed (tiny in memory)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # filter byte + pixels
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def cut(content: bytes, share: float) -> bytes:
    return content[: int(len(content) * share)]


def colour_model(size=32) -> keras.Model:
    """Fixed-size model: logits favour the pixel's strongest channel (red -> pet)."""
    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(3, 1, name="logits")
    model = keras.Model(inputs, conv(inputs))
    kernel = 8.0 * (1.5 * np.eye(3) - 0.5)
    conv.set_weights([kernel.reshape(1, 1, 3, 3), np.array([0.0, 1.0, 0.0])])
    return model


def any_size_model() -> keras.Model:
    """A model that takes any size, with a total stride of 4 (a small U-Net)."""
    inputs = keras.Input((None, None, 3))
    down1 = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    down2 = keras.layers.Conv2D(4, 3, strides=2, padding="same")(down1)
    up1 = keras.layers.Conv2DTranspose(4, 2, strides=2)(down2)
    up2 = keras.layers.Conv2DTranspose(4, 2, strides=2)(keras.layers.Concatenate()([up1, down1]))
    logits = keras.layers.Conv2D(3, 1)(keras.layers.Concatenate()([up2, inputs]))
    return keras.Model(inputs, logits)


def sigmoid_model() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="sigmoid")(inputs))


def notebook(path: Path, params="EPOCHS = 3\nSOURCE = 'synthetic'\nLR = 0.001") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(EPOCHS)")]
    nbformat.write(nb, path)
    return path


class Refused(Exception):
    """The runner's command line refused (exit status and what it printed)."""


def run_cli(*args) -> int:
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        status = runner.main([str(a) for a in args])
    if status != 2:
        raise AssertionError(f"runner exit status {status}: {out.getvalue()} {err.getvalue()}")
    if "running" in out.getvalue():
        raise AssertionError("a notebook ran before the refusal")
    raise (
        runner.ParameterError(err.getvalue()) if "-p" in err.getvalue() else Refused(err.getvalue())
    )


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models_():
    fixed = colour_model()
    return SimpleNamespace(fixed=fixed, any=any_size_model())


@pytest.fixture(scope="module")
def litert_file(tmp_path_factory, models_):
    return export.to_litert(models_.fixed, tmp_path_factory.mktemp("lite") / "m.tflite")


@pytest.fixture
def ctx(tmp_path, models_, litert_file, synthetic_dir):
    folder = tmp_path / "work"
    folder.mkdir()
    return SimpleNamespace(
        folder=folder, model=models_.fixed, any=models_.any, litert=litert_file, synth=synthetic_dir
    )


# ---------------------------------------------------------------------------
# The corpus: (id, make(ctx) -> argument, call(argument, ctx) -> result, expected)
# ---------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    make: object
    call: object
    error: type | None = None  # None: accepted
    named: str = ""  # regex the message must match (names the file or argument)
    check: object = None  # for accepted cases: check(result, argument, ctx)


def file_(name, content):
    def make(ctx):
        path = ctx.folder / name
        path.write_bytes(content() if callable(content) else content)
        return path

    return make


def pets(breaker):
    """A copy of the synthetic dataset with ``breaker(root)`` applied."""

    def make(ctx):
        root = ctx.folder / "pets"
        shutil.copytree(ctx.synth, root)
        breaker(root)
        return root

    return make


def trimap(root, name="Synthcat_1"):
    return root / "annotations" / "trimaps" / f"{name}.png"


def jpg(root, name="Synthcat_1"):
    return root / "images" / f"{name}.jpg"


def _truncate(path, keep=0.5):
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep)])


def _garbage_body(path):
    content = path.read_bytes()
    rng = np.random.default_rng(1)
    path.write_bytes(content[:700] + rng.integers(0, 256, len(content) - 700, np.uint8).tobytes())


def _as_tiff(path):
    Image.open(path).convert("RGB").save(path, format="TIFF")


def _sixteen_bit(path):
    values = np.asarray(Image.open(path)).astype(np.uint16)
    Image.fromarray(values).save(path, format="PNG")  # uint16: mode I;16


def _with_value(path, value):
    values = np.asarray(Image.open(path)).copy()
    values[0, 0] = value
    Image.fromarray(values).save(path)


def _as_jpeg_trimap(path):
    Image.open(path).save(path, format="JPEG", quality=95)


def _with_bom(root):
    path = root / "annotations" / "trainval.txt"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _duplicated(root):
    path = root / "annotations" / "trainval.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[0]]) + "\n")


def segment(argument, ctx, **kwargs):
    return inference.segment(argument, ctx.model, **kwargs)


def load_all(root, ctx):
    """Load every split and decode every pair (what training does)."""
    return [
        (np.asarray(i), np.asarray(m))
        for split in ("train", "validation", "test")
        for i, m in data.load(split, root)
    ]


def mask_shape(height, width):
    def check(result, argument, ctx):
        assert result.mask.shape == (height, width)
        assert set(np.unique(result.mask)) <= {0, 1, 2}

    return check


def pairs_are_trimaps(result, argument, ctx):
    assert len(result) == 60
    for image, mask in result:
        assert image.shape[:2] == mask.shape[:2] and image.shape[-1] == 3
        assert set(np.unique(mask)) <= {1, 2, 3} and 1 in np.unique(mask)


def to_int8(root, ctx):
    return export.to_litert(ctx.model, ctx.folder / "m.tflite", "int8", source=root)


def exif_photo(orientation):
    image = Image.fromarray(photo(30, 50))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


def fifo(ctx):
    import os

    path = ctx.folder / "pipe.jpg"
    os.mkfifo(path)
    return path


NOTEBOOK = "a.ipynb"


def nb_(ctx):
    notebook(ctx.folder / NOTEBOOK)
    return ctx.folder / NOTEBOOK


def linked(ctx):
    source = nb_(ctx)
    (ctx.folder / "out").mkdir()
    (ctx.folder / "out" / NOTEBOOK).symlink_to(source)
    return source


CASES = [
    # --- photos through inference.segment / load_image ----------------------------------
    Case("empty file", file_("e.jpg", b""), segment, ImageError, r"e\.jpg: the file is empty"),
    Case(
        "text named .jpg",
        file_("t.jpg", b"hello " * 50),
        segment,
        ImageError,
        r"t\.jpg: not an image",
    ),
    Case(
        "html named .png",
        file_("h.png", b"<html><body>404</body></html>" * 9),
        segment,
        ImageError,
        r"h\.png: not an image",
    ),
    Case(
        "truncated JPEG",
        file_("tr.jpg", lambda: cut(encode(photo(), "JPEG"), 0.7)),
        segment,
        ImageError,
        r"tr\.jpg: .*truncated",
    ),
    Case(
        "truncated PNG",
        file_("tr.png", lambda: encode(photo())[:-40]),
        segment,
        ImageError,
        r"tr\.png: .*(truncated|corrupt)",
    ),
    Case(
        "decompression bomb 20000x20000",
        file_("bomb.png", lambda: big_png(20000, 20000)),
        segment,
        ImageError,
        r"bomb\.png: .*(pixel limit|decompression)",
    ),
    Case(
        "1x1 photo", file_("one.png", lambda: encode(photo(1, 1))), segment, check=mask_shape(1, 1)
    ),
    Case(
        "10000x50 photo",
        file_("long.png", lambda: encode(photo(50, 10000))),
        segment,
        check=mask_shape(50, 10000),
    ),
    Case(
        "TIFF named .jpg",
        file_("tiff.jpg", lambda: encode(photo(), "TIFF")),
        segment,
        check=mask_shape(40, 60),
    ),
    Case("FIFO", fifo, segment, ImageError, r"pipe\.jpg: "),
    Case("a folder", lambda ctx: ctx.folder, segment, ImageError, r"work: is a folder"),
    Case("empty path", lambda ctx: "", segment, ImageError, r"'': the path is empty"),
    Case(
        "unknown ~user",
        lambda ctx: "~nouser_seglib/x.jpg",
        segment,
        ImageError,
        r"~nouser_seglib/x\.jpg: cannot expand",
    ),
    Case(
        "float array with NaN",
        lambda ctx: np.full((8, 8, 3), np.nan, np.float32),
        segment,
        ImageError,
        r"<array>: .*NaN",
    ),
    Case(
        "PIL float image with NaN",
        lambda ctx: Image.fromarray(np.full((8, 8), np.nan, np.float32)),
        segment,
        ImageError,
        r"NaN",
    ),
    Case(
        "RGBA PNG",
        file_("rgba.png", lambda: encode(np.dstack([photo(), np.full((40, 60), 128, np.uint8)]))),
        segment,
        check=mask_shape(40, 60),
    ),
    Case(
        "EXIF rotated JPEG",
        file_("exif.jpg", lambda: exif_photo(6)),
        segment,
        check=mask_shape(50, 30),
    ),
    Case(
        "16-bit PNG",
        file_(
            "w.png",
            lambda: encode(Image.fromarray(photo()[..., 0].astype(np.uint16) * 257)),
        ),
        segment,
        check=mask_shape(40, 60),
    ),
    # --- segment's arguments and model files ---------------------------------------------
    Case(
        "input_size=0",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.any, input_size=0),
        ModelError,
        r"input_size=0: .*multiples of 4",
    ),
    Case(
        "input_size=50, stride 4",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.any, input_size=50),
        ModelError,
        r"input_size=50: .*multiples of 4.*8, 12, 16",
    ),
    Case(
        "input_size=(64, 'a')",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.any, input_size=(64, "a")),
        ModelError,
        r"input_size=\(64, 'a'\)",
    ),
    Case(
        "input_size=48, stride 4",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.any, input_size=48),
        check=mask_shape(40, 60),
    ),
    Case(
        "input_size on a fixed model",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.model, input_size=64),
        ModelError,
        r"input_size=64: this model takes only 32x32",
    ),
    Case(
        "empty .keras",
        file_("m.keras", b""),
        lambda a, c: inference.load_model(a),
        ModelError,
        r"m\.keras: the model file is empty",
    ),
    Case(
        "text as .keras",
        file_("m.keras", b"not a model"),
        lambda a, c: inference.load_model(a),
        ModelError,
        r"m\.keras: not a Keras model",
    ),
    Case(
        "truncated .keras",
        lambda ctx: _truncated_keras(ctx),
        lambda a, c: inference.load_model(a),
        ModelError,
        r"m\.keras: not a (loadable )?Keras model",
    ),
    Case(
        "sigmoid last layer",
        lambda ctx: sigmoid_model(),
        lambda a, c: inference.check_model(a, "sig"),
        ModelError,
        r"sig: .*applies sigmoid",
    ),
    Case(
        "load_model('')",
        lambda ctx: "",
        lambda a, c: inference.load_model(a),
        ModelError,
        r"the path is empty",
    ),
    # --- datasets through data.load (and int8 calibration from them) ---------------------
    Case(
        "truncated photo",
        pets(lambda r: _truncate(jpg(r))),
        load_all,
        DataError,
        r"Synthcat_1\.jpg: photo cannot be decoded",
    ),
    Case(
        "garbage JPEG body",
        pets(lambda r: _garbage_body(jpg(r, "synthdog_4"))),
        load_all,
        DataError,
        r"synthdog_4\.jpg: ",
    ),
    Case(
        "TIFF named .jpg in the dataset",
        pets(lambda r: _as_tiff(jpg(r))),
        load_all,
        DataError,
        r"Synthcat_1\.jpg: the file is a TIFF image",
    ),
    Case(
        "truncated trimap",
        pets(lambda r: _truncate(trimap(r), 0.6)),
        load_all,
        DataError,
        r"Synthcat_1\.png: trimap",
    ),
    Case(
        "16-bit trimap", pets(lambda r: _sixteen_bit(trimap(r))), load_all, check=pairs_are_trimaps
    ),
    Case(
        "trimap value 7",
        pets(lambda r: _with_value(trimap(r), 7)),
        load_all,
        DataError,
        r"Synthcat_1\.png: trimap values must be .*found 7",
    ),
    Case(
        "trimap value 0",
        pets(lambda r: _with_value(trimap(r), 0)),
        load_all,
        DataError,
        r"Synthcat_1\.png: .*found 0",
    ),
    Case(
        "JPEG trimap",
        pets(lambda r: _as_jpeg_trimap(trimap(r))),
        load_all,
        DataError,
        r"Synthcat_1\.png: trimap is a JPEG",
    ),
    Case(
        "RGB trimap",
        pets(lambda r: Image.open(trimap(r)).convert("RGB").save(trimap(r))),
        load_all,
        DataError,
        r"Synthcat_1\.png: .*single-channel",
    ),
    Case(
        "size mismatch",
        pets(lambda r: Image.open(trimap(r)).resize((9, 7)).save(trimap(r))),
        load_all,
        DataError,
        r"Synthcat_1\.png: trimap is 9x7",
    ),
    Case("BOM in split list", pets(_with_bom), load_all, check=pairs_are_trimaps),
    Case(
        "duplicated line",
        pets(_duplicated),
        load_all,
        DataError,
        r"trainval\.txt, line \d+: Synthcat_1 is listed twice \(first on line 1\)",
    ),
    Case(
        "missing photo",
        pets(lambda r: jpg(r).unlink()),
        load_all,
        DataError,
        r"Synthcat_1\.jpg: image file is missing",
    ),
    Case(
        "int8 calibration from a truncated photo",
        pets(lambda r: _truncate(jpg(r, "Synthcat_5"))),
        to_int8,
        DataError,
        r"Synthcat_5\.jpg: photo cannot be decoded",
    ),
    # --- export arguments ------------------------------------------------------------------
    Case(
        "calibration full of NaN",
        lambda ctx: np.full((2, 32, 32, 3), np.nan, np.float32),
        lambda a, c: export.to_litert(c.model, c.folder / "n.tflite", "int8", calibration=a),
        ExportError,
        r"calibration image 1 .*NaN",
    ),
    Case(
        "calibration in 0..255",
        lambda ctx: np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32),
        lambda a, c: export.to_litert(c.model, c.folder / "n.tflite", "int8", calibration=a),
        ExportError,
        r"calibration image 1 .*values 0\.\d+\.\.25\d",
    ),
    Case(
        "LiteRT given NaN",
        lambda ctx: np.full((1, 32, 32, 3), np.nan, np.float32),
        lambda a, c: export.LiteRTModel(c.litert)(a),
        ExportError,
        r"m\.tflite: .*NaN",
    ),
    Case(
        "LiteRT file of garbage",
        file_("g.tflite", b"\0garbage" * 64),
        lambda a, c: export.LiteRTModel(a),
        ExportError,
        r"g\.tflite: not a loadable LiteRT model",
    ),
    Case(
        "export over an existing file",
        file_("old.tflite", b"keep me"),
        lambda a, c: export.to_litert(c.model, a),
        ExportError,
        r"old\.tflite: already exists",
    ),
    Case(
        "unknown quantization",
        lambda ctx: ctx.folder / "q.tflite",
        lambda a, c: export.to_litert(c.model, a, "int4"),
        ExportError,
        r"unknown quantization 'int4'",
    ),
    Case(
        "serving max_pixels=0",
        lambda ctx: 0,
        lambda a, c: export.serving_model(c.model, a),
        ExportError,
        r"max_pixels must be a positive int, got 0",
    ),
    # --- saving results --------------------------------------------------------------------
    Case(
        "target folder is a file",
        file_("afile", b"mine"),
        lambda a, c: inference.save_outputs(photo(), a, mask=np.zeros((40, 60), np.uint8)),
        OutputError,
        r"afile: is a file, not a folder",
    ),
    Case(
        "mask value 7",
        lambda ctx: ctx.folder / "out",
        lambda a, c: inference.save_outputs(photo(), a, mask=np.full((40, 60), 7, np.uint8)),
        ImageError,
        r"mask: labels must be 0 .*found 7",
    ),
    Case(
        "saving next to an earlier set",
        lambda ctx: _earlier_set(ctx),
        lambda a, c: inference.save_outputs(photo(), a, "cat", mask=np.zeros((40, 60), np.uint8)),
        check=lambda r, a, c: _second_set(r, a),
    ),
    # --- runner arguments ------------------------------------------------------------------
    Case(
        "runner: misspelt parameter",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "-p", "EPOCH=5"),
        runner.ParameterError,
        r"-p EPOCH: a\.ipynb has no parameter 'EPOCH'\. Did you mean EPOCHS\?",
    ),
    Case(
        "runner: word for an int",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "-p", "EPOCHS=five"),
        runner.ParameterError,
        r"-p EPOCHS=five: not a Python literal",
    ),
    Case(
        "runner: broken list",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "-p", "EPOCHS=[1,2"),
        runner.ParameterError,
        r"-p EPOCHS=\[1,2: not a Python literal",
    ),
    Case(
        "runner: empty value",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "-p", "EPOCHS="),
        runner.ParameterError,
        r"-p EPOCHS=: empty value",
    ),
    Case(
        "runner: tuple for a float",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "-p", "LR=(1,2)"),
        runner.ParameterError,
        r"-p LR=\(1,2\): \(1, 2\) is tuple, but LR expects float",
    ),
    Case(
        "runner: out = source folder",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder),
        Refused,
        r"would replace the source notebook .*a\.ipynb",
    ),
    Case(
        "runner: out holds a link to the source",
        linked,
        lambda a, c: run_cli(a, "--out", c.folder / "out"),
        Refused,
        r"would replace the source notebook",
    ),
    Case(
        "runner: a missing notebook after a good one",
        nb_,
        lambda a, c: run_cli(a, c.folder / "missing.ipynb", "--out", c.folder / "b"),
        Refused,
        r"no such notebook: .*missing\.ipynb",
    ),
]


# ---------------------------------------------------------------------------
# Round two (issue 33): bombs under the limit, links and devices, dataset leaks, contracts
# ---------------------------------------------------------------------------


def lying_jpeg(width=7000, height=7000) -> bytes:
    """An 8x8 JPEG whose header (SOF0) declares ``width x height``: a few hundred bytes."""
    content = bytearray(encode(np.full((8, 8, 3), 128, np.uint8), "JPEG"))
    sof = content.find(b"\xff\xc0")
    content[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(content)


def lying_gif(width=7000, height=7000) -> bytes:
    """A 1x1 GIF whose logical screen (canvas) declares ``width x height``."""
    content = bytearray(encode(Image.fromarray(np.full((1, 1), 3, np.uint8)), "GIF"))
    content[6:10] = struct.pack("<HH", width, height)
    return bytes(content)


def short_png(width=7000, height=7000) -> bytes:
    """A PNG header of ``width x height`` whose image data is one compressed row."""
    full = big_png(width, 1)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    ihdr = b"IHDR" + header
    chunk = struct.pack(">I", len(header)) + ihdr + struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    return full[:8] + chunk + full[8 + 25 :]


def flat_4bit_png() -> bytes:
    """A real 3000x3000 palette PNG at 4 bits per pixel, one colour: deflate packs its 4.5 MB
    of scanlines into about 8 KB (a size check that assumed 8 bits would refuse it)."""
    im = Image.new("P", (3000, 3000), 2)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (252 * 3))
    buffer = io.BytesIO()
    im.save(buffer, "PNG", bits=4, optimize=True)
    return buffer.getvalue()


def link_loop(ctx):
    (ctx.folder / "a.jpg").symlink_to(ctx.folder / "b.jpg")
    (ctx.folder / "b.jpg").symlink_to(ctx.folder / "a.jpg")
    return ctx.folder / "a.jpg"


def dangling(ctx):
    (ctx.folder / "gone.jpg").symlink_to(ctx.folder / "missing.jpg")
    return ctx.folder / "gone.jpg"


def keras_with_config(size: int, name: str = "bomb.keras"):
    """A zip archive named ``.keras`` whose config.json unpacks to ``size`` bytes."""

    def make(ctx):
        path = ctx.folder / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", "{}")
            archive.writestr("config.json", b"{" + b" " * (size - 2) + b"}")
        return path

    return make


def keras_named_h5(ctx):
    colour_model().save(ctx.folder / "m.keras")
    (ctx.folder / "m.keras").rename(ctx.folder / "m.h5")
    return ctx.folder / "m.h5"


def _listed_in_both(root):
    name = read_names(root, "test")[0]
    with open(root / "annotations" / "trainval.txt", "a") as f:
        f.write(f"{name} 1 1 1\n")


def read_names(root, split):
    return [
        line.split()[0]
        for line in (root / "annotations" / f"{split}.txt").read_text().splitlines()
        if line.strip()
    ]


def _with_line(text):
    def breaker(root):
        with open(root / "annotations" / "trainval.txt", "a") as f:
            f.write(text + "\n")

    return breaker


def _only_lines(count):
    def breaker(root):
        path = root / "annotations" / "trainval.txt"
        path.write_text("\n".join(path.read_text().splitlines()[:count]) + "\n")

    return breaker


def _palette(path, value=None):
    values = np.asarray(Image.open(path)).copy()
    if value is not None:
        values[0, 0] = value
    im = Image.new("P", (values.shape[1], values.shape[0]))
    im.putpalette([0, 0, 0, 200, 50, 50, 50, 200, 50, 50, 50, 200] + [0] * (252 * 3))
    im.putdata(values.ravel().tolist())
    im.save(path)


def load_split(split, **kwargs):
    def call(root, ctx):
        return [np.asarray(m) for _, m in data.load(split, root, **kwargs)]

    return call


def synth_load(**kwargs):
    return lambda a, c: data.load("train", c.synth, **kwargs)


def save(**kwargs):
    def call(argument, ctx):
        return inference.save_outputs(argument, ctx.folder / "out", "p", **kwargs)

    return call


def one_hot_saved(result, argument, ctx):
    labels = np.asarray(Image.open(result["mask"]))
    assert labels.shape == (40, 60) and labels[0, 0] == 0 and labels[-1, -1] == 1


def umask_modes(result, argument, ctx):
    mask = os.umask(0)
    os.umask(mask)
    for path in result.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


def one_hot(height=40, width=60):
    labels = np.ones((height, width), np.int64)
    labels[: height // 2, : width // 2] = 0
    return np.eye(3, dtype=np.float32)[labels]


def run_litert(images, ctx):
    return export.LiteRTModel(ctx.litert)(images)


def raises_fast(call, seconds=20.0):
    def timed(argument, ctx):
        start = time.perf_counter()
        try:
            return call(argument, ctx)
        finally:
            assert time.perf_counter() - start < seconds, "refused only after the work"

    return timed


def not_a_tensor_trace(result, argument, ctx):
    assert result == []


CASES_TWO = [
    # --- files whose data cannot fill their declared size ------------------------------
    Case(
        "JPEG header 7000x7000, data for 8x8",
        file_("lie.jpg", lying_jpeg),
        segment,
        ImageError,
        r"lie\.jpg: the JPEG header declares 7000x7000 pixels, but the file holds only",
    ),
    Case(
        "JPEG header 7000x7000 through load_image",
        file_("lie2.jpg", lying_jpeg),
        lambda a, c: inference.load_image(a),
        ImageError,
        r"lie2\.jpg: the JPEG header declares",
    ),
    Case(
        "JPEG header 7000x7000 as bytes",
        lambda ctx: lying_jpeg(),
        segment,
        ImageError,
        r"<bytes>: the JPEG header declares",
    ),
    Case(
        "GIF canvas 7000x7000, frame 1x1",
        file_("canvas.gif", lying_gif),
        segment,
        ImageError,
        r"canvas\.gif: the GIF declares a 7000x7000 canvas, but its first frame covers only 1x1",
    ),
    Case(
        "PNG header 7000x7000, data for one row",
        file_("short.png", short_png),
        segment,
        ImageError,
        r"short\.png: the PNG header declares 7000x7000 pixels",
    ),
    Case(
        "real 7000x7000 PNG over a chosen limit",
        file_("real.png", lambda: big_png(7000, 7000)),
        lambda a, c: inference.segment(a, c.model, max_pixels=10_000_000),
        ImageError,
        r"real\.png: 7000x7000 = 49\.0 megapixels is over the pixel limit of 10\.0",
    ),
    Case(
        "genuine 4-bit palette PNG, 8 KB for 3000x3000",
        lambda ctx: flat_4bit_png(),
        lambda a, c: inference.load_image(a),
        check=lambda r, a, c: r.shape == (3000, 3000, 3) or pytest.fail(f"{r.shape}"),
    ),
    Case(
        "small GIF whose canvas is twice its frame",
        file_("pad.gif", lambda: lying_gif(2, 1)),
        segment,
        check=mask_shape(1, 2),
    ),
    # --- paths that are not photo files ----------------------------------------------------
    Case("/dev/zero", lambda ctx: "/dev/zero", segment, ImageError, r"/dev/zero: is a device"),
    Case(
        "/proc/self/status",
        lambda ctx: "/proc/self/status",
        segment,
        ImageError,
        r"/proc/self/status: not an image",
    ),
    Case("symlink loop", link_loop, segment, ImageError, r"a\.jpg: a symbolic link that loops"),
    Case(
        "dangling symlink",
        dangling,
        segment,
        ImageError,
        r"gone\.jpg: a link to a file that does not exist",
    ),
    Case(
        "symlink to a photo",
        lambda ctx: _linked_photo(ctx),
        segment,
        check=mask_shape(40, 60),
    ),
    # --- arguments of segment and load_image ---------------------------------------------------
    Case(
        "max_pixels=-1",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.model, max_pixels=-1),
        ImageError,
        r"max_pixels=-1: give the largest number of pixels",
    ),
    Case(
        "max_pixels='big'",
        lambda ctx: photo(),
        lambda a, c: inference.load_image(a, max_pixels="big"),
        ImageError,
        r"max_pixels='big': ",
    ),
    Case(
        "max_pixels=True",
        lambda ctx: photo(),
        lambda a, c: inference.load_image(a, max_pixels=True),
        ImageError,
        r"max_pixels=True: ",
    ),
    Case(
        "max_pixels=None on a small photo",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.model, max_pixels=None),
        check=mask_shape(40, 60),
    ),
    Case(
        "TTA scale 1e6",
        lambda ctx: (1e6,),
        lambda a, c: inference.TTA(scales=a),
        CalibrationError,
        r"TTA scales must be at most 4",
    ),
    Case(
        "TTA scale 0",
        lambda ctx: (0.0, 1.0),
        lambda a, c: inference.TTA(scales=a),
        CalibrationError,
        r"finite numbers above 0",
    ),
    Case(
        "TTA scale NaN",
        lambda ctx: (float("nan"),),
        lambda a, c: inference.TTA(scales=a),
        CalibrationError,
        r"finite numbers above 0",
    ),
    Case(
        "TTA scale 4 on a photo",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.model, tta=inference.TTA(scales=(4.0,), flip=False)),
        check=mask_shape(40, 60),
    ),
    Case(
        "tta='yes'",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.model, tta="yes"),
        CalibrationError,
        r"tta must be True",
    ),
    Case(
        "temperature=-1",
        lambda ctx: photo(),
        lambda a, c: inference.segment(a, c.model, temperature=-1),
        CalibrationError,
        r"temperature must be a finite number above 0",
    ),
    Case(
        "0x0 array",
        lambda ctx: np.zeros((0, 0, 3), np.uint8),
        segment,
        ImageError,
        r"<array>: the image has no pixels \(0x0\)",
    ),
    Case(
        "5-D array",
        lambda ctx: np.zeros((1, 1, 8, 8, 3), np.uint8),
        segment,
        ImageError,
        r"<array>: expected an image array",
    ),
    Case(
        "int64 array with 300",
        lambda ctx: np.full((8, 8, 3), 300, np.int64),
        segment,
        ImageError,
        r"<array>: an integer image must hold values in 0\.\.255",
    ),
    Case(
        "complex array",
        lambda ctx: np.zeros((8, 8, 3), np.complex64),
        segment,
        ImageError,
        r"unsupported array dtype complex64",
    ),
    Case(
        "float64 photo in 0..255",
        lambda ctx: photo().astype(np.float64),
        segment,
        ImageError,
        r"<array>: a float image must hold values in \[0, 1\]",
    ),
    Case("bool array", lambda ctx: np.eye(8, dtype=bool), segment, check=mask_shape(8, 8)),
    Case(
        "uint16 array",
        lambda ctx: photo().astype(np.uint16) * 257,
        segment,
        check=mask_shape(40, 60),
    ),
    Case("None as a photo", lambda ctx: None, segment, ImageError, r"expected a file path"),
    Case("a dict as a photo", lambda ctx: {"a": 1}, segment, ImageError, r"got dict"),
    # --- model files ------------------------------------------------------------------------------
    Case(
        ".keras whose config.json unpacks to 40 MB",
        keras_with_config(40 * 1024 * 1024),
        raises_fast(lambda a, c: inference.load_model(a)),
        ModelError,
        r"bomb\.keras: its config\.json unpacks to more than 32 MiB",
    ),
    Case(
        ".keras renamed .h5",
        keras_named_h5,
        lambda a, c: inference.load_model(a),
        ModelError,
        r"m\.h5: this is a Keras 3 model archive .*rename it to m\.keras",
    ),
    Case(
        "zip without a model",
        keras_with_config(100, "empty.keras"),
        lambda a, c: inference.load_model(a),
        ModelError,
        r"empty\.keras: not a loadable Keras model",
    ),
    # --- datasets that leak or escape ------------------------------------------------------
    Case(
        "name in both trainval and test",
        pets(_listed_in_both),
        load_all,
        DataError,
        r"is listed in both trainval\.txt \(line \d+\) and test\.txt \(line \d+\)",
    ),
    Case(
        "list line ../secret/x",
        pets(_with_line("../secret/x 1 1 1")),
        load_all,
        DataError,
        r"trainval\.txt, line \d+: '\.\./secret/x' is not a photo name",
    ),
    Case(
        "list line sub/x",
        pets(_with_line("sub/x 1 1 1")),
        load_all,
        DataError,
        r"'sub/x' is not a photo name",
    ),
    Case(
        "list line with a backslash",
        pets(_with_line("sub\\x 1 1 1")),
        load_all,
        DataError,
        r"is not a photo name",
    ),
    Case(
        "list line .hidden",
        pets(_with_line(".hidden 1 1 1")),
        load_all,
        DataError,
        r"'\.hidden' is not a photo name",
    ),
    Case(
        "limit=-1",
        lambda ctx: -1,
        lambda a, c: data.load("train", c.synth, limit=a),
        DataError,
        r"limit=-1: give the number of photos",
    ),
    Case(
        "limit='5'",
        lambda ctx: "5",
        lambda a, c: data.load("train", c.synth, limit=a),
        DataError,
        r"limit='5': ",
    ),
    Case(
        "limit=2.5",
        lambda ctx: 2.5,
        lambda a, c: data.load("train", c.synth, limit=a),
        DataError,
        r"limit=2\.5: ",
    ),
    Case(
        "limit=True",
        lambda ctx: True,
        lambda a, c: data.load("train", c.synth, limit=a),
        DataError,
        r"limit=True: ",
    ),
    Case(
        "limit=0",
        lambda ctx: 0,
        lambda a, c: data.load("test", c.synth, limit=a),
        DataError,
        r"the test split is empty: limit=0 keeps no photo",
    ),
    Case(
        "IndexedSplit limit=-3",
        lambda ctx: -3,
        lambda a, c: data.IndexedSplit("test", c.synth, limit=a),
        DataError,
        r"limit=-3: ",
    ),
    Case(
        "limit=5 keeps five",
        lambda ctx: 5,
        lambda a, c: len(list(data.load("train", c.synth, limit=a))),
        check=lambda r, a, c: r == 5 or pytest.fail(f"{r} pairs"),
    ),
    Case(
        "trainval too small for a validation photo",
        pets(_only_lines(2)),
        load_split("validation"),
        DataError,
        r"the validation split is empty: no trainval photo falls in the validation carve",
    ),
    Case(
        "palette trimap holding 1..3",
        pets(lambda r: _palette(trimap(r))),
        load_all,
        check=pairs_are_trimaps,
    ),
    Case(
        "palette trimap holding 7",
        pets(lambda r: _palette(trimap(r), 7)),
        load_all,
        DataError,
        r"Synthcat_1\.png: trimap values must be .*found 7",
    ),
    # --- saving results -------------------------------------------------------------------------
    Case("one-hot mask", lambda ctx: photo(), save(mask=one_hot()), check=one_hot_saved),
    Case(
        "float64 photo in 0..255 to save_outputs",
        lambda ctx: photo().astype(np.float64),
        save(mask=np.zeros((40, 60), np.uint8)),
        ImageError,
        r"image: a float image must hold values in \[0, 1\]",
    ),
    Case(
        "classes=(1.5,)",
        lambda ctx: photo(),
        save(mask=np.zeros((40, 60), np.uint8), classes=(1.5,)),
        ImageError,
        r"classes: 1\.5 is not a class",
    ),
    Case(
        "classes=()",
        lambda ctx: photo(),
        save(mask=np.zeros((40, 60), np.uint8), classes=()),
        ImageError,
        r"classes is empty",
    ),
    Case(
        "classes=(True,)",
        lambda ctx: photo(),
        save(mask=np.zeros((40, 60), np.uint8), classes=(True,)),
        ImageError,
        r"classes: True is not a class",
    ),
    Case(
        "0x0 photo to save_outputs",
        lambda ctx: np.zeros((0, 0, 3), np.uint8),
        save(mask=np.zeros((0, 0), np.uint8)),
        ImageError,
        r"image: the image has no pixels",
    ),
    Case(
        "mask of another photo",
        lambda ctx: photo(),
        save(mask=np.zeros((30, 60), np.uint8)),
        ImageError,
        r"mask: it is 60x30 but the photo is 60x40",
    ),
    Case(
        "mask [H, W, 2]",
        lambda ctx: photo(),
        save(mask=np.zeros((40, 60, 2), np.uint8)),
        ImageError,
        r"mask: expected labels \[H, W\]",
    ),
    Case(
        "mask of NaN",
        lambda ctx: photo(),
        save(mask=np.full((40, 60), np.nan)),
        ImageError,
        r"mask: labels must be 0",
    ),
    Case(
        "saved PNGs get the umask's permissions",
        lambda ctx: photo(),
        save(mask=np.zeros((40, 60), np.uint8)),
        check=umask_modes,
    ),
    Case(
        "remove_background with a one-hot mask",
        lambda ctx: photo(),
        lambda a, c: inference.remove_background(a, one_hot()),
        check=lambda r, a, c: (
            r.shape == (40, 60, 4) and (r[:20, :30, 3] == 255).all() or pytest.fail("wrong cut-out")
        ),
    ),
    Case(
        "uploaded_files({'a.jpg': 5})",
        lambda ctx: {"a.jpg": 5},
        lambda a, c: inference.uploaded_files(a),
        ImageError,
        r"uploaded files: expected a FileUpload widget's \.value",
    ),
    Case(
        "uploaded_files([{'name': 'x'}])",
        lambda ctx: [{"name": "x"}],
        lambda a, c: inference.uploaded_files(a),
        ImageError,
        r"uploaded files: .*got list",
    ),
    Case(
        "uploaded_files('text')",
        lambda ctx: "text",
        lambda a, c: inference.uploaded_files(a),
        ImageError,
        r"uploaded files: .*got str",
    ),
    Case(
        "uploaded_files(None)",
        lambda ctx: None,
        lambda a, c: inference.uploaded_files(a),
        check=not_a_tensor_trace,
    ),
    # --- export --------------------------------------------------------------------------------------
    Case(
        "LiteRT given uint8 0..255",
        lambda ctx: (np.ones((1, 32, 32, 3)) * 200).astype(np.uint8),
        run_litert,
        ExportError,
        r"m\.tflite: images must be float32 in \[0, 1\] .*got dtype uint8",
    ),
    Case(
        "LiteRT given float 0..255",
        lambda ctx: np.full((1, 32, 32, 3), 200.0, np.float32),
        run_litert,
        ExportError,
        r"images must hold values in \[0, 1\], got 200\.\.200",
    ),
    Case(
        "LiteRT batch of 0",
        lambda ctx: np.zeros((0, 32, 32, 3), np.float32),
        run_litert,
        ExportError,
        r"expected a batch of at least one image",
    ),
    Case(
        "LiteRT given RGBA",
        lambda ctx: np.zeros((1, 32, 32, 4), np.float32),
        run_litert,
        ExportError,
        r"got shape \(1, 32, 32, 4\)",
    ),
    Case(
        "to_litert under a file",
        file_("afile", b"mine"),
        raises_fast(lambda a, c: export.to_litert(c.model, a / "m.tflite"), 5.0),
        ExportError,
        r"afile/m\.tflite: cannot be created: .*afile is a file, not a folder",
    ),
    Case(
        "save_serving_model under a file",
        file_("bfile", b"mine"),
        raises_fast(lambda a, c: export.save_serving_model(c.model, a / "serving"), 5.0),
        ExportError,
        r"bfile/serving: cannot be created",
    ),
    # --- runner -------------------------------------------------------------------------------------
    Case(
        "runner: a 5000-digit value",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "-p", "EPOCHS=" + "9" * 5000),
        runner.ParameterError,
        r"-p EPOCHS=9{60}\.\.\. \(5,000 characters\): the value is 5,000 characters long",
    ),
    Case(
        "runner: a 2000-character string",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "-p", "SOURCE=" + "x" * 2000),
        runner.ParameterError,
        r"the value is 2,000 characters long",
    ),
    Case(
        "runner: --timeout 0",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "--timeout", "0"),
        Refused,
        r"--timeout 0: give the seconds a cell may run",
    ),
    Case(
        "runner: --timeout -5",
        nb_,
        lambda a, c: run_cli(a, "--out", c.folder / "b", "--timeout", "-5"),
        Refused,
        r"--timeout -5: ",
    ),
]


def _linked_photo(ctx):
    (ctx.folder / "real.png").write_bytes(encode(photo()))
    (ctx.folder / "link.png").symlink_to(ctx.folder / "real.png")
    return ctx.folder / "link.png"


CASES = CASES + CASES_TWO


def _truncated_keras(ctx):
    path = ctx.folder / "full.keras"
    colour_model().save(path)
    content = path.read_bytes()
    path.unlink()
    (ctx.folder / "m.keras").write_bytes(content[: len(content) // 2])
    return ctx.folder / "m.keras"


def _earlier_set(ctx):
    out = ctx.folder / "out"
    inference.save_outputs(photo(), out, "cat", mask=np.ones((40, 60), np.uint8))
    return out


def _second_set(result, out):
    assert result["mask"].name == "cat-2_mask.png"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}_{k}.png" for s in ("cat", "cat-2") for k in ("mask", "overlay", "cutout")
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case, ctx, capfd):
    argument = case.make(ctx)
    before = digest(ctx.folder)
    outcome, result = None, None
    try:
        result = case.call(argument, ctx)
    except Exception as e:  # judged below
        outcome = e
    after = digest(ctx.folder)
    console = "".join(capfd.readouterr())
    assert [p for p, h in before.items() if after.get(p) != h] == [], "an existing file changed"
    assert not [p for p in after if p.endswith(".part")], "a temporary file was left"
    assert "Traceback" not in console
    if case.error is None:
        assert outcome is None, f"refused: {type(outcome).__name__}: {outcome}"
        case.check(result, argument, ctx)
        TALLY["accepted correctly"] += 1
        return
    assert isinstance(outcome, case.error), f"{type(outcome).__name__}: {outcome}"
    assert isinstance(outcome, (SeglibError, Refused))
    message = str(outcome)
    assert re.search(case.named, message), message
    assert not [raw for raw in RAW if raw in message], message
    TALLY["refused clearly"] += 1


def test_corpus_size():
    assert len(CASES) >= 120
    assert len({c.id for c in CASES}) == len(CASES)


# ---------------------------------------------------------------------------
# The serving function against segment, on one corpus of photos
# ---------------------------------------------------------------------------


def _photos() -> dict:
    """``{name: bytes or list of bytes}``: good, odd and bad photos."""
    base = photo(48, 64, seed=3)
    rgba = np.dstack([base, np.random.default_rng(4).integers(0, 256, (48, 64), np.uint8)])
    palette = Image.fromarray(base).convert("P")
    corpus = {
        "jpeg": encode(base, "JPEG", quality=90),
        "grey jpeg": encode(Image.fromarray(base).convert("L"), "JPEG"),
        "png": encode(base),
        "rgba png": encode(rgba),
        "la png": encode(Image.fromarray(rgba).convert("LA")),
        "palette png with transparency": encode(palette, "PNG", transparency=0),
        "16-bit png": encode(Image.fromarray(base[..., 1].astype(np.uint16) * 257)),
        "gif": encode(base, "GIF"),
        "bmp": encode(base, "BMP"),
        "1x1 png": encode(photo(1, 1)),
        "3000x20 png": encode(photo(20, 3000)),
        "empty": b"",
        "text": b"just some words, not a photo" * 4,
        "html": b"<!doctype html><title>404</title>" * 4,
        "text starting with BM": b"BMW is a car, not a photo, and this is text. " * 4,
        "random bytes": np.random.default_rng(5).integers(0, 256, 999, np.uint8).tobytes(),
        "truncated jpeg": encode(base, "JPEG")[:700],
        "truncated jpeg (header only)": encode(base, "JPEG")[:200],
        "truncated png": encode(base)[:-30],
        "20000x20000 png": big_png(20000, 20000),
        "9000x9000 png": big_png(9000, 9000),
        "batch of two": [encode(base), encode(base)],
    }
    for orientation in range(1, 9):
        corpus[f"exif orientation {orientation}"] = exif_photo(orientation)
    return corpus


def test_serving_model_documented_differences():
    """TIFF and WebP: segment reads them (Pillow), the graph refuses them by name; a PNG's
    EXIF orientation: segment turns the photo, the graph keeps the stored orientation."""
    model = colour_model()
    module = export.serving_model(model)  # keep it: serve holds only a weak reference
    serve = module.serve
    base = photo(30, 50)
    for fmt in ("TIFF", "WEBP"):
        content = encode(base, fmt)
        assert inference.segment(content, model).mask.shape == (30, 50)
        with pytest.raises(tf.errors.InvalidArgumentError, match="not a JPEG, PNG, GIF or BMP"):
            serve(tf.constant(content))
    exif = Image.Exif()
    exif[0x0112] = 6
    content = encode(base, "PNG", exif=exif.tobytes())
    assert inference.segment(content, model).mask.shape == (50, 30)
    assert serve(tf.constant(content))["mask"].shape == (30, 50)


def test_serving_model_agrees_with_segment(tmp_path):
    model = colour_model()
    saved = tf.saved_model.load(str(export.save_serving_model(model, tmp_path / "serving")))
    serve = saved.signatures["serving_default"]
    tally = Counter()
    for name, content in _photos().items():
        try:
            expected = inference.segment(content, model).mask
        except ImageError as e:  # a list (the batch) is refused too: not a photo
            expected = e
        try:
            mask = serve(image_bytes=tf.constant(content))["mask"].numpy()
        except tf.errors.InvalidArgumentError as e:
            mask = e
        if isinstance(expected, Exception):
            assert isinstance(mask, Exception), f"{name}: segment refused, serving accepted"
            message = mask.message
            assert "assertion failed" in message, f"{name}: {message[-400:]}"
            reason = message.split("assertion failed:")[1]
            assert re.search(r"image_bytes", reason), reason
            tally["refused by both, readable"] += 1
        else:
            assert not isinstance(mask, Exception), f"{name}: {mask.message[-400:]}"
            assert mask.shape == expected.shape, name
            assert (mask == expected).mean() >= 0.999, name
            tally["accepted by both, masks agree"] += 1
    print(f"\nserving vs segment: {dict(tally)}")
    assert tally["accepted by both, masks agree"] >= 15 and tally["refused by both, readable"] >= 8


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="measures peak memory through Linux /proc"
)
def test_serving_refuses_a_20000_pixel_square_before_decoding(tmp_path):
    """Peak memory of the serving function on a 20000x20000 PNG, in a fresh process."""
    path = tmp_path / "bomb.png"
    path.write_bytes(big_png(20000, 20000))
    script = textwrap.dedent(
        """
        import resource, sys
        import tensorflow as tf
        from seglib import export, models
        import keras

        inputs = keras.Input((32, 32, 3))
        module = export.serving_model(keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs)))
        content = tf.constant(open(sys.argv[1], "rb").read())
        small = tf.constant(open(sys.argv[2], "rb").read())
        module.serve(small)  # trace once, so the measurement is the call alone

        def status(key):  # KiB, from /proc/self/status
            line = next(t for t in open("/proc/self/status") if t.startswith(key + ":"))
            return int(line.split()[1])

        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current resident size
        before = status("VmRSS")
        try:
            module.serve(content)
            print("ACCEPTED")
        except tf.errors.InvalidArgumentError as e:
            print("REFUSED", e.message.split("assertion failed:")[-1].splitlines()[0])
        print(f"PEAK {before} {status('VmHWM')}")
        """
    )
    small = tmp_path / "small.png"
    small.write_bytes(encode(photo()))
    run = subprocess.run(
        [sys.executable, "-c", script, str(path), str(small)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "REFUSED" in run.stdout and "20000" in run.stdout and "pixel limit" in run.stdout
    before, after = map(int, run.stdout.split("PEAK ")[1].split())
    print(
        f"\n20000x20000 PNG ({path.stat().st_size} bytes): resident {before / 1024:.0f} MiB "
        f"before the call, peak {after / 1024:.0f} MiB during it (+{(after - before) / 1024:.1f} MiB)"
    )
    assert after - before < 50 * 1024  # KiB: nothing near the 400 MB of pixels was allocated


# ---------------------------------------------------------------------------
# Saving on a full disk
# ---------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="needs resource.RLIMIT_FSIZE")
def test_save_outputs_on_a_full_disk_leaves_nothing_behind(tmp_path):
    """A file-size limit of 60 KB (RLIMIT_FSIZE) in a child process stands in for a full disk."""
    out = tmp_path / "out"
    script = textwrap.dedent(
        """
        import resource, signal, sys
        import numpy as np
        from pathlib import Path
        from seglib import inference
        from seglib.errors import OutputError

        out = Path(sys.argv[1])
        rng = np.random.default_rng(0)
        small = rng.integers(0, 256, (20, 20, 3), np.uint8)
        inference.save_outputs(small, out, "first", mask=np.zeros((20, 20), np.uint8))
        noise = rng.integers(0, 256, (300, 300, 3), np.uint8)  # incompressible: ~270 KB PNGs
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))
        try:
            inference.save_outputs(noise, out, "big", mask=rng.integers(0, 3, (300, 300)))
            print("SAVED")
        except OutputError as e:
            print("REFUSED", e)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "REFUSED" in run.stdout, run.stdout
    assert re.search(r"big_\w+\.png: could not be written \(File too large\)", run.stdout)
    # the earlier set is whole, and nothing of the failed one is left (no temporary files)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"first_{k}.png" for k in ("mask", "overlay", "cutout")
    )
    for p in out.iterdir():
        Image.open(p).load()  # complete PNGs


def test_tally(capsys):
    """Runs last in this file: print the corpus tally (``pytest -s``)."""
    if sum(TALLY.values()) == len(CASES):
        with capsys.disabled():
            print(f"\ncorpus of {len(CASES)} cases: {dict(TALLY)}, anything else: 0")
