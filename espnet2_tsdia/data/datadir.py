"""A whole Kaldi-style data dir: load it, or write one from speaker turns.

Corpus preparation functions produce ``wav.scp``, speaker turns and recording durations; from
those :func:`write_data_dir` derives everything else the way the preprocessing standard
(docs/preprocessing.md) asks: same-speaker overlaps merged, turns clipped to the recording,
too-short turns dropped, and every such change recorded in the returned :class:`PrepReport` (and
in ``prep_report.txt``) so nothing disappears silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

from espnet2_tsdia.formats.kaldi import (
    Segment,
    read_reco2dur,
    read_scp,
    read_segments,
    read_utt2spk,
    utt2spk_to_spk2utt,
    utt_id,
    write_reco2dur,
    write_scp,
    write_segments,
    write_spk2utt,
    write_utt2spk,
)
from espnet2_tsdia.formats.rttm import Turn, merge_same_speaker, read_rttm, sort_turns, write_rttm
from espnet2_tsdia.formats.times import FLOAT_EPS, floor_ms
from espnet2_tsdia.formats.uem import UemSegment, read_uem, write_uem
from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: Turns shorter than this (seconds) after clipping are dropped (and reported).
MIN_TURN = 0.01


@dataclass
class PrepReport:
    """What data preparation changed or skipped, line by line."""

    changed: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)

    def extend(self, other: "PrepReport") -> None:
        self.changed += other.changed
        self.dropped += other.dropped

    def text(self) -> str:
        lines = [f"changed {len(self.changed)}, dropped {len(self.dropped)}"]
        lines += [f"CHANGED {c}" for c in self.changed]
        lines += [f"DROPPED {d}" for d in self.dropped]
        return "\n".join(lines) + "\n"


@dataclass
class DataDir:
    """The contents of a data dir. ``turns`` come from ``rttm`` when present, else from
    ``segments`` + ``utt2spk``."""

    path: Path
    wav_scp: Dict[str, str]
    segments: Dict[str, Segment]
    utt2spk: Dict[str, str]
    reco2dur: Dict[str, float]
    turns: List[Turn]
    uem: Optional[Dict[str, List[UemSegment]]] = None

    @property
    def recordings(self) -> List[str]:
        return list(self.wav_scp)

    def turns_of(self, reco: str) -> List[Turn]:
        return [t for t in self.turns if t.reco == reco]


def load_data_dir(path: PathLike) -> DataDir:
    """Load a data dir (wav.scp required; the rest optional). Raises DataFormatError on bad files."""
    path = Path(path)
    if not (path / "wav.scp").is_file():
        raise FileNotFoundError(f"{path}: not a data dir (no wav.scp)")
    opt = lambda name, reader, empty: reader(path / name) if (path / name).is_file() else empty  # noqa: E731
    segments = opt("segments", read_segments, {})
    utt2spk = opt("utt2spk", read_utt2spk, {})
    if (path / "rttm").is_file():
        turns = read_rttm(path / "rttm")
    else:
        turns = turns_from_segments(segments, utt2spk)
    return DataDir(
        path=path,
        wav_scp=read_scp(path / "wav.scp"),
        segments=segments,
        utt2spk=utt2spk,
        reco2dur=opt("reco2dur", read_reco2dur, {}),
        turns=turns,
        uem=opt("uem", read_uem, None),
    )


def turns_from_segments(segments: Mapping[str, Segment], utt2spk: Mapping[str, str]) -> List[Turn]:
    """Speaker turns from ``segments`` + ``utt2spk`` (how ESPnet's diar recipes rebuild the RTTM)."""
    turns = []
    for utt, seg in segments.items():
        if utt in utt2spk:
            turns.append(Turn(reco=seg.reco, onset=seg.start, duration=seg.end - seg.start, speaker=utt2spk[utt]))
    return sort_turns(turns)


def clean_turns(
    turns: Iterable[Turn], reco2dur: Mapping[str, float], *, min_turn: float = MIN_TURN
) -> "tuple[List[Turn], PrepReport]":
    """Merge same-speaker overlaps, clip to ``[0, reco2dur]``, drop turns shorter than ``min_turn``.

    Turns of recordings missing from ``reco2dur`` are dropped and reported.
    """
    report = PrepReport()
    merged, changes = merge_same_speaker(list(turns))
    for old, new in changes:
        report.changed.append(
            f"{new.reco} {new.speaker}: merged {len(old)} overlapping turns "
            + ", ".join(f"[{t.onset:.3f}, {t.end:.3f}]" for t in old)
            + f" into [{new.onset:.3f}, {new.end:.3f}]"
        )
    out = []
    for t in merged:
        if t.reco not in reco2dur:
            report.dropped.append(
                f"{t.reco} {t.speaker} [{t.onset:.3f}, {t.end:.3f}]: recording not in wav.scp/reco2dur"
            )
            continue
        dur = reco2dur[t.reco]
        # Clip to the recording end rounded down to 1 ms, so the 3-decimal files never overshoot.
        end = min(t.end, floor_ms(dur))
        if end - t.onset < min_turn:
            report.dropped.append(
                f"{t.reco} {t.speaker} [{t.onset:.3f}, {t.end:.3f}]: shorter than {min_turn}s inside the recording (duration {dur:.3f}s)"
            )
            continue
        if end < t.end:
            if t.end - end > FLOAT_EPS:  # float noise (3.3000000000000003 for 3.3) is no change
                report.changed.append(
                    f"{t.reco} {t.speaker} [{t.onset:.3f}, {t.end:.3f}]: clipped to the recording end {dur:.3f}"
                )
            t = replace(t, duration=end - t.onset)
        out.append(t)
    return sort_turns(out), report


def write_data_dir(
    path: PathLike,
    *,
    wav_scp: Mapping[str, str],
    turns: Iterable[Turn],
    reco2dur: Mapping[str, float],
    uem: Optional[Dict[str, List[UemSegment]]] = None,
    min_turn: float = MIN_TURN,
) -> PrepReport:
    """Write wav.scp, segments, utt2spk, spk2utt, reco2dur, rttm (+ uem) from speaker turns.

    Speaker ids must already be unique across recordings where the corpus reuses local labels
    (prefix them with the recording id). Recordings without any turn are reported and left out,
    since Kaldi requires a segment per recording. A dir written here passes
    :func:`espnet2_tsdia.data.validate.validate_data_dir` without errors or warnings (given
    unique speaker ids and a UEM inside the recordings).

    Returns:
        The report of every merged, clipped or dropped turn and every dropped recording; it is
        also written to ``prep_report.txt`` in the dir.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    missing_dur = sorted(set(wav_scp) - set(reco2dur))
    if missing_dur:
        raise ValueError(f"{path}: no duration for recordings {missing_dur[:5]} (of {len(missing_dur)})")
    turns, report = clean_turns(turns, {r: reco2dur[r] for r in wav_scp}, min_turn=min_turn)
    recos_with_turns = {t.reco for t in turns}
    for reco in sorted(set(wav_scp) - recos_with_turns):
        report.dropped.append(f"{reco}: recording has no speaker turn; left out of the data dir")
    keep = [r for r in wav_scp if r in recos_with_turns]
    segments, utt2spk = [], {}
    for t in turns:
        u = utt_id(t.speaker, t.reco, t.onset, t.end)
        if u in utt2spk:  # two turns rounding to the same centisecond id
            u = f"{u}-{len([k for k in utt2spk if k.startswith(u)])}"
        segments.append(Segment(u, t.reco, t.onset, t.end))
        utt2spk[u] = t.speaker
    write_scp(path / "wav.scp", {r: wav_scp[r] for r in keep})
    write_segments(path / "segments", segments)
    write_utt2spk(path / "utt2spk", utt2spk)
    write_spk2utt(path / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    write_reco2dur(path / "reco2dur", {r: reco2dur[r] for r in keep})
    write_rttm(path / "rttm", turns)
    if uem is not None:
        write_uem(path / "uem", {r: uem[r] for r in keep if r in uem})
    atomic_write_text(path / "prep_report.txt", report.text())
    if report.changed or report.dropped:
        logger.warning(
            "%s: %d turns changed, %d items dropped (see prep_report.txt)",
            path,
            len(report.changed),
            len(report.dropped),
        )
    return report


def data_dir_from_rttm(
    path: PathLike,
    *,
    rttm: Union[PathLike, Sequence[PathLike]],
    wav_scp: Mapping[str, str],
    reco2dur: Optional[Mapping[str, float]] = None,
    uem: Optional[Union[PathLike, Sequence[PathLike]]] = None,
    prefix_speakers: bool = False,
    clean: bool = True,
    min_turn: float = MIN_TURN,
) -> PrepReport:
    """Build a data dir from bare RTTM files and the audio they describe.

    Args:
        path: the data dir to write.
        rttm: RTTM file(s); each may hold one or many recordings.
        wav_scp: recording id -> audio path or ``cmd |`` pipe.
        reco2dur: recording durations in seconds; None reads them from the audio headers
            (pipes are run).
        uem: UEM file(s) whose regions go into the dir's ``uem``.
        prefix_speakers: rename speaker ``s`` of recording ``r`` to ``r_s``, for corpora whose
            labels are local to a recording (VoxConverse, MSDWild, AVA-AVD, AISHELL-4).
        clean: True: go through :func:`write_data_dir` (merge same-speaker overlaps, clip to the
            recording, drop too-short turns, all reported). False: write the turns as they are,
            in RTTM line order, unsorted, unmerged and unclipped, and copy the RTTM and UEM lines
            verbatim (CRLF, spacing, channel and missing final newline included; only the
            speaker field is renamed when ``prefix_speakers``): the naive import that
            :func:`espnet2_tsdia.data.fix.fix_data_dir` then cleans with a line-level report.
        min_turn: see :func:`clean_turns` (``clean=True`` only).

    Returns:
        The :class:`PrepReport` of :func:`write_data_dir` (empty when ``clean=False``).

    Raises:
        DataFormatError: a malformed RTTM or UEM line.
        ValueError: a duration that cannot be read from the audio.
    """
    rttm_files = [Path(rttm)] if isinstance(rttm, (str, Path)) else [Path(p) for p in rttm]
    uem_files = [] if uem is None else [Path(uem)] if isinstance(uem, (str, Path)) else [Path(p) for p in uem]
    if reco2dur is None:
        from espnet2_tsdia.audio.info import audio_info

        reco2dur = {r: audio_info(spec, run_pipes=True).duration for r, spec in wav_scp.items()}
    rename = (lambda t: replace(t, speaker=f"{t.reco}_{t.speaker}")) if prefix_speakers else (lambda t: t)  # noqa: E731
    turns = [rename(t) for f in rttm_files for t in read_rttm(f)]
    if clean:
        regions: Optional[Dict[str, List[UemSegment]]] = None
        if uem_files:
            regions = {}
            for f in uem_files:
                for reco, segs in read_uem(f).items():
                    regions.setdefault(reco, []).extend(segs)
        return write_data_dir(path, wav_scp=wav_scp, turns=turns, reco2dur=reco2dur, uem=regions, min_turn=min_turn)
    missing = sorted(set(wav_scp) - set(reco2dur))
    if missing:
        raise ValueError(f"{path}: no duration for recordings {missing[:5]} (of {len(missing)})")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_scp(path / "wav.scp", wav_scp)
    write_reco2dur(path / "reco2dur", {r: reco2dur[r] for r in wav_scp})
    utts: Dict[str, str] = {}
    seg_lines = []
    for t in turns:
        u = utt_id(t.speaker, t.reco, t.onset, t.end)
        if u in utts:
            u = f"{u}-{len([k for k in utts if k.startswith(u)])}"
        utts[u] = t.speaker
        seg_lines.append(f"{u} {t.reco} {_fmt_time(t.onset)} {_fmt_time(t.end)}\n")
    spk2utt: Dict[str, List[str]] = {}
    for u, s in utts.items():
        spk2utt.setdefault(s, []).append(u)
    atomic_write_text(path / "segments", "".join(seg_lines))
    atomic_write_text(path / "utt2spk", "".join(f"{u} {s}\n" for u, s in utts.items()))
    atomic_write_text(path / "spk2utt", "".join(f"{s} {' '.join(us)}\n" for s, us in spk2utt.items()))
    _concat_verbatim(path / "rttm", rttm_files, speaker_field=7 if prefix_speakers else None)
    if uem_files:
        _concat_verbatim(path / "uem", uem_files, speaker_field=None)
    return PrepReport()


def _fmt_time(x: float) -> str:
    """Seconds with up to 6 decimals, trailing zeros removed."""
    return f"{x:.6f}".rstrip("0").rstrip(".")


_SPLIT_KEEP = re.compile(r"(\s+)")
_LINES = re.compile(r"[^\n]*\n|[^\n]+$")


def _concat_verbatim(out: Path, files: Sequence[Path], *, speaker_field: Optional[int]) -> None:
    """Concatenate files byte for byte; with ``speaker_field``, rename field ``speaker_field``
    (0-based) of SPEAKER lines to ``<field 1>_<speaker>``, keeping every separator and line end."""
    chunks = []
    for f in files:
        data = f.read_bytes().decode("utf-8")
        if speaker_field is not None:
            data = "".join(_prefix_field(line, speaker_field) for line in _LINES.findall(data))
        if chunks and not chunks[-1].endswith("\n"):
            chunks[-1] += "\n"  # else the next file's first line would join the last line
        chunks.append(data)
    out.write_text("".join(chunks), encoding="utf-8", newline="")


def _prefix_field(line: str, index: int) -> str:
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    parts = _SPLIT_KEEP.split(body)
    lead = 1 if parts and parts[0] == "" else 0
    tokens = parts[lead::2]
    if len(tokens) <= index or tokens[0] != "SPEAKER":
        return line
    parts[lead + 2 * index] = f"{tokens[1]}_{tokens[index]}"
    return "".join(parts) + ending
