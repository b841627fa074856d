"""RTTM reading, writing and same-speaker merging.

One tolerant line parser (:func:`speaker_line`) serves the reader, the data-dir validator and the
fixer.
It survives what real files do (all seen in the test fixtures under ``test/fixtures/``): channel
``0`` (MSDWild), CRLF line endings (AISHELL-4), runs of spaces or tabs (AVA-AVD), ids starting
with ``-``, zero-padded numeric ids (kept as strings), turns grouped by speaker rather than time,
no final newline, 9-field lines (Kaldi's converter), comment lines and other RTTM line types
(skipped). It rejects what no RTTM may hold: fewer than 9 or more than 10 fields, times that are
not finite numbers, a negative onset, a duration <= 0. Writing always gives the 10-field NIST
form with channel ``1``, sorted by recording, onset and speaker.

Same-speaker overlaps are judged with :data:`~espnet2_tsdia.formats.times.TIME_EPS`: turns that
overlap by no more than rounding only touch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

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
from espnet2_tsdia.formats.times import TIME_EPS, overlaps
from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]

#: The fields of a SPEAKER line (the 10th, ``<NA>`` slot, may be missing).
RTTM_FIELDS = "SPEAKER <file> <chan> <onset> <duration> <NA> <NA> <speaker> <NA> <NA>"


@dataclass(frozen=True)
class Turn:
    """One speaker turn: ``speaker`` talks in recording ``reco`` from ``onset`` for ``duration`` s."""

    reco: str
    onset: float
    duration: float
    speaker: str
    channel: str = "1"

    @property
    def end(self) -> float:
        return self.onset + self.duration


class RttmLine(NamedTuple):
    """A SPEAKER line: the turn (channel as written) and the number of fields."""

    turn: Turn
    n_fields: int


def speaker_line(ln: Line, *, channel: Optional[str] = None) -> LineResult:
    """One RTTM line: a SPEAKER line -> an entry keyed by recording, value :class:`RttmLine`
    (``channel`` replaces field 3 when given); any other line (a comment, another RTTM type)
    carries no turn and is no problem.

    Problems: ``fields`` (not 9 or 10 fields), ``number`` (no entry); ``negative_start``,
    ``end_not_after_start`` (duration <= 0; the entry is kept, the problem's value is the turn).
    """
    f = ln.fields
    if f[0] != "SPEAKER":
        return None, ()
    if not 9 <= len(f) <= 10:
        why = f"expected 10 fields '{RTTM_FIELDS}' (or 9), got {len(f)}: {ln.text!r}"
        return None, (LineProblem(ln, "fields", why),)
    onset, dur = number(f[3]), number(f[4])
    if onset is None or dur is None:
        why = f"onset/duration must be numbers, got {f[3]!r} {f[4]!r}; expected finite seconds in fields 4 and 5"
        return None, (LineProblem(ln, "number", why),)
    turn = Turn(reco=f[1], onset=onset, duration=dur, speaker=f[7], channel=f[2] if channel is None else channel)
    problems = []
    if onset < 0:
        problems.append(LineProblem(ln, "negative_start", f"onset (field 4) must be >= 0, got {f[3]!r}", turn))
    if dur <= 0:
        why = f"field 5 is a duration and must be > 0, got {f[4]!r}"
        problems.append(LineProblem(ln, "end_not_after_start", why, turn))
    return Entry(ln, f[1], RttmLine(turn, len(f))), problems


def parse_rttm(raw: RawFile) -> Parsed:
    """The lines of an RTTM file through :func:`speaker_line`; lines other than SPEAKER lines go
    to ``other``."""
    return parse_lines(raw, speaker_line)


def read_rttm(path: PathLike, *, keep_channel: bool = False) -> List[Turn]:
    """Read the SPEAKER lines of an RTTM file, in file order (what it accepts: module docstring).

    Args:
        path: the RTTM file.
        keep_channel: keep field 3 as read; by default it is normalised to ``"1"`` (MSDWild
            writes ``0``, and md-eval keys on (file, channel)).

    Raises:
        DataFormatError: the first problem of :func:`speaker_line`, naming the file and line.
    """
    return [turn for _, turn in iter_rttm(path, keep_channel=keep_channel)]


def iter_rttm(path: PathLike, *, keep_channel: bool = False) -> Iterator[Tuple[int, Turn]]:
    """``(line number, turn)`` for the turns :func:`read_rttm` returns, streamed (a simulated
    set's RTTM runs to millions of lines).

    Raises:
        DataFormatError: at the first line :func:`speaker_line` has a problem with.
    """
    parse_line = partial(speaker_line, channel=None if keep_channel else "1")
    for e in read_entries(path, parse_line):
        yield e.line.number, e.value.turn


def format_turn(t: Turn) -> str:
    """One 10-field RTTM line (without newline); times with 3 decimals.

    Onset and end are rounded, and the duration written is their difference, so the end a reader
    computes is the rounded end: rounding the duration on its own could move the end by 1 ms and
    make two touching turns of one speaker overlap.
    """
    onset = round(t.onset, 3)
    duration = round(t.end, 3) - onset
    return f"SPEAKER {t.reco} {t.channel} {onset:.3f} {duration:.3f} <NA> <NA> {t.speaker} <NA> <NA>"


def sort_turns(turns: Iterable[Turn]) -> List[Turn]:
    """Sort by recording (C locale), onset, speaker."""
    return sorted(turns, key=lambda t: (c_sort_key(t.reco), t.onset, c_sort_key(t.speaker), t.duration))


def _written_order(t: Turn) -> Tuple[bytes, float, bytes, float]:
    """The order of :func:`write_rttm`: by the values as written (rounded to 1 ms), so that the
    file read back is in order."""
    return (c_sort_key(t.reco), round(t.onset, 3), c_sort_key(t.speaker), round(t.end, 3) - round(t.onset, 3))


def write_rttm(path: PathLike, turns: Iterable[Turn]) -> None:
    """Write a 10-field RTTM, sorted by recording, onset and speaker, with a final newline.

    Turns whose duration rounds to 0 at millisecond precision are rejected, since the file would
    then hold a zero-duration line.
    """
    lines = []
    for t in sorted(turns, key=_written_order):
        if round(t.end, 3) - round(t.onset, 3) <= 0:
            raise ValueError(f"turn of {t.speaker!r} in {t.reco!r} at {t.onset:.3f}s is shorter than 1 ms: {t}")
        lines.append(format_turn(t) + "\n")
    atomic_write_text(path, "".join(lines))


def group_by_reco(turns: Iterable[Turn]) -> Dict[str, List[Turn]]:
    """Turns per recording, each list sorted by onset."""
    out: Dict[str, List[Turn]] = {}
    for t in turns:
        out.setdefault(t.reco, []).append(t)
    return {k: sort_turns(v) for k, v in out.items()}


def merge_same_speaker(
    turns: Sequence[Turn], *, gap: float = 0.0, tolerance: float = TIME_EPS
) -> Tuple[List[Turn], List[Tuple[List[Turn], Turn]]]:
    """Merge turns of one speaker in one recording that overlap (or are closer than ``gap`` s).

    Args:
        turns: any order, any number of recordings.
        gap: also merge turns separated by less than ``gap`` seconds (0: only turns that share
            time are merged; turns that merely touch stay apart).
        tolerance: turns overlapping by no more than this only touch (rounding of the files,
            :data:`~espnet2_tsdia.formats.times.TIME_EPS`); they are not merged when ``gap`` is 0.

    Returns:
        ``(merged, changes)``: the merged turns sorted, and for every merge the original turns
        and the turn that replaced them (so callers can report exactly what changed).
    """
    by_key: Dict[Tuple[str, str], List[Turn]] = {}
    for t in turns:
        by_key.setdefault((t.reco, t.speaker), []).append(t)
    merged: List[Turn] = []
    changes: List[Tuple[List[Turn], Turn]] = []
    for key in by_key:
        group = sorted(by_key[key], key=lambda t: (t.onset, t.end))
        run = [group[0]]
        end = group[0].end
        for t in group[1:]:
            if overlaps(end, t.onset, tolerance=tolerance) or (gap > 0 and t.onset < end + gap):
                run.append(t)
                end = max(end, t.end)
                continue
            merged.append(_close_run(run, end, changes))
            run, end = [t], t.end
        merged.append(_close_run(run, end, changes))
    return sort_turns(merged), changes


def _close_run(run: List[Turn], end: float, changes: List[Tuple[List[Turn], Turn]]) -> Turn:
    if len(run) == 1:
        return run[0]
    new = replace(run[0], duration=end - run[0].onset)
    changes.append((list(run), new))
    return new


def self_overlaps(turns: Sequence[Turn], *, tolerance: float = TIME_EPS) -> List[Tuple[Turn, Turn]]:
    """Pairs of turns of the same speaker and recording that overlap by more than ``tolerance``."""
    out = []
    for group in group_by_reco(turns).values():
        last: Dict[str, Turn] = {}
        for t in group:
            prev = last.get(t.speaker)
            if prev is not None and overlaps(prev.end, t.onset, tolerance=tolerance):
                out.append((prev, t))
            if prev is None or t.end > prev.end:
                last[t.speaker] = t
    return out
