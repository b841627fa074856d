"""Inputs of ESPnet's stock EEND (``espnet2.bin.diar_train``) made from our data dirs.

ESPnet 202511 trains SA-EEND and EEND-EDA with ``DiarizationTask`` on two data names per
recording, ``speech`` and ``spk_labels``. We give both as ``kaldi_ark`` matrices at our frame
rate (10 frames/s), so the model sees exactly the features TS-DIA sees:

- ``speech``: the standard 345-dim features (T, 345) of the whole recording, mean-normalised over
  it (``TSDiaFbankFrontend``): the example dir's stored ``feats.scp`` when there is one (no copy,
  the scp points at the same matrices), else extracted here from ``wav.scp``;
- ``spk_labels``: float32 (T, C) speaker activity on the shared frame grid (a speaker is active
  in frame t when one of its turns covers the frame centre), speakers in order of first onset;
  columns past the recording's speakers are zero (SA-EEND has a fixed number C of outputs).

Why not ESPnet's own ``rttm`` data type (DESIGN notes, ESPnet 202511): its reader
``espnet2/fileio/rttm.py`` reads a 9-field sample-unit variant of RTTM, its ``load_rttm_text``
(lines 10-11) is ``@typechecked`` with a return annotation the function does not honour (it
returns ``(speakers, events, duration)`` tuples), which typeguard 4 rejects, and
``RttmReader.__getitem__`` expands labels per audio sample. Frame-level labels need the model's
label aggregator set to window 1, hop 1 (``center: true``: with ``center: false``
``espnet2/layers/label_aggregation.py`` leaves ``nframe`` undefined); it is then the identity.

EEND-EDA learns the speaker count from the number of label columns of a batch
(``ESPnetDiarizationModel.attractor_loss``), so its batches must not mix recordings with
different counts: :func:`prepare_set` can also write ESPnet's split layout
(``<name>/num_splits``, ``<name>/split.<i>``, one split per speaker count) for
``diar_train --multiple_iterator true``, which draws each batch from one split.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from espnet2_tsdia.audio.reader import WavScpReader, read_wav_scp
from espnet2_tsdia.formats.kaldi import c_sort_key
from espnet2_tsdia.formats.rttm import Turn, group_by_reco, read_rttm
from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.frontend.storage import matrix_shape, read_ark_scp, read_array, write_ark
from espnet2_tsdia.labels.activity import rasterize, speaker_order
from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: The files of a prepared set; each is a ``key value`` table ESPnet reads.
FILES = ("feats.scp", "labels.scp", "speech_shape", "spk_labels_shape", "reco2num_spk")
#: The tables that get one split per speaker count (``--multiple_iterator``).
SPLIT_TABLES = ("feats.scp", "labels.scp", "speech_shape", "spk_labels_shape")


def speaker_activity(
    turns: Sequence[Turn], num_frames: int, *, num_columns: Optional[int] = None, grid: FrameGrid = FrameGrid()
) -> Tuple[np.ndarray, List[str]]:
    """(T, C) float32 activity of one recording's speakers and their names (column order).

    Args:
        turns: the recording's turns (one recording).
        num_frames: T, the recording's frame count.
        num_columns: C; None: one column per speaker. Columns past the speakers are zero.
        grid: the frame grid.

    Raises:
        ValueError: more speakers than ``num_columns``, or turns of several recordings.
    """
    recos = {t.reco for t in turns}
    if len(recos) > 1:
        raise ValueError(f"turns of one recording expected, got {sorted(recos)}")
    speakers = speaker_order(turns)
    cols = len(speakers) if num_columns is None else num_columns
    if len(speakers) > cols:
        reco = next(iter(recos))
        raise ValueError(f"recording {reco!r} has {len(speakers)} speakers {speakers}, more than num_spk={cols}")
    out = np.zeros((num_frames, cols), dtype=np.float32)
    out[:, : len(speakers)] = rasterize(turns, speakers, num_frames, grid=grid).T
    return out, speakers


@dataclass
class SetReport:
    """What :func:`prepare_set` wrote."""

    recordings: int
    frames: int
    speaker_counts: Dict[int, int]  # speakers per recording -> recordings
    num_columns: Optional[int]  # None: each recording its own speaker count
    files: List[str] = field(default_factory=list)


def _write_table(path: Path, rows: Mapping[str, str]) -> None:
    atomic_write_text(path, "".join(f"{k} {v}\n" for k, v in rows.items()))


def _stored_frames(feats: Mapping[str, str]) -> Dict[str, Tuple[int, int]]:
    """(T, D) of every stored matrix, from its header (no data read)."""
    out = {}
    for key, spec in feats.items():
        shape = matrix_shape(spec)
        out[key] = shape if shape is not None else tuple(read_array(spec).shape)
    return out


def extract_features(
    wav_scp: PathLike, keys: Sequence[str], out_dir: PathLike, *, frontend_conf: Optional[dict] = None
) -> Dict[str, str]:
    """Standard features of ``keys`` read from ``wav_scp`` -> ``out_dir/feats.ark`` + ``feats.scp``.

    Returns ``key -> "ark:offset"``. The same numbers as ``extract_feats`` on an example dir
    (one :class:`TSDiaFbankFrontend` analysis of the whole recording).
    """
    import torch  # torch only where features are computed

    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

    frontend = TSDiaFbankFrontend(**(frontend_conf or {})).eval()
    grid = FrameGrid(fs=frontend.fs, hop_length=frontend.hop_length, subsampling=frontend.subsampling)
    reader = WavScpReader(wav_scp, fs=frontend.fs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def items():
        for i, key in enumerate(keys):
            x = reader[key]
            feats, _ = frontend.extract(torch.from_numpy(x))
            if feats.shape[0] != grid.num_frames(len(x)):
                raise ValueError(
                    f"{wav_scp}: {key!r}: {feats.shape[0]} frames, the grid says {grid.num_frames(len(x))}"
                )
            if (i + 1) % 50 == 0:
                logger.info("features of %d/%d recordings", i + 1, len(keys))
            yield key, feats.numpy().astype(np.float32)

    write_ark(out_dir / "feats.ark", out_dir / "feats.scp", items())
    return read_ark_scp(out_dir / "feats.scp")


def prepare_set(
    out_dir: PathLike,
    *,
    rttm: PathLike,
    feats_scp: Optional[PathLike] = None,
    wav_scp: Optional[PathLike] = None,
    frontend_conf: Optional[dict] = None,
    num_columns: Optional[int] = None,
    split_by_num_spk: bool = False,
    grid: FrameGrid = FrameGrid(),
) -> SetReport:
    """Write the ``diar_train`` inputs of one set into ``out_dir`` (see the module doc).

    Args:
        out_dir: output dir: ``feats.scp`` (and ``feats.ark`` when extracted), ``labels.ark`` /
            ``labels.scp``, ``speech_shape`` / ``spk_labels_shape`` (``key T,D``),
            ``reco2num_spk``, and with ``split_by_num_spk`` the split dirs ``split/<table>/``.
        rttm: reference turns of the set.
        feats_scp: stored features (one (T, 345) matrix per recording); the recordings of the set.
        wav_scp: without ``feats_scp``: the recordings, whose features are extracted here with
            ``TSDiaFbankFrontend(**frontend_conf)``.
        num_columns: label columns of every recording (SA-EEND's outputs, zero columns past a
            recording's speakers); None: each recording has as many columns as speakers
            (EEND-EDA; batch such recordings by count: ``split_by_num_spk``).
        split_by_num_spk: also write one split per speaker count (EEND-EDA).
        frontend_conf: ``TSDiaFbankFrontend`` arguments (conf/fbank.yaml); their fs, hop_length
            and subsampling also set the frame grid of the labels.
        grid: the frame grid when ``frontend_conf`` does not give it.

    Raises:
        ValueError: neither or both of feats_scp / wav_scp; a recording of the RTTM that the
            set does not have (a reference the model would never see); a recording with more
            speakers than ``num_columns``; a label/feature frame-count mismatch.

    A recording of the set without reference turns gets all-zero labels and is reported (in
    the log and in ``speaker_counts[0]``), never dropped.
    """
    if (feats_scp is None) == (wav_scp is None):
        raise ValueError("give exactly one of feats_scp (stored features) and wav_scp (features extracted here)")
    if frontend_conf:
        fc = frontend_conf
        grid = FrameGrid(
            fs=fc.get("fs", grid.fs),
            hop_length=fc.get("hop_length", grid.hop_length),
            subsampling=fc.get("subsampling", grid.subsampling),
        )
    out_dir = Path(out_dir)
    # the inputs are read before anything is written
    by_reco = group_by_reco(read_rttm(rttm))
    if feats_scp is not None:
        feats = read_ark_scp(feats_scp)
        source = str(feats_scp)
        out_dir.mkdir(parents=True, exist_ok=True)
    else:
        keys = sorted(read_wav_scp(wav_scp), key=c_sort_key)
        source = str(wav_scp)
        unknown = sorted(set(by_reco) - set(keys), key=c_sort_key)
        if unknown:
            raise ValueError(f"{rttm}: {len(unknown)} recording(s) not in {source}: {unknown[:5]}")
        out_dir.mkdir(parents=True, exist_ok=True)
        feats = extract_features(wav_scp, keys, out_dir, frontend_conf=frontend_conf)
    recos = sorted(feats, key=c_sort_key)
    unknown = sorted(set(by_reco) - set(feats), key=c_sort_key)
    if unknown:
        raise ValueError(f"{rttm}: {len(unknown)} recording(s) not in {source}: {unknown[:5]}")
    shapes = _stored_frames(feats)
    counts = {r: len(speaker_order(by_reco.get(r, []))) for r in recos}
    silent = [r for r in recos if counts[r] == 0]
    if silent:
        logger.warning(
            "%s: %d recording(s) without reference turns get all-zero labels: %s", rttm, len(silent), silent[:5]
        )

    labels: Dict[str, np.ndarray] = {}
    for r in recos:
        t, _ = shapes[r]
        lab, _ = speaker_activity(by_reco.get(r, []), t, num_columns=num_columns, grid=grid)
        labels[r] = lab
    write_ark(out_dir / "labels.ark", out_dir / "labels.scp", ((r, labels[r]) for r in recos))
    label_specs = read_ark_scp(out_dir / "labels.scp")
    if feats_scp is not None:
        _write_table(out_dir / "feats.scp", {r: feats[r] for r in recos})
    tables = {
        "feats.scp": {r: feats[r] for r in recos},
        "labels.scp": {r: label_specs[r] for r in recos},
        "speech_shape": {r: f"{shapes[r][0]},{shapes[r][1]}" for r in recos},
        "spk_labels_shape": {r: f"{shapes[r][0]},{labels[r].shape[1]}" for r in recos},
        "reco2num_spk": {r: str(counts[r]) for r in recos},
    }
    for name in ("speech_shape", "spk_labels_shape", "reco2num_spk"):
        _write_table(out_dir / name, tables[name])
    files = [str(out_dir / f) for f in FILES]
    if split_by_num_spk:
        files += write_splits(out_dir / "split", tables, counts)
    return SetReport(
        recordings=len(recos),
        frames=sum(shapes[r][0] for r in recos),
        speaker_counts=dict(sorted(Counter(counts.values()).items())),
        num_columns=num_columns,
        files=files,
    )


def write_splits(split_dir: PathLike, tables: Mapping[str, Mapping[str, str]], counts: Mapping[str, int]) -> List[str]:
    """ESPnet's ``--multiple_iterator`` layout, one split per speaker count.

    For each table ``T``: ``split_dir/T/num_splits`` and ``split_dir/T/split.<i>`` (the rows of
    the recordings with the i-th smallest speaker count). ``split_dir/num_spk`` lists
    ``<i> <count>``.
    """
    split_dir = Path(split_dir)
    values = sorted(set(counts.values()))
    files = []
    for name in SPLIT_TABLES:
        d = split_dir / name
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(d / "num_splits", f"{len(values)}\n")
        for i, n in enumerate(values):
            rows = {k: v for k, v in tables[name].items() if counts[k] == n}
            _write_table(d / f"split.{i}", rows)
            files.append(str(d / f"split.{i}"))
    atomic_write_text(split_dir / "num_spk", "".join(f"{i} {n}\n" for i, n in enumerate(values)))
    return files
