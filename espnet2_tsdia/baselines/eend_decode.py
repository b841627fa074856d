"""ESPnet's stock EEND on a set: waveforms -> features -> ``DiarizeSpeech`` -> posteriors -> RTTM.

Decoding reads each recording's audio from ``wav.scp`` (as TS-DIA's inference does), computes
the standard features with the same frontend as training, and runs ESPnet 202511's
``espnet2.bin.diar_inference.DiarizeSpeech`` on the whole recording. Its sigmoid posteriors
(T, S) become turns per output column with TS-DIA's post-processing functions (threshold,
median filter, gap filling, short-run removal: :mod:`espnet2_tsdia.inference.postprocess`),
named ``spk<i>``; the scorer maps them to the reference speakers (optimal mapping).

Speaker count:
- SA-EEND: the model's fixed number of outputs (``decoder.num_spk``); silent outputs give no turn.
- EEND-EDA, ``estimated``: ESPnet's rule (attractors until the first existence logit < 0,
  at most 15).
- EEND-EDA, ``oracle``: the reference count of the recording (``reco2num_spk``).

Routed around (ESPnet 202511; the venv is never patched): ``DiarizeSpeech.__call__`` ends with
``return waves, spk_prediction if self.enh_s2t_task else spk_prediction``
(``espnet2/bin/diar_inference.py`` line 321), i.e. ``(None, probs)`` for a diarization model,
and ``inference()`` then stores ``None`` as the first recording's prediction (line 581); we call the class
ourselves and take the posteriors from the tuple (:func:`posteriors_of`). Its
``segment_size`` path counts audio samples, not feature frames, so recordings are decoded whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from espnet2_tsdia.audio.reader import WavScpReader
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import c_sort_key, iter_lines
from espnet2_tsdia.formats.rttm import Turn, write_rttm
from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.frontend.storage import write_ark
from espnet2_tsdia.inference.postprocess import drop_short_runs, fill_short_gaps, median_filter, seconds_to_frames
from espnet2_tsdia.labels.activity import activity_to_turns
from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

NUM_SPK_MODES = ("model", "estimated", "oracle")


@dataclass(frozen=True)
class EendPostprocess:
    """Posteriors -> activity, per output column (the keys of the recipes' decode.yaml).

    Args:
        threshold: active where the posterior is > threshold.
        median_filter: odd width in frames (1: off).
        min_silence: gaps between speech runs shorter than this (s) are filled.
        min_speech: speech runs shorter than this (s) are dropped.
    """

    threshold: float = 0.5
    median_filter: int = 11
    min_silence: float = 0.0
    min_speech: float = 0.0

    def __post_init__(self):
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.median_filter < 1 or self.median_filter % 2 == 0:
            raise ValueError(f"median_filter must be an odd number of frames >= 1, got {self.median_filter}")
        if self.min_silence < 0 or self.min_speech < 0:
            raise ValueError(f"min_silence and min_speech must be >= 0, got {self.min_silence}, {self.min_speech}")


def posteriors_to_turns(
    post: np.ndarray,
    reco: str,
    options: EendPostprocess = EendPostprocess(),
    *,
    grid: FrameGrid = FrameGrid(),
    speaker_names: Optional[Sequence[str]] = None,
) -> List[Turn]:
    """(T, S) speaker posteriors of one recording -> turns, one speaker per column.

    Column ``s`` is named ``speaker_names[s]`` (default ``spk<s>``); a column with no active
    frame gives no turn. Frames ``[a, b)`` become ``[a * shift, b * shift)`` seconds.
    """
    post = np.asarray(post)
    if post.ndim != 2:
        raise ValueError(f"posteriors must be (T, S), got shape {post.shape}")
    names = list(speaker_names) if speaker_names is not None else [f"spk{s}" for s in range(post.shape[1])]
    if len(names) != post.shape[1]:
        raise ValueError(f"{len(names)} speaker names for {post.shape[1]} posterior columns")
    rate = 1.0 / grid.shift_seconds
    turns: List[Turn] = []
    for s in range(post.shape[1]):
        active = median_filter(post[:, s] > options.threshold, options.median_filter)
        active = fill_short_gaps(active, seconds_to_frames(options.min_silence, rate))
        active = drop_short_runs(active, seconds_to_frames(options.min_speech, rate))
        turns += activity_to_turns(active, reco=reco, speaker=names[s], grid=grid)
    return turns


def posteriors_of(output) -> np.ndarray:
    """The (B, T, S) posteriors from what ``DiarizeSpeech.__call__`` returns.

    ESPnet 202511 returns ``(None, probs)`` for a diarization model (diar_inference.py line 321);
    a fixed release returning ``probs`` alone works too.
    """
    if isinstance(output, tuple):
        if len(output) != 2 or output[0] is not None:
            raise ValueError(f"unexpected DiarizeSpeech output: a tuple of {len(output)} items")
        output = output[1]
    probs = np.asarray(output)
    if probs.ndim != 3:
        raise ValueError(f"expected (B, T, S) posteriors, got shape {probs.shape}")
    return probs


def read_num_spk(path: PathLike) -> Dict[str, int]:
    """``reco2num_spk``: ``<reco> <count>`` lines."""
    out = {}
    for n, line in iter_lines(path):
        f = line.split()
        if len(f) != 2 or not f[1].isdigit() or int(f[1]) < 1:
            raise DataFormatError(path, n, f"expected '<reco> <speakers >= 1>', got {line!r}")
        out[f[0]] = int(f[1])
    return out


@dataclass
class DecodeReport:
    recordings: int
    speaker_counts: Dict[str, int]  # recording -> outputs decoded
    turns: int


def decode_set(
    out_dir: PathLike,
    *,
    train_config: PathLike,
    model_file: PathLike,
    wav_scp: PathLike,
    num_spk_mode: str = "model",
    reco2num_spk: Optional[PathLike] = None,
    frontend_conf: Optional[Mapping] = None,
    options: EendPostprocess = EendPostprocess(),
    keys: Optional[Sequence[str]] = None,
) -> DecodeReport:
    """Decode the recordings of ``wav_scp`` with a trained stock EEND model.

    Writes ``out_dir/hyp.rttm``, ``out_dir/posteriors.ark`` + ``posteriors.scp`` (float32 (T, S)
    sigmoid outputs) and ``out_dir/reco2num_spk`` (outputs decoded per recording).

    Args:
        num_spk_mode: ``model`` (SA-EEND: its fixed outputs), ``estimated`` or ``oracle``
            (EEND-EDA; ``oracle`` reads ``reco2num_spk``).
        keys: recordings to decode (default: all of wav.scp, sorted).

    Raises:
        ValueError: a mode the model cannot do (``model`` for EDA, ``estimated``/``oracle`` for
            SA-EEND), ``oracle`` without ``reco2num_spk`` or a recording missing from it.
    """
    # ESPnet's diar task and inference modules take seconds to import: only when decoding.
    import torch
    from espnet2.bin.diar_inference import DiarizeSpeech

    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

    if num_spk_mode not in NUM_SPK_MODES:
        raise ValueError(f"num_spk_mode must be one of {NUM_SPK_MODES}, got {num_spk_mode!r}")
    frontend = TSDiaFbankFrontend(**dict(frontend_conf or {})).eval()
    grid = FrameGrid(fs=frontend.fs, hop_length=frontend.hop_length, subsampling=frontend.subsampling)
    reader = WavScpReader(wav_scp, fs=frontend.fs)
    keys = sorted(reader, key=c_sort_key) if keys is None else list(keys)

    diarize = DiarizeSpeech(train_config=train_config, model_file=model_file, device="cpu")
    is_eda = diarize.diar_model.attractor is not None
    if is_eda and num_spk_mode == "model":
        raise ValueError(f"{model_file} is an EEND-EDA model: choose num_spk_mode 'estimated' or 'oracle'")
    if not is_eda and num_spk_mode != "model":
        raise ValueError(
            f"{model_file} is an SA-EEND model with a fixed number of outputs: num_spk_mode must be 'model'"
        )
    oracle: Dict[str, int] = {}
    if num_spk_mode == "oracle":
        if reco2num_spk is None:
            raise ValueError("num_spk_mode 'oracle' needs reco2num_spk")
        oracle = read_num_spk(reco2num_spk)
        missing = [k for k in keys if k not in oracle]
        if missing:
            raise ValueError(f"{reco2num_spk}: no speaker count for {len(missing)} recording(s): {missing[:5]}")
    fixed = None if is_eda else diarize.diar_model.decoder.num_spk

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    turns: List[Turn] = []
    counts: Dict[str, int] = {}

    def items():
        for i, key in enumerate(keys):
            x = reader[key]
            feats, _ = frontend.extract(torch.from_numpy(x))
            if feats.shape[0] != grid.num_frames(len(x)):
                raise ValueError(
                    f"{wav_scp}: {key!r}: {feats.shape[0]} frames, the grid says {grid.num_frames(len(x))}"
                )
            # DiarizeSpeech reads num_spk at every call: None lets EDA count the speakers.
            diarize.num_spk = oracle.get(key) if num_spk_mode == "oracle" else fixed
            probs = posteriors_of(diarize(feats[None].numpy()))[0].astype(np.float32)
            counts[key] = probs.shape[1]
            turns.extend(posteriors_to_turns(probs, key, options, grid=grid))
            if (i + 1) % 10 == 0:
                logger.info("decoded %d/%d recordings", i + 1, len(keys))
            yield key, probs

    write_ark(out_dir / "posteriors.ark", out_dir / "posteriors.scp", items())
    write_rttm(out_dir / "hyp.rttm", turns)
    atomic_write_text(out_dir / "reco2num_spk", "".join(f"{k} {counts[k]}\n" for k in keys))
    return DecodeReport(recordings=len(keys), speaker_counts=counts, turns=len(turns))
