"""Sentences the notebooks print about their own results.

A notebook's verdicts depend on the run, so they are generated, never typed. The
sentence-writing code lives here, out of the notebook cells, so that a cell shows the
measurement and one call, not a page of if/elif. The one rule for "is this difference
real?" is :meth:`seglib.metrics.Difference.verdict`; these functions use it and add what
a particular section needs to say.
"""

from __future__ import annotations

import math

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
    """Notebook 02's leave-one-breed-out reading: a verdict that claims no more than it shows.

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
