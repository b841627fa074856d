"""Diarization without enrollment: the first pass finds the speakers, TS-DIA refines each one.

:func:`diarize_without_enrollment` runs, for one recording:

1. the first pass (:class:`espnet2_tsdia.firstpass.pipeline.FirstPass`: speech activity,
   speaker embeddings of windows, clustering), which names the speakers ``spk1``, ``spk2``, ...
   and gives each an enrollment region of the recording;
2. the TS-DIA model with those regions as its enrollments (the recording's own feature rows,
   as with oracle enrollment), one target per found speaker;
3. ``iterations`` more times: new enrollment regions from the last TS-DIA output (each
   speaker's longest run where it talks alone, by the same rule as the oracle enrollment,
   :func:`espnet2_tsdia.inference.enrollment_sources.oracle_enrollments`), then TS-DIA again.
   A speaker whose last output has no solo run of ``min_duration`` keeps its previous region.

Speakers of the first pass without an enrollment region (too little clean speech) are not
decoded; the result lists them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from espnet2_tsdia.firstpass.pipeline import FirstPass, FirstPassOptions, FirstPassResult
from espnet2_tsdia.inference.enrollment_sources import OracleOptions, oracle_enrollments
from espnet2_tsdia.inference.speech2tsdia import Progress, Speech2TSDiarization, TSDiaResult

logger = logging.getLogger(__name__)
Span = Tuple[int, int]
#: defaults (module-level instances of frozen dataclasses of other modules)
DEFAULT_FIRST_PASS = FirstPassOptions()
DEFAULT_REFINE = OracleOptions()


@dataclass(frozen=True)
class RefinedResult:
    """The passes over one recording.

    Attributes:
        first_pass: the clustering first pass (its ``turns`` are the first-pass diarization).
        passes: TS-DIA after the first pass, then after each iteration (the last is the answer).
        regions: the enrollment regions (frames) each TS-DIA pass used.
    """

    first_pass: FirstPassResult
    passes: List[TSDiaResult]
    regions: List[Dict[str, Span]]

    @property
    def final(self) -> TSDiaResult:
        return self.passes[-1]


def regions_from_output(
    result: TSDiaResult,
    previous: Mapping[str, Span],
    num_frames: int,
    options: OracleOptions,
    s2d: Speech2TSDiarization,
) -> Dict[str, Span]:
    """New enrollment regions from a TS-DIA output: each speaker's longest solo run (capped at
    ``options.max_duration``); a speaker without one of ``options.min_duration`` keeps its old one."""
    new: Dict[str, Span] = {}
    if result.turns:
        new, _ = oracle_enrollments(result.turns, num_frames, options, grid=s2d.grid)
    out = {}
    for spk, span in previous.items():
        if spk in new:
            out[spk] = new[spk]
        else:
            logger.info("speaker %s never talks alone long enough in the refined output; its region is kept", spk)
            out[spk] = span
    return out


def make_first_pass(embed, s2d: Speech2TSDiarization, options: FirstPassOptions = DEFAULT_FIRST_PASS) -> FirstPass:
    """A :class:`FirstPass` on the TS-DIA model's frame grid; ``embed`` takes waveforms at the
    model's rate and a ``fs=`` keyword (a :class:`~espnet2_tsdia.inference.spk_model.SpeakerEmbedder`
    resamples to its own rate)."""
    return FirstPass(lambda waves: embed(waves, fs=s2d.fs), options, s2d.grid)


def diarize_without_enrollment(
    s2d: Speech2TSDiarization,
    first_pass: FirstPass,
    speech: np.ndarray,
    *,
    reco: str,
    iterations: int = 0,
    refine: OracleOptions = DEFAULT_REFINE,
    progress: Optional[Progress] = None,
) -> RefinedResult:
    """First pass, TS-DIA, and ``iterations`` refinements (module docstring) of one recording.

    Args:
        s2d: the TS-DIA model.
        first_pass: the first pass (on ``s2d``'s frame grid: :func:`make_first_pass`).
        speech: (L,) waveform at ``s2d.fs``.
        reco: recording id for the turns.
        iterations: refinements after the first TS-DIA pass.
        refine: lengths of the regions taken from a TS-DIA output.
        progress: ``progress(done, total)`` of each TS-DIA pass.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    if first_pass.grid != s2d.grid:
        raise ValueError(f"the first pass runs on {first_pass.grid}, the model on {s2d.grid}")
    fp = first_pass(speech, reco=reco)
    feats = s2d.features(speech)
    regions = fp.enroll_spans()
    passes: List[TSDiaResult] = []
    used: List[Dict[str, Span]] = []
    for i in range(iterations + 1):
        if not regions:
            break
        enrolls = s2d.enrollment_features(feats, {}, regions)
        result = s2d.decide(s2d.posteriors_from_features(feats, enrolls, progress=progress), reco=reco)
        passes.append(result)
        used.append(dict(regions))
        if i < iterations:
            regions = regions_from_output(result, regions, feats.size(0), refine, s2d)
    if not passes:
        empty = TSDiaResult(posteriors={}, target_prob={}, activity={}, turns=[])
        passes, used = [empty] * (iterations + 1), [{}] * (iterations + 1)
    return RefinedResult(first_pass=fp, passes=passes, regions=used)


# ----------------------------------------------------------------------------- command lines
def speaker_model_spec(s2d: Speech2TSDiarization, spk_model: Optional[str]) -> str:
    """The speaker model to use: ``--spk_model``, else the one packed with the TS-DIA model.

    Raises:
        ValueError: neither exists (the message says what to give).
    """
    from espnet2_tsdia.inference.model_files import SPK_CONFIG_KEY

    if spk_model is not None:
        return spk_model
    files = s2d.archive_files or {}
    if SPK_CONFIG_KEY in files and s2d.archive is not None:
        return str(s2d.archive)
    raise ValueError(
        "no enrollment given and no speaker-embedding model for the first pass: the model archive holds none "
        "(pack it with pack_model --spk_model EXP_DIR) and --spk_model was not given"
    )
