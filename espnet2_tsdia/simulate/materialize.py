"""Write the mixtures of a simulated set as wav files (for users who want audio on disk).

The spec stays the reference: a materialised file holds exactly :func:`render_mixture`'s samples
(16-bit output rounds them and clips to [-1, 1 - 2^-15]; clipped samples are counted and reported).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from espnet2_tsdia.formats.kaldi import write_scp

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")
#: files of a simulated dir copied to the materialised dir (wav.scp is rewritten)
KALDI_FILES = (
    "segments",
    "utt2spk",
    "spk2utt",
    "reco2dur",
    "reco2num_spk",
    "rttm",
    "mixture_stats.tsv",
    "stats.json",
    "config.yaml",
)


def clip_for(x: np.ndarray, subtype: str) -> Tuple[np.ndarray, int]:
    """``(x clipped to what subtype holds, number of clipped samples)``; FLOAT is not clipped."""
    if subtype not in SUBTYPES:
        raise ValueError(f"subtype must be one of {SUBTYPES}, got {subtype!r}")
    if subtype == "FLOAT":
        return x, 0
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32}[subtype]
    top = np.float32(1.0 - 2.0 ** (1 - bits))
    n = int(np.count_nonzero((x > top) | (x < -1.0)))
    return (np.clip(x, -1.0, top) if n else x), n


@dataclass(frozen=True)
class MaterializeReport:
    recordings: int
    seconds: float
    clipped_samples: int
    clipped_recordings: Tuple[str, ...]


def _render_chunk(args: Tuple[str, Sequence[str], str, Optional[int], str]) -> List[Tuple[str, float, int]]:
    import soundfile as sf

    from espnet2_tsdia.simulate.render import MixtureReader

    index, recos, wav_dir, fs, subtype = args
    reader = MixtureReader(index, fs=fs)
    out = []
    for reco in recos:
        x, n = clip_for(reader[reco], subtype)
        rate = reader.fs_of(reco)
        sf.write(Path(wav_dir) / f"{reco}.wav", x, rate, format="WAV", subtype=subtype)
        out.append((reco, x.size / rate, n))
    return out


def materialize(
    data_dir: PathLike,
    wav_dir: PathLike,
    *,
    out_data_dir: Optional[PathLike] = None,
    fs: Optional[int] = None,
    subtype: str = "PCM_16",
    nj: int = 1,
) -> MaterializeReport:
    """Render every mixture of the simulated dir ``data_dir`` to ``wav_dir/<reco>.wav``.

    Args:
        data_dir: a simulated set (``mixture.scp`` or ``specs.jsonl`` inside).
        wav_dir: where the wav files go (created).
        out_data_dir: if given, a copy of the Kaldi dir whose ``wav.scp`` lists the wav files.
        fs: output rate (default: the set's).
        subtype: WAV sample format (:data:`SUBTYPES`).
        nj: parallel processes.
    """
    from espnet2_tsdia.simulate.render import MixtureReader, check_fs

    data_dir = Path(data_dir)
    clip_for(np.zeros(1, np.float32), subtype)  # validates subtype
    if fs is not None:
        check_fs(fs)
    index = data_dir / "mixture.scp"
    if not index.is_file():
        index = data_dir / "specs.jsonl"
    if not index.is_file():
        raise FileNotFoundError(f"{data_dir}: not a simulated set (no mixture.scp or specs.jsonl)")
    recos = list(MixtureReader(str(index)))
    wav_dir = Path(wav_dir).absolute()
    wav_dir.mkdir(parents=True, exist_ok=True)
    n = max(1, min(nj, len(recos)))
    chunks = [recos[i::n] for i in range(n)]
    args = [(str(index), c, str(wav_dir), fs, subtype) for c in chunks if c]
    if n == 1:
        results = [_render_chunk(a) for a in args]
    else:
        with mp.get_context("spawn").Pool(n) as pool:
            results = pool.map(_render_chunk, args, chunksize=1)
    rows = sorted((r for res in results for r in res))
    clipped = tuple(r for r, _, c in rows if c)
    report = MaterializeReport(
        recordings=len(rows),
        seconds=float(sum(s for _, s, _ in rows)),
        clipped_samples=int(sum(c for _, _, c in rows)),
        clipped_recordings=clipped,
    )
    if clipped:
        logger.warning(
            "%d samples clipped in %d recordings (e.g. %s); use subtype FLOAT to keep them",
            report.clipped_samples,
            len(clipped),
            clipped[0],
        )
    if out_data_dir is not None:
        out = Path(out_data_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in KALDI_FILES:
            if (data_dir / name).is_file():
                shutil.copyfile(data_dir / name, out / name)
        write_scp(out / "wav.scp", {r: str(wav_dir / f"{r}.wav") for r, _, _ in rows})
    return report
