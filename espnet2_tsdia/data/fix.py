"""Repair a Kaldi-style data dir so that :func:`~espnet2_tsdia.data.validate.validate_data_dir`
accepts it, reporting every line dropped, changed or added.

Every file is read with its format's parser (``formats.kaldi``, ``formats.rttm``,
``formats.uem``), the one the readers and the validator use; each problem it finds is repaired
or its line dropped. What it repairs (and how it decides):

- text: CRLF -> LF, a missing final newline added, blank and non-UTF-8 lines dropped;
- malformed lines (wrong field count, non-numbers, durations <= 0) dropped;
- duplicate keys: the first line is kept, later ones dropped;
- ``~`` at the start of a wav.scp path expanded; any other ``~`` drops the recording;
- missing ``reco2dur`` lines computed from the audio header where it can be read (files only,
  pipes are not run); a recording whose duration stays unknown is dropped when reco2dur exists;
- segments (and rttm turns, and uem regions) of unknown recordings dropped, ``end <= start``
  dropped, a negative start moved to 0, an end more than ``tolerance`` past the recording end
  clipped to the end (rounded down to 1 ms), and what is then shorter than ``min_turn`` dropped
  (including a segment that starts at or after the end);
- utterances missing from either segments or utt2spk dropped from both;
- overlapping segments (and rttm turns) of one speaker merged into the earliest one (an overlap
  up to ``formats.times.TIME_EPS`` is rounding: those turns only touch and stay apart);
- recordings left without segments dropped (Kaldi needs a segment per recording);
- spk2utt rebuilt from utt2spk, rttm lines normalised to 10 fields with channel 1, other
  keyed files (utt2dur, text, reco2file_and_channel, ...) filtered to what is kept;
- every file sorted (C locale on column 1; rttm by recording, onset, speaker).

What it does not repair, because it would have to guess: a speaker id used in several recordings
(prefix local labels at preparation, or declare ``global_speakers``), utt2spk not sortable by
speaker, rttm turns that disagree with segments + utt2spk, audio problems. These remain in the
validation that ends every run (``FixReport.validation``).

The report (``fix_report.txt`` in the fixed dir) has one line per change::

    segments:12: dropped: u1 r1 3.0 2.0: end 2.0 <= start 3.0
    segments:40: changed: u9 r1 2415.45 2422.56 -> u9 r1 2415.450 2420.000: ended 2.560s past ...
    spk2utt: added: s7 u1 u2: rebuilt from utt2spk

Fixing in place keeps the originals in ``.backup/`` (``.backup.2/`` ... if that exists).
Fixing a fixed dir changes nothing and writes nothing.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.audio.info import ark_offset, audio_info, is_pipe
from espnet2_tsdia.data.validate import (
    KNOWN_FILES,
    RECO_KEYED,
    SPK_KEYED,
    UTT_KEYED,
    ValidationReport,
    match_spans,
    turn_key,
    validate_data_dir,
)
from espnet2_tsdia.formats.kaldi import (
    Segment,
    c_sort_key,
    parse_keyed,
    parse_reco2dur,
    parse_scp,
    parse_segments,
    utt2spk_to_spk2utt,
)
from espnet2_tsdia.formats.rttm import Turn, format_turn, parse_rttm
from espnet2_tsdia.formats.text import Entry, Parsed, RawFile, number, read_raw
from espnet2_tsdia.formats.times import FLOAT_EPS, TIME_EPS, floor_ms, overlaps
from espnet2_tsdia.formats.uem import UemSegment, parse_uem
from espnet2_tsdia.utils.atomic import atomic_write_text

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

ACTIONS = ("dropped", "changed", "added")
REPORT_NAME = "fix_report.txt"


@dataclass(frozen=True)
class FixEntry:
    """One dropped, changed or added line (or a whole-file change such as re-sorting).

    Args:
        file: the file's name in the data dir (``"segments"``).
        line: 1-based line number in the original file; None for added lines and whole-file
            changes.
        action: ``"dropped"``, ``"changed"`` or ``"added"``.
        old: the line before (empty for added lines).
        new: the line after (empty for dropped lines).
        why: the reason, with the numbers that decided it.
        kind: a stable short name (``"duplicate"``, ``"merged"``, ``"clipped"``, ``"sorted"``, ...).
    """

    file: str
    line: Optional[int]
    action: str
    old: str
    new: str
    why: str
    kind: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.action == "dropped":
            return f"{where}: dropped: {_short(self.old)}: {self.why}"
        if self.action == "added":
            return f"{where}: added: {_short(self.new)}: {self.why}"
        return f"{where}: changed: {_short(self.old)} -> {_short(self.new)}: {self.why}"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass
class FixReport:
    """What :func:`fix_data_dir` did, and the validation of the result."""

    path: str
    entries: List[FixEntry] = field(default_factory=list)
    validation: Optional[ValidationReport] = None
    backup: Optional[str] = None

    @property
    def changed(self) -> bool:
        return bool(self.entries)

    @property
    def ok(self) -> bool:
        """The fixed dir validates without errors."""
        return self.validation is None or self.validation.ok

    def find(
        self, *, kind: Optional[str] = None, file: Optional[str] = None, action: Optional[str] = None
    ) -> List[FixEntry]:
        return [
            e
            for e in self.entries
            if (kind is None or e.kind == kind)
            and (file is None or e.file == file)
            and (action is None or e.action == action)
        ]

    def count(self, *, kind: Optional[str] = None, file: Optional[str] = None, action: Optional[str] = None) -> int:
        return len(self.find(kind=kind, file=file, action=action))

    def summary(self) -> str:
        n = {a: self.count(action=a) for a in ACTIONS}
        return f"{self.path}: {n['dropped']} lines dropped, {n['changed']} changed, {n['added']} added"

    def text(self) -> str:
        return f"# {self.summary()}\n" + "".join(f"{e}\n" for e in self.entries)


@dataclass(slots=True)
class _Rec:
    """A line on its way to the output: original number, key, current text, parsed value."""

    line: Optional[int]
    key: str
    text: str
    value: Any


def fix_data_dir(
    path: PathLike,
    *,
    out_dir: Optional[PathLike] = None,
    global_speakers: bool = False,
    tolerance: float = 0.01,
    min_turn: float = 0.01,
) -> FixReport:
    """Repair a data dir (see the module docstring for every rule) and validate the result.

    Args:
        path: the data dir.
        out_dir: write the fixed dir here (the known data-dir files plus ``fix_report.txt``);
            None fixes in place, keeping the originals in ``.backup/``.
        global_speakers: passed to the final validation (speaker ids may span recordings).
        tolerance: ends up to this many seconds past the recording end are left alone (the
            validator accepts them); beyond, they are clipped.
        min_turn: segments, turns and regions shorter than this (seconds), after clipping, are
            dropped.

    Returns:
        The report; ``report.validation`` is the validation of the fixed dir (audio not
        checked), ``report.ok`` whether it has no errors.
    """
    if tolerance < 0 or not math.isfinite(tolerance):
        raise ValueError(f"tolerance must be a finite number >= 0 (seconds), got {tolerance!r}")
    if min_turn < 0 or not math.isfinite(min_turn):
        raise ValueError(f"min_turn must be a finite number >= 0 (seconds), got {min_turn!r}")
    src = Path(path)
    for name in ("wav.scp", "utt2spk"):
        if not (src / name).is_file():
            raise FileNotFoundError(f"{src}: not a data dir (no {name}); nothing to fix from")
    dst = src if out_dir is None or Path(out_dir).resolve() == src.resolve() else Path(out_dir)
    fixer = _Fixer(src, tolerance=tolerance, min_turn=min_turn)
    texts = fixer.run()
    # Report file by file, line by line; whole-file changes and added lines close each file.
    order = {name: i for i, name in enumerate(KNOWN_FILES)}
    entries = sorted(
        fixer.entries, key=lambda e: (order.get(e.file, len(order)), math.inf if e.line is None else e.line)
    )
    report = FixReport(str(dst), entries)
    if dst == src:
        changed = {n: t for n, t in texts.items() if n not in fixer.raw or fixer.raw[n].data != t.encode("utf-8")}
        if changed:
            report.backup = str(
                _backup(
                    src,
                    [n for n in KNOWN_FILES if (src / n).is_file()]
                    + ([REPORT_NAME] if (src / REPORT_NAME).is_file() else []),
                )
            )
            for name, text in changed.items():
                atomic_write_text(src / name, text)
            atomic_write_text(src / REPORT_NAME, report.text())
            logger.info("%s (originals in %s)", report.summary(), report.backup)
        else:
            logger.info("%s: nothing to fix", src)
    else:
        dst.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            atomic_write_text(dst / name, text)
        atomic_write_text(dst / REPORT_NAME, report.text())
    report.validation = validate_data_dir(dst, global_speakers=global_speakers, tolerance=tolerance, check_audio=False)
    return report


def _backup(src: Path, names: Sequence[str]) -> Path:
    backup = src / ".backup"
    k = 2
    while backup.exists():
        backup = src / f".backup.{k}"
        k += 1
    backup.mkdir()
    for name in names:
        shutil.copy2(src / name, backup / name)
    return backup


def _fmt(x: float) -> str:
    return f"{x:.3f}"


class _Fixer:
    def __init__(self, src: Path, *, tolerance: float, min_turn: float):
        self.src = src
        self.tol = tolerance
        self.min_turn = min_turn
        self.entries: List[FixEntry] = []
        self.raw: Dict[str, RawFile] = {}
        self.gone_recos: Dict[str, str] = {}  # recording -> why it left wav.scp
        self.gone_utts: Dict[str, str] = {}  # utterance -> why it left

    # ---------------------------------------------------------------- reporting
    def drop(self, file: str, rec: _Rec, kind: str, why: str) -> None:
        self.entries.append(FixEntry(file, rec.line, "dropped", rec.text, "", why, kind))

    def change(self, file: str, rec: _Rec, text: str, kind: str, why: str, value: Any = None) -> None:
        self.entries.append(FixEntry(file, rec.line, "changed", rec.text, text, why, kind))
        rec.text = text
        if value is not None:
            rec.value = value

    def add(self, file: str, rec: _Rec, kind: str, why: str) -> None:
        self.entries.append(FixEntry(file, None, "added", "", rec.text, why, kind))

    def file_change(self, file: str, line: Optional[int], old: str, new: str, kind: str, why: str) -> None:
        self.entries.append(FixEntry(file, line, "changed", old, new, why, kind))

    # ---------------------------------------------------------------- run
    def run(self) -> Dict[str, str]:
        for name in KNOWN_FILES:
            if (self.src / name).is_file():
                self.raw[name] = read_raw(self.src / name, name)
                self.fix_text(self.raw[name])
        wav = self.fix_wav()
        durs = self.fix_reco2dur(wav)
        out: Dict[str, List[_Rec]] = {"wav.scp": list(wav.values())}
        has_segments = "segments" in self.raw
        if has_segments:
            segs = self.fix_segments(wav, durs)
            u2s = self.fix_utt2spk(segs, "segments")
            self.merge_segments(segs, u2s)
            with_segs = {r.value.reco for r in segs.values()}
            for reco in [r for r in wav if r not in with_segs]:
                self.drop(
                    "wav.scp",
                    wav.pop(reco),
                    "recording_without_segments",
                    f"recording {reco!r} has no segment left; Kaldi needs one per recording",
                )
                self.gone_recos[reco] = "it has no segment left"
            out["segments"] = list(segs.values())
        else:
            u2s = self.fix_utt2spk(wav, "wav.scp")
            for reco in [r for r in wav if r not in u2s]:
                self.drop(
                    "wav.scp", wav.pop(reco), "utt_without_speaker", f"utterance {reco!r} has no speaker in utt2spk"
                )
                self.gone_recos[reco] = "it has no speaker in utt2spk"
        out["wav.scp"] = list(wav.values())
        out["utt2spk"] = list(u2s.values())
        if durs is not None:
            for reco in [r for r in durs if r not in wav]:
                self.drop("reco2dur", durs.pop(reco), "unknown_recording", self.why_unknown(reco))
            out["reco2dur"] = list(durs.values())
        out["spk2utt"] = self.rebuild_spk2utt(u2s)
        dur_of = {r: rec.value for r, rec in (durs or {}).items()}
        if "rttm" in self.raw:
            out["rttm"] = self.fix_rttm(wav, dur_of)
            if has_segments:
                self.reconcile_rttm(out["rttm"], out["segments"], u2s)
        if "uem" in self.raw:
            out["uem"] = self.fix_uem(wav, dur_of)
        utts = out["segments"] if has_segments else out["wav.scp"]
        seg_of = {r.key: r for r in utts}
        self.fix_extras(out, UTT_KEYED, seg_of, "utterance", seg_changes=has_segments)
        if has_segments:
            self.fix_extras(out, RECO_KEYED, wav, "recording")
        self.fix_extras(out, SPK_KEYED, {r.value: r for r in u2s.values()}, "speaker")
        return {name: self.compose(name, recs) for name, recs in out.items() if name in self.raw or recs}

    # ---------------------------------------------------------------- text and keys
    def fix_text(self, raw: RawFile) -> None:
        for n in raw.undecodable:
            self.entries.append(
                FixEntry(raw.name, n, "dropped", "<not UTF-8>", "", "line is not valid UTF-8", "encoding")
            )
        for n in raw.blank:
            self.entries.append(FixEntry(raw.name, n, "dropped", "", "", "blank line", "blank_line"))
        if raw.crlf:
            self.file_change(
                raw.name, raw.crlf[0], "CRLF line endings", "LF", "crlf", f"{len(raw.crlf)} lines ended with CRLF"
            )
        if not raw.final_newline:
            self.file_change(
                raw.name,
                raw.n_lines,
                "no final newline",
                "final newline",
                "final_newline",
                "the last line did not end with \\n",
            )

    def malformed(self, name: str, parsed: Parsed) -> Dict[int, List[str]]:
        """Drop the lines the format's parser could not read (problems without an entry); return
        line number -> problem codes of the lines it read, for the repairs."""
        read = {e.line.number for e in parsed.entries}
        for p in parsed.problems:
            if p.line.number not in read:
                self.entries.append(
                    FixEntry(name, p.line.number, "dropped", p.line.text, "", f"malformed: {p.message}", "malformed")
                )
        return parsed.codes()

    def keyed(
        self, name: str, parsed: Parsed, what: str, value: Callable[[Entry], Any] = lambda e: e.value
    ) -> Dict[str, _Rec]:
        """Drop malformed lines and repeated keys (the first line of a key is kept)."""
        self.malformed(name, parsed)
        kept = {p.line.number: p.value for p in parsed.problems if p.code == "duplicate_key"}
        recs: Dict[str, _Rec] = {}
        for e in parsed.entries:
            rec = _Rec(e.line.number, e.key, e.line.text, value(e))
            if e.line.number in kept:
                why = f"duplicate {what} {e.key!r}; the line {kept[e.line.number].line.number} is kept"
                self.drop(name, rec, "duplicate", why)
            else:
                recs[e.key] = rec
        return recs

    def why_unknown(self, reco: str) -> str:
        if reco in self.gone_recos:
            return f"recording {reco!r} was dropped from wav.scp: {self.gone_recos[reco]}"
        return f"recording {reco!r} is not in wav.scp"

    # ---------------------------------------------------------------- wav.scp and reco2dur
    def fix_wav(self) -> Dict[str, _Rec]:
        wav = self.keyed("wav.scp", parse_scp(self.raw["wav.scp"], what="recording id"), "recording id")
        for reco in list(wav):
            rec = wav[reco]
            if "~" not in rec.text:
                continue
            if rec.value.startswith("~") and not is_pipe(rec.value) and "~" not in rec.value[1:]:
                spec = os.path.expanduser(rec.value)
                if spec != rec.value:
                    self.change(
                        "wav.scp",
                        rec,
                        f"{reco} {spec}",
                        "tilde",
                        "'~' expanded (Kaldi does not allow it in wav.scp)",
                        spec,
                    )
                    continue
            self.drop(
                "wav.scp",
                wav.pop(reco),
                "tilde",
                "contains '~', which Kaldi does not allow in wav.scp and which cannot be expanded here",
            )
            self.gone_recos[reco] = "its entry contains '~'"
        return wav

    def fix_reco2dur(self, wav: Dict[str, _Rec]) -> Optional[Dict[str, _Rec]]:
        exists = "reco2dur" in self.raw
        durs: Dict[str, _Rec] = {}
        if exists:
            durs = self.keyed("reco2dur", parse_reco2dur(self.raw["reco2dur"]), "recording id")
        elif "segments" not in self.raw:
            return None
        missing = [r for r in wav if r not in durs]
        found: Dict[str, float] = {}
        failed: Dict[str, str] = {}
        for reco in missing:
            spec = wav[reco].value
            if is_pipe(spec) or ark_offset(spec):
                failed[reco] = "its audio is a pipe or an archive entry, whose header is not read here"
                continue
            try:
                found[reco] = audio_info(spec).duration
            except (FileNotFoundError, ValueError) as e:
                failed[reco] = str(e)
        if not exists and failed:
            logger.warning(
                "%s: no reco2dur and %d recordings without a readable header; reco2dur not created",
                self.src,
                len(failed),
            )
            return None
        for reco, dur in found.items():
            rec = _Rec(None, reco, f"{reco} {f'{dur:.6f}'.rstrip('0').rstrip('.')}", dur)
            durs[reco] = rec
            self.add("reco2dur", rec, "duration_from_audio", "duration read from the audio header")
        for reco, why in failed.items():
            self.drop("wav.scp", wav.pop(reco), "missing_duration", f"no duration in reco2dur, and {why}")
            self.gone_recos[reco] = "it has no duration"
        return durs

    # ---------------------------------------------------------------- times
    def judge(
        self, start: float, end: float, dur: Optional[float], what: str, reco: str, codes: Sequence[str] = ()
    ) -> Tuple[Optional[Tuple[float, float]], str, str]:
        """Decide one time span: ``(None, kind, why)`` to drop, ``((start, end), kind, why)`` to
        keep (kind "" when unchanged). ``codes``: the format parser's problems of its line
        (``end_not_after_start`` drops it, ``negative_start`` moves the start to 0)."""
        if "end_not_after_start" in codes:
            return None, "end_not_after_start", f"end {end} <= start {start}"
        if dur is not None and start >= dur:
            return (
                None,
                "past_end",
                f"{what} starts at {start:.3f}s, at or after the end of recording {reco!r} ({dur:.3f}s)",
            )
        why = []
        new_start, new_end = start, end
        if "negative_start" in codes:
            new_start = 0.0
            why.append(f"start {start} < 0 moved to 0")
        if dur is not None and end > dur + self.tol + FLOAT_EPS:
            new_end = floor_ms(dur)
            why.append(
                f"ended {end - dur:.3f}s past the end of recording {reco!r} ({dur:.3f}s); clipped to {new_end:.3f}s"
            )
        if new_end - new_start < self.min_turn - FLOAT_EPS:
            if why:
                return (
                    None,
                    "past_end" if new_end != end else "negative_start",
                    "; ".join(why)
                    + f", leaving {max(new_end - new_start, 0):.3f}s, less than min_turn {self.min_turn}s",
                )
            return None, "too_short", f"{end - start:.3f}s long, shorter than min_turn {self.min_turn}s"
        if why:
            return (new_start, new_end), "clipped", "; ".join(why)
        return (start, end), "", ""

    # ---------------------------------------------------------------- segments and speakers
    def fix_segments(self, wav: Dict[str, _Rec], durs: Optional[Dict[str, _Rec]]) -> Dict[str, _Rec]:
        parsed = parse_segments(self.raw["segments"])
        codes = parsed.codes()
        segs = self.keyed("segments", parsed, "utterance id")
        for utt in list(segs):
            rec = segs[utt]
            s: Segment = rec.value
            if s.reco not in wav:
                self.drop("segments", segs.pop(utt), "unknown_recording", self.why_unknown(s.reco))
                self.gone_utts[utt] = f"its segment was dropped (segments:{rec.line})"
                continue
            dur = durs[s.reco].value if durs is not None and s.reco in durs else None
            span, kind, why = self.judge(s.start, s.end, dur, f"utterance {utt!r}", s.reco, codes.get(rec.line, ()))
            if span is None:
                self.drop("segments", segs.pop(utt), kind, why)
                self.gone_utts[utt] = f"its segment was dropped (segments:{rec.line})"
            elif kind:
                new = Segment(utt, s.reco, span[0], span[1])
                self.change("segments", rec, f"{utt} {s.reco} {_fmt(new.start)} {_fmt(new.end)}", kind, why, new)
        return segs

    def fix_utt2spk(self, utts: Dict[str, _Rec], source: str) -> Dict[str, _Rec]:
        if "utt2spk" in self.raw:
            parsed = parse_keyed(self.raw["utt2spk"], min_fields=2, max_fields=2, what="utterance id")
            u2s = self.keyed("utt2spk", parsed, "utterance id", value=lambda e: e.value[0])
        else:
            u2s = {}
        for utt in [u for u in u2s if u not in utts]:
            if utt in self.gone_utts:
                self.drop("utt2spk", u2s.pop(utt), "segment_dropped", f"utterance {utt!r}: {self.gone_utts[utt]}")
            else:
                self.drop("utt2spk", u2s.pop(utt), "utt_unknown", f"utterance {utt!r} is not in {source}")
        if source == "segments":
            for utt in [u for u in utts if u not in u2s]:
                self.drop(
                    "segments", utts.pop(utt), "utt_without_speaker", f"utterance {utt!r} has no speaker in utt2spk"
                )
                self.gone_utts[utt] = "it has no speaker in utt2spk"
        return u2s

    def merge_segments(self, segs: Dict[str, _Rec], u2s: Dict[str, _Rec]) -> None:
        groups: Dict[Tuple[str, str], List[_Rec]] = {}
        for rec in segs.values():
            groups.setdefault((rec.value.reco, u2s[rec.key].value), []).append(rec)
        for (_reco, spk), group in groups.items():
            group.sort(key=lambda r: (r.value.start, r.value.end, r.line))
            for keeper, absorbed, end in _runs(group, lambda r: r.value.start, lambda r: r.value.end):
                for r in absorbed:
                    self.drop(
                        "segments",
                        segs.pop(r.key),
                        "merged",
                        f"overlaps utterance {keeper.key!r} (line {keeper.line}) of the same speaker {spk!r}; merged into it",
                    )
                    self.drop(
                        "utt2spk",
                        u2s.pop(r.key),
                        "merged",
                        f"its segment (segments:{r.line}) was merged into utterance {keeper.key!r}",
                    )
                    self.gone_utts[r.key] = f"its segment was merged into {keeper.key!r}"
                if end > keeper.value.end:
                    s = keeper.value
                    new = Segment(s.utt, s.reco, s.start, end)
                    lines = ", ".join(str(r.line) for r in absorbed)
                    self.change(
                        "segments",
                        keeper,
                        f"{s.utt} {s.reco} {_fmt(s.start)} {_fmt(end)}",
                        "merged_extended",
                        f"merged with the overlapping segments of lines {lines} (same speaker {spk!r})",
                        new,
                    )

    def rebuild_spk2utt(self, u2s: Dict[str, _Rec]) -> List[_Rec]:
        expected = utt2spk_to_spk2utt({u: r.value for u, r in u2s.items()})
        old: Dict[str, _Rec] = {}
        if "spk2utt" in self.raw:
            parsed = parse_keyed(self.raw["spk2utt"], min_fields=2, what="speaker id")
            old = self.keyed("spk2utt", parsed, "speaker id", value=lambda e: list(e.value))
        out = []
        for spk, rec in old.items():
            if spk not in expected:
                self.drop("spk2utt", rec, "spk2utt_rebuilt", f"speaker {spk!r} has no utterance in utt2spk")
                continue
            want = expected[spk]
            text = " ".join([spk] + want)
            if rec.text != text:
                gone = [u for u in rec.value if u not in set(want)]
                new = [u for u in want if u not in set(rec.value)]
                detail = (
                    ", ".join(
                        p for p in (f"removed {len(gone)}" if gone else "", f"added {len(new)}" if new else "") if p
                    )
                    or "reordered or respaced"
                )
                self.change("spk2utt", rec, text, "spk2utt_rebuilt", f"rebuilt from utt2spk ({detail})", want)
            out.append(rec)
        for spk, want in expected.items():
            if spk not in old:
                rec = _Rec(None, spk, " ".join([spk] + want), want)
                self.add("spk2utt", rec, "spk2utt_rebuilt", "rebuilt from utt2spk")
                out.append(rec)
        return out

    # ---------------------------------------------------------------- rttm and uem
    def fix_rttm(self, wav: Dict[str, _Rec], dur_of: Dict[str, float]) -> List[_Rec]:
        parsed = parse_rttm(self.raw["rttm"])
        codes = self.malformed("rttm", parsed)
        for ln in parsed.other:
            self.entries.append(
                FixEntry(
                    "rttm",
                    ln.number,
                    "dropped",
                    ln.text,
                    "",
                    "not a SPEAKER line (a comment or another RTTM type); the data dir's rttm holds turns only",
                    "not_speaker_line",
                )
            )
        recs: List[_Rec] = []
        for e in parsed.entries:
            t: Turn = e.value.turn
            rec = _Rec(e.line.number, t.reco, e.line.text, t)
            if t.reco not in wav:
                self.drop("rttm", rec, "unknown_recording", self.why_unknown(t.reco))
                continue
            span, kind, why = self.judge(
                t.onset, t.end, dur_of.get(t.reco), f"turn of {t.speaker!r}", t.reco, codes.get(rec.line, ())
            )
            if span is None:
                self.drop("rttm", rec, kind, why)
                continue
            fix_format = e.value.n_fields != 10 or t.channel != "1"
            if fix_format:
                fmt_why = f"{e.value.n_fields} fields" if e.value.n_fields != 10 else ""
                fmt_why += (", " if fmt_why else "") + (f"channel {t.channel!r}" if t.channel != "1" else "")
                fmt_why = f"normalised to 10 fields, channel 1 (was {fmt_why})"
            new = Turn(reco=t.reco, onset=span[0], duration=span[1] - span[0], speaker=t.speaker, channel="1")
            if kind:
                self.change("rttm", rec, format_turn(new), kind, why + (f"; {fmt_why}" if fix_format else ""), new)
            elif fix_format:
                f = list(e.line.fields) + ["<NA>"] * (10 - len(e.line.fields))
                f[2] = "1"
                self.change("rttm", rec, " ".join(f), "rttm_format", fmt_why, new)
            recs.append(rec)
        groups: Dict[Tuple[str, str], List[_Rec]] = {}
        for rec in recs:
            groups.setdefault((rec.key, rec.value.speaker), []).append(rec)
        gone = set()
        for (_reco, spk), group in groups.items():
            group.sort(key=lambda r: (r.value.onset, r.value.end, r.line))
            for keeper, absorbed, end in _runs(group, lambda r: r.value.onset, lambda r: r.value.end):
                for r in absorbed:
                    same = (
                        abs(r.value.onset - keeper.value.onset) <= FLOAT_EPS
                        and abs(r.value.end - keeper.value.end) <= FLOAT_EPS
                    )
                    why = (
                        f"duplicate of the turn at line {keeper.line}"
                        if same
                        else f"overlaps the turn at line {keeper.line} of the same speaker {spk!r}; merged into it"
                    )
                    self.drop("rttm", r, "merged", why)
                    gone.add(id(r))
                if end > keeper.value.end:
                    t = keeper.value
                    new = Turn(reco=t.reco, onset=t.onset, duration=end - t.onset, speaker=t.speaker, channel="1")
                    lines = ", ".join(str(r.line) for r in absorbed)
                    self.change(
                        "rttm",
                        keeper,
                        format_turn(new),
                        "merged_extended",
                        f"merged with the overlapping turns of lines {lines} (same speaker {spk!r})",
                        new,
                    )
        return [r for r in recs if id(r) not in gone]

    def reconcile_rttm(self, turns: List[_Rec], segs: List[_Rec], u2s: Dict[str, _Rec]) -> None:
        """Make rttm == segments + utt2spk (the dir's labels): drop turns without a segment, add a
        turn for each segment without one."""
        spans_s = [(r.value.reco, u2s[r.key].value, r.value.start, r.value.end) for r in segs]
        spans_t = [(r.value.reco, r.value.speaker, r.value.onset, r.value.end) for r in turns]
        lone_s, lone_t = match_spans(spans_s, spans_t)
        for j in reversed(lone_t):
            reco, spk, start, end = spans_t[j]
            self.drop(
                "rttm",
                turns.pop(j),
                "rttm_without_segment",
                f"no segment of speaker {spk!r} from {start:.3f}s to {end:.3f}s in segments + utt2spk, which the rttm must equal",
            )
        for i in lone_s:
            reco, spk, start, end = spans_s[i]
            t = Turn(reco=reco, onset=start, duration=end - start, speaker=spk)
            rec = _Rec(None, reco, format_turn(t), t)
            self.add(
                "rttm",
                rec,
                "rttm_from_segment",
                f"turn of utterance {segs[i].key!r} (segments:{segs[i].line}), which had none in rttm",
            )
            turns.append(rec)

    def fix_uem(self, wav: Dict[str, _Rec], dur_of: Dict[str, float]) -> List[_Rec]:
        parsed = parse_uem(self.raw["uem"])
        codes = self.malformed("uem", parsed)
        for ln in parsed.other:
            self.entries.append(FixEntry("uem", ln.number, "dropped", ln.text, "", "comment line", "comment"))
        recs: List[_Rec] = []
        seen: Dict[Tuple[str, float, float], int] = {}
        for e in parsed.entries:
            u: UemSegment = e.value
            rec = _Rec(e.line.number, u.reco, e.line.text, u)
            if u.reco not in wav:
                self.drop("uem", rec, "unknown_recording", self.why_unknown(u.reco))
                continue
            span, kind, why = self.judge(
                u.onset, u.end, dur_of.get(u.reco), "scored region", u.reco, codes.get(rec.line, ())
            )
            if span is None:
                self.drop("uem", rec, kind, why)
                continue
            k = (u.reco, span[0], span[1])
            if k in seen:
                self.drop("uem", rec, "duplicate", f"same region as line {seen[k]}")
                continue
            seen[k] = rec.line
            if kind:
                new = UemSegment(u.reco, span[0], span[1], u.channel)
                self.change("uem", rec, f"{u.reco} {u.channel} {_fmt(span[0])} {_fmt(span[1])}", kind, why, new)
            recs.append(rec)
        return recs

    # ---------------------------------------------------------------- other keyed files
    def fix_extras(
        self,
        out: Dict[str, List[_Rec]],
        files: Dict[str, int],
        ids: Dict[str, Any],
        what: str,
        seg_changes: bool = False,
    ) -> None:
        for name, min_fields in files.items():
            if name not in self.raw:
                continue
            parsed = parse_keyed(
                self.raw[name], min_fields=min_fields, max_fields=0 if name == "text" else min_fields, what=f"{what} id"
            )
            recs = self.keyed(name, parsed, f"{what} id")
            for k in [k for k in recs if k not in ids]:
                self.drop(name, recs.pop(k), "unknown_id", f"{what} {k!r} is not in the fixed data dir")
            if seg_changes and name == "utt2dur":
                for k, rec in recs.items():
                    s = ids[k].value
                    if isinstance(s, Segment):
                        d = s.end - s.start
                        x = number(rec.value[0])
                        if x is None or abs(x - d) > TIME_EPS:
                            self.change(
                                name, rec, f"{k} {_fmt(d)}", "utt2dur_updated", "duration of the (changed) segment"
                            )
            out[name] = list(recs.values())

    # ---------------------------------------------------------------- output
    def compose(self, name: str, recs: List[_Rec]) -> str:
        if name == "rttm":
            key: Callable[[_Rec], Any] = lambda r: turn_key(r.value)  # noqa: E731
        elif name == "uem":
            key = lambda r: (c_sort_key(r.key), r.value.onset, r.value.end)  # noqa: E731
        else:
            key = lambda r: c_sort_key(r.key)  # noqa: E731
        ordered = sorted(recs, key=key)
        # Lines of the original file that changed places (added lines take their place silently:
        # they are reported as added).
        kept = [r.line for r in ordered if r.line is not None]
        moved = sum(1 for a, b in zip(kept, sorted(kept), strict=True) if a != b)
        if moved:
            order = (
                "recording, onset, speaker"
                if name == "rttm"
                else "recording, onset"
                if name == "uem"
                else "C-locale order of column 1"
            )
            self.file_change(name, None, "unsorted", "sorted", "sorted", f"{moved} lines moved into {order}")
        text = "".join(r.text + "\n" for r in ordered)
        raw = self.raw.get(name)
        if raw is not None and raw.data != text.encode("utf-8") and not any(e.file == name for e in self.entries):
            # Safety net: nothing may change without a report line.
            self.file_change(
                name, None, "original text", "rewritten text", "rewritten", "rewritten without a line-level change"
            )
        return text


def _runs(group: List[_Rec], start: Callable[[_Rec], float], end: Callable[[_Rec], float]):
    """Yield ``(keeper, absorbed, run_end)`` for each run of spans (sorted by start) that overlap
    by more than TIME_EPS; ``absorbed`` is empty for a span that overlaps nothing."""
    keeper, absorbed, run_end = group[0], [], end(group[0])
    for r in group[1:]:
        if overlaps(run_end, start(r)):
            absorbed.append(r)
            run_end = max(run_end, end(r))
        else:
            yield keeper, absorbed, run_end
            keeper, absorbed, run_end = r, [], end(r)
    yield keeper, absorbed, run_end
