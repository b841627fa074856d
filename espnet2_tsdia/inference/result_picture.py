"""The picture of a diarization without a reference (``diarize --plot``): who talks when, and how sure.

Top panel: one row per enrolled speaker with a bar per turn found. Bottom panel: each
speaker's probability of talking per frame, with the decision threshold. Unlike
:func:`espnet2_tsdia.inference.plots.plot_timeline`, nothing is scored (there is no
reference), so nothing is drawn as an error. matplotlib's object API (no pyplot state); the
PNG has exactly ``width_px`` x ``height`` pixels (see :func:`picture_height_px`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from espnet2_tsdia.formats.rttm import Turn

PathLike = Union[str, Path]
DPI = 100
BASE_PX = 260
ROW_PX = 28


def picture_height_px(num_speakers: int) -> int:
    """Pixel height for ``num_speakers`` rows (fixed part for the probability panel and margins)."""
    return BASE_PX + ROW_PX * num_speakers


def plot_result(
    turns: Sequence[Turn],
    out_png: PathLike,
    *,
    reco: str,
    duration: float,
    speakers: Sequence[str],
    probabilities: Optional[Mapping[str, np.ndarray]] = None,
    frame_rate: float = 10.0,
    threshold: Optional[float] = None,
    width_px: int = 1600,
) -> None:
    """Draw the turns of ``speakers`` in ``reco`` and, if given, their (T,) probabilities.

    Raises:
        ValueError: no speaker, duration <= 0, a turn of another speaker, or probabilities of
            different lengths.
    """
    from matplotlib.figure import Figure

    if not speakers:
        raise ValueError("no speaker to draw")
    if not duration > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration}")
    unknown = sorted({t.speaker for t in turns if t.reco == reco} - set(speakers))
    if unknown:
        raise ValueError(f"turns of speakers not in {list(speakers)}: {unknown}")
    probs = dict(probabilities or {})
    lengths = {np.asarray(p).shape for p in probs.values()}
    if len(lengths) > 1:
        raise ValueError(f"probabilities of different shapes: {sorted(lengths)}")

    fig = Figure(figsize=(width_px / DPI, picture_height_px(len(speakers)) / DPI), dpi=DPI, layout="constrained")
    rows = len(speakers)
    grid = fig.add_gridspec(2, 1, height_ratios=[max(rows, 1) * ROW_PX + 40, 180])
    ax = fig.add_subplot(grid[0])
    colors = [f"C{i % 10}" for i in range(rows)]
    for i, spk in enumerate(speakers):
        y = rows - 1 - i
        bars = [(t.onset, t.duration) for t in turns if t.reco == reco and t.speaker == spk]
        ax.broken_barh(bars, (y - 0.35, 0.7), color=colors[i])
    ax.set_yticks(list(range(rows - 1, -1, -1)), list(speakers))
    ax.set_ylim(-0.6, rows - 0.4)
    ax.set_xlim(0, duration)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{reco}: who talks when")
    low = fig.add_subplot(grid[1], sharex=ax)
    for i, spk in enumerate(speakers):
        if spk in probs:
            p = np.asarray(probs[spk], dtype=np.float64)
            times = np.arange(p.size + 1) / frame_rate
            if p.size:
                low.step(times, np.append(p, p[-1]), where="post", color=colors[i], linewidth=1.0, label=spk)
    if threshold is not None:
        low.axhline(threshold, color="k", linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")
    low.set_ylim(-0.02, 1.02)
    low.set_xlabel("time (s)")
    low.set_ylabel("P(talks)")
    if probs or threshold is not None:
        low.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, format="png")
