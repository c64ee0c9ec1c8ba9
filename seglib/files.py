"""Writing files safely: a fresh temporary name in the target's folder, with the permissions
the umask gives, so that the finished file can be renamed into place in one step.

``tempfile.mkstemp`` creates its file with mode 0600 whatever the umask: a notebook or a
PNG written through it and renamed into place stays readable by its owner only. The
runner's executed notebooks and :func:`seglib.inference.save_outputs` use
:func:`new_temporary_file` instead.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def new_temporary_file(folder: str | os.PathLike, prefix: str, suffix: str) -> Path:
    """Create an empty file ``<folder>/.<prefix>-<10 hex digits><suffix>`` and return its path.

    The name starts with a dot (hidden) and is new (``O_EXCL``: an existing file is never
    opened); the mode is ``0666`` less the umask (0644 under the usual umask 022), as for
    any file a program creates with ``open(path, "w")``.

    Raises:
        OSError: the folder does not exist or is not writable.
    """
    folder = Path(folder)
    while True:
        path = folder / f".{prefix}-{uuid.uuid4().hex[:10]}{suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return path
        except FileExistsError:  # pragma: no cover - 40 random bits
            continue
