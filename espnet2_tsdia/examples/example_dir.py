"""Target-speaker examples of a data dir: ids, chunk lists, stored labels, enrollment specs.

:func:`make_example_dir` turns a Kaldi-style data dir (wav.scp or a mixture spec, rttm or
segments + utt2spk) into an *example dir* next to it; the data dir and the audio are untouched::

    <out>/tsdia.json         what was made and how (paths relative to <out>)
    <out>/examples           <reco>__<spk>              <reco> <spk> 0 <T>
    <out>/chunks             <reco>__<spk>__<start:07d> <reco> <spk> <start> <stop>
    <out>/examples.shape     <key> <frames>   (ESPnet shape files for the batch samplers)
    <out>/chunks.shape
    <out>/labels.ark|.scp    <reco>__<spk> -> int8 (T,) or (T, C) labels, kaldiio NPY payload
    <out>/enroll             <reco>__<spk> <enrollment spec> (see data.enrollment)
    <out>/reco2num_samples   <reco> <samples at fs>
    <out>/skipped.txt        one line per speaker that got no example, and why

Example ids are ``<reco>__<spk>``; chunk ids ``<reco>__<spk>__<start frame:07d>``. Training uses
``chunks`` (fixed ``chunk_frames`` with hop ``chunk_hop``; a recording shorter than one chunk
gives one shorter chunk, and a last chunk aligned to the end covers the tail), validation and
test use ``examples`` (whole recordings) or ``chunks``. Frames follow
:mod:`espnet2_tsdia.frontend.frames`: ``T = num_frames(num_samples)``.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np

from espnet2_tsdia.examples.enrollment import (
    EnrollOptions,
    NoEnrollmentError,
    Region,
    format_enroll_spec,
    solo_regions,
    usable_regions,
)
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import (
    c_sort_key,
    iter_lines,
    read_reco2dur,
    read_scp,
    read_segments,
    read_utt2spk,
)
from espnet2_tsdia.formats.rttm import Turn, group_by_reco, read_rttm
from espnet2_tsdia.frontend.frames import FrameGrid
from espnet2_tsdia.labels.activity import rasterize, solo_mask, speaker_order
from espnet2_tsdia.labels.convert import LabelOptions, convert_recording
from espnet2_tsdia.utils.atomic import atomic_write_text as _atomic_write

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SEP = "__"
META = "tsdia.json"
FORMAT = "espnet2_tsdia.examples/1"
NUM_SAMPLES_FROM = ("audio", "reco2dur")


# ----------------------------------------------------------------------------- ids
def id_problem(part: str) -> Optional[str]:
    """Why ``part`` cannot be a recording or speaker id in an example id (None: it can)."""
    if not part:
        return "empty id"
    if SEP in part:
        return f"id {part!r} contains {SEP!r}, the example-id separator"
    if any(c.isspace() for c in part) or ":" in part:
        return f"id {part!r} contains whitespace or ':'"
    return None


def example_id(reco: str, spk: str) -> str:
    """``<reco>__<spk>``. Raises ValueError for ids that would make it ambiguous."""
    for part in (reco, spk):
        why = id_problem(part)
        if why:
            raise ValueError(why)
    return f"{reco}{SEP}{spk}"


def split_example_id(eid: str) -> Tuple[str, str]:
    """(reco, spk) of ``<reco>__<spk>`` or of a chunk id ``<reco>__<spk>__<start>``."""
    parts = eid.split(SEP)
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise ValueError(f"expected '<reco>{SEP}<spk>[{SEP}<start>]', got {eid!r}")
    return parts[0], parts[1]


def chunk_id(reco: str, spk: str, start: int) -> str:
    return f"{example_id(reco, spk)}{SEP}{start:07d}"


def make_chunks(num_frames: int, *, chunk_frames: int, hop_frames: int) -> List[Tuple[int, int]]:
    """Chunk spans ``[start, stop)`` over ``num_frames`` frames.

    Starts ``0, hop, 2*hop, ...`` while a whole chunk fits; if those miss the tail, one more
    chunk ends at ``num_frames``; a recording shorter than one chunk gives ``[(0, num_frames)]``
    (none for 0 frames).
    """
    if chunk_frames < 1 or hop_frames < 1:
        raise ValueError(f"chunk_frames and hop_frames must be >= 1, got {chunk_frames}, {hop_frames}")
    if num_frames <= 0:
        return []
    if num_frames <= chunk_frames:
        return [(0, num_frames)]
    spans = [(s, s + chunk_frames) for s in range(0, num_frames - chunk_frames + 1, hop_frames)]
    if spans[-1][1] < num_frames:
        spans.append((num_frames - chunk_frames, num_frames))
    return spans


# ----------------------------------------------------------------------------- lists
@dataclass(frozen=True)
class ExampleSpan:
    """One line of ``examples``/``chunks``: frames ``[start, stop)`` of ``spk``'s example in ``reco``."""

    key: str
    reco: str
    spk: str
    start: int
    stop: int

    @property
    def example_id(self) -> str:
        return f"{self.reco}{SEP}{self.spk}"

    @property
    def num_frames(self) -> int:
        return self.stop - self.start


def write_example_list(path: PathLike, spans: Iterable[ExampleSpan]) -> None:
    spans = sorted(spans, key=lambda s: c_sort_key(s.key))
    _atomic_write(path, "".join(f"{s.key} {s.reco} {s.spk} {s.start} {s.stop}\n" for s in spans))


def read_example_list(path: PathLike) -> "OrderedDict[str, ExampleSpan]":
    """Read ``examples``/``chunks``. Raises DataFormatError naming the line."""
    out: "OrderedDict[str, ExampleSpan]" = OrderedDict()
    for n, line in iter_lines(path):
        f = line.split()
        if len(f) != 5:
            raise DataFormatError(path, n, f"expected '<key> <reco> <spk> <start> <stop>', got {line!r}")
        try:
            start, stop = int(f[3]), int(f[4])
        except ValueError:
            raise DataFormatError(path, n, f"start/stop must be integer frames, got {f[3]!r} {f[4]!r}") from None
        if not 0 <= start < stop:
            raise DataFormatError(path, n, f"expected 0 <= start < stop, got {start} {stop}")
        if f[0] in out:
            raise DataFormatError(path, n, f"duplicate key {f[0]!r}")
        out[f[0]] = ExampleSpan(f[0], f[1], f[2], start, stop)
    return out


def write_shape(path: PathLike, spans: Iterable[ExampleSpan]) -> None:
    """ESPnet shape file ``<key> <frames>`` (batch samplers read lengths from it)."""
    spans = sorted(spans, key=lambda s: c_sort_key(s.key))
    _atomic_write(path, "".join(f"{s.key} {s.num_frames}\n" for s in spans))


# ----------------------------------------------------------------------------- options, meta
@dataclass(frozen=True)
class ExampleDirOptions:
    """Everything :func:`make_example_dir` needs besides the paths.

    Args:
        labels: label scheme and grid.
        enroll: enrollment lengths and sources (its grid must equal the labels' grid).
        chunk_frames: training chunk length in frames (500 = 50 s).
        chunk_hop: frames between chunk starts.
        min_target_frames: chunks where the target talks in fewer frames are left out of
            ``chunks`` (0 keeps all; counted in the report).
        channel: audio channel (None: mean of all channels).
        num_samples_from: ``audio`` (read each file's header; pipes are decoded; missing files
            raise) or ``reco2dur`` (``round(seconds * fs)``; no audio access).
    """

    labels: LabelOptions = field(default_factory=LabelOptions)
    enroll: EnrollOptions = field(default_factory=EnrollOptions)
    chunk_frames: int = 500
    chunk_hop: int = 250
    min_target_frames: int = 0
    channel: Optional[int] = 0
    num_samples_from: str = "audio"

    def __post_init__(self):
        if self.labels.grid != self.enroll.grid:
            raise ValueError(
                f"labels and enrollment use different frame grids: {self.labels.grid} vs {self.enroll.grid}"
            )
        if self.chunk_frames < 1 or self.chunk_hop < 1:
            raise ValueError(f"chunk_frames and chunk_hop must be >= 1, got {self.chunk_frames}, {self.chunk_hop}")
        if self.min_target_frames < 0:
            raise ValueError(f"min_target_frames must be >= 0, got {self.min_target_frames}")
        if self.num_samples_from not in NUM_SAMPLES_FROM:
            raise ValueError(f"num_samples_from must be one of {NUM_SAMPLES_FROM}, got {self.num_samples_from!r}")

    @property
    def grid(self) -> FrameGrid:
        return self.labels.grid


@dataclass
class ExampleDirMeta:
    """The content of ``tsdia.json`` (paths relative to the example dir)."""

    data_dir: str
    wav_scp: Optional[str]
    mixture_scp: Optional[str]
    channel: Optional[int]
    grid: Dict[str, int]
    labels: Dict[str, object]
    enroll: Dict[str, object]
    chunks: Dict[str, int]
    files: Dict[str, str]
    format: str = FORMAT

    @property
    def frame_grid(self) -> FrameGrid:
        return FrameGrid(**self.grid)

    @property
    def enroll_options(self) -> EnrollOptions:
        return EnrollOptions(grid=self.frame_grid, **self.enroll)

    @property
    def multi_label(self) -> bool:
        return bool(self.labels["multi_label"])


def write_meta(out_dir: PathLike, meta: ExampleDirMeta) -> None:
    _atomic_write(Path(out_dir) / META, json.dumps(asdict(meta), indent=2, sort_keys=True) + "\n")


def load_meta(example_dir: PathLike) -> ExampleDirMeta:
    """Read ``<dir>/tsdia.json``. Raises FileNotFoundError / DataFormatError with the path."""
    path = Path(example_dir) / META
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not an example dir (made by espnet2_tsdia.bin.make_tsdia_examples)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, f"invalid JSON: {e.msg}") from None
    if raw.get("format") != FORMAT:
        raise DataFormatError(path, None, f"expected format {FORMAT!r}, got {raw.get('format')!r}")
    try:
        return ExampleDirMeta(**raw)
    except TypeError as e:
        raise DataFormatError(path, None, f"unexpected fields: {e}") from None


def resolve(example_dir: PathLike, rel: Optional[str]) -> Optional[Path]:
    """A path of ``tsdia.json`` resolved against the example dir."""
    if rel is None:
        return None
    p = Path(rel)
    return p if p.is_absolute() else Path(example_dir) / p


# ----------------------------------------------------------------------------- report
@dataclass
class ExampleReport:
    """What :func:`make_example_dir` made and skipped."""

    examples: int = 0
    chunks: int = 0
    chunks_dropped: int = 0
    skipped: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            f"# examples {self.examples}, chunks {self.chunks} ({self.chunks_dropped} dropped by min_target_frames), "
            f"skipped {len(self.skipped)}"
        ]
        lines += [f"# NOTE {n}" for n in self.notes]
        lines += self.skipped
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the tool
def _load_turns(data_dir: Path) -> List[Turn]:
    if (data_dir / "rttm").is_file():
        return read_rttm(data_dir / "rttm")
    if (data_dir / "segments").is_file() and (data_dir / "utt2spk").is_file():
        from espnet2_tsdia.data.datadir import turns_from_segments

        return turns_from_segments(read_segments(data_dir / "segments"), read_utt2spk(data_dir / "utt2spk"))
    raise FileNotFoundError(f"{data_dir}: no rttm, and no segments + utt2spk to make speaker turns from")


def read_targets(path: PathLike) -> List[Tuple[str, str]]:
    """A targets file: ``<reco> <spk>`` per line."""
    out = []
    for n, line in iter_lines(path):
        f = line.split()
        if len(f) != 2:
            raise DataFormatError(path, n, f"expected '<reco> <spk>', got {line!r}")
        out.append((f[0], f[1]))
    return out


def _open_mixtures(path: Path, fs: int):
    from espnet2_tsdia.simulate.render import MixtureReader  # lazy: optional dependency

    return MixtureReader(str(path), fs=fs)


def _mixture_num_samples(reader, reco: str, fs: int) -> int:
    """Samples of a mixture at ``fs`` without rendering it when the reader can tell."""
    counter = getattr(reader, "num_samples", None)
    if callable(counter):
        return int(counter(reco))
    spec = getattr(reader, "spec", None)
    if callable(spec):
        return spec(reco).duration_ms * fs // 1000
    return len(reader[reco])


def recording_num_samples(
    recos: Sequence[str],
    *,
    options: ExampleDirOptions,
    wav_scp: Optional[Path],
    mixture_scp: Optional[Path],
    reco2dur: Mapping[str, float],
    reco2dur_path: Path,
) -> Dict[str, int]:
    """Samples at fs of every recording, from the audio (default) or from reco2dur.

    Raises:
        DataFormatError: a missing/unreadable audio file (naming its wav.scp line), or a
            recording missing from reco2dur.
    """
    fs = options.grid.fs
    out: Dict[str, int] = {}
    if options.num_samples_from == "reco2dur":
        for reco in recos:
            if reco not in reco2dur:
                raise DataFormatError(
                    reco2dur_path, None, f"no duration for recording {reco!r} (num_samples_from=reco2dur)"
                )
            out[reco] = int(round(reco2dur[reco] * fs))
        return out
    if mixture_scp is not None:
        reader = _open_mixtures(mixture_scp, fs)
        return {reco: _mixture_num_samples(reader, reco, fs) for reco in recos}
    from espnet2_tsdia.audio.reader import WavScpReader

    reader = WavScpReader(wav_scp, fs=fs, channel=options.channel)
    for i, reco in enumerate(recos):
        out[reco] = reader.num_samples(reco)
        if (i + 1) % 500 == 0:
            logger.info("read the length of %d/%d recordings", i + 1, len(recos))
    return out


def make_example_dir(
    data_dir: PathLike,
    out_dir: PathLike,
    options: ExampleDirOptions = ExampleDirOptions(),
    *,
    mixture_scp: Optional[PathLike] = None,
    targets: Optional[Sequence[Tuple[str, str]]] = None,
) -> ExampleReport:
    """Write the example dir of ``data_dir`` to ``out_dir`` (see the module doc).

    Args:
        data_dir: a Kaldi-style data dir: wav.scp (unless ``mixture_scp``), rttm or segments +
            utt2spk, optionally reco2dur.
        out_dir: where to write (created; e.g. ``<data_dir>/tsdia``).
        options: labels, enrollment, chunks.
        mixture_scp: a simulator mixture spec scp to read audio from instead of wav.scp.
        targets: (reco, spk) pairs to make examples for; default: every speaker of every recording.

    Returns:
        The report (also written to ``skipped.txt``). Skipped, never crashing: recordings of the
        rttm missing from wav.scp, target speakers absent from their recording's rttm, speakers
        with no speech inside the recording, ids containing ``__``, and (``on_unusable=skip``)
        speakers with no usable enrollment region.

    Raises:
        DataFormatError: missing/unreadable audio (naming the wav.scp line), malformed files.
        NoEnrollmentError: ``on_unusable=error`` and a speaker without a usable region.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    grid = options.grid
    report = ExampleReport()
    mixture_scp = None if mixture_scp is None else Path(mixture_scp)
    wav_scp_path, source = _audio_source(data_dir, mixture_scp, grid.fs)
    source_name = "the mixture spec" if mixture_scp else "wav.scp"
    reco2dur_path = data_dir / "reco2dur"
    reco2dur = read_reco2dur(reco2dur_path) if reco2dur_path.is_file() else {}
    by_reco = group_by_reco(_load_turns(data_dir))
    wanted = None if targets is None else set(targets)
    _report_unmatched(source, by_reco, wanted, source_name, report)
    recos = _usable_recordings(source, by_reco, report)
    num_samples = recording_num_samples(
        recos,
        options=options,
        wav_scp=wav_scp_path,
        mixture_scp=mixture_scp,
        reco2dur=reco2dur,
        reco2dur_path=reco2dur_path,
    )
    num_frames = {r: grid.num_frames(num_samples[r]) for r in recos}
    candidates, solo = _speakers_with_speech(recos, by_reco, num_frames, grid, wanted, report)
    enroll_spec = _choose_enrollment_regions(candidates, solo, options.enroll, report)
    kept = [(reco, spk) for reco, spk in candidates if example_id(reco, spk) in enroll_spec]

    out_dir.mkdir(parents=True, exist_ok=True)
    examples, chunks = _write_labels(out_dir, recos, by_reco, num_frames, kept, options, report)
    _write_lists(out_dir, examples, chunks, enroll_spec, num_samples, recos)
    report.examples, report.chunks = len(examples), len(chunks)
    _atomic_write(out_dir / "skipped.txt", report.text())
    write_meta(out_dir, _meta(out_dir, data_dir, wav_scp_path, mixture_scp, options))
    if report.skipped:
        logger.warning(
            "%s: %d speaker(s) skipped (see %s), e.g. %s",
            out_dir,
            len(report.skipped),
            out_dir / "skipped.txt",
            report.skipped[0],
        )
    logger.info("%s: %d examples, %d chunks", out_dir, report.examples, report.chunks)
    return report


def _audio_source(data_dir: Path, mixture_scp: Optional[Path], fs: int) -> Tuple[Optional[Path], Dict[str, object]]:
    """(wav.scp path or None, recording -> audio entry): wav.scp, or the mixture spec's ids."""
    if mixture_scp is not None:
        return None, {r: None for r in _open_mixtures(mixture_scp, fs)}
    wav_scp = data_dir / "wav.scp"
    if not wav_scp.is_file():
        raise FileNotFoundError(f"{data_dir}: no wav.scp (pass mixture_scp for simulated mixtures)")
    return wav_scp, read_scp(wav_scp)


def _report_unmatched(
    source: Mapping[str, object],
    by_reco: Mapping[str, List[Turn]],
    wanted: Optional[Set[Tuple[str, str]]],
    source_name: str,
    report: ExampleReport,
) -> None:
    """Report rttm recordings without audio, recordings without turns and targets that match
    nothing."""
    for reco in sorted(set(by_reco) - set(source), key=c_sort_key):
        report.skipped.extend(f"{reco} {s} recording not in {source_name}" for s in speaker_order(by_reco[reco]))
    for reco in sorted(source, key=c_sort_key):
        if reco not in by_reco:
            report.notes.append(f"{reco}: no speaker turns, no examples")
    for reco, spk in sorted(wanted or ()):
        if reco not in source:
            report.skipped.append(f"{reco} {spk} target recording not in {source_name}")
        elif spk not in {t.speaker for t in by_reco.get(reco, [])}:
            report.skipped.append(f"{reco} {spk} target speaker absent from the recording's rttm")


def _usable_recordings(
    source: Mapping[str, object], by_reco: Mapping[str, List[Turn]], report: ExampleReport
) -> List[str]:
    """Recordings with audio and turns, in C sort order; those whose id cannot be part of an
    example id are reported (one line per speaker) and left out."""
    recos = []
    for reco in sorted(source, key=c_sort_key):
        if reco not in by_reco:
            continue
        why = id_problem(reco)
        if why:
            report.skipped.extend(f"{reco} {s} {why}" for s in speaker_order(by_reco[reco]))
            continue
        recos.append(reco)
    return recos


def _speakers_with_speech(
    recos: Sequence[str],
    by_reco: Mapping[str, List[Turn]],
    num_frames: Mapping[str, int],
    grid: FrameGrid,
    wanted: Optional[Set[Tuple[str, str]]],
    report: ExampleReport,
) -> Tuple[List[Tuple[str, str]], Dict[str, List[Region]]]:
    """Pass 1: the (reco, spk) candidates (wanted, valid id, speech inside the recording) and,
    per speaker id, where it talks alone over all recordings (for enrollment)."""
    candidates: List[Tuple[str, str]] = []
    solo: Dict[str, List[Region]] = {}
    for reco in recos:
        turns = by_reco[reco]
        speakers = speaker_order(turns)
        activity = rasterize(turns, speakers, num_frames[reco], grid=grid)
        for i, spk in enumerate(speakers):
            if wanted is not None and (reco, spk) not in wanted:
                continue
            why = id_problem(spk)
            if why:
                report.skipped.append(f"{reco} {spk} {why}")
                continue
            if not activity[i].any():
                last = max(t.end for t in turns if t.speaker == spk)
                report.skipped.append(
                    f"{reco} {spk} no speech inside the recording ({num_frames[reco]} frames = "
                    f"{grid.frames_to_seconds(num_frames[reco]):.1f}s; last turn ends at {last:.3f}s, or all turns are "
                    "shorter than half a frame)"
                )
                continue
            candidates.append((reco, spk))
        for i, spk in enumerate(speakers):
            solo.setdefault(spk, []).extend(solo_regions(solo_mask(activity, i), reco))
    return candidates, solo


def _choose_enrollment_regions(
    candidates: Sequence[Tuple[str, str]],
    solo: Mapping[str, List[Region]],
    eo: EnrollOptions,
    report: ExampleReport,
) -> Dict[str, str]:
    """Example id -> enrollment spec of its usable regions (own recording first); candidates
    without one are reported (or raise, ``on_unusable=error``)."""
    enroll_spec: Dict[str, str] = {}
    for reco, spk in candidates:
        regions = [r for r in solo.get(spk, []) if r[0] == reco]
        if eo.cross_recording:
            regions += [r for r in solo.get(spk, []) if r[0] != reco]
        usable = usable_regions(regions, eo.min_enroll_frames)
        if not usable:
            longest = max((b - a for _, a, b in regions), default=0)
            msg = (
                f"{reco} {spk} no single-speaker region of at least min_enroll={eo.min_enroll}s "
                f"(longest: {eo.grid.frames_to_seconds(longest):.1f}s in {len(regions)} region(s))"
            )
            if eo.on_unusable == "error":
                raise NoEnrollmentError(msg)
            report.skipped.append(msg)
            continue
        enroll_spec[example_id(reco, spk)] = format_enroll_spec(usable)
    return enroll_spec


def _write_labels(
    out_dir: Path,
    recos: Sequence[str],
    by_reco: Mapping[str, List[Turn]],
    num_frames: Mapping[str, int],
    kept: Sequence[Tuple[str, str]],
    options: ExampleDirOptions,
    report: ExampleReport,
) -> Tuple[List[ExampleSpan], List[ExampleSpan]]:
    """Pass 2: convert and write the labels of the kept examples (one recording at a time);
    returns the example and chunk spans (chunks with fewer than ``min_target_frames`` target
    frames are counted in the report and left out)."""
    from espnet2_tsdia.frontend.storage import write_ark

    label_opts = options.labels
    scheme = label_opts.label_scheme
    examples: List[ExampleSpan] = []
    chunks: List[ExampleSpan] = []
    kept_by_reco: Dict[str, List[str]] = {}
    for reco, spk in kept:
        kept_by_reco.setdefault(reco, []).append(spk)

    def labels() -> Iterator[Tuple[str, np.ndarray]]:
        for reco in recos:
            if reco not in kept_by_reco:
                continue
            rec = convert_recording(reco, by_reco[reco], num_frames[reco], label_opts)
            report.notes.extend(rec.notes)
            for spk in kept_by_reco[reco]:
                lab = rec.labels[spk]
                eid = example_id(reco, spk)
                t = num_frames[reco]
                examples.append(ExampleSpan(eid, reco, spk, 0, t))
                target = scheme.target_activity(lab)
                for a, b in make_chunks(t, chunk_frames=options.chunk_frames, hop_frames=options.chunk_hop):
                    if int(target[a:b].sum()) < options.min_target_frames:
                        report.chunks_dropped += 1
                        continue
                    chunks.append(ExampleSpan(chunk_id(reco, spk, a), reco, spk, a, b))
                yield eid, lab

    write_ark(out_dir / "labels.ark", out_dir / "labels.scp", labels(), numpy_payload=True)
    return examples, chunks


def _write_lists(
    out_dir: Path,
    examples: Sequence[ExampleSpan],
    chunks: Sequence[ExampleSpan],
    enroll_spec: Mapping[str, str],
    num_samples: Mapping[str, int],
    recos: Sequence[str],
) -> None:
    """examples, chunks, their shape files, enroll and reco2num_samples."""
    write_example_list(out_dir / "examples", examples)
    write_example_list(out_dir / "chunks", chunks)
    write_shape(out_dir / "examples.shape", examples)
    write_shape(out_dir / "chunks.shape", chunks)
    _atomic_write(out_dir / "enroll", "".join(f"{k} {enroll_spec[k]}\n" for k in sorted(enroll_spec, key=c_sort_key)))
    _atomic_write(out_dir / "reco2num_samples", "".join(f"{r} {num_samples[r]}\n" for r in recos))


def _meta(
    out_dir: Path,
    data_dir: Path,
    wav_scp: Optional[Path],
    mixture_scp: Optional[Path],
    options: ExampleDirOptions,
) -> ExampleDirMeta:
    """What ``tsdia.json`` records: sources (relative to ``out_dir``), grid, labels, enrollment,
    chunks and the files the loaders read."""

    def rel(p: Optional[Path]) -> Optional[str]:
        return None if p is None else os.path.relpath(Path(p).resolve(), out_dir.resolve())

    label_opts = options.labels
    enroll = asdict(options.enroll)
    enroll.pop("grid")
    return ExampleDirMeta(
        data_dir=rel(data_dir),
        wav_scp=rel(wav_scp),
        mixture_scp=rel(mixture_scp),
        channel=options.channel,
        grid=asdict(options.grid),
        labels={
            "scheme": label_opts.scheme,
            "max_speakers": label_opts.max_speakers,
            "num_classes": label_opts.num_classes,
            "multi_label": label_opts.label_scheme.multi_label,
        },
        enroll=enroll,
        chunks={
            "chunk_frames": options.chunk_frames,
            "chunk_hop": options.chunk_hop,
            "min_target_frames": options.min_target_frames,
        },
        files={
            "labels": "labels.scp",
            "enroll": "enroll",
            "feats": "feats.scp",
            "mean": "mean.scp",
            "reco2num_samples": "reco2num_samples",
        },
    )
