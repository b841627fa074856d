"""Frame posteriors of one target speaker -> target activity -> RTTM turns.

The pipeline (:func:`target_activity`), in this order:

1. **Readout from the label scheme.** The scheme the model was trained with says which classes
   mean "the target talks": :func:`target_readout` asks the scheme's own ``target_activity``
   for every class (single-label schemes) or every one-hot column (multi-label schemes), so a
   registered custom scheme works without code here. ``powerset``: classes 1 and 3, the target
   probability is ``p(1) + p(3)``; ``binary``: class 1; ``speaker_id``: column 0 (sigmoid).
2. **Decision per frame.**
   - ``beam_width == 1``: frame-wise, ``target probability > threshold`` (with the default 0.5
     this is the argmax of "target" against "not target").
   - ``beam_width > 1``: the class sequence is decoded with a beam over class transitions
     (:func:`beam_decode`: log posteriors, minus ``transition_penalty`` at every class change,
     the best hypothesis per last class kept, then the best ``beam_width``); the target is
     active where the decoded class is a target class. ``threshold`` is not used then.
     Multi-label schemes decode the two states (not target, target).
3. **Median filter** of odd width (frames) on the 0/1 decisions (edges repeat the edge value).
4. **Minimum silence**: gaps shorter than ``min_silence`` seconds *between* two speech runs are
   filled (leading and trailing silence are kept).
5. **Minimum speech**: speech runs shorter than ``min_speech`` seconds are dropped.

Turns are then read with :func:`espnet2_tsdia.labels.activity.activity_to_turns` (one turn per
run of active frames, on the shared frame grid).

Durations in seconds become frames as ``round(seconds * frame_rate)``: a run of ``n`` frames
lasts ``n / frame_rate`` seconds and is kept when ``n >= round(min_speech * frame_rate)``.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from espnet2_tsdia.labels.activity import runs

logger = logging.getLogger(__name__)

#: floor of the posteriors before the log in beam decoding (a class with p = 0 stays reachable)
LOG_FLOOR = 1e-12


@dataclass(frozen=True)
class PostprocessOptions:
    """How posteriors become target activity (see the module docstring for the order).

    Args:
        threshold: frame-wise decision threshold on the target probability (beam_width 1).
        median_filter: odd width in frames of the median filter; 1 = off.
        min_speech: speech runs shorter than this (seconds) are dropped; 0 = off.
        min_silence: gaps between speech runs shorter than this (seconds) are filled; 0 = off.
        beam_width: 1 = frame-wise decision; > 1 = beam decoding of the class sequence.
        transition_penalty: log-score subtracted at every class change in beam decoding (>= 0;
            0 = free transitions, then beam decoding equals the frame-wise argmax).
    """

    threshold: float = 0.5
    median_filter: int = 1
    min_speech: float = 0.0
    min_silence: float = 0.0
    beam_width: int = 1
    transition_penalty: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.threshold) and 0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.median_filter < 1 or self.median_filter % 2 == 0:
            raise ValueError(f"median_filter must be an odd number of frames >= 1, got {self.median_filter}")
        for name in ("min_speech", "min_silence", "transition_penalty"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        if self.beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {self.beam_width}")


# ----------------------------------------------------------------------------- scheme readout
@dataclass(frozen=True)
class TargetReadout:
    """Which outputs of a model mean "the target talks", asked from its label scheme.

    Attributes:
        scheme: the label scheme name.
        num_classes: C, the model's outputs per frame.
        multi_label: sigmoid outputs (True) or a softmax over classes (False).
        target_classes: class ids (single-label) or columns (multi-label) where the target talks.
    """

    scheme: str
    num_classes: int
    multi_label: bool
    target_classes: Tuple[int, ...]


def target_readout(scheme: str, num_classes: int) -> TargetReadout:
    """Ask label scheme ``scheme`` which of ``num_classes`` outputs are target activity.

    Raises:
        ValueError: unknown scheme (the message lists the registered ones), a single-label scheme
            whose class count differs from ``num_classes``, or no output meaning the target.
    """
    from espnet2_tsdia.labels.schemes import get_scheme

    s = get_scheme(scheme)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if s.multi_label:
        probe = np.eye(num_classes, dtype=np.int8)  # row k: only column k active
    else:
        expected = s.num_classes(num_classes)
        if expected != num_classes:
            raise ValueError(
                f"label scheme {scheme!r} has {expected} classes but the model outputs {num_classes}; "
                "the scheme (eval_knobs.label_type) does not match the model"
            )
        probe = np.arange(num_classes)
    active = np.asarray(s.target_activity(probe), dtype=bool)
    classes = tuple(int(k) for k in np.flatnonzero(active))
    if not classes:
        raise ValueError(f"label scheme {scheme!r} marks none of its {num_classes} classes as target activity")
    return TargetReadout(scheme=scheme, num_classes=num_classes, multi_label=s.multi_label, target_classes=classes)


def posteriors_from_logits(logits, readout: TargetReadout):
    """(..., C) logits (torch) -> posteriors: softmax over classes, or sigmoid per column."""
    if logits.shape[-1] != readout.num_classes:
        raise ValueError(f"logits have {logits.shape[-1]} classes, the readout expects {readout.num_classes}")
    x = logits.float()
    return x.sigmoid() if readout.multi_label else x.softmax(-1)


def _check_posteriors(post: np.ndarray, readout: TargetReadout) -> np.ndarray:
    p = np.asarray(post, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != readout.num_classes:
        raise ValueError(f"posteriors must have shape (T, {readout.num_classes}), got {p.shape}")
    return p


def target_probability(post: np.ndarray, readout: TargetReadout) -> np.ndarray:
    """(T, C) posteriors -> (T,) probability that the target talks.

    Single-label: the sum over the target classes (powerset: ``p(1) + p(3)``). Multi-label: the
    target column (with several target columns, ``1 - prod(1 - p)``, i.e. independent columns).
    """
    p = _check_posteriors(post, readout)
    cols = list(readout.target_classes)
    if not readout.multi_label:
        return p[:, cols].sum(axis=1)
    if len(cols) == 1:
        return p[:, cols[0]]
    return 1.0 - np.prod(1.0 - p[:, cols], axis=1)


def decoding_states(post: np.ndarray, readout: TargetReadout) -> Tuple[np.ndarray, Tuple[int, ...]]:
    """The state posteriors beam decoding runs on and the states meaning "target talks".

    Single-label: the C classes themselves. Multi-label: two states ``[1 - p, p]`` of the target
    probability, state 1 active.
    """
    p = _check_posteriors(post, readout)
    if not readout.multi_label:
        return p, readout.target_classes
    q = target_probability(p, readout)
    return np.stack([1.0 - q, q], axis=1), (1,)


# ----------------------------------------------------------------------------- decoding
def beam_decode(state_post: np.ndarray, *, beam_width: int, transition_penalty: float = 0.0) -> np.ndarray:
    """Best class sequence under ``sum_t log p_t(c_t) - penalty * #{t: c_t != c_(t-1)}``.

    A beam over class transitions: at every frame each kept hypothesis is extended by every
    class, hypotheses ending in the same class are recombined (the best one stays), and the
    ``beam_width`` best are kept. With ``beam_width >= C`` this is exact (Viterbi). With
    ``beam_width == 1`` it is the frame-wise argmax (no transition cost is considered).

    Args:
        state_post: (T, C) posteriors (rows need not sum to 1; floored at ``LOG_FLOOR``).
        beam_width: >= 1.
        transition_penalty: >= 0.

    Returns:
        (T,) int64 class ids. Ties go to the lower class id.
    """
    p = np.asarray(state_post, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"state_post must have shape (T, C) with C >= 1, got {p.shape}")
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    if not (math.isfinite(transition_penalty) and transition_penalty >= 0):
        raise ValueError(f"transition_penalty must be a finite number >= 0, got {transition_penalty}")
    num_frames, num_states = p.shape
    if num_frames == 0:
        return np.zeros(0, dtype=np.int64)
    if beam_width == 1:
        return p.argmax(axis=1).astype(np.int64)
    logp = np.log(np.maximum(p, LOG_FLOOR))
    cost = transition_penalty * (1.0 - np.eye(num_states))  # cost[i, j]: from class i to class j
    keep = min(beam_width, num_states)
    back = np.zeros((num_frames, num_states), dtype=np.int64)
    score = _prune(logp[0].copy(), keep)
    for t in range(1, num_frames):
        cand = score[:, None] - cost  # (from, to)
        back[t] = cand.argmax(axis=0)
        score = _prune(cand[back[t], np.arange(num_states)] + logp[t], keep)
    path = np.empty(num_frames, dtype=np.int64)
    path[-1] = int(score.argmax())
    for t in range(num_frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _prune(score: np.ndarray, keep: int) -> np.ndarray:
    """Set all but the ``keep`` best entries to -inf (stable: ties keep the lower index)."""
    if keep >= score.size:
        return score
    order = np.argsort(-score, kind="stable")
    score[order[keep:]] = -np.inf
    return score


# ----------------------------------------------------------------------------- smoothing
def median_filter(active: np.ndarray, width: int) -> np.ndarray:
    """Median (majority vote) of 0/1 decisions over ``width`` frames centred on each frame.

    Edges repeat the first/last value. ``width`` must be odd; 1 returns a copy.
    """
    a = np.asarray(active, dtype=bool)
    if a.ndim != 1:
        raise ValueError(f"active must be 1-D, got shape {a.shape}")
    if width < 1 or width % 2 == 0:
        raise ValueError(f"width must be an odd number of frames >= 1, got {width}")
    if width == 1 or a.size == 0:
        return a.copy()
    half = width // 2
    padded = np.pad(a.astype(np.int32), half, mode="edge")
    counts = np.convolve(padded, np.ones(width, dtype=np.int32), mode="valid")
    return counts > half


def fill_short_gaps(active: np.ndarray, min_frames: int) -> np.ndarray:
    """Fill gaps shorter than ``min_frames`` that lie between two active runs."""
    a = np.asarray(active, dtype=bool).copy()
    if min_frames <= 0:
        return a
    spans = runs(a)
    for (_, prev_end), (next_start, _) in itertools.pairwise(spans):
        if next_start - prev_end < min_frames:
            a[prev_end:next_start] = True
    return a


def drop_short_runs(active: np.ndarray, min_frames: int) -> np.ndarray:
    """Clear active runs shorter than ``min_frames``."""
    a = np.asarray(active, dtype=bool).copy()
    if min_frames <= 0:
        return a
    for start, end in runs(a):
        if end - start < min_frames:
            a[start:end] = False
    return a


def seconds_to_frames(seconds: float, frame_rate: float) -> int:
    """``round(seconds * frame_rate)``: how many frames a duration option means."""
    return int(round(seconds * frame_rate))


def target_activity(
    post: np.ndarray,
    readout: TargetReadout,
    options: PostprocessOptions = PostprocessOptions(),
    *,
    frame_rate: float = 10.0,
) -> np.ndarray:
    """(T, C) posteriors of one target -> (T,) bool activity (the module docstring's pipeline)."""
    if not (math.isfinite(frame_rate) and frame_rate > 0):
        raise ValueError(f"frame_rate must be > 0, got {frame_rate}")
    if options.beam_width == 1:
        active = target_probability(post, readout) > options.threshold
    else:
        states, active_states = decoding_states(post, readout)
        path = beam_decode(states, beam_width=options.beam_width, transition_penalty=options.transition_penalty)
        active = np.isin(path, active_states)
    active = median_filter(active, options.median_filter)
    active = fill_short_gaps(active, seconds_to_frames(options.min_silence, frame_rate))
    return drop_short_runs(active, seconds_to_frames(options.min_speech, frame_rate))
