"""Windows over speech, window labels -> frame labels, and each cluster's enrollment region.

All positions are frames of the shared grid (10 per second by default); spans are ``[start, end)``.

- :func:`speech_windows`: windows of ``window`` frames every ``hop`` frames (the last one ends
  at the recording's end), kept when at least ``min_speech_ratio`` of their frames are speech.
- :func:`frame_labels`: every speech frame takes the label of the window whose centre is
  nearest (ties: the earlier window); non-speech frames are ``-1``.
- :func:`clean_frames`: frames where every window that covers them has the frame's label (away
  from speaker changes, where a window straddles two speakers).
- :func:`frame_scores`: per frame, the mean similarity to their cluster's centroid of the
  covering windows of the frame's label (how typical of its speaker the frame's audio is).
- :func:`enrollment_region`: for one cluster, the clean run of its frames that gives the longest
  span (capped at ``max_frames``), ties broken by the higher mean score, then the earlier span;
  inside a run longer than ``max_frames``, the ``max_frames`` frames of highest mean score. When
  no clean run reaches ``min_frames``, any run of the cluster's frames is tried the same way
  (and the region is marked as not clean).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from espnet2_tsdia.labels.activity import runs

Span = Tuple[int, int]


def speech_windows(speech: np.ndarray, *, window: int, hop: int, min_speech_ratio: float = 0.5) -> List[Span]:
    """Windows ``[a, b)`` over a (T,) speech mask (module docstring)."""
    speech = np.asarray(speech, dtype=bool)
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be >= 1 frame, got window={window} hop={hop}")
    if not 0 < min_speech_ratio <= 1:
        raise ValueError(f"min_speech_ratio must be in (0, 1], got {min_speech_ratio}")
    t = speech.size
    if t == 0:
        return []
    starts = list(range(0, max(t - window, 0) + 1, hop))
    if starts[-1] + window < t:
        starts.append(t - window)
    cum = np.concatenate([[0], np.cumsum(speech)])
    out = []
    for a in starts:
        b = min(a + window, t)
        if cum[b] - cum[a] >= min_speech_ratio * (b - a):
            out.append((a, b))
    return out


def frame_labels(windows: Sequence[Span], labels: Sequence[int], speech: np.ndarray) -> np.ndarray:
    """(T,) label of the nearest window centre for speech frames, -1 elsewhere."""
    speech = np.asarray(speech, dtype=bool)
    out = np.full(speech.size, -1, dtype=np.int64)
    if len(windows) != len(labels):
        raise ValueError(f"{len(windows)} windows but {len(labels)} labels")
    if not windows:
        return out
    centres = np.array([(a + b - 1) / 2.0 for a, b in windows])
    order = np.argsort(centres, kind="stable")
    sorted_centres = centres[order]
    frames = np.flatnonzero(speech)
    right = np.clip(np.searchsorted(sorted_centres, frames, side="left"), 0, len(windows) - 1)
    left = np.clip(right - 1, 0, len(windows) - 1)
    take_left = np.abs(sorted_centres[left] - frames) <= np.abs(sorted_centres[right] - frames)
    nearest = np.where(take_left, left, right)
    out[frames] = np.asarray(labels, dtype=np.int64)[order[nearest]]
    return out


def _coverage(windows: Sequence[Span], weights: np.ndarray, num_frames: int) -> np.ndarray:
    """(T,) sum over windows covering each frame of the window's weight."""
    diff = np.zeros(num_frames + 1)
    for (a, b), w in zip(windows, weights, strict=True):
        diff[a] += w
        diff[b] -= w
    return np.cumsum(diff)[:num_frames]


def clean_frames(windows: Sequence[Span], labels: Sequence[int], frame_label: np.ndarray) -> np.ndarray:
    """(T,) True where the frame is labelled and every covering window has its label."""
    frame_label = np.asarray(frame_label)
    t = frame_label.size
    labels = np.asarray(labels)
    total = _coverage(windows, np.ones(len(windows)), t)
    agree = np.zeros(t)
    for k in np.unique(labels):
        covered = _coverage(windows, (labels == k).astype(float), t)
        agree = np.where(frame_label == k, covered, agree)
    return (frame_label >= 0) & (total > 0) & (agree == total)


def frame_scores(
    windows: Sequence[Span], labels: Sequence[int], similarity: Sequence[float], frame_label: np.ndarray
) -> np.ndarray:
    """(T,) mean ``similarity`` of the covering windows that have the frame's label (0 if none)."""
    frame_label = np.asarray(frame_label)
    t = frame_label.size
    labels = np.asarray(labels)
    similarity = np.asarray(similarity, dtype=np.float64)
    out = np.zeros(t)
    for k in np.unique(labels):
        mine = (labels == k).astype(float)
        count = _coverage(windows, mine, t)
        total = _coverage(windows, mine * similarity, t)
        out = np.where((frame_label == k) & (count > 0), total / np.maximum(count, 1e-12), out)
    return out


def _best_span(candidates: Sequence[Span], score: np.ndarray, max_frames: int) -> Optional[Tuple[Span, float]]:
    cum = np.concatenate([[0.0], np.cumsum(score)])
    best, best_key = None, None
    for a, b in candidates:
        n = min(b - a, max_frames)
        means = (cum[a + n : b + 1] - cum[a : b - n + 1]) / n  # every n-frame span inside [a, b)
        i = int(np.argmax(means))
        key = (n, float(means[i]), -(a + i))
        if best_key is None or key > best_key:
            best, best_key = (a + i, a + i + n), key
    return None if best is None else (best, best_key[1])


@dataclass(frozen=True)
class Region:
    """An enrollment region of one cluster: frames ``[start, end)``, its mean score, and whether
    it is clean (no covering window of another cluster)."""

    start: int
    end: int
    score: float
    clean: bool


def enrollment_region(
    cluster: int,
    frame_label: np.ndarray,
    clean: np.ndarray,
    score: np.ndarray,
    *,
    max_frames: int,
    min_frames: int = 1,
) -> Optional[Region]:
    """The enrollment region of ``cluster`` (module docstring), or None when none of its runs
    reaches ``min_frames``."""
    if max_frames < 1 or not 1 <= min_frames <= max_frames:
        raise ValueError(f"need 1 <= min_frames <= max_frames, got min_frames={min_frames} max_frames={max_frames}")
    mine = np.asarray(frame_label) == cluster
    score = np.asarray(score, dtype=np.float64)
    for is_clean, mask in ((True, mine & np.asarray(clean, dtype=bool)), (False, mine)):
        found = _best_span([r for r in runs(mask) if r[1] - r[0] >= min_frames], score, max_frames)
        if found is not None:
            (a, b), s = found
            return Region(start=a, end=b, score=s, clean=is_clean)
    return None
