"""Where the diarization errors are: miss, false-alarm and confusion intervals of one recording.

The counts follow pyannote's identification matcher (and md-eval), per stretch of time where the
active speakers do not change: with ``n_ref`` reference speakers, ``n_hyp`` hypothesis speakers
(renamed by the speaker mapping) and ``n_correct`` of them in both,

- miss = max(0, n_ref - n_hyp)
- false alarm = max(0, n_hyp - n_ref)
- confusion = min(n_ref, n_hyp) - n_correct

so ``sum(duration * count)`` over the intervals of a kind equals that DER component at collar 0
without a UEM. The plots shade these intervals; the scores themselves come from
:func:`espnet2_tsdia.scoring.der.score`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from espnet2_tsdia.formats.rttm import Turn, merge_same_speaker

#: (start, end, count): ``count`` speakers are in error on [start, end]
Interval = Tuple[float, float, int]


@dataclass(frozen=True)
class ErrorRegions:
    """Error intervals of one recording, each kind sorted by time; adjacent intervals with the same
    count are joined."""

    miss: Tuple[Interval, ...]
    false_alarm: Tuple[Interval, ...]
    confusion: Tuple[Interval, ...]

    def seconds(self, kind: str) -> float:
        """Error seconds of ``kind`` (``miss``, ``false_alarm``, ``confusion``), counts included."""
        if kind not in ("miss", "false_alarm", "confusion"):
            raise ValueError(f"kind must be one of miss, false_alarm, confusion, got {kind!r}")
        return sum((e - s) * c for s, e, c in getattr(self, kind))


def _append(out: List[Interval], start: float, end: float, count: int) -> None:
    if count <= 0 or end <= start:
        return
    if out and out[-1][1] == start and out[-1][2] == count:
        out[-1] = (out[-1][0], end, count)
    else:
        out.append((start, end, count))


def error_regions(
    ref_turns: Sequence[Turn],
    hyp_turns: Sequence[Turn],
    *,
    mapping: Optional[Mapping[str, str]] = None,
) -> ErrorRegions:
    """Miss, false-alarm and confusion intervals of one recording (no collar, no UEM).

    Args:
        ref_turns: reference turns of one recording.
        hyp_turns: hypothesis turns of the same recording.
        mapping: hypothesis speaker -> reference speaker; None: the DER-optimal mapping
            (:func:`espnet2_tsdia.scoring.der.optimal_mapping`). Unmapped hypothesis speakers
            never count as correct.

    Raises:
        ValueError: the turns span more than one recording; two hypothesis speakers mapped to
            the same reference speaker.
    """
    ref, _ = merge_same_speaker(list(ref_turns))
    hyp, _ = merge_same_speaker(list(hyp_turns))
    recos = {t.reco for t in ref} | {t.reco for t in hyp}
    if len(recos) > 1:
        raise ValueError(f"error_regions takes turns of one recording, got {len(recos)}: {sorted(recos)[:5]}")
    if mapping is None:
        from espnet2_tsdia.scoring.der import optimal_mapping

        mapping = optimal_mapping(ref, hyp)
    targets = list(mapping.values())
    if len(set(targets)) != len(targets):
        raise ValueError(f"mapping must be one-to-one (hypothesis -> reference), got {dict(mapping)}")
    # labels: ("r", name) for reference, ("r", mapped) or ("h", name) for hypothesis
    events: List[Tuple[float, int, str, Tuple[str, str]]] = []
    for t in ref:
        events += [(t.onset, +1, "ref", ("r", t.speaker)), (t.end, -1, "ref", ("r", t.speaker))]
    for t in hyp:
        lab = ("r", mapping[t.speaker]) if t.speaker in mapping else ("h", t.speaker)
        events += [(t.onset, +1, "hyp", lab), (t.end, -1, "hyp", lab)]
    events.sort(key=lambda e: e[0])
    active: Dict[str, Dict[Tuple[str, str], int]] = {"ref": {}, "hyp": {}}
    miss: List[Interval] = []
    fa: List[Interval] = []
    conf: List[Interval] = []
    i = 0
    while i < len(events):
        t = events[i][0]
        while i < len(events) and events[i][0] == t:
            _, delta, side, lab = events[i]
            n = active[side].get(lab, 0) + delta
            if n:
                active[side][lab] = n
            else:
                active[side].pop(lab, None)
            i += 1
        if i == len(events):
            break
        nxt = events[i][0]
        r, h = set(active["ref"]), set(active["hyp"])
        correct = len(r & h)
        _append(miss, t, nxt, max(0, len(r) - len(h)))
        _append(fa, t, nxt, max(0, len(h) - len(r)))
        _append(conf, t, nxt, min(len(r), len(h)) - correct)
    return ErrorRegions(miss=tuple(miss), false_alarm=tuple(fa), confusion=tuple(conf))
