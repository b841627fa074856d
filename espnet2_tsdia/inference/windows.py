"""Overlapping windows over a long recording, and stitching their posteriors back together.

Softmax attention costs time quadratic in the sequence length, so softmax models run a long
recording as windows of ``window`` frames that overlap by ``overlap`` frames
(``eval_knobs.sliding_window`` and ``window_overlap``); ``eval_knobs.max_duration`` caps one
pass of any model the same way. Linear-attention models run the whole recording in one pass.

Placement (:func:`plan_windows`): windows start every ``window - overlap`` frames; the last one
is moved back so that it ends at the last frame, so every window has the same length (batches
need no padding) and the recording is covered exactly. A recording no longer than ``window``
is one window.

Stitching (:func:`stitch`): every frame's posterior is the plain average of the posteriors of
all windows that contain it (posteriors, not logits, are averaged). Averaging rather than
cropping each window to its centre keeps every computed frame and gives a smooth hand-over; a
window's edge frames see less context, which the overlap dilutes. A model whose output depends
only on local input therefore gives the same posteriors windowed and whole (to float rounding).
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np


def plan_windows(num_frames: int, window: Optional[int], overlap: int = 0) -> List[Tuple[int, int]]:
    """Frame spans ``[start, end)`` of the windows covering ``num_frames`` frames.

    Args:
        num_frames: T >= 0.
        window: frames per window; None = one window over everything.
        overlap: frames shared by consecutive windows, ``0 <= overlap < window``.

    Returns:
        Spans in order; ``[(0, T)]`` when ``window`` is None or ``T <= window``; ``[]`` when T == 0.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    if window is not None:
        if window < 1:
            raise ValueError(f"window must be >= 1 frame, got {window}")
        if not 0 <= overlap < window:
            raise ValueError(f"overlap must be in [0, window={window}), got {overlap}")
    if num_frames == 0:
        return []
    if window is None or num_frames <= window:
        return [(0, num_frames)]
    hop = window - overlap
    starts = list(range(0, num_frames - window, hop)) + [num_frames - window]
    return [(s, s + window) for s in starts]


def stitch(chunks: Sequence[np.ndarray], spans: Sequence[Tuple[int, int]], num_frames: int) -> np.ndarray:
    """Average window posteriors into one ``(num_frames, C)`` array.

    Args:
        chunks: per window, ``(end - start, C)`` posteriors.
        spans: the windows' ``[start, end)`` (from :func:`plan_windows`).
        num_frames: T.

    Raises:
        ValueError: mismatched counts or shapes, or a frame no window covers.
    """
    if len(chunks) != len(spans):
        raise ValueError(f"{len(chunks)} chunks for {len(spans)} windows")
    if num_frames == 0:
        width = chunks[0].shape[1] if chunks else 0
        return np.zeros((0, width), dtype=np.float32)
    if not chunks:
        raise ValueError(f"no window covers the {num_frames} frames")
    width = chunks[0].shape[1]
    total = np.zeros((num_frames, width), dtype=np.float64)
    count = np.zeros(num_frames, dtype=np.int64)
    for chunk, (start, end) in zip(chunks, spans, strict=True):
        if not 0 <= start < end <= num_frames or chunk.shape != (end - start, width):
            raise ValueError(
                f"chunk of shape {chunk.shape} does not fit window [{start}, {end}) of {num_frames} frames"
            )
        total[start:end] += chunk
        count[start:end] += 1
    if (count == 0).any():
        first = int(np.flatnonzero(count == 0)[0])
        raise ValueError(f"frame {first} is covered by no window")
    return (total / count[:, None]).astype(np.float32)
