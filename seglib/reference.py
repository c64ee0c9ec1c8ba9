"""Reference figures: what the course's own runs measured, over several training seeds.

A seeded run repeats on the same machine and library build, not across machines: oneDNN
kernels and thread scheduling change the order of floating-point sums, and twenty epochs
turn those last-digit differences into different weights. So a notebook's headline figure
is not one number but a range. The ranges here come from a notebook's real settings run
with ``SEED = 0, 1, 2`` (``python -m seglib.runner -p SEED=1 ...``; notebooks 02 and 04) on a
2-core CPU with the 3-breed sample of the official release as ``SEGLIB_DATA`` (the data is
recognised by its photos per split, never by a path); :func:`check` puts a run's
figures next to them, and says so plainly when a figure falls outside its range.

The idea of quoting a spread over seeds rather than one run is the one notebook 05 uses
for its three losses (see also Bouthillier et al., "Accounting for Variance in Machine
Learning Benchmarks", MLSys 2021).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A figure printed at three decimals rounds by up to 0.0005; a run printing the end of the
# range must not be called outside it.
_ROUNDING = 0.0005


@dataclass(frozen=True)
class Reference:
    """The reference runs of one notebook.

    Attributes:
        notebook: the notebook's number, e.g. ``"02"``.
        sizes: photos per split of the data the runs used (``pipes.sizes``), e.g.
            ``{"train": 256, "validation": 44, "test": 298}``: another dataset (TFDS's 37
            breeds, a ``LIMIT``) has no reference.
        settings: the parameters the runs used (name -> value); a run with other values is
            not compared.
        seeds: the ``SEED`` of each run, in the order of the values in ``figures``.
        figures: figure name -> one value per seed (floats, the notebook's printed units).
        measured: where and when the runs were made (machine, library versions, commit).
    """

    notebook: str
    sizes: dict
    settings: dict
    seeds: tuple
    figures: dict = field(default_factory=dict)
    measured: str = ""

    def range(self, name: str) -> tuple[float, float]:
        """``(lowest, highest)`` value of figure ``name`` over the seeds.

        Raises:
            KeyError: ``name`` is not a figure of this reference (the message lists them).
        """
        if name not in self.figures:
            raise KeyError(
                f"no reference figure {name!r} for notebook {self.notebook}; "
                f"known: {sorted(self.figures)}"
            )
        values = self.figures[name]
        return min(values), max(values)


_SAMPLE = {"train": 256, "validation": 44, "test": 298}
_MACHINE = "a 2-core x86 CPU, TensorFlow 2.21 and Keras 3 as pinned in pyproject.toml"

REFERENCES = {
    "02": Reference(
        notebook="02",
        sizes=_SAMPLE,
        settings={
            "IMAGE_SIZE": 224,
            "BATCH_SIZE": 16,
            "EPOCHS": 20,
            "FINE_TUNE_EPOCHS": 10,
            "LEARNING_RATE": 1e-3,
            "FINE_TUNE_LEARNING_RATE": 1e-4,
            "MIN_CROP": 0.75,
            "MIXED_RESIZE": True,
            "ENCODER_WEIGHTS": "imagenet",
        },
        seeds=(0, 1, 2),
        figures={
            "frozen encoder, test mIoU": (0.746, 0.746, 0.747),
            "fine-tuned, test mIoU": (0.768, 0.765, 0.774),
            "fine-tuned - frozen, per-image mIoU": (0.022, 0.022, 0.026),
        },
        # 2026-12-07: the notebook now trains first through models.mobilenetv2_unet (a working
        # model first), which draws the decoder's initial weights in another order.
        measured=_MACHINE + ", 2026-12-07",
    ),
    "04": Reference(
        notebook="04",
        sizes=_SAMPLE,
        settings={
            "IMAGE_SIZE": 128,
            "DEPTH": 4,
            "BASE_FILTERS": 16,
            "BATCH_NORM": True,
            "BN_MOMENTUM": 0.9,
            "BATCH_SIZE": 8,
            "EPOCHS": 20,
            "LEARNING_RATE": 1e-3,
            "AUGMENTATION": "strong",
            "MIXED_RESIZE": True,
        },
        seeds=(0, 1, 2),
        figures={
            "U-Net, test mIoU": (0.597, 0.610, 0.580),
            "U-Net without skips, test mIoU": (0.461, 0.550, 0.496),
            "FCN, test mIoU": (0.558, 0.557, 0.551),
            "with - without skips, per-image mIoU": (0.141, 0.061, 0.093),
            "U-Net - FCN, per-image mIoU": (0.046, 0.058, 0.036),
        },
        measured=_MACHINE + ", 2026-12-03",
    ),
}


def check(notebook: str, figures: dict, *, sizes: dict, settings: dict) -> str:
    """This run's figures next to the reference runs' ranges, as Markdown.

    Args:
        notebook: ``"02"`` or ``"04"`` (a key of :data:`REFERENCES`).
        figures: figure name -> this run's value (a float in the notebook's printed units,
            e.g. a test mIoU in [0, 1] or a paired difference in [-1, 1]); names must be
            figures of the reference.
        sizes: photos per split of this run's data (``pipes.sizes``).
        settings: this run's parameters, at least those the reference records.

    Returns:
        Markdown. When the data or a setting differs from the reference runs', one sentence
        saying which, and no comparison (a range measured on other data or settings says
        nothing about this run). Otherwise one bullet per figure: this run's value, the range
        over the reference seeds and whether the value lies inside it (allowing 0.0005 for
        the rounding to three decimals); a figure outside it is followed by what that means.

    Raises:
        KeyError: ``notebook`` has no reference, or a name in ``figures`` is not one of its
            figures (the message lists the known names).
    """
    if notebook not in REFERENCES:
        raise KeyError(f"no reference runs for notebook {notebook!r}; known: {sorted(REFERENCES)}")
    ref = REFERENCES[notebook]
    for name in figures:
        ref.range(name)  # unknown names fail before anything is printed
    seeds = ", ".join(str(s) for s in ref.seeds)
    if {k: sizes.get(k) for k in ref.sizes} != ref.sizes:
        return (
            f"*Reference figures:* the README's reference runs of this notebook (`SEED` = {seeds}) "
            f"used the 3-breed sample ({_photos(ref.sizes)}); this run's data has "
            f"{_photos(sizes)}, so there is nothing to compare its figures with."
        )
    changed = [
        f"`{k}` = {settings.get(k)!r} (reference: {v!r})"
        for k, v in ref.settings.items()
        if settings.get(k) != v
    ]
    if changed:
        return (
            f"*Reference figures:* this run's settings differ from the reference runs' "
            f"({'; '.join(changed)}), so its figures are not compared with them."
        )
    lines, outside = [], []
    for name, value in figures.items():
        low, high = ref.range(name)
        inside = low - _ROUNDING <= value <= high + _ROUNDING
        where = "inside" if inside else "**outside**"
        lines.append(f"* {name}: this run {value:.3f}; reference {low:.3f} to {high:.3f}: {where}")
        if not inside:
            outside.append(name)
    head = (
        f"*Reference figures:* the range of each figure over the reference runs (`SEED` = {seeds}; "
        f"{ref.measured}), next to this run's."
    )
    text = "\n".join([head, "", *lines])
    if outside:
        text += (
            "\n\nOutside the range does not mean wrong: a seeded run repeats only on the same "
            "machine and library build, and three seeds do not show every outcome. A figure far "
            "outside it is worth a second look (the data, the parameters, the library versions)."
        )
    return text


def _photos(sizes: dict) -> str:
    return (
        ", ".join(f"{sizes.get(k, 0):,} {k}" for k in ("train", "validation", "test")) + " photos"
    )
