"""kaldiio ark/scp storage of features, means and labels, with row-range reads.

Features are written as uncompressed Kaldi float matrices (``FM``), so :func:`read_rows` can
seek straight to the rows of a training chunk instead of loading an hour of features for 50 s.
Labels are small integer arrays stored through kaldiio's numpy payload (``NPY``), which keeps
their dtype (``int8``); any reader of kaldiio ark/scp (``kaldiio.load_scp``) reads all of them.

scp lines hold ``<key> <ark path>:<byte offset>``; a relative ark path is resolved against the
working directory first (the Kaldi convention: recipe root) and then against the scp's folder.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple, Union

import numpy as np

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines

PathLike = Union[str, Path]

_MATRIX_TOKENS = {b"FM ": np.dtype("<f4"), b"DM ": np.dtype("<f8")}
_HEADER_BYTES = 2 + 3 + 5 + 5  # "\0B", token, "\4" rows, "\4" cols


def write_ark(
    ark: PathLike, scp: PathLike, items: Iterable[Tuple[str, np.ndarray]], *, numpy_payload: bool = False
) -> int:
    """Write ``(key, array)`` items to ``ark`` and their offsets to ``scp``; returns the count.

    Args:
        numpy_payload: store arrays as kaldiio ``NPY`` payloads (any dtype, e.g. int8 labels);
            otherwise float32/float64 vectors and matrices in Kaldi's binary format.
    """
    import kaldiio

    n = 0
    with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}", write_function="numpy" if numpy_payload else None) as w:
        for key, array in items:
            if not numpy_payload and array.dtype not in (np.float32, np.float64):
                raise ValueError(f"{ark}: Kaldi matrices must be float32/float64, got {array.dtype} for {key!r}")
            w(key, np.ascontiguousarray(array))
            n += 1
    return n


def read_ark_scp(scp: PathLike) -> Dict[str, str]:
    """``key -> "ark_path:offset"`` with relative ark paths resolved (see module doc)."""
    scp = Path(scp)
    out: Dict[str, str] = {}
    for n, line in iter_lines(scp):
        parts = line.split()
        if len(parts) != 2 or ":" not in parts[1]:
            raise DataFormatError(scp, n, f"expected '<key> <ark>:<offset>', got {line!r}")
        if parts[0] in out:
            raise DataFormatError(scp, n, f"duplicate key {parts[0]!r}")
        path, _, offset = parts[1].rpartition(":")
        if not offset.isdigit():
            raise DataFormatError(scp, n, f"expected a byte offset after ':', got {parts[1]!r}")
        out[parts[0]] = f"{_resolve(path, scp.parent)}:{offset}"
    return out


def _resolve(path: str, base: Path) -> str:
    if os.path.isabs(path) or os.path.exists(path):
        return path
    alt = base / path
    return str(alt) if alt.exists() else path


def _split(spec: str) -> Tuple[str, int]:
    path, _, offset = spec.rpartition(":")
    return path, int(offset)


def read_array(spec: str) -> np.ndarray:
    """The whole array at ``"ark_path:offset"`` (any kaldiio payload)."""
    import kaldiio

    return kaldiio.load_mat(spec)


def matrix_shape(spec: str) -> Optional[Tuple[int, int]]:
    """(rows, cols) of an uncompressed float matrix at ``spec`` from its header; None for other payloads."""
    path, offset = _split(spec)
    with open(path, "rb") as f:
        f.seek(offset)
        head = f.read(_HEADER_BYTES)
    parsed = _parse_header(head)
    return parsed[1] if parsed is not None else None


def _parse_header(head: bytes):
    if len(head) < _HEADER_BYTES or head[:2] != b"\0B" or head[2:5] not in _MATRIX_TOKENS:
        return None
    rows = struct.unpack("<i", head[6:10])[0]
    cols = struct.unpack("<i", head[11:15])[0]
    return _MATRIX_TOKENS[head[2:5]], (rows, cols)


def read_rows(spec: str, start: int, stop: int) -> np.ndarray:
    """Rows ``[start, stop)`` of the matrix at ``"ark_path:offset"``, reading only those bytes.

    Falls back to loading the whole array for payloads without a fixed row size (compressed
    matrices, numpy payloads).

    Raises:
        ValueError: ``[start, stop)`` is not inside the matrix (never clipped silently).
    """
    path, offset = _split(spec)
    with open(path, "rb") as f:
        f.seek(offset)
        parsed = _parse_header(f.read(_HEADER_BYTES))
        if parsed is None:
            array = read_array(spec)
            rows = len(array)
        else:
            dtype, (rows, cols) = parsed
        if not 0 <= start <= stop <= rows:
            raise ValueError(f"{spec}: rows [{start}, {stop}) outside the stored matrix of {rows} rows")
        if parsed is None:
            return np.asarray(array[start:stop])
        f.seek(offset + _HEADER_BYTES + start * cols * dtype.itemsize)
        data = f.read((stop - start) * cols * dtype.itemsize)
    return np.frombuffer(data, dtype=dtype).reshape(stop - start, cols).astype(dtype.newbyteorder("="))
