"""Tiny synthetic data dirs for the frontend, label and data-path tests (not a test module)."""

from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np
import soundfile as sf

# (reco, onset, end, speaker)
TURNS = [
    ("r1", 0.0, 10.0, "A"),
    ("r1", 8.0, 20.0, "B"),
    ("r1", 30.0, 30.04, "C"),  # shorter than half a frame: no speech inside the recording
    ("r1", 40.0, 43.0, "D"),  # alone only 40-41 s
    ("r1", 41.0, 44.0, "E"),  # alone only 43-44 s
    ("r1", 70.0, 72.0, "H"),  # after the end of r1 (62 s)
    ("r2", 1.0, 6.0, "A"),  # A again: a global speaker
    ("r2", 5.5, 14.5, "F"),
    ("r3", 1.0, 6.0, "G"),  # r3 is not in wav.scp
]


def write_rttm(path: Path, turns: Sequence[Tuple[str, float, float, str]]) -> None:
    path.write_text("".join(f"SPEAKER {r} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>\n" for r, a, b, s in turns))


def noise(n: int, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def make_data_dir(root: Path, *, turns=TURNS, pipe_r2: bool = True) -> Path:
    """``root/data`` with wav.scp (r1: 62.0154 s at 8 kHz; r2: 30 s at 16 kHz, through a sox pipe
    when ``pipe_r2``) and an rttm. Returns the data dir."""
    root.mkdir(parents=True, exist_ok=True)
    sf.write(root / "r1.wav", noise(8000 * 62 + 123, 1), 8000, subtype="PCM_16")
    sf.write(root / "r2.wav", noise(16000 * 30, 2), 16000, subtype="PCM_16")
    data = root / "data"
    data.mkdir(exist_ok=True)
    r2 = f"sox {root / 'r2.wav'} -t wav - |" if pipe_r2 else str(root / "r2.wav")
    (data / "wav.scp").write_text(f"r1 {root / 'r1.wav'}\nr2 {r2}\n")
    write_rttm(data / "rttm", turns)
    return data


def frames_of(data: Path) -> Dict[str, int]:
    """Frames of r1 and r2 (8 kHz samples // 800)."""
    return {"r1": (8000 * 62 + 123) // 800, "r2": 8000 * 30 // 800}
