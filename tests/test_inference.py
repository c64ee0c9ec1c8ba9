"""seglib.inference: every input kind and mode, EXIF orientation, full-resolution output,
bad inputs named clearly, and outputs that are never overwritten.

Most tests use a tiny "colour" model whose logits are a fixed function of each pixel's
colour (red -> pet, blue -> border, anything grey or green -> background), so a test
can say which label a pixel must get and the tests stay fast.
"""

import io
import zipfile

from seglib import data, inference, models, predict
from seglib.errors import ImageError, ModelError, SeglibError

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageFile

PET, BACKGROUND, BORDER = 0, 1, 2
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def colour_model(size: int = 32) -> keras.Model:
    """Logits = 8 * (channel - mean of the other two) + bias favouring background."""
    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(3, 1, name="logits")
    model = keras.Model(inputs, conv(inputs))
    kernel = 8.0 * (1.5 * np.eye(3) - 0.5)  # [in, out]: own channel +8, the others -4
    conv.set_weights([kernel.reshape(1, 1, 3, 3), np.array([0.0, 1.0, 0.0])])
    return model


@pytest.fixture(scope="module")
def model():
    return colour_model()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("models") / "colour.keras"
    model.save(path)
    return path


def blocks(height=40, width=60) -> np.ndarray:
    """Grey photo with a red block top-left (pet) and a blue block bottom-right (border)."""
    image = np.full((height, width, 3), 128, np.uint8)
    image[: height // 3, : width // 3] = RED
    image[-(height // 3) :, -(width // 3) :] = BLUE
    return image


def encode(image, fmt="PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def check_blocks(mask):
    """The labels of :func:`blocks`, checked well inside each block."""
    h, w = mask.shape
    assert mask[h // 6, w // 6] == PET
    assert mask[h - 1 - h // 6, w - 1 - w // 6] == BORDER
    assert mask[h // 6, w - 1 - w // 6] == BACKGROUND
    assert mask[h - 1 - h // 6, w // 6] == BACKGROUND


# --- preprocessing and prediction ------------------------------------------------------------


def test_preprocessing_matches_training():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    ours = predict.to_model_input(image, (32, 32))
    trained_on, _ = data.preprocess(image, np.ones((50, 70, 1), np.uint8), (32, 32))
    assert ours.dtype == np.float32 and ours.shape == (32, 32, 3)
    np.testing.assert_allclose(ours, trained_on.numpy(), atol=1e-6)


def test_segment_returns_labels_and_probabilities_at_original_size(model, tmp_path):
    path = tmp_path / "blocks.png"
    Image.fromarray(blocks(90, 150)).save(path)
    result = inference.segment(path, model)
    assert result.mask.shape == (90, 150) and result.mask.dtype == np.uint8
    assert result.probabilities.shape == (90, 150, 3) and result.probabilities.dtype == np.float32
    np.testing.assert_allclose(result.probabilities.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(result.mask, result.probabilities.argmax(-1))
    np.testing.assert_array_equal(result.image, blocks(90, 150))
    check_blocks(result.mask)
    assert result.input_size == (32, 32)
    assert result.name == str(path)
    shares = result.class_shares()
    assert set(shares) == {"pet", "background", "border"}
    assert shares["pet"] == pytest.approx((result.mask == PET).mean())
    assert sum(shares.values()) == pytest.approx(1.0)


def test_logits_are_resized_bilinearly_not_blown_up(model):
    """At 8x upscaling, nearest neighbour would give 8-pixel steps; we want a smooth ramp."""
    image = np.zeros((256, 256, 3), np.uint8)
    image[:, :128] = RED
    image[:, 128:] = (128, 128, 128)
    result = inference.segment(image, model)
    row = result.probabilities[100, :, PET]
    assert np.all(np.diff(row) <= 1e-6)  # pet probability falls monotonically left to right
    ramp = row[96:160]
    assert len(np.unique(np.round(ramp, 4))) > 16  # many distinct values, not 2 or 3 steps
    edge = int(np.argmax(result.mask[100] != PET))
    assert abs(edge - 128) <= 8


def test_model_path_is_accepted(model_file):
    result = inference.segment(blocks(), model_file)
    check_blocks(result.mask)


def test_course_unet_runs_on_any_size():
    unet = models.mobilenetv2_unet((64, 64, 3), weights=None)
    for shape in [(8, 8, 3), (37, 301, 3)]:
        result = inference.segment(np.zeros(shape, np.uint8), unet)
        assert result.mask.shape == shape[:2]
        np.testing.assert_allclose(result.probabilities.sum(-1), 1.0, atol=1e-5)


# --- modes, formats, sizes ----------------------------------------------------------------------

COLOUR_CASES = [
    ("RGB", "JPEG", (40, 60)),
    ("RGB", "BMP", (40, 60)),
    ("RGB", "WEBP", (40, 60)),
    ("RGB", "TIFF", (40, 60)),
    ("RGBA", "PNG", (40, 60)),
    ("P", "PNG", (40, 60)),
    ("P", "GIF", (40, 60)),
    ("CMYK", "JPEG", (40, 60)),
    ("RGB", "PNG", (12, 2000)),  # very wide
    ("RGB", "PNG", (900, 15)),  # very tall
    ("RGB", "PNG", (601, 1003)),  # larger than the model, odd sizes
]


@pytest.mark.parametrize("mode, fmt, shape", COLOUR_CASES, ids=lambda x: str(x))
def test_colour_modes_keep_size_and_colours(model, tmp_path, mode, fmt, shape):
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.fromarray(blocks(*shape)).convert(mode).save(path, format=fmt)
    result = inference.segment(path, model)
    assert result.image.shape == shape + (3,) and result.image.dtype == np.uint8
    assert result.mask.shape == shape
    check_blocks(result.mask)  # colours survived the conversion (CMYK red is still red)


GREY_CASES = [
    ("L", (40, 60)),
    ("1", (40, 60)),
    ("LA", (40, 60)),
    ("I;16", (40, 60)),
    ("L", (8, 8)),
    ("L", (1, 1)),
    ("L", (3, 500)),
]


@pytest.mark.parametrize("mode, shape", GREY_CASES, ids=lambda x: str(x))
def test_grey_and_tiny_images_keep_size(model, tmp_path, mode, shape):
    grey = np.linspace(0, 255, shape[0] * shape[1]).reshape(shape).astype(np.uint8)
    image = Image.fromarray(grey).convert(mode)
    if mode == "I;16":
        image = Image.fromarray(grey.astype(np.uint16) * 257)
        assert image.mode == "I;16"
    path = tmp_path / "grey.png"
    image.save(path)
    result = inference.segment(path, model)
    assert result.mask.shape == shape and result.image.shape == shape + (3,)
    assert np.array_equal(result.image[..., 0], result.image[..., 2])  # grey stays grey
    assert (result.mask == BACKGROUND).all()  # the colour model calls every grey background


def test_sixteen_bit_png_is_scaled_not_clipped(model, tmp_path):
    values = np.array([[0, 257 * 64, 257 * 128, 65535]], np.uint16).repeat(4, axis=0)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    result = inference.segment(path, model)
    np.testing.assert_array_equal(result.image[0, :, 0], [0, 64, 128, 255])


@pytest.mark.parametrize("mode", ["RGBA", "PA"])
def test_transparent_pixels_become_white(model, tmp_path, mode):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., :3] = RED  # red everywhere, but only the left half is opaque
    rgba[:, :20, 3] = 255
    image = Image.fromarray(rgba, mode="RGBA")
    if mode == "PA":
        image = image.convert("PA")
    result = inference.segment(image, model)
    assert (result.image[:, 25:] == 255).all()
    assert (result.mask[:, :15] == PET).all() and (result.mask[:, 25:] == BACKGROUND).all()


def test_animated_gif_uses_first_frame(model, tmp_path):
    frames = [Image.new("RGB", (24, 16), colour) for colour in (RED, BLUE, GREEN)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as im:
        assert im.n_frames == 3
    result = inference.segment(path, model)
    assert result.mask.shape == (16, 24)
    assert (result.mask == PET).all()


def upright_to_stored(upright: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels as a camera stores them for an EXIF orientation (EXIF 2.3, tag 0x0112).

    Written from the spec's definition (where the stored 0th row and 0th column lie in the
    upright picture), independently of Pillow's tables.
    """
    d = upright
    return {
        1: d,
        2: d[:, ::-1],  # 0th row top, 0th column right: mirrored
        3: d[::-1, ::-1],  # bottom, right: upside down
        4: d[::-1, :],  # bottom, left
        5: d.transpose(1, 0, 2),  # 0th row left, 0th column top
        6: d[:, ::-1].transpose(1, 0, 2),  # right, top: display turns it 90 degrees clockwise
        7: d[::-1, ::-1].transpose(1, 0, 2),  # right, bottom
        8: d[::-1, :].transpose(1, 0, 2),  # left, bottom: display turns it counter-clockwise
    }[orientation]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_honoured(model, tmp_path, orientation):
    upright = blocks(40, 60)  # not square, red top-left, blue bottom-right: asymmetric
    stored = np.ascontiguousarray(upright_to_stored(upright, orientation))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"phone_{orientation}.jpg"
    Image.fromarray(stored).save(path, format="JPEG", quality=95, exif=exif.tobytes())
    with Image.open(path) as im:
        assert im.size == (stored.shape[1], stored.shape[0])  # stored turned, as a phone does
    result = inference.segment(path, model)
    assert result.image.shape == (40, 60, 3)
    assert result.mask.shape == (40, 60)
    check_blocks(result.mask)
    assert np.abs(result.image.astype(int) - upright).mean() < 4  # only JPEG noise left


INPUT_KINDS = {
    "bytes": lambda a: encode(Image.fromarray(a)),
    "bytearray": lambda a: bytearray(encode(Image.fromarray(a))),
    "memoryview": lambda a: memoryview(encode(Image.fromarray(a))),
    "pil": lambda a: Image.fromarray(a),
    "uint8": lambda a: a,
    "float01": lambda a: a.astype(np.float32) / 255.0,
    "uint16": lambda a: a.astype(np.uint16) * 257,
    "rgba_array": lambda a: np.dstack([a, np.full(a.shape[:2], 255, np.uint8)]),
    "tensor": lambda a: tf.constant(a),
}


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_input_kinds(model, kind):
    image = blocks(33, 47)
    result = inference.segment(INPUT_KINDS[kind](image), model)
    assert result.mask.shape == (33, 47)
    check_blocks(result.mask)
    expected = "<bytes>" if kind in ("bytes", "bytearray", "memoryview") else "<array>"
    assert result.name == ("<PIL image>" if kind == "pil" else expected)


@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 1)])
def test_grey_arrays(model, shape):
    result = inference.segment(np.full(shape, 200, np.uint8), model)
    assert result.image.shape == (20, 30, 3) and result.mask.shape == (20, 30)


# --- bad input: the exception type and the file name in the message ---------------------------


def expect_image_error(model, source, named, problem, **kwargs):
    with pytest.raises(ImageError) as info:
        inference.segment(source, model, **kwargs)
    message = str(info.value)
    assert named in message, message
    assert problem in message, message
    assert isinstance(info.value, SeglibError) and isinstance(info.value, ValueError)
    return message


def test_missing_file(model, tmp_path):
    expect_image_error(model, tmp_path / "gone.jpg", "gone.jpg", "not found")


def test_folder_instead_of_file(model, tmp_path):
    (tmp_path / "album").mkdir()
    expect_image_error(model, tmp_path / "album", "album", "folder")


def test_empty_file(model, tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    expect_image_error(model, path, "empty.jpg", "empty")


def test_not_an_image(model, tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("Shopping list: cat food, litter.\n")
    expect_image_error(model, path, "notes.jpg", "not an image")


def test_heic_gets_a_hint(model, tmp_path):
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    expect_image_error(model, path, "IMG_0001.HEIC", "HEIC")


def test_truncated_file(model, tmp_path):
    rng = np.random.default_rng(0)
    full = encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")
    path = tmp_path / "cut_short.jpg"
    path.write_bytes(full[: len(full) // 2])
    expect_image_error(model, path, "cut_short.jpg", "truncated")


def test_corrupt_file(model, tmp_path):
    rng = np.random.default_rng(0)
    content = bytearray(encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8))))
    content[200:264] = b"\xff" * 64  # damage the compressed pixel data, keep the header
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(content))
    expect_image_error(model, path, "damaged.png", "corrupt")


def test_over_the_pixel_limit_is_refused_before_decoding(model, tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("1", (8000, 7000)).save(path)  # 56 megapixels in a few kB
    assert path.stat().st_size < 100_000

    def no_decoding(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    expect_image_error(model, path, "bomb.png", "pixel limit")  # the default limit


def test_pixel_limit_is_configurable(model, tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(blocks(40, 60)).save(path)
    expect_image_error(model, path, "small.png", "pixel limit", max_pixels=1000)
    assert inference.segment(path, model, max_pixels=2400).mask.shape == (40, 60)
    expect_image_error(model, blocks(40, 60), "<array>", "pixel limit", max_pixels=1000)


def test_bad_bytes_are_named(model):
    expect_image_error(model, b"", "<bytes>", "empty")
    expect_image_error(model, b"GIF89a broken", "<bytes>", "not an image")
    expect_image_error(model, b"plain text", "upload.png", "not an image", name="upload.png")


@pytest.mark.parametrize(
    "array, problem",
    [
        (np.zeros((10, 10, 5), np.uint8), "shape"),
        (np.zeros((0, 10, 3), np.uint8), "no pixels"),
        (np.full((10, 10, 3), 255.0, np.float32), "[0, 1]"),
        (np.full((10, 10, 3), np.nan, np.float32), "NaN"),
        (np.full((10, 10, 3), 300, np.int32), "0..255"),
    ],
    ids=["five-channels", "empty", "float-0-255", "nan", "int-over-255"],
)
def test_bad_arrays_are_named(model, array, problem):
    expect_image_error(model, array, "<array>", problem)
    expect_image_error(model, array, "frame_7", problem, name="frame_7")


def test_unsupported_type(model):
    expect_image_error(model, 42, "<input>", "expected a file path")


# --- models -----------------------------------------------------------------------------------


def expect_model_error(path, named, problem):
    with pytest.raises(ModelError) as info:
        inference.load_model(path)
    message = str(info.value)
    assert named in message and problem in message, message
    return message


def test_load_model_round_trip(model, model_file):
    loaded = inference.load_model(model_file)
    x = np.random.default_rng(0).uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)


def test_missing_model_file(tmp_path):
    expect_model_error(
        tmp_path / "02_pretrained_unet.keras", "02_pretrained_unet.keras", "not found"
    )
    with pytest.raises(ModelError, match="gone.keras"):
        inference.segment(blocks(), tmp_path / "gone.keras")


def test_empty_model_file(tmp_path):
    path = tmp_path / "empty.keras"
    path.write_bytes(b"")
    expect_model_error(path, "empty.keras", "empty")


def test_model_file_that_is_not_a_model(tmp_path):
    path = tmp_path / "photo.keras"
    path.write_bytes(encode(Image.fromarray(blocks())))
    message = expect_model_error(path, "photo.keras", "not a Keras model")
    assert "a PNG image" in message
    broken_zip = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken_zip, "w") as archive:
        archive.writestr("config.json", "{not json")
    expect_model_error(broken_zip, "broken.keras", "not a loadable Keras model")


def test_classifier_is_not_a_segmentation_model(tmp_path):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    classifier = keras.Model(inputs, keras.layers.Dense(10)(x))
    path = tmp_path / "classifier.keras"
    classifier.save(path)
    expect_model_error(path, "classifier.keras", "not a segmentation model")


def test_wrong_input_channels_or_classes(tmp_path):
    gray_in = keras.Input((32, 32, 1))
    gray = keras.Model(gray_in, keras.layers.Conv2D(3, 1)(gray_in))
    two_in = keras.Input((32, 32, 3))
    two_classes = keras.Model(two_in, keras.layers.Conv2D(2, 1)(two_in))
    for net, name in ((gray, "gray.keras"), (two_classes, "two.keras")):
        net.save(tmp_path / name)
        expect_model_error(tmp_path / name, name, "not a segmentation model")


def test_softmax_output_is_refused(tmp_path):
    inputs = keras.Input((32, 32, 3))
    net = keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="softmax")(inputs))
    net.save(tmp_path / "softmax.keras")
    expect_model_error(tmp_path / "softmax.keras", "softmax.keras", "logits")


# --- cut-outs and saved files -------------------------------------------------------------------


def test_remove_background_keeps_chosen_classes():
    image = blocks(30, 45)
    mask = np.full((30, 45), BACKGROUND, np.uint8)
    mask[:10] = PET
    mask[10:12] = BORDER
    tight = inference.remove_background(image, mask)
    loose = inference.remove_background(image, mask, classes=("pet", "border"))
    assert tight.shape == (30, 45, 4) and tight.dtype == np.uint8
    np.testing.assert_array_equal(tight[..., :3], image)
    assert (tight[..., 3] == 255).sum() == 10 * 45
    assert (loose[..., 3] == 255).sum() == 12 * 45
    assert (tight[12:, :, 3] == 0).all()
    float_cut = inference.remove_background(image / 255.0, mask)
    np.testing.assert_array_equal(float_cut, tight)
    with pytest.raises(ValueError, match="unknown class"):
        inference.remove_background(image, mask, classes=("cat",))
    with pytest.raises(ValueError, match="mask: it is 45x5 but the photo is 45x30"):
        inference.remove_background(image, mask[:5])


def test_save_outputs_twice_loses_nothing(model, tmp_path):
    result = inference.segment(blocks(40, 60), model, name="my cat/photo.jpg")
    out = tmp_path / "outputs"
    first = inference.save_outputs(result, out)
    before = {p: p.read_bytes() for p in first.values()}
    second = inference.save_outputs(result, out)
    third = inference.save_outputs(result.image, out, "photo", mask=result.mask)
    paths = [p for saved in (first, second, third) for p in saved.values()]
    assert len(set(paths)) == 9 and all(p.is_file() for p in paths)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    assert all(p.read_bytes() == content for p, content in before.items())  # untouched
    assert first["mask"].name == "photo_mask.png" and second["mask"].name == "photo-2_mask.png"
    assert third["cutout"].name == "photo-3_cutout.png"
    with Image.open(first["mask"]) as im:  # a label PNG shown in class colours
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), result.mask)
    with Image.open(first["cutout"]) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im)[..., 3] == 255, result.mask == PET)
    with Image.open(first["overlay"]) as im:
        assert im.mode == "RGB" and im.size == (60, 40)


def test_save_outputs_names_in_memory_input_image(model, tmp_path):
    saved = inference.save_outputs(inference.segment(blocks(), model), tmp_path)
    assert saved["overlay"].name == "image_overlay.png"
    with pytest.raises(ValueError, match="mask="):
        inference.save_outputs(blocks(), tmp_path)


# --- bringing photos in --------------------------------------------------------------------------


def test_list_images(tmp_path):
    for name in ("b.JPG", "a.png", "notes.txt", "c.jpeg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in inference.list_images(tmp_path)] == ["a.png", "b.JPG", "c.jpeg"]
    with pytest.raises(ImageError, match="nowhere"):
        inference.list_images(tmp_path / "nowhere")


def test_uploaded_files_from_both_ipywidgets_versions():
    v8 = ({"name": "a.jpg", "type": "image/jpeg", "size": 3, "content": memoryview(b"abc")},)
    v7 = {"b.png": {"metadata": {"name": "b.png"}, "content": b"xyz"}}
    assert inference.uploaded_files(v8) == [("a.jpg", b"abc")]
    assert inference.uploaded_files(v7) == [("b.png", b"xyz")]
    assert inference.uploaded_files(()) == [] and inference.uploaded_files({}) == []


def test_show_result_draws_three_panels(model):
    import matplotlib

    matplotlib.use("Agg")
    fig = inference.show_result(inference.segment(blocks(), model, name="x.jpg"))
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "x.jpg (60×40 px)",
        "mask overlay",
        "cut-out (pet)",
    ]


@pytest.mark.parametrize("tta", [None, "tta"])
def test_large_photos_are_resized_in_strips_with_the_same_result(monkeypatch, tta):
    """Above predict.STRIP_PIXELS the logits are resized a strip of rows at a time (less
    memory): the probabilities must equal those of the one-piece resize."""
    model = models.unet((32, 32, 3), depth=2, base_filters=4)
    image = np.random.default_rng(3).integers(0, 256, (301, 457, 3), np.uint8)
    option = inference.TTA((0.75, 1.0), flip=True) if tta else None
    whole = inference.segment(image, model, tta=option, temperature=1.3)
    monkeypatch.setattr(predict, "STRIP_PIXELS", 1000)
    monkeypatch.setattr(predict, "_STRIP_SIZE", 5000)  # strips of 10 rows
    strips = inference.segment(image, model, tta=option, temperature=1.3)
    np.testing.assert_allclose(strips.probabilities, whole.probabilities, atol=2e-5)
    assert (strips.mask == whole.mask).mean() > 0.999
    assert strips.probabilities.dtype == np.float32
    np.testing.assert_allclose(strips.probabilities.sum(-1), 1.0, atol=1e-5)
