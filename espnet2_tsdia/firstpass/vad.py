"""Speech activity of a recording from its own energy, on the shared frame grid.

Why an energy detector: the first pass must run before any speaker is known, so the TS-DIA
model's own non-silence posterior (which needs an enrollment) is not available yet, and a trained
VAD would need labelled speech of the target domain. On the offline demo's test set this detector
misses 3.9 % of the reference speech frames and adds 0.6 % false alarm (the demo's RESULTS.md
gives the figures and how they were measured); the TS-DIA pass that follows decides speech per
target anyway, so the first pass only has to find where each speaker talks alone.

The rule (:func:`energy_vad`), per recording:

1. Log energy of every STFT hop (``grid.hop_length`` samples, 10 ms at 8 kHz):
   ``10 log10(mean(x^2) + 1e-10)`` dB.
2. Threshold between the noise floor (``floor_percentile`` of the hop energies) and the speech
   level (``peak_percentile``): ``floor + relative_threshold * (peak - floor)``, and at least
   ``min_margin_db`` above the floor. A recording whose speech level is not ``min_margin_db``
   above its floor has no speech.
3. An output frame (``grid.subsampling`` hops, 100 ms) is speech when at least
   ``active_ratio`` of its hops are above the threshold.
4. Gaps shorter than ``min_silence`` seconds between speech runs are filled, then speech runs
   shorter than ``min_speech`` seconds are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.labels.activity import runs


@dataclass(frozen=True)
class VadOptions:
    """Settings of :func:`energy_vad` (the module docstring gives the rule)."""

    floor_percentile: float = 10.0
    peak_percentile: float = 95.0
    relative_threshold: float = 0.3
    min_margin_db: float = 10.0
    active_ratio: float = 0.3
    min_speech: float = 0.2
    min_silence: float = 0.3

    def __post_init__(self):
        if not 0 <= self.floor_percentile < self.peak_percentile <= 100:
            raise ValueError(
                "need 0 <= floor_percentile < peak_percentile <= 100, got "
                f"{self.floor_percentile} and {self.peak_percentile}"
            )
        if not 0 < self.relative_threshold < 1:
            raise ValueError(f"relative_threshold must be in (0, 1), got {self.relative_threshold}")
        if not (math.isfinite(self.min_margin_db) and self.min_margin_db >= 0):
            raise ValueError(f"min_margin_db must be >= 0, got {self.min_margin_db}")
        if not 0 < self.active_ratio <= 1:
            raise ValueError(f"active_ratio must be in (0, 1], got {self.active_ratio}")
        for name in ("min_speech", "min_silence"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0 seconds, got {value}")


def fill_gaps(active: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill runs of False shorter than ``max_gap`` frames that lie between two True runs."""
    out = np.asarray(active, dtype=bool).copy()
    if max_gap <= 0:
        return out
    for a, b in runs(~out):
        if a > 0 and b < out.size and b - a < max_gap:
            out[a:b] = True
    return out


def drop_runs(active: np.ndarray, min_len: int) -> np.ndarray:
    """Clear runs of True shorter than ``min_len`` frames."""
    out = np.asarray(active, dtype=bool).copy()
    for a, b in runs(out):
        if b - a < min_len:
            out[a:b] = False
    return out


def hop_energies(waveform: np.ndarray, grid: FrameGrid) -> np.ndarray:
    """(T * subsampling,) log energies (dB) of the hops of the ``T = grid.num_frames`` frames."""
    x = np.asarray(waveform, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D waveform, got shape {x.shape}")
    num_hops = grid.num_frames(x.size) * grid.subsampling
    hops = x[: num_hops * grid.hop_length].reshape(num_hops, grid.hop_length)
    return 10.0 * np.log10(np.mean(hops**2, axis=1) + 1e-10)


def energy_vad(waveform: np.ndarray, grid: FrameGrid = FrameGrid(), options: VadOptions = VadOptions()) -> np.ndarray:
    """(L,) waveform at ``grid.fs`` -> (T,) bool speech frames, ``T = grid.num_frames(L)``."""
    energy = hop_energies(waveform, grid)
    num_frames = energy.size // grid.subsampling
    if num_frames == 0:
        return np.zeros(0, dtype=bool)
    floor, peak = np.percentile(energy, [options.floor_percentile, options.peak_percentile])
    if peak - floor < options.min_margin_db:
        return np.zeros(num_frames, dtype=bool)
    threshold = max(floor + options.min_margin_db, floor + options.relative_threshold * (peak - floor))
    loud = (energy > threshold).reshape(num_frames, grid.subsampling).mean(axis=1)
    speech = loud >= options.active_ratio
    frame_rate = 1.0 / grid.shift_seconds
    speech = fill_gaps(speech, int(round(options.min_silence * frame_rate)))
    return drop_runs(speech, int(round(options.min_speech * frame_rate)))
