"""Notebook 04's cheap exercise variants."""

from .core import Exercise

#: The cheap settings of notebook 04's training exercises: all photos, 5 epochs.
_CHEAP_04 = {"EPOCHS": 5}
#: Where 04's cheap variants stop: the U-Net's build, and the U-Net's training.
_BUILT_04 = 'return keras.Model(inputs, logits, name="unet" if skips else "unet_no_skips")'
_TRAINED_04 = 'display(Markdown(timing("04_unet")))'

#: 04's cheap variants that train: the U-Net scored on the test photos shrunk both ways.
_SCORED_04 = """\
test_pairs = data.load("test", SOURCE, limit=LIMIT)
scored = metrics.evaluate_photos(unet_best, test_pairs, IMAGE_SIZE)
aliased = metrics.evaluate_photos(unet_best, test_pairs, IMAGE_SIZE, antialias=False)
val = history["val_mean_iou"].to_numpy()
metrics.report({
    "U-Net": scored,
    "antialiased - not, per-image mIoU": metrics.paired_bootstrap(
        scored.per_image["mean_iou"], aliased.per_image["mean_iou"]
    ),
    "training": {
        "parameters": float(unet_best.count_params()),
        "seconds per epoch": fit_seconds["04_unet"] / EPOCHS,
        "best validation mIoU": float(val.max()),
        "mean epoch-to-epoch change of validation mIoU": float(np.abs(np.diff(val)).mean()),
    },
})
print([round(v, 3) for v in val])
"""

#: 04 exercise 4, cheap: the saved U-Net, shallow skips zeroed, against itself.
_KNOCKED_OUT_04 = """\
saved = keras.models.load_model(MODEL_DIR / "04_unet.keras")
knocked_out = build_unet(IMAGE_SIZE)
knocked_out.set_weights(saved.get_weights())
test_pairs = data.load("test", SOURCE, limit=LIMIT)
evaluations = {
    "saved U-Net": metrics.evaluate_photos(saved, test_pairs, IMAGE_SIZE),
    "shallow skips zeroed": metrics.evaluate_photos(knocked_out, test_pairs, IMAGE_SIZE),
}
metrics.report(evaluations)
"""

#: 04 exercise 5, cheap: the saved U-Net on the test photos shrunk both ways.
_ALIASED_SAVED_04 = """\
saved = keras.models.load_model(MODEL_DIR / "04_unet.keras")
test_pairs = data.load("test", SOURCE, limit=LIMIT)
scored = metrics.evaluate_photos(saved, test_pairs, IMAGE_SIZE)
aliased = metrics.evaluate_photos(saved, test_pairs, IMAGE_SIZE, antialias=False)
gap = metrics.paired_bootstrap(scored.per_image["mean_iou"], aliased.per_image["mean_iou"])
metrics.report({"antialiased": scored, "not antialiased": aliased, "gap, per-image mIoU": gap})
"""


def _short_run_04(key: str, what: str, **parameters) -> Exercise:
    """A cheap variant of 04 that trains: the U-Net alone, 5 epochs, then the scoring cell."""
    return Exercise(
        key,
        "04_unet_from_scratch.ipynb",
        what,
        parameters={**_CHEAP_04, **parameters},
        stop_after=_TRAINED_04,
        added=_SCORED_04,
        seeded=True,
    )


ENTRIES = [
    _short_run_04(
        "04.base",
        "the U-Net alone, 5 epochs (the cells up to its training, then one scoring cell)",
    ),
    _short_run_04(
        "04.2",
        "the same with BatchNorm momentum 0.99 (Keras' default) instead of 0.9",
        BN_MOMENTUM=0.99,
    ),
    _short_run_04("04.3", "the same with 32 base filters instead of 16", BASE_FILTERS=32),
    Exercise(
        "04.4",
        "04_unet_from_scratch.ipynb",
        "the saved U-Net with its two shallow skip connections zeroed (no training)",
        edits=(
            (
                "x = keras.layers.Concatenate()([x, features[level]])",
                "skip = features[level] if level >= depth - 2 else features[level] * 0.0\n"
                "            x = keras.layers.Concatenate()([x, skip])",
            ),
        ),
        stop_after=_BUILT_04,
        added=_KNOCKED_OUT_04,
        saved_models=True,
    ),
    Exercise(
        "04.5",
        "04_unet_from_scratch.ipynb",
        "the saved U-Net on test photos shrunk without antialiasing (no training)",
        stop_after=_BUILT_04,
        added=_ALIASED_SAVED_04,
        saved_models=True,
    ),
    _short_run_04(
        "04.5b",
        "exercise 5, longer: 04.base on antialiased photos only (MIXED_RESIZE = False)",
        MIXED_RESIZE=False,
    ),
]
