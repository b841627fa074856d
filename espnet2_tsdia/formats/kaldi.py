"""Read and write the files of a Kaldi-style data dir.

All writers sort keys in C-locale byte order (``LC_ALL=C sort``), write one entry per line and
end the file with a newline, which is what Kaldi's ``validate_data_dir.sh`` and lhotse's Kaldi
importer expect. Each format has one tolerant line parser (``keyed_line``, ``scp_line``,
``list_line``, ``segment_line``, ``reco2dur_line``; see :mod:`espnet2_tsdia.formats.text`): the
readers stream a file through it and raise :class:`~espnet2_tsdia.formats.errors.DataFormatError`
at its first problem, naming the file and the line; ``parse_*`` apply it to a whole file for the
data-dir validator and fixer, which report or repair every problem.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Tuple, Union

from espnet2_tsdia.formats.text import (
    Entry,
    Line,
    LineProblem,
    LineResult,
    Parsed,
    RawFile,
    expected_fields,
    number,
    parse_lines,
    read_entries,
)
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


def keyed_line(ln: Line, *, min_fields: int, max_fields: int = 0) -> LineResult:
    """A ``key field...`` line; value = the tuple of fields after the key."""
    n = len(ln.fields)
    if n < min_fields or (max_fields and n > max_fields):
        want = expected_fields(min_fields, max_fields)
        return None, (LineProblem(ln, "fields", f"expected {want} fields, got {n}: {ln.text!r}"),)
    return Entry(ln, ln.fields[0], ln.fields[1:]), ()


def scp_line(ln: Line) -> LineResult:
    """A ``<key> <value>`` line where the value is the rest of the line (a path, or a ``cmd |``)."""
    parts = ln.text.strip().split(maxsplit=1)
    if len(parts) != 2:
        why = f"expected '<key> <value>' (a path or a command ending in '|'), got {ln.text!r}"
        return None, (LineProblem(ln, "fields", why),)
    return Entry(ln, parts[0], parts[1].strip()), ()


def list_line(ln: Line) -> LineResult:
    """One id per line (split and meeting lists); value = the id."""
    if len(ln.fields) != 1:
        why = f"expected one id per line, got {len(ln.fields)} fields: {ln.text!r}"
        return None, (LineProblem(ln, "fields", why),)
    return Entry(ln, ln.fields[0], ln.fields[0]), ()


def parse_keyed(raw: RawFile, *, min_fields: int, max_fields: int = 0, what: str = "key") -> Parsed:
    """``key field...`` lines (:func:`keyed_line`), repeated keys being problems.

    Args:
        raw: the file.
        min_fields: fields per line including the key.
        max_fields: if > 0, the most fields a line may have.
        what: the key's name in duplicate-key messages (``"utterance id"``).
    """
    return parse_lines(raw, partial(keyed_line, min_fields=min_fields, max_fields=max_fields), what=what)


def parse_scp(raw: RawFile, *, what: str = "key") -> Parsed:
    """``<key> <value>`` lines (:func:`scp_line`), repeated keys being problems."""
    return parse_lines(raw, scp_line, what=what)


def parse_list(raw: RawFile) -> Parsed:
    """One id per line (:func:`list_line`), repeated ids being problems."""
    return parse_lines(raw, list_line, what="id")


def read_table(path: PathLike, *, min_fields: int = 2, max_fields: int = 0) -> "OrderedDict[str, List[str]]":
    """Read a ``key field...`` file into an ordered dict of key -> fields.

    Args:
        path: the file.
        min_fields: fields per line including the key; fewer raises.
        max_fields: if > 0, more fields than this raises.

    Raises:
        DataFormatError: too few/many fields or a duplicate key (the line of the second one).
    """
    parse_line = partial(keyed_line, min_fields=min_fields, max_fields=max_fields)
    return OrderedDict((e.key, list(e.value)) for e in read_entries(path, parse_line, what="key"))


def read_list(path: PathLike) -> List[str]:
    """Read a list of ids, one per line (split and meeting lists), in file order.

    Tolerates CRLF, blank lines and a missing final newline (the AVA-AVD lists have none, so
    ``wc -l`` and a shell ``while read`` loop both miss their last id).

    Raises:
        DataFormatError: a line with more than one field, or a repeated id.
    """
    return [e.value for e in read_entries(path, list_line, what="id")]


def read_scp(path: PathLike) -> Dict[str, str]:
    """Read ``key value`` where value is the rest of the line (paths, or ``cmd |`` pipes)."""
    return {e.key: e.value for e in read_entries(path, scp_line, what="key")}


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


def segment_line(ln: Line) -> LineResult:
    """``<utt> <reco> <start> <end>``; value = :class:`Segment`.

    Problems: ``fields``, ``number`` (no entry); ``negative_start``, ``end_not_after_start`` (the
    entry is kept, the problem's value is the segment).
    """
    f = ln.fields
    if len(f) != 4:
        why = f"expected 4 fields '<utt> <recording> <start> <end>', got {len(f)}: {ln.text!r}"
        return None, (LineProblem(ln, "fields", why),)
    start, end = number(f[2]), number(f[3])
    if start is None or end is None:
        return None, (LineProblem(ln, "number", f"start and end must be finite numbers, got {f[2]!r} {f[3]!r}"),)
    seg = Segment(f[0], f[1], start, end)
    problems = []
    if start < 0:
        problems.append(LineProblem(ln, "negative_start", f"start {start} < 0; expected 0 <= start < end", seg))
    if end <= start:
        problems.append(
            LineProblem(ln, "end_not_after_start", f"end {end} <= start {start}; expected end > start", seg)
        )
    return Entry(ln, f[0], seg), problems


def parse_segments(raw: RawFile) -> Parsed:
    """``segments`` lines (:func:`segment_line`), repeated utterance ids being problems."""
    return parse_lines(raw, segment_line, what="utterance id")


def read_segments(path: PathLike) -> Dict[str, Segment]:
    """Read ``segments`` (``<utt> <reco> <start> <end>``). Raises on bad numbers or ``end <= start``."""
    return {e.key: e.value for e in read_entries(path, segment_line, what="utterance id")}


def write_segments(path: PathLike, segments: Iterable[Segment]) -> None:
    """Write ``segments`` sorted by utterance id, times with 3 decimals (1 ms)."""
    segs = sorted(segments, key=lambda s: c_sort_key(s.utt))
    atomic_write_text(path, "".join(f"{s.utt} {s.reco} {s.start:.3f} {s.end:.3f}\n" for s in segs))


# --------------------------------------------------------------------------- speakers
def read_utt2spk(path: PathLike) -> Dict[str, str]:
    """Read ``utt2spk`` (exactly 2 fields per line)."""
    parse_line = partial(keyed_line, min_fields=2, max_fields=2)
    return {e.key: e.value[0] for e in read_entries(path, parse_line, what="utterance id")}


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, List[str]]:
    """Invert utt2spk the way Kaldi's ``utt2spk_to_spk2utt.pl`` does (utterances in utt2spk order)."""
    out: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk, key=c_sort_key):
        out.setdefault(utt2spk[utt], []).append(utt)
    return out


def read_spk2utt(path: PathLike) -> Dict[str, List[str]]:
    """Read ``spk2utt`` (a speaker and one or more utterances per line)."""
    return {e.key: list(e.value) for e in read_entries(path, partial(keyed_line, min_fields=2), what="speaker id")}


def write_utt2spk(path: PathLike, utt2spk: Mapping[str, str]) -> None:
    write_scp(path, utt2spk)


def write_spk2utt(path: PathLike, spk2utt: Mapping[str, List[str]]) -> None:
    write_scp(path, {k: " ".join(v) for k, v in spk2utt.items()})


# --------------------------------------------------------------------------- durations
def reco2dur_line(ln: Line) -> LineResult:
    """``<reco> <seconds>``; value = the duration. A duration that is not a finite number > 0 is a
    ``duration`` problem (no entry: the recording's length is unknown)."""
    f = ln.fields
    if len(f) != 2:
        return None, (
            LineProblem(ln, "fields", f"expected 2 fields '<recording> <seconds>', got {len(f)}: {ln.text!r}"),
        )
    dur = number(f[1])
    if dur is None or dur <= 0:
        return None, (LineProblem(ln, "duration", f"duration must be a finite number > 0, got {f[1]!r}"),)
    return Entry(ln, f[0], dur), ()


def parse_reco2dur(raw: RawFile) -> Parsed:
    """``reco2dur`` lines (:func:`reco2dur_line`), repeated recording ids being problems."""
    return parse_lines(raw, reco2dur_line, what="recording id")


def read_reco2dur(path: PathLike) -> Dict[str, float]:
    """Read ``reco2dur`` (``<reco> <seconds>``, seconds > 0)."""
    return {e.key: e.value for e in read_entries(path, reco2dur_line, what="recording id")}


def write_reco2dur(path: PathLike, reco2dur: Mapping[str, float]) -> None:
    write_scp(path, {k: f"{v:.6f}".rstrip("0").rstrip(".") for k, v in reco2dur.items()})


def utt_id(spk: str, reco: str, start: float, end: float) -> str:
    """The recommended utterance id ``<spk>-<reco>-<start_cs:07d>-<end_cs:07d>`` (speaker first, so
    utt2spk sorted by utterance is also sorted by speaker)."""
    return f"{spk}-{reco}-{int(round(start * 100)):07d}-{int(round(end * 100)):07d}"
