"""The first pass: speech activity -> windowed speaker embeddings -> clusters -> enrollment regions.

:class:`FirstPass` diarizes a recording with no voice sample of anyone, the way TS-VAD systems
start (Medennikov et al. 2020: a clustering-based diarization gives each speaker's i-vector; the
target-speaker model then refines every speaker):

1. speech frames by :func:`espnet2_tsdia.firstpass.vad.energy_vad`;
2. windows of ``window`` seconds every ``hop`` seconds over the speech
   (:func:`~espnet2_tsdia.firstpass.regions.speech_windows`); each window's speech frames
   (pauses cut out) go through the speaker-embedding model (any callable: a list of waveforms ->
   (N, D) embeddings; :class:`espnet2_tsdia.inference.spk_model.SpeakerEmbedder` wraps an ESPnet
   ``spk`` model);
3. clustering of the embeddings (:mod:`espnet2_tsdia.firstpass.cluster`), with a known number
   of speakers or an estimated one;
4. every speech frame gets its nearest window's cluster: the first-pass diarization (one speaker
   per frame, no overlap), speakers named ``spk1``, ``spk2``, ... by first appearance;
5. each cluster's enrollment region: its cleanest, most typical span of a few seconds
   (:func:`~espnet2_tsdia.firstpass.regions.enrollment_region`). A cluster with no run of
   ``min_enroll`` seconds gets no region; it is listed in :attr:`FirstPassResult.skipped`.

Everything but the embedding model is a pure function of the waveform, so a test can run the
pipeline with a made-up embedder and state the exact result.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet2_tsdia.firstpass.cluster import ClusterOptions, cluster, normalise_rows
from espnet2_tsdia.firstpass.regions import (
    Region,
    Span,
    clean_frames,
    enrollment_region,
    frame_labels,
    frame_scores,
    speech_windows,
)
from espnet2_tsdia.firstpass.vad import VadOptions, energy_vad
from espnet2_tsdia.formats.rttm import Turn, sort_turns
from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.labels.activity import activity_to_turns

logger = logging.getLogger(__name__)

#: a list of (L_i,) waveforms -> (N, D) embeddings
Embedder = Callable[[Sequence[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class FirstPassOptions:
    """Settings of :class:`FirstPass`.

    Args:
        window / hop: embedding windows and their step, seconds.
        min_speech_ratio: share of speech frames a window needs to be embedded.
        max_enroll / min_enroll: longest enrollment region taken, and shortest accepted (s).
        vad: speech activity settings.
        clustering: clustering settings (method, number of speakers or bounds).
    """

    window: float = 1.5
    hop: float = 0.5
    min_speech_ratio: float = 0.5
    max_enroll: float = 5.0
    min_enroll: float = 0.5
    vad: VadOptions = field(default_factory=VadOptions)
    clustering: ClusterOptions = field(default_factory=ClusterOptions)

    def __post_init__(self):
        for name in ("window", "hop", "max_enroll"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0 seconds, got {value}")
        if not 0 <= self.min_enroll <= self.max_enroll:
            raise ValueError(f"min_enroll must be in [0, max_enroll={self.max_enroll}], got {self.min_enroll}")


@dataclass(frozen=True)
class FirstPassResult:
    """The first pass over one recording.

    Attributes:
        speech: (T,) bool speech frames.
        windows: embedded windows ``[start, end)`` (frames).
        window_labels: (W,) cluster of every window.
        frame_labels: (T,) cluster of every frame, -1 = no speech.
        speakers: speaker names of clusters 0..K-1 (``spk1``...).
        regions: speaker -> enrollment region (clusters without one are absent).
        skipped: speakers without an enrollment region (too little speech).
        turns: the first-pass diarization as RTTM turns.
    """

    speech: np.ndarray
    windows: List[Span]
    window_labels: np.ndarray
    frame_labels: np.ndarray
    speakers: List[str]
    regions: Dict[str, Region]
    skipped: List[str]
    turns: List[Turn]

    def enroll_spans(self) -> Dict[str, Tuple[int, int]]:
        """speaker -> ``(start, end)`` frames, as ``Speech2TSDiarization`` takes them."""
        return {spk: (r.start, r.end) for spk, r in self.regions.items()}


def speaker_name(index: int) -> str:
    return f"spk{index + 1}"


def window_audio(waveform: np.ndarray, span: Span, speech: np.ndarray, grid: FrameGrid) -> np.ndarray:
    """The samples of the speech frames of ``span`` (pauses cut out)."""
    a, b = span
    frames = np.flatnonzero(speech[a:b]) + a
    shift = grid.shift
    return np.concatenate([waveform[f * shift : (f + 1) * shift] for f in frames])


class FirstPass:
    """Clustering-based diarization that gives every found speaker an enrollment region.

    Args:
        embed: list of waveforms at ``grid.fs`` -> (N, D) speaker embeddings.
        options: settings.
        grid: the frame grid (the TS-DIA model's).
    """

    def __init__(self, embed: Embedder, options: FirstPassOptions = FirstPassOptions(), grid: FrameGrid = FrameGrid()):
        self.embed = embed
        self.options = options
        self.grid = grid

    def frames(self, seconds: float) -> int:
        return max(1, int(round(seconds / self.grid.shift_seconds)))

    def with_clustering(self, **changes) -> "FirstPass":
        """A copy whose clustering options have ``changes`` (e.g. ``num_speakers=3``)."""
        import dataclasses

        clustering = dataclasses.replace(self.options.clustering, **changes)
        return FirstPass(self.embed, dataclasses.replace(self.options, clustering=clustering), self.grid)

    def __call__(self, waveform: np.ndarray, *, reco: str, speech: Optional[np.ndarray] = None) -> FirstPassResult:
        """Diarize ``waveform`` ((L,) at ``grid.fs``); ``speech`` overrides the VAD ((T,) bool)."""
        o = self.options
        x = np.asarray(waveform, dtype=np.float32)
        t = self.grid.num_frames(x.size)
        if speech is None:
            speech = energy_vad(x, self.grid, o.vad)
        speech = np.asarray(speech, dtype=bool)
        if speech.size != t:
            raise ValueError(f"{reco}: speech mask has {speech.size} frames, the recording {t}")
        windows = speech_windows(
            speech, window=self.frames(o.window), hop=self.frames(o.hop), min_speech_ratio=o.min_speech_ratio
        )
        if not windows:
            logger.warning("%s: no speech found by the first pass; no speaker", reco)
            empty = np.zeros(0, dtype=np.int64)
            return FirstPassResult(speech, [], empty, np.full(t, -1, dtype=np.int64), [], {}, [], [])
        emb = np.asarray(self.embed([window_audio(x, w, speech, self.grid) for w in windows]), dtype=np.float64)
        if emb.ndim != 2 or emb.shape[0] != len(windows):
            raise ValueError(f"the embedder returned shape {emb.shape} for {len(windows)} windows")
        labels = cluster(emb, o.clustering)
        k = int(labels.max()) + 1
        unit = normalise_rows(emb)
        centroids = normalise_rows(np.stack([unit[labels == j].mean(axis=0) for j in range(k)]))
        similarity = np.sum(unit * centroids[labels], axis=1)
        per_frame = frame_labels(windows, labels, speech)
        clean = clean_frames(windows, labels, per_frame)
        score = frame_scores(windows, labels, similarity, per_frame)
        speakers = [speaker_name(j) for j in range(k)]
        regions: Dict[str, Region] = {}
        skipped: List[str] = []
        turns: List[Turn] = []
        for j, spk in enumerate(speakers):
            region = enrollment_region(
                j, per_frame, clean, score, max_frames=self.frames(o.max_enroll), min_frames=self.frames(o.min_enroll)
            )
            if region is None:
                skipped.append(spk)
            else:
                regions[spk] = region
            turns.extend(activity_to_turns(per_frame == j, reco=reco, speaker=spk, grid=self.grid))
        logger.info(
            "%s: first pass: %.1f s of speech, %d windows, %d speakers%s",
            reco,
            speech.sum() * self.grid.shift_seconds,
            len(windows),
            k,
            f" ({', '.join(skipped)} without an enrollment region)" if skipped else "",
        )
        return FirstPassResult(speech, windows, labels, per_frame, speakers, regions, skipped, sort_turns(turns))
