"""Notebook 05's cheap exercise variants."""

from .core import Exercise

#: Where 05's cheap variants stop: the training helpers (``train``, ``train_all``,
#: ``cross_entropy``), and the unweighted models' training.
_HELPERS_05 = "cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
_UNWEIGHTED_05 = 'train_all("unweighted", "unweighted", cross_entropy)'

#: 05's one-model variants, after ``CLASS_WEIGHTS`` is set and one model ``new`` is trained
#: with it at the first seed (20 epochs, like 05's): ``new`` scored next to the models 05 saved
#: for that seed (``compared``), which saw the same batches.
_AGAINST_SAVED_05 = """\
mean_weight = weights.mean_pixel_weight(CLASS_WEIGHTS.numpy(), pixel_counts)
print(f"class weights {CLASS_WEIGHTS.numpy().round(3)}, average per pixel {mean_weight:.3f}")
test_pairs = data.load("test", SOURCE, limit=LIMIT)
nets = {label: new["model"]}
for name in compared:  # the models 05 saved for its first seed, 42
    nets[f"saved {name}"] = keras.models.load_model(MODEL_DIR / f"05_{name}_unet.keras")
scored = {m: metrics.evaluate_photos(net, test_pairs, IMAGE_SIZE) for m, net in nets.items()}
border = {
    f"{m}, border": {"precision": e.scores.precision[2], "recall": e.scores.recall[2]}
    for m, e in scored.items()
}
differences = {
    f"{label} - saved {name}, per-image {key}": metrics.paired_bootstrap(
        scored[label].per_image[key], scored[f"saved {name}"].per_image[key]
    )
    for name in compared
    for key in ("mean_iou", "iou_border")
}
val = new["history"]["val_mean_iou"].to_numpy()
training = {"seconds": new["seconds"], "best validation mIoU": float(val.max())}
metrics.report({**scored, **border, **differences, "training": training})
"""

#: 05 exercise 4, after ``_AGAINST_SAVED_05``: the same models scored pet against background,
#: the trimap's border band left out (as 07 does).
_BAND_LEFT_OUT_05 = """\
band_out = {
    f"{m}, band left out": metrics.evaluate_photos(
        net, test_pairs, IMAGE_SIZE, ignore_border=True
    )
    for m, net in nets.items()
}
band_out_differences = {
    f"{label} - saved {name}, band left out, per-image {key}": metrics.paired_bootstrap(
        band_out[f"{label}, band left out"].per_image[key],
        band_out[f"saved {name}, band left out"].per_image[key],
    )
    for name in compared
    for key in ("mean_iou", "iou_pet", "iou_background")
}
metrics.report({**band_out, **band_out_differences})
"""

#: 05 exercise 1, cheap: the unweighted models of five seeds, a few epochs each, scored; the
#: seed table for the first three seeds (05's default) and for all five; and the same recipe
#: compared with itself, one seed against one and two seeds against two.
_SEED_TABLE_05 = """\
test_pairs = data.load("test", SOURCE, limit=LIMIT)
rows, per_photo = [], []
for r in runs["unweighted"]:
    e = metrics.evaluate_photos(r["model"], test_pairs, IMAGE_SIZE)
    rows.append({"seed": r["seed"], **e.summary()})
    per_photo.append(e.per_image["mean_iou"].to_numpy())
by_seed = pd.DataFrame(rows).set_index("seed")
print(by_seed[["mean_iou", "iou_pet", "iou_border", "per_image_mean_iou"]].round(3).to_string())
spread = {}
for n in (3, len(SEEDS)):
    m = by_seed["mean_iou"].iloc[:n]
    spread[f"test mIoU, first {n} seeds"] = {
        "mean": m.mean(), "min": m.min(), "max": m.max(), "range": m.max() - m.min(), "std": m.std()
    }
s = SEEDS
same_recipe = {  # the same loss and recipe twice: any difference is the seeds'
    f"seed {s[0]} - seed {s[1]}, per-image mIoU": metrics.paired_bootstrap(
        per_photo[0], per_photo[1]
    ),
    f"seeds {s[0]}, {s[1]} - seeds {s[2]}, {s[3]}, per-image mIoU": metrics.paired_bootstrap(
        np.mean(per_photo[:2], axis=0), np.mean(per_photo[2:4], axis=0)
    ),
}
for what, d in same_recipe.items():
    print(f"{what}: {d}, interval width {d.high - d.low:.3f}")
seconds = [r["seconds"] for r in runs["unweighted"]]
metrics.report({**spread, **same_recipe, "training": {"seconds per run": float(np.mean(seconds))}})
"""


def _one_model_05(key: str, what: str, class_weights: str, label: str, compared, extra=""):
    """A cheap variant of 05: one model with other class weights, against 05's saved models.

    ``class_weights`` is the code of the weights (pet, background, border); ``label`` names
    the new model (its run folder is ``label`` with underscores); ``compared`` names the
    models 05 saved (``"unweighted"``, ``"weighted"``).
    """
    run = label.replace(" ", "_")
    return Exercise(
        key,
        "05_class_weighting.ipynb",
        what,
        stop_after=_HELPERS_05,
        added=(
            f"CLASS_WEIGHTS = tf.constant({class_weights}, dtype=tf.float32)  # pet, bg, border\n"
            f'new = train("{run}", cross_entropy, SEEDS[0], sample_weights=True)\n'
            f"label, compared = {label!r}, {tuple(compared)!r}\n" + _AGAINST_SAVED_05 + extra
        ),
        saved_models=True,
    )


# ---------------------------------------------------------------- PART 2: the entries

ENTRIES = [
    _one_model_05(
        "05.base",
        "inverse-frequency weights (unchanged) retrained at seed 42, 20 epochs, against the "
        "weighted model 05 saved for that seed: does a retrain reproduce it?",
        "inverse_frequency",
        "inverse frequency again",
        ["weighted"],
    ),
    Exercise(
        "05.1",
        "05_class_weighting.ipynb",
        "the unweighted loss alone, 3 epochs, five seeds: the seed table for 3 seeds and for 5",
        parameters={"EPOCHS": 3, "SEEDS": [42, 1, 2, 3, 4]},
        stop_after=_UNWEIGHTED_05,
        added=_SEED_TABLE_05,
    ),
    Exercise(
        "05.1b",
        "05_class_weighting.ipynb",
        "exercise 1's variant with five other seeds (10 to 14), for its spread",
        parameters={"EPOCHS": 3, "SEEDS": [10, 11, 12, 13, 14]},
        stop_after=_UNWEIGHTED_05,
        added=_SEED_TABLE_05,
    ),
    _one_model_05(
        "05.2",
        "median-frequency weights, one model at seed 42 (20 epochs), against the weighted "
        "(inverse-frequency) model 05 saved for that seed",
        "median_frequency",
        "median frequency",
        ["weighted"],
    ),
    _one_model_05(
        "05.3",
        "square-root inverse-frequency weights, one model at seed 42 (20 epochs), against the "
        "unweighted and weighted models 05 saved for that seed",
        "np.sqrt(inverse_frequency)",
        "sqrt inverse frequency",
        ["unweighted", "weighted"],
    ),
    _one_model_05(
        "05.4",
        "border weight 0 (pet and background 1), one model at seed 42 (20 epochs), against the "
        "unweighted model 05 saved for that seed, scored as usual and with the band left out",
        "[1.0, 1.0, 0.0]",
        "border weight 0",
        ["unweighted"],
        extra=_BAND_LEFT_OUT_05,
    ),
]
