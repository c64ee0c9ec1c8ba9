"""Notebook 06's cheap exercise variants."""

from .core import Exercise

#: 06's cheap variants use the example photo the run is given (SEGLIB_EXAMPLE_IMAGE; the
#: reference runs set it to ../shared/images/chelsea_cat.jpg), as the notebook itself does.
#: Where they stop: the cut-out cell, the unsure-pixels cell, the folder's batch.
_CUTOUT_06 = "inference.show_result(result, CUTOUT_CLASSES)"
_UNSURE_06 = "viz.show_unsure(result, UNSURE_BELOW)"
_BATCH_06 = "rows, results = [], []"

#: 06 exercise 1: both cut-outs of the same mask; the gain minus the border share.
_LOOSER_06 = """\
shares = result.class_shares()
kept = {  # share of the photo each cut-out keeps (alpha 255)
    classes: float(
        (inference.remove_background(result.image, result.mask, classes)[..., 3] == 255).mean()
    )
    for classes in [("pet",), ("pet", "border")]
}
gain = kept[("pet", "border")] - kept[("pet",)]
print(Path(EXAMPLE_IMAGE).name, {k: f"{v:.1%}" for k, v in shares.items()}, f"gain {gain:.1%}")
metrics.report({
    "06.1 cut-outs": {
        "photo": Path(EXAMPLE_IMAGE).name,
        "pet share": shares["pet"],
        "background share": shares["background"],
        "border share": shares["border"],
        "kept, pet": kept[("pet",)],
        "kept, pet + border": kept[("pet", "border")],
        "gain - border share": gain - shares["border"],
    }
})
"""

#: 06 exercise 2: the soft cut-out against the unsure pixels, pet and pet + border as alpha.
_SOFT_06 = """\
unsure = result.unsure(UNSURE_BELOW)
figures = {}
for label, a in [("pet", result.probabilities[..., 0]), ("pet + border", result.probabilities[..., [0, 2]].sum(-1))]:
    between = (a > 0.2) & (a < 0.8)
    figures[f"06.2 soft cut-out, {label}"] = {
        "alpha 0.2-0.8, share of the photo": float(between.mean()),
        "unsure among them": float(unsure[between].mean()) if between.any() else float("nan"),
        "unsure pixels with alpha 0.2-0.8": float(between[unsure].mean()) if unsure.any() else float("nan"),
        "unsure share": float(unsure.mean()),
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
        r = inference.segment(image, model, temperature=1.0)
        u, w = r.unsure(UNSURE_BELOW), r.mask != trimap[..., 0] - 1
        wrong_unsure += int((u & w).sum())
        wrong += int(w.sum())
        unsure += int(u.sum())
        pixels += u.size
    ratio = (wrong_unsure / max(wrong, 1)) / max(unsure / pixels, 1e-9)
    print(f"draw {seed}: unsure {wrong_unsure / max(wrong, 1):.0%} of wrong pixels, {unsure / pixels:.1%} of all: {ratio:.1f}x")
    figures[f"06.4 draw {seed}"] = {
        "unsure share of wrong pixels": wrong_unsure / max(wrong, 1),
        "unsure share of all pixels": unsure / pixels,
        "ratio": ratio,
        "wrong share of all pixels": wrong / pixels,
        "wrong pixels that are sure": 1 - wrong_unsure / max(wrong, 1),
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
        r = inference.segment(path, model, max_pixels=MAX_PIXELS, temperature=1.0, tta=tta)
        inference.save_outputs(r, OUTPUT_DIR / "batch", classes=CUTOUT_CLASSES)
        runs[tta].append((r.class_shares()["pet"], float(r.unsure(UNSURE_BELOW).mean())))
    seconds[tta] = (time.perf_counter() - started) / len(good)
    print(f"TTA {tta}: {seconds[tta]:.2f} s per photo, saving the PNGs included")
moves = pd.DataFrame({
    "file": [p.name for p in good],
    "unsure, one pass": [u for _, u in runs[False]],
    "pet share change with TTA": [t[0] - o[0] for o, t in zip(runs[False], runs[True])],
}).sort_values("unsure, one pass")
display(moves.round(4))
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
    }
})
"""

ENTRIES = [
    Exercise(
        "06.1",
        "06_your_own_images.ipynb",
        'the looser cut-out, CUTOUT_CLASSES = ("pet", "border"), on the example photo',
        edits=(
            (  # a tuple is typed into the cell: papermill would pass it as a string
                'CUTOUT_CLASSES = ("pet",)',
                'CUTOUT_CLASSES = ("pet", "border")',
            ),
        ),
        stop_after=_CUTOUT_06,
        added=_LOOSER_06,
        saved_models=True,
    ),
    Exercise(
        "06.2",
        "06_your_own_images.ipynb",
        "a soft cut-out (alpha = probability of pet) against the unsure pixels, example photo",
        stop_after=_UNSURE_06,
        added=_SOFT_06,
        saved_models=True,
    ),
    Exercise(
        "06.3",
        "06_your_own_images.ipynb",
        "the unsure share and its border share at thresholds 0.5 to 0.9, example photo",
        stop_after=_UNSURE_06,
        added=_THRESHOLDS_06,
        saved_models=True,
    ),
    Exercise(
        "06.4",
        "06_your_own_images.ipynb",
        "wrong pixels against unsure pixels on two draws of 10 random test photos",
        stop_after=_UNSURE_06,
        added=_WRONG_06,
        saved_models=True,
    ),
    Exercise(
        "06.5",
        "06_your_own_images.ipynb",
        "the demo folder with TTA = True, then its usable photos timed with and without TTA",
        parameters={"TTA": True},
        stop_after=_BATCH_06,
        added=_FOLDER_06,
        saved_models=True,
    ),
]
