"""Decode-option search on a validation set: threshold, median filter, minimum speech and silence.

The post-processing of :mod:`espnet2_tsdia.inference.postprocess` turns a target's posteriors into
activity; its options change the error a lot (a model whose posteriors are well ranked but
badly calibrated wants another threshold) and are cheap to search, because they do not touch the
model: the validation set is decoded once (``tsdia_inference`` writes ``posteriors.scp``), and
every candidate of the grid is applied to the stored posteriors. Choose on validation data only,
never on a test set: the chosen options are then used unchanged for every test set.

The search criterion is the frame error of the target-speaker framing at the model's frame rate
(10 frames per second), collar 0, overlap scored, over the whole recording: for each (recording,
target) with reference activity ``r`` and decoded activity ``h``, missed frames ``r & ~h`` and
false-alarm frames ``h & ~r``, summed over the set and divided by the reference speech frames.
Targets of the reference without posteriors (never decoded) count as all missed. This is the DER
of the hypothesis with each target named after itself (no optimal speaker mapping; a
target-speaker hypothesis names its speakers); the chosen options' DER through pyannote
(:func:`espnet2_tsdia.scoring.der.score`) is reported next to it.

Candidates are the Cartesian product of the grid's value lists, in order; ties keep the earlier
candidate, so list the simplest value (median 1, no minimum durations) first.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from espnet2_tsdia.formats.kaldi import c_sort_key, read_scp
from espnet2_tsdia.formats.rttm import Turn, group_by_reco
from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.inference.enrollment_sources import UTT_SEP
from espnet2_tsdia.inference.postprocess import PostprocessOptions, TargetReadout, target_activity
from espnet2_tsdia.labels.activity import activity_to_turns, rasterize

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: the post-processing options the grid may search (beam decoding has its own knobs)
SEARCHED = ("threshold", "median_filter", "min_speech", "min_silence")


@dataclass(frozen=True)
class DecodeGrid:
    """Values to try per option (each a non-empty tuple; every value valid for
    :class:`~espnet2_tsdia.inference.postprocess.PostprocessOptions`)."""

    threshold: Tuple[float, ...] = (0.5,)
    median_filter: Tuple[int, ...] = (1,)
    min_speech: Tuple[float, ...] = (0.0,)
    min_silence: Tuple[float, ...] = (0.0,)

    def __post_init__(self):
        for name in SEARCHED:
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
                raise ValueError(f"decode grid: {name} must be a non-empty list of values, got {values!r}")
            object.__setattr__(self, name, tuple(values))
            for v in values:
                PostprocessOptions(**{name: v})  # raises ValueError naming the option and value
            if len(set(values)) != len(values):
                raise ValueError(f"decode grid: {name} lists a value twice: {list(values)}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "decode grid") -> "DecodeGrid":
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected a mapping of option -> list of values, got {d!r}")
        bad = sorted(set(d) - set(SEARCHED))
        if bad:
            raise ValueError(f"{where}: unknown options {bad}; the grid searches {list(SEARCHED)}")
        return cls(**{k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in d.items()})

    def candidates(self) -> List[PostprocessOptions]:
        """Every combination, first option varying slowest."""
        return [
            PostprocessOptions(threshold=t, median_filter=m, min_speech=s, min_silence=g)
            for t, m, s, g in itertools.product(self.threshold, self.median_filter, self.min_speech, self.min_silence)
        ]


@dataclass(frozen=True)
class Trial:
    """One candidate's frame errors (frames)."""

    options: PostprocessOptions
    miss: int
    false_alarm: int
    speech: int

    @property
    def error(self) -> float:
        return (self.miss + self.false_alarm) / max(self.speech, 1)


def read_posteriors(scp: PathLike) -> Dict[Tuple[str, str], np.ndarray]:
    """``<reco>__<spk> <path.npy>`` -> {(reco, spk): (T, C) posteriors}. Relative paths are relative
    to the working directory (Kaldi's convention; tsdia_inference writes them so)."""
    out: Dict[Tuple[str, str], np.ndarray] = {}
    for key, path in read_scp(scp).items():
        reco, sep, spk = key.rpartition(UTT_SEP)
        if not sep or not reco or not spk:
            raise ValueError(f"{scp}: key {key!r} is not '<reco>{UTT_SEP}<speaker>'")
        out[(reco, spk)] = np.load(path)
    if not out:
        raise ValueError(f"{scp}: no posteriors listed")
    return out


def _references(
    posteriors: Mapping[Tuple[str, str], np.ndarray], ref_turns: Sequence[Turn], grid: FrameGrid
) -> Tuple[Dict[Tuple[str, str], np.ndarray], int]:
    """Reference activity of every decoded target and the speech frames of undecoded ones."""
    by_reco = group_by_reco(ref_turns)
    length = {reco: post.shape[0] for (reco, _), post in posteriors.items()}
    unknown = sorted({r for r, _ in posteriors} - set(by_reco), key=c_sort_key)
    if unknown:
        raise ValueError(f"recordings with posteriors but no reference turn: {unknown[:5]}")
    refs: Dict[Tuple[str, str], np.ndarray] = {}
    undecoded = 0
    for reco, turns in by_reco.items():
        if reco not in length:
            logger.warning("%s: no posteriors (never decoded); its speech counts as missed", reco)
            n = int(np.ceil(max(t.end for t in turns) / grid.shift_seconds))
        else:
            n = length[reco]
        speakers = sorted({t.speaker for t in turns}, key=c_sort_key)
        act = rasterize(turns, speakers, n, grid=grid)
        for i, spk in enumerate(speakers):
            if (reco, spk) in posteriors:
                refs[(reco, spk)] = act[i]
            else:
                undecoded += int(act[i].sum())
    for key in posteriors:
        refs.setdefault(key, np.zeros(posteriors[key].shape[0], dtype=bool))  # a target the reference lacks
    return refs, undecoded


def search(
    posteriors: Mapping[Tuple[str, str], np.ndarray],
    ref_turns: Sequence[Turn],
    grid: DecodeGrid,
    readout: TargetReadout,
    *,
    frame_grid: FrameGrid = FrameGrid(),
) -> List[Trial]:
    """Score every candidate of ``grid`` (module doc); returns the trials best first (ties: grid order)."""
    refs, undecoded = _references(posteriors, ref_turns, frame_grid)
    speech = undecoded + sum(int(r.sum()) for r in refs.values())
    rate = 1.0 / frame_grid.shift_seconds
    trials = []
    for options in grid.candidates():
        miss, fa = undecoded, 0
        for key, post in posteriors.items():
            hyp = target_activity(post, readout, options, frame_rate=rate)
            ref = refs[key]
            miss += int((ref & ~hyp).sum())
            fa += int((hyp & ~ref).sum())
        trials.append(Trial(options=options, miss=miss, false_alarm=fa, speech=speech))
    order = sorted(range(len(trials)), key=lambda i: (trials[i].error, i))
    return [trials[i] for i in order]


def hypothesis_turns(
    posteriors: Mapping[Tuple[str, str], np.ndarray],
    readout: TargetReadout,
    options: PostprocessOptions,
    *,
    frame_grid: FrameGrid = FrameGrid(),
) -> List[Turn]:
    """RTTM turns of every target under ``options`` (each target named after itself)."""
    rate = 1.0 / frame_grid.shift_seconds
    turns: List[Turn] = []
    for (reco, spk), post in sorted(posteriors.items(), key=lambda kv: (c_sort_key(kv[0][0]), c_sort_key(kv[0][1]))):
        active = target_activity(post, readout, options, frame_rate=rate)
        turns += activity_to_turns(active, reco=reco, speaker=spk, grid=frame_grid)
    return turns


def decode_config(base: Optional[Mapping[str, Any]], options: PostprocessOptions) -> Dict[str, Any]:
    """``base`` (a decode yaml's mapping) with the searched options replaced by ``options``."""
    out = dict(base or {})
    chosen = dataclasses.asdict(options)
    for name in SEARCHED:
        out[name] = chosen[name]
    return out
