"""Read wav.scp entries as float32 mono at the feature sample rate, whole or by region.

A wav.scp value is a file path (anything libsndfile reads: wav, flac, ...) or a Kaldi pipe
``cmd ... |`` whose standard output is an audio file. Multi-channel audio gives one channel
(``channel``, default the first) or the mean of all (``channel=None``). Audio at another rate is
resampled with ``torchaudio.functional.resample``; a resampled signal of ``n`` samples at
``orig`` Hz has ``ceil(n * fs / orig)`` samples (:func:`resampled_num_samples`).

Regions ``[start, end)`` are in samples at the output rate. For files, only the region (plus a
margin for the resampling filter, aligned to the resampling period) is read: soundfile seeks, so
a 50 s chunk of a 1-hour recording costs 50 s of memory. The region equals the same samples of
the whole resampled file (to float rounding). Pipes are decoded whole, then cut.

Every failure names the wav.scp file, line and recording.
"""

from __future__ import annotations

import io
import logging
import math
import os
import subprocess
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple, Union

import numpy as np

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: Output samples of context kept on each side of a region before resampling (covers the
#: support of torchaudio's default sinc filter for any rate ratio up to 44.1 kHz -> 8 kHz).
RESAMPLE_MARGIN = 64


@dataclass(frozen=True)
class WavEntry:
    """One wav.scp line: ``key value`` from ``scp`` line ``line`` (for error messages)."""

    key: str
    value: str
    scp: str = "<wav.scp>"
    line: Optional[int] = None

    @property
    def is_pipe(self) -> bool:
        return self.value.rstrip().endswith("|")

    def error(self, message: str) -> DataFormatError:
        return DataFormatError(self.scp, self.line, f"recording {self.key!r} ({self.value!r}): {message}")


def read_wav_scp(path: PathLike) -> Dict[str, WavEntry]:
    """wav.scp -> ``key -> WavEntry`` (value = the rest of the line, pipes included)."""
    out: Dict[str, WavEntry] = {}
    for n, line in iter_lines(path):
        parts = line.strip().split(maxsplit=1)
        if len(parts) != 2:
            raise DataFormatError(path, n, f"expected '<recording> <path or command |>', got {line!r}")
        if parts[0] in out:
            raise DataFormatError(path, n, f"duplicate recording id {parts[0]!r}")
        out[parts[0]] = WavEntry(parts[0], parts[1], str(path), n)
    return out


def resampled_num_samples(num_samples: int, orig_sr: int, new_sr: int) -> int:
    """Length after resampling ``num_samples`` from ``orig_sr`` to ``new_sr``: ``ceil(n * new / orig)``."""
    return -(-num_samples * new_sr // orig_sr)


def _decode_pipe(entry: WavEntry) -> Tuple[np.ndarray, int]:
    cmd = entry.value.rstrip()[:-1]
    try:
        proc = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as e:  # pragma: no cover - shell missing
        raise entry.error(f"cannot run the pipe: {e}") from None
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise entry.error(f"pipe failed (exit {proc.returncode}): {err or 'no output'}")
    import soundfile

    try:
        data, sr = soundfile.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types
        raise entry.error(f"pipe output is not a readable audio file: {e}") from None
    return data, sr


def _check_file(entry: WavEntry) -> str:
    path = entry.value.strip()
    if not os.path.isfile(path):
        raise entry.error(f"audio file {path!r} does not exist")
    return path


def audio_info(entry: WavEntry) -> Tuple[int, int, int]:
    """(samples, sample rate, channels) of the audio as stored (pipes are decoded to find out)."""
    if entry.is_pipe:
        data, sr = _decode_pipe(entry)
        return data.shape[0], sr, data.shape[1]
    import soundfile

    path = _check_file(entry)
    try:
        info = soundfile.info(path)
    except Exception as e:
        raise entry.error(f"unreadable audio file: {e}") from None
    return info.frames, info.samplerate, info.channels


def num_samples_at(entry: WavEntry, fs: int) -> int:
    """Samples of the recording once read at ``fs`` (what :func:`read_audio` returns)."""
    n, sr, _ = audio_info(entry)
    return resampled_num_samples(n, sr, fs)


def _mono(data: np.ndarray, channel: Optional[int], entry: WavEntry) -> np.ndarray:
    if channel is None:
        return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not 0 <= channel < data.shape[1]:
        raise entry.error(f"channel {channel} requested, the audio has {data.shape[1]} channel(s)")
    return data[:, channel]


def _resample(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    if orig == new:
        return x
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(x)), orig, new).numpy()


def read_audio(
    entry: WavEntry,
    *,
    fs: int = 8000,
    start: int = 0,
    end: Optional[int] = None,
    channel: Optional[int] = 0,
) -> np.ndarray:
    """Samples ``[start, end)`` (at ``fs``) of a wav.scp entry as float32 mono in [-1, 1].

    Args:
        entry: the wav.scp entry.
        fs: output sample rate.
        start, end: region in output samples (``end=None``: to the end).
        channel: channel index for multi-channel audio, or None for the mean of all channels.

    Raises:
        DataFormatError: missing or unreadable file, failing pipe, bad channel, or a region
            outside the recording (never clipped silently).
    """
    import soundfile

    if entry.is_pipe:
        data, sr = _decode_pipe(entry)
        x = _resample(_mono(data, channel, entry), sr, fs)
        return _cut(x, start, end, len(x), entry)
    path = _check_file(entry)
    try:
        info = soundfile.info(path)
    except Exception as e:
        raise entry.error(f"unreadable audio file: {e}") from None
    sr, n_in = info.samplerate, info.frames
    total = resampled_num_samples(n_in, sr, fs)
    end = total if end is None else end
    if not 0 <= start <= end <= total:
        raise entry.error(f"region [{start}, {end}) outside the recording of {total} samples at {fs} Hz")
    if sr == fs:
        a, b, offset = start, end, start
    else:
        g = math.gcd(sr, fs)
        up, down = fs // g, sr // g  # output index m*up <-> input index m*down
        m0 = max(0, (start - RESAMPLE_MARGIN) // up)
        m1 = -(-(end + RESAMPLE_MARGIN) // up)
        a, b, offset = m0 * down, min(n_in, m1 * down), m0 * up
    try:
        data, _ = soundfile.read(path, start=a, stop=b, dtype="float32", always_2d=True)
    except Exception as e:
        raise entry.error(f"unreadable audio file: {e}") from None
    x = _resample(_mono(data, channel, entry), sr, fs)
    return np.ascontiguousarray(x[start - offset : end - offset], dtype=np.float32)


def _cut(x: np.ndarray, start: int, end: Optional[int], total: int, entry: WavEntry) -> np.ndarray:
    end = total if end is None else end
    if not 0 <= start <= end <= total:
        raise entry.error(f"region [{start}, {end}) outside the recording of {total} samples")
    return np.ascontiguousarray(x[start:end], dtype=np.float32)


class WavScpReader(Mapping):
    """wav.scp as a Mapping ``recording -> float32 waveform at fs``, plus region reads.

    Args:
        wav_scp: the wav.scp file.
        fs: output sample rate.
        channel: see :func:`read_audio`.
        pipe_cache: decoded pipe recordings kept in memory (pipes cannot seek; consecutive
            chunks of one recording then decode it once).
    """

    def __init__(self, wav_scp: PathLike, *, fs: int = 8000, channel: Optional[int] = 0, pipe_cache: int = 1):
        self.wav_scp = str(wav_scp)
        self.fs = fs
        self.channel = channel
        self.pipe_cache = pipe_cache
        self.entries = read_wav_scp(wav_scp)
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()
        return state

    def entry(self, key: str) -> WavEntry:
        try:
            return self.entries[key]
        except KeyError:
            raise KeyError(f"{self.wav_scp}: no recording {key!r}") from None

    def __getitem__(self, key: str) -> np.ndarray:
        return self.region(key, 0, None)

    def region(self, key: str, start: int, end: Optional[int]) -> np.ndarray:
        """Samples ``[start, end)`` of recording ``key`` at ``fs``."""
        entry = self.entry(key)
        if not entry.is_pipe or self.pipe_cache <= 0:
            return read_audio(entry, fs=self.fs, start=start, end=end, channel=self.channel)
        if key not in self._cache:
            self._cache[key] = read_audio(entry, fs=self.fs, channel=self.channel)
            while len(self._cache) > self.pipe_cache:
                self._cache.popitem(last=False)
        x = self._cache[key]
        return _cut(x, start, end, len(x), entry)

    def num_samples(self, key: str) -> int:
        return num_samples_at(self.entry(key), self.fs)

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)
