"""Diagnostic pictures: a reference/hypothesis timeline with the errors shaded, and the posteriors
of one target speaker.

Drawn with matplotlib's object API (``matplotlib.figure.Figure``, Agg canvas): no display, no
pyplot state shared between calls. Figures are saved without ``bbox_inches="tight"`` so the PNG
has exactly the size asked for.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from espnet2_tsdia.formats.kaldi import c_sort_key
from espnet2_tsdia.formats.rttm import Turn, merge_same_speaker

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: colours of the error kinds (shading and their lanes), reference and hypothesis bars
COLORS: Dict[str, str] = {
    "miss": "#d62728",
    "false_alarm": "#ff7f0e",
    "confusion": "#9467bd",
    "ref": "#1f77b4",
    "hyp": "#2ca02c",
}
ERROR_LABELS: Dict[str, str] = {"miss": "miss", "false_alarm": "false alarm", "confusion": "confusion"}

#: timeline height in pixels: a fixed part plus one lane per row
TIMELINE_BASE_PX = 100
TIMELINE_ROW_PX = 30
DPI = 100


def timeline_height_px(num_rows: int) -> int:
    """Pixel height of a timeline with ``num_rows`` rows (error lanes included)."""
    return TIMELINE_BASE_PX + TIMELINE_ROW_PX * num_rows


def timeline_rows(
    ref_turns: Sequence[Turn], hyp_turns: Sequence[Turn], mapping: Dict[str, str]
) -> List[Tuple[str, str, str]]:
    """Speaker rows, top to bottom, as ``(label, side, speaker)``.

    Each reference speaker (C-locale order) is followed by the hypothesis speaker mapped to it,
    so that matching rows sit together; unmapped hypothesis speakers come last.
    """
    inverse = {r: h for h, r in mapping.items()}
    rows: List[Tuple[str, str, str]] = []
    for spk in sorted({t.speaker for t in ref_turns}, key=c_sort_key):
        rows.append((f"ref {spk}", "ref", spk))
        if spk in inverse:
            rows.append((f"hyp {inverse[spk]} -> {spk}", "hyp", inverse[spk]))
    for spk in sorted({t.speaker for t in hyp_turns} - set(mapping), key=c_sort_key):
        rows.append((f"hyp {spk} (unmapped)", "hyp", spk))
    return rows


def _save(fig, out_png: PathLike) -> None:
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, format="png")


def plot_timeline(
    ref_turns: Sequence[Turn],
    hyp_turns: Sequence[Turn],
    out_png: PathLike,
    *,
    reco: str,
    start: Optional[float] = None,
    end: Optional[float] = None,
    width_px: int = 1600,
) -> Dict[str, str]:
    """Draw reference and hypothesis speakers of recording ``reco`` with miss, false alarm and
    confusion shaded (three error lanes on top, and light shading across all rows).

    Hypothesis speakers are mapped to reference speakers with the DER-optimal mapping (no
    collar, whole recording), so each reference row has its hypothesis row right below.

    Args:
        ref_turns / hyp_turns: turns of any recordings; only ``reco``'s are drawn.
        out_png: the PNG to write, ``width_px`` x :func:`timeline_height_px` (rows) pixels.
        reco: the recording.
        start / end: the time window in seconds (default: 0 to the last turn end).
        width_px: picture width in pixels.

    Returns:
        The mapping used (hypothesis speaker -> reference speaker).

    Raises:
        ValueError: ``reco`` has no turn in either annotation; an empty window; width_px < 200.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from espnet2_tsdia.scoring.der import optimal_mapping
    from espnet2_tsdia.scoring.regions import error_regions

    ref = merge_same_speaker([t for t in ref_turns if t.reco == reco])[0]
    hyp = merge_same_speaker([t for t in hyp_turns if t.reco == reco])[0]
    if not ref and not hyp:
        known = sorted({t.reco for t in ref_turns} | {t.reco for t in hyp_turns}, key=c_sort_key)
        raise ValueError(f"recording {reco!r} has no turn in the reference or the hypothesis; known: {known[:10]}")
    if width_px < 200:
        raise ValueError(f"width_px must be >= 200, got {width_px}")
    t0 = 0.0 if start is None else float(start)
    t1 = max(t.end for t in ref + hyp) if end is None else float(end)
    if not (math.isfinite(t0) and math.isfinite(t1) and t1 > t0):
        raise ValueError(f"the window must satisfy start < end, got start={start} end={end}")

    mapping = optimal_mapping(ref, hyp)
    regions = error_regions(ref, hyp, mapping=mapping)
    rows = timeline_rows(ref, hyp, mapping)
    lanes = [(ERROR_LABELS[k], k) for k in ("miss", "false_alarm", "confusion")]
    n_rows = len(lanes) + len(rows)

    fig = Figure(figsize=(width_px / DPI, timeline_height_px(n_rows) / DPI), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    y_labels: List[str] = []
    y = n_rows - 1  # first row at the top
    for label, kind in lanes:
        iv = getattr(regions, kind)
        ax.broken_barh([(s, e - s) for s, e, _ in iv], (y - 0.4, 0.8), color=COLORS[kind])
        for s, e, _ in iv:
            ax.axvspan(s, e, color=COLORS[kind], alpha=0.12, linewidth=0)
        y_labels.append(label)
        y -= 1
    by_side = {"ref": ref, "hyp": hyp}
    for label, side, spk in rows:
        bars = [(t.onset, t.duration) for t in by_side[side] if t.speaker == spk]
        ax.broken_barh(bars, (y - 0.35, 0.7), color=COLORS[side])
        y_labels.append(label)
        y -= 1
    ax.set_yticks(list(range(n_rows - 1, -1, -1)), y_labels)
    ax.set_ylim(-0.6, n_rows - 0.4)
    ax.set_xlim(t0, t1)
    ax.set_xlabel("time (s)")
    ax.set_title(f"{reco}: reference vs hypothesis")
    ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color=COLORS["ref"], label="reference"), Patch(color=COLORS["hyp"], label="hypothesis")]
    handles += [Patch(color=COLORS[k], label=lab) for lab, k in lanes]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    _save(fig, out_png)
    return mapping


def active_runs(mask) -> List[Tuple[int, int]]:
    """Runs of True in a 1-D boolean mask as ``(first, last + 1)`` frame indices."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 1:
        raise ValueError(f"mask must be 1-D, got shape {m.shape}")
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def plot_posteriors(
    posteriors,
    out_png: PathLike,
    *,
    frame_rate: float = 10.0,
    class_names: Optional[Sequence[str]] = None,
    ref_activity=None,
    threshold: Optional[float] = None,
    title: Optional[str] = None,
    width_px: int = 1600,
    height_px: int = 400,
) -> None:
    """Plot the frame posteriors of one target speaker against time.

    Args:
        posteriors: ``(T, C)`` class posteriors or ``(T,)`` target activity (numpy or torch).
        out_png: the PNG to write, ``width_px`` x ``height_px`` pixels.
        frame_rate: frames per second (10 in the standard setup); frame t covers
            ``[t / frame_rate, (t + 1) / frame_rate)``.
        class_names: C names for the legend (default ``class 0`` ...; ``target`` for ``(T,)``).
        ref_activity: optional ``(T,)`` reference activity of the target (0/1), shaded grey.
        threshold: optional decision threshold, drawn as a dashed line.
        title: figure title.

    Raises:
        ValueError: wrong dimensions, T == 0, non-finite values, ``ref_activity`` of another
            length than T, ``class_names`` of another length than C, frame_rate <= 0.
    """
    from matplotlib.figure import Figure

    p = _as_numpy(posteriors)
    if p.ndim == 1:
        p = p[:, None]
        default_names = ["target"]
    elif p.ndim == 2:
        default_names = [f"class {c}" for c in range(p.shape[1])]
    else:
        raise ValueError(f"posteriors must be (T, C) or (T,), got shape {p.shape}")
    num_frames, num_classes = p.shape
    if num_frames == 0 or num_classes == 0:
        raise ValueError(f"posteriors are empty: shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("posteriors contain NaN or infinite values")
    if not (math.isfinite(frame_rate) and frame_rate > 0):
        raise ValueError(f"frame_rate must be > 0 frames per second, got {frame_rate}")
    names = list(class_names) if class_names is not None else default_names
    if len(names) != num_classes:
        raise ValueError(f"class_names has {len(names)} names for {num_classes} classes: {names}")
    ref = None
    if ref_activity is not None:
        ref = _as_numpy(ref_activity)
        if ref.shape != (num_frames,):
            raise ValueError(f"ref_activity must have shape ({num_frames},) like the posteriors, got {ref.shape}")
    if width_px < 200 or height_px < 150:
        raise ValueError(f"the picture must be at least 200 x 150 pixels, got {width_px} x {height_px}")

    times = np.arange(num_frames + 1) / frame_rate
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    if ref is not None:
        for i, (a, b) in enumerate(active_runs(ref > 0.5)):
            ax.axvspan(times[a], times[b], color="0.85", linewidth=0, label="reference activity" if i == 0 else None)
    for c, name in enumerate(names):
        ax.step(times, np.append(p[:, c], p[-1, c]), where="post", label=name, linewidth=1.0)
    if threshold is not None:
        ax.axhline(threshold, color="k", linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")
    if p.min() >= 0.0 and p.max() <= 1.0:
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, times[-1])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("posterior")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    _save(fig, out_png)
