"""Atomic file writes: readers see the old file or the new one, never a partial one.

A kill during a plain write leaves a truncated file (a checkpoint that cannot be loaded, a data
dir file that loses its last lines, a metrics file that cannot be parsed). Every writer of the
package goes through this module: the new content goes to a temporary file in the target's
folder, is flushed and fsynced, and is renamed over the target (rename is atomic on POSIX); the
folder is fsynced too, so the rename survives a power cut.

The temporary file is ``.<name>.<random>.tmp`` next to the target: hidden, unique (two writers
of one target never share it), and created with the mode a plain ``open(path, "w")`` would give
(``0o666`` minus the umask), so the written file is as readable by others as any other output.
A kill leaves at most such a file; :func:`stale_temporaries` finds them for a cleanup.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, List, Union

PathLike = Union[str, Path]
TMP_SUFFIX = ".tmp"
_TOKEN_BYTES = 4


def _create_temporary(path: Path) -> Path:
    """A new empty file ``.<name>.<random>.tmp`` next to ``path`` (O_EXCL: never an existing one)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(_TOKEN_BYTES)}{TMP_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        except FileExistsError:  # pragma: no cover - 32 random bits collide
            continue
        os.close(fd)
        return tmp


def _fsync_dir(folder: Path) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some systems cannot open a folder
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse directory fsync
        pass
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Give a temporary path to write ``path``'s new content to (by any means: a library, a
    subprocess such as ffmpeg); on a normal exit it is fsynced and renamed over ``path``, on an
    exception it is removed and ``path`` is left as it was.

    Example::

        with atomic_path("out.wav") as tmp:
            subprocess.run(["ffmpeg", "-y", "-i", "movie.mkv", "-f", "wav", str(tmp)], check=True)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a binary file that becomes ``path`` once ``write`` returns (see
    :func:`atomic_path`); if ``write`` raises, ``path`` is left as it was."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            write(f)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: PathLike, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (no newline translation: ``\\n`` stays ``\\n``)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(obj: Any, path: PathLike) -> None:
    """``json.dump`` to ``path`` atomically (indent 1, sorted keys, final newline)."""
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def stale_temporaries(path: PathLike) -> List[Path]:
    """Temporary files that interrupted atomic writes of ``path`` left behind (sorted)."""
    path = Path(path)
    token = "[0-9a-f]" * (2 * _TOKEN_BYTES)
    return sorted(path.parent.glob(f".{_glob_escape(path.name)}.{token}{TMP_SUFFIX}"))


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
