"""Notebook 03's cheap exercise variants."""

from .core import Exercise

#: The cheap settings of notebook 03's training exercises: all photos, 160 px, 5 epochs.
_CHEAP_03 = {"EPOCHS": 5}
#: Where 03's cheap variants stop: the definitions of the training section (compile_model),
#: and the test scoring of the trained model.
_SETUP_03 = "layer.momentum = momentum  # a training setting"
_TRAINED_03 = (
    'test_eval = metrics.evaluate_photos(best, data.load("test", SOURCE, limit=LIMIT), IMAGE_SIZE)'
)

#: 03's cheap variants that train: the test scores and what the history says about the lag.
_SCORED_03 = """\
val = history["val_mean_iou"].to_numpy()
train = history["mean_iou"].to_numpy()
metrics.report({
    "Xception U-Net": test_eval,
    "training": {
        "parameters": float(model.count_params()),
        "seconds per epoch": fit_seconds / EPOCHS,
        "best validation mIoU": float(val.max()),
        "mean epoch-to-epoch change of validation mIoU": float(np.abs(np.diff(val)).mean()),
        "mean training - validation mIoU": float(np.mean(train - val)),
    },
})
print("training mIoU per epoch:  ", train.round(3))
print("validation mIoU per epoch:", val.round(3))
"""

#: 03 exercise 1, cheap: the BatchNorm-lag demo on the saved model, after 8 (the default) and
#: LAG_STEPS fast steps, each on a fresh copy (as the notebook's demo and solution 1 do).
_LAG_SAVED_03 = """\
saved_path = MODEL_DIR / "03_xception_unet.keras"
x_val, y_val = next(iter(pipes.validation))
true_background = float(np.mean(y_val.numpy() == 1))


def both_modes(model, label):
    rows = {}
    for mode, train_mode in (("running averages", False), ("batch statistics", True)):
        predicted = np.argmax(model(x_val, training=train_mode), axis=-1)
        scores = metrics.Scores(metrics.confusion_matrix(y_val, predicted))
        rows[f"{label}, {mode}"] = {
            "pixel accuracy": scores.pixel_accuracy,
            "mIoU": scores.mean_iou,
            "predicted background": float(np.mean(predicted == 1)),
        }
    return rows


rows = both_modes(keras.models.load_model(saved_path), "saved model")
for steps in dict.fromkeys([8, LAG_STEPS]):
    probe = keras.models.load_model(saved_path)  # a fresh copy for each length
    set_batchnorm_momentum(probe, 0.99)
    compile_model(probe, 1, steps, schedule=False)
    probe.fit(pipes.train.repeat().take(steps), epochs=1, verbose=0)
    rows.update(both_modes(probe, f"+{steps} fast steps"))
print(f"one validation batch of {len(y_val)} photos; true background share {true_background:.1%}")
print(metrics.report(rows).round(3).to_string())
"""


def _short_run_03(key: str, what: str, edits: tuple = (), **parameters) -> Exercise:
    """A cheap variant of 03 that trains: 5 epochs, up to the test scoring, then one cell."""
    return Exercise(
        key,
        "03_xception_unet.ipynb",
        what,
        parameters={**_CHEAP_03, **parameters},
        edits=edits,
        stop_after=_TRAINED_03,
        added=_SCORED_03,
        seeded=True,
    )


# ---- entries: paste into the EXERCISES list ----
ENTRIES = [
    _short_run_03(
        "03.base",
        "5 epochs, no change (the cells up to the test scoring, then one cell)",
    ),
    Exercise(
        "03.1",
        "03_xception_unet.ipynb",
        "the BatchNorm-lag demo on the saved model, 8 and 40 fast steps (no training)",
        parameters={"LAG_STEPS": 40},
        stop_after=_SETUP_03,
        added=_LAG_SAVED_03,
        saved_models=True,
        seeded=True,  # SEED draws the batches of the fast steps
    ),
    _short_run_03(
        "03.2",
        "the same with BatchNorm momentum 0.99 (Keras' default and keras.io) instead of 0.9",
        BN_MOMENTUM=0.99,
    ),
    _short_run_03(
        "03.3",
        "the same with Conv2D in place of the encoder's SeparableConv2D",
        edits=(
            (
                '    x = keras.layers.SeparableConv2D(filters, 3, padding="same")(x)\n'
                "    x = keras.layers.BatchNormalization()(x)\n"
                '    x = keras.layers.Activation("relu")(x)\n'
                '    x = keras.layers.SeparableConv2D(filters, 3, padding="same")(x)\n',
                '    x = keras.layers.Conv2D(filters, 3, padding="same")(x)\n'
                "    x = keras.layers.BatchNormalization()(x)\n"
                '    x = keras.layers.Activation("relu")(x)\n'
                '    x = keras.layers.Conv2D(filters, 3, padding="same")(x)\n',
            ),
            (  # the check against keras.io's count, which the student is told to delete
                "assert models.count_params(model) == models.count_params(reference)\n",
                "# (the assert against keras.io's count is deleted: down_block has Conv2D now)\n",
            ),
        ),
    ),
]
