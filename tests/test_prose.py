"""The generated sentences: each branch says what the numbers show, and no more."""

import math

from seglib import metrics, prose

import numpy as np
import pandas as pd
import pytest

REAL = metrics.Difference(0.05, 0.03, 0.07, 0.95, 40)
NOISE = metrics.Difference(0.01, -0.01, 0.03, 0.95, 40)


def test_lobo_verdict_claims_no_domain_shift_when_training_sizes_differ():
    unequal = prose.lobo_verdict(REAL, 256, 169, ["Bengal"], metrics.SCOPE)
    assert "favours **the all-breeds model**" in unequal
    assert "256 against 169" in unequal and "does not measure" in unequal
    assert "later notebook" in unequal
    equal = prose.lobo_verdict(REAL, 169, 169, ["Bengal"], metrics.SCOPE)
    assert "same number of photos" in equal and "does not measure" not in equal
    assert "within noise" in prose.lobo_verdict(NOISE, 256, 169, ["Bengal"], metrics.SCOPE)


def _lag(kept, fast, fast_background, steps=8):
    rows = {}
    for label, (running, batch) in (("kept model", kept), (f"+{steps} fast steps", fast)):
        rows[(label, "running averages")] = {
            "pixel accuracy": running,
            "predicted background": fast_background if label != "kept model" else 0.5,
        }
        rows[(label, "batch statistics")] = {"pixel accuracy": batch, "predicted background": 0.5}
    return pd.DataFrame(rows).T


def test_batchnorm_lag_names_the_background_failure_only_when_it_happens():
    lagging = prose.batchnorm_lag(_lag((0.90, 0.91), (0.40, 0.88), 0.97), 8, 0.55)
    assert "now lag behind the weights" in lagging and "97% of the pixels background" in lagging
    lag_only = prose.batchnorm_lag(_lag((0.90, 0.91), (0.60, 0.88), 0.60), 8, 0.55)
    assert "now lag behind" in lag_only and "background (truth" not in lag_only
    together = prose.batchnorm_lag(_lag((0.90, 0.91), (0.89, 0.90), 0.55), 8, 0.55)
    assert "moved together" in together and "close: its averages fit" in together


def _facts(unsure_on_border, border_share=0.1, border_conf=0.6, elsewhere=0.9):
    row = {
        "pet share": 0.2,
        "border share": border_share,
        "confidence on border": border_conf,
        "confidence elsewhere": elsewhere,
        "unsure pixels on border": unsure_on_border,
    }
    return pd.DataFrame({"worst": row, "best": {**row, "pet share": 0.4}})


def test_worst_photos_reads_the_link_between_uncertainty_and_border():
    assert "trace the trimap's border" in prose.worst_photos(_facts(0.3), 8)  # 3x its share
    assert "over-represented" in prose.worst_photos(_facts(0.15), 8)  # 1.5x
    assert "about what chance would give" in prose.worst_photos(_facts(0.1), 8)  # 1x
    assert "confident ones" in prose.worst_photos(_facts(math.nan), 8)
    assert "smaller pets" in prose.worst_photos(_facts(0.1), 8)


def test_pretraining_worth_follows_the_one_rule():
    assert "worth more" in prose.pretraining_worth(REAL, 169, "U-Net (04, scratch)")
    behind = metrics.Difference(-0.05, -0.07, -0.03, 0.95, 40)
    assert "Check first" in prose.pretraining_worth(behind, 169, "U-Net (04, scratch)")
    assert "does not show" in prose.pretraining_worth(NOISE, 169, "U-Net (04, scratch)")


def test_unsure_pixels_gives_the_share_and_where_the_doubt_lies():
    from seglib import inference

    probabilities = np.zeros((10, 20, 3), np.float32)
    probabilities[:, :10] = [0.9, 0.05, 0.05]  # sure pet
    probabilities[:, 10:15] = [0.3, 0.6, 0.1]  # unsure background
    probabilities[:, 15:] = [0.25, 0.25, 0.5]  # unsure border
    mask = probabilities.argmax(-1).astype(np.uint8)
    image = np.zeros((10, 20, 3), np.uint8)
    raw = inference.Segmentation(image, mask, probabilities, "a.png", (8, 8))
    text = prose.unsure_pixels(raw, 0.8)
    assert text.startswith("50.0% of this photo's pixels have a raw confidence")
    assert "50% background, 50% border" in text and "mostly along the outline" in text
    calibrated = inference.Segmentation(image, mask, probabilities, "a.png", (8, 8), 2.0)
    text = prose.unsure_pixels(calibrated, 0.55)  # only the border quarter is below 0.55
    assert "25.0%" in text and "temperature 2" in text and "100% border" in text
    assert prose.unsure_pixels(raw, 0.2).startswith("No pixel of this photo")


def test_border_ignored_reports_the_gain_and_whether_the_order_changes():
    rows = [
        "3 classes: pet IoU",
        "border ignored: pet IoU",
        "3 classes: per-image mIoU",
        "border ignored: per-image mIoU",
    ]
    same = pd.DataFrame({"A": [0.80, 0.86, 0.70, 0.85], "B": [0.60, 0.70, 0.50, 0.75]}, rows)
    text = prose.border_ignored(same)
    assert text.startswith("Ignoring the border raises pet IoU by +0.060 to +0.100")
    assert "is the same under both" in text and "no interval" in text
    swapped = same.copy()
    swapped.loc["border ignored: per-image mIoU", "B"] = 0.90
    text = prose.border_ignored(swapped)
    assert "changes: A > B with three classes, B > A with the border ignored" in text
    one = prose.border_ignored(same[["A"]].assign(A=[0.8, 0.7, 0.7, 0.6]))
    assert one == "Ignoring the border lowers pet IoU by -0.100 (dataset level)."


def test_technique_advice_claims_a_gain_only_from_its_interval():
    from seglib.metrics import Difference

    scope = "on these test photos, for this training run"
    helped = prose.technique_advice(
        "TTA", Difference(0.02, 0.01, 0.03, 0.95, 50), "mIoU", "6 passes", "when time allows", scope
    )
    assert helped.startswith("* **TTA** helped on these test photos")
    assert "+0.020 (95% CI +0.010 to +0.030, 50 photos)" in helped
    assert helped.endswith("Use it when time allows.")
    harmed = prose.technique_advice(
        "TTA", Difference(-0.02, -0.03, -0.01, 0.95, 50), "mIoU", "6 passes", "never", scope
    )
    assert "did harm" in harmed and "Leave it out" in harmed and "Use it" not in harmed
    noise = prose.technique_advice(
        "TTA", Difference(0.02, -0.01, 0.05, 0.95, 50), "mIoU", "6 passes", "never", scope
    )
    assert "within noise" in noise and "not worth its cost" in noise and "helped" not in noise
    tiny = prose.technique_advice(  # excludes zero but rounds to +0.000: no win
        "TTA", Difference(0.0001, 0.00005, 0.0002, 0.95, 50), "mIoU", "6 passes", "x", scope
    )
    assert "within noise" in tiny


def test_prediction_grid_names_the_weakest_row_and_its_rank():
    scores = pd.DataFrame({"mean_iou": [0.9, 0.2, 0.8] + [0.5 + 0.01 * i for i in range(17)]})
    text = prose.prediction_grid(scores, 3)
    assert "row 2 scores lowest" in text and "0.20" in text
    assert "rank 1 of the 20" in text and "worst tenth" in text
    middle = pd.DataFrame({"mean_iou": [0.9, 0.55, 0.8] + [0.5 + 0.01 * i for i in range(17)]})
    assert "below the median" in prose.prediction_grid(middle, 3)
    easy = pd.DataFrame({"mean_iou": [0.9, 0.95, 0.99] + [0.5 + 0.01 * i for i in range(17)]})
    assert "row 1 scores lowest" in prose.prediction_grid(easy, 3)
    assert "easier than the typical" in prose.prediction_grid(easy, 3)
    with pytest.raises(ValueError, match="rows must be between"):
        prose.prediction_grid(scores, 0)
    with pytest.raises(ValueError, match="rows must be between"):
        prose.prediction_grid(scores, 21)


def _history(train, val):
    return pd.DataFrame({"epoch": [0, 1], "mean_iou": [0.3, train], "val_mean_iou": [0.2, val]})


def test_train_validation_gap_reads_the_best_epoch():
    over = prose.train_validation_gap(_history(0.80, 0.70))
    assert "epoch (2)" in over and "+0.100" in over and "starting to memorise" in over
    under = prose.train_validation_gap(_history(0.65, 0.70))
    assert "-0.050" in under and "Validation scores higher" in under
    lag = prose.train_validation_gap(_history(0.80, 0.70), running_start=0.94)
    assert "94% of their starting" in lag and "starting to memorise" not in lag
    settled = prose.train_validation_gap(_history(0.80, 0.70), running_start=0.02)
    assert "starting to memorise" in settled
    close = prose.train_validation_gap(_history(0.71, 0.70))
    assert "are close" in close
    with pytest.raises(ValueError, match="empty"):
        prose.train_validation_gap(pd.DataFrame())
