"""Notebook 08's generated sentences: int8 against float32, and the int8 file's size.

Each function is fed numbers on both sides of every condition it checks (issue 35).
"""

from seglib import metrics, prose

NOISE_UP = metrics.Difference(0.002, -0.001, 0.005, 0.95, 298)  # includes zero
REAL_UP = metrics.Difference(0.004, 0.002, 0.006, 0.95, 298)  # int8 better, small
REAL_DOWN = metrics.Difference(-0.004, -0.006, -0.002, 0.95, 298)  # int8 worse, small
BIG_DOWN = metrics.Difference(-0.03, -0.04, -0.02, 0.95, 298)  # int8 worse, matters


def test_int8_higher_than_float32_is_called_noise_not_a_gain():
    text = prose.int8_against_float32(0.7625, 0.7639, NOISE_UP)
    assert "**int8 scores higher than float32**" in text
    assert "Quantization adds no information" in text
    assert "within the noise" in text and 'not as "int8 is better"' in text
    assert "0.7639" in text and "0.7625" in text


def test_int8_higher_and_above_noise_is_this_file_not_int8():
    text = prose.int8_against_float32(0.7625, 0.7639, REAL_UP)
    assert "higher than float32" in text and "lies above zero" in text
    assert "not to int8" in text and "too small to matter" in text


def test_int8_the_same_as_float32():
    text = prose.int8_against_float32(0.76251, 0.76249, NOISE_UP)
    assert "**int8 scores the same as float32**" in text and "cancelled out" in text
    # the same at four decimals, but photo by photo above the noise: no "lies above zero"
    same_real = prose.int8_against_float32(0.76251, 0.76249, REAL_UP)
    assert "leans the other way" in same_real


def test_int8_small_loss_within_target():
    text = prose.int8_against_float32(0.7639, 0.7600, NOISE_UP)
    assert text.startswith("int8 loses 0.0039 test mIoU") and "within the target" in text
    assert "Quantization adds no information" not in text
    assert "cannot tell the two files apart" in text
    real = prose.int8_against_float32(0.7639, 0.7600, REAL_DOWN)
    assert "lies below zero: the loss is real" in real and "too small to matter" in real
    # dataset-level loss, but per image int8 is ahead: the averages disagree
    assert "leans the other way" in prose.int8_against_float32(0.7639, 0.7600, REAL_UP)


def test_int8_loss_beyond_target():
    text = prose.int8_against_float32(0.76, 0.72, BIG_DOWN)
    assert "**int8 loses 0.0400 test mIoU against float32**" in text
    assert "more than the target of 0.01" in text and "the loss is real" in text
    assert "too small to matter" not in text
    # just inside the target: no "more than the target"
    assert "within the target" in prose.int8_against_float32(0.76, 0.751, BIG_DOWN)


def test_int8_file_size_explained_by_its_scale_and_zero_point_pairs():
    pair_mib = prose.QUANTIZATION_PAIR_BYTES / 2**20
    dynamic_pairs, int8_pairs = 16_563, 33_553
    extra = (int8_pairs - dynamic_pairs) * pair_mib
    whole = prose.int8_file_size(6.46 + extra, 6.46, int8_pairs, dynamic_pairs)
    assert "**The int8 file is 0.19 MiB larger than the dynamic-range one**" in whole
    assert "33,553 scale/zero-point pairs against 16,563" in whole
    assert "about the whole difference" in whole
    part = prose.int8_file_size(6.46 + 3 * extra, 6.46, int8_pairs, dynamic_pairs)
    assert "33% of the difference" in part and "other bookkeeping" in part
    more = prose.int8_file_size(6.46 + extra / 3, 6.46, int8_pairs, dynamic_pairs)
    assert "more than the difference" in more and "saves a little elsewhere" in more


def test_int8_file_no_larger_than_dynamic_range():
    text = prose.int8_file_size(6.40, 6.46, 33_553, 16_563)
    assert text.startswith("The int8 file is no larger than the dynamic-range one")
    assert "larger than the dynamic-range one**" not in text
    assert "saves at least as much elsewhere" in text
