"""The generated sentences: each branch says what the numbers show, and no more."""

import math

from seglib import metrics, prose

import pandas as pd

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
