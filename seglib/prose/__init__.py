"""Sentences the notebooks print about their own results.

A notebook's verdicts depend on the run, so they are generated, never typed. The
sentence-writing code lives here, out of the notebook cells, so that a cell shows the
measurement and one call, not a page of if/elif. The one rule for "is this difference
real?" is :meth:`seglib.metrics.Difference.verdict`; these functions use it and add what
a particular section needs to say.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def batchnorm_lag(lag: pd.DataFrame, lag_steps: int, true_background: float) -> str:
    """Notebook 03's reading of its BatchNorm-lag demo, one Markdown paragraph.

    Args:
        lag: one row per ``(model label, mode)`` with columns ``"pixel accuracy"`` and
            ``"predicted background"`` (shares in [0, 1]); labels ``"kept model"`` and
            ``f"+{lag_steps} fast steps"``, modes ``"running averages"`` and
            ``"batch statistics"``.
        lag_steps: fast steps taken by the second model.
        true_background: share of background pixels in the batch's trimaps, in [0, 1].

    Returns:
        Text saying whether the kept model's two modes agree, and whether the fast steps
        pulled the running averages away from the weights (a gap that grew by more than
        0.05 of pixel accuracy), naming the "background everywhere" failure only when
        inference mode really calls at least 90% of the pixels background (and 20 points
        more than the truth).
    """
    fast = f"+{lag_steps} fast steps"

    def accuracy(label, mode):
        return float(lag.loc[(label, mode), "pixel accuracy"])

    def gap(label):
        return accuracy(label, "batch statistics") - accuracy(label, "running averages")

    if abs(gap("kept model")) <= 0.05:
        kept_state = (
            "close: its averages fit its weights (the statistics of a batch of a few photos are "
            "themselves a little noisy, so the two modes never agree exactly)"
        )
    else:
        kept_state = "already apart: even the kept model's averages do not quite fit its weights"
    if gap(fast) - gap("kept model") > 0.05:
        lost = {
            mode: accuracy("kept model", mode) - accuracy(fast, mode)
            for mode in ("running averages", "batch statistics")
        }
        verdict = (
            f"inference mode lost {lost['running averages']:.2f} of pixel accuracy, training mode "
            f"only {lost['batch statistics']:.2f}: the running averages now lag behind the weights"
        )
        fast_bg = float(lag.loc[(fast, "running averages"), "predicted background"])
        if fast_bg > max(0.9, true_background + 0.2):
            verdict += (
                f", and inference mode calls {fast_bg:.0%} of the pixels background (truth "
                f"{true_background:.0%}): the keras.io recipe's failure in miniature"
            )
    else:
        verdict = (
            f"the two modes moved together, so after only {lag_steps} steps the lag has not built "
            "up (set `LAG_STEPS` higher, or `RUN_RECIPE = True`, to see it)"
        )
    return (
        f"Kept model: pixel accuracy {accuracy('kept model', 'running averages'):.2f} with its "
        f"running averages, {accuracy('kept model', 'batch statistics'):.2f} with batch "
        f"statistics (batch minus running {gap('kept model'):+.2f}): {kept_state}. After "
        f"{lag_steps} keras.io-style steps: {accuracy(fast, 'running averages'):.2f} and "
        f"{accuracy(fast, 'batch statistics'):.2f} ({gap(fast):+.2f}); {verdict}."
    )


def pretraining_worth(difference, n_train: int, scratch: str) -> str:
    """Notebook 07's sentence on what the pretrained encoder was worth on this run.

    Args:
        difference: :class:`seglib.metrics.Difference`, pretrained minus the
            higher-scoring model trained from scratch, per-image mIoU.
        n_train: training photos of the run. scratch: name of that from-scratch model.
    """
    if difference.above_noise and difference.mean > 0:
        return (
            f"With {n_train} training photos, the pretrained encoder is ahead of the "
            f"higher-scoring model trained from scratch ({scratch}) by {difference}: on these "
            "test photos, for these training runs, what the encoder learned on ImageNet is "
            "worth more than what these photos teach a network from nothing."
        )
    if difference.above_noise:
        return (
            f"With {n_train} training photos, the model trained from scratch ({scratch}) is "
            f"ahead of the pretrained encoder (pretrained − scratch = {difference}): on these "
            "test photos, for these training runs, the training photos taught a network from "
            "nothing more than ImageNet taught the encoder. Check first that both are their "
            "notebooks' models, not stand-ins trained here, and that the encoder's ImageNet "
            "weights loaded."
        )
    return (
        f"With {n_train} training photos, the pretrained encoder and the higher-scoring model "
        f"trained from scratch ({scratch}) are not apart beyond the noise ({difference}): this "
        "run does not show what pretraining is worth."
    )


def worst_photos(facts: pd.DataFrame, k: int) -> str:
    """Notebook 07's reading of its error analysis, one Markdown paragraph.

    Args:
        facts: columns ``"worst"`` and ``"best"`` (means over ``k`` photos each), rows
            ``"pet share"``, ``"border share"``, ``"confidence on border"``,
            ``"confidence elsewhere"`` and ``"unsure pixels on border"`` (shares and
            confidences in [0, 1]; the last NaN when no pixel is unsure).
        k: photos in each group.

    Returns:
        Text comparing pet size and border share of the worst and best photos, then
        whether the model's unsure pixels (confidence below 2/3) follow the trimap's
        border band: "trace" at 2 or more times the band's share (and lower confidence on
        the band), "over-represented" from 1.2, "about chance" below.
    """
    worst, best = facts["worst"], facts["best"]
    size_word = "smaller" if worst["pet share"] < best["pet share"] else "larger"
    text = [
        f"On the {k} worst photos the pet covers {worst['pet share']:.0%} of the photo on "
        f"average, against {best['pet share']:.0%} on the {k} best: the worst photos have "
        f"{size_word} pets on average, and their border band covers "
        f"{worst['border share']:.0%} of the pixels (best: {best['border share']:.0%})."
    ]
    confidence = (
        f"Its mean confidence is {worst['confidence on border']:.2f} on the border band and "
        f"{worst['confidence elsewhere']:.2f} elsewhere"
    )
    unsure = worst["unsure pixels on border"]
    lift = unsure / worst["border share"] if worst["border share"] > 0 else math.nan
    sure = (
        f"{confidence}; {unsure:.0%} of its unsure pixels (confidence below 2/3) lie on the "
        f"border, which holds {worst['border share']:.0%} of the pixels: {lift:.1f} times its "
        "share"
    )
    if math.isnan(lift):
        text.append(
            f"{confidence}, and no pixel of these photos falls below 2/3: its mistakes here are "
            "confident ones, whole regions given the wrong class."
        )
    elif lift >= 2 and worst["confidence on border"] < worst["confidence elsewhere"]:
        text.append(
            f"{sure}. The dark outlines of the confidence maps trace the trimap's border: where "
            "the annotators were unsure, so is the model."
        )
    elif lift >= 1.2:
        text.append(
            f"{sure}. The border band is over-represented among the unsure pixels, yet most of "
            f"them ({1 - unsure:.0%}) lie elsewhere: on its worst photos the model is unsure "
            "which whole regions are pet, not only where the edge runs. Look in the confidence "
            "maps above for dark patches inside the pet or the background."
        )
    else:
        text.append(
            f"{sure}, about what chance would give, so the uncertainty does not follow the "
            "border band. The mistakes are whole regions (the model is unsure, or wrong, across "
            "the photo), which is what a barely trained model, or a photo unlike the training "
            "photos, looks like."
        )
    return " ".join(text)


def lobo_verdict(difference, n_all: int, n_lobo: int, held_out: list, scope: str) -> str:
    """Notebook 09's leave-one-breed-out reading: a verdict that claims no more than it shows.

    Args:
        difference: :class:`seglib.metrics.Difference`, per-image pet IoU on the unseen
            breeds' test photos, all-breeds model minus leave-one-breed-out model.
        n_all, n_lobo: training photos of the two models.
        held_out: the held-out breeds. scope: what the interval covers.

    Returns:
        The :meth:`~seglib.metrics.Difference.verdict` sentence, followed, when the two
        models trained on different numbers of photos, by a sentence saying so: the
        comparison then mixes the unseen breed with the extra photos, so it is no
        measure of domain shift (a fair one needs the same number of training photos).
    """
    breeds = ", ".join(held_out)
    sentence = difference.verdict(
        "the all-breeds model",
        "the leave-one-breed-out model",
        what=f"per-image pet IoU of the unseen breed(s) ({breeds})",
        scope=scope,
    )
    if n_all == n_lobo:
        return sentence + " Both trained on the same number of photos."
    return sentence + (
        f" The two did not train on the same number of photos ({n_all} against {n_lobo}), so "
        "this gap mixes seeing the breed with simply seeing more photos: it does not measure "
        "the cost of domain shift. The fair comparison, against a model trained on as many "
        "photos of the seen breeds, comes in a later notebook."
    )


def unsure_pixels(result, threshold: float) -> str:
    """One sentence on where a segmented photo's model is unsure, for under its figure.

    Args:
        result: a :class:`seglib.inference.Segmentation`.
        threshold: confidence below which a pixel counts as unsure, in (0, 1].

    Returns:
        A sentence (Markdown) with the share of the photo that is unsure, how those pixels
        split over the classes the mask gives them, and whether the probabilities were
        rescaled by a temperature or raw.

    Raises:
        CalibrationError: a bad ``threshold``.
    """
    unsure = result.unsure(threshold)
    share = float(unsure.mean())
    if result.temperature != 1.0:
        kind = f"calibrated confidence (temperature {result.temperature:.3g})"
    else:
        kind = "raw confidence (the model's own softmax)"
    if not unsure.any():
        return (
            f"No pixel of this photo has a {kind} below {threshold:g}: the model is sure "
            "everywhere, which is only worth as much as its probabilities."
        )
    by_class = np.bincount(result.mask[unsure].ravel(), minlength=3) / unsure.sum()
    names = ("pet", "background", "border")
    shown = [k for k in np.argsort(-by_class) if by_class[k] >= 0.005]  # none printed as 0%
    split = ", ".join(f"{by_class[k]:.0%} {names[k]}" for k in shown)
    where = (
        "mostly along the outline the mask calls border"
        if by_class[2] >= 0.5
        else "not only along the outline: look for whole regions in yellow"
    )
    return (
        f"{share:.1%} of this photo's pixels have a {kind} below {threshold:g}; the mask calls "
        f"them {split}, so the doubt lies {where}."
    )


def border_ignored(table: pd.DataFrame) -> str:
    """What scoring with the trimap's border ignored changed, for under notebook 07's table.

    Args:
        table: one column per model, with the rows ``"3 classes: pet IoU"``,
            ``"border ignored: pet IoU"``, ``"3 classes: per-image mIoU"`` and
            ``"border ignored: per-image mIoU"`` (floats in [0, 1]).

    Returns:
        Markdown: the range of the change in pet IoU over the models, and whether the order of
        the models by per-image mIoU is the same under both evaluations, compared at the
        three decimals the table prints (a tie there is named, never called a change of
        order). It ranks by the scores alone and says so: no interval is computed for these
        rankings.

    Raises:
        KeyError: a row is missing.
    """
    gain = table.loc["border ignored: pet IoU"] - table.loc["3 classes: pet IoU"]
    direction = "raises" if (gain > 0).all() else "lowers" if (gain < 0).all() else "changes"
    low, high = float(gain.min()), float(gain.max())
    spread = f"by {low:+.3f}" if len(gain) == 1 else f"by {low:+.3f} to {high:+.3f}"
    lines = [f"Ignoring the border {direction} pet IoU {spread} (dataset level)."]
    if len(table.columns) > 1:
        # Compared as printed, at three decimals: a tie there is no change of order.
        three = table.loc["3 classes: per-image mIoU"].astype(float).round(3)
        two = table.loc["border ignored: per-image mIoU"].astype(float).round(3)
        names = list(table.columns)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        swapped = [(a, b) for a, b in pairs if (three[a] - three[b]) * (two[a] - two[b]) < 0]

        def order(scores):
            ranked = scores.sort_values(ascending=False, kind="stable")
            text = str(ranked.index[0])
            for prev, name in zip(ranked.index[:-1], ranked.index[1:], strict=True):
                text += f" {'=' if ranked[name] == ranked[prev] else '>'} {name}"
            return text

        if not swapped:
            lines.append(
                "The order of the models by per-image mIoU is the same under both evaluations"
            )
            ties = [
                f"{a} and {b} tie at {scores[a]:.3f} {where}"
                for scores, where in (
                    (three, "with three classes"),
                    (two, "with the border ignored"),
                )
                for a, b in pairs
                if scores[a] == scores[b] and (three[a] != three[b] or two[a] != two[b])
            ]
            if ties:
                lines[-1] += f" (no two models swap places at three decimals; {'; '.join(ties)})"
        else:
            lines.append(
                "The order of the models by per-image mIoU changes: "
                f"{order(three)} with three classes, {order(two)} with the border ignored"
            )
        lines[-1] += (
            "; that order is read from the scores alone, on these test photos, for these "
            "training runs (no interval is computed for it here, and the intervals below "
            "are for the three-class scores)."
        )
    return " ".join(lines)


def technique_advice(technique: str, difference, what: str, cost: str, use_when: str, scope: str):
    """Notebook 09's summary: what a technique bought, read only from its interval.

    Args:
        technique: its name, e.g. ``"test-time augmentation"``.
        difference: :class:`seglib.metrics.Difference` oriented so that a **positive**
            mean means the technique helped (e.g. with TTA minus without, or ECE before
            minus after temperature scaling).
        what: the score compared, e.g. ``"per-image mIoU"``.
        cost: what it costs, e.g. ``"6 forward passes, 4.1× the time per photo"``.
        use_when: when to use it if it helped, e.g. ``"when a photo's mask matters more
            than its latency"``.
        scope: what the interval covers (e.g. :data:`seglib.metrics.SCOPE`).

    Returns:
        One Markdown bullet. A gain is claimed only when
        :attr:`~seglib.metrics.Difference.above_noise`; a loss says so; otherwise the
        technique is called not worth its cost on this evidence.
    """
    if difference.above_noise and difference.mean > 0:
        return (
            f"* **{technique}** helped {scope}: {what} {difference}, for {cost}. Use it {use_when}."
        )
    if difference.above_noise:
        return (
            f"* **{technique}** did harm {scope}: {what} {difference}, for {cost}. "
            "Leave it out here."
        )
    return (
        f"* **{technique}**: within noise {scope} ({what} {difference}; the interval includes "
        f"zero), for {cost}. On this evidence it is not worth its cost; more test photos or "
        "seeds could still show a small effect."
    )


def prediction_grid(per_image: pd.DataFrame, rows: int, column: str = "mean_iou") -> str:
    """The reading of a prediction grid of the first ``rows`` photos of a split (notebook 02).

    :func:`seglib.viz.show_predictions` draws the first photos of the test pipeline, which are
    the first rows of :attr:`seglib.metrics.Evaluation.per_image` (same split, same order). This
    names the weakest of the photos shown and places it among all the photos scored.

    Args:
        per_image: one row per photo in the split's order, with ``column`` (float in [0, 1];
            NaN rows are ignored when ranking).
        rows: photos shown in the grid (the first ``rows`` of ``per_image``), at least 1.
        column: the per-image score to read (default per-image mIoU).

    Returns:
        One Markdown sentence or two: the weakest row, its score, its rank among the scored
        photos (1 = worst) and the median photo's score; "among the worst tenth" when it ranks
        in the lowest 10 %, "below the median photo" when it is under the median, otherwise
        that the rows shown are easier than the typical photo.

    Raises:
        ValueError: ``rows`` is below 1 or above the number of photos scored.
        KeyError: ``column`` is not in ``per_image``.
    """
    scores = per_image[column].astype(float).reset_index(drop=True)
    if not 1 <= rows <= len(scores):
        raise ValueError(f"rows must be between 1 and {len(scores)}, got {rows}")
    shown = scores.iloc[:rows]
    worst = int(shown.idxmin()) if shown.notna().any() else 0
    value = float(scores.iloc[worst])
    ranked = scores.dropna()
    rank = int((ranked < value).sum()) + 1
    median = float(ranked.median())
    label = column.replace("_", " ").replace("mean iou", "mIoU")
    text = (
        f"Of the {rows} rows, row {worst + 1} scores lowest: per-image {label} {value:.2f} "
        f"(at the photo's original resolution), rank {rank} of the {len(ranked)} test photos "
        f"counted from the worst, where the median photo scores {median:.2f}."
    )
    if rank <= max(1, math.ceil(0.1 * len(ranked))):
        return text + (
            " It is among the worst tenth of the test photos: compare its predicted mask with "
            "the true one to see which class takes over where."
        )
    if value < median:
        return text + " It is below the median photo, a weaker than typical result."
    return text + (
        " Even the weakest row scores above the median photo: these rows are easier than the "
        "typical test photo, so do not judge the model by them alone."
    )


def train_validation_gap(
    history: pd.DataFrame, metric: str = "mean_iou", running_start: float | None = None
) -> str:
    """The reading of a training run's train/validation gap at its best validation epoch.

    Args:
        history: one row per epoch (:func:`seglib.training.read_history`) with the columns
            ``epoch`` (0-based), ``metric`` and ``"val_" + metric`` (floats in [0, 1]).
        metric: the score to read (default mIoU).
        running_start: optional share in [0, 1] of their starting values that the decoder's
            BatchNorm running averages still keep (``0.99 ** steps``); None: not known.

    Returns:
        One Markdown paragraph: both values at the best validation epoch and their gap
        (training minus validation). Over 0.05: the model fits its training photos better
        than new ones (the start of overfitting). Below -0.02: validation is higher, because
        the training score is taken on augmented photos, with BatchNorm on batch statistics,
        averaged over an epoch while the weights still change. Otherwise: no gap to speak of.
        The thresholds only choose words; the gap is one run's, not an interval. When
        ``running_start`` is over 0.1 a gap over 0.05 also names BatchNorm lag (validation
        runs in inference mode on running averages that have not settled) as a cause.

    Raises:
        KeyError: a column is missing. ValueError: ``history`` is empty.
    """
    if history.empty:
        raise ValueError("history is empty: nothing was logged")
    best = history.loc[history[f"val_{metric}"].idxmax()]
    train, val = float(best[metric]), float(best[f"val_{metric}"])
    gap = train - val
    label = metric.replace("_", " ").replace("mean iou", "mIoU")
    text = (
        f"At the best validation epoch ({int(best['epoch']) + 1}) the training {label} was "
        f"{train:.3f} and the validation {label} {val:.3f}, a gap of {gap:+.3f}."
    )
    if gap > 0.05 and running_start is not None and running_start > 0.1:
        return text + (
            f" The BatchNorm running averages still keep {running_start:.0%} of their starting "
            "values, and validation runs in inference mode on them: much of this gap can be "
            "that lag rather than memorising (more updates, i.e. more photos or epochs, "
            "shrink it)."
        )
    if gap > 0.05:
        return text + (
            " The model fits its training photos clearly better than photos it never trained "
            "on: it is starting to memorise them, which is what augmentation and the "
            "best-validation checkpoint are there to hold back."
        )
    if gap < -0.02:
        return text + (
            " Validation scores higher than training: the training score is taken on "
            "augmented photos (harder), with batch normalisation using each batch's own "
            "statistics, and averaged over an epoch while the weights were still improving; "
            "no sign of memorising the training photos yet."
        )
    return text + (
        " The two are close: at this point the model does about as well on photos it never "
        "trained on as on its training photos, so it has not started to memorise them."
    )


def degenerate(
    name: str,
    scores=None,
    *,
    simpler: str | None = None,
    difference=None,
    value: float | None = None,
    reference: tuple[float, float] | None = None,
    what: str = "test mIoU",
) -> str:
    """The one sentence a notebook prints when a result is degenerate; ``""`` otherwise.

    Three cases, each checked before anything is said (issue 35):

    * a class the model never predicts: in ``scores`` (:class:`seglib.metrics.Scores`), a
      class with true pixels whose predicted share is 0 or whose IoU rounds to 0.000;
    * a model that loses to a simpler one: ``difference`` (:class:`seglib.metrics.Difference`,
      this model − ``simpler``) above the noise and negative;
    * a figure outside the reference runs' range: ``value`` (in [0, 1]) outside
      ``reference = (low, high)``, the range over the reference seeds.

    Args:
        name: the model's name as the notebook prints it.
        scores, simpler, difference, value, reference: as above; each case is checked only
            when its arguments are given.
        what: the figure ``value`` is, for the sentence.

    Returns:
        Markdown, one short paragraph per case that holds (each says what it means for the
        student reading the numbers), or ``""`` when none holds.
    """
    notes = []
    if scores is not None:
        confusion = np.asarray(scores.confusion)
        total = max(int(confusion.sum()), 1)
        predicted = confusion.sum(0) / total
        present = confusion.sum(1) > 0
        for k, cls in enumerate(scores.class_names):
            iou = scores.iou[k]
            if present[k] and (predicted[k] == 0 or round(float(iou), 3) == 0):
                notes.append(
                    f"**{name} never predicts {cls}** (IoU {iou:.3f}, {predicted[k]:.1%} of the "
                    f"pixels predicted {cls}): it has not learned the class at all, so its "
                    f"mIoU averages in a zero and says little about how well it separates the "
                    "other classes; read those classes' IoU instead."
                )
    if difference is not None and simpler is not None:
        if difference.above_noise and difference.mean < 0:
            notes.append(
                f"**{name} scores below {simpler}, a simpler model** ({name} − {simpler} = "
                f"{difference}): in this run the extra machinery did not pay for itself. One "
                "run decides this; the reference seeds say whether it is the rule or this "
                "seed's luck."
            )
    if value is not None and reference is not None:
        low, high = reference
        if not low <= value <= high:
            side = "below" if value < low else "above"
            notes.append(
                f"**The {what} of {name}, {value:.3f}, is {side} the reference runs' range** "
                f"({low:.3f} to {high:.3f} over their seeds): this run is not typical of the "
                "recipe, so read its comparisons as this run's, not the recipe's."
            )
    return "\n\n".join(notes)


def seed_agreement(difference, agree: bool, seeds: int) -> str:
    """What the training seeds add to a paired interval's verdict (notebook 05).

    The paired bootstrap resamples test photos, not training runs, so notebook 05 also asks
    whether every seed's pair of models is ranked the same way. That is a weak filter, and
    the sentence says how weak: if the two recipes were equally good, each seed's order would
    be a coin flip, and all ``seeds`` seeds would still agree with probability
    ``2 × 0.5 ** seeds`` (25 % for three seeds, 6 % for five).

    Args:
        difference: the :class:`seglib.metrics.Difference` of the per-photo scores (averaged
            over the seeds).
        agree: True when every seed's model ranks the two as the sign of
            ``difference.mean`` does.
        seeds: number of training seeds, at least 1.

    Returns:
        ``""`` when the difference is within noise (the verdict already says so); otherwise
        one sentence: one seed (its luck not ruled out), seeds that disagree (within noise
        across seeds), or seeds that agree, with the chance of that for equal recipes.

    Raises:
        ValueError: ``seeds`` below 1.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    if not difference.above_noise:
        return ""
    if seeds == 1:
        return "One training seed: the seed's luck is not ruled out."
    if not agree:
        return "The seeds disagree on the order, so across seeds it is within noise."
    chance = 2 * 0.5**seeds
    share = f"{chance:.0%}" if chance >= 0.01 else f"{chance:.2%}"
    power = str(seeds).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return (
        f"All {seeds} seeds rank the two the same way, a weak check: if the two losses were "
        f"equally good, {seeds} seeds would still agree {share} of the time (each seed's "
        f"order a coin flip: 2 × 0.5{power})."
    )


def tta_decision(difference, short: str, plain_ms: float, tta_ms: float) -> str:
    """Notebook 07's choice of test-time augmentation, made on validation photos.

    Args:
        difference: :class:`seglib.metrics.Difference`, per-image mIoU with TTA minus
            without, on validation photos (paired).
        short: the model's short name.
        plain_ms, tta_ms: milliseconds per photo without and with TTA (positive).

    Returns:
        Markdown: the verdict (:meth:`~seglib.metrics.Difference.verdict`, scoped to the
        validation photos), the cost, and the decision: TTA is scored once on the test
        photos only when it helps beyond the noise (``above_noise`` and a positive mean);
        otherwise it is not scored on them.
    """
    verdict = difference.verdict(
        f"{short} + TTA", short, "per-image mIoU", scope="on these validation photos"
    )
    ratio = tta_ms / plain_ms
    cost = f"It costs {ratio:.1f}× the time per photo ({plain_ms:.0f} → {tta_ms:.0f} ms)."
    if difference.above_noise and difference.mean > 0:
        decision = (
            "Chosen on validation photos, TTA is scored once on the test photos below, "
            "beside the same model without it."
        )
    else:
        decision = (
            "It does not help beyond the noise on validation photos, so it is not scored on "
            "the test photos: use the model as it is."
        )
    return f"{verdict} {cost} {decision}"


# ---------------------------------------------------------------------------
# Notebook 02: the fine-tuning stage's speed, and one watched photo over the epochs
# ---------------------------------------------------------------------------

#: Stage 2's time per epoch must be at least this multiple of stage 1's before
#: :func:`fine_tuning_speed` calls it slower (and names the encoder's gradients as the cause).
CLEARLY_SLOWER = 1.2


def fine_tuning_speed(
    frozen_seconds: float,
    frozen_epochs: int,
    tuned_seconds: float,
    tuned_epochs: int,
    slower: float = CLEARLY_SLOWER,
) -> str:
    """How long fine-tuning (stage 2) took per epoch against the frozen-encoder stage 1.

    Stage 2 does everything stage 1 does plus the encoder's gradients, so one expects it to
    be slower; whether it is depends on the machine, and the sentence names that cause only
    when the run shows it.

    Args:
        frozen_seconds, frozen_epochs: stage 1's wall time and the epochs it ran.
        tuned_seconds, tuned_epochs: the same for stage 2.
        slower: the ratio of seconds per epoch (stage 2 / stage 1) from which stage 2 counts
            as clearly slower; its inverse is the threshold for clearly faster.

    Returns:
        One Markdown paragraph that starts "Stage 2 took X min" (``benchmarks.estimates``
        reads it) with the seconds per epoch and the ratio. At a ratio of at least
        ``slower``: slower, because the encoder's gradients are computed now. At most
        ``1 / slower``: faster, with what stage 1's time includes that stage 2's does not.
        Otherwise: about as fast, and why the extra work need not show.

    Raises:
        ValueError: a time or an epoch count that is not positive.
    """
    if min(frozen_seconds, tuned_seconds) <= 0 or min(frozen_epochs, tuned_epochs) <= 0:
        raise ValueError("times and epoch counts must be positive")
    frozen_per_epoch = frozen_seconds / frozen_epochs
    per_epoch = tuned_seconds / tuned_epochs
    ratio = per_epoch / frozen_per_epoch
    text = (
        f"Stage 2 took {tuned_seconds / 60:.1f} min ({per_epoch:.1f} s per epoch, "
        f"{ratio:.1f}× stage 1's {frozen_per_epoch:.1f} s)."
    )
    if ratio >= slower:
        return text + (
            " Its epochs are slower because the encoder's gradients are computed now: in "
            "stage 1 the frozen encoder only ran forward."
        )
    if ratio <= 1 / slower:
        return text + (
            " Its epochs were faster, although they do more work (the encoder's gradients): "
            "stage 1's time includes its first epoch, which also decoded and resized every "
            "photo into the cache, and timings on a busy machine vary."
        )
    return text + (
        " About as fast, although stage 2 also computes the encoder's gradients: on this "
        "machine that extra work is small next to what both stages do every epoch, above all "
        "the decoder's forward and backward passes (its transposed convolutions at high "
        "resolution need several times the encoder's multiply-adds), then reading the batches "
        "and scoring the validation photos."
    )


def watched_photo(accuracy: dict, photo: str = "the watched validation photo") -> str:
    """The reading of a strip of one photo's predicted masks over training epochs.

    Args:
        accuracy: ``{epoch: share of the photo's pixels predicted right}`` in training order
            (:meth:`seglib.viz.DisplayCallback.pixel_accuracy`), shares in [0, 1].
        photo: how the sentence names the photo.

    Returns:
        One Markdown sentence or two: the share at the first and the last epoch recorded;
        when it rose by at least 0.02, by which epoch nine tenths of the rise had come (or
        that it was still rising at the end); when it fell by at least 0.02, that it fell on
        this photo and that one photo is no verdict; otherwise that it barely changed.

    Raises:
        ValueError: ``accuracy`` is empty.
    """
    if not accuracy:
        raise ValueError("no epochs recorded: make the DisplayCallback with record=True")
    epochs, shares = list(accuracy), [float(v) for v in accuracy.values()]
    if len(epochs) == 1:
        return f"Only epoch {epochs[0]} was recorded: {shares[0]:.0%} of the pixels labelled right."
    first, last = shares[0], shares[-1]
    change = last - first
    text = (
        f"On {photo}, the share of pixels labelled right went from {first:.0%} after epoch "
        f"{epochs[0]} to {last:.0%} after epoch {epochs[-1]}"
    )
    if change >= 0.02:
        target = first + 0.9 * change
        by = next(e for e, s in zip(epochs, shares, strict=True) if s >= target)
        if by < epochs[-1]:
            return text + (
                f"; nine tenths of that rise had come by epoch {by}: the mask took its shape "
                "early, and later epochs refined it."
            )
        return text + ", and it was still rising at the last epoch."
    if change <= -0.02:
        return text + (
            ": worse at the end than at the start, on this one photo. One photo is no "
            "verdict: the validation curves cover every validation photo."
        )
    return text + (
        ": about the same at both ends, so over these epochs the prediction for this photo "
        "barely changed (the validation curves cover every validation photo)."
    )


# Notebooks 08 and 09: in seglib/prose/trust.py (this module stays under 1,000 lines).
from seglib.prose.trust import (  # noqa: E402, F401  (re-exported: prose.calibration_verdict, ...)
    QUANTIZATION_PAIR_BYTES,
    bonferroni_verdict,
    calibration_verdict,
    input_size_cost,
    int8_against_float32,
    int8_file_size,
    size_choice,
    still_learning,
)
