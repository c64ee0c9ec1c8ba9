"""Loss-side alternatives to class weighting: soft Dice, and Dice plus cross-entropy.

Cross-entropy averages a loss over *pixels*, so a class that covers a tenth of the
pixels gets a tenth of the say. The Dice coefficient of a class compares the predicted
and the true region of that class as a whole, ``2 |P ∩ G| / (|P| + |G|)``; averaging it
over classes gives the thin border band the same say as the background, whatever its
pixel count, which is what class weighting tries to achieve from the data side.

The **soft** Dice replaces the hard regions by the softmax probabilities ``p`` and the
one-hot labels ``g``, so it is differentiable (Milletari, Navab and Ahmadi, "V-Net",
3DV 2016; the V-Net paper squares ``p`` and ``g`` in the denominator, we use the plain
sums as Sudre et al., "Generalised Dice overlap as a deep learning loss function for
highly unbalanced segmentations", DLMIA 2017, and most libraries do):

    dice_{i,c} = (2 sum_x p_{i,x,c} g_{i,x,c} + s) / (sum_x p_{i,x,c} + sum_x g_{i,x,c} + s)
    loss_i     = 1 - mean_c dice_{i,c}

for image i, pixel x, class c, with a smoothing term ``s`` (in pixels) that keeps the
ratio defined when a class is absent from an image: its Dice is then ``s / (sum_x p + s)``,
close to 1 only while the model puts little probability on it (a stray probability mass
of ``s`` pixels already halves it).

Both losses follow the house convention: ``y_true`` sparse labels uint8/int
``[B, H, W, 1]`` or ``[B, H, W]`` with values 0..C-1, ``y_pred`` **logits**
``[B, H, W, C]``. ``call`` returns one value per image, ``[B]``; the ``reduction``
(Keras 3: ``"sum_over_batch_size"`` by default, ``"sum"``, ``"mean"``, or None for the
per-image values) turns them into the scalar ``fit`` minimises. Sample weights, if any,
are per image (``[B]``), not per pixel.
"""

from __future__ import annotations

from seglib.data import NUM_CLASSES

import keras
from keras import ops


def _one_hot_and_probabilities(y_true, y_pred, num_classes: int):
    """``[B, H, W(, 1)]`` labels and ``[B, H, W, C]`` logits -> (one-hot, softmax), float."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.cast(ops.convert_to_tensor(y_true), "int32")
    if len(labels.shape) == len(y_pred.shape) and labels.shape[-1] == 1:  # drop channel axis
        labels = ops.squeeze(labels, axis=-1)
    if len(labels.shape) != len(y_pred.shape) - 1 or any(
        a is not None and b is not None and a != b
        for a, b in zip(labels.shape, y_pred.shape[:-1], strict=False)
    ):
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} do not fit logits of shape "
            f"{tuple(y_pred.shape)}: expected labels [B, H, W, 1] or [B, H, W] and "
            "logits [B, H, W, C]"
        )
    one_hot = ops.one_hot(labels, num_classes, dtype=y_pred.dtype)
    return one_hot, ops.softmax(y_pred, axis=-1)


def soft_dice_per_class(y_true, y_pred, num_classes: int = NUM_CLASSES, smooth: float = 1.0):
    """Soft Dice coefficient of every image and class.

    Args:
        y_true: labels ``[B, H, W, 1]`` or ``[B, H, W]``, integers 0..C-1.
        y_pred: logits ``[B, H, W, C]`` (softmax is applied here).
        num_classes: C. smooth: ``s`` in the formula of the module docstring, in pixels.

    Returns:
        float ``[B, C]`` in (0, 1]: 1 when the probabilities match the labels exactly.
    """
    one_hot, probabilities = _one_hot_and_probabilities(y_true, y_pred, num_classes)
    spatial = tuple(range(1, len(one_hot.shape) - 1))  # (1, 2) for images
    intersection = ops.sum(one_hot * probabilities, axis=spatial)  # [B, C]
    sizes = ops.sum(one_hot, axis=spatial) + ops.sum(probabilities, axis=spatial)
    return (2.0 * intersection + smooth) / (sizes + smooth)


@keras.saving.register_keras_serializable(package="seglib")
class SoftDiceLoss(keras.losses.Loss):
    """Soft Dice loss on logits and sparse masks: ``1 - mean over classes of soft Dice``.

    Source: Milletari et al., V-Net, 3DV 2016 (soft Dice as a loss); the formula is in
    the module docstring. Every class counts equally, whatever its pixel share.

    Args:
        num_classes: C (3: pet, background, border).
        smooth: smoothing term in pixels (default 1; small next to 16,384 pixels a
            128x128 image has).
        reduction: Keras 3 reduction of the per-image losses: ``"sum_over_batch_size"``
            (mean over the batch, the default), ``"sum"``, ``"mean"``, or None.
        name: loss name.

    Call:
        ``loss(y_true, y_pred, sample_weight=None)`` with ``y_true`` ``[B, H, W, 1]`` or
        ``[B, H, W]`` (ints 0..C-1), ``y_pred`` logits ``[B, H, W, C]``, optional
        ``sample_weight`` ``[B]`` (per image). Returns a float scalar in [0, 1)
        (``[B]`` with ``reduction=None``): about 0 for perfect logits, near 1 when the
        predicted regions miss the true ones.
    """

    def __init__(
        self,
        num_classes: int = NUM_CLASSES,
        smooth: float = 1.0,
        reduction="sum_over_batch_size",
        name: str = "soft_dice",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0, got {smooth}")
        self.num_classes = int(num_classes)
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        dice = soft_dice_per_class(y_true, y_pred, self.num_classes, self.smooth)
        return 1.0 - ops.mean(dice, axis=-1)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="seglib")
class DiceCrossEntropyLoss(keras.losses.Loss):
    """Cross-entropy plus soft Dice: ``ce_weight * CE_i + dice_weight * (1 - Dice_i)`` per image.

    ``CE_i`` is the mean sparse categorical cross-entropy over the pixels of image i (what
    ``SparseCategoricalCrossentropy(from_logits=True)`` computes); ``1 - Dice_i`` is
    :class:`SoftDiceLoss`. Why both: the Dice term makes the thin border class count as
    much as the background, but alone it gives weak, noisy gradients while predictions
    are poor (a ratio over whole regions) and does not calibrate the probabilities;
    cross-entropy gives every pixel a well-behaved gradient from the first step. The sum
    is the usual recipe (e.g. nnU-Net, Isensee et al., Nature Methods 2021; "Combo loss",
    Taghanaki et al. 2019).

    Args:
        num_classes: C. smooth: see :class:`SoftDiceLoss`.
        ce_weight, dice_weight: non-negative factors of the two terms (default 1 and 1).
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"mean"`` or None.
        name: loss name.

    Call:
        As :class:`SoftDiceLoss`: labels ``[B, H, W(, 1)]``, logits ``[B, H, W, C]``,
        optional per-image ``sample_weight`` ``[B]``. Returns a float scalar >= 0
        (``[B]`` with ``reduction=None``).
    """

    def __init__(
        self,
        num_classes: int = NUM_CLASSES,
        smooth: float = 1.0,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        reduction="sum_over_batch_size",
        name: str = "dice_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if smooth < 0 or ce_weight < 0 or dice_weight < 0:
            raise ValueError(
                f"smooth, ce_weight and dice_weight must be >= 0; got {smooth}, {ce_weight}, "
                f"{dice_weight}"
            )
        self.num_classes = int(num_classes)
        self.smooth = float(smooth)
        self.ce_weight = float(ce_weight)
        self.dice_weight = float(dice_weight)

    def call(self, y_true, y_pred):
        one_hot, _ = _one_hot_and_probabilities(y_true, y_pred, self.num_classes)
        log_probabilities = ops.log_softmax(ops.convert_to_tensor(y_pred), axis=-1)
        cross_entropy = -ops.sum(one_hot * log_probabilities, axis=-1)  # [B, H, W]
        spatial = tuple(range(1, len(cross_entropy.shape)))
        cross_entropy = ops.mean(cross_entropy, axis=spatial)  # [B]
        dice = soft_dice_per_class(y_true, y_pred, self.num_classes, self.smooth)
        return self.ce_weight * cross_entropy + self.dice_weight * (1.0 - ops.mean(dice, -1))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "smooth": self.smooth,
            "ce_weight": self.ce_weight,
            "dice_weight": self.dice_weight,
        }
