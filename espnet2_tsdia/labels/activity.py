"""Speaker turns <-> frame activity (S x T booleans) on the shared frame grid.

The rule (see :mod:`espnet2_tsdia.frontend.frames`): speaker ``s`` is active in frame ``t`` when
one of its turns covers the frame centre. Overlapping turns of one speaker simply merge.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from espnet2_tsdia.formats.kaldi import c_sort_key
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.frontend.frames import FrameGrid

DEFAULT_GRID = FrameGrid()


def speaker_order(turns: Sequence[Turn]) -> List[str]:
    """Speakers of ``turns`` by first onset, ties by id (C locale): a canonical order that does
    not depend on the order of the input."""
    first: Dict[str, float] = {}
    for t in turns:
        if t.speaker not in first or t.onset < first[t.speaker]:
            first[t.speaker] = t.onset
    return sorted(first, key=lambda s: (first[s], c_sort_key(s)))


def rasterize(
    turns: Sequence[Turn], speakers: Sequence[str], num_frames: int, *, grid: FrameGrid = DEFAULT_GRID
) -> np.ndarray:
    """(S, T) boolean activity of ``speakers`` (row order) in ``num_frames`` frames.

    Parts of turns after the last frame are cut (the recording ends there).

    Raises:
        ValueError: a turn of a speaker not in ``speakers``, duplicate speakers, ``num_frames < 0``.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    index = {s: i for i, s in enumerate(speakers)}
    if len(index) != len(speakers):
        raise ValueError(f"duplicate speakers in {list(speakers)}")
    out = np.zeros((len(speakers), num_frames), dtype=bool)
    for t in turns:
        if t.speaker not in index:
            raise ValueError(f"turn {t} belongs to speaker {t.speaker!r}, not one of {list(speakers)}")
        a, b = grid.active_frame_range(t.onset, t.end)
        out[index[t.speaker], a : min(b, num_frames)] = True
    return out


def runs(active: np.ndarray) -> List[Tuple[int, int]]:
    """Maximal runs ``[start, stop)`` of True in a 1-D boolean array."""
    a = np.asarray(active, dtype=bool)
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {a.shape}")
    edges = np.diff(np.concatenate([[False], a, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


def activity_to_turns(active: np.ndarray, *, reco: str, speaker: str, grid: FrameGrid = DEFAULT_GRID) -> List[Turn]:
    """One turn per run of active frames: frames ``[a, b)`` -> ``[a * shift, b * shift)`` seconds."""
    shift = grid.shift_seconds
    return [Turn(reco=reco, onset=a * shift, duration=(b - a) * shift, speaker=speaker) for a, b in runs(active)]


def solo_mask(activity: np.ndarray, target: int) -> np.ndarray:
    """(T,) frames where speaker ``target`` talks and nobody else does."""
    others = (
        np.delete(activity, target, axis=0).any(axis=0) if activity.shape[0] > 1 else np.zeros(activity.shape[1], bool)
    )
    return activity[target] & ~others
