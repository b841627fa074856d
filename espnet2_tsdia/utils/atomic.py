"""Atomic file writes: readers see the old file or the new one, never a partial one.

A kill during a plain write leaves a truncated file (a checkpoint that cannot be loaded, a
metrics file that cannot be parsed). :func:`atomic_write` writes to a temporary file in the same
directory, fsyncs it and renames it over the target (rename is atomic on POSIX).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Union


def atomic_write(path: Union[str, Path], write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary file next to ``path``, fsync it and rename it over ``path``
    (rename is atomic on POSIX): readers see the old file or the new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse directory fsync
        pass


def atomic_write_json(obj: Any, path: Union[str, Path]) -> None:
    """``json.dump`` to ``path`` atomically."""
    data = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8")
    atomic_write(path, lambda f: f.write(data))
