"""Check a Kaldi-style data dir: every rule of Kaldi's ``validate_data_dir.sh --no-text --no-feats``
plus the ones of our preprocessing standard (docs/preprocessing.md).

Kaldi's rules (docs/formats.md): every file C-locale sorted and unique on column 1 and ending
with ``\\n``; utt2spk with 2 fields and also sorted by speaker; spk2utt equal,
byte for byte, to the inverse of utt2spk; wav.scp without ``~`` and keyed by recording when
``segments`` exists; segments with 4 fields and end > start, utterance ids equal to utt2spk's,
recordings equal to the wav.scp keys; reco2dur with 2 fields, durations > 0, ids equal to the
recordings. Ours: segments inside ``[0, duration + tolerance]`` (the overshoot reported); no
overlapping segments of one speaker (an overlap up to ``formats.times.TIME_EPS`` is rounding:
the turns only touch); speaker ids unique across recordings unless the corpus has
global ids; rttm turns valid, inside the recordings and equal to segments + utt2spk; uem regions
of known recordings inside the recordings; every audio file present with the expected sample
rate and channel count.

Every problem names the file, the line (when one line is to blame) and what was expected. Each
file is parsed by its format's one parser (``formats.kaldi``, ``formats.rttm``, ``formats.uem``),
the same the readers use: where a reader stops at the first problem, the validator reports every
one and keeps checking, so one run lists everything and a dir it accepts is one the readers read.

Usage::

    from espnet2_tsdia.data.validate import validate_data_dir
    report = validate_data_dir("data/train", expected_fs=8000)
    print(report.text())
    assert report.ok
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.audio.info import ark_offset, audio_info, is_pipe
from espnet2_tsdia.formats.kaldi import Segment, c_sort_key, parse_keyed, parse_reco2dur, parse_scp, parse_segments
from espnet2_tsdia.formats.rttm import Turn, parse_rttm
from espnet2_tsdia.formats.text import Entry, LineProblem, Parsed, RawFile, number, read_raw
from espnet2_tsdia.formats.times import FLOAT_EPS, TIME_EPS, overlaps
from espnet2_tsdia.formats.uem import UemSegment, parse_uem

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SEVERITIES = ("error", "warning", "info")

#: At most this many problems of one kind per file are listed; the rest are counted in one line.
MAX_PER_KIND = 50

#: Files keyed by utterance (besides utt2spk and segments) and the fields per line they need.
UTT_KEYED = {"utt2dur": 2, "utt2num_frames": 2, "text": 1, "feats.scp": 2}
#: Files keyed by recording (besides wav.scp and reco2dur).
RECO_KEYED = {"reco2file_and_channel": 3}
#: Files keyed by speaker (besides spk2utt).
SPK_KEYED = {"spk2gender": 2}
#: Files whose missing final newline or CRLF only warrants a warning: the scoring tools read them.
LENIENT_TEXT = ("rttm", "uem")
#: Every file the validator and fixer know.
KNOWN_FILES = (
    ("wav.scp", "segments", "utt2spk", "spk2utt", "reco2dur", "rttm", "uem")
    + tuple(UTT_KEYED)
    + tuple(RECO_KEYED)
    + tuple(SPK_KEYED)
)


# --------------------------------------------------------------------------- report
@dataclass(frozen=True)
class Problem:
    """One finding.

    Args:
        severity: ``"error"`` (the dir is not usable), ``"warning"`` (usable, but probably not
            what was meant) or ``"info"`` (a fact worth knowing, e.g. an entry not checked).
        file: the file's path, or the dir's.
        line: 1-based line number, None when no single line is to blame.
        message: what is wrong and what was expected.
        code: a stable short name of the kind of problem (``"unsorted"``, ``"past_end"``, ...).
    """

    severity: str
    file: str
    line: Optional[int]
    message: str
    code: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"


@dataclass
class ValidationReport:
    """All problems of one data dir; ``ok`` is True iff there is no error."""

    path: str
    problems: List[Problem] = field(default_factory=list)

    def _of(self, severity: str) -> List[Problem]:
        return [p for p in self.problems if p.severity == severity]

    @property
    def errors(self) -> List[Problem]:
        return self._of("error")

    @property
    def warnings(self) -> List[Problem]:
        return self._of("warning")

    @property
    def infos(self) -> List[Problem]:
        return self._of("info")

    @property
    def ok(self) -> bool:
        return not self.errors

    def usable(self, *, strict: bool = False) -> bool:
        """No errors; with ``strict`` no warnings either."""
        return self.ok and not (strict and self.warnings)

    def find(
        self, *, code: Optional[str] = None, file: Optional[str] = None, severity: Optional[str] = None
    ) -> List[Problem]:
        """Problems matching all given criteria; ``file`` matches the file name (``"segments"``)."""
        return [
            p
            for p in self.problems
            if (code is None or p.code == code)
            and (file is None or Path(p.file).name == file)
            and (severity is None or p.severity == severity)
        ]

    def summary(self, *, strict: bool = False) -> str:
        verdict = "usable" if self.usable(strict=strict) else "NOT usable"
        return (
            f"{self.path}: {len(self.errors)} errors, {len(self.warnings)} warnings, {len(self.infos)} notes: {verdict}"
        )

    def text(self, *, strict: bool = False) -> str:
        return "".join(f"{p}\n" for p in self.problems) + self.summary(strict=strict) + "\n"


def out_of_order(
    entries: Sequence[Entry], key: Callable[[Entry], Any] = lambda e: c_sort_key(e.key)
) -> List[Tuple[Entry, Entry]]:
    """Every entry that sorts strictly before the one above it, with that one."""
    return [(b, a) for a, b in itertools.pairwise(entries) if key(b) < key(a)]


def turn_key(t: Turn) -> Tuple[bytes, float, bytes, float]:
    """The order of turns in a written rttm: recording, onset, speaker, duration."""
    return (c_sort_key(t.reco), t.onset, c_sort_key(t.speaker), t.duration)


Span = Tuple[str, str, float, float]


def match_spans(a: Sequence[Span], b: Sequence[Span], *, eps: float = TIME_EPS) -> Tuple[List[int], List[int]]:
    """Pair ``(reco, speaker, start, end)`` spans of ``a`` and ``b`` whose starts and ends agree
    within ``eps``; return the indices left without a partner in ``a`` and in ``b`` (sorted)."""
    groups: Dict[Tuple[str, str], Tuple[List[int], List[int]]] = {}
    for i, s in enumerate(a):
        groups.setdefault((s[0], s[1]), ([], []))[0].append(i)
    for j, s in enumerate(b):
        groups.setdefault((s[0], s[1]), ([], []))[1].append(j)
    lone_a: List[int] = []
    lone_b: List[int] = []
    for ia, ib in groups.values():
        ia.sort(key=lambda i: (a[i][2], a[i][3]))
        ib.sort(key=lambda j: (b[j][2], b[j][3]))
        starts = [b[j][2] for j in ib]
        used = [False] * len(ib)
        for i in ia:
            found = None
            for k in range(bisect.bisect_left(starts, a[i][2] - eps), len(ib)):
                if starts[k] > a[i][2] + eps:
                    break
                if not used[k] and abs(b[ib[k]][3] - a[i][3]) <= eps:
                    found = k
                    break
            if found is None:
                lone_a.append(i)
            else:
                used[found] = True
        lone_b += [ib[k] for k in range(len(ib)) if not used[k]]
    return sorted(lone_a), sorted(lone_b)


# --------------------------------------------------------------------------- the checker
class _Sink:
    """Collects problems, listing at most MAX_PER_KIND of one (file, code, severity)."""

    def __init__(self, report: ValidationReport):
        self.report = report
        self.counts: Dict[Tuple[str, str, str], int] = {}

    def add(self, severity: str, file: PathLike, line: Optional[int], code: str, message: str) -> None:
        k = (str(file), code, severity)
        self.counts[k] = self.counts.get(k, 0) + 1
        if self.counts[k] <= MAX_PER_KIND:
            self.report.problems.append(Problem(severity, str(file), line, message, code))

    def close(self) -> None:
        for (file, code, severity), n in self.counts.items():
            if n > MAX_PER_KIND:
                self.report.problems.append(
                    Problem(
                        severity,
                        file,
                        None,
                        f"{n - MAX_PER_KIND} more problems of kind {code!r} not listed ({n} in all)",
                        code,
                    )
                )


def validate_data_dir(
    path: PathLike,
    *,
    expected_fs: Optional[int] = None,
    expected_channels: Optional[int] = 1,
    global_speakers: bool = False,
    tolerance: float = 0.01,
    check_audio: bool = True,
    check_pipes: bool = False,
) -> ValidationReport:
    """Check a data dir and return every problem found.

    Args:
        path: the data dir.
        expected_fs: every audio file must have this sample rate (Hz); None: not checked.
        expected_channels: every audio file must have this many channels; None: not checked.
        global_speakers: the corpus's speaker ids are global (AMI, ICSI), so one speaker may
            appear in several recordings; by default that is an error (local labels that were
            not prefixed with the recording id).
        tolerance: segments, turns and uem regions may end this many seconds past the recording
            end (reported as a note); beyond it, an error.
        check_audio: open every wav.scp file's header (existence, rate, channels, duration).
        check_pipes: also run ``cmd |`` entries and read the WAV header from their output;
            otherwise they are noted as not checked.

    Returns:
        The report; ``report.ok`` is True iff there is no error.
    """
    if tolerance < 0 or not math.isfinite(tolerance):
        raise ValueError(f"tolerance must be a finite number >= 0 (seconds), got {tolerance!r}")
    if expected_fs is not None and expected_fs <= 0:
        raise ValueError(f"expected_fs must be > 0 or None, got {expected_fs!r}")
    if expected_channels is not None and expected_channels <= 0:
        raise ValueError(f"expected_channels must be > 0 or None, got {expected_channels!r}")
    path = Path(path)
    report = ValidationReport(str(path))
    sink = _Sink(report)
    if not path.is_dir():
        sink.add("error", path, None, "missing_dir", "not a directory")
    else:
        _Checker(
            path,
            sink,
            expected_fs=expected_fs,
            expected_channels=expected_channels,
            global_speakers=global_speakers,
            tolerance=tolerance,
            check_audio=check_audio,
            check_pipes=check_pipes,
        ).run()
    sink.close()
    return report


class _Checker:
    def __init__(self, path: Path, sink: _Sink, **opts: Any):
        self.dir = path
        self.sink = sink
        self.o = opts
        self.raw: Dict[str, RawFile] = {}

    # ---------------------------------------------------------------- helpers
    def f(self, name: str) -> Path:
        return self.dir / name

    def err(self, name: str, line: Optional[int], code: str, msg: str) -> None:
        self.sink.add("error", self.f(name), line, code, msg)

    def warn(self, name: str, line: Optional[int], code: str, msg: str) -> None:
        self.sink.add("warning", self.f(name), line, code, msg)

    def note(self, name: str, line: Optional[int], code: str, msg: str) -> None:
        self.sink.add("info", self.f(name), line, code, msg)

    def bad(self, name: str, problems: Iterable[LineProblem]) -> None:
        """Every problem of the format's parser is an error."""
        for p in problems:
            self.err(name, p.line.number, p.code, p.message)

    def keyed(self, name: str, parsed: Parsed) -> Dict[str, Entry]:
        """Report the parser's problems and the order of column 1; returns the first entry per key."""
        self.bad(name, parsed.problems)
        entries = parsed.entries
        wrong = out_of_order(entries)
        if wrong:
            b, a = wrong[0]
            more = f" ({len(wrong)} lines out of order in all)" if len(wrong) > 1 else ""
            self.err(
                name,
                b.line.number,
                "unsorted",
                f"not sorted: {b.key!r} comes after {a.key!r} (line {a.line.number}); expected C-locale order (LC_ALL=C sort -k1,1){more}",
            )
        return parsed.first_by_key()

    # ---------------------------------------------------------------- the run
    def run(self) -> None:
        for name in KNOWN_FILES:
            if self.f(name).is_file():
                self.raw[name] = read_raw(self.f(name), name)
        for name in ("wav.scp", "utt2spk", "spk2utt"):
            if name not in self.raw:
                self.err(name, None, "missing_file", f"missing: a data dir needs {name}")
            elif not self.raw[name].lines:
                self.err(name, None, "empty_file", "empty: expected at least one line")
        for raw in self.raw.values():
            self.check_text(raw)
        self.check_recordings()
        self.check_speakers()
        self.check_rttm()
        self.check_uem()
        self.check_extras()
        if self.o["check_audio"]:
            self.check_audio()

    def check_text(self, raw: RawFile) -> None:
        severity = "warning" if raw.name in LENIENT_TEXT else "error"
        add = lambda line, code, msg: self.sink.add(severity, self.f(raw.name), line, code, msg)  # noqa: E731
        for n in raw.undecodable:
            self.err(raw.name, n, "encoding", "not valid UTF-8")
        if raw.crlf:
            add(
                raw.crlf[0],
                "crlf",
                f"{len(raw.crlf)} lines end with CRLF; expected LF line endings (Kaldi tools read the \\r as part of the last field)",
            )
        if not raw.final_newline:
            why = (
                "scoring tools read it, but our files end with one"
                if raw.name in LENIENT_TEXT
                else "Kaldi's validate_data_dir.sh rejects it"
            )
            add(
                raw.n_lines,
                "final_newline",
                f"the last line has no final newline; expected every line to end with \\n ({why})",
            )
        for n in raw.blank:
            add(n, "blank_line", "blank line; expected one entry per line")

    # ---------------------------------------------------------------- recordings, segments, durations
    def check_recordings(self) -> None:
        wav = parse_scp(self.raw["wav.scp"], what="recording id") if "wav.scp" in self.raw else Parsed()
        self.wav = self.keyed("wav.scp", wav)
        for e in self.wav.values():
            if "~" in e.line.text:
                self.err(
                    "wav.scp",
                    e.line.number,
                    "tilde",
                    f"contains '~': Kaldi does not allow it in wav.scp (write the path out): {e.line.text!r}",
                )
        self.has_segments = "segments" in self.raw
        self.segs: Dict[str, Entry] = {}
        if self.has_segments:
            self.segs = self.keyed("segments", parse_segments(self.raw["segments"]))
            for e in self.segs.values():
                s: Segment = e.value
                if s.reco not in self.wav:
                    self.err(
                        "segments",
                        e.line.number,
                        "unknown_recording",
                        f"recording {s.reco!r} of utterance {s.utt!r} is not in wav.scp",
                    )
            recos_with_segs = {e.value.reco for e in self.segs.values()}
            for r, e in self.wav.items():
                if r not in recos_with_segs:
                    self.err(
                        "wav.scp",
                        e.line.number,
                        "recording_without_segments",
                        f"recording {r!r} has no line in segments; Kaldi needs the recordings of segments to equal the wav.scp keys",
                    )
        self.dur: Dict[str, float] = {}
        if "reco2dur" in self.raw:
            first = self.keyed("reco2dur", parse_reco2dur(self.raw["reco2dur"]))
            for r, e in first.items():
                if r not in self.wav:
                    self.err(
                        "reco2dur",
                        e.line.number,
                        "unknown_recording",
                        f"recording {r!r} is not in wav.scp; expected the same ids as wav.scp",
                    )
                else:
                    self.dur[r] = e.value
            self.dur_lines = {r: e.line.number for r, e in first.items()}
            for r, e in self.wav.items():
                if r not in first:
                    self.err(
                        "wav.scp",
                        e.line.number,
                        "missing_duration",
                        f"recording {r!r} has no line in reco2dur; expected the same ids as wav.scp",
                    )
        elif self.has_segments:
            self.warn(
                "reco2dur",
                None,
                "missing_file",
                "missing: segments cannot be checked against the recording lengths (unless the audio is checked), and EEND-style loaders need reco2dur",
            )
        if self.has_segments:
            for e in self.segs.values():
                s = e.value
                self.check_inside("segments", e.line.number, f"utterance {s.utt!r}", s.reco, s.start, s.end)

    def check_inside(self, name: str, line: int, what: str, reco: str, start: float, end: float) -> None:
        """Against the duration known from reco2dur (audio durations are checked later)."""
        dur = self.dur.get(reco)
        if dur is None:
            return
        self.inside(name, line, what, reco, start, end, dur, "reco2dur")

    def inside(
        self, name: str, line: int, what: str, reco: str, start: float, end: float, dur: float, source: str
    ) -> None:
        tol = self.o["tolerance"]
        if start >= dur:
            self.err(
                name,
                line,
                "past_end",
                f"{what} starts at {start:.3f}s, at or after the end of recording {reco!r} ({dur:.3f}s per {source})",
            )
        elif end > dur + tol + FLOAT_EPS:
            self.err(
                name,
                line,
                "past_end",
                f"{what} ends at {end:.3f}s, {end - dur:.3f}s past the end of recording {reco!r} ({dur:.3f}s per {source}); tolerance {tol}s",
            )
        elif end > dur + FLOAT_EPS:
            self.note(
                name,
                line,
                "past_end_within_tolerance",
                f"{what} ends at {end:.3f}s, {end - dur:.3f}s past the end of recording {reco!r} ({dur:.3f}s per {source}); within the tolerance {tol}s",
            )

    # ---------------------------------------------------------------- speakers
    def check_speakers(self) -> None:
        self.u2s: Dict[str, Entry] = {}
        if "utt2spk" in self.raw:
            parsed = parse_keyed(self.raw["utt2spk"], min_fields=2, max_fields=2, what="utterance id")
            self.u2s = self.keyed("utt2spk", parsed)
            self.check_speaker_order(parsed.entries)
        utts = self.segs if self.has_segments else self.wav
        where = "segments" if self.has_segments else "wav.scp"
        for u, e in utts.items():
            if u not in self.u2s and "utt2spk" in self.raw:
                self.err(
                    where,
                    e.line.number,
                    "utt_without_speaker",
                    f"utterance {u!r} has no line in utt2spk; expected the same utterance ids in {where} and utt2spk",
                )
        for u, e in self.u2s.items():
            if u not in utts:
                self.err(
                    "utt2spk",
                    e.line.number,
                    "utt_unknown",
                    f"utterance {u!r} is not in {where}; expected the same utterance ids in {where} and utt2spk",
                )
        self.check_spk2utt()
        if self.has_segments:
            self.check_overlaps()
            self.check_speaker_recordings()

    def check_speaker_order(self, entries: List[Entry]) -> None:
        wrong = out_of_order(entries, key=lambda e: c_sort_key(e.value[0]))
        if wrong:
            b, a = wrong[0]
            self.err(
                "utt2spk",
                b.line.number,
                "utt2spk_not_sorted_by_speaker",
                f"not sorted by speaker (Kaldi checks LC_ALL=C sort -k2 -C): speaker {b.value[0]!r} of utterance {b.key!r} comes after speaker {a.value[0]!r} (line {a.line.number}); "
                f"make the speaker id a prefix of the utterance id ({len(wrong)} such lines)",
            )
        not_prefixed = [e for e in entries if not e.key.startswith(e.value[0])]
        if not_prefixed:
            e = not_prefixed[0]
            self.warn(
                "utt2spk",
                e.line.number,
                "speaker_not_prefix",
                f"utterance {e.key!r} does not start with its speaker id {e.value[0]!r} ({len(not_prefixed)} such lines); the convention is <speaker>-<recording>-<start>-<end>",
            )
        speakers = {e.value[0] for e in entries}
        if len(speakers) == 1:
            self.warn(
                "utt2spk",
                None,
                "single_speaker",
                f"only one speaker ({next(iter(speakers))!r}); Kaldi warns about this",
            )

    def check_spk2utt(self) -> None:
        if "spk2utt" not in self.raw or "utt2spk" not in self.raw:
            return
        expected: Dict[str, List[str]] = {}
        for u, e in self.u2s.items():  # file order, as utt2spk_to_spk2utt.pl reads it
            expected.setdefault(e.value[0], []).append(u)
        first = self.keyed("spk2utt", parse_keyed(self.raw["spk2utt"], min_fields=2, what="speaker id"))
        for spk, e in first.items():
            got = list(e.value)
            if spk not in expected:
                self.err(
                    "spk2utt",
                    e.line.number,
                    "spk2utt_mismatch",
                    f"speaker {spk!r} has no utterance in utt2spk; expected spk2utt to be the inverse of utt2spk",
                )
                continue
            want = expected[spk]
            if got != want:
                missing = [u for u in want if u not in set(got)]
                extra = [u for u in got if u not in set(want)]
                if missing or extra:
                    detail = "; ".join(
                        part
                        for part in (
                            f"missing {_few(missing)}" if missing else "",
                            f"not in utt2spk for this speaker: {_few(extra)}" if extra else "",
                        )
                        if part
                    )
                else:
                    detail = "same utterances, different order"
                self.err(
                    "spk2utt",
                    e.line.number,
                    "spk2utt_mismatch",
                    f"speaker {spk!r}: {detail}; expected the inverse of utt2spk ({len(want)} utterances in utt2spk order)",
                )
            elif e.line.text != " ".join(e.line.fields):
                self.err(
                    "spk2utt",
                    e.line.number,
                    "spk2utt_spacing",
                    "fields must be separated by single spaces (Kaldi compares spk2utt with the inverse of utt2spk byte for byte)",
                )
        u2s_line = {}
        for e in self.u2s.values():
            u2s_line.setdefault(e.value[0], e.line.number)
        for spk in expected:
            if spk not in first:
                self.err(
                    "utt2spk",
                    u2s_line[spk],
                    "spk2utt_mismatch",
                    f"speaker {spk!r} has no line in spk2utt; expected spk2utt to be the inverse of utt2spk",
                )

    def check_overlaps(self) -> None:
        by_spk: Dict[Tuple[str, str], List[Entry]] = {}
        for u, e in self.segs.items():
            if u in self.u2s and e.value.end > e.value.start:
                by_spk.setdefault((e.value.reco, self.u2s[u].value[0]), []).append(e)
        for (_reco, spk), group in by_spk.items():
            group.sort(key=lambda e: (e.value.start, e.value.end, e.line.number))
            last = group[0]
            for e in group[1:]:
                if overlaps(last.value.end, e.value.start):
                    over = min(last.value.end, e.value.end) - e.value.start
                    self.err(
                        "segments",
                        e.line.number,
                        "same_speaker_overlap",
                        f"utterance {e.key!r} overlaps utterance {last.key!r} (line {last.line.number}) of the same speaker {spk!r} by {over:.3f}s; "
                        "expected same-speaker turns merged (fix_data_dir merges them)",
                    )
                if e.value.end > last.value.end:
                    last = e

    def check_speaker_recordings(self) -> None:
        recos: Dict[str, List[str]] = {}
        for u, e in self.u2s.items():
            seg = self.segs.get(u)
            if seg is None:
                continue
            spk = e.value[0]
            rs = recos.setdefault(spk, [])
            if seg.value.reco not in rs:
                rs.append(seg.value.reco)
                if len(rs) == 2 and not self.o["global_speakers"]:
                    self.err(
                        "utt2spk",
                        e.line.number,
                        "speaker_in_several_recordings",
                        f"speaker {spk!r} appears in recordings {rs[0]!r} and {rs[1]!r}; speaker ids must be unique across recordings: "
                        "prefix local labels with the recording id, or declare global speaker ids (global_speakers=True) for corpora such as AMI and ICSI",
                    )

    # ---------------------------------------------------------------- rttm
    def check_rttm(self) -> None:
        if "rttm" not in self.raw:
            if self.has_segments:
                self.note(
                    "rttm",
                    None,
                    "missing_file",
                    "no rttm: scoring will need one (it can be rebuilt from segments + utt2spk)",
                )
            return
        parsed = parse_rttm(self.raw["rttm"])
        self.bad("rttm", parsed.problems)
        entries, other, with_problem = parsed.entries, parsed.other, parsed.codes()
        if other:
            self.note(
                "rttm",
                other[0].number,
                "not_speaker_line",
                f"{len(other)} lines are not SPEAKER lines (comments or other RTTM types) and carry no turns",
            )
        nine = [e for e in entries if e.value.n_fields == 9]
        if nine:
            self.warn(
                "rttm",
                nine[0].line.number,
                "rttm_9_fields",
                f"{len(nine)} lines have 9 fields; expected the 10-field NIST form",
            )
        chan = [e for e in entries if e.value.turn.channel != "1"]
        if chan:
            e = chan[0]
            self.warn(
                "rttm",
                e.line.number,
                "rttm_channel",
                f"{len(chan)} lines have a channel other than 1 (first: {e.value.turn.channel!r}); md-eval keys on (file, channel), so write 1",
            )
        good: List[Entry] = []
        for e in entries:
            t: Turn = e.value.turn
            n = e.line.number
            if n in with_problem:
                continue
            if t.reco not in self.wav:
                self.err("rttm", n, "unknown_recording", f"recording {t.reco!r} is not in wav.scp")
                continue
            self.check_inside("rttm", n, f"turn of speaker {t.speaker!r}", t.reco, t.onset, t.end)
            good.append(e)
        by_spk: Dict[Tuple[str, str], List[Entry]] = {}
        for e in good:
            by_spk.setdefault((e.key, e.value.turn.speaker), []).append(e)
        for (_reco, spk), group in by_spk.items():
            group.sort(key=lambda e: (e.value.turn.onset, e.value.turn.end, e.line.number))
            last = group[0]
            for e in group[1:]:
                if overlaps(last.value.turn.end, e.value.turn.onset):
                    self.err(
                        "rttm",
                        e.line.number,
                        "same_speaker_overlap",
                        f"turn of speaker {spk!r} at {e.value.turn.onset:.3f}s overlaps the turn at line {last.line.number} ({last.value.turn.onset:.3f}-{last.value.turn.end:.3f}s); expected same-speaker turns merged",
                    )
                if e.value.turn.end > last.value.turn.end:
                    last = e
        self.rttm_good = good
        if self.has_segments and self.u2s:
            self.check_rttm_matches_segments(good)

    def check_rttm_matches_segments(self, good: List[Entry]) -> None:
        """Every rttm turn is a segment of the same speaker and times (within TIME_EPS), and back."""
        segs = [
            e
            for u, e in self.segs.items()
            if u in self.u2s and e.value.reco in self.wav and e.value.end > e.value.start
        ]
        spans_a = [(e.value.reco, self.u2s[e.key].value[0], e.value.start, e.value.end) for e in segs]
        spans_b = [(e.key, e.value.turn.speaker, e.value.turn.onset, e.value.turn.end) for e in good]
        lone_a, lone_b = match_spans(spans_a, spans_b)
        for i in lone_a:
            reco, spk, start, end = spans_a[i]
            self.err(
                "segments",
                segs[i].line.number,
                "rttm_mismatch",
                f"utterance {segs[i].key!r} ({spk!r}, {start:.3f}-{end:.3f}s) has no matching turn in rttm; expected rttm == segments + utt2spk",
            )
        for j in lone_b:
            reco, spk, start, end = spans_b[j]
            self.err(
                "rttm",
                good[j].line.number,
                "rttm_mismatch",
                f"turn of {spk!r} in {reco!r} ({start:.3f}-{end:.3f}s) has no matching segment; expected rttm == segments + utt2spk",
            )

    # ---------------------------------------------------------------- uem
    def check_uem(self) -> None:
        if "uem" not in self.raw:
            return
        parsed = parse_uem(self.raw["uem"])
        self.bad("uem", parsed.problems)
        regions: Dict[str, List[Entry]] = {}
        for e in parsed.valid():
            u: UemSegment = e.value
            n = e.line.number
            if u.reco not in self.wav:
                self.err("uem", n, "unknown_recording", f"recording {u.reco!r} is not in wav.scp")
                continue
            self.check_inside("uem", n, "scored region", u.reco, u.onset, u.end)
            regions.setdefault(u.reco, []).append(e)
        for reco, group in regions.items():
            group.sort(key=lambda e: (e.value.onset, e.value.end))
            for a, b in itertools.pairwise(group):
                if overlaps(a.value.end, b.value.onset):
                    self.warn(
                        "uem",
                        b.line.number,
                        "uem_overlap",
                        f"region {b.value.onset:.3f}-{b.value.end:.3f}s of {reco!r} overlaps the region at line {a.line.number}",
                    )
        for r, e in self.wav.items():
            if r not in regions:
                self.warn(
                    "wav.scp", e.line.number, "no_uem", f"recording {r!r} has no region in uem: it will not be scored"
                )
        if self.has_segments:
            for u, e in self.segs.items():
                s = e.value
                spans = regions.get(s.reco)
                if spans and s.end > s.start and all(s.end <= g.value.onset or s.start >= g.value.end for g in spans):
                    self.warn(
                        "segments",
                        e.line.number,
                        "outside_uem",
                        f"utterance {u!r} ({s.start:.3f}-{s.end:.3f}s) lies outside every scored region of {s.reco!r} in uem",
                    )

    # ---------------------------------------------------------------- other keyed files
    def check_extras(self) -> None:
        utts = self.segs if self.has_segments else self.wav
        groups = [
            (UTT_KEYED, utts, "utterance", "segments" if self.has_segments else "wav.scp"),
            (RECO_KEYED, self.wav if self.has_segments else {}, "recording", "wav.scp"),
            (SPK_KEYED, {e.value[0]: e for e in self.u2s.values()}, "speaker", "utt2spk"),
        ]
        for files, ids, what, source in groups:
            for name, min_fields in files.items():
                if name not in self.raw or not ids:
                    continue
                max_fields = 0 if name == "text" else min_fields
                first = self.keyed(
                    name,
                    parse_keyed(self.raw[name], min_fields=min_fields, max_fields=max_fields, what=f"{what} id"),
                )
                for k, e in first.items():
                    if k not in ids:
                        self.err(name, e.line.number, "unknown_id", f"{what} {k!r} is not in {source}")
                missing = [k for k in ids if k not in first]
                if missing:
                    self.err(
                        name,
                        None,
                        "missing_id",
                        f"{len(missing)} {what} ids of {source} have no line here (first: {missing[0]!r})",
                    )
                if name in ("utt2dur", "utt2num_frames"):
                    for e in first.values():
                        x = number(e.value[0])
                        if x is None or x <= 0:
                            self.err(name, e.line.number, "duration", f"expected a number > 0, got {e.value[0]!r}")

    # ---------------------------------------------------------------- audio
    def check_audio(self) -> None:
        fs, ch = self.o["expected_fs"], self.o["expected_channels"]
        tol = self.o["tolerance"]
        segs_of: Dict[str, List[Entry]] = {}
        for se in self.segs.values():
            segs_of.setdefault(se.value.reco, []).append(se)
        for r, e in self.wav.items():
            spec, n = e.value, e.line.number
            if is_pipe(spec) and not self.o["check_pipes"]:
                self.note(
                    "wav.scp",
                    n,
                    "pipe_not_checked",
                    f"pipe entry of {r!r} not checked (pass check_pipes=True to run it)",
                )
                continue
            if not is_pipe(spec) and ark_offset(spec):
                self.note("wav.scp", n, "ark_not_checked", f"archive entry of {r!r} not checked")
                continue
            try:
                info = audio_info(spec, run_pipes=True)
            except FileNotFoundError as ex:
                self.err("wav.scp", n, "audio_missing", f"recording {r!r}: {ex}")
                continue
            except ValueError as ex:
                self.err("wav.scp", n, "audio_unreadable", f"recording {r!r}: {ex}")
                continue
            if fs is not None and info.samplerate != fs:
                self.err(
                    "wav.scp",
                    n,
                    "sample_rate",
                    f"recording {r!r} has sample rate {info.samplerate} Hz; expected {fs} Hz",
                )
            if ch is not None and info.channels != ch:
                self.err("wav.scp", n, "channels", f"recording {r!r} has {info.channels} channels; expected {ch}")
            if r in self.dur:
                if abs(self.dur[r] - info.duration) > max(tol, 1.0 / info.samplerate) + FLOAT_EPS:
                    self.err(
                        "reco2dur",
                        self.dur_lines[r],
                        "duration_mismatch",
                        f"recording {r!r}: reco2dur says {self.dur[r]}s but the audio lasts {info.duration:.6f}s",
                    )
            elif self.has_segments:
                for se in segs_of.get(r, []):
                    self.inside(
                        "segments",
                        se.line.number,
                        f"utterance {se.key!r}",
                        r,
                        se.value.start,
                        se.value.end,
                        info.duration,
                        "the audio header",
                    )


def _few(items: List[str], n: int = 3) -> str:
    shown = ", ".join(repr(x) for x in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
