"""Where the enrollment of each target speaker comes from at inference.

Two sources (``tsdia_inference --enrollment oracle|clips``):

- ``oracle``: from the reference RTTM of the recording itself. The enrollment is the longest run
  of frames in which the target talks alone (every other speaker silent, on the shared frame
  grid of :mod:`espnet2_tsdia.frontend.frames`), cut to at most ``max_frames`` around its
  centre (the centre is furthest from the turn changes). Ties go to the earliest run. A speaker
  whose longest solo run is shorter than ``min_frames`` gets no enrollment (the caller skips it
  and says so; scoring then counts its speech as missed). The defaults (at most 5 s, at least
  0.5 s) are those of the training enrollment (:class:`espnet2_tsdia.examples.enrollment.EnrollOptions`).
  The enrollment features are the rows of the recording's own features (normalised with the
  recording's mean), as the training loader's ``tsdia_enroll_feats`` gives them.
- ``clips``: a user-given audio file per speaker name, in an scp file ``<key> <audio path>``.
  A key ``<speaker>`` applies to every recording; a key ``<recording>__<speaker>`` to that
  recording only (and wins over the plain key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import c_sort_key, iter_lines
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.labels.activity import rasterize, runs, solo_mask, speaker_order

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: separator of recording and speaker in example ids (``<reco>__<spk>``)
UTT_SEP = "__"


@dataclass(frozen=True)
class OracleOptions:
    """Limits of the oracle enrollment, in seconds.

    Args:
        max_duration: longest enrollment taken (the centre of a longer solo run).
        min_duration: shortest solo run accepted; shorter -> no enrollment for that speaker.
    """

    max_duration: float = 5.0
    min_duration: float = 0.5

    def __post_init__(self):
        if not self.max_duration > 0:
            raise ValueError(f"max_duration must be > 0 seconds, got {self.max_duration}")
        if not 0 <= self.min_duration <= self.max_duration:
            raise ValueError(f"min_duration must be in [0, max_duration={self.max_duration}], got {self.min_duration}")


def oracle_enrollment_frames(
    turns: Sequence[Turn],
    speaker: str,
    num_frames: int,
    *,
    max_frames: int,
    min_frames: int = 1,
    grid: FrameGrid = FrameGrid(),
) -> Optional[Tuple[int, int]]:
    """Frames ``[start, end)`` where ``speaker`` talks alone, for its enrollment.

    Args:
        turns: the reference turns of ONE recording (all its speakers).
        speaker: the target.
        num_frames: frames of the recording.
        max_frames: cap on the enrollment length (>= 1).
        min_frames: shortest acceptable solo run (>= 1).
        grid: the frame grid.

    Returns:
        The span, or None when the longest solo run is shorter than ``min_frames``.

    Raises:
        ValueError: ``speaker`` has no turn in ``turns``; turns of several recordings.
    """
    if max_frames < 1 or min_frames < 1:
        raise ValueError(f"max_frames and min_frames must be >= 1, got {max_frames}, {min_frames}")
    recos = {t.reco for t in turns}
    if len(recos) > 1:
        raise ValueError(f"turns of one recording expected, got {sorted(recos, key=c_sort_key)}")
    speakers = speaker_order(turns)
    if speaker not in speakers:
        raise ValueError(f"speaker {speaker!r} has no turn in the reference; speakers: {speakers}")
    activity = rasterize(turns, speakers, num_frames, grid=grid)
    solo = runs(solo_mask(activity, speakers.index(speaker)))
    if not solo:
        return None
    start, end = max(solo, key=lambda r: (r[1] - r[0], -r[0]))
    length = end - start
    if length < min_frames:
        return None
    if length > max_frames:
        start += (length - max_frames) // 2
        end = start + max_frames
    return start, end


def oracle_enrollments(
    turns: Sequence[Turn],
    num_frames: int,
    options: OracleOptions = OracleOptions(),
    *,
    grid: FrameGrid = FrameGrid(),
) -> Tuple[Dict[str, Tuple[int, int]], List[str]]:
    """Oracle enrollment spans (frames) for every speaker of one recording.

    Returns:
        (speaker -> ``(start_frame, end_frame)``, speakers without a usable solo region).
    """
    max_frames = max(1, int(round(options.max_duration / grid.shift_seconds)))
    min_frames = max(1, int(round(options.min_duration / grid.shift_seconds)))
    spans: Dict[str, Tuple[int, int]] = {}
    missing: List[str] = []
    for spk in sorted({t.speaker for t in turns}, key=c_sort_key):
        frames = oracle_enrollment_frames(
            turns, spk, num_frames, max_frames=max_frames, min_frames=min_frames, grid=grid
        )
        if frames is None:
            missing.append(spk)
        else:
            spans[spk] = frames
    return spans, missing


def read_enroll_scp(path: PathLike) -> Dict[str, str]:
    """``<speaker or reco__speaker> <audio path>`` lines -> dict (paths relative to the scp's folder
    are resolved against it).

    Raises:
        DataFormatError: a line without two fields, a duplicate key, an empty file.
    """
    out: Dict[str, str] = {}
    base = Path(path).parent
    for n, line in iter_lines(path):
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise DataFormatError(path, n, f"expected '<speaker> <audio path>', got {line!r}")
        key, value = parts[0], parts[1].strip()
        if key in out:
            raise DataFormatError(path, n, f"duplicate key {key!r}")
        p = Path(value)
        out[key] = str(p if p.is_absolute() else base / p)
    if not out:
        raise DataFormatError(path, None, "no enrollment clip listed")
    return out


def clips_for_recording(clips: Mapping[str, str], reco: str) -> Dict[str, str]:
    """The clips that apply to ``reco``: plain ``<speaker>`` keys, overridden by
    ``<reco>__<speaker>`` keys. Keys of other recordings are ignored."""
    out = {k: v for k, v in clips.items() if UTT_SEP not in k}
    prefix = reco + UTT_SEP
    for k, v in clips.items():
        if k.startswith(prefix) and len(k) > len(prefix):
            out[k[len(prefix) :]] = v
    return dict(sorted(out.items(), key=lambda kv: c_sort_key(kv[0])))
