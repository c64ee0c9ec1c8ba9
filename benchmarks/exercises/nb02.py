"""Notebook 02's cheap exercise variants."""

from .core import Exercise

#: The cheap settings of notebook 02's training exercises: 128 px (02 trains at 224), 128
#: photos per split, 3 + 3 epochs.
_CHEAP_02 = {"IMAGE_SIZE": 128, "LIMIT": 128, "EPOCHS": 3, "FINE_TUNE_EPOCHS": 3}
#: 02's cheap variants: stage 1's and stage 2's training - validation gap at the best epoch,
#: the updates they made and what the decoder's BatchNorm averages kept of their start.
_GAP_02 = """\
figures = {
    "updates per epoch": float(pipes.steps_per_epoch),
    "BatchNorm start kept after stage 1": 0.99 ** (pipes.steps_per_epoch * EPOCHS),
    "seconds per epoch, stage 1": frozen_seconds / EPOCHS,
    "seconds per epoch, stage 2": fine_tune_seconds / FINE_TUNE_EPOCHS,
}
for stage, h in [("stage 1", history), ("stage 2", fine_tune_history)]:
    at_best = h.loc[h["val_mean_iou"].idxmax()]
    figures[f"{stage}: best validation mIoU"] = float(at_best["val_mean_iou"])
    figures[f"{stage}: training - validation mIoU there"] = float(
        at_best["mean_iou"] - at_best["val_mean_iou"]
    )
metrics.report({"training": figures})
"""

ENTRIES = [
    Exercise(
        "02.base",
        "02_pretrained_unet.ipynb",
        "the cheap settings, no change (IMAGE_SIZE = LIMIT = 128, EPOCHS = FINE_TUNE_EPOCHS = 3)",
        parameters=_CHEAP_02,
        added=_GAP_02,
        seeded=True,
    ),
    Exercise(
        "02.1",
        "02_pretrained_unet.ipynb",
        "a random encoder (ENCODER_WEIGHTS = None), its BatchNorm trained in stage 2",
        parameters=_CHEAP_02,
        edits=(
            (  # None is not a string, so it is typed into the cell rather than given with -p
                'ENCODER_WEIGHTS = "imagenet"',
                "ENCODER_WEIGHTS = None",
            ),
            (
                "    models.set_encoder_trainable(model, True)\n",
                "    models.set_encoder_trainable(model, True)\n"
                '    for layer in model.get_layer("mobilenetv2_encoder").layers:\n'
                "        layer.trainable = True\n",
            ),
        ),
        added=_GAP_02,
        seeded=True,
    ),
    Exercise(
        "02.2",
        "02_pretrained_unet.ipynb",
        "the tutorial's batch of 64 (a quarter of the updates per epoch)",
        parameters={**_CHEAP_02, "BATCH_SIZE": 64},
        added=_GAP_02,
        seeded=True,
    ),
]
