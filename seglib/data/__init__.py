"""Loading Oxford-IIIT Pet for segmentation: one contract for every source.

Every source yields a ``tf.data.Dataset`` of ``(image, mask)`` pairs:

* ``image``: ``uint8`` tensor ``[H, W, 3]``, RGB, values 0..255, original size;
* ``mask``: ``uint8`` tensor ``[H, W, 1]`` holding the official trimap values
  **1 = pet, 2 = background, 3 = border** ("not classified" in the release README).

Sources (``SEGLIB_DATA`` picks the default, see :mod:`seglib.config`):

* ``"tfds"``: TFDS's ``oxford_iiit_pet:4.*.*`` builder, prepared in ``TFDS_DATA_DIR``
  (default ``~/tensorflow_datasets``). TFDS's ``train`` split is the release's
  ``trainval.txt``; its ``test`` split is ``test.txt``. Offline, with the dataset not yet
  prepared, it fails within seconds with a :class:`~seglib.errors.DataError` that says
  what to do (see :func:`tfds_builder`).
* a directory in the release layout: ``images/<name>.jpg``,
  ``annotations/trimaps/<name>.png``, ``annotations/trainval.txt`` and ``test.txt``.
  The release's oddities are handled: a GIF and an RGBA PNG named ``.jpg`` (decoded by
  content, first frame, alpha dropped), grayscale images (expanded to RGB) and ``.mat``
  files in ``images/`` (ignored: only names in the split lists are read).
* ``"oxford"``: the release's two archives downloaded directly (no TFDS; the URLs and
  checksums TFDS records), checked and unpacked once into a cache folder, then read as a
  directory (see :func:`oxford_dataset_dir`). When TFDS cannot be imported (a broken
  install) its error names the cause and the fix (see :func:`explain_tfds_failure`) and
  suggests this source.
* ``"synthetic"``: a small generated dataset in the same layout (pet-like blobs with a
  border band on textured backgrounds), written once to a cache folder, so everything
  runs with no data and no network.

Splits: ``"trainval"`` and ``"test"`` are the release's. ``"train"`` and ``"validation"``
are carved out of ``trainval`` by a hash of the image name (about
``validation_fraction`` of it), so the carve is deterministic and the same for every
source. ``test`` is only for the final evaluation (the TF tutorial validates on
``test``; we do not).

Preprocessing (:func:`preprocess`) resizes images bilinearly and masks with nearest
neighbour, scales images to [0, 1] and shifts labels to 0 pet, 1 background, 2 border.

The package is split by concern; every name below is importable from ``seglib.data``:

* :mod:`seglib.data.layout`: the classes, trimap values, split lists and the validation carve;
* :mod:`seglib.data.verify`: decoding one photo/trimap pair and checking a folder's files;
* the sources: :mod:`~seglib.data.folder` (a release-layout folder),
  :mod:`~seglib.data.tfds_source` (TFDS), :mod:`~seglib.data.archive` (the release's archives
  downloaded directly), :mod:`~seglib.data.synthetic` (generated stand-in data), and
  :mod:`~seglib.data.network` (is a download host reachable);
* :mod:`seglib.data.sources`: :func:`load`, the one entry point over all sources;
* :mod:`seglib.data.pipeline`: preprocessing, augmentation and the ``tf.data`` pipelines.

Each imports only the ones listed before it (``make lint`` checks this with import-linter).
"""

from __future__ import annotations

from seglib.data.archive import (
    OXFORD_ARCHIVES,
    OXFORD_TIMEOUT,
    oxford_dataset_dir,
)
from seglib.data.folder import (
    load_directory,
    scan_directory,
)
from seglib.data.layout import (
    CLASS_NAMES,
    LAB_BREEDS,
    NUM_CLASSES,
    SPLITS,
    SUBSETS,
    TRIMAP_BACKGROUND,
    TRIMAP_BORDER,
    TRIMAP_PET,
    VALIDATION_FRACTION,
    check_subset,
    is_validation,
    read_split_file,
)
from seglib.data.network import (
    TFDS_PROBE_TIMEOUT,
)
from seglib.data.pipeline import (
    Pipelines,
    augment,
    augment_seed,
    augment_strong,
    build_pipeline,
    class_pixel_counts,
    make_pipelines,
    preprocess,
    preprocess_image,
    take_rows,
)
from seglib.data.sources import (
    IndexedSplit,
    breed_counts,
    count,
    describe,
    load,
    resolve_directory,
    use_subset,
)
from seglib.data.synthetic import (
    SYNTHETIC_VERSION,
    synthetic_dataset_dir,
    write_synthetic_dataset,
)
from seglib.data.tfds_source import (
    TFDS_DOWNLOAD_URLS,
    TFDS_FIXES,
    TFDS_NAME,
    explain_tfds_failure,
    import_tfds,
    load_tfds,
    tfds_builder,
    tfds_data_dir,
)
from seglib.data.verify import (
    DECODABLE_FORMATS,
    TRIMAP_MODES,
    VERIFY_VARIABLE,
    verify_pair,
)

__all__ = [
    "use_subset",
    "LAB_BREEDS",
    "SUBSETS",
    "check_subset",
    "CLASS_NAMES",
    "DECODABLE_FORMATS",
    "IndexedSplit",
    "NUM_CLASSES",
    "OXFORD_ARCHIVES",
    "OXFORD_TIMEOUT",
    "Pipelines",
    "SPLITS",
    "SYNTHETIC_VERSION",
    "TFDS_DOWNLOAD_URLS",
    "TFDS_FIXES",
    "TFDS_NAME",
    "TFDS_PROBE_TIMEOUT",
    "TRIMAP_BACKGROUND",
    "TRIMAP_BORDER",
    "TRIMAP_MODES",
    "TRIMAP_PET",
    "VALIDATION_FRACTION",
    "VERIFY_VARIABLE",
    "augment",
    "augment_seed",
    "augment_strong",
    "breed_counts",
    "build_pipeline",
    "class_pixel_counts",
    "count",
    "describe",
    "explain_tfds_failure",
    "import_tfds",
    "is_validation",
    "load",
    "load_directory",
    "load_tfds",
    "make_pipelines",
    "oxford_dataset_dir",
    "preprocess",
    "preprocess_image",
    "read_split_file",
    "resolve_directory",
    "scan_directory",
    "synthetic_dataset_dir",
    "take_rows",
    "tfds_builder",
    "tfds_data_dir",
    "verify_pair",
    "write_synthetic_dataset",
]
