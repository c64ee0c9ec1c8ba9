"""``python -m benchmarks`` (``make bench``): print every benchmark figure.

Data: SEGLIB_DATA when it names a directory, else the synthetic source.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmarks import (
    input_pipeline,
    precision_and_export,
    scoring,
    segment_memory,
    training_throughput,
)


def nbval_suite_seconds(root: Path) -> tuple[float, int]:
    """Wall time of ``pytest --nbval-lax`` over every notebook in smoke mode."""
    notebooks = sorted(p.name for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    env = dict(os.environ, SEGLIB_SMOKE="1")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", *notebooks],
        cwd=root / "notebooks",
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stdout[-2000:])
    return seconds, result.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-nbval", action="store_true", help="skip the notebook suite")
    args = parser.parse_args(argv)
    source = os.environ.get("SEGLIB_DATA", "")
    if not source or source == "tfds" or not Path(source).is_dir():
        source = "synthetic"
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, TensorFlow {tf.__version__}"
    )
    print(f"data: {source}\n")

    p = input_pipeline.run(source)
    print(f"input pipeline, training split ({p['images']} images, 128 px, batch 16, images/s)")
    print(f"  seglib tf.data, first epoch (decode+resize+augment)  {p['seglib_first_epoch']:8.0f}")
    print(f"  seglib tf.data, cached epochs (augment only)          {p['seglib_cached']:8.0f}")
    print(f"  per-batch PIL loader (keras.io Sequence style)        {p['pil_sequence']:8.0f}")
    print(
        f"  ratio seglib first epoch / PIL                        {p['seglib_first_epoch'] / p['pil_sequence']:8.1f}x"
    )
    print(
        f"  ratio seglib cached / PIL                             {p['seglib_cached'] / p['pil_sequence']:8.1f}x\n"
    )

    rows = training_throughput.run()
    print("training throughput (batch 16, images/s)")
    print(f"  {'model':<40}{'px':>5}{'graph':>9}{'XLA':>9}{'XLA/graph':>11}")
    fastest = 0.0
    for r in rows:
        if "error" in r:
            print(f"  {r['model']:<40}{r['size']:>5}   {r['error']}")
            continue
        graph, xla = r.get("eager_graph"), r.get("xla")
        fastest = max(fastest, graph or 0, xla or 0)
        xla_text = f"{xla:9.1f}{xla / graph:10.2f}x" if xla else f"   failed: {r.get('xla_error')}"
        print(f"  {r['model']:<40}{r['size']:>5}{graph:9.1f}{xla_text}")
    margin = p["seglib_cached"] / fastest if fastest else float("nan")
    verdict = "not the bottleneck" if margin >= 3 else "TOO SLOW: may limit training"
    print(f"  cached pipeline / fastest training throughput         {margin:8.1f}x ({verdict})\n")

    precision = precision_and_export.bfloat16_vs_float32()
    f32 = float(np.median(precision["float32"]))
    bf16 = float(np.median(precision["mixed_bfloat16"]))
    print("02's model, training throughput by precision policy (batch 16, 128 px, images/s)")
    for policy, values in precision.items():
        rounds = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {policy:<16} median {float(np.median(values)):7.1f}   (rounds: {rounds})")
    print(f"  ratio mixed_bfloat16 / float32                        {bf16 / f32:8.2f}x\n")

    latency = precision_and_export.int8_vs_keras_latency(source)
    print("02's model, latency per photo at batch 1 (median ms)")
    for name, ms in latency.items():
        print(f"  {name:<40}{ms:8.1f}")
    keras_ms = latency["Keras tf.function"]
    int8_ms = latency["LiteRT int8, 1 thread"]
    print(f"  ratio Keras tf.function / LiteRT int8                 {keras_ms / int8_ms:8.2f}x")
    f32_ms = latency["LiteRT float32, 1 thread"]
    print(f"  ratio LiteRT float32 / int8 (1 thread)                {f32_ms / int8_ms:8.2f}x\n")

    s = scoring.run(source)
    print(f"scoring at original resolution (evaluate_photos, {s['photos']} test photos, photos/s)")
    print(f"  one model call per photo (batch_size=1)               {s['per_photo']:8.1f}")
    print(f"  16 photos per call (the default)                      {s['batched']:8.1f}")
    same = "same confusion matrix" if s["same_scores"] else "DIFFERENT SCORES"
    print(
        f"  ratio batched / per photo                             {s['batched'] / s['per_photo']:8.1f}x ({same})\n"
    )

    if Path("/proc/self/clear_refs").exists():  # peak memory through Linux /proc
        segment_memory.main(["--sizes", "1", "12", "48"])
        print()

    if not args.skip_nbval:
        seconds, code = nbval_suite_seconds(Path(__file__).resolve().parent.parent)
        status = "passed" if code == 0 else f"FAILED (exit {code})"
        print(f"smoke-mode nbval suite (all notebooks): {seconds:.0f} s, {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
