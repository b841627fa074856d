"""UEM files: ``<file-id> <channel> <onset> <end>`` (the 4th field is an end time, not a duration).

One tolerant line parser (:func:`uem_line`) serves the reader, the data-dir validator and the fixer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Union

from espnet2_tsdia.formats.kaldi import c_sort_key
from espnet2_tsdia.formats.text import (
    Entry,
    Line,
    LineProblem,
    LineResult,
    Parsed,
    RawFile,
    number,
    parse_lines,
    read_entries,
)
from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]


@dataclass(frozen=True)
class UemSegment:
    """A scored region of recording ``reco``."""

    reco: str
    onset: float
    end: float
    channel: str = "1"


def uem_line(ln: Line) -> LineResult:
    """``<reco> <chan> <onset> <end>`` -> an entry keyed by recording, value :class:`UemSegment`;
    a ``;`` comment line carries none and is no problem.

    Problems: ``fields``, ``number`` (no entry); ``negative_start``, ``end_not_after_start``
    (the entry is kept, the problem's value is the region).
    """
    f = ln.fields
    if f[0].startswith(";"):
        return None, ()
    if len(f) != 4:
        why = f"expected 4 fields '<file> <chan> <onset> <end>', got {len(f)}: {ln.text!r}"
        return None, (LineProblem(ln, "fields", why),)
    onset, end = number(f[2]), number(f[3])
    if onset is None or end is None:
        return None, (LineProblem(ln, "number", f"onset and end must be finite numbers, got {f[2]!r} {f[3]!r}"),)
    region = UemSegment(f[0], onset, end, f[1])
    problems = []
    if onset < 0:
        problems.append(LineProblem(ln, "negative_start", f"onset {onset} < 0; expected 0 <= onset < end", region))
    if end <= onset:
        why = f"expected 0 <= onset < end (field 4 is an end time, not a duration), got {onset} {end}"
        problems.append(LineProblem(ln, "end_not_after_start", why, region))
    return Entry(ln, f[0], region), problems


def parse_uem(raw: RawFile) -> Parsed:
    """The lines of a UEM file through :func:`uem_line`; comment lines go to ``other``."""
    return parse_lines(raw, uem_line)


def read_uem(path: PathLike) -> Dict[str, List[UemSegment]]:
    """Read a UEM file into recording -> regions (sorted). ``;`` starts a comment line.

    Raises:
        DataFormatError: the first problem of :func:`uem_line` (not 4 fields, non-numeric
            times, a negative onset, ``end <= onset``), naming the file and line.
    """
    out: Dict[str, List[UemSegment]] = {}
    for e in read_entries(path, uem_line):
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
