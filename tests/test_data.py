from seglib import DataError, data

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image


def _first(ds):
    image, mask = next(iter(ds))
    return image.numpy(), mask.numpy()


# --- the real sample (skipped without it) ------------------------------------------------


def test_real_sample_splits(real_data_dir):
    table = data.scan_directory(real_data_dir)
    counts = table["release_split"].value_counts().to_dict()
    assert counts == {"trainval": 300, "test": 298}
    trainval = table[table.release_split == "trainval"]
    assert set(trainval["split"]) == {"train", "validation"}
    assert 0.08 < (trainval["split"] == "validation").mean() < 0.25
    assert not set(trainval["name"]) & set(table[table.split == "test"]["name"])
    again = data.scan_directory(real_data_dir)
    assert again["split"].tolist() == table["split"].tolist()  # deterministic carve
    assert set(table["species"]) == {"cat", "dog"}
    assert set(table["breed"]) == {"Abyssinian", "Bengal", "american_bulldog"}


def test_real_sample_oddities_decode(real_data_dir):
    """Abyssinian_34.jpg is a GIF and Abyssinian_5.jpg an RGBA PNG; both decode to RGB."""
    for name, fmt in (("Abyssinian_34", "GIF"), ("Abyssinian_5", "PNG")):
        path = real_data_dir / "images" / f"{name}.jpg"
        with Image.open(path) as im:
            assert im.format == fmt
            expected = np.asarray(im.convert("RGB"))
        image, mask = data.verify._decode_pair(
            str(path), str(real_data_dir / "annotations" / "trimaps" / f"{name}.png")
        )
        assert image.dtype == tf.uint8 and image.shape == expected.shape
        np.testing.assert_array_equal(image.numpy(), expected)
        assert mask.shape == expected.shape[:2] + (1,)
    table = data.scan_directory(real_data_dir)
    assert not table["image_path"].str.endswith(".mat").any()
    assert (table.loc[table.name == "Abyssinian_5", "image_mode"] == "RGBA").all()


def test_real_sample_loader_contract(real_data_dir):
    image, mask = _first(data.load("test", real_data_dir, limit=3))
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert mask.dtype == np.uint8 and mask.shape == image.shape[:2] + (1,)
    assert set(np.unique(mask)) <= {1, 2, 3}
    # The trimap's meaning: 3 is the band between the pet (1) and the background (2),
    # so pet pixels touch border pixels far more often than background pixels.
    pet_touches = {2: 0, 3: 0}
    for _, mask in data.load("test", real_data_dir, limit=20):
        m = mask.numpy()[..., 0]
        for a, b in ((m[:, :-1], m[:, 1:]), (m[:-1], m[1:])):
            for other in (2, 3):
                pet_touches[other] += int(
                    ((a == 1) & (b == other)).sum() + ((b == 1) & (a == other)).sum()
                )
    assert pet_touches[3] > 20 * pet_touches[2]


# --- the synthetic source ------------------------------------------------------------------


def test_synthetic_source_layout_and_oddities(synthetic_dir):
    table = data.scan_directory(synthetic_dir)
    assert len(table) == 60
    assert {"L", "RGBA", "P"} <= set(table["image_mode"])  # grayscale, RGBA PNG, GIF
    assert (synthetic_dir / "images" / "Synthcat_1.mat").is_file()
    assert set(table["split"]) == {"train", "validation", "test"}
    gray = table[table.image_mode == "L"].iloc[0]
    image, _ = data.verify._decode_pair(gray.image_path, gray.mask_path)
    image = image.numpy()
    assert image.shape[2] == 3
    np.testing.assert_array_equal(image[..., 0], image[..., 1])


def test_synthetic_is_deterministic(tmp_path):
    a = data.write_synthetic_dataset(tmp_path / "a", 8, seed=3)
    b = data.write_synthetic_dataset(tmp_path / "b", 8, seed=3)
    for name in ("Synthcat_1", "synthdog_3"):
        ta = np.asarray(Image.open(a / "annotations" / "trimaps" / f"{name}.png"))
        tb = np.asarray(Image.open(b / "annotations" / "trimaps" / f"{name}.png"))
        np.testing.assert_array_equal(ta, tb)
        assert set(np.unique(ta)) == {1, 2, 3}


@pytest.mark.parametrize("split", ["train", "validation", "trainval", "test"])
def test_load_contract_synthetic(split):
    ds = data.load(split, "synthetic")
    n = 0
    for image, mask in ds:
        assert image.dtype == tf.uint8 and image.shape[2] == 3
        assert mask.dtype == tf.uint8 and mask.shape[:2] == image.shape[:2] and mask.shape[2] == 1
        assert set(np.unique(mask.numpy())) <= {1, 2, 3}
        n += 1
    expected = data.scan_directory(data.synthetic_dataset_dir())
    if split == "trainval":
        assert n == (expected.release_split == "trainval").sum()
    else:
        assert n == (expected.split == split).sum()


def test_limit_caps_pairs():
    assert data.count(data.load("test", "synthetic", limit=7)) == 7


def test_source_from_environment(monkeypatch, synthetic_dir):
    monkeypatch.setenv("SEGLIB_DATA", str(synthetic_dir))
    assert data.count(data.load("test")) == 30


# --- preprocessing and augmentation --------------------------------------------------------


def test_preprocess_shifts_labels_and_scales_image():
    mask = np.full((40, 60, 1), 2, np.uint8)
    mask[10:30, 20:40] = 3
    mask[15:25, 25:35] = 1
    image = np.full((40, 60, 3), 255, np.uint8)
    image[:, :30] = 0
    x, y = data.preprocess(image, mask, 20)
    assert x.dtype == tf.float32 and x.shape == (20, 20, 3)
    assert float(tf.reduce_min(x)) >= 0.0 and float(tf.reduce_max(x)) <= 1.0
    assert y.dtype == tf.uint8 and y.shape == (20, 20, 1)
    y = y.numpy()[..., 0]
    assert set(np.unique(y)) == {0, 1, 2}
    assert y[10, 10] == 0 and y[0, 0] == 1 and y[5, 7] == 2  # pet, background, border
    assert np.isclose(float(x[0, 0, 0]), 0.0) and np.isclose(float(x[0, -1, 0]), 1.0)


def test_nearest_neighbour_never_invents_labels():
    """Bilinear resizing of a trimap creates values that are no class; ours must not."""
    rng = np.random.default_rng(0)
    mask = rng.integers(1, 4, size=(37, 53, 1)).astype(np.uint8)
    image = np.zeros((37, 53, 3), np.uint8)
    _, y = data.preprocess(image, mask, 128)
    assert set(np.unique(y.numpy())) <= {0, 1, 2}
    bilinear = tf.image.resize(tf.cast(mask, tf.float32), (128, 128)).numpy()
    assert not np.all(np.isin(bilinear, [1.0, 2.0, 3.0]))  # what we avoid


def test_augment_keeps_image_and_mask_aligned():
    mask = np.zeros((16, 16, 1), np.uint8)
    mask[:, :5] = 1
    mask[2:4, 12:] = 2
    image = np.repeat(mask.astype(np.float32) / 2.0, 3, axis=2)
    flipped = 0
    tf.random.set_seed(0)
    for _ in range(40):
        x, y = data.augment(tf.constant(image), tf.constant(mask))
        x, y = x.numpy(), y.numpy()
        np.testing.assert_array_equal(x[..., :1] * 2.0, y.astype(np.float32))
        flipped += int(not np.array_equal(y, mask))
    assert 5 < flipped < 35  # both outcomes happen


def test_make_pipelines_shapes_and_sizes():
    pipes = data.make_pipelines("synthetic", image_size=64, batch_size=4)
    table = data.scan_directory(data.synthetic_dataset_dir())
    for split in ("train", "validation", "test"):
        assert pipes.sizes[split] == (table.split == split).sum()
    x, y = next(iter(pipes.train))
    assert x.shape == (4, 64, 64, 3) and x.dtype == tf.float32
    assert y.shape == (4, 64, 64, 1) and y.dtype == tf.uint8
    assert pipes.steps_per_epoch == -(-pipes.sizes["train"] // 4)
    a = np.concatenate([m.numpy() for _, m in pipes.test])
    b = np.concatenate([m.numpy() for _, m in pipes.test])
    np.testing.assert_array_equal(a, b)  # evaluation pipelines are not shuffled


def test_class_pixel_counts():
    masks = tf.constant(np.array([[[0], [1]], [[2], [2]]], np.uint8))[None]
    ds = tf.data.Dataset.from_tensors((tf.zeros((1, 2, 2, 3)), masks))
    np.testing.assert_array_equal(data.class_pixel_counts(ds), [1, 1, 2])


# --- clear errors for broken data ----------------------------------------------------------


def test_missing_directory():
    with pytest.raises(DataError, match="no/such/dir"):
        data.scan_directory("/no/such/dir")


def test_missing_split_file(broken_copy):
    (broken_copy / "annotations" / "test.txt").unlink()
    with pytest.raises(DataError, match="test.txt"):
        data.scan_directory(broken_copy)


def test_malformed_split_line(broken_copy):
    path = broken_copy / "annotations" / "trainval.txt"
    path.write_text(path.read_text() + "just_a_name\n")
    with pytest.raises(DataError, match=r"trainval.txt, line \d+"):
        data.scan_directory(broken_copy)


def test_missing_mask(broken_copy):
    (broken_copy / "annotations" / "trimaps" / "Synthcat_1.png").unlink()
    with pytest.raises(DataError, match="Synthcat_1.png.*missing"):
        data.load("train", broken_copy)


def test_unreadable_mask(broken_copy):
    (broken_copy / "annotations" / "trimaps" / "synthdog_3.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="synthdog_3.png.*not a readable image"):
        data.scan_directory(broken_copy)


def test_empty_image(broken_copy):
    (broken_copy / "images" / "Synthcat_5.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="Synthcat_5.jpg.*empty"):
        data.scan_directory(broken_copy)


def test_size_mismatch(broken_copy):
    path = broken_copy / "annotations" / "trimaps" / "synthdog_4.png"
    Image.open(path).resize((17, 11), Image.NEAREST).save(path)
    with pytest.raises(DataError, match="synthdog_4.png.*17x11"):
        data.scan_directory(broken_copy)


def test_color_trimap_is_rejected(broken_copy):
    path = broken_copy / "annotations" / "trimaps" / "Synthcat_2.png"
    Image.open(path).convert("RGB").save(path)
    with pytest.raises(DataError, match="Synthcat_2.png.*single-channel"):
        data.scan_directory(broken_copy)


def test_tfds_failure_explains_offline_options(monkeypatch, tmp_path):
    import tensorflow_datasets as tfds

    def failed_download(*args, **kwargs):
        raise ConnectionError("Connection reset by peer")

    # the host answers the probe, then the download itself fails (see test_tfds.py for offline)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data.tfds_source, "_unreachable", lambda url, timeout=None: None)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", failed_download)
    with pytest.raises(DataError, match="SEGLIB_DATA=synthetic") as info:
        data.load("train", "tfds")
    assert "oxford_iiit_pet:4" in str(info.value) and "Connection reset" in str(info.value)


def test_make_pipelines_uses_the_given_augmentation_for_training_only():
    def blank(image, mask):  # an "augmentation" whose effect is easy to see
        return image * 0.0, mask

    pipes = data.make_pipelines("synthetic", image_size=32, batch_size=4, augment_fn=blank)
    assert all(float(tf.reduce_max(x)) == 0.0 for x, _ in pipes.train)
    assert float(tf.reduce_max(next(iter(pipes.validation))[0])) > 0.0
    assert float(tf.reduce_max(next(iter(pipes.test))[0])) > 0.0


@pytest.mark.parametrize("split,limit", [("test", None), ("train", 7), ("validation", None)])
def test_indexed_split_matches_load_in_order(synthetic_dir, split, limit):
    pairs = list(data.load(split, synthetic_dir, limit=limit))
    indexed = data.IndexedSplit(split, synthetic_dir, limit=limit)
    assert len(indexed) == len(pairs) > 0
    for i in (0, len(pairs) // 2, len(pairs) - 1, -1):
        image, mask = indexed[i]
        np.testing.assert_array_equal(image.numpy(), pairs[i][0].numpy())
        np.testing.assert_array_equal(mask.numpy(), pairs[i][1].numpy())


def test_indexed_split_rejects_bad_index_and_split(synthetic_dir):
    indexed = data.IndexedSplit("test", synthetic_dir, limit=3)
    assert len(indexed) == 3
    for index in (3, -4):
        with pytest.raises(IndexError, match="outside the 3 pairs of test"):
            indexed[index]
    with pytest.raises(ValueError, match="split must be one of"):
        data.IndexedSplit("tset", synthetic_dir)


def test_load_keeps_only_the_given_breeds(synthetic_dir):
    table = data.scan_directory(synthetic_dir)
    test_rows = table[table.split == "test"]
    breed = test_rows.breed.iloc[0]
    kept = list(data.load("test", synthetic_dir, breeds=[breed]))
    assert len(kept) == (test_rows.breed == breed).sum() > 0
    everything = list(data.load("test", synthetic_dir))
    others = [b for b in sorted(set(test_rows.breed)) if b != breed]
    rest = list(data.load("test", synthetic_dir, breeds=others))
    assert len(kept) + len(rest) == len(everything)
    with pytest.raises(DataError, match="no-such-breed"):
        data.load("test", synthetic_dir, breeds=["no-such-breed"])
    with pytest.raises(ValueError, match="string"):
        data.load("test", synthetic_dir, breeds=breed)


def test_breed_counts_match_the_split_tables(synthetic_dir):
    counts = data.breed_counts(synthetic_dir)
    table = data.scan_directory(synthetic_dir)
    assert list(counts.columns) == ["train", "validation", "test"]
    for breed in counts.index:
        for split in counts.columns:
            want = ((table.breed == breed) & (table.split == split)).sum()
            assert counts.loc[breed, split] == want
    assert counts.to_numpy().sum() == len(table)


def test_take_rows_keeps_the_asked_positions_in_order_with_their_structure():
    pairs = tf.data.Dataset.from_tensor_slices((np.arange(10), np.arange(10) * 2))
    picked = data.take_rows(pairs, np.array([9, 1, 4])[[1, 2, 0]])  # sorted: 1, 4, 9
    assert int(picked.cardinality()) == 3
    assert [(int(a), int(b)) for a, b in picked] == [(1, 2), (4, 8), (9, 18)]
    single = data.take_rows(tf.data.Dataset.range(5), [0, 3])
    assert [int(x) for x in single] == [0, 3]


def test_take_rows_refuses_repeated_or_negative_positions_and_one_past_the_end():
    ds = tf.data.Dataset.range(5)
    for rows in ([1, 1], [-1, 2], [[0, 1]]):
        with pytest.raises(ValueError, match="rows"):
            data.take_rows(ds, rows)
    with pytest.raises(tf.errors.FailedPreconditionError):
        list(data.take_rows(ds, [2, 7]))
