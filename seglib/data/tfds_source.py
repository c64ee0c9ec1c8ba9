"""The TFDS source (``SEGLIB_DATA=tfds``): TensorFlow Datasets' ``oxford_iiit_pet:4.*.*``.

Imports TFDS (naming the cause and the fix when it cannot), checks that the download host
answers before a download starts (offline: a clear error within seconds instead of a long
hang), and maps TFDS's ``train``/``test`` splits onto the release's ``trainval``/``test``.
"""

from __future__ import annotations

import os
import re

from seglib.data.layout import (
    _HASH_BUCKETS,
    LAB_BREEDS,
    SPLITS,
    VALIDATION_FRACTION,
    _check_breeds,
    check_limit,
    check_not_empty,
    subset_breeds,
)
from seglib.data.network import _unreachable
from seglib.errors import DataError

import tensorflow as tf

#: The TFDS spec. ``3.*.*`` (used by older tutorials) no longer exists.
TFDS_NAME = "oxford_iiit_pet:4.*.*"
#: The release archives TFDS downloads (its builder's ``checksums.tsv`` is read first).
TFDS_DOWNLOAD_URLS = (
    "https://thor.robots.ox.ac.uk/~vgg/data/pets/images.tar.gz",
    "https://thor.robots.ox.ac.uk/~vgg/data/pets/annotations.tar.gz",
)


#: The pins that make TFDS 4.9.10 work on Colab's packages (see the notebooks' setup cell):
#: a tensorflow-metadata generated with protobuf 4.25.6, which Colab's protobuf 5.29.6
#: accepts (``make test-colab``), and importlib-resources (etils imports it; Colab lacks it).
TFDS_FIXES = {
    "tensorflow_metadata": "tensorflow-metadata==1.17.2",
    "importlib_resources": "importlib-resources==7.1.0",
}


def tfds_data_dir(data_dir: str | os.PathLike | None = None) -> str | None:
    """The TFDS data folder seglib uses: ``data_dir`` if given, else ``TFDS_DATA_DIR``.

    TFDS itself reads ``TFDS_DATA_DIR`` once, when ``tensorflow_datasets`` is imported;
    seglib reads it on every call, so setting it later in a session (or a test) works too.

    Returns:
        the folder as a string, or None for TFDS's default (``~/tensorflow_datasets``).
    """
    if data_dir is not None:
        return os.fspath(data_dir)
    return os.environ.get("TFDS_DATA_DIR", "").strip() or None


def _tfds_download_urls(builder) -> list[str]:
    """The archive URLs the TFDS builder downloads (from its ``checksums.tsv``)."""
    return sorted((type(builder).url_infos or {}).keys()) or list(TFDS_DOWNLOAD_URLS)


def _offline_help(urls: list[str]) -> str:
    archives = " and ".join(urls) if urls else "images.tar.gz and annotations.tar.gz"
    return (
        f"To work without TFDS's download: fetch {archives} (the Oxford-IIIT Pet release, "
        "http://www.robots.ox.ac.uk/~vgg/data/pets/), unpack both into one folder (giving "
        "images/ and annotations/) and set SEGLIB_DATA=/path/to/that/folder; or set "
        "SEGLIB_DATA=synthetic to run on generated data; or point TFDS_DATA_DIR at a folder "
        "where TFDS has already prepared the dataset."
    )


_OXFORD_HINT = (
    "Or skip TFDS: SEGLIB_DATA=oxford downloads the same two archives from the release's "
    "site (about 800 MB) and unpacks them (see seglib.data.oxford_dataset_dir)."
)


def _exception_chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception it was raised from or while handling, in order."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _installed_version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def explain_tfds_failure(error: BaseException, doing: str = "import TensorFlow Datasets") -> str:
    """Name the real cause of a TFDS failure and its one-line fix.

    TFDS's ``__init__`` logs and swallows the errors of its own imports, so a broken
    install first shows as ``module 'tensorflow_datasets' has no attribute 'builder'``.
    Here the chain of ``error`` (see :func:`import_tfds`, which re-raises the swallowed
    error) is searched for a known cause:

    * protobuf's ``VersionError`` (``Detected incompatible Protobuf Gencode/Runtime
      versions``): tensorflow-metadata was generated with a newer protobuf than the one
      installed (Colab: tensorflow-metadata 1.21.0 is built with protobuf 6.31.1, Colab
      has protobuf 5.29.6; tensorflow/metadata#68). Fix: :data:`TFDS_FIXES`' pin.
    * ``ModuleNotFoundError``: a dependency is missing (``importlib_resources`` on Colab,
      where seglib is installed with ``--no-deps``). Fix: install it.
    * a network error (``URLError``, ``ConnectionError``, ``TimeoutError``): no network.

    Args:
        error: the exception TFDS raised.
        doing: what was being done, for the first words of the message.

    Returns:
        one paragraph: cause, the original error, the fix, and :data:`_OXFORD_HINT`.
    """
    import urllib.error

    chain = _exception_chain(error)
    original = f"{type(chain[-1]).__name__}: {chain[-1]}"
    for exc in chain:
        text = str(exc)
        if type(exc).__name__ == "VersionError" or "Gencode/Runtime" in text:
            versions = re.search(r"gencode (\S+) runtime (\S+?)\.?(?:\s|$)", text)
            gencode, runtime = versions.groups() if versions else ("another version", None)
            runtime = runtime or _installed_version("protobuf")
            return (
                f"Could not {doing}: the installed protobuf ({runtime}) refuses "
                f"tensorflow-metadata {_installed_version('tensorflow-metadata')}, whose files "
                f"were generated with protobuf {gencode} ({type(exc).__name__}: {text.strip()}). "
                f'Fix: pip install "{TFDS_FIXES["tensorflow_metadata"]}" (generated with '
                "protobuf 4.25, which protobuf 5 accepts), then restart the Python kernel "
                "(Colab: Runtime > Restart session). " + _OXFORD_HINT
            )
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            top = exc.name.split(".")[0]
            fix = TFDS_FIXES.get(top, top.replace("_", "-"))
            return (
                f"Could not {doing}: the module {top!r} it needs is not installed "
                f'({type(exc).__name__}: {exc}). Fix: pip install "{fix}" (on Colab the '
                "notebooks' setup cell does this), then run this cell again. " + _OXFORD_HINT
            )
        if isinstance(exc, urllib.error.URLError | ConnectionError | TimeoutError):
            return (
                f"Could not {doing}: the network failed ({type(exc).__name__}: {exc}). "
                "Fix: check the connection and run this cell again (a download resumes). "
                + _OXFORD_HINT
            )
    return f"Could not {doing} ({original}). " + _OXFORD_HINT


def import_tfds():
    """Import ``tensorflow_datasets``, or raise a :class:`~seglib.errors.DataError` that
    names why it cannot be imported (see :func:`explain_tfds_failure`).

    TFDS catches the errors of its own imports and only logs them, leaving a module
    without ``builder``; its ``public_api`` is then imported again here, which raises the
    swallowed error so that it can be named.

    Returns:
        the ``tensorflow_datasets`` module.

    Raises:
        DataError: TFDS or one of its dependencies cannot be imported; the message names
            the cause (protobuf/tensorflow-metadata mismatch, missing module) and the fix.
    """
    import importlib

    try:
        import tensorflow_datasets as tfds

        if not hasattr(tfds, "builder"):
            importlib.import_module("tensorflow_datasets.public_api")  # raises the real error
            raise ImportError(
                "tensorflow_datasets was imported while one of its dependencies was broken; "
                "the dependency is fixed now, but a module is only imported once per session"
            )
    except Exception as e:
        message = explain_tfds_failure(e)
        if isinstance(e, ImportError) and "imported once per session" in str(e):
            message = (
                f"TensorFlow Datasets was imported before its dependencies were fixed ({e}). "
                "Fix: restart the Python kernel (Colab: Runtime > Restart session) and run "
                "the notebook again. " + _OXFORD_HINT
            )
        raise DataError(message) from e
    return tfds


def tfds_builder(data_dir: str | os.PathLike | None = None):
    """Return the TFDS ``oxford_iiit_pet`` builder, downloading and preparing it if needed.

    When the dataset is already prepared in the data folder (see :func:`tfds_data_dir`)
    nothing touches the network. Otherwise the download host is probed first (one
    ``HEAD`` request, at most :data:`~seglib.data.TFDS_PROBE_TIMEOUT` seconds), so that offline the
    call fails in seconds instead of TFDS retrying for minutes; then TFDS downloads
    (about 800 MB) and prepares it.

    Args:
        data_dir: TFDS data folder; None means ``TFDS_DATA_DIR`` or TFDS's default.

    Returns:
        a prepared ``tfds.core.DatasetBuilder`` (use ``.as_dataset(split=...)``).

    Raises:
        DataError: TFDS cannot be imported or its builder created (the message names the
            cause and the fix, see :func:`explain_tfds_failure`), the host cannot be
            reached, or TFDS failed to download or prepare the dataset; the message names
            the problem and how to use a local folder (``SEGLIB_DATA``), the direct
            download (``SEGLIB_DATA=oxford``) or the synthetic source instead.
    """
    from urllib.parse import urlsplit

    tfds = import_tfds()
    data_dir = tfds_data_dir(data_dir)
    try:  # TFDS imports some modules only here (importlib_resources for its checksums)
        builder = tfds.builder(TFDS_NAME, data_dir=data_dir)
        if builder.is_prepared():
            return builder
        urls = _tfds_download_urls(builder)
    except Exception as e:
        raise DataError(explain_tfds_failure(e, f"create the TFDS builder for {TFDS_NAME}")) from e
    problem = _unreachable(urls[0]) if urls else None
    if problem is not None:
        host = urlsplit(urls[0]).hostname or urls[0]
        raise DataError(
            f"{TFDS_NAME} is not prepared in {builder.data_dir_root} and TFDS cannot download "
            f"it: {host} does not answer ({problem}). Offline? " + _offline_help(urls)
        )
    try:
        builder.download_and_prepare()
    except Exception as e:  # TFDS raises many types for a failed download
        raise DataError(
            explain_tfds_failure(e, f"load {TFDS_NAME} from TensorFlow Datasets")
            + " "
            + _offline_help(urls)
        ) from e
    return builder


def load_tfds(
    split: str = "train",
    validation_fraction: float = VALIDATION_FRACTION,
    limit: int | None = None,
    data_dir: str | os.PathLike | None = None,
    breeds=None,
    subset: str = "all",
) -> tf.data.Dataset:
    """Load one split from TensorFlow Datasets (``oxford_iiit_pet:4.*.*``).

    ``breeds`` keeps only those breeds; otherwise ``subset="lab"`` keeps the lab breeds
    (:data:`~seglib.data.LAB_BREEDS`), the official lines of the lab set.

    Downloads about 800 MB on first use (see :func:`tfds_builder`); later calls read the
    prepared copy in the data folder (``data_dir``, else ``TFDS_DATA_DIR``, else
    ``~/tensorflow_datasets``) without the network. Same contract and same validation
    carve as :func:`~seglib.data.load_directory` (the carve hashes ``file_name`` without its extension).

    Raises:
        DataError: TFDS could not download or prepare the dataset (offline, say: raised
            within :data:`~seglib.data.TFDS_PROBE_TIMEOUT` seconds); the message says how to use a local
            directory or the synthetic source instead. Also: a name in ``breeds`` is not
            one of the dataset's 37 breeds (the message lists them); a ``limit`` that is not
            a whole number 0 or more, or ``limit=0``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    limit = check_limit(limit)
    if limit == 0:
        check_not_empty(0, "oxford_iiit_pet (TFDS)", split, limit)
    builder = tfds_builder(data_dir)
    breeds = _check_breeds(breeds)
    if breeds is None and subset_breeds(subset, "tfds") is not None:
        breeds = list(LAB_BREEDS)
    if breeds is not None:  # a misspelt breed would otherwise give an empty split, silently
        known = list(builder.info.features["label"].names)
        unknown = set(breeds) - set(known)
        if unknown:  # not a label name: look at the file names (a custom build, say)
            known = sorted(
                {n.rsplit("_", 1)[0] for s in ("train", "test") for n in _tfds_names(builder, s)}
            )
            unknown = sorted(unknown - set(known))
        if unknown:
            raise DataError(
                f"oxford_iiit_pet (TFDS) has no breed {', '.join(map(repr, unknown))}; "
                f"its {len(known)} breeds are: {', '.join(known)}"
            )
    ds = builder.as_dataset(split="test" if split == "test" else "train")
    if split in ("train", "validation"):
        threshold = int(round(validation_fraction * _HASH_BUCKETS))
        want_validation = split == "validation"

        def keep(example):
            stem = tf.strings.regex_replace(example["file_name"], r"\.[^.]*$", "")
            bucket = tf.strings.to_hash_bucket_fast(stem, _HASH_BUCKETS)
            return (bucket < threshold) == want_validation

        ds = ds.filter(keep)
    if breeds is not None:
        wanted = tf.constant(breeds)

        def of_breed(example):  # "Abyssinian_34.jpg" -> "Abyssinian"
            breed = tf.strings.regex_replace(example["file_name"], r"_\d+\.[^.]*$", "")
            return tf.reduce_any(tf.equal(breed, wanted))

        ds = ds.filter(of_breed)
    ds = ds.map(lambda ex: (ex["image"], ex["segmentation_mask"]))
    return ds.take(limit) if limit is not None else ds


def _tfds_names(builder, split: str) -> list[str]:
    """File names without extension of one TFDS split, read without decoding any image."""
    tfds = import_tfds()

    skip = {"image": tfds.decode.SkipDecoding(), "segmentation_mask": tfds.decode.SkipDecoding()}
    ds = builder.as_dataset(split=split, decoders=skip).map(lambda ex: ex["file_name"])
    return [n.decode().rsplit(".", 1)[0] for n in tfds.as_numpy(ds)]
