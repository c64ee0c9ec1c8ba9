"""Notebook 06's cheap exercise variants."""

from .core import Exercise

#: 06's cheap variants: the model 02 saved, on the first test photo (not SEGLIB_EXAMPLE_IMAGE).
_PHOTO_06 = {"EXAMPLE_IMAGE": None}
#: Where 06's cheap variants stop: the cut-out cell, the unsure-pixels cell, the folder's batch.
_CUTOUT_06 = "inference.show_result(result, CUTOUT_CLASSES)"
_UNSURE_06 = "viz.show_unsure(result, UNSURE_BELOW)"
_BATCH_06 = "rows, results = [], []"

#: The example photo's trimap (it is the first test photo: EXAMPLE_IMAGE = None).
_TRUTH_06 = """\
_, trimap = next(iter(data.load("test", SOURCE, limit=1)))
truth = np.asarray(trimap)[..., 0].astype(int) - 1  # 0 pet, 1 background, 2 border
assert truth.shape == result.mask.shape, "the example photo is not the first test photo"
"""

#: 06 exercise 1: both cut-outs of the same mask; what the looser one adds, against the trimap.
_LOOSER_06 = """\
shares = result.class_shares()
kept = {  # share of the photo each cut-out keeps (alpha 255)
    classes: float(inference.remove_background(result.image, result.mask, classes)[..., 3].mean() / 255)
    for classes in [("pet",), ("pet", "border")]
}
rim = result.mask == 2  # the pixels the looser cut-out adds
rim_truth = np.bincount(truth[rim], minlength=3) / max(int(rim.sum()), 1)
print({k: f"{v:.1%}" for k, v in shares.items()}, {k: f"{v:.1%}" for k, v in kept.items()})
metrics.report({
    "06.1 cut-outs": {
        "kept, pet": kept[("pet",)],
        "kept, pet + border": kept[("pet", "border")],
        "border share": shares["border"],
        "gain - border share": kept[("pet", "border")] - kept[("pet",)] - shares["border"],
        "added pixels, truly pet": float(rim_truth[0]),
        "added pixels, truly background": float(rim_truth[1]),
        "added pixels, truly border": float(rim_truth[2]),
        "temperature": temperature or 1.0,
    }
})
"""

#: 06 exercise 2: solution 2, then where the soft edge lies against the unsure pixels.
_SOFT_06 = """\
alpha = result.probabilities[..., 0]  # or [..., [0, 2]].sum(-1) for pet plus border
soft = np.dstack([result.image, np.round(255 * alpha).astype(np.uint8)])
Image.fromarray(soft, "RGBA").save(OUTPUT_DIR / "soft_cutout.png")
plt.imshow(soft)
plt.axis("off")
plt.show()
unsure = result.unsure(UNSURE_BELOW)
figures = {}
for label, a in [("pet", alpha), ("pet + border", result.probabilities[..., [0, 2]].sum(-1))]:
    between = (a > 0.2) & (a < 0.8)
    figures[f"06.2 soft cut-out, {label}"] = {
        "alpha 0.2-0.8, share of the photo": float(between.mean()),
        "unsure among them": float(unsure[between].mean()) if between.any() else float("nan"),
        "unsure pixels with alpha 0.2-0.8": float(between[unsure].mean()) if unsure.any() else float("nan"),
        "true background with alpha > 0.2": float((a[truth == 1] > 0.2).mean()),
        "unsure share": float(unsure.mean()),
        "temperature": temperature or 1.0,
    }
metrics.report(figures)
"""

#: 06 exercise 3: solution 3, recorded.
_THRESHOLDS_06 = """\
figures = {}
for t in (0.5, 0.6, 0.7, 0.8, 0.9):
    u = result.unsure(t)
    border = float((result.mask[u] == 2).mean()) if u.any() else float("nan")
    print(f"below {t}: {u.mean():.1%} of the photo, {border:.0%} of them border")
    figures[f"06.3 below {t}"] = {"unsure share": float(u.mean()), "border among unsure": border}
figures["06.3 model"] = {"temperature": temperature or 1.0}
metrics.report(figures)
"""

#: 06 exercise 4: solution 4 (two draws of 10 random test photos), recorded.
_WRONG_06 = """\
split = data.IndexedSplit("test", SOURCE, limit=LIMIT)
figures = {}
for seed in (0, 1):  # two random draws of 10 photos: their difference is the spread
    wrong_unsure = wrong = unsure = pixels = 0
    for i in np.random.default_rng(seed).choice(len(split), 10, replace=False):
        image, trimap = (np.asarray(t) for t in split[int(i)])
        r = inference.segment(image, model)
        u, w = r.unsure(UNSURE_BELOW), r.mask != trimap[..., 0] - 1
        wrong_unsure += int((u & w).sum())
        wrong += int(w.sum())
        unsure += int(u.sum())
        pixels += u.size
    print(f"draw {seed}: unsure {wrong_unsure / max(wrong, 1):.0%} of wrong pixels, {unsure / pixels:.0%} of all")
    figures[f"06.4 draw {seed}"] = {
        "unsure share of wrong pixels": wrong_unsure / max(wrong, 1),
        "unsure share of all pixels": unsure / pixels,
        "ratio": (wrong_unsure / max(wrong, 1)) / max(unsure / pixels, 1e-9),
        "wrong share of all pixels": wrong / pixels,
        "temperature": temperature or 1.0,
    }
metrics.report(figures)
"""

#: 06 exercise 5: the folder's usable photos segmented and saved again, one pass and TTA, timed.
_FOLDER_06 = """\
good = [Path(r.name) for r in results]  # the files the batch could read
runs, seconds = {}, {}
for tta in (False, True):
    started, runs[tta] = time.perf_counter(), []
    for path in good:
        r = inference.segment(path, model, max_pixels=MAX_PIXELS, tta=tta)
        inference.save_outputs(r, OUTPUT_DIR / "batch", classes=CUTOUT_CLASSES)
        runs[tta].append((r.class_shares()["pet"], float(r.unsure(UNSURE_BELOW).mean())))
    seconds[tta] = (time.perf_counter() - started) / len(good)
    print(f"TTA {tta}: {seconds[tta]:.2f} s per photo, saving the PNGs included")
moves = pd.DataFrame({
    "file": [p.name for p in good],
    "unsure, one pass": [u for _, u in runs[False]],
    "pet share change with TTA": [t[0] - o[0] for o, t in zip(runs[False], runs[True])],
}).sort_values("unsure, one pass")
display(moves.round(3))
change = moves["pet share change with TTA"].abs()
metrics.report({
    "06.5 folder": {
        "photos": len(good),
        "s per photo, one pass": seconds[False],
        "s per photo, TTA": seconds[True],
        "batch, TTA / one pass": seconds[True] / seconds[False],
        "segment alone, TTA / one pass": tta_s / plain_s,
        "largest pet share change": float(change.max()),
        "mean pet share change": float(change.mean()),
        "unsure share of the photo that moved most": float(moves.loc[change.idxmax(), "unsure, one pass"]),
        "Spearman, change vs unsure": float(change.corr(moves["unsure, one pass"], method="spearman")),
    }
})
"""

ENTRIES = [
    Exercise(
        "06.1",
        "06_your_own_images.ipynb",
        'the looser cut-out, CUTOUT_CLASSES = ("pet", "border"), on the first test photo',
        parameters=_PHOTO_06,
        edits=(
            (  # a tuple is typed into the cell: papermill would pass it as a string
                'CUTOUT_CLASSES = ("pet",)',
                'CUTOUT_CLASSES = ("pet", "border")',
            ),
        ),
        stop_after=_CUTOUT_06,
        added=_TRUTH_06 + _LOOSER_06,
        saved_models=True,
    ),
    Exercise(
        "06.2",
        "06_your_own_images.ipynb",
        "a soft cut-out (alpha = probability of pet) against the unsure pixels, first test photo",
        parameters=_PHOTO_06,
        stop_after=_UNSURE_06,
        added=_TRUTH_06 + _SOFT_06,
        saved_models=True,
    ),
    Exercise(
        "06.3",
        "06_your_own_images.ipynb",
        "the unsure share and its border share at thresholds 0.5 to 0.9, first test photo",
        parameters=_PHOTO_06,
        stop_after=_UNSURE_06,
        added=_THRESHOLDS_06,
        saved_models=True,
    ),
    Exercise(
        "06.4",
        "06_your_own_images.ipynb",
        "wrong pixels against unsure pixels on two draws of 10 random test photos",
        parameters=_PHOTO_06,
        stop_after=_UNSURE_06,
        added=_WRONG_06,
        saved_models=True,
    ),
    Exercise(
        "06.5",
        "06_your_own_images.ipynb",
        "the demo folder with TTA = False, then its usable photos timed with and without TTA",
        parameters={**_PHOTO_06, "TTA": False},
        stop_after=_BATCH_06,
        added=_FOLDER_06,
        saved_models=True,
    ),
]
