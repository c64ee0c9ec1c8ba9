from seglib import viz

import matplotlib.pyplot as plt
import numpy as np


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_show_masks_lays_the_suptitle_out_above_the_column_titles():
    rng = np.random.default_rng(0)
    image = rng.random((1, 32, 32, 3), dtype=np.float32)
    mask = rng.integers(0, 3, (1, 32, 32), dtype=np.uint8)
    fig = viz.show_masks(image, mask, mask, titles=["a model"], suptitle="test photo 0: mIoU 1")
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        top = fig._suptitle.get_window_extent(renderer)
        assert fig._suptitle.get_text() == "test photo 0: mIoU 1"
        titles = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
        assert len(titles) == 3
        assert not any(_overlaps(top, t) for t in titles)
        assert all(top.y0 >= t.y1 for t in titles)  # above them, inside the figure
        assert top.y1 <= fig.bbox.y1 + 1
    finally:
        plt.close(fig)
