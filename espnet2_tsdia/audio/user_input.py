"""Read a user's audio file for inference: any sample rate at or above the model's, one channel.

Policy (what the ``diarize`` command promises):

- **Sample rate**: any rate at or above the model's (8 kHz for the standard frontend) is
  resampled to it (``torchaudio.functional.resample``). A lower rate is refused: upsampling
  cannot restore the band the model was trained on, so the answer would be silently worse.
- **Channels**: a mono file is read as is (whatever ``channel`` says: one ``--channel`` serves a
  stereo recording and mono enrollment clips). A file with several channels needs a choice:
  ``channel=<index>`` (0-based) or ``channel="mean"`` (the average of all channels); without it
  the error says how to choose.
- **Empty or silent**: a file with no samples, shorter than one output frame, or with only
  digital silence (every sample 0) is refused where it would give a meaningless result
  (enrollment clips; a recording may be silent).

Every failure raises :class:`AudioInputError` whose message names the file and what to do.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

import numpy as np

PathLike = Union[str, Path]
Channel = Union[None, int, str]
logger = logging.getLogger(__name__)


class AudioInputError(ValueError):
    """An audio file that cannot be used as given; the message says why and what to do."""


def parse_channel(value: Optional[str]) -> Channel:
    """Command-line ``--channel`` value -> ``None`` (mono files only), an index, or ``"mean"``."""
    if value is None:
        return None
    if value == "mean":
        return "mean"
    try:
        index = int(value)
    except ValueError:
        raise AudioInputError(f"--channel must be a 0-based channel index or 'mean', got {value!r}") from None
    if index < 0:
        raise AudioInputError(f"--channel must be a 0-based channel index >= 0 or 'mean', got {index}")
    return index


def _select_channel(data: np.ndarray, channel: Channel, what: str) -> np.ndarray:
    n = data.shape[1]
    if n == 1:  # --channel picks among several channels; a mono file is read as it is
        return data[:, 0]
    if channel is None:
        raise AudioInputError(
            f"{what} has {n} channels; choose one with --channel 0..{n - 1}, or --channel mean to average them"
        )
    if channel == "mean":
        return data.mean(axis=1, dtype=np.float32)
    if not 0 <= channel < n:
        raise AudioInputError(f"{what} has {n} channels; --channel must be in 0..{n - 1} or 'mean', got {channel}")
    return data[:, channel]


def resample(x: np.ndarray, orig_fs: int, new_fs: int) -> np.ndarray:
    """Resample a 1-D float32 signal (identity when the rates are equal)."""
    if orig_fs == new_fs:
        return np.ascontiguousarray(x, dtype=np.float32)
    import torch
    import torchaudio.functional as AF

    y = AF.resample(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), orig_fs, new_fs)
    return y.numpy()


def load_audio(path: PathLike, *, fs: int, channel: Channel = None, what: Optional[str] = None) -> np.ndarray:
    """Read ``path`` as float32 mono at ``fs`` Hz (see the module policy).

    Args:
        path: any file libsndfile reads (wav, flac, ogg, ...).
        fs: the model's sample rate.
        channel: None (mono files only), a 0-based index, or ``"mean"``.
        what: how to name the file in messages (default: its path).

    Raises:
        AudioInputError: missing or unreadable file, a rate below ``fs``, an unresolved or
            wrong channel.
    """
    import soundfile

    what = what or str(path)
    p = Path(path)
    if not p.is_file():
        raise AudioInputError(f"{what}: no such file")
    try:
        info = soundfile.info(str(p))
    except Exception as e:  # libsndfile raises several types
        raise AudioInputError(f"{what}: not a readable audio file ({_one_line(e)})") from None
    if info.samplerate < fs:
        raise AudioInputError(
            f"{what}: sample rate {info.samplerate} Hz is below the model's {fs} Hz; "
            f"use a recording made at {fs} Hz or more (upsampling cannot restore the missing band)"
        )
    try:
        data, sr = soundfile.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioInputError(f"{what}: cannot decode the audio ({_one_line(e)})") from None
    x = _select_channel(data, channel, what)
    if sr != fs:
        logger.info("%s: resampling %d Hz -> %d Hz", what, sr, fs)
    return resample(x, sr, fs)


def check_enrollment_clip(x: np.ndarray, *, fs: int, frame_samples: int, what: str) -> np.ndarray:
    """Refuse an enrollment clip that is empty, shorter than one frame, or digital silence."""
    if x.size == 0:
        raise AudioInputError(f"{what}: the enrollment clip is empty (0 samples)")
    if x.size < frame_samples:
        raise AudioInputError(
            f"{what}: the enrollment clip lasts {x.size / fs:.3f} s; at least {frame_samples / fs:.3f} s "
            "(one frame) is needed, and 0.5 s or more works best"
        )
    if not np.any(x):
        raise AudioInputError(f"{what}: the enrollment clip is digital silence (every sample is 0)")
    return x


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
