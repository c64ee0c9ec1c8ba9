"""Sentences about trust and deployment: calibration, unconverged runs, input size, int8
export, corrected intervals (notebooks 08 and 09). Re-exported by :mod:`seglib.prose`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _ece_fate(difference) -> str:
    """``"lowered"``, ``"raised"`` or ``"within noise"``: what a temperature did to one ECE
    (``difference`` is before minus after, so positive means lowered)."""
    if difference.above_noise:
        return "lowered" if difference.mean > 0 else "raised"
    return "within noise"


def _confident_lean(reliability: pd.DataFrame, curve: str) -> float:
    """Mean confidence minus accuracy over the bins above 0.5 of one curve of a reliability
    table (:meth:`seglib.calibration.Calibration.reliability`), weighted by their pixels:
    positive is over-confident where the model says the class; NaN without such pixels."""
    rows = reliability[(reliability["curve"] == curve) & (reliability["bin_low"] >= 0.5)]
    rows = rows[rows["count"] > 0]
    if rows.empty:
        return float("nan")
    gap = (rows["confidence"] - rows["accuracy"]) * rows["count"]
    return float(gap.sum() / rows["count"].sum())


def calibration_verdict(
    differences: dict,
    temperature: float,
    reliability: pd.DataFrame | None = None,
    scope: str = "on these test photos",
) -> str:
    """Notebook 09's verdict on temperature scaling, overall **and** per class.

    Args:
        differences: ``{curve: Difference}`` of ECE before minus after the temperature
            (:meth:`seglib.calibration.Calibration.ece_difference`): one entry per class and
            ``"overall"``; positive means the temperature lowered that ECE.
        temperature: the fitted ``T``.
        reliability: the reliability table at ``T = 1`` (optional): with it, the verdict can
            say which classes were over- and which under-confident, when that explains a
            class the temperature made worse.
        scope: what the intervals cover.

    Returns:
        One Markdown bullet. "Helped" only when the overall ECE fell above the noise and no
        class's ECE rose above it; when the overall fell but a class rose, it says so
        ("helped overall, not per class") and gives the cause only when the reliability
        table shows it: ``T > 1`` softens every probability, which mends an over-confident
        class and worsens an under-confident one (``T < 1`` the reverse), so the cause is
        named only when a class made worse leaned the way the temperature pushed it further.
    """
    overall = differences["overall"]
    classes = [k for k in differences if k != "overall"]
    fates = {k: _ece_fate(differences[k]) for k in classes}
    lead = f"**Temperature scaling** (T = {temperature:.3f}, fitted on validation photos)"
    first = {
        "lowered": f"{lead} lowered the overall ECE {scope}: before − after = {overall}.",
        "raised": f"{lead} raised the overall ECE {scope}: before − after = {overall}.",
        "within noise": (
            f"{lead} left the overall ECE within noise {scope}: before − after = {overall}."
        ),
    }[_ece_fate(overall)]
    words = {
        "lowered": "lowered it for",
        "raised": "raised it for",
        "within noise": "left it within noise for",
    }
    groups = [
        f"{words[fate]} {', '.join(k for k in classes if fates[k] == fate)}"
        for fate in ("lowered", "raised", "within noise")
        if any(fates[k] == fate for k in classes)
    ]
    per_class = f" Per class (one-vs-rest ECE) it {'; '.join(groups)}." if groups else ""
    raised = [k for k in classes if fates[k] == "raised"]
    if _ece_fate(overall) == "lowered" and not raised:
        verdict = (
            " It helped: apply it whenever a probability or an uncertainty map is shown (one "
            "division per pixel, and no mask changes)."
        )
    elif _ece_fate(overall) == "lowered":
        verdict = (
            " So it helped the confidence the mask is read with, not every class's "
            f"probabilities: read a probability of {', '.join(raised)} with that in mind."
        )
        verdict += _calibration_cause(raised, classes, temperature, reliability, fates)
    elif _ece_fate(overall) == "raised":
        verdict = " It did harm on these photos: leave it out for this model."
    else:
        verdict = " On this evidence it changes nothing worth applying."
    return f"* {first}{per_class}{verdict}"


#: A class whose confident pixels' mean probability is within this of the share right there
#: counts as close to calibrated, not as leaning over- or under-confident.
LEAN = 0.01


def _calibration_cause(raised, classes, temperature, reliability, fates) -> str:
    """Why one temperature made some classes worse, when the reliability table shows it.

    A lean under :data:`LEAN` is read as "close to calibrated": any temperature other than 1
    moves such a class off, which explains a rise without naming a direction."""
    if reliability is None or temperature == 1:
        return " These numbers do not show why."
    leans = {k: _confident_lean(reliability, k) for k in classes}
    softens = temperature > 1
    push = "softens" if softens else "sharpens"

    def leaning(k, under):  # under-confident (lean below -LEAN) or over (above +LEAN)
        lean = leans[k]
        return not math.isnan(lean) and (lean <= -LEAN if under else lean >= LEAN)

    hurt = [k for k in raised if leaning(k, under=softens)]
    level = [k for k in raised if not math.isnan(leans[k]) and abs(leans[k]) < LEAN]
    if not hurt and not level:
        return " These numbers do not show why."
    word, opposite = ("under", "over") if softens else ("over", "under")
    text = ""
    if level:
        text += (
            f" At T = 1, {', '.join(level)} {'was' if len(level) == 1 else 'were'} already close "
            "to calibrated where the model gave it more than 0.5 (mean probability minus the "
            f"share right there: {', '.join(f'{k} {leans[k]:+.3f}' for k in level)}, within "
            f"±{LEAN}), and T = {temperature:.3f} {push} every probability, which moves a "
            "class that was right off: one temperature serves every class at once, whether "
            "that class needed it or not."
        )
    if not hurt:
        return text
    other = [k for k in classes if k not in raised and leaning(k, under=not softens)]
    text += (
        f" At T = 1, {', '.join(hurt)} was {word}-confident where the model gave it more "
        "than 0.5 (mean probability minus the share right there: "
        f"{', '.join(f'{k} {leans[k]:+.3f}' for k in hurt)}), and T = {temperature:.3f} "
        f"{push} every probability, which moves an {word}-confident class further off."
    )
    if not other:
        return text
    mended = all(fates[k] == "lowered" for k in other)
    names = ", ".join(other)
    return text + (
        f" {names[:1].upper()}{names[1:]} leaned the other way, {opposite}-confident "
        f"({', '.join(f'{k} {leans[k]:+.3f}' for k in other)})"
        + (
            ", and the temperature lowered their ECE"
            if mended
            else ", yet their ECE did not fall measurably either"
        )
        + ": one temperature cannot mend classes that err in opposite directions."
    )


def still_learning(histories: dict, epochs: int, metric: str = "mean_iou", rising=0.01) -> str:
    """Whether short training runs had levelled off, read from their logs (notebook 09).

    Args:
        histories: ``{name: DataFrame}`` of per-epoch logs (:func:`seglib.training.read_history`)
            with the column ``"val_" + metric``; empty ones are skipped.
        epochs: the epochs each run was asked for.
        metric: the validation score to read. rising: a last-epoch gain at least this large
            (over the best earlier epoch) counts as still climbing.

    Returns:
        Markdown: each run's validation score before and after its last epoch, then either
        "still climbing" (some run gained ``rising`` or more in its last epoch, or trained a
        single epoch: the verdicts are snapshots of unconverged models) or "closer to
        levelled off" (no such gain; a few flat epochs still prove no convergence).
    """
    label = "validation " + metric.replace("_", " ").replace("mean iou", "mIoU")
    parts, climbing, single = [], [], []
    for name, history in histories.items():
        if history is None or history.empty:
            continue
        values = history[f"val_{metric}"].to_numpy(dtype=float)
        if len(values) < 2:
            parts.append(f"{name} {values[-1]:.3f} after its only epoch")
            single.append(name)
            continue
        gain = values[-1] - np.max(values[:-1])
        parts.append(f"{name} {values[-2]:.3f} → {values[-1]:.3f}")
        if gain >= rising:
            climbing.append(name)
    if not parts:
        return "No training log was found, so nothing can be said about convergence."
    text = f"{label[:1].upper()}{label[1:]} over the last epoch: {'; '.join(parts)}."
    if climbing or single:
        why = []
        if climbing:
            why.append(
                f"{', '.join(climbing)} gained {rising} or more in the last of {epochs} epochs"
            )
        if single:
            why.append(f"{', '.join(single)} trained one epoch")
        return text + (
            f" **Still climbing**: {'; '.join(why)}. These models are not converged, so any "
            "verdict drawn from them is a snapshot of one seed at this point in training: "
            "longer training can move it, even reverse it."
        )
    return text + (
        f" No model gained {rising} or more in its last epoch: closer to levelled off, "
        "though a few flat epochs do not prove convergence, and this is one seed."
    )


def size_choice(validation: dict, smallest: int, chosen: int, what: str) -> str:
    """Notebook 09's input-size choice, made on validation photos.

    Args:
        validation: ``{size: Difference}``, each larger size minus ``smallest`` on the
            validation photos; empty when there were too few photos for an interval.
        smallest: the smallest size. chosen: the size picked (``smallest`` when no larger
            size is above the noise and positive).
        what: the validation score compared.

    Returns:
        Markdown: the differences, then which size is kept and why; the test photos are
        named as where the choice is scored, once.
    """
    if not validation:  # fewer than two validation photos: no interval to decide on
        return (
            f"On {what}: too few photos for an interval, so **{smallest} px is kept**, the "
            "smallest and cheapest; the test photos below score that choice once."
        )
    lines = "; ".join(f"{size} − {smallest} px: {d}" for size, d in validation.items())
    if chosen == smallest:
        text = (
            f"On {what}: {lines}. No larger size beats {smallest} px above the noise there, so "
            f"**{smallest} px is kept**, the smallest and cheapest; the test photos below "
            "score that choice once."
        )
        size, best = max(validation.items(), key=lambda item: item[1].mean)
        if best.mean >= 0.01:
            text += (
                f" The largest mean gain, {best.mean:+.3f} for {size} px, is not negligible but "
                f"lies within the noise of {best.n} photos: more validation photos could show "
                "it, and on this evidence the cheaper size stays."
            )
        return text
    return (
        f"On {what}: {lines}. **{chosen} px is chosen**: it beats {smallest} px above the "
        "noise there (the largest gain among the sizes that do); the test photos below score "
        "that choice once."
    )


def input_size_cost(sizes: list, model_ms: list, total_ms: list) -> str:
    """Why inference time grows less than the pixel count, read from two timings per size.

    Args:
        sizes: input sides in pixels, ascending. model_ms: milliseconds per photo of the
            model call alone. total_ms: milliseconds per photo from the decoded photo to
            logits at its own size (resizing in and out included).

    Returns:
        Markdown: the growth of both from the smallest to the largest size against the
        growth of the pixel count. Where the whole grows clearly less (under 0.8 of it), it
        says whether the time outside the model call (resizing to and from the photo's own
        size, which does not depend on the input size) is negligible (under a tenth), or
        splits it off; where the model call itself grows clearly less, it names likely
        reasons, as likely, not measured. A larger input that runs no slower gets likely
        reasons too (a fixed cost per call, or other work on the machine); a split that
        comes out negative is called noise.
    """
    small, large = sizes[0], sizes[-1]
    pixels = (large / small) ** 2
    whole = total_ms[-1] / total_ms[0]
    call = model_ms[-1] / model_ms[0]
    text = (
        f"From {small} to {large} px the input has {pixels:.1f}× the pixels; the time per "
        f"photo grew {whole:.1f}× ({total_ms[0]:.0f} to {total_ms[-1]:.0f} ms) and the model "
        f"call alone {call:.1f}× ({model_ms[0]:.0f} to {model_ms[-1]:.0f} ms)."
    )
    if whole <= 1 or call <= 1:
        return text + (
            " A larger input that runs no slower means that the arithmetic, which grows with "
            "the pixels, is not what these timings measure. Likely reasons, not measured here: "
            "a fixed cost per call that dwarfs it (here Keras runs the model eagerly, "
            "dispatching its layers one by one from Python, whatever the input size), or other "
            "work on the machine during the timing. To see the arithmetic, time a compiled "
            "call, `tf.function(lambda x: net(x, training=False))`, as 08 times 02's model."
        )
    if whole >= 0.8 * pixels:
        return text + " The time grows about as the pixel count: the model's arithmetic dominates."
    rest = [t - m for t, m in zip(total_ms, model_ms, strict=True)]
    if max(abs(r) for r in rest) <= 0.1 * min(total_ms):  # the resizing weighs little
        text += (
            " Nearly all of that time is the model call: resizing the photo in and the logits "
            "out to its own size takes little."
        )
    elif min(rest) <= 0:  # the two timings disagree more than the rest weighs: noise
        return text + (
            " The two timings are too noisy on this machine to split off the time spent "
            "outside the model call; rerun the cell on a quieter machine."
        )
    else:
        text += (
            f" The rest of each photo's time ({rest[0]:.0f} ms at {small} px, {rest[-1]:.0f} "
            f"at {large}) resizes the photo in and the logits out to the photo's own size, "
            "which depends on the photo, not on the input size."
        )
    if call < 0.8 * pixels:
        text += (
            " The model call itself grows less than its pixels. Likely reasons, not measured "
            "here: each call pays a fixed cost whatever the size (Keras runs the model "
            "eagerly, dispatching its layers one by one from Python), and on a CPU a small "
            "input leaves threads idle while many layers wait on memory rather than "
            "arithmetic; the larger the input, the more the arithmetic dominates, and the "
            "closer the growth comes to the square of the side."
        )
    return text


def int8_against_float32(float32_miou: float, int8_miou: float, difference, target: float = 0.01):
    """Notebook 08's reading of int8's test mIoU against float32's, one Markdown paragraph.

    Quantization adds no information, so int8 scoring the same as float32 or higher is
    rounding noise that happened to fall well on these photos; the sentence says so, and
    reads the paired interval before it calls any difference real (issue 35).

    Args:
        float32_miou, int8_miou: dataset-level test mIoU of the float32 and int8 files.
        difference: :class:`seglib.metrics.Difference`, int8 − float32 per-image mIoU on
            the same photos.
        target: the largest drop, float32 − int8, the notebook accepts.

    Returns:
        Markdown: what the drop is (a gain, no change, a loss within or beyond ``target``),
        then what the paired interval says about it.
    """
    from seglib.metrics import PRACTICAL

    drop = float32_miou - int8_miou
    scores = f"test mIoU {int8_miou:.4f} for int8, {float32_miou:.4f} for float32"
    paired = f"int8 − float32 per-image mIoU = {difference}"
    same = round(drop, 4) == 0
    if drop <= 0 or same:
        text = (
            f"**int8 scores {'the same as' if same else 'higher than'} float32** here ({scores}). "
            "Quantization adds no information: rounding every weight and activation to 8 bits "
            "moves each pixel's logits a little, and where two classes are nearly tied that "
            "noise flips the pixel one way or the other. On these test photos the flips "
            f"{'cancelled out' if same else 'happened to land on the right class a little more often than on the wrong one'}."
        )
    elif drop <= target:
        text = f"int8 loses {drop:.4f} test mIoU against float32 ({scores}), within the target of {target}."
    else:
        text = (
            f"**int8 loses {drop:.4f} test mIoU against float32** ({scores}), more than the "
            f"target of {target}: on this model the rounding costs accuracy (the deep dive "
            "*Why a target can be missed* lists the usual reasons)."
        )
    if not difference.above_noise:
        reading = (
            'read it as "int8 costs nothing measurable here", not as "int8 is better"'
            if drop <= 0 or same
            else "these photos cannot tell the two files apart image by image"
        )
        return text + (
            f" The paired interval, {paired}, includes zero or rounds to it: the difference "
            f"is within the noise of which test photos were drawn, so {reading}."
        )
    small = (
        f" Under {PRACTICAL} it is too small to matter in practice."
        if abs(difference.mean) < PRACTICAL
        else ""
    )
    int8_better = difference.mean > 0
    if not same and int8_better == (drop < 0):
        if int8_better:
            return text + (
                f" The paired interval, {paired}, lies above zero: on these photos this int8 "
                "file's masks really are a little better. That belongs to this file and these "
                "photos (another calibration set could reverse it), not to int8." + small
            )
        return (
            text
            + f" The paired interval, {paired}, lies below zero: the loss is real on these photos."
            + small
        )
    return text + (
        f" Photo by photo it leans the other way, {paired}: the dataset-level score weighs "
        "large photos more, so with differences this small the two averages can disagree." + small
    )


#: Bytes a LiteRT file spends on one scale/zero-point pair: a float32 scale and an int64
#: zero point (``QuantizationParameters`` in LiteRT's flatbuffer schema).
QUANTIZATION_PAIR_BYTES = 12


def int8_file_size(int8_mib: float, dynamic_mib: float, int8_pairs: int, dynamic_pairs: int):
    """Notebook 08's reading of the int8 file's size against the dynamic-range one's.

    Both store the large weight tensors in int8; full-integer int8 also stores a scale and a
    zero point for every activation and every bias channel. The sentence says how much of
    the size difference those pairs account for, and says so only when they do (issue 35).

    Args:
        int8_mib, dynamic_mib: the two files' sizes in MiB.
        int8_pairs, dynamic_pairs: scale/zero-point pairs each file stores (the sum over its
            tensors of ``len(quantization_parameters["scales"])`` in the interpreter's
            ``get_tensor_details()``).

    Returns:
        Markdown, one short paragraph.
    """
    extra = (int8_pairs - dynamic_pairs) * QUANTIZATION_PAIR_BYTES / 2**20
    gap = int8_mib - dynamic_mib
    pairs = (
        f"{int8_pairs:,} scale/zero-point pairs against {dynamic_pairs:,}; at "
        f"{QUANTIZATION_PAIR_BYTES} bytes a pair (a float32 scale, an int64 zero point) that is "
        f"{extra:.2f} MiB more"
    )
    both = "Both store the large weight tensors as int8, with one scale per output channel."
    if gap > 0:
        text = (
            f"**The int8 file is {gap:.2f} MiB larger than the dynamic-range one** "
            f"({int8_mib:.2f} against {dynamic_mib:.2f} MiB). {both} Full-integer int8 also "
            "fixes a scale and a zero point for every activation and for every channel of every "
            f"bias (stored as int32), so it holds {pairs}"
        )
        share = extra / gap
        if 0.75 <= share <= 1.25:
            return text + ": about the whole difference."
        if share < 0.75:
            return text + (
                f", {share:.0%} of the difference; the rest is other bookkeeping in the file "
                "(more tensors, with their shapes and names)."
            )
        return text + (
            ", more than the difference: int8 saves a little elsewhere, for example by "
            "storing in int8 the small weight tensors that dynamic range leaves in float32."
        )
    return (
        f"The int8 file is no larger than the dynamic-range one ({int8_mib:.2f} against "
        f"{dynamic_mib:.2f} MiB). {both} int8 holds {pairs}, for its activations and its int32 "
        "biases, and saves at least as much elsewhere, for example by storing in int8 the "
        "small weight tensors that dynamic range leaves in float32."
    )


def bonferroni_verdict(
    difference, a: str, b: str, what: str, comparisons: int, scope: str, at_most: bool = False
) -> str:
    """A robustness check read at the Bonferroni level (notebook 09's antialiasing check).

    Args:
        difference: :class:`seglib.metrics.Difference` ``a − b``, computed at the level
            :func:`seglib.metrics.bonferroni` gives for ``comparisons`` intervals.
        a, b: what was compared. what: the score. comparisons: intervals read in all.
        scope: what the interval covers. at_most: ``comparisons`` is an upper bound (some
            intervals are read only in some runs).

    Returns:
        Markdown: the level, then :meth:`~seglib.metrics.Difference.verdict` with the level
        printed to a tenth of a percent (99.6 %, not a rounded 100 %), then what it means for
        the question "does the change cost the model anything?": no measurable difference
        (within noise, or under 0.01); or a difference of 0.01 or more, naming which side it
        favours.
    """
    level = f"{difference.confidence:.1%}"
    sentence = difference.verdict(a, b, what=what, scope=scope).replace(
        f"{difference.confidence:.0%} CI", f"{level} CI"
    )
    lead = (
        f"Read at the Bonferroni level for {'at most ' if at_most else ''}{comparisons} "
        f"intervals ({level} each, so that the "
        "chance of any false alarm among them stays at most 5 %): "
    )
    if not difference.above_noise or abs(difference.mean) < 0.01:
        meaning = (
            f" For this model, {b} cost nothing measurable on {what}: the two kinds of photos "
            "score alike."
        )
    elif difference.mean > 0:
        meaning = f" {b[:1].upper()}{b[1:]} cost this model {difference.mean:.3f} of {what}."
    else:
        meaning = (
            f" This model scores {-difference.mean:.3f} higher on {b} than on {a}, which the "
            "check did not expect; one model, one set of photos."
        )
    return lead + sentence + meaning
