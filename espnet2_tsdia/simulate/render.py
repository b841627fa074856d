"""Render mixtures from their specs, bit-identically on every call.

:func:`render_mixture` builds the waveform of a :class:`MixtureSpec`; :class:`MixtureReader` is a
read-only mapping from recording id to waveform over a spec file (``specs.jsonl``) or its index
(``mixture.scp``): the ESPnet data type ``tsdia_mixture`` is this class.

Determinism (same bytes on every render, in any process):

- source regions are read with soundfile as float32 (``sf.read(start=, stop=)``: a region read,
  never the whole file), channel 0 of multi-channel files;
- resampling uses :func:`scipy.signal.resample_poly` (a fixed Kaiser-windowed polyphase FIR,
  single-threaded C code) in float64 with ``up/down = fs/file_fs`` reduced by their gcd; it is
  not the sox/torchaudio resampler, so materialised audio differs from a sox render by the filter;
- reverberation: :func:`scipy.signal.fftconvolve` in float64 with the RIR's strongest tap moved to
  time 0 (as Kaldi's ``wav-reverberate --shift-output``) and cut to the utterance length, so the
  labels keep their place;
- utterances are added into a float32 buffer in spec order (onset, then speaker), each multiplied
  by its float32 gain first;
- noise: white noise is ``default_rng(seed).standard_normal(n, float32)``; file noise is tiled from
  its stored offset; the SNR is over the whole mixture (mean powers in float64, as EEND does).
"""

from __future__ import annotations

import collections.abc
import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, Optional, Union

import numpy as np

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.simulate.spec import AudioRegion, MixtureSpec, SpecTables, index_spec_file, read_record

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)


def check_fs(fs: int) -> int:
    if isinstance(fs, bool) or not isinstance(fs, (int, np.integer)) or fs <= 0 or fs % 1000:
        raise ValueError(f"fs must be a positive multiple of 1000 Hz (mixture boundaries are in ms), got {fs!r}")
    return int(fs)


def resample(x: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """Deterministic polyphase resampling to ``fs_out``; float32 out, ``ceil(n * fs_out / fs_in)`` samples."""
    if fs_in == fs_out:
        return np.asarray(x, dtype=np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(fs_in, fs_out)
    return resample_poly(np.asarray(x, dtype=np.float64), fs_out // g, fs_in // g).astype(np.float32)


def read_region(region: AudioRegion) -> np.ndarray:
    """Channel 0 of ``region`` as float32 at the file's own rate."""
    import soundfile as sf

    try:
        x = sf.read(region.path, start=region.start, stop=region.stop, dtype="float32", always_2d=True)[0]
    except (RuntimeError, OSError) as e:
        raise FileNotFoundError(f"cannot read source audio {region.path} [{region.start}:{region.stop}]: {e}") from None
    if x.shape[0] != region.stop - region.start:
        raise DataFormatError(
            region.path, None, f"expected {region.stop - region.start} samples from {region.start}, read {x.shape[0]}"
        )
    return np.ascontiguousarray(x[:, 0])


@lru_cache(maxsize=64)
def _whole_file(path: str, fs_file: int, fs: int) -> np.ndarray:
    """A noise or RIR file resampled to ``fs`` (cached: the same few files serve every mixture)."""
    import soundfile as sf

    x = sf.read(path, dtype="float32", always_2d=True)[0][:, 0]
    out = resample(x, fs_file, fs)
    out.setflags(write=False)
    return out


def _reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    from scipy.signal import fftconvolve

    shift = int(np.argmax(np.abs(rir)))
    y = fftconvolve(x.astype(np.float64), rir.astype(np.float64))
    return y[shift : shift + x.size].astype(np.float32)


def render_mixture(spec: MixtureSpec, *, fs: int = 8000) -> np.ndarray:
    """The mixture's waveform, float32, ``duration_ms * fs / 1000`` samples, mono.

    Bit-identical on every call for the same spec, fs and source files (see the module doc).

    Raises:
        ValueError: fs not a multiple of 1000 Hz.
        FileNotFoundError: a source, noise or RIR file cannot be read.
    """
    fs = check_fs(fs)
    spm = fs // 1000
    out = np.zeros(spec.duration_ms * spm, dtype=np.float32)
    spk_index = {s: i for i, s in enumerate(spec.speakers)}
    for p in spec.placements:
        n = p.length_ms * spm
        x = resample(read_region(p.audio), p.audio.fs, fs)[:n]
        if x.size < n:  # cannot happen for tables built by sources.py; guards hand-made specs
            raise DataFormatError(
                p.audio.path, None, f"{p.utt}: {p.length_ms} ms placed but only {x.size / fs:.4f} s of audio"
            )
        if spec.rirs:
            rir = spec.rirs[spk_index[p.speaker]]
            if rir is not None:
                x = _reverberate(x, _whole_file(rir.path, rir.fs, fs))
        a = p.onset_ms * spm
        out[a : a + n] += x * np.float32(10.0 ** (p.gain_db / 20.0))
    if spec.noise is not None:
        p_speech = float(np.mean(out.astype(np.float64) ** 2)) if out.size else 0.0
        if p_speech > 0:
            if spec.noise.audio is None:
                noise = np.random.default_rng(spec.seed).standard_normal(out.size, dtype=np.float32)
            else:
                src = _whole_file(spec.noise.audio.path, spec.noise.audio.fs, fs)
                start = spec.noise.offset * fs // spec.noise.audio.fs
                noise = src[(start + np.arange(out.size)) % src.size]
            p_noise = float(np.mean(noise.astype(np.float64) ** 2))
            if p_noise > 0:
                scale = math.sqrt(p_speech / (p_noise * 10.0 ** (spec.noise.snr_db / 10.0)))
                out += noise * np.float32(scale)
    return out


class MixtureReader(collections.abc.Mapping):
    """``reco -> float32 waveform`` over a spec file, rendered on access (never cached).

    Args:
        path: ``specs.jsonl`` (indexed by one scan of the ids) or ``mixture.scp``
            (``<reco> <spec file>:<byte offset>``; relative spec paths are relative to the scp).
        fs: output rate (default: the rate the set was designed at, from the spec header).

    Safe to use from DataLoader workers: every access opens, seeks and closes the spec file.
    """

    def __init__(self, path: str, *, fs: Optional[int] = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"mixture spec file {self.path} does not exist")
        self._index: Dict[str, tuple] = {}
        with open(self.path, "rb") as f:
            head = f.read(32)
        if head.startswith(b'{"format"'):
            self._index = {k: (self.path, off) for k, off in index_spec_file(self.path).items()}
        else:
            self._index = _read_mixture_scp(self.path)
        self._fs = None if fs is None else check_fs(fs)
        self._tables: Dict[Path, SpecTables] = {}

    def _tables_of(self, spec_path: Path) -> SpecTables:
        t = self._tables.get(spec_path)
        if t is None:
            t = self._tables[spec_path] = SpecTables(spec_path)
        return t

    def spec(self, reco: str) -> MixtureSpec:
        """The resolved spec of ``reco``."""
        spec_path, offset = self._index[reco]
        rec = read_record(spec_path, offset)
        if rec.get("id") != reco:
            raise DataFormatError(
                spec_path, None, f"byte {offset} holds {rec.get('id')!r}, expected {reco!r} (stale mixture.scp?)"
            )
        return self._tables_of(spec_path).resolve(rec)

    def num_samples(self, reco: str) -> int:
        """Length of ``reco`` at the output rate, from its spec line alone (nothing rendered)."""
        spec_path, offset = self._index[reco]
        return int(read_record(spec_path, offset)["dur"]) * self.fs_of(reco) // 1000

    def fs_of(self, reco: str) -> int:
        return self._fs if self._fs is not None else self._tables_of(self._index[reco][0]).fs

    def __getitem__(self, reco: str) -> np.ndarray:
        if reco not in self._index:
            raise KeyError(reco)
        return render_mixture(self.spec(reco), fs=self.fs_of(reco))

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, reco: object) -> bool:
        return reco in self._index


def _read_mixture_scp(path: Path) -> Dict[str, tuple]:
    from espnet2_tsdia.formats.kaldi import iter_lines

    out: Dict[str, tuple] = {}
    for n, line in iter_lines(path):
        parts = line.split()
        if len(parts) != 2 or ":" not in parts[1]:
            raise DataFormatError(path, n, f"expected '<reco> <specs.jsonl>:<byte offset>', got {line!r}")
        file, _, off = parts[1].rpartition(":")
        if not off.isdigit():
            raise DataFormatError(path, n, f"byte offset must be an integer, got {off!r}")
        p = Path(file)
        if not p.is_absolute():
            p = path.parent / p
        if parts[0] in out:
            raise DataFormatError(path, n, f"duplicate recording id {parts[0]!r}")
        out[parts[0]] = (p, int(off))
    return out
