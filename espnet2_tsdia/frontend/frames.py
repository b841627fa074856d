"""Frame arithmetic shared by the frontend, the labels, the data loaders and inference.

The frame grid (defaults: the standard 8 kHz, hop 80 samples, subsampling 10):

- The output frame shift is ``S = hop_length * subsampling`` samples (800 samples = 0.1 s).
- Frame ``t`` covers the samples ``[t * S, (t + 1) * S)``, i.e. the seconds
  ``[t * S / fs, (t + 1) * S / fs)``; its centre is sample ``t * S + S / 2``.
- A signal of ``N`` samples has ``T = floor(N / S)`` frames. The trailing ``N - T * S`` samples
  (less than one frame) belong to no frame: the frontend, the labels and inference all drop them,
  because they all call :func:`num_frames`.
- Labels: a speaker is active in frame ``t`` when one of the speaker's turns covers the frame
  centre (``onset <= centre < end``). Rasterising and reading back moves every turn boundary to
  the nearest frame boundary, so the round trip is exact to within half a frame (0.05 s), and a
  turn that covers no frame centre (shorter than one frame) disappears.

Times are turned into sample indices (``round(seconds * fs)``) before any frame arithmetic, so
boundaries that fall exactly on a frame centre are decided without floating-point error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

import numpy as np


def frame_shift_samples(*, hop_length: int = 80, subsampling: int = 10) -> int:
    """Samples per output frame: ``hop_length * subsampling`` (800 by default)."""
    if hop_length <= 0 or subsampling <= 0:
        raise ValueError(
            f"hop_length and subsampling must be > 0, got hop_length={hop_length} subsampling={subsampling}"
        )
    return hop_length * subsampling


def num_frames(num_samples, *, hop_length: int = 80, subsampling: int = 10):
    """Output frames for ``num_samples`` samples: ``floor(num_samples / (hop_length * subsampling))``.

    Args:
        num_samples: an int, a numpy integer array or a torch integer tensor (e.g. the (B,)
            ``speech_lengths`` of a batch); the result has the same kind.

    Raises:
        ValueError: a negative int count.

    Example: 8 kHz, N seconds -> ``num_frames(8000 * N) == 10 * N``; 7999 samples -> 9 frames.
    """
    shift = frame_shift_samples(hop_length=hop_length, subsampling=subsampling)
    if isinstance(num_samples, (int, np.integer)):
        if num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {num_samples}")
        return int(num_samples) // shift
    if isinstance(num_samples, np.ndarray):
        return np.floor_divide(num_samples, shift)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(num_samples, torch.Tensor):
        return torch.div(num_samples, shift, rounding_mode="floor")
    raise TypeError(f"num_samples must be an int, numpy array or torch tensor, got {type(num_samples).__name__}")


def frames_to_seconds(
    frames: Union[int, float], *, fs: int = 8000, hop_length: int = 80, subsampling: int = 10
) -> float:
    """Start time in seconds of frame ``frames`` (equivalently the end time of frame ``frames - 1``)."""
    return frames * frame_shift_samples(hop_length=hop_length, subsampling=subsampling) / fs


def seconds_to_samples(seconds: float, *, fs: int = 8000) -> int:
    """The sample index nearest to ``seconds`` (RTTM times have 1 ms resolution: exact at 8 kHz)."""
    return int(round(seconds * fs))


def seconds_to_frame(seconds: float, *, fs: int = 8000, hop_length: int = 80, subsampling: int = 10) -> int:
    """The frame containing time ``seconds``: ``floor(round(seconds * fs) / S)``."""
    shift = frame_shift_samples(hop_length=hop_length, subsampling=subsampling)
    return seconds_to_samples(seconds, fs=fs) // shift


def active_frame_range(
    onset: float, end: float, *, fs: int = 8000, hop_length: int = 80, subsampling: int = 10
) -> Tuple[int, int]:
    """Frames ``[first, stop)`` whose centre lies in the turn ``[onset, end)`` (seconds).

    Not clipped to the recording: ``first`` is >= 0 for ``onset >= 0``, ``stop`` may exceed the
    recording's frame count. Empty (``first == stop``) when the turn covers no frame centre.
    """
    shift = frame_shift_samples(hop_length=hop_length, subsampling=subsampling)
    a, b = seconds_to_samples(onset, fs=fs), seconds_to_samples(end, fs=fs)
    # centre of frame t in half samples: 2 t S + S. Active iff 2a <= 2tS + S < 2b.
    first = -((shift - 2 * a) // (2 * shift))  # ceil((2a - S) / 2S)
    stop = -((shift - 2 * b) // (2 * shift))  # ceil((2b - S) / 2S)
    first = max(first, 0)
    return first, max(first, stop)


@dataclass(frozen=True)
class FrameGrid:
    """The frame grid as one value (for option dataclasses): the same arithmetic as the functions.

    Args:
        fs: sample rate of the signal the frames are counted on.
        hop_length: STFT hop in samples.
        subsampling: STFT frames per output frame.
    """

    fs: int = 8000
    hop_length: int = 80
    subsampling: int = 10

    def __post_init__(self):
        if self.fs <= 0:
            raise ValueError(f"fs must be > 0, got {self.fs}")
        frame_shift_samples(hop_length=self.hop_length, subsampling=self.subsampling)

    @property
    def shift(self) -> int:
        """Samples per output frame."""
        return self.hop_length * self.subsampling

    @property
    def shift_seconds(self) -> float:
        return self.shift / self.fs

    def num_frames(self, num_samples):
        return num_frames(num_samples, hop_length=self.hop_length, subsampling=self.subsampling)

    def frames_to_seconds(self, frames: Union[int, float]) -> float:
        return frames_to_seconds(frames, fs=self.fs, hop_length=self.hop_length, subsampling=self.subsampling)

    def seconds_to_frame(self, seconds: float) -> int:
        return seconds_to_frame(seconds, fs=self.fs, hop_length=self.hop_length, subsampling=self.subsampling)

    def active_frame_range(self, onset: float, end: float) -> Tuple[int, int]:
        return active_frame_range(onset, end, fs=self.fs, hop_length=self.hop_length, subsampling=self.subsampling)

    def frame_to_samples(self, frame: int) -> int:
        """First sample of frame ``frame``."""
        return frame * self.shift
