"""Notebook 07's cheap exercise variants."""

from .core import Exercise

#: 07's cheap variants: the saved models only, no TTA row.
_SAVED_07 = {"SCORE_TTA": False, "TRAIN_MISSING": False}
#: Where 07's cheap variants stop: the models loaded, the test photos scored, the pairs compared.
_LOADED_07 = 'SHORT = {name: CONTENDERS[name]["short"] for name in names}'
_SCORED_07 = "score_seconds = time.perf_counter() - started"
_PAIRS_07 = "pairs = [(top, other) for other in ranked[1:]]"

#: 07 exercise 1: solution 1 on two random quarters, recorded.
_QUARTER_07 = """\
figures = {}
for seed in (0, 1):  # two random quarters: how much the draw moves the intervals
    quarter = np.random.default_rng(seed).choice(n_test, n_test // 4, replace=False)
    for a, b in pairs:
        full = metrics.paired_bootstrap(per_image(a), per_image(b))
        part = metrics.paired_bootstrap(per_image(a).iloc[quarter], per_image(b).iloc[quarter])
        print(f"{SHORT[a]} - {SHORT[b]}: all photos {full}; random quarter {seed} {part}")
        figures[f"07.1 {SHORT[a]} - {SHORT[b]}, quarter {seed}"] = {
            "difference, all": full.mean,
            "difference, quarter": part.mean,
            "width, all": full.high - full.low,
            "width, quarter": part.high - part.low,
            "width ratio": (part.high - part.low) / (full.high - full.low),
            "above noise, all": full.above_noise,
            "above noise, quarter": part.above_noise,
        }
metrics.report(figures)
"""

#: 07 exercise 2: solution 2, recorded.
_ALIASED_07 = """\
figures = {}
for name, (model, _) in loaded.items():
    plain = metrics.evaluate_photos(model, test_pairs(), CONTENDERS[name]["size"], antialias=False)
    d = metrics.paired_bootstrap(plain.per_image["mean_iou"], per_image(name))
    print(f"{SHORT[name]}: not antialiased - antialiased, per-image mIoU {d}")
    figures[f"07.2 {SHORT[name]}: not antialiased - antialiased"] = d
metrics.report(figures)
"""

#: 07 exercise 3: the best model's worst photos by mIoU and by pet IoU, and how they differ.
_WORST_PET_07 = """\
test_split = data.IndexedSplit("test", SOURCE, limit=LIMIT)
top = max(names, key=lambda n: per_image(n).mean())
scores = evaluations[top].per_image
worst = {by: list(scores[by].sort_values().index[:WORST]) for by in ("mean_iou", "iou_pet")}
for by, rows in worst.items():
    viz.show_worst(loaded[top][0], test_split, scores, CONTENDERS[top]["size"], k=WORST, by=by)
    plt.show()


def true_shares(trimap):
    truth = np.asarray(trimap)[..., 0].astype(int) - 1
    return {"true pet share": float((truth == 0).mean()), "true border share": float((truth == 2).mean())}


everyone = pd.DataFrame([true_shares(trimap) for _, trimap in test_pairs()])
figures = {"07.3 all test photos": {**everyone.mean().to_dict(), "photos": len(everyone)}}
for by, rows in worst.items():
    figures[f"07.3 worst {WORST} by {by}"] = {
        **everyone.loc[rows].mean().to_dict(),
        "per-image mIoU": float(scores.loc[rows, "mean_iou"].mean()),
        "per-image pet IoU": float(scores.loc[rows, "iou_pet"].mean()),
        "in both lists": len(set(worst["mean_iou"]) & set(worst["iou_pet"])),
    }
display(metrics.report(figures).round(3))
"""

#: 07 exercise 4: milliseconds per image at BATCH_SIZE and at batch 1, on the same photos.
_BATCH_ONE_07 = """\
def ms_per_image_at(model, images, batch):
    \"\"\"Milliseconds per image of predict_on_batch over `images`, `batch` photos a call.\"\"\"
    model.predict_on_batch(images[:batch])  # warm-up at this batch shape
    started = time.perf_counter()
    for start in range(0, len(images), batch):
        model.predict_on_batch(images[start : start + batch])
    return 1000 * (time.perf_counter() - started) / len(images)


figures = {}
for name, (model, _) in loaded.items():
    images = np.concatenate([x for x, y in pipelines(CONTENDERS[name]["size"]).test.take(3)])
    at_batch, at_one = (ms_per_image_at(model, images, b) for b in (BATCH_SIZE, 1))
    print(f"{SHORT[name]}: {at_batch:.1f} ms per image at batch {BATCH_SIZE}, {at_one:.1f} at batch 1")
    figures[f"07.4 {SHORT[name]}"] = {
        f"ms per image, batch {BATCH_SIZE}": at_batch,
        "ms per image, batch 1": at_one,
        "batch 1 / batch": at_one / at_batch,
        "parameters": float(model.count_params()),
        "photos": len(images),
    }
metrics.report(figures)
"""

ENTRIES = [
    Exercise(
        "07.1",
        "07_compare_models.ipynb",
        "the differences on two random quarters of the test photos (saved models, no TTA row)",
        parameters=_SAVED_07,
        stop_after=_PAIRS_07,
        added=_QUARTER_07,
        saved_models=True,
    ),
    Exercise(
        "07.2",
        "07_compare_models.ipynb",
        "every saved model scored on test photos shrunk without antialiasing",
        parameters=_SAVED_07,
        stop_after=_SCORED_07,
        added=_ALIASED_07,
        saved_models=True,
    ),
    Exercise(
        "07.3",
        "07_compare_models.ipynb",
        "the best model's worst test photos by pet IoU against those by mIoU",
        parameters=_SAVED_07,
        stop_after=_SCORED_07,
        added=_WORST_PET_07,
        saved_models=True,
    ),
    Exercise(
        "07.4",
        "07_compare_models.ipynb",
        "inference milliseconds per image at batch 1 against BATCH_SIZE (saved models, no scoring)",
        parameters=_SAVED_07,
        stop_after=_LOADED_07,
        added=_BATCH_ONE_07,
        saved_models=True,
    ),
]
