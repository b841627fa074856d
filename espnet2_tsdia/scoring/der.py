"""Diarization error rate (DER) and Jaccard error rate (JER) through pyannote.metrics.

Every number comes with its protocol (docs/scoring.md):

- **collar**: seconds removed on *each side* of every reference boundary, md-eval's convention
  (``md-eval -c 0.25`` removes 0.25 s before and 0.25 s after). pyannote's ``collar`` is the
  total width of that window, so pyannote is given ``2 * collar``.
- **overlap**: scored by default; with ``skip_overlap`` the regions where two or more reference
  speakers talk are removed from the scored region (for DER and JER alike).
- **scored region**: the UEM when one is given. Without a UEM, per recording, the span from the
  earliest onset to the latest end of reference and hypothesis together. This is what pyannote
  approximates when ``uem=None`` (it then warns); we pass the span explicitly. Time outside that
  span holds no speech in either annotation and so no error: it is the same as scoring the whole
  recording.
- **same-speaker overlaps**: a speaker's overlapping turns are merged (in reference and
  hypothesis) before scoring, as dscore does; otherwise pyannote counts the shared time twice.
- **recordings**: those of the reference, plus those of the UEM when one is given (a UEM
  recording without reference turns is scored against an empty reference: any hypothesis speech
  there is false alarm). A recording missing from the hypothesis is scored against an empty
  hypothesis, i.e. all of its speech is missed, and is listed in
  :attr:`ScoreResult.missing_in_hyp`. Recordings found only in the hypothesis are listed in
  :attr:`ScoreResult.only_in_hyp` and not scored.

Rates are fractions of the scored reference speech: the integral over the scored region of the
number of reference speakers talking (overlapped speech counts once per speaker). The overall
DER divides summed seconds by summed scored speech (it is not a mean of per-recording DERs). The
overall JER follows pyannote's accumulation: the mean of the per-speaker Jaccard errors over
every reference speaker of every recording.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from espnet2_tsdia.formats.kaldi import c_sort_key
from espnet2_tsdia.formats.rttm import Turn, group_by_reco, merge_same_speaker
from espnet2_tsdia.formats.uem import UemSegment

logger = logging.getLogger(__name__)

#: Name of the overall row in tables and of the overall entry in ``result.json``.
OVERALL = "OVERALL"


def _rate(seconds: float, total: float) -> Optional[float]:
    return seconds / total if total > 0 else None


@dataclass(frozen=True)
class RecoScore:
    """Error components of one recording (or of all of them: ``reco == OVERALL``), in seconds.

    Attributes:
        reco: recording id, or :data:`OVERALL`.
        scored_speech: scored reference speech (s); the denominator of every rate.
        miss: missed speech (s).
        false_alarm: false-alarm speech (s).
        confusion: speech attributed to the wrong speaker under the optimal mapping (s).
        region: duration of the scored region before collars and overlap removal (s).
        jer_speakers: reference speakers counted by JER in the scored region.
        jer_error: sum of their per-speaker Jaccard errors.
        num_ref_speakers / num_hyp_speakers: distinct speakers in the reference / hypothesis.
    """

    reco: str
    scored_speech: float
    miss: float
    false_alarm: float
    confusion: float
    region: float
    jer_speakers: int
    jer_error: float
    num_ref_speakers: int
    num_hyp_speakers: int

    @property
    def error(self) -> float:
        return self.miss + self.false_alarm + self.confusion

    @property
    def der(self) -> Optional[float]:
        """(miss + false alarm + confusion) / scored speech; None when nothing is scored."""
        return _rate(self.error, self.scored_speech)

    @property
    def miss_rate(self) -> Optional[float]:
        return _rate(self.miss, self.scored_speech)

    @property
    def false_alarm_rate(self) -> Optional[float]:
        return _rate(self.false_alarm, self.scored_speech)

    @property
    def confusion_rate(self) -> Optional[float]:
        return _rate(self.confusion, self.scored_speech)

    @property
    def jer(self) -> Optional[float]:
        """Mean per-speaker Jaccard error; None when no reference speaker is scored.

        (pyannote returns 1.0 for a file without reference speakers; we leave it undefined.)
        """
        return self.jer_error / self.jer_speakers if self.jer_speakers > 0 else None

    def to_dict(self) -> Dict[str, object]:
        return {
            "reco": self.reco,
            "der": self.der,
            "miss_rate": self.miss_rate,
            "false_alarm_rate": self.false_alarm_rate,
            "confusion_rate": self.confusion_rate,
            "jer": self.jer,
            "scored_speech": self.scored_speech,
            "miss": self.miss,
            "false_alarm": self.false_alarm,
            "confusion": self.confusion,
            "region": self.region,
            "jer_speakers": self.jer_speakers,
            "num_ref_speakers": self.num_ref_speakers,
            "num_hyp_speakers": self.num_hyp_speakers,
        }


@dataclass(frozen=True)
class ScoreResult:
    """Scores per recording (C-locale order) and overall, with the protocol they were taken under.

    Attributes:
        recordings: one :class:`RecoScore` per scored recording.
        total: the overall :class:`RecoScore` (``reco == OVERALL``).
        collar: seconds removed on each side of reference boundaries (md-eval convention).
        skip_overlap: whether overlapped reference speech was removed from scoring.
        uem_given: whether a UEM defined the scored region.
        missing_in_hyp: recordings with no hypothesis turn (scored as all miss).
        only_in_hyp: hypothesis recordings not scored (not in the reference nor the UEM).
        merged_ref / merged_hyp: how many same-speaker overlapping runs were merged before scoring.
    """

    recordings: Tuple[RecoScore, ...]
    total: RecoScore
    collar: float
    skip_overlap: bool
    uem_given: bool
    missing_in_hyp: Tuple[str, ...] = ()
    only_in_hyp: Tuple[str, ...] = ()
    merged_ref: int = 0
    merged_hyp: int = 0

    def __getitem__(self, reco: str) -> RecoScore:
        if reco == OVERALL:
            return self.total
        for r in self.recordings:
            if r.reco == reco:
                return r
        raise KeyError(f"recording {reco!r} was not scored; scored: {[r.reco for r in self.recordings][:10]}")

    def to_dict(self) -> Dict[str, object]:
        """The machine-readable form written to ``result.json`` (rates are fractions, times seconds)."""
        return {
            "protocol": {
                "collar_per_side": self.collar,
                "pyannote_collar": 2 * self.collar,
                "skip_overlap": self.skip_overlap,
                "uem_given": self.uem_given,
                "same_speaker_overlaps_merged": True,
            },
            "overall": self.total.to_dict(),
            "recordings": [r.to_dict() for r in self.recordings],
            "missing_in_hyp": list(self.missing_in_hyp),
            "only_in_hyp": list(self.only_in_hyp),
            "merged_ref": self.merged_ref,
            "merged_hyp": self.merged_hyp,
        }


def _annotation(reco: str, turns: Sequence[Turn]):
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=reco)
    for i, t in enumerate(turns):
        ann[Segment(t.onset, t.end), i] = t.speaker
    return ann


def _region(
    reco: str, uem: Optional[Mapping[str, Sequence[UemSegment]]], ref_turns: Sequence[Turn], hyp_turns: Sequence[Turn]
):
    """The scored region of ``reco`` as a pyannote Timeline (see the module docstring)."""
    from pyannote.core import Segment, Timeline

    if uem is not None:
        segs = [Segment(u.onset, u.end) for u in uem.get(reco, [])]
    else:
        turns = list(ref_turns) + list(hyp_turns)
        segs = [Segment(min(t.onset for t in turns), max(t.end for t in turns))] if turns else []
    return Timeline(segments=segs, uri=reco).support()


def _validate_collar(collar: float) -> None:
    if not (isinstance(collar, (int, float)) and math.isfinite(collar) and collar >= 0):
        raise ValueError(
            f"collar must be a finite number of seconds >= 0 (per side, md-eval convention), got {collar!r}"
        )


def score(
    ref_turns: Sequence[Turn],
    hyp_turns: Sequence[Turn],
    *,
    uem: Optional[Mapping[str, Sequence[UemSegment]]] = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
) -> ScoreResult:
    """DER (miss, false alarm, confusion) and JER per recording and overall.

    Args:
        ref_turns: reference turns of any number of recordings.
        hyp_turns: hypothesis turns; speaker names need not match the reference (they are mapped
            optimally per recording, Hungarian algorithm).
        uem: scored regions per recording (as :func:`espnet2_tsdia.formats.uem.read_uem` returns);
            None: the extent of reference and hypothesis per recording (module docstring).
        collar: seconds removed on each side of every reference boundary (md-eval ``-c``;
            0.25 here is pyannote ``collar=0.5``).
        skip_overlap: remove overlapped reference speech from the scored region.

    Returns:
        A :class:`ScoreResult`.

    Raises:
        ValueError: a negative or non-finite collar; a UEM given without a region for some
            reference recording.
    """
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

    _validate_collar(collar)
    ref_merged, ref_changes = merge_same_speaker(list(ref_turns))
    hyp_merged, hyp_changes = merge_same_speaker(list(hyp_turns))
    ref_by, hyp_by = group_by_reco(ref_merged), group_by_reco(hyp_merged)
    order, missing, only_hyp = _scored_recordings(ref_by, hyp_by, uem)
    der_metric = DiarizationErrorRate(collar=2 * collar, skip_overlap=skip_overlap)
    jer_metric = JaccardErrorRate(collar=2 * collar, skip_overlap=skip_overlap)
    rows = [
        _score_recording(reco, ref_by.get(reco, []), hyp_by.get(reco, []), uem, der_metric, jer_metric)
        for reco in order
    ]
    return ScoreResult(
        recordings=tuple(rows),
        total=_overall(rows, ref_merged, hyp_merged, set(order)),
        collar=float(collar),
        skip_overlap=bool(skip_overlap),
        uem_given=uem is not None,
        missing_in_hyp=missing,
        only_in_hyp=only_hyp,
        merged_ref=len(ref_changes),
        merged_hyp=len(hyp_changes),
    )


def _scored_recordings(
    ref_by: Mapping[str, List[Turn]],
    hyp_by: Mapping[str, List[Turn]],
    uem: Optional[Mapping[str, Sequence[UemSegment]]],
) -> Tuple[List[str], Tuple[str, ...], Tuple[str, ...]]:
    """(recordings to score in C-locale order, those without hypothesis, hypothesis-only ones);
    see the module docstring. Raises ValueError for a UEM missing a reference recording."""
    recos = set(ref_by)
    if uem is not None:
        no_region = sorted(set(ref_by) - set(uem), key=c_sort_key)
        if no_region:
            raise ValueError(
                f"the UEM has no region for {len(no_region)} reference recording(s), e.g. {no_region[:5]}; "
                "give a UEM covering every reference recording, or none"
            )
        recos |= set(uem)
    order = sorted(recos, key=c_sort_key)
    missing = tuple(r for r in order if r in ref_by and r not in hyp_by)
    only_hyp = tuple(sorted(set(hyp_by) - recos, key=c_sort_key))
    if missing:
        logger.warning(
            "%d recording(s) have no hypothesis and are scored as all miss: %s", len(missing), list(missing[:5])
        )
    if only_hyp:
        logger.warning(
            "%d hypothesis recording(s) are not in the reference and are ignored: %s", len(only_hyp), list(only_hyp[:5])
        )
    return order, missing, only_hyp


def _score_recording(
    reco: str,
    ref: Sequence[Turn],
    hyp: Sequence[Turn],
    uem: Optional[Mapping[str, Sequence[UemSegment]]],
    der_metric,
    jer_metric,
) -> RecoScore:
    """DER and JER components of one recording over its scored region."""
    ref_ann, hyp_ann = _annotation(reco, ref), _annotation(reco, hyp)
    region = _region(reco, uem, ref, hyp)
    d = der_metric.compute_components(ref_ann, hyp_ann, uem=region)
    j = jer_metric.compute_components(ref_ann, hyp_ann, uem=region)
    return RecoScore(
        reco=reco,
        scored_speech=float(d["total"]),
        miss=float(d["missed detection"]),
        false_alarm=float(d["false alarm"]),
        confusion=float(d["confusion"]),
        region=float(region.duration()),
        jer_speakers=int(round(j["speaker count"])),
        jer_error=float(j["speaker error"]),
        num_ref_speakers=len({t.speaker for t in ref}),
        num_hyp_speakers=len({t.speaker for t in hyp}),
    )


def _overall(
    rows: Sequence[RecoScore], ref_merged: Sequence[Turn], hyp_merged: Sequence[Turn], recos: Set[str]
) -> RecoScore:
    """Summed seconds and JER terms of ``rows``; speakers counted per (recording, speaker)."""
    return RecoScore(
        reco=OVERALL,
        scored_speech=sum(r.scored_speech for r in rows),
        miss=sum(r.miss for r in rows),
        false_alarm=sum(r.false_alarm for r in rows),
        confusion=sum(r.confusion for r in rows),
        region=sum(r.region for r in rows),
        jer_speakers=sum(r.jer_speakers for r in rows),
        jer_error=sum(r.jer_error for r in rows),
        num_ref_speakers=len({(t.reco, t.speaker) for t in ref_merged if t.reco in recos}),
        num_hyp_speakers=len({(t.reco, t.speaker) for t in hyp_merged if t.reco in recos}),
    )


def optimal_mapping(ref_turns: Sequence[Turn], hyp_turns: Sequence[Turn]) -> Dict[str, str]:
    """The DER-optimal one-to-one map of hypothesis speakers to reference speakers of one recording.

    Computed by pyannote's Hungarian mapper on the whole recording (no collar, no UEM), after
    merging same-speaker overlaps. Hypothesis speakers left unmapped are absent from the dict.

    Raises:
        ValueError: the turns span more than one recording.
    """
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref_merged, _ = merge_same_speaker(list(ref_turns))
    hyp_merged, _ = merge_same_speaker(list(hyp_turns))
    recos = {t.reco for t in ref_merged} | {t.reco for t in hyp_merged}
    if len(recos) > 1:
        raise ValueError(f"optimal_mapping takes turns of one recording, got {len(recos)}: {sorted(recos)[:5]}")
    reco = next(iter(recos), "")
    mapping = DiarizationErrorRate().optimal_mapping(_annotation(reco, ref_merged), _annotation(reco, hyp_merged))
    return {str(h): str(r) for h, r in mapping.items()}
