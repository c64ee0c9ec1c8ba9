"""Alt text for matplotlib figures: a description stored on the figure and attached to the
image IPython displays, so the course site (and a screen reader in JupyterLab) can read it.

``seglib.viz`` draws every figure and re-exports these functions; a notebook calls
``viz.set_alt_text(fig, "...")`` for a figure it draws itself.
"""

from __future__ import annotations

_ALT_ATTRIBUTE = "_seglib_alt"


def set_alt_text(target, text: str) -> None:
    """Attach a description to a figure (``target`` a Figure) or to one panel (an Axes).

    A figure-level text replaces the earlier one; panel texts are kept per panel and joined
    in the figure's panel order after it, each prefixed with the panel's title at display
    time (so a title set later, ``plt.title(...)``, is included).

    Raises:
        TypeError: ``target`` is neither a matplotlib Figure nor an Axes.
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if isinstance(target, Axes):
        fig, key = target.figure, target
    elif isinstance(target, Figure):
        fig, key = target, None
    else:
        raise TypeError(f"set_alt_text: expected a matplotlib Figure or Axes, got {type(target)}")
    texts = getattr(fig, _ALT_ATTRIBUTE, None)
    if texts is None:
        texts = {}
        setattr(fig, _ALT_ATTRIBUTE, texts)
    texts[key] = " ".join(str(text).split())


def describe_figure(fig) -> str:
    """A description generated from a figure's own words: its title and each panel's title
    and axis labels (colour bars and empty panels skipped). Used for figures no seglib
    function described."""
    parts = []
    if fig._suptitle is not None and fig._suptitle.get_text():
        parts.append(fig._suptitle.get_text())
    panels = [ax for ax in fig.axes if ax.get_visible() and not hasattr(ax, "_colorbar")]
    words = []
    for ax in panels:
        label = ax.get_title()
        axis = " vs ".join(t for t in (ax.get_ylabel(), ax.get_xlabel()) if t)
        words.append(f"{label} ({axis})" if label and axis else label or axis)
    named = [w for w in words if w]
    count = f"figure with {len(panels)} panel{'s' if len(panels) != 1 else ''}"
    parts.append(f"{count}: " + "; ".join(named) if named else count)
    return " ".join("; ".join(parts).split())


def alt_text(fig) -> str:
    """The figure's alt text: what seglib attached (:func:`set_alt_text`), else
    :func:`describe_figure`. Never empty."""
    texts = getattr(fig, _ALT_ATTRIBUTE, None)
    if not texts:
        return describe_figure(fig)
    parts = [texts[None]] if None in texts else []
    for ax in fig.axes:
        if ax in texts:
            title = ax.get_title()
            parts.append(f"{title}: {texts[ax]}" if title and title not in texts[ax] else texts[ax])
    return "; ".join(parts) or describe_figure(fig)


_IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "application/pdf")


def _alt_bundle(fig, include=None, exclude=None):
    """IPython mimebundle formatter: no data, only the alt text as metadata of each image
    format that IPython draws figures in (``image/png`` by default)."""
    from IPython import get_ipython

    shell = get_ipython()
    formatters = shell.display_formatter.formatters if shell is not None else {}
    mimes = [m for m in _IMAGE_TYPES if m in formatters and _draws(formatters[m], fig)]
    text = alt_text(fig)
    return {}, {mime: {"alt": text} for mime in mimes or ["image/png"]}


def _draws(formatter, fig) -> bool:
    try:
        formatter.lookup(fig)
    except KeyError:
        return False
    return True


def enable_alt_text(shell=None) -> bool:
    """Make IPython attach :func:`alt_text` to every matplotlib figure it displays.

    Registers a mimebundle formatter for ``Figure`` that adds only metadata; the image
    itself still comes from matplotlib's inline formatter (IPython merges the two). Done
    on import of this module when it runs in IPython; calling it again changes nothing.

    Returns:
        True when registered, False outside IPython.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    from matplotlib.figure import Figure

    shell.display_formatter.mimebundle_formatter.for_type(Figure, _alt_bundle)
    return True
