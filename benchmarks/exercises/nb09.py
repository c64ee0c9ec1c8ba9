"""Notebook 09's cheap exercise variants."""

from .core import Exercise

#: Where 09's cheap variants that need no training stop: the setup cell that loads 02's model
#: (``model``, ``model_path``, ``IMAGE_SIZE``), the raw test photos (``test_photos``) and scores
#: it (``base``).
_SETUP_09 = "base = metrics.evaluate_photos(model, test_photos, IMAGE_SIZE)"
#: Where the breed section's variants stop: its verdicts and the training-log sentence (the
#: leave-one-breed-out model ``lobo_model``, ``held_out``, ``seen``, the table's ``rows``, the
#: differences ``breed_pet`` and ``breed_miou`` and the logs ``histories`` are defined by then).
_BREEDS_09 = "display(Markdown(prose.still_learning(histories, EPOCHS)))"
#: The breed section's short models train at 128 px instead of 02's 224 (about 2.3x faster per
#: epoch, measured in 09's input-size table), keeping 09's own recipe of EPOCHS = 5.
_AT_128_09 = (
    (
        "counts = data.breed_counts(SOURCE)\n",
        "IMAGE_SIZE = 128  # cheap variant: this section's models train at 128 px\n"
        "counts = data.breed_counts(SOURCE)\n",
    ),
)

#: 09 exercise 1, cheap: the temperature fitted as in 09, then the test ECEs with 5 and with
#: 15 bins, before and after it, from 02's saved model (no training).
_BINS_09 = """\
validation_photos = data.load("validation", SOURCE, limit=LIMIT)
val_logits, val_labels = calibration.validation_logits(model, validation_photos, IMAGE_SIZE)
T = calibration.fit_temperature(val_logits, val_labels)  # no bins involved
print(f"fitted on {len(val_logits)} validation photos: T = {T:.3f}")
eces = {}
for bins in (CALIBRATION_BINS, calibration.DEFAULT_CALIBRATION_BINS):
    calibrations = calibration.evaluate_calibration(
        model, test_photos, IMAGE_SIZE, (1.0, T), n_bins=bins
    )
    for t, name in [(1.0, "T = 1"), (T, "T fitted")]:
        eces[f"{bins} bins, {name}"] = calibrations[t].summary()
metrics.report({"temperature": {"T": T}})
display(metrics.report(eces).round(4))
"""

#: 09 exercise 2, cheap: the leave-one-breed-out model alone (128 px, 5 epochs), its ECE,
#: mean confidence and accuracy on the unseen and on the seen breeds' test photos, before and
#: after a temperature fitted on the seen breeds' validation photos.
_UNSEEN_CALIBRATION_09 = """\
unseen_photos = data.load("test", SOURCE, limit=LIMIT, breeds=held_out)
seen_photos = data.load("test", SOURCE, limit=LIMIT, breeds=seen)
seen_validation = data.load("validation", SOURCE, limit=LIMIT, breeds=seen)
T_lobo = calibration.fit_temperature(
    *calibration.validation_logits(lobo_model, seen_validation, IMAGE_SIZE)
)
print(f"held out: {', '.join(held_out)}; T fitted on the seen breeds' validation: {T_lobo:.3f}")
calibration_rows = {}
for name, photos in [("unseen", unseen_photos), ("seen", seen_photos)]:
    calibrations = calibration.evaluate_calibration(lobo_model, photos, IMAGE_SIZE, (1.0, T_lobo))
    for t, label in [(1.0, "T = 1"), (T_lobo, "T fitted on seen validation")]:
        c = calibrations[t]
        overall = c.ece_interval().loc["overall"]
        calibration_rows[f"{name} breed(s), {label}"] = {
            **c.summary(),
            "ece_overall_ci_low": overall["ci_low"],
            "ece_overall_ci_high": overall["ci_high"],
            "mean_confidence": c.score_sums[:, -1].sum() / c.counts[:, -1].sum(),
            "accuracy": c.hit_sums[:, -1].sum() / c.counts[:, -1].sum(),
            "photos": c.n_photos,
        }
display(metrics.report(calibration_rows).round(4))
"""

#: 09 exercise 3, cheap: the flip alone (TTA_SCALES = (1.0,)) against no TTA on 09's seeded
#: sample of TTA_PHOTOS test photos, 02's saved model; latency of plain, flip and full TTA.
_FLIP_ONLY_09 = """\
tta = inference.TTA(TTA_SCALES, flip=True)
n = len(base.per_image)
rows = np.sort(np.random.default_rng(0).permutation(n)[: TTA_PHOTOS or n])  # as in 09
with_tta = metrics.evaluate_photos(model, data.take_rows(test_photos, rows), IMAGE_SIZE, tta=tta)
plain = base.per_image.iloc[rows]
tta_gains = {
    f"TTA {TTA_SCALES} - plain, {name}": metrics.paired_bootstrap(
        with_tta.per_image[column], plain[column]
    )
    for name, column in [("per-image mIoU", "mean_iou"), ("per-image border IoU", "iou_border")]
}
timed = [pair[0].numpy() for pair in test_photos.take(TIMING_PHOTOS)]
latency = {}
for name, way in [
    ("plain", inference.TTA((1.0,), flip=False)),
    ("flip only", tta),
    ("full TTA (0.75, 1, 1.25)", inference.TTA((0.75, 1.0, 1.25), flip=True)),
]:
    predict.predict_tta(model, timed[0], (IMAGE_SIZE, IMAGE_SIZE), way)  # warm-up
    start = time.perf_counter()
    for photo in timed:
        predict.predict_tta(model, photo, (IMAGE_SIZE, IMAGE_SIZE), way)
    latency[name] = 1000 * (time.perf_counter() - start) / len(timed)
for label, d in tta_gains.items():
    print(f"{label}: {d}")
metrics.report({**tta_gains, "latency ms per photo": latency})
"""

#: 09 exercise 4, cheap: the unsure region at 0.6, UNSURE_THRESHOLD (0.8) and 0.95 in one pass
#: over the test photos, 02's saved model with its temperature fitted as in 09.
_THRESHOLDS_09 = """\
validation_photos = data.load("validation", SOURCE, limit=LIMIT)
T = calibration.fit_temperature(*calibration.validation_logits(model, validation_photos, IMAGE_SIZE))
thresholds = sorted({0.6, UNSURE_THRESHOLD, 0.95})
unsure, caught = dict.fromkeys(thresholds, 0), dict.fromkeys(thresholds, 0)
pixels = wrong_pixels = 0
for image, trimap in test_photos:
    logits = predict.predict_full_resolution(model, image.numpy(), IMAGE_SIZE)
    calibrated = calibration.calibrated_probabilities(logits, T)  # softmax(logits / T)
    confidence = calibrated.max(-1)
    wrong = calibrated.argmax(-1) != trimap.numpy()[..., 0] - 1
    pixels, wrong_pixels = pixels + wrong.size, wrong_pixels + int(wrong.sum())
    for t in thresholds:
        unsure[t] += int((confidence < t).sum())
        caught[t] += int((wrong & (confidence < t)).sum())
regions = {}
for t in thresholds:
    share, share_wrong = unsure[t] / pixels, caught[t] / max(wrong_pixels, 1)
    regions[f"unsure region, threshold {t}"] = {
        "share_of_pixels": share,
        "share_of_wrong_pixels": share_wrong,
        "error_density_ratio": share_wrong / max(share, 1e-9),
    }
print(f"T = {T:.3f}; {wrong_pixels / pixels:.1%} of the test pixels are wrong")
display(metrics.report(regions).round(3))
"""

#: 09 exercises 5 and 6 and their reference: the breed section's table, its two differences
#: and the last two epochs of each training log, recorded with the settings.
_BREED_TABLE_09 = """\
last_epochs = {}
for name, history in histories.items():
    for column in ("loss", "val_loss", "val_mean_iou"):
        for back in (2, 1):
            if len(history) >= back:
                last_epochs[f"{column}, epoch {len(history) - back + 1}"] = float(history[column].iloc[-back])
    metrics.report({f"log, {name}": dict(last_epochs)})
    last_epochs.clear()
metrics.report({
    **rows,
    "all breeds - lobo, per-image pet IoU (unseen)": breed_pet,
    "all breeds - lobo, per-image mIoU (unseen)": breed_miou,
    "settings": {
        "held_out": ", ".join(held_out),
        "image_size": IMAGE_SIZE,
        "epochs": EPOCHS,
        "training_photos_each": n_lobo,
        "lobo_seconds_per_epoch": lobo_seconds,
    },
})
"""

# ---- entries for the EXERCISES list ----
ENTRIES = [
    Exercise(
        "09.1",
        "09_generalisation_and_uncertainty.ipynb",
        "ECE with 5 equal-width bins against 15, 02's saved model (no training)",
        parameters={"CALIBRATION_BINS": 5},
        stop_after=_SETUP_09,
        added=_BINS_09,
        saved_models=True,
    ),
    Exercise(
        "09.2",
        "09_generalisation_and_uncertainty.ipynb",
        "calibration of the leave-one-breed-out model (alone, 128 px, 5 epochs), unseen vs seen",
        edits=(
            *_AT_128_09,
            (
                "fair_model, _ = train(fair_train, lobo_pipes.validation, IMAGE_SIZE, "
                '"all_breeds_same_size")',
                "# cheap variant: the all-breeds model is not needed here",
            ),
        ),
        stop_after="lobo_model, lobo_seconds = train(",
        added=_UNSEEN_CALIBRATION_09,
        saved_models=True,
    ),
    Exercise(
        "09.3",
        "09_generalisation_and_uncertainty.ipynb",
        "TTA with the flip alone (TTA_SCALES = (1.0,)), 02's saved model (no training)",
        parameters={"TTA_SCALES": (1.0,)},
        stop_after=_SETUP_09,
        added=_FLIP_ONLY_09,
        saved_models=True,
    ),
    Exercise(
        "09.4",
        "09_generalisation_and_uncertainty.ipynb",
        "unsure pixels at thresholds 0.6, 0.8 and 0.95, 02's saved model (no training)",
        stop_after=_SETUP_09,
        added=_THRESHOLDS_09,
        saved_models=True,
    ),
    Exercise(
        "09.base",
        "09_generalisation_and_uncertainty.ipynb",
        "the breed section at 128 px, 5 epochs, the default held-out breed (Bengal in the sample)",
        edits=_AT_128_09,
        stop_after=_BREEDS_09,
        added=_BREED_TABLE_09,
        saved_models=True,
    ),
    Exercise(
        "09.6",
        "09_generalisation_and_uncertainty.ipynb",
        "the breed section at 128 px trained twice as long (EPOCHS = 10), Bengal held out",
        parameters={"EPOCHS": 10},
        edits=_AT_128_09,
        stop_after=_BREEDS_09,
        added=_BREED_TABLE_09,
        saved_models=True,
    ),
    Exercise(
        "09.5",
        "09_generalisation_and_uncertainty.ipynb",
        "the same with the only dog breed held out (HELD_OUT_BREEDS = ['american_bulldog'])",
        parameters={"HELD_OUT_BREEDS": ["american_bulldog"]},
        edits=_AT_128_09,
        stop_after=_BREEDS_09,
        added=_BREED_TABLE_09,
        saved_models=True,
    ),
]
