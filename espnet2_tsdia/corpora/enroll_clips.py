"""Enrollment clips from outside the test recordings: one clip per (recording, speaker).

Target-speaker diarization with an enrollment taken from the test recording itself (the oracle
regions of ``tsdia_inference --enrollment oracle``) measures less than a user gets: a user brings
a separate clip of the voice. This module cuts such clips from a Kaldi source dir of utterances
that no test conversation uses (the offline demo keeps the first utterances of every held-out
speaker apart for it), for ``tsdia_inference --enrollment clips``.

For each recording of a reference RTTM and each of its speakers: the speaker's utterances in an
order shuffled by ``(seed, recording, speaker)`` are concatenated until they last ``seconds``,
and the result is cut to exactly ``seconds`` (so every clip has the same length, and two
recordings of one speaker usually get different clips). A speaker whose utterances together are
shorter gets all of them, and :class:`ClipReport` lists it (``short``). A speaker of the RTTM
with no utterance in the source dir is an error naming it.

Writes ``<out_dir>/<reco>__<spk>.wav`` (16-bit PCM at ``fs``) and ``<out_dir>/enroll.scp``
(``<reco>__<spk> <reco>__<spk>.wav``, paths relative to the scp's folder). A rerun rewrites them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple, Union

import numpy as np

from espnet2_tsdia.audio import tools as audio
from espnet2_tsdia.audio.reader import WavScpReader
from espnet2_tsdia.examples.enrollment import stable_seed
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import c_sort_key, read_utt2spk, utt2spk_to_spk2utt, write_scp
from espnet2_tsdia.formats.rttm import group_by_reco, read_rttm

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: separator of recording and speaker in clip keys (the key ``tsdia_inference`` reads)
KEY_SEP = "__"


@dataclass(frozen=True)
class ClipReport:
    """What :func:`make_enroll_clips` wrote.

    Attributes:
        scp: the enroll.scp written.
        clips: key -> utterances the clip is made of (in order).
        short: keys whose clip is shorter than asked (the speaker has too little audio).
    """

    scp: Path
    clips: Dict[str, Tuple[str, ...]]
    short: Tuple[str, ...]


def _order(utts: List[str], seed: int, reco: str, spk: str) -> List[str]:
    rng = np.random.default_rng(stable_seed("enroll-clip", seed, reco, spk))
    return [utts[i] for i in rng.permutation(len(utts))]


def make_enroll_clips(
    source_dir: PathLike, rttm: PathLike, out_dir: PathLike, *, seconds: float = 3.0, fs: int = 8000, seed: int = 0
) -> ClipReport:
    """Write a ``seconds``-long clip per speaker of every recording of ``rttm`` (see the module doc).

    Args:
        source_dir: Kaldi dir with ``wav.scp`` and ``utt2spk`` of the enrollment utterances.
        rttm: the reference RTTM of the test set (its recordings and speakers).
        out_dir: where the clips and ``enroll.scp`` go (created).
        seconds: clip length.
        fs: sample rate of the clips.
        seed: shuffles each (recording, speaker)'s utterance order.

    Raises:
        ValueError: ``seconds`` not > 0.
        DataFormatError: a speaker of the RTTM has no utterance in ``source_dir`` (names the
            speaker and the file), or unreadable files.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    spk2utt = utt2spk_to_spk2utt(read_utt2spk(source_dir / "utt2spk"))
    reader = WavScpReader(source_dir / "wav.scp", fs=fs)
    need = int(round(seconds * fs))
    out_dir.mkdir(parents=True, exist_ok=True)
    scp: Dict[str, str] = {}
    clips: Dict[str, Tuple[str, ...]] = {}
    short: List[str] = []
    cache: Dict[str, np.ndarray] = {}
    for reco, turns in sorted(group_by_reco(read_rttm(rttm)).items(), key=lambda kv: c_sort_key(kv[0])):
        for spk in sorted({t.speaker for t in turns}, key=c_sort_key):
            if spk not in spk2utt:
                raise DataFormatError(
                    source_dir / "utt2spk",
                    None,
                    f"speaker {spk!r} of recording {reco!r} ({rttm}) has no utterance here to cut an enrollment clip from",
                )
            pieces, used, total = [], [], 0
            for utt in _order(spk2utt[spk], seed, reco, spk):
                if utt not in cache:
                    cache[utt] = np.asarray(reader[utt], dtype=np.float32)
                pieces.append(cache[utt])
                used.append(utt)
                total += len(cache[utt])
                if total >= need:
                    break
            clip = np.concatenate(pieces)[:need]
            key = f"{reco}{KEY_SEP}{spk}"
            if len(clip) < need:
                short.append(key)
                logger.warning(
                    "%s: %s has %.2f s of enrollment audio in %s, less than %.2f s: the clip is shorter",
                    key,
                    spk,
                    len(clip) / fs,
                    source_dir,
                    seconds,
                )
            audio.write_wav_int16(out_dir / f"{key}.wav", audio.to_int16(clip), fs)
            scp[key] = f"{key}.wav"
            clips[key] = tuple(used)
    if not scp:
        raise DataFormatError(rttm, None, "no speaker turn: nothing to make enrollment clips for")
    write_scp(out_dir / "enroll.scp", scp)
    return ClipReport(scp=out_dir / "enroll.scp", clips=clips, short=tuple(short))
