"""UEM files: ``<file-id> <channel> <onset> <end>`` (the 4th field is an end time, not a duration)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Union

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import _atomic_write, c_sort_key, iter_lines

PathLike = Union[str, Path]


@dataclass(frozen=True)
class UemSegment:
    """A scored region of recording ``reco``."""

    reco: str
    onset: float
    end: float
    channel: str = "1"


def read_uem(path: PathLike) -> Dict[str, List[UemSegment]]:
    """Read a UEM file into recording -> regions (sorted). ``;`` starts a comment line.

    Raises:
        DataFormatError: not 4 fields, non-numeric times, ``end <= onset``.
    """
    out: Dict[str, List[UemSegment]] = {}
    for n, line in iter_lines(path):
        if line.lstrip().startswith(";"):
            continue
        f = line.split()
        if len(f) != 4:
            raise DataFormatError(path, n, f"expected 4 fields '<file> <chan> <onset> <end>', got {len(f)}: {line!r}")
        try:
            onset, end = float(f[2]), float(f[3])
        except ValueError:
            raise DataFormatError(path, n, f"onset/end must be numbers, got {f[2]!r} {f[3]!r}") from None
        if not (math.isfinite(onset) and math.isfinite(end)) or onset < 0 or end <= onset:
            raise DataFormatError(path, n, f"expected 0 <= onset < end (field 4 is an end time), got {onset} {end}")
        out.setdefault(f[0], []).append(UemSegment(f[0], onset, end, f[1]))
    return {k: sorted(v, key=lambda u: u.onset) for k, v in out.items()}


def write_uem(path: PathLike, uem: Dict[str, List[UemSegment]]) -> None:
    """Write regions sorted by recording (C locale) then onset.

    Times keep up to 6 decimals (at least 3): a whole-file region ends exactly at the recording
    duration (AMI's ``1113.845375``), not 0.5 ms past it.
    """
    lines = []
    for reco in sorted(uem, key=c_sort_key):
        for u in sorted(uem[reco], key=lambda u: (u.onset, u.end)):
            lines.append(f"{u.reco} {u.channel} {_fmt_time(u.onset)} {_fmt_time(u.end)}\n")
    _atomic_write(path, "".join(lines))


def _fmt_time(x: float) -> str:
    """``2420.000``, ``1113.845375``: 6 decimals with trailing zeros removed down to 3."""
    text = f"{x:.6f}"
    return text[:-3] + text[-3:].rstrip("0")


def uem_from_durations(reco2dur: Dict[str, float]) -> Dict[str, List[UemSegment]]:
    """A whole-file UEM (``[0, duration]``) per recording."""
    return {r: [UemSegment(r, 0.0, d)] for r, d in reco2dur.items()}


def total_duration(segments: Iterable[UemSegment]) -> float:
    return sum(u.end - u.onset for u in segments)
