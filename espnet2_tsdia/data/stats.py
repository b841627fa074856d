"""Turn statistics of recordings and sets: overlap, silence, speaker counts, turn lengths.

Definitions (those of the tables in ``docs/corpora.md``):

- *speech* time: the union of all speakers' activity (time with >= 1 speaker active);
- *overlap* time: time with >= 2 distinct speakers active;
- overlap ratio = overlap / speech (0 when there is no speech);
- silence ratio = (duration - speech) / duration.

Everything is computed exactly with an event sweep over turn boundaries (no rasterisation).
A speaker's own overlapping turns are merged first (:func:`merge_same_speaker`), so a speaker
never overlaps themselves here; touching turns stay separate turns. Turns are clipped to
``[0, duration]`` for the time measures (real RTTMs sometimes run a few ms past the end of the
audio); turn lengths are the merged turns' full durations.

All functions are pure; :class:`RecordingStats` and :class:`SetStats` are frozen and convert to
JSON-ready dicts with ``to_dict()``.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from espnet2_tsdia.formats.rttm import Turn, merge_same_speaker

#: percentiles of turn length reported by :func:`set_stats`
PERCENTILES: Tuple[int, ...] = (5, 25, 50, 75, 95)


def activity_profile(starts: Sequence[float], ends: Sequence[float], *, duration: Optional[float] = None) -> np.ndarray:
    """Time spent with exactly k intervals active, for k = 0..K, by an event sweep.

    The intervals must not be duplicates of one speaker (merge a speaker's turns first):
    every active interval counts as one speaker.

    Args:
        starts, ends: interval boundaries in seconds, same length, ``end >= start``.
        duration: if given, intervals are clipped to ``[0, duration]`` and index 0 (nobody
            active) includes the silence before the first and after the last interval; without
            it, index 0 only counts gaps between intervals.

    Returns:
        float64 array ``t`` of length K + 1 (K = the largest number of simultaneously active
        intervals, at least 1), ``t[k]`` = seconds with exactly k active.
    """
    s = np.asarray(starts, dtype=np.float64)
    e = np.asarray(ends, dtype=np.float64)
    if s.shape != e.shape or s.ndim != 1:
        raise ValueError(f"starts and ends must be 1-D of equal length, got shapes {s.shape} and {e.shape}")
    if np.any(e < s):
        i = int(np.argmax(e < s))
        raise ValueError(f"interval {i} ends before it starts: [{s[i]}, {e[i]}]")
    if duration is not None:
        s = np.clip(s, 0.0, duration)
        e = np.clip(e, 0.0, duration)
    keep = e > s
    s, e = s[keep], e[keep]
    if s.size == 0:
        return np.array([float(duration or 0.0), 0.0])
    times = np.concatenate([s, e])
    delta = np.concatenate([np.ones(s.size, dtype=np.int64), -np.ones(e.size, dtype=np.int64)])
    order = np.lexsort((delta, times))  # at equal times, ends (-1) before starts (+1)
    times, delta = times[order], delta[order]
    count = np.cumsum(delta)[:-1]  # number active on [times[i], times[i+1])
    widths = np.diff(times)
    out = np.bincount(count, weights=widths, minlength=2)
    if duration is not None:
        out[0] += max(0.0, duration - (times[-1] - times[0]))
    return out


@dataclass(frozen=True)
class RecordingStats:
    """Statistics of one recording; times in seconds."""

    reco: str
    duration: float
    speech: float
    overlap: float
    silence: float
    num_speakers: int
    num_turns: int
    turn_lengths: Tuple[float, ...]

    @property
    def overlap_ratio(self) -> float:
        """Overlapped speech / total speech (0 without speech)."""
        return self.overlap / self.speech if self.speech > 0 else 0.0

    @property
    def silence_ratio(self) -> float:
        """Non-speech time / duration (0 for a zero-length recording)."""
        return self.silence / self.duration if self.duration > 0 else 0.0

    def to_dict(self) -> Dict[str, object]:
        d = asdict(self)
        d["turn_lengths"] = list(self.turn_lengths)
        d["overlap_ratio"] = self.overlap_ratio
        d["silence_ratio"] = self.silence_ratio
        return d


def recording_stats(turns: Sequence[Turn], duration: float, *, reco: Optional[str] = None) -> RecordingStats:
    """Statistics of one recording from its turns.

    Args:
        turns: the recording's turns, any order; all must share one ``reco``.
        duration: the recording's duration in seconds (> 0).
        reco: the recording id; taken from the turns when omitted (required with no turns).

    Raises:
        ValueError: turns of several recordings, a reco that differs from the turns', no turns
            and no reco, or a duration that is not finite and >= 0.
    """
    if not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be finite and >= 0, got {duration!r}")
    recos = {t.reco for t in turns}
    if len(recos) > 1:
        raise ValueError(f"turns of one recording expected, got {len(recos)}: {sorted(recos)[:5]}")
    if reco is None:
        if not recos:
            raise ValueError("no turns and no reco given: pass reco= for an empty recording")
        reco = next(iter(recos))
    elif recos and reco not in recos:
        raise ValueError(f"reco={reco!r} but the turns belong to {next(iter(recos))!r}")
    merged, _ = merge_same_speaker(turns) if turns else ([], [])
    prof = activity_profile([t.onset for t in merged], [t.end for t in merged], duration=duration)
    speech = float(prof[1:].sum())
    overlap = float(prof[2:].sum())
    return RecordingStats(
        reco=reco,
        duration=float(duration),
        speech=speech,
        overlap=overlap,
        silence=max(0.0, float(duration) - speech),
        num_speakers=len({t.speaker for t in merged}),
        num_turns=len(merged),
        turn_lengths=tuple(float(t.duration) for t in merged),
    )


@dataclass(frozen=True)
class SetStats:
    """Statistics of a set of recordings.

    Ratios are time-weighted (total overlap / total speech, total silence / total duration);
    ``overlap_ratio_min``/``_max`` are the extremes over recordings, which is what a per-recording
    target range is checked against. ``speaker_histogram`` is ``((num_speakers, count), ...)``
    sorted by speaker count; ``turn_length_percentiles`` is ``((p, seconds), ...)`` for
    :data:`PERCENTILES`. Turn-length figures are 0 when the set has no turns.
    """

    recordings: int
    hours: float
    speech_hours: float
    overlap_hours: float
    silence_hours: float
    overlap_ratio: float
    silence_ratio: float
    overlap_ratio_min: float
    overlap_ratio_max: float
    speakers_min: int
    speakers_mean: float
    speakers_max: int
    speaker_histogram: Tuple[Tuple[int, int], ...]
    num_turns: int
    turn_length_mean: float
    turn_length_median: float
    turn_length_percentiles: Tuple[Tuple[int, float], ...]

    def to_dict(self) -> Dict[str, object]:
        d = asdict(self)
        d["speaker_histogram"] = {str(k): v for k, v in self.speaker_histogram}
        d["turn_length_percentiles"] = {str(p): v for p, v in self.turn_length_percentiles}
        return d


def set_stats(per_reco: Iterable[RecordingStats]) -> SetStats:
    """Aggregate :class:`RecordingStats` of a set in one pass (a generator is fine: only the turn
    lengths are kept, as a float64 array, so a 20k-hour set fits in memory).

    Raises:
        ValueError: no recordings.
    """
    n = 0
    dur: List[float] = []
    speech: List[float] = []
    overlap: List[float] = []
    silence: List[float] = []
    counts: Dict[int, int] = {}
    lengths = array("d")
    ratio_min, ratio_max = math.inf, -math.inf
    for r in per_reco:
        n += 1
        dur.append(r.duration)
        speech.append(r.speech)
        overlap.append(r.overlap)
        silence.append(r.silence)
        counts[r.num_speakers] = counts.get(r.num_speakers, 0) + 1
        lengths.extend(r.turn_lengths)
        ratio_min = min(ratio_min, r.overlap_ratio)
        ratio_max = max(ratio_max, r.overlap_ratio)
    if n == 0:
        raise ValueError("set_stats needs at least one recording, got none")
    total, sp, ov, sil = (math.fsum(x) for x in (dur, speech, overlap, silence))
    tl = np.frombuffer(lengths, dtype=np.float64) if len(lengths) else np.zeros(0)
    if tl.size:
        pct = tuple((p, float(np.percentile(tl, p))) for p in PERCENTILES)
        mean, median = float(tl.mean()), float(np.median(tl))
    else:
        pct, mean, median = tuple((p, 0.0) for p in PERCENTILES), 0.0, 0.0
    return SetStats(
        recordings=n,
        hours=total / 3600,
        speech_hours=sp / 3600,
        overlap_hours=ov / 3600,
        silence_hours=sil / 3600,
        overlap_ratio=ov / sp if sp > 0 else 0.0,
        silence_ratio=sil / total if total > 0 else 0.0,
        overlap_ratio_min=ratio_min,
        overlap_ratio_max=ratio_max,
        speakers_min=min(counts),
        speakers_mean=sum(k * v for k, v in counts.items()) / n,
        speakers_max=max(counts),
        speaker_histogram=tuple(sorted(counts.items())),
        num_turns=int(tl.size),
        turn_length_mean=mean,
        turn_length_median=median,
        turn_length_percentiles=pct,
    )
