"""Notebook 08's cheap exercise variants."""

from .core import Exercise

#: Where 08's cheap variants stop: the cell that writes the four LiteRT forms (defines
#: ``run_dir``, ``calibration`` and ``paths``); the scoring of every form on all test photos,
#: the latency and the SavedModel are left out.
_CONVERTED_08 = "paths[form] = export.to_litert("

#: 08 exercise 1, cheap: 03's Xception U-Net as float32 and int8 (8 calibration photos), scored
#: on all test photos, with its int8 file's agreement with Keras at the model's input size.
_XCEPTION_08 = """\
xception = inference.load_model(MODEL_DIR / "03_xception_unet.keras")
size = inference.model_input_size(xception)[0]
x_paths = {
    form: export.to_litert(
        xception, run_dir / f"xception_{form}.tflite", form,
        calibration=export.calibration_images(SOURCE, size, CALIBRATION_IMAGES),
    )
    for form in ("float32", "int8")
}
x_lite = {form: export.LiteRTModel(p, num_threads=2) for form, p in x_paths.items()}
x_eval = {
    form: metrics.evaluate_photos(run, data.load("test", SOURCE, limit=LIMIT), size)
    for form, run in x_lite.items()
}
same, pixels = 0, 0
for images, _ in data.make_pipelines(SOURCE, size, BATCH_SIZE, limit=LIMIT).test:
    reference = np.argmax(xception(images, training=False), axis=-1)
    same += int((x_lite["int8"](images.numpy()).argmax(axis=-1) == reference).sum())
    pixels += reference.size
drop = metrics.paired_bootstrap(
    x_eval["int8"].per_image["mean_iou"], x_eval["float32"].per_image["mean_iou"]
)
print(drop.verdict("int8", "float32", scope="on these test photos, for this exported model"))
metrics.report({
    "Xception float32": x_eval["float32"],
    "Xception int8": x_eval["int8"],
    "Xception int8 - float32 (per-image mIoU)": drop,
    "Xception files": {
        "input_size": float(size),
        "float32_mib": export.file_size_mib(x_paths["float32"]),
        "int8_mib": export.file_size_mib(x_paths["int8"]),
        "int8_pct_of_float32": 100 * export.file_size_mib(x_paths["int8"])
        / export.file_size_mib(x_paths["float32"]),
        "int8_agreement_with_keras_pct": 100.0 * same / pixels,
    },
})
"""

#: 08 exercise 2, cheap: int8 against Keras, class by class over the test photos at the
#: model's input size, and the disagreeing pixels of one photo drawn (nothing else scored).
_BORDER_08 = """\
from scipy import ndimage

spec = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32)
keras_call = tf.function(lambda x: model(x, training=False), input_signature=[spec])
int8_run = export.LiteRTModel(paths["int8"], num_threads=2)
keras_classes, disagree = np.zeros(3, np.int64), np.zeros(3, np.int64)
near_outline = 0
for images, _ in pipes.test:
    reference = np.argmax(keras_call(images), axis=-1)
    predicted = int8_run(images.numpy()).argmax(axis=-1)
    differ = predicted != reference
    keras_classes += np.bincount(reference.ravel(), minlength=3)[:3]
    disagree += np.bincount(reference[differ], minlength=3)[:3]
    for ref, diff in zip(reference, differ):  # within 2 px of a change of Keras' class
        edges = (np.diff(ref, axis=0, prepend=ref[:1]) != 0) | (
            np.diff(ref, axis=1, prepend=ref[:, :1]) != 0
        )
        near_outline += int((diff & ndimage.binary_dilation(edges, iterations=2)).sum())
images, _ = next(iter(pipes.test))
reference = np.argmax(keras_call(images), axis=-1)[0]
predicted = int8_run(images.numpy()).argmax(axis=-1)[0]
plt.imshow(viz.unsure_overlay(images[0].numpy(), predicted != reference))  # yellow: differ
plt.title(f"int8 differs from Keras on {np.mean(predicted != reference):.1%} of the pixels")
plt.axis("off")
plt.show()
rates = {n: 100 * disagree[k] / max(keras_classes[k], 1) for k, n in enumerate(data.CLASS_NAMES)}
metrics.report({
    "int8 pixels that disagree with Keras, % of each class Keras predicts": rates,
    "where the disagreeing pixels are": {
        "pct_within_2_px_of_an_outline": 100 * near_outline / max(int(disagree.sum()), 1),
        "pct_of_all_pixels_disagreeing": 100 * disagree.sum() / keras_classes.sum(),
        "first_photo_pct_disagreeing": 100 * float(np.mean(predicted != reference)),
    },
})
"""

#: 08 exercise 3, cheap: int8 calibrated on the first 8 and on the next 8 training photos,
#: against the notebook's file (CALIBRATION_IMAGES = 100) and float32, on all test photos.
_FEW_PHOTOS_08 = """\
int8_files = {
    f"{CALIBRATION_IMAGES} photos": paths["int8"],
    "first 8": export.to_litert(
        model, run_dir / "int8_first8.tflite", "int8",
        calibration=export.calibration_images(SOURCE, IMAGE_SIZE, 8),
    ),
    "next 8": export.to_litert(
        model, run_dir / "int8_next8.tflite", "int8",
        calibration=export.calibration_images(SOURCE, IMAGE_SIZE, 16).skip(8),
    ),
}
float32 = metrics.evaluate_photos(
    export.LiteRTModel(paths["float32"], num_threads=2), data.load("test", SOURCE, limit=LIMIT),
    IMAGE_SIZE,
)
results, scored = {"float32": float32}, {}
for name, path in int8_files.items():
    run = export.LiteRTModel(path, num_threads=2)
    scored[name] = metrics.evaluate_photos(run, data.load("test", SOURCE, limit=LIMIT), IMAGE_SIZE)
    s, z = run._output["quantization"]  # the logits' range, fixed by the calibration photos
    results[f"int8, {name}"] = scored[name]
    results[f"int8 ({name}) - float32, per-image mIoU"] = metrics.paired_bootstrap(
        scored[name].per_image["mean_iou"], float32.per_image["mean_iou"]
    )
    results[f"int8 ({name}) logits range"] = {"low": s * (-128 - z), "high": s * (127 - z)}
results["int8: first 8 - next 8, per-image mIoU"] = metrics.paired_bootstrap(
    scored["first 8"].per_image["mean_iou"], scored["next 8"].per_image["mean_iou"]
)
metrics.report(results)
"""

# ---- entries for the EXERCISES list ----
ENTRIES = [
    Exercise(
        "08.1",
        "08_export_and_deploy.ipynb",
        "03's Xception U-Net as float32 and int8 (8 calibration photos), all test photos",
        parameters={"CALIBRATION_IMAGES": 8},
        stop_after=_CONVERTED_08,
        added=_XCEPTION_08,
        saved_models=True,
    ),
    Exercise(
        "08.2",
        "08_export_and_deploy.ipynb",
        "int8 against Keras class by class on the test photos, one photo's differences drawn",
        stop_after=_CONVERTED_08,
        added=_BORDER_08,
        saved_models=True,
    ),
    Exercise(
        "08.3",
        "08_export_and_deploy.ipynb",
        "int8 calibrated on the first 8 and the next 8 training photos, against 100 and float32",
        stop_after=_CONVERTED_08,
        added=_FEW_PHOTOS_08,
        saved_models=True,
    ),
]
