"""Read and write the files of a Kaldi-style data dir.

All writers sort keys in C-locale byte order (``LC_ALL=C sort``), write one entry per line and
end the file with a newline, which is what Kaldi's ``validate_data_dir.sh`` and lhotse's Kaldi
importer expect. Readers raise :class:`DataFormatError` naming the file and line.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Tuple, Union

from espnet2_tsdia.formats.errors import DataFormatError

PathLike = Union[str, Path]


def c_sort_key(key: str) -> bytes:
    """Sort key reproducing ``LC_ALL=C sort``: byte order of the UTF-8 encoding."""
    return key.encode("utf-8")


def iter_lines(path: PathLike) -> Iterable[Tuple[int, str]]:
    """Yield ``(line_number, line)`` for non-empty lines, tolerating CRLF and a missing final newline."""
    with open(path, "r", encoding="utf-8", newline="") as f:
        for n, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if line.strip():
                yield n, line


def read_table(path: PathLike, *, min_fields: int = 2, max_fields: int = 0) -> "OrderedDict[str, List[str]]":
    """Read a ``key field...`` file into an ordered dict of key -> fields.

    Args:
        path: the file.
        min_fields: fields per line including the key; fewer raises.
        max_fields: if > 0, more fields than this raises.

    Raises:
        DataFormatError: too few/many fields or a duplicate key (the line of the second one).
    """
    out: "OrderedDict[str, List[str]]" = OrderedDict()
    for n, line in iter_lines(path):
        fields = line.split()
        if len(fields) < min_fields or (max_fields and len(fields) > max_fields):
            want = f"{min_fields}" if max_fields == min_fields else f"at least {min_fields}"
            if max_fields and max_fields != min_fields:
                want = f"{min_fields}-{max_fields}"
            raise DataFormatError(path, n, f"expected {want} fields, got {len(fields)}: {line!r}")
        if fields[0] in out:
            raise DataFormatError(path, n, f"duplicate key {fields[0]!r}")
        out[fields[0]] = fields[1:]
    return out


def read_list(path: PathLike) -> List[str]:
    """Read a list of ids, one per line (split and meeting lists), in file order.

    Tolerates CRLF, blank lines and a missing final newline (the AVA-AVD lists have none, so
    ``wc -l`` and a shell ``while read`` loop both miss their last id).

    Raises:
        DataFormatError: a line with more than one field, or a repeated id.
    """
    out: List[str] = []
    seen: Dict[str, int] = {}
    for n, line in iter_lines(path):
        fields = line.split()
        if len(fields) != 1:
            raise DataFormatError(path, n, f"expected one id per line, got {len(fields)} fields: {line!r}")
        if fields[0] in seen:
            raise DataFormatError(path, n, f"duplicate id {fields[0]!r} (first at line {seen[fields[0]]})")
        seen[fields[0]] = n
        out.append(fields[0])
    return out


def read_scp(path: PathLike) -> Dict[str, str]:
    """Read ``key value`` where value is the rest of the line (paths, or ``cmd |`` pipes)."""
    out: Dict[str, str] = {}
    for n, line in iter_lines(path):
        parts = line.strip().split(maxsplit=1)
        if len(parts) != 2:
            raise DataFormatError(path, n, f"expected '<key> <value>', got {line!r}")
        if parts[0] in out:
            raise DataFormatError(path, n, f"duplicate key {parts[0]!r}")
        out[parts[0]] = parts[1]
    return out


def write_scp(path: PathLike, table: Mapping[str, object]) -> None:
    """Write ``key value`` lines sorted by key (C locale), ending with a newline."""
    lines = [f"{k} {table[k]}\n" for k in sorted(table, key=c_sort_key)]
    _atomic_write(path, "".join(lines))


def _atomic_write(path: PathLike, text: str) -> None:
    """Write through a temporary file and rename, so an interrupted write leaves no half file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- segments
@dataclass(frozen=True)
class Segment:
    """One line of ``segments``: an utterance ``utt`` of recording ``reco`` from ``start`` to ``end`` (s)."""

    utt: str
    reco: str
    start: float
    end: float


def read_segments(path: PathLike) -> Dict[str, Segment]:
    """Read ``segments`` (``<utt> <reco> <start> <end>``). Raises on bad numbers or ``end <= start``."""
    out: Dict[str, Segment] = {}
    for n, line in iter_lines(path):
        f = line.split()
        if len(f) != 4:
            raise DataFormatError(path, n, f"expected 4 fields '<utt> <reco> <start> <end>', got {len(f)}: {line!r}")
        try:
            start, end = float(f[2]), float(f[3])
        except ValueError:
            raise DataFormatError(path, n, f"start/end must be numbers, got {f[2]!r} {f[3]!r}") from None
        if not (math.isfinite(start) and math.isfinite(end)):
            raise DataFormatError(path, n, f"start/end must be finite, got {f[2]!r} {f[3]!r}")
        if f[0] in out:
            raise DataFormatError(path, n, f"duplicate utterance id {f[0]!r}")
        if start < 0 or end <= start:
            raise DataFormatError(path, n, f"expected 0 <= start < end, got start={start} end={end}")
        out[f[0]] = Segment(f[0], f[1], start, end)
    return out


def write_segments(path: PathLike, segments: Iterable[Segment]) -> None:
    """Write ``segments`` sorted by utterance id, times with 3 decimals (1 ms)."""
    segs = sorted(segments, key=lambda s: c_sort_key(s.utt))
    _atomic_write(path, "".join(f"{s.utt} {s.reco} {s.start:.3f} {s.end:.3f}\n" for s in segs))


# --------------------------------------------------------------------------- speakers
def read_utt2spk(path: PathLike) -> Dict[str, str]:
    """Read ``utt2spk`` (exactly 2 fields per line)."""
    return {k: v[0] for k, v in read_table(path, min_fields=2, max_fields=2).items()}


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, List[str]]:
    """Invert utt2spk the way Kaldi's ``utt2spk_to_spk2utt.pl`` does (utterances in utt2spk order)."""
    out: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk, key=c_sort_key):
        out.setdefault(utt2spk[utt], []).append(utt)
    return out


def read_spk2utt(path: PathLike) -> Dict[str, List[str]]:
    """Read ``spk2utt`` (a speaker and one or more utterances per line)."""
    return {k: list(v) for k, v in read_table(path, min_fields=2).items()}


def write_utt2spk(path: PathLike, utt2spk: Mapping[str, str]) -> None:
    write_scp(path, utt2spk)


def write_spk2utt(path: PathLike, spk2utt: Mapping[str, List[str]]) -> None:
    write_scp(path, {k: " ".join(v) for k, v in spk2utt.items()})


# --------------------------------------------------------------------------- durations
def read_reco2dur(path: PathLike) -> Dict[str, float]:
    """Read ``reco2dur`` (``<reco> <seconds>``, seconds > 0)."""
    out: Dict[str, float] = {}
    for n, line in iter_lines(path):
        f = line.split()
        if len(f) != 2:
            raise DataFormatError(path, n, f"expected 2 fields '<reco> <seconds>', got {len(f)}: {line!r}")
        try:
            dur = float(f[1])
        except ValueError:
            raise DataFormatError(path, n, f"duration must be a number, got {f[1]!r}") from None
        if not (dur > 0 and math.isfinite(dur)):
            raise DataFormatError(path, n, f"duration must be > 0, got {f[1]!r}")
        if f[0] in out:
            raise DataFormatError(path, n, f"duplicate recording id {f[0]!r}")
        out[f[0]] = dur
    return out


def write_reco2dur(path: PathLike, reco2dur: Mapping[str, float]) -> None:
    write_scp(path, {k: f"{v:.6f}".rstrip("0").rstrip(".") for k, v in reco2dur.items()})


def utt_id(spk: str, reco: str, start: float, end: float) -> str:
    """The recommended utterance id ``<spk>-<reco>-<start_cs:07d>-<end_cs:07d>`` (speaker first, so
    utt2spk sorted by utterance is also sorted by speaker)."""
    return f"{spk}-{reco}-{int(round(start * 100)):07d}-{int(round(end * 100)):07d}"
