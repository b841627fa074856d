"""Synthetic source corpora with known speech boundaries: every utterance is a tone burst."""

from pathlib import Path

import numpy as np
import soundfile as sf


def write_tone_corpus(
    root: Path,
    *,
    n_speakers: int = 3,
    n_utts: int = 4,
    fs: int = 16000,
    pad: float = 0.0,
    fmt: str = "FLAC",
    dc: float = 0.0,
) -> Path:
    """A Kaldi source dir ``root/src`` whose utterances are tones (speaker k at 300 + 200 k Hz).

    Utterance j of speaker k lasts ``0.5 + 0.25 * ((j + k) % 4)`` s. With ``pad > 0`` each file has
    ``pad`` s of silence on both sides and a ``segments`` file marks the tone. ``dc`` > 0.3 keeps
    every tone sample away from 0 (exact-boundary tests).
    """
    audio = root / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    wav, u2s, segs = [], [], []
    ext = ".flac" if fmt == "FLAC" else ".wav"
    for k in range(n_speakers):
        for j in range(n_utts):
            utt = f"spk{k}-{j:03d}"
            dur = 0.5 + 0.25 * ((j + k) % 4)
            t = np.arange(int(round(dur * fs))) / fs
            x = dc + 0.3 * np.cos(2 * np.pi * (300 + 200 * k) * t)
            p = int(round(pad * fs))
            x = np.concatenate([np.zeros(p), x, np.zeros(p)])
            path = audio / f"{utt}{ext}"
            sf.write(path, x, fs, format=fmt, subtype="PCM_16")
            wav.append(f"{utt} {path}\n")
            u2s.append(f"{utt} spk{k}\n")
            segs.append(f"{utt} {utt} {pad:.4f} {pad + dur:.4f}\n")
    (src / "wav.scp").write_text("".join(wav))
    (src / "utt2spk").write_text("".join(u2s))
    if pad > 0:
        (src / "segments").write_text("".join(segs))
    return src
