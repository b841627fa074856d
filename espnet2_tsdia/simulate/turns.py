"""Turn-taking layouts and overlap-ratio control, vectorised per conversation.

A conversation is a set of utterances (speaker, length in ms). A turn model places them in time
(onsets in integer milliseconds); :func:`layout_conversation` then brings the conversation's
overlap ratio into the requested range:

1. the model's natural layout (knob ``theta = 0``) is kept when its overlap ratio is inside the
   range (``overlap_target="natural"``), or within a quarter of the range of a target drawn
   uniformly in it (``"uniform"``: the set's ratios then spread over the whole range);
2. otherwise ``theta`` is searched towards the target (bracketing,
   then bisection) with the *same* random draws: ``theta`` shortens pauses and lengthens
   overlaps as it grows, so the ratio rises with it (not strictly: it is a step function of
   millisecond gaps, so any ``theta`` whose ratio falls in the range is accepted);
3. when no ``theta`` in ``[-THETA_MAX, THETA_MAX]`` reaches the range, the caller redraws the
   conversation (``max_attempts``).

What ``theta`` changes:

- ``eend_beta``: every silence is ``sil_scale * exp(-theta) * e`` with ``e ~ Exp(1)`` (low
  targets therefore mean long silences, as in EEND where beta is the only knob);
- ``histogram``: at a speaker change, overlap probability ``sigmoid(logit(p) + theta)``; for
  ``theta > 0`` also overlaps ``* exp(theta)`` and pauses ``* exp(-theta)``; same-speaker pauses
  never change.

A speaker never overlaps themselves: EEND places each speaker's utterances one after the other;
the histogram model delays an utterance that would start before the end of its speaker's previous
one (the delay is added to the gap, so everything after it moves too). An overlap is never longer
than the previous utterance (an utterance never starts before the one it follows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from espnet2_tsdia.simulate.config import EendBetaModel, HistogramModel, TurnModel

THETA_MAX = 8.0
_BISECT_STEPS = 24


@dataclass(frozen=True)
class Layout:
    """Where each utterance of a conversation goes; arrays in placement order.

    Attributes:
        speaker: (U,) int local speaker index (0..n-1).
        slot: (U,) int the utterance's position in the caller's ``lengths`` array.
        onset_ms: (U,) int64.
        length_ms: (U,) int64.
        theta: the knob value used (0: the model's natural layout).
        target: the ratio aimed at (None when the natural layout was inside the range).
    """

    speaker: np.ndarray
    slot: np.ndarray
    onset_ms: np.ndarray
    length_ms: np.ndarray
    theta: float
    target: Optional[float]

    @property
    def end_ms(self) -> np.ndarray:
        return self.onset_ms + self.length_ms

    @property
    def duration_ms(self) -> int:
        return int(self.end_ms.max())


def overlap_ratio_ms(onset: np.ndarray, end: np.ndarray) -> Tuple[int, int]:
    """``(overlap_ms, speech_ms)`` of intervals that never overlap within one speaker.

    Exact integer event sweep: time with >= 2 intervals active, and with >= 1.
    """
    times = np.concatenate([onset, end])
    delta = np.concatenate([np.ones(onset.size, np.int64), -np.ones(end.size, np.int64)])
    order = np.lexsort((delta, times))
    times = times[order]
    count = np.cumsum(delta[order])[:-1]
    widths = np.diff(times)
    return int(widths[count >= 2].sum()), int(widths[count >= 1].sum())


def _ratios(onset: np.ndarray, length: np.ndarray) -> Tuple[float, float]:
    """(overlap ratio, silence ratio) of a layout that starts at 0."""
    end = onset + length
    ov, sp = overlap_ratio_ms(onset, end)
    dur = int(end.max())
    return (ov / sp if sp else 0.0), (1.0 - sp / dur if dur else 0.0)


# --------------------------------------------------------------------------- the two models
def _eend_layout(
    model: EendBetaModel, spk: np.ndarray, length: np.ndarray, rng: np.random.Generator
) -> Callable[[float], np.ndarray]:
    """``spk``/``length`` grouped by speaker (speaker-major). Returns theta -> onsets."""
    e = rng.standard_exponential(length.size)
    first = np.r_[True, spk[1:] != spk[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(spk.size), 0))

    def onsets(theta: float) -> np.ndarray:
        sil = np.rint(e * (model.sil_scale * np.exp(-theta) * 1000.0)).astype(np.int64)
        step = sil + length
        c = np.cumsum(step)
        before = np.r_[0, c[:-1]]  # cumulative sum before each element
        return before - before[group_start] + sil  # restart at each speaker

    return onsets


def _histogram_layout(
    model: HistogramModel, spk: np.ndarray, length: np.ndarray, rng: np.random.Generator
) -> Callable[[float], np.ndarray]:
    """``spk``/``length`` already in conversation order. Returns theta -> onsets."""
    u = length.size
    u_choice, u_same, u_pause, u_ov = rng.random((4, max(u - 1, 0)))
    same = spk[1:] == spk[:-1]
    pause_same = model.pause_same.quantile(u_same)
    pause_diff = model.pause_diff.quantile(u_pause)
    overlap = model.overlap.quantile(u_ov)
    p0 = min(max(model.p_overlap, 1e-4), 1 - 1e-4)
    logit = np.log(p0 / (1 - p0))
    # previous utterance of the same speaker (-1 if none), fixed for this order
    prev_same = np.full(u, -1, dtype=np.int64)
    last = {}
    for i, s in enumerate(spk.tolist()):
        prev_same[i] = last.get(s, -1)
        last[s] = i
    has_prev = prev_same >= 0
    prev_idx = prev_same[has_prev]

    def onsets(theta: float) -> np.ndarray:
        if u == 1:
            return np.zeros(1, dtype=np.int64)
        p = 1.0 / (1.0 + np.exp(-(logit + theta)))
        up = np.exp(max(theta, 0.0))
        is_ov = (~same) & (u_choice < p)
        gap_s = np.where(same, pause_same, np.where(is_ov, -overlap * up, pause_diff / up))
        gap = np.rint(gap_s * 1000.0).astype(np.int64)
        gap = np.maximum(gap, -length[:-1])  # never start before the previous utterance starts
        while True:
            on = np.r_[0, np.cumsum(length[:-1] + gap)]
            end = on + length
            viol = np.zeros(u, dtype=np.int64)
            viol[has_prev] = np.maximum(end[prev_idx] - on[has_prev], 0)
            if not viol.any():
                return on
            gap = gap + viol[1:]

    return onsets


def layout_conversation(
    model: TurnModel,
    lengths: Sequence[np.ndarray],
    overlap_range: Tuple[float, float],
    rng: np.random.Generator,
    *,
    max_silence_ratio: float = 1.0,
    overlap_target: str = "natural",
) -> Optional[Layout]:
    """Place the utterances of one conversation and bring its overlap ratio into ``overlap_range``.

    Args:
        model: the turn model.
        lengths: per speaker, the lengths (ms, int64) of its utterances in speaking order.
        overlap_range: ``(min, max)`` overlap ratio.
        rng: the conversation's generator (consumed: order, silences, target).
        max_silence_ratio: a layout with more silence than this is not accepted either (EEND's
            model reaches low overlap with many speakers only through long silences).
        overlap_target: ``natural``: keep the model's own layout when it is inside the range
            (only conversations outside are moved, towards a uniform target); ``uniform``: move
            every conversation towards a target drawn uniformly in the range (accepting the
            natural layout only when it is already within a quarter of the range of it), so
            that the set's ratios spread over the whole range.

    Returns:
        The layout, or None when no knob value reaches the range with these draws (redraw).
    """
    lo, hi = overlap_range
    spk, slot, length, onsets = _arrange(model, lengths, rng)
    target = float(rng.uniform(lo, hi))
    on0 = onsets(0.0)
    r0, s0 = _ratios(on0, length)
    tol = (hi - lo) / 4
    if lo <= r0 <= hi and s0 <= max_silence_ratio and (overlap_target == "natural" or abs(r0 - target) <= tol):
        return _layout(spk, slot, length, on0, 0.0, None)
    found = _search_theta(onsets, length, r0, target, overlap_range, max_silence_ratio, tol)
    if found is None:
        return None
    theta, on = found
    return _layout(spk, slot, length, on, theta, target)


def _arrange(
    model: TurnModel, lengths: Sequence[np.ndarray], rng: np.random.Generator
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[float], np.ndarray]]:
    """(speaker, slot within the speaker, length, theta -> onsets) of every utterance, in the
    model's conversation order (the histogram model shuffles; EEND keeps speakers in turn)."""
    spk = np.concatenate([np.full(len(x), i, dtype=np.int64) for i, x in enumerate(lengths)])
    slot = np.arange(spk.size)
    length = np.concatenate([np.asarray(x, dtype=np.int64) for x in lengths])
    if isinstance(model, EendBetaModel):
        return spk, slot, length, _eend_layout(model, spk, length, rng)
    if isinstance(model, HistogramModel):
        order = rng.permutation(spk.size)
        spk, slot, length = spk[order], slot[order], length[order]
        return spk, slot, length, _histogram_layout(model, spk, length, rng)
    raise TypeError(f"unknown turn model {model!r}")  # pragma: no cover - config validation prevents it


def _layout(
    spk: np.ndarray, slot: np.ndarray, length: np.ndarray, on: np.ndarray, theta: float, target: Optional[float]
) -> Layout:
    order = np.lexsort((spk, on))  # placement order: by onset, then speaker
    return Layout(
        speaker=spk[order], slot=slot[order], onset_ms=on[order], length_ms=length[order], theta=theta, target=target
    )


def _search_theta(
    onsets: Callable[[float], np.ndarray],
    length: np.ndarray,
    r0: float,
    target: float,
    overlap_range: Tuple[float, float],
    max_silence_ratio: float,
    tol: float,
) -> Optional[Tuple[float, np.ndarray]]:
    """The knob value moving the overlap ratio towards ``target``: bracket it by doubling
    steps away from 0, then bisect until a layout within ``tol`` of the target is found.
    Returns (theta, onsets) of the in-range layout closest to the target, or None."""
    lo, hi = overlap_range
    best: Optional[Tuple[float, float, np.ndarray]] = None  # (|r - target|, theta, onsets)

    def evaluate(theta: float) -> float:
        nonlocal best
        on = onsets(theta)
        r, sil = _ratios(on, length)
        if lo <= r <= hi and sil <= max_silence_ratio and (best is None or abs(r - target) < best[0]):
            best = (abs(r - target), theta, on)
        return r

    a, b = _bracket(evaluate, r0, target)
    if a is not None and b is not None:
        for _ in range(_BISECT_STEPS):
            if best is not None and best[0] <= tol:
                break
            m = (a + b) / 2
            if evaluate(m) < target:
                a = m
            else:
                b = m
    return None if best is None else (best[1], best[2])


def _bracket(evaluate: Callable[[float], float], r0: float, target: float) -> Tuple[Optional[float], Optional[float]]:
    """[a, b] with r(a) < target <= r(b) (r(0) = ``r0``), stepping theta 0.5, 1, 2, ... away
    from 0 up to THETA_MAX; the side not reached is None."""
    if r0 < target:
        a, b, step = 0.0, None, 0.5
        while step <= THETA_MAX:
            if evaluate(step) >= target:
                b = step
                break
            a, step = step, step * 2
    else:
        a, b, step = None, 0.0, -0.5
        while step >= -THETA_MAX:
            if evaluate(step) < target:
                a = step
                break
            b, step = step, step * 2
    return a, b
