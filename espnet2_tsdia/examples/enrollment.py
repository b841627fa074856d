"""Enrollment: where a target speaker talks alone, and which piece of it an example uses.

Candidates are the runs of frames where the target talks and nobody else does ("solo runs"),
in its own recording and, where the corpus has global speaker ids (the same speaker id in
several recordings of the data dir), in the speaker's other recordings. Runs shorter than
``min_enroll`` seconds are unusable; a speaker with no usable run gets no example (the data-dir
tool reports it) or raises, as ``on_unusable`` says.

Choosing an enrollment (:func:`select_enrollment`):

1. the source: another recording with probability ``other_recording_prob`` when the speaker has
   usable runs there, else its own recording (or the other recordings when it has none of its own);
2. the length ``L`` (frames), uniform in ``[min_seconds, max_seconds]`` on the frame grid, cut
   to the longest usable run of that source;
3. a run with room for ``L`` frames, chosen with probability proportional to its number of
   start positions, and a start uniform in it.

Every choice draws from a generator seeded by a hash (:func:`example_rng`), so it is identical
across runs, processes and machines: validation and test sets hash the example id, training
hashes the list key (example or chunk) and the data epoch, a new draw every epoch.

Spec text (one line per example in the ``enroll`` file): ``reco:start-stop,start-stop reco2:...``
in frames, the example's own recording first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.labels.activity import runs

Region = Tuple[str, int, int]  # (recording, start frame, stop frame)

ON_UNUSABLE = ("skip", "error")


class NoEnrollmentError(ValueError):
    """A target speaker has no usable single-speaker region."""


@dataclass(frozen=True)
class EnrollOptions:
    """Enrollment lengths and sources.

    Args:
        min_seconds: shortest enrollment drawn.
        max_seconds: longest enrollment drawn.
        min_enroll: solo runs shorter than this are unusable; draws are cut to the longest usable
            run, so an enrollment is never shorter than this.
        on_unusable: ``skip`` (report the speaker, make no example) or ``error`` (raise).
        cross_recording: also use the speaker's solo runs in other recordings of the data dir.
        other_recording_prob: probability of drawing from another recording when possible.
        seed: mixed into every draw (training and the fixed validation/test choices).
        grid: the frame grid.
    """

    min_seconds: float = 2.0
    max_seconds: float = 5.0
    min_enroll: float = 0.5
    on_unusable: str = "skip"
    cross_recording: bool = True
    other_recording_prob: float = 0.5
    seed: int = 0
    grid: FrameGrid = field(default_factory=FrameGrid)

    def __post_init__(self):
        if not 0 < self.min_enroll <= self.min_seconds <= self.max_seconds:
            raise ValueError(
                "expected 0 < min_enroll <= min_seconds <= max_seconds, got "
                f"min_enroll={self.min_enroll} min_seconds={self.min_seconds} max_seconds={self.max_seconds}"
            )
        if self.on_unusable not in ON_UNUSABLE:
            raise ValueError(f"on_unusable must be one of {ON_UNUSABLE}, got {self.on_unusable!r}")
        if not 0.0 <= self.other_recording_prob <= 1.0:
            raise ValueError(f"other_recording_prob must be in [0, 1], got {self.other_recording_prob}")

    def _frames(self, seconds: float, up: bool) -> int:
        x = seconds / self.grid.shift_seconds
        r = round(x)
        if abs(x - r) < 1e-9:
            return int(r)
        return int(np.ceil(x)) if up else int(np.floor(x))

    @property
    def min_enroll_frames(self) -> int:
        return self._frames(self.min_enroll, up=True)

    @property
    def length_range_frames(self) -> Tuple[int, int]:
        lo, hi = self._frames(self.min_seconds, up=True), self._frames(self.max_seconds, up=False)
        return lo, max(lo, hi)


# ----------------------------------------------------------------------------- spec text
def format_enroll_spec(regions: Sequence[Region]) -> str:
    """``reco:a-b,c-d reco2:e-f`` (recordings in first-appearance order)."""
    by_reco: Dict[str, List[str]] = {}
    for reco, a, b in regions:
        if ":" in reco or " " in reco:
            raise ValueError(f"recording id {reco!r} cannot hold ':' or spaces in an enrollment spec")
        by_reco.setdefault(reco, []).append(f"{a}-{b}")
    return " ".join(f"{reco}:{','.join(runs)}" for reco, runs in by_reco.items())


def parse_enroll_spec(text: str) -> List[Region]:
    """Inverse of :func:`format_enroll_spec`. Raises ValueError naming the bad part."""
    out: List[Region] = []
    for part in text.split():
        reco, sep, runs = part.rpartition(":")
        if not sep or not reco or not runs:
            raise ValueError(f"expected 'reco:start-stop[,start-stop...]', got {part!r}")
        for run in runs.split(","):
            a, dash, b = run.partition("-")
            if not dash or not a.isdigit() or not b.isdigit() or int(a) >= int(b):
                raise ValueError(f"expected 'start-stop' frames with start < stop, got {run!r} in {part!r}")
            out.append((reco, int(a), int(b)))
    if not out:
        raise ValueError("empty enrollment spec")
    return out


# ----------------------------------------------------------------------------- choice
def stable_seed(*parts: object) -> int:
    """A 64-bit seed from the text of ``parts`` (blake2b; the same in every process)."""
    h = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode("utf-8"), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def example_rng(key: str, *, seed: int = 0, draw: Optional[int] = None) -> np.random.Generator:
    """The generator of one enrollment choice.

    ``draw=None`` gives the fixed (validation/test) choice of ``key`` (an example id); training
    passes the data epoch as ``draw`` (``key``: the list key), so every epoch draws anew and
    every process that loads the key in that epoch draws the same.
    """
    if draw is None:
        return np.random.default_rng(stable_seed("fixed", key, seed))
    return np.random.default_rng(stable_seed("draw", key, seed, draw))


def usable_regions(regions: Sequence[Region], min_frames: int) -> List[Region]:
    return [r for r in regions if r[2] - r[1] >= min_frames]


def select_enrollment(
    regions: Sequence[Region], *, own_reco: str, options: EnrollOptions, rng: np.random.Generator
) -> Region:
    """Pick one enrollment region (see the module doc).

    Raises:
        NoEnrollmentError: no region of at least ``min_enroll`` seconds.
    """
    usable = usable_regions(regions, options.min_enroll_frames)
    if not usable:
        raise NoEnrollmentError(
            f"no single-speaker region of at least {options.min_enroll}s among {len(regions)} region(s)"
        )
    own = [r for r in usable if r[0] == own_reco]
    other = [r for r in usable if r[0] != own_reco]
    if own and other:
        pool = other if rng.random() < options.other_recording_prob else own
    else:
        pool = own or other
    lo, hi = options.length_range_frames
    length = int(rng.integers(lo, hi + 1))
    longest = max(b - a for _, a, b in pool)
    length = min(length, longest)
    room = np.array([b - a - length + 1 for _, a, b in pool], dtype=np.float64)
    room = np.clip(room, 0, None)
    i = int(rng.choice(len(pool), p=room / room.sum()))
    reco, a, b = pool[i]
    start = a + int(rng.integers(0, b - a - length + 1))
    return reco, start, start + length


def solo_regions(solo: np.ndarray, reco: str) -> List[Region]:
    """Runs of a (T,) solo mask as regions of ``reco``."""
    return [(reco, a, b) for a, b in runs(solo)]
