"""Read and write the files of a Kaldi-style data dir.

All writers sort keys in C-locale byte order (``LC_ALL=C sort``), write one entry per line and
end the file with a newline, which is what Kaldi's ``validate_data_dir.sh`` and lhotse's Kaldi
importer expect. Each format has one tolerant parser (``parse_keyed``, ``parse_scp``,
``parse_list``, ``parse_segments``, ``parse_reco2dur``: entries + problems, see
:mod:`espnet2_tsdia.formats.text`); the readers raise
:class:`~espnet2_tsdia.formats.errors.DataFormatError` on its first problem, naming the file and
the line, and the data-dir validator and fixer use the same parsers.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Tuple, Union

from espnet2_tsdia.formats.text import Entry, Parsed, RawFile, expected_fields, number, parse_strict
from espnet2_tsdia.utils.atomic import atomic_write_text

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


def parse_keyed(raw: RawFile, *, min_fields: int, max_fields: int = 0, what: str = "key") -> Parsed:
    """``key field...`` lines; value = the tuple of fields after the key.

    Args:
        raw: the file.
        min_fields: fields per line including the key.
        max_fields: if > 0, the most fields a line may have.
        what: the key's name in duplicate-key messages (``"utterance id"``).
    """
    out = Parsed()
    want = expected_fields(min_fields, max_fields)
    for ln in raw.lines:
        n = len(ln.fields)
        if n < min_fields or (max_fields and n > max_fields):
            out.add(ln, "fields", f"expected {want} fields, got {n}: {ln.text!r}")
            continue
        out.entries.append(Entry(ln, ln.fields[0], ln.fields[1:]))
    out.check_duplicates(what)
    return out


def parse_scp(raw: RawFile, *, what: str = "key") -> Parsed:
    """``<key> <value>`` where the value is the rest of the line (a path, or a ``cmd |`` pipe)."""
    out = Parsed()
    for ln in raw.lines:
        parts = ln.text.strip().split(maxsplit=1)
        if len(parts) != 2:
            out.add(ln, "fields", f"expected '<key> <value>' (a path or a command ending in '|'), got {ln.text!r}")
            continue
        out.entries.append(Entry(ln, parts[0], parts[1].strip()))
    out.check_duplicates(what)
    return out


def parse_list(raw: RawFile) -> Parsed:
    """One id per line (split and meeting lists); value = the id."""
    out = Parsed()
    for ln in raw.lines:
        if len(ln.fields) != 1:
            out.add(ln, "fields", f"expected one id per line, got {len(ln.fields)} fields: {ln.text!r}")
            continue
        out.entries.append(Entry(ln, ln.fields[0], ln.fields[0]))
    out.check_duplicates("id")
    return out


def read_table(path: PathLike, *, min_fields: int = 2, max_fields: int = 0) -> "OrderedDict[str, List[str]]":
    """Read a ``key field...`` file into an ordered dict of key -> fields.

    Args:
        path: the file.
        min_fields: fields per line including the key; fewer raises.
        max_fields: if > 0, more fields than this raises.

    Raises:
        DataFormatError: too few/many fields or a duplicate key (the line of the second one).
    """
    parsed = parse_strict(path, parse_keyed, min_fields=min_fields, max_fields=max_fields)
    return OrderedDict((e.key, list(e.value)) for e in parsed.entries)


def read_list(path: PathLike) -> List[str]:
    """Read a list of ids, one per line (split and meeting lists), in file order.

    Tolerates CRLF, blank lines and a missing final newline (the AVA-AVD lists have none, so
    ``wc -l`` and a shell ``while read`` loop both miss their last id).

    Raises:
        DataFormatError: a line with more than one field, or a repeated id.
    """
    return [e.value for e in parse_strict(path, parse_list).entries]


def read_scp(path: PathLike) -> Dict[str, str]:
    """Read ``key value`` where value is the rest of the line (paths, or ``cmd |`` pipes)."""
    return {e.key: e.value for e in parse_strict(path, parse_scp).entries}


def write_scp(path: PathLike, table: Mapping[str, object]) -> None:
    """Write ``key value`` lines sorted by key (C locale), ending with a newline."""
    lines = [f"{k} {table[k]}\n" for k in sorted(table, key=c_sort_key)]
    atomic_write_text(path, "".join(lines))


# --------------------------------------------------------------------------- segments
@dataclass(frozen=True)
class Segment:
    """One line of ``segments``: an utterance ``utt`` of recording ``reco`` from ``start`` to ``end`` (s)."""

    utt: str
    reco: str
    start: float
    end: float


def parse_segments(raw: RawFile) -> Parsed:
    """``<utt> <reco> <start> <end>``; value = :class:`Segment`.

    Problems: ``fields``, ``number`` (no entry); ``negative_start``, ``end_not_after_start``,
    ``duplicate_key`` (the entry is kept, the problem's value is the segment or the first entry).
    """
    out = Parsed()
    for ln in raw.lines:
        f = ln.fields
        if len(f) != 4:
            out.add(ln, "fields", f"expected 4 fields '<utt> <recording> <start> <end>', got {len(f)}: {ln.text!r}")
            continue
        start, end = number(f[2]), number(f[3])
        if start is None or end is None:
            out.add(ln, "number", f"start and end must be finite numbers, got {f[2]!r} {f[3]!r}")
            continue
        seg = Segment(f[0], f[1], start, end)
        out.entries.append(Entry(ln, f[0], seg))
        if start < 0:
            out.add(ln, "negative_start", f"start {start} < 0; expected 0 <= start < end", seg)
        if end <= start:
            out.add(ln, "end_not_after_start", f"end {end} <= start {start}; expected end > start", seg)
    out.check_duplicates("utterance id")
    return out


def read_segments(path: PathLike) -> Dict[str, Segment]:
    """Read ``segments`` (``<utt> <reco> <start> <end>``). Raises on bad numbers or ``end <= start``."""
    return {e.key: e.value for e in parse_strict(path, parse_segments).entries}


def write_segments(path: PathLike, segments: Iterable[Segment]) -> None:
    """Write ``segments`` sorted by utterance id, times with 3 decimals (1 ms)."""
    segs = sorted(segments, key=lambda s: c_sort_key(s.utt))
    atomic_write_text(path, "".join(f"{s.utt} {s.reco} {s.start:.3f} {s.end:.3f}\n" for s in segs))


# --------------------------------------------------------------------------- speakers
def read_utt2spk(path: PathLike) -> Dict[str, str]:
    """Read ``utt2spk`` (exactly 2 fields per line)."""
    parsed = parse_strict(path, parse_keyed, min_fields=2, max_fields=2, what="utterance id")
    return {e.key: e.value[0] for e in parsed.entries}


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, List[str]]:
    """Invert utt2spk the way Kaldi's ``utt2spk_to_spk2utt.pl`` does (utterances in utt2spk order)."""
    out: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk, key=c_sort_key):
        out.setdefault(utt2spk[utt], []).append(utt)
    return out


def read_spk2utt(path: PathLike) -> Dict[str, List[str]]:
    """Read ``spk2utt`` (a speaker and one or more utterances per line)."""
    parsed = parse_strict(path, parse_keyed, min_fields=2, what="speaker id")
    return {e.key: list(e.value) for e in parsed.entries}


def write_utt2spk(path: PathLike, utt2spk: Mapping[str, str]) -> None:
    write_scp(path, utt2spk)


def write_spk2utt(path: PathLike, spk2utt: Mapping[str, List[str]]) -> None:
    write_scp(path, {k: " ".join(v) for k, v in spk2utt.items()})


# --------------------------------------------------------------------------- durations
def parse_reco2dur(raw: RawFile) -> Parsed:
    """``<reco> <seconds>``; value = the duration. A duration that is not a finite number > 0
    is a ``duration`` problem (no entry: the recording's length is unknown)."""
    out = Parsed()
    for ln in raw.lines:
        f = ln.fields
        if len(f) != 2:
            out.add(ln, "fields", f"expected 2 fields '<recording> <seconds>', got {len(f)}: {ln.text!r}")
            continue
        dur = number(f[1])
        if dur is None or dur <= 0:
            out.add(ln, "duration", f"duration must be a finite number > 0, got {f[1]!r}")
            continue
        out.entries.append(Entry(ln, f[0], dur))
    out.check_duplicates("recording id")
    return out


def read_reco2dur(path: PathLike) -> Dict[str, float]:
    """Read ``reco2dur`` (``<reco> <seconds>``, seconds > 0)."""
    return {e.key: e.value for e in parse_strict(path, parse_reco2dur).entries}


def write_reco2dur(path: PathLike, reco2dur: Mapping[str, float]) -> None:
    write_scp(path, {k: f"{v:.6f}".rstrip("0").rstrip(".") for k, v in reco2dur.items()})


def utt_id(spk: str, reco: str, start: float, end: float) -> str:
    """The recommended utterance id ``<spk>-<reco>-<start_cs:07d>-<end_cs:07d>`` (speaker first, so
    utt2spk sorted by utterance is also sorted by speaker)."""
    return f"{spk}-{reco}-{int(round(start * 100)):07d}-{int(round(end * 100)):07d}"
