"""One recording's RTTM turns -> one label sequence per target speaker, and back.

Pure functions: no files. :mod:`espnet2_tsdia.examples.example_dir` stores the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np

from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.labels.activity import activity_to_turns, rasterize, speaker_order
from espnet2_tsdia.labels.schemes import LabelScheme, get_scheme


@dataclass(frozen=True)
class LabelOptions:
    """How labels are made.

    Args:
        scheme: a registered label scheme (``powerset``, ``binary``, ``speaker_id``, custom).
        max_speakers: columns of multi-label schemes (``speaker_id``): the target and up to
            ``max_speakers - 1`` others.
        grid: the frame grid (defaults: 8 kHz, 10 frames per second).
    """

    scheme: str = "powerset"
    max_speakers: int = 4
    grid: FrameGrid = field(default_factory=FrameGrid)

    def __post_init__(self):
        get_scheme(self.scheme)  # raises ValueError listing the registered names
        if self.max_speakers < 1:
            raise ValueError(f"max_speakers must be >= 1, got {self.max_speakers}")

    @property
    def label_scheme(self) -> LabelScheme:
        return get_scheme(self.scheme)

    @property
    def num_classes(self) -> int:
        return self.label_scheme.num_classes(self.max_speakers)


@dataclass
class RecordingLabels:
    """The labels of one recording.

    Attributes:
        reco: recording id.
        speakers: speakers in canonical order (first onset, then id): the rows of ``activity``.
        activity: (S, T) bool frame activity.
        labels: speaker -> (T,) or (T, C) int8 labels (speakers with at least one active frame).
        skipped: (speaker, reason) for speakers that got no labels.
        notes: other things worth reporting (e.g. speakers past ``max_speakers``).
    """

    reco: str
    speakers: List[str]
    activity: np.ndarray
    labels: Dict[str, np.ndarray] = field(default_factory=dict)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def convert_recording(reco: str, turns: Sequence[Turn], num_frames: int, options: LabelOptions) -> RecordingLabels:
    """Labels for every speaker of recording ``reco`` (``turns`` may hold other recordings: ignored).

    A speaker whose turns cover no frame centre inside the recording (all turns after its end,
    or shorter than half a frame) is skipped with the reason. With a multi-label scheme and more
    speakers than ``max_speakers``, the speakers past it are missing from the other speakers'
    labels (a note says which).
    """
    own = [t for t in turns if t.reco == reco]
    speakers = speaker_order(own)
    activity = rasterize(own, speakers, num_frames, grid=options.grid)
    out = RecordingLabels(reco=reco, speakers=speakers, activity=activity)
    scheme = options.label_scheme
    if scheme.multi_label and len(speakers) > options.max_speakers:
        out.notes.append(
            f"{reco}: {len(speakers)} speakers > max_speakers={options.max_speakers}; each example keeps "
            f"the target and the first {options.max_speakers - 1} others by first onset"
        )
    for i, spk in enumerate(speakers):
        if not activity[i].any():
            mine = [t for t in own if t.speaker == spk]
            last = max(t.end for t in mine)
            secs = options.grid.frames_to_seconds(num_frames)
            why = (
                f"no speech inside the recording ({len(mine)} turn(s), the last ending at {last:.3f}s; "
                f"the recording has {num_frames} frames = {secs:.1f}s, or every turn is shorter than half a frame)"
            )
            out.skipped.append((spk, why))
            continue
        out.labels[spk] = scheme(activity, i, options.max_speakers)
    return out


def labels_to_turns(
    labels: np.ndarray, *, scheme: str, reco: str, speaker: str, grid: FrameGrid = FrameGrid()
) -> List[Turn]:
    """The target speaker's turns read back from its labels (runs of target frames)."""
    return activity_to_turns(get_scheme(scheme).target_activity(labels), reco=reco, speaker=speaker, grid=grid)
