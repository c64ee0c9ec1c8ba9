"""Peak memory of ``inference.segment`` against the photo's size, with and without TTA.

``python -m benchmarks.segment_memory`` prints a table: for each photo size, the resident
memory added at the peak of one ``segment`` call (Linux ``VmHWM`` after the peak is reset
through ``/proc/self/clear_refs``), in a fresh process per row, after the model is built and
has segmented a small photo once (so the row is the call alone, not TensorFlow's start-up).
The photo is a uint8 array of noise (4:3); the model the course's MobileNetV2 U-Net at
224 px with random weights (the memory depends on the photo's size, not on the weights).

Measured figures belong in ``seglib.inference.segment``'s docstring and the closing note of
the change that measured them; this module only prints them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

SIZES_MP = (1, 4, 12, 24, 48)

_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from seglib import inference, models

    megapixels, tta = float(sys.argv[1]), sys.argv[2] == "tta"
    model = models.mobilenetv2_unet((224, 224, 3), weights=None)
    inference.segment(np.zeros((300, 400, 3), np.uint8), model, tta=tta)  # warm up

    def status(key):  # KiB
        line = next(t for t in open("/proc/self/status") if t.startswith(key + ":"))
        return int(line.split()[1])

    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    photo = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak to the current resident size
    before = status("VmRSS")
    start = time.perf_counter()
    result = inference.segment(photo, model, tta=tta)
    seconds = time.perf_counter() - start
    peak = status("VmHWM")
    print(f"ROW {width} {height} {before} {peak} {seconds:.1f} {photo.nbytes}")
    """
)


def measure(megapixels: float, tta: bool) -> dict:
    """One row, measured in a fresh Python process."""
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(megapixels), "tta" if tta else "plain"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    line = next((t for t in run.stdout.splitlines() if t.startswith("ROW ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"{megapixels} MP, tta={tta}: {run.stderr[-1500:]}")
    width, height, before, peak, seconds, photo_bytes = line.split()[1:]
    return {
        "width": int(width),
        "height": int(height),
        "added_mib": (int(peak) - int(before)) / 1024,
        "seconds": float(seconds),
        "photo_mib": int(photo_bytes) / 1024**2,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=list(SIZES_MP), help="MP")
    parser.add_argument("--no-tta", action="store_true", help="skip the TTA column")
    args = parser.parse_args(argv)
    print("segment(): peak memory added by one call, MobileNetV2 U-Net 224 px, uint8 photo")
    print(f"{'photo':>16} {'MP':>6} {'photo MiB':>10} {'plain MiB':>10} {'s':>6}", end="")
    print("" if args.no_tta else f" {'TTA MiB':>10} {'s':>6}")
    for megapixels in args.sizes:
        plain = measure(megapixels, tta=False)
        size = f"{plain['width']}x{plain['height']}"
        row = (
            f"{size:>16} {plain['width'] * plain['height'] / 1e6:6.1f} "
            f"{plain['photo_mib']:10.0f} {plain['added_mib']:10.0f} {plain['seconds']:6.1f}"
        )
        if not args.no_tta:
            tta = measure(megapixels, tta=True)
            row += f" {tta['added_mib']:10.0f} {tta['seconds']:6.1f}"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
