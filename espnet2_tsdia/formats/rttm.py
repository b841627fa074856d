"""RTTM reading, writing and same-speaker merging.

Reading survives what real files do (all seen in ``shared/fixtures/real_annotations``): channel
``0`` (MSDWild), CRLF line endings (AISHELL-4), runs of spaces or tabs (AVA-AVD), ids starting
with ``-``, zero-padded numeric ids (kept as strings), turns grouped by speaker rather than time,
no final newline, 9-field lines (Kaldi's converter). Writing always gives the 10-field NIST form
with channel ``1``, sorted by recording, onset and speaker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple, Union

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import _atomic_write, c_sort_key, iter_lines

PathLike = Union[str, Path]


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


def read_rttm(path: PathLike, *, keep_channel: bool = False) -> List[Turn]:
    """Read SPEAKER lines of an RTTM file, in file order.

    Args:
        path: the RTTM file.
        keep_channel: keep field 3 as read; by default it is normalised to ``"1"`` (MSDWild
            writes ``0``, and md-eval keys on (file, channel)).

    Raises:
        DataFormatError: fewer than 9 fields, non-numeric or negative onset, duration <= 0.
    """
    turns: List[Turn] = []
    for n, line in iter_lines(path):
        f = line.split()
        if f[0].startswith(";"):
            continue
        if f[0] != "SPEAKER":
            continue  # other RTTM types (SPKR-INFO, END, ...) carry no turns
        if len(f) < 9:
            raise DataFormatError(path, n, f"expected 10 fields (at least 9), got {len(f)}: {line!r}")
        try:
            onset, dur = float(f[3]), float(f[4])
        except ValueError:
            raise DataFormatError(path, n, f"onset/duration must be numbers, got {f[3]!r} {f[4]!r}") from None
        if not (math.isfinite(onset) and math.isfinite(dur)) or onset < 0:
            raise DataFormatError(path, n, f"expected a finite onset >= 0, got {f[3]!r}")
        if dur <= 0:
            raise DataFormatError(path, n, f"field 5 is a duration and must be > 0, got {f[4]!r}")
        turns.append(Turn(reco=f[1], onset=onset, duration=dur, speaker=f[7], channel=f[2] if keep_channel else "1"))
    return turns


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


def write_rttm(path: PathLike, turns: Iterable[Turn]) -> None:
    """Write a 10-field RTTM, sorted by recording, onset and speaker, with a final newline.

    Turns whose duration rounds to 0 at millisecond precision are rejected, since the file would
    then hold a zero-duration line.
    """
    lines = []
    # Sort by the values as written (rounded to 1 ms), so that the file read back is in order.
    rounded = lambda t: (
        c_sort_key(t.reco),
        round(t.onset, 3),
        c_sort_key(t.speaker),
        round(t.end, 3) - round(t.onset, 3),
    )  # noqa: E731
    for t in sorted(turns, key=rounded):
        if round(t.end, 3) - round(t.onset, 3) <= 0:
            raise ValueError(f"turn of {t.speaker!r} in {t.reco!r} at {t.onset:.3f}s is shorter than 1 ms: {t}")
        lines.append(format_turn(t) + "\n")
    _atomic_write(path, "".join(lines))


def group_by_reco(turns: Iterable[Turn]) -> Dict[str, List[Turn]]:
    """Turns per recording, each list sorted by onset."""
    out: Dict[str, List[Turn]] = {}
    for t in turns:
        out.setdefault(t.reco, []).append(t)
    return {k: sort_turns(v) for k, v in out.items()}


def merge_same_speaker(turns: Sequence[Turn], *, gap: float = 0.0) -> Tuple[List[Turn], List[Tuple[List[Turn], Turn]]]:
    """Merge turns of one speaker in one recording that overlap (or are closer than ``gap`` s).

    Args:
        turns: any order, any number of recordings.
        gap: also merge turns separated by less than ``gap`` seconds (0: only turns that share
            time are merged; turns that merely touch stay apart).

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
            if t.onset < end + gap:
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


def self_overlaps(turns: Sequence[Turn]) -> List[Tuple[Turn, Turn]]:
    """Pairs of turns of the same speaker and recording that overlap (share time > 0)."""
    out = []
    for group in group_by_reco(turns).values():
        last: Dict[str, Turn] = {}
        for t in group:
            prev = last.get(t.speaker)
            if prev is not None and t.onset < prev.end:
                out.append((prev, t))
            if prev is None or t.end > prev.end:
                last[t.speaker] = t
    return out
