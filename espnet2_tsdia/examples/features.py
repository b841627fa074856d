"""Extract the standard features of every recording of an example dir once, to ark/scp.

The numbers are those of :class:`~espnet2_tsdia.frontend.fbank.TSDiaFbankFrontend` on the whole
recording (per-recording mean normalisation), so slicing the stored matrix for a chunk gives the
chunk's frames of the whole-recording features, and ``mean.scp`` holds the (n_mels,) mean that
on-the-fly extraction of a chunk must subtract (data name ``speech_mean``).

Large sets split into parts (``part`` of ``num_parts``, recordings ``part::num_parts`` in sorted
order) writing ``feats.<part>.scp``; :func:`merge_parts` joins them into ``feats.scp``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from espnet2_tsdia.formats.kaldi import c_sort_key, iter_lines
from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

WHAT = ("feats", "mean")


@dataclass
class ExtractReport:
    recordings: int
    frames: int
    files: List[str]


def _check_grid(frontend, grid) -> None:
    if (frontend.fs, frontend.hop_length, frontend.subsampling) != (grid.fs, grid.hop_length, grid.subsampling):
        raise ValueError(
            f"frontend grid fs={frontend.fs} hop={frontend.hop_length} subsampling={frontend.subsampling} differs from "
            f"the example dir's {grid}"
        )


def _recording_features(
    view, audio, reco: str, num_samples: int, frontend, device: str
) -> Tuple[np.ndarray, np.ndarray]:
    """(features (T, D), mean) of one whole recording, float32; ValueError when the audio or
    the frame count no longer matches what the example dir recorded."""
    import torch

    x = torch.from_numpy(audio.region(reco, 0, None)).to(device)
    if len(x) != num_samples:
        raise ValueError(
            f"{view.file('reco2num_samples')}: {reco!r} has {num_samples} samples recorded, the audio now has {len(x)}"
        )
    f, m = frontend.extract(x)
    want = view.grid.num_frames(num_samples)
    if f.shape[0] != want:
        raise ValueError(f"{reco!r}: the frontend gave {f.shape[0]} frames, the labels have {want}")
    return f.cpu().numpy().astype(np.float32), m.cpu().numpy().astype(np.float32)


def extract_example_dir(
    example_dir: PathLike,
    *,
    frontend=None,
    ark_dir: Optional[PathLike] = None,
    part: int = 0,
    num_parts: int = 1,
    device: str = "cpu",
    write_feats: bool = True,
) -> ExtractReport:
    """Write ``feats`` and ``mean`` ark/scp of the recordings of ``example_dir``.

    Args:
        example_dir: made by ``make_tsdia_examples`` (its ``tsdia.json`` names the audio).
        frontend: a TSDiaFbankFrontend (default: the standard one on the dir's frame grid).
        ark_dir: where the .ark files go (default: the example dir); the .scp files always go
            to the example dir, where the data types look for them.
        part, num_parts: this job's share of the recordings.
        device: torch device for the analysis.
        write_feats: False writes only the means (what on-the-fly features of chunks need).

    Raises:
        ValueError: a recording whose feature count differs from its stored sample count (the
            audio changed since the examples were made), or a frontend on another frame grid.
    """
    from espnet2_tsdia.examples.datatypes import open_view
    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend
    from espnet2_tsdia.frontend.storage import write_ark

    if not 0 <= part < num_parts:
        raise ValueError(f"expected 0 <= part < num_parts, got part={part} num_parts={num_parts}")
    example_dir = Path(example_dir)
    view = open_view(str(example_dir / "examples"))
    grid = view.grid
    if frontend is None:
        frontend = TSDiaFbankFrontend(fs=grid.fs, hop_length=grid.hop_length, subsampling=grid.subsampling)
    _check_grid(frontend, grid)
    frontend = frontend.to(device).eval()
    samples = _read_num_samples(view.file("reco2num_samples"))
    recos = sorted(samples, key=c_sort_key)[part::num_parts]
    ark_dir = Path(ark_dir) if ark_dir is not None else example_dir
    ark_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if num_parts == 1 else f".{part}"
    audio = view.audio()
    means: Dict[str, np.ndarray] = {}
    total = [0]

    def feats() -> Iterator[Tuple[str, np.ndarray]]:
        for i, reco in enumerate(recos):
            f, means[reco] = _recording_features(view, audio, reco, samples[reco], frontend, device)
            total[0] += f.shape[0]
            if (i + 1) % 100 == 0:
                logger.info("extracted %d/%d recordings", i + 1, len(recos))
            yield reco, f

    feats_scp = example_dir / f"feats{suffix}.scp"
    mean_scp = example_dir / f"mean{suffix}.scp"
    files = [str(mean_scp)]
    if write_feats:
        write_ark(ark_dir / f"feats{suffix}.ark", feats_scp, feats())
        files.insert(0, str(feats_scp))
    else:
        for _ in feats():  # the same checks; the features are dropped
            pass
    write_ark(ark_dir / f"mean{suffix}.ark", mean_scp, ((r, means[r]) for r in recos))
    return ExtractReport(recordings=len(recos), frames=total[0], files=files)


def merge_parts(example_dir: PathLike, num_parts: int, *, what: Tuple[str, ...] = WHAT) -> List[str]:
    """Join ``feats.<j>.scp`` / ``mean.<j>.scp`` (j < num_parts) into ``feats.scp`` / ``mean.scp``
    (``what=("mean",)`` after ``write_feats=False`` jobs).

    Raises:
        FileNotFoundError: a part is missing (naming it).
    """
    example_dir = Path(example_dir)
    out = []
    for name in what:
        if name not in WHAT:
            raise ValueError(f"what must be among {WHAT}, got {name!r}")
        lines: List[str] = []
        for j in range(num_parts):
            p = example_dir / f"{name}.{j}.scp"
            if not p.is_file():
                raise FileNotFoundError(f"{p}: part {j} of {num_parts} is missing (run extract_feats --part {j})")
            lines += [line + "\n" for _, line in iter_lines(p)]
        lines.sort(key=lambda s: c_sort_key(s.split(maxsplit=1)[0]))
        atomic_write_text(example_dir / f"{name}.scp", "".join(lines))
        out.append(str(example_dir / f"{name}.scp"))
    return out


def _read_num_samples(path: Path) -> Dict[str, int]:
    return {line.split()[0]: int(line.split()[1]) for _, line in iter_lines(path)}
