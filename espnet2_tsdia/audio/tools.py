"""Small audio helpers: run sox, read/write 16-bit wav files, remove DC, find speech boundaries.

Signals are 1-D numpy arrays. "int16" arrays hold 16-bit PCM samples; float arrays hold the same
values scaled to [-1, 1). Everything here is a pure function except the sox/flite runners and the
wav reader/writer.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from espnet2_tsdia.utils.atomic import atomic_write

PathLike = Union[str, Path]

#: sox arguments describing raw mono 16-bit signed little-endian PCM (used for pipes).
SOX_RAW_INT16 = ("-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L")

_INT16_SCALE = 32768.0


# --------------------------------------------------------------------------- external tools
def require_tool(name: str, *, package: Optional[str] = None) -> str:
    """The full path of command ``name``; raise FileNotFoundError naming the Debian package if absent."""
    path = shutil.which(name)
    if path is None:
        pkg = package or name
        raise FileNotFoundError(f"command {name!r} not found in PATH; install it with: sudo apt-get install -y {pkg}")
    return path


def run_tool(args: Sequence[str], *, stdin: Optional[bytes] = None, what: str = "") -> bytes:
    """Run a command, return its stdout; raise RuntimeError with its stderr when it fails.

    Args:
        args: the command line (``args[0]`` is the program).
        stdin: bytes fed to its standard input.
        what: the file being processed, named in the error message.
    """
    proc = subprocess.run(list(args), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        target = f" on {what}" if what else ""
        raise RuntimeError(f"{args[0]} failed (exit {proc.returncode}){target}: {err or '(no stderr)'}")
    return proc.stdout


def sox_decode(path: PathLike, *, sample_rate: int = 8000) -> np.ndarray:
    """Decode any sox-readable file (wav, gsm, ...) to mono int16 at ``sample_rate`` Hz.

    Dither is off (``-D``) so the result is deterministic.
    """
    sox = require_tool("sox")
    out = run_tool([sox, "-D", "-V1", str(path), *SOX_RAW_INT16, "-r", str(sample_rate), "-"], what=str(path))
    return np.frombuffer(out, dtype="<i2").astype(np.int16)


def sox_effects(x: np.ndarray, sample_rate: int, effects: Sequence[str], *, what: str = "") -> np.ndarray:
    """Apply a sox effect chain (e.g. ``["pitch", "200", "tempo", "1.1"]``) to an int16 signal.

    The output has the same sample rate; dither is off so the result is deterministic.
    """
    x = np.asarray(x)
    if x.dtype != np.int16 or x.ndim != 1:
        raise ValueError(f"sox_effects expects a 1-D int16 array, got dtype={x.dtype} shape={x.shape}")
    sox = require_tool("sox")
    raw = ("-r", str(sample_rate), *SOX_RAW_INT16)
    out = run_tool([sox, "-D", "-V1", *raw, "-", *raw, "-", *effects], stdin=x.astype("<i2").tobytes(), what=what)
    return np.frombuffer(out, dtype="<i2").astype(np.int16)


# --------------------------------------------------------------------------- wav files
def read_wav_int16(path: PathLike) -> Tuple[np.ndarray, int]:
    """Read a mono wav file as int16; returns ``(samples, sample_rate)``.

    Raises:
        ValueError: the file has more than one channel.
    """
    import soundfile

    x, sr = soundfile.read(str(path), dtype="int16", always_2d=True)
    if x.shape[1] != 1:
        raise ValueError(f"{path}: expected a mono file, got {x.shape[1]} channels")
    return x[:, 0], int(sr)


def write_wav_int16(path: PathLike, x: np.ndarray, sample_rate: int) -> None:
    """Write a mono 16-bit PCM wav atomically (:func:`espnet2_tsdia.utils.atomic.atomic_write`):
    an interrupted write leaves at most a hidden ``.<name>.<random>.tmp``, never a truncated ``<name>``.
    """
    import soundfile

    x = np.asarray(x)
    if x.dtype != np.int16 or x.ndim != 1:
        raise ValueError(f"{path}: expected a 1-D int16 array, got dtype={x.dtype} shape={x.shape}")
    atomic_write(path, lambda f: soundfile.write(f, x, sample_rate, subtype="PCM_16", format="WAV"))


# --------------------------------------------------------------------------- signal functions
def to_float(x: np.ndarray) -> np.ndarray:
    """int16 samples -> float64 in [-1, 1)."""
    return np.asarray(x, dtype=np.float64) / _INT16_SCALE


def to_int16(x: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1) -> int16, rounded and clipped."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * _INT16_SCALE), -32768, 32767).astype(np.int16)


def remove_dc(x: np.ndarray, sample_rate: int, *, cutoff_hz: float = 20.0) -> np.ndarray:
    """High-pass (2nd-order Butterworth, zero phase) removing DC offset and slow drift; returns float.

    Some prompt recordings carry an offset of up to 10 % of full scale that drifts within the
    file; a plain mean subtraction leaves the drift. Edges are padded by odd reflection (100 ms)
    so the offset does not turn into a click at the start.
    """
    from scipy.signal import butter, sosfiltfilt

    y = to_float(x) if np.asarray(x).dtype == np.int16 else np.asarray(x, dtype=np.float64)
    if len(y) < 16:
        return y - y.mean() if len(y) else y
    y = y - y.mean()
    sos = butter(2, cutoff_hz, btype="highpass", fs=sample_rate, output="sos")
    padlen = min(len(y) - 1, int(0.1 * sample_rate))
    return sosfiltfilt(sos, y, padlen=padlen)


def frame_energy_db(x: np.ndarray, frame: int) -> np.ndarray:
    """Mean-square energy in dB full scale of consecutive non-overlapping frames of ``frame`` samples.

    ``x`` is float in [-1, 1); a final partial frame counts as a frame. Digital silence is -120 dB.
    """
    if frame < 1:
        raise ValueError(f"frame must be >= 1 sample, got {frame}")
    x = np.asarray(x, dtype=np.float64)
    n = -(-len(x) // frame)
    padded = np.zeros(n * frame)
    padded[: len(x)] = x
    sq = (padded.reshape(n, frame) ** 2).sum(axis=1)
    counts = np.full(n, frame, dtype=np.float64)
    if n and len(x) % frame:
        counts[-1] = len(x) % frame
    return 10.0 * np.log10(sq / counts + 1e-12)


def noise_floor_dbfs(signals: Iterable[np.ndarray], sample_rate: int, *, frame_ms: float = 5.0) -> float:
    """Noise floor of a set of recordings from one source: the median over the signals of their
    5th-percentile frame energy (dB full scale). Signals shorter than 1 s are ignored; -120.0 when
    none is left. Pass float signals with DC removed.
    """
    frame = max(1, int(round(frame_ms * sample_rate / 1000)))
    p5 = [float(np.percentile(frame_energy_db(x, frame), 5)) for x in signals if len(x) >= sample_rate]
    return float(np.median(p5)) if p5 else -120.0


def speech_bounds(
    x: np.ndarray,
    sample_rate: int,
    *,
    noise_dbfs: Optional[float] = None,
    frame_ms: float = 5.0,
    margin_ms: float = 10.0,
    rel_db: float = 40.0,
    noise_db: float = 10.0,
    max_thr_db: float = 25.0,
    floor_dbfs: float = -70.0,
    min_run: int = 4,
) -> Tuple[int, int]:
    """Sample range ``[start, end)`` holding the speech of ``x``, leading/trailing silence excluded.

    A frame (``frame_ms``) is active when its energy exceeds the threshold
    ``max(peak - rel_db, floor_dbfs)``, where ``peak`` is the loudest frame. When the noise floor
    of the source is known (``noise_dbfs``, see :func:`noise_floor_dbfs`), the threshold is also
    at least ``noise_dbfs + noise_db``, but never closer than ``max_thr_db`` to the peak: some
    prompt sets have a -45 dBFS floor, which ``peak - 40 dB`` alone would call speech. The
    threshold does not depend on the silence present, so trimming twice gives the same result.

    The speech starts at the first run of ``min_run`` active frames and ends with the last such
    run; ``margin_ms`` of context is kept on each side. So a boundary found is at most
    ``frame_ms + margin_ms`` (15 ms by default) from the true one, and clicks or codec noise bursts
    shorter than ``min_run`` frames (20 ms) in the silence are ignored. Returns ``(0, 0)`` when
    nothing is active.

    Args:
        x: float samples in [-1, 1) (remove DC first: an offset looks like energy).
        sample_rate: Hz.
        noise_dbfs: the source's noise floor in dB full scale, or None.
    """
    if not (0 < frame_ms and 0 <= margin_ms and rel_db > 0 and min_run >= 1):
        raise ValueError(
            f"expected frame_ms > 0, margin_ms >= 0, rel_db > 0, min_run >= 1; got frame_ms={frame_ms} "
            f"margin_ms={margin_ms} rel_db={rel_db} min_run={min_run}"
        )
    x = np.asarray(x, dtype=np.float64)
    frame = max(1, int(round(frame_ms * sample_rate / 1000)))
    if len(x) == 0:
        return 0, 0
    db = frame_energy_db(x, frame)
    peak = float(db.max())
    thr = max(peak - rel_db, floor_dbfs)
    if noise_dbfs is not None:
        thr = max(thr, min(noise_dbfs + noise_db, peak - max_thr_db))
    active = db > thr
    # run[i]: frames i .. i+min_run-1 are all active
    k = len(active) - min_run + 1
    if k <= 0:
        return 0, 0
    run = active[:k].copy()
    for j in range(1, min_run):
        run &= active[j : j + k]
    idx = np.flatnonzero(run)
    if len(idx) == 0:
        return 0, 0
    first, last = int(idx[0]), int(idx[-1]) + min_run - 1
    margin = int(round(margin_ms * sample_rate / 1000))
    start = max(0, first * frame - margin)
    end = min(len(x), (last + 1) * frame + margin)
    return start, end


def tone_ratio(x: np.ndarray, sample_rate: int, *, min_hz: float = 80.0, half_width_hz: float = 5.0) -> float:
    """Share of the spectral energy above ``min_hz`` within ``half_width_hz`` of the strongest peak.

    Close to 1 for a beep (a steady pure tone); below 0.6 for sentences, even synthetic ones with
    a flat pitch, and below 0.85 for single sung-out letters of the prompt sets. Returns 1.0 for
    digital silence (nothing to call speech).
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return 1.0
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x)))) ** 2
    hz_per_bin = sample_rate / len(x)
    spec[: int(np.ceil(min_hz / hz_per_bin))] = 0.0
    total = spec.sum()
    if total <= 0:
        return 1.0
    k = int(np.argmax(spec))
    w = max(1, int(round(half_width_hz / hz_per_bin)))
    return float(spec[max(0, k - w) : k + w + 1].sum() / total)
