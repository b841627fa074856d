"""UEM files: ``<file-id> <channel> <onset> <end>`` (the 4th field is an end time, not a duration).

One tolerant parser (:func:`parse_uem`) serves the reader, the data-dir validator and the fixer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Union

from espnet2_tsdia.formats.kaldi import c_sort_key
from espnet2_tsdia.formats.text import Entry, Parsed, RawFile, number, parse_strict
from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]


@dataclass(frozen=True)
class UemSegment:
    """A scored region of recording ``reco``."""

    reco: str
    onset: float
    end: float
    channel: str = "1"


def parse_uem(raw: RawFile) -> Parsed:
    """``<reco> <chan> <onset> <end>`` lines -> entries keyed by recording, value
    :class:`UemSegment`; ``;`` comment lines go to ``other``.

    Problems: ``fields``, ``number`` (no entry); ``negative_start``, ``end_not_after_start``
    (the entry is kept, the problem's value is the region).
    """
    out = Parsed()
    for ln in raw.lines:
        f = ln.fields
        if f[0].startswith(";"):
            out.other.append(ln)
            continue
        if len(f) != 4:
            out.add(ln, "fields", f"expected 4 fields '<file> <chan> <onset> <end>', got {len(f)}: {ln.text!r}")
            continue
        onset, end = number(f[2]), number(f[3])
        if onset is None or end is None:
            out.add(ln, "number", f"onset and end must be finite numbers, got {f[2]!r} {f[3]!r}")
            continue
        region = UemSegment(f[0], onset, end, f[1])
        out.entries.append(Entry(ln, f[0], region))
        if onset < 0:
            out.add(ln, "negative_start", f"onset {onset} < 0; expected 0 <= onset < end", region)
        if end <= onset:
            out.add(
                ln,
                "end_not_after_start",
                f"expected 0 <= onset < end (field 4 is an end time, not a duration), got {onset} {end}",
                region,
            )
    return out


def read_uem(path: PathLike) -> Dict[str, List[UemSegment]]:
    """Read a UEM file into recording -> regions (sorted). ``;`` starts a comment line.

    Raises:
        DataFormatError: the first problem of :func:`parse_uem` (not 4 fields, non-numeric
            times, a negative onset, ``end <= onset``), naming the file and line.
    """
    out: Dict[str, List[UemSegment]] = {}
    for e in parse_strict(path, parse_uem).entries:
        out.setdefault(e.key, []).append(e.value)
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
    atomic_write_text(path, "".join(lines))


def _fmt_time(x: float) -> str:
    """``2420.000``, ``1113.845375``: 6 decimals with trailing zeros removed down to 3."""
    text = f"{x:.6f}"
    return text[:-3] + text[-3:].rstrip("0")


def uem_from_durations(reco2dur: Dict[str, float]) -> Dict[str, List[UemSegment]]:
    """A whole-file UEM (``[0, duration]``) per recording."""
    return {r: [UemSegment(r, 0.0, d)] for r, d in reco2dur.items()}


def total_duration(segments: Iterable[UemSegment]) -> float:
    return sum(u.end - u.onset for u in segments)
