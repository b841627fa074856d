"""CHiME-6 (the CHiME-5 dinner parties, array-synchronised; OpenSLR 150): JSON transcripts to RTTM.

Layout under ``corpus_dir`` (the recipe's ``$CHIME6``), as the challenge documents it::

    CHiME6/audio/<split>/<S>_<U>.CH<c>.wav        Kinect array U01-U06, one mono 16 kHz file per channel 1-4
    CHiME6/audio/<split>/<S>_<P>.wav              binaural mic worn by participant P (stereo)
    CHiME6/transcriptions/<split>/<S>.json        one JSON list per session

The OpenSLR tarballs are reported to nest these differently (``CHiME6_<split>/CHiME6/audio/<split>/``
in the audio tarballs, ``transcriptions/transcriptions/<split>/`` from the transcription tarball;
second-hand), so the audio and transcripts of a split are looked for in each of :data:`AUDIO_DIRS` and
:data:`TRANSCRIPT_DIRS` (relative to ``corpus_dir``), first match wins; ``json_dir`` overrides
the transcripts (a folder with ``<split>/<S>.json``, e.g. the forced-alignment JSON of
chimechallenge/CHiME6_falign).

Transcripts: a JSON list of utterances with ``speaker`` (global participant id ``P05``..``P56``),
``start_time``/``end_time`` as ``HH:MM:SS.ss`` strings (plain seconds are accepted too),
``words``, ``session_id``, and in dev/eval ``ref`` (the reference array) and ``location``.
Per-device time tables (``{"original": ..., "U01": ...}``) mean an unsynchronised CHiME-5
transcript and stop the preparation. Utterances whose words contain ``[redacted]`` are left out
by default, as in the Kaldi CHiME-6 reference (``redacted="keep"`` keeps them as speech);
utterances without a speaker or with ``end <= start`` are left out. Every left-out utterance is
counted in ``prep_report.txt``.

Microphone (``mic``; one signal per session, recording id = session id ``S02``). An array
channel is the far-field condition the challenge evaluates (reverberant, every participant
distant, the participants moving between rooms); the reference array is the one the transcript
names as reference for each utterance (it follows the party's location); the worn mics give close-talk speech with
cross-talk from the others (easier; the challenge did not allow them at evaluation):

- ``U01``..``U06`` with ``channel`` 1-4: that array channel as it is (default ``U06`` CH1, the
  array the Kaldi track-2 baseline diarizes and scores). Arrays that the corpus lacks
  (:data:`KNOWN_MISSING`: U03 in S05, S12, S22; U04 in S05) leave the session out of that
  condition with a line in ``prep_report.txt``; any other missing file stops the preparation
  unless ``missing_ok``. S12's U05 lacks the last 15 minutes (the Kinect was turned off): turns
  past the end of that file are clipped or dropped, and reported.
- ``ref``: channel ``channel`` of the session's reference array, the array most utterances of the
  session name in ``ref`` (dev/eval); training transcripts have no ``ref``, so U06 is used there
  and noted.
- ``worn``: the session's binaural mics mixed to one close-talk channel
  (``sox -m <P files> -t wav -c 1 - |``, the analogue of AMI Mix-Headset); a participant of the
  transcript without a mic file stops the preparation (``missing_ok``: the session is left out).

Data dirs: ``chime6_<split>`` for U06 CH1, else ``chime6_<mic>[_ch<c>]_<split>`` (``chime6_u01_dev``,
``chime6_ref_eval``, ``chime6_worn_train``). Official split: train = 16 sessions, dev = S02 S09,
eval = S01 S21 (:data:`SPLITS`; CHiME-7 later moved S19 and S20 to eval).

UEM (``uem``): ``"track2"`` (default) scores from the start of the Kaldi CHiME-6 track-2 UEM (S01
0 s, S02 75 s, S09 64 s, S21 59 s: the unannotated introductions are excluded) and, for sessions
without one (train), from the first annotated utterance, to the end of the audio;
``"first_utterance"`` is the CHiME-7/8 DASR rule (first annotated utterance to the audio end)
for every session; ``"whole"`` the whole file. Turns are kept where they are (scoring applies
the UEM). Improved references: ``rttm_dir`` is a checkout of github.com/nateanl/chime6_rttm
(files ``dev_rttm``, ``eval_rttm``, keyed ``S09_U06.ENH``); a split with such a file takes its
turns from it (keys reduced to the session id), the others from the JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, summarize
from espnet2_tsdia.corpora.common import (
    MissingAudioError,
    audio_header,
    clip_uem,
    corpus_manifest,
    fetch,
    first_line_naming,
    known_split,
    split_dir_name,
    unpack,
    was_extracted,
    wav_entry,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import Turn, read_rttm
from espnet2_tsdia.formats.uem import UemSegment
from espnet2_tsdia.utils.checksums import parse_md5_list
from espnet2_tsdia.utils.cli import str2bool, str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

# fmt: off
SPLITS: Dict[str, Tuple[str, ...]] = {
    "train": ("S03", "S04", "S05", "S06", "S07", "S08", "S12", "S13",
              "S16", "S17", "S18", "S19", "S20", "S22", "S23", "S24"),
    "dev": ("S02", "S09"),
    "eval": ("S01", "S21"),
}
# fmt: on
ARRAYS = ("U01", "U02", "U03", "U04", "U05", "U06")
MICS = ARRAYS + ("ref", "worn")
DEFAULT_ARRAY = "U06"
#: Array -> sessions that have no recording of it (CHiME-5 data page; Kaldi's distant_audio_list).
KNOWN_MISSING: Dict[str, Tuple[str, ...]] = {"U03": ("S05", "S12", "S22"), "U04": ("S05",)}
#: Start of the scored region in the Kaldi CHiME-6 track-2 UEM (egs/chime6/s5_track2/local/uem_file).
TRACK2_UEM_START: Dict[str, float] = {"S01": 0.0, "S02": 75.0, "S09": 64.0, "S21": 59.0}
UEM_RULES = ("track2", "first_utterance", "whole")
REDACTED = ("drop", "keep")
#: Where a split's audio / transcripts may be, relative to corpus_dir (first match wins).
AUDIO_DIRS = ("CHiME6/audio/{split}", "audio/{split}", "CHiME6_{split}/CHiME6/audio/{split}")
TRANSCRIPT_DIRS = (
    "CHiME6/transcriptions/{split}",
    "transcriptions/{split}",
    "transcriptions/transcriptions/{split}",
    "CHiME6_{split}/CHiME6/transcriptions/{split}",
)
OPENSLR = "https://www.openslr.org/resources/150"
ARCHIVES = {"train": "CHiME6_train.tar.gz", "dev": "CHiME6_dev.tar.gz", "eval": "CHiME6_eval.tar.gz"}
TRANSCRIPT_ARCHIVE = "CHiME6_transcriptions.tar.gz"
#: archive -> md5, where one is known (none was when this was written: see :func:`download_chime6`
#: for what the archives are checked against instead).
MD5: Dict[str, str] = {}
#: md5 of every synchronised wav (``<md5> <path>`` lines), from the CHiME-6 synchronisation repo.
AUDIO_MD5_URL = "https://raw.githubusercontent.com/chimechallenge/chime6-synchronisation/master/audio_md5sums.txt"

_HMS = re.compile(r"^(\d+):([0-5]?\d):([0-5]?\d(?:\.\d*)?)$")
_SESSION_KEY = re.compile(r"^(S\d\d)(?:_U0[1-6])?(?:\.ENH|\.CH[1-4])?$")


# --------------------------------------------------------------------------- names
def dir_prefix(mic: str, channel: int) -> str:
    """``chime6`` for U06 CH1, else ``chime6_<mic>`` plus ``_ch<c>`` for a channel other than 1."""
    if mic == DEFAULT_ARRAY and channel == 1:
        return "chime6"
    return f"chime6_{mic.lower()}" + (f"_ch{channel}" if mic != "worn" and channel != 1 else "")


def _check_options(mic: str, channel: int, splits: Sequence[str], uem: str, redacted: str) -> None:
    known_split(mic, MICS, what="CHiME-6 microphone")
    if not 1 <= channel <= 4:
        raise ValueError(f"CHiME-6 array channel must be 1..4, got {channel}")
    if mic == "worn" and channel != 1:
        raise ValueError(f"channel {channel} has no meaning for the worn mics (they are mixed); leave it at 1")
    for s in splits:
        known_split(s, list(SPLITS))
    known_split(uem, UEM_RULES, what="UEM rule")
    known_split(redacted, REDACTED, what="redacted-utterance rule")


def _find_dir(corpus_dir: Path, candidates: Sequence[str], split: str, what: str, todo: str) -> Path:
    tried = [corpus_dir / c.format(split=split) for c in candidates]
    for d in tried:
        if d.is_dir():
            return d
    raise FileNotFoundError(
        f"{corpus_dir}: no CHiME-6 {what} for {split} (looked in {', '.join(map(str, tried))}); {todo}"
    )


# --------------------------------------------------------------------------- transcripts
def parse_time(value: object, *, path: PathLike, index: int, field: str) -> float:
    """Seconds from ``HH:MM:SS.ss`` (or a number, or a numeric string).

    Raises:
        DataFormatError: a per-device table (an unsynchronised CHiME-5 transcript) or text that
            is not a time; the message names the utterance (0-based position in the list).
    """
    where = f"utterance {index} ({field})"
    if isinstance(value, dict):
        raise DataFormatError(
            path,
            None,
            f"{where} is a per-device table ({', '.join(sorted(value))}): an unsynchronised CHiME-5 transcript; "
            "use the CHiME-6 release (OpenSLR 150) or run the chime6-synchronisation scripts first",
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        m = _HMS.match(value.strip())
        if m:
            seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
        else:
            try:
                seconds = float(value)
            except ValueError:
                raise DataFormatError(path, None, f"{where}: expected HH:MM:SS.ss, got {value!r}") from None
    else:
        raise DataFormatError(path, None, f"{where}: expected HH:MM:SS.ss, got {value!r}")
    if not seconds >= 0:
        raise DataFormatError(path, None, f"{where}: time must be >= 0, got {value!r}")
    return seconds


@dataclass(frozen=True)
class Transcript:
    """One session's transcript: the speech turns, the participants and the ``ref`` arrays named."""

    session: str
    turns: Tuple[Turn, ...]
    speakers: Tuple[str, ...]
    refs: Tuple[str, ...]


def read_transcript(path: PathLike, session: str, *, redacted: str = "drop", notes: PrepReport) -> Transcript:
    """Read ``<S>.json``; left-out utterances are counted in ``notes``.

    Raises:
        DataFormatError: not a JSON list of objects, a missing time, a time that is not
            ``HH:MM:SS.ss``, or a ``session_id`` other than ``session``.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, f"not valid JSON: {e.msg}") from None
    if not isinstance(data, list):
        raise DataFormatError(path, None, f"expected a JSON list of utterances, got {type(data).__name__}")
    turns: List[Turn] = []
    refs: List[str] = []
    no_speaker, empty, redacted_n = [], [], 0
    for i, utt in enumerate(data):
        if not isinstance(utt, dict):
            raise DataFormatError(path, None, f"utterance {i}: expected an object, got {type(utt).__name__}")
        for key in ("start_time", "end_time"):
            if key not in utt:
                raise DataFormatError(path, None, f"utterance {i} has no {key!r} (keys: {', '.join(sorted(utt))})")
        sid = utt.get("session_id")
        if sid is not None and sid != session:
            raise DataFormatError(path, None, f"utterance {i} belongs to session {sid!r}, expected {session!r}")
        start = parse_time(utt["start_time"], path=path, index=i, field="start_time")
        end = parse_time(utt["end_time"], path=path, index=i, field="end_time")
        speaker = utt.get("speaker")
        if not speaker:
            no_speaker.append(i)
            continue
        if redacted == "drop" and "[redacted]" in str(utt.get("words", "")):
            redacted_n += 1
            continue
        if end <= start:
            empty.append(f"{i} ({speaker} {start:.2f}-{end:.2f})")
            continue
        if utt.get("ref"):
            refs.append(str(utt["ref"]))
        turns.append(Turn(reco=session, onset=start, duration=end - start, speaker=str(speaker)))
    if no_speaker:
        notes.dropped.append(
            f"{session}: {len(no_speaker)} utterances without a speaker left out ({path}: {_few(no_speaker)})"
        )
    if redacted_n:
        notes.dropped.append(f"{session}: {redacted_n} [redacted] utterances left out ({path})")
    if empty:
        notes.dropped.append(f"{session}: {len(empty)} utterances with end <= start left out ({path}: {_few(empty)})")
    return Transcript(session, tuple(turns), tuple(sorted({t.speaker for t in turns})), tuple(refs))


def _few(items: Sequence[object], n: int = 5) -> str:
    return ", ".join(map(str, items[:n])) + (f" and {len(items) - n} more" if len(items) > n else "")


def read_improved_rttm(path: PathLike, sessions: Sequence[str], *, notes: PrepReport) -> Dict[str, List[Turn]]:
    """Turns of an improved reference (nateanl/chime6_rttm), keys reduced to the session id.

    Identical turns listed under several arrays of one session are kept once (counted in ``notes``).

    Raises:
        DataFormatError: a key that is not one of ``sessions`` (with or without an array suffix;
            the first line naming it), or a session of ``sessions`` without a turn.
    """
    out: Dict[str, List[Turn]] = {s: [] for s in sessions}
    seen = set()
    duplicates = 0
    renamed = set()
    for t in read_rttm(path):
        m = _SESSION_KEY.match(t.reco)
        session = m.group(1) if m else t.reco
        if session not in out:
            raise DataFormatError(
                path,
                first_line_naming(path, t.reco),
                f"names recording {t.reco!r}, which is not a session of this split ({', '.join(sessions)}); "
                "pass the reference file of this split (dev_rttm or eval_rttm)",
            )
        if session != t.reco:
            renamed.add(t.reco)
        key = (session, t.speaker, round(t.onset, 3), round(t.duration, 3))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        out[session].append(replace(t, reco=session))
    for s, turns in out.items():
        if not turns:
            raise DataFormatError(path, None, f"has no turn for session {s}; expected one reference per session")
    if renamed:
        notes.changed.append(f"{path}: recording keys {_few(sorted(renamed))} reduced to their session ids")
    if duplicates:
        notes.dropped.append(f"{path}: {duplicates} turns repeated under another array of the same session kept once")
    return out


# --------------------------------------------------------------------------- audio
def worn_pipe(paths: Sequence[Path]) -> str:
    """A wav.scp pipe mixing the binaural worn mics to one channel (``sox -m``, then ``-c 1``)."""
    files = " ".join(shlex.quote(wav_entry(p)) for p in paths)
    return f"sox {'-m ' if len(paths) > 1 else ''}{files} -t wav -c 1 - |"


def _session_audio(
    audio_dir: Path,
    tr: Transcript,
    *,
    mic: str,
    channel: int,
    split: str,
    missing_ok: bool,
    notes: PrepReport,
) -> Optional[Tuple[str, float]]:
    """(wav.scp value, duration) of one session, or None when it is left out (noted)."""
    s = tr.session
    name = split_dir_name(dir_prefix(mic, channel), split)
    if mic == "worn":
        paths = [audio_dir / f"{s}_{p}.wav" for p in tr.speakers]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            if missing_ok:
                notes.dropped.append(
                    f"{s}: worn mic files {_few([p.name for p in missing])} missing; left out of {name} (missing_ok)"
                )
                return None
            raise MissingAudioError(
                f"{missing[0]}: worn mic of {missing[0].stem.split('_')[1]} (a participant of session {s}) does not exist; "
                f"download {ARCHIVES[split]} again, choose an array (--mic U06), or pass --missing_ok true to leave the session out"
            )
        return worn_pipe(paths), max(audio_header(p).duration for p in paths)
    array = mic
    if mic == "ref":
        if tr.refs:
            array = Counter(tr.refs).most_common(1)[0][0]
            notes.changed.append(
                f"{s}: reference array {array} (named by {Counter(tr.refs)[array]} of {len(tr.refs)} utterances)"
            )
        else:
            array = DEFAULT_ARRAY
            notes.changed.append(f"{s}: the transcript names no reference array; {DEFAULT_ARRAY} used")
    path = audio_dir / f"{s}_{array}.CH{channel}.wav"
    if not path.is_file():
        if s in KNOWN_MISSING.get(array, ()):
            notes.dropped.append(f"{s}: the corpus has no {array} recording for this session; left out of {name}")
            return None
        if missing_ok:
            notes.dropped.append(f"{s}: audio {path} missing; left out of {name} (missing_ok)")
            return None
        raise MissingAudioError(
            f"{path}: audio of session {s!r} ({split}) does not exist; download {ARCHIVES[split]} again "
            f"(python -m espnet2_tsdia.bin.prepare_corpus chime6 download --splits {split}), choose another --mic, "
            "or pass --missing_ok true to leave missing sessions out"
        )
    header = audio_header(path)
    if header.channels != 1:
        raise ValueError(f"{path}: expected one channel per array file, got {header.channels}")
    return wav_entry(path), header.duration


def uem_start(rule: str, session: str, turns: Sequence[Turn]) -> float:
    """Start of the scored region of a session under ``rule`` (see the module docstring)."""
    first = min((t.onset for t in turns), default=0.0)
    if rule == "whole":
        return 0.0
    if rule == "track2" and session in TRACK2_UEM_START:
        return TRACK2_UEM_START[session]
    return first


# --------------------------------------------------------------------------- preparation
def prepare_chime6(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    mic: str = DEFAULT_ARRAY,
    channel: int = 1,
    splits: Sequence[str] = tuple(SPLITS),
    sessions: Optional[Sequence[str]] = None,
    uem: str = "track2",
    redacted: str = "drop",
    json_dir: Optional[PathLike] = None,
    rttm_dir: Optional[PathLike] = None,
    missing_ok: bool = False,
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/chime6[_<mic>]_<split>`` data dirs (names in the module docstring).

    Args:
        corpus_dir: the CHiME-6 root (layout in the module docstring).
        out_dir: where the data dirs go.
        mic: ``U01``..``U06``, ``ref`` or ``worn``.
        channel: array channel 1-4 (``U0x`` and ``ref``).
        splits: any of train, dev, eval.
        sessions: only these sessions (each must belong to one of ``splits``); default all.
        uem: ``track2``, ``first_utterance`` or ``whole``.
        redacted: ``drop`` (default) or ``keep`` utterances whose words contain ``[redacted]``.
        json_dir: transcripts folder with ``<split>/<S>.json`` (default: found under corpus_dir).
        rttm_dir: folder with improved references ``<split>_rttm`` (nateanl/chime6_rttm).
        missing_ok: leave out (and report) sessions whose audio is missing instead of stopping.

    Returns:
        Data dir name -> what was changed or dropped.

    Raises:
        MissingAudioError: a session's audio is missing (and ``missing_ok`` is False).
        FileNotFoundError: a split's audio or transcript folder, or a session's JSON, is missing.
        DataFormatError: a malformed transcript or improved reference.
    """
    _check_options(mic, channel, splits, uem, redacted)
    corpus_dir = Path(corpus_dir).absolute()
    wanted = set(sessions) if sessions is not None else None
    if wanted is not None:
        official = {s for sp in splits for s in SPLITS[sp]}
        unknown = sorted(wanted - official)
        if unknown:
            raise ValueError(
                f"sessions {unknown} are not CHiME-6 sessions of {', '.join(splits)} (those are {', '.join(sorted(official))})"
            )
    out: Dict[str, PrepReport] = {}
    for split in splits:
        todo = [s for s in SPLITS[split] if wanted is None or s in wanted]
        if not todo:
            continue
        name = split_dir_name(dir_prefix(mic, channel), split)
        out[name] = _prepare_split(
            corpus_dir, Path(out_dir) / name, split, todo, mic, channel, uem, redacted, json_dir, rttm_dir, missing_ok
        )
    return out


def _prepare_split(
    corpus_dir: Path,
    dest: Path,
    split: str,
    sessions: Sequence[str],
    mic: str,
    channel: int,
    uem_rule: str,
    redacted: str,
    json_dir: Optional[PathLike],
    rttm_dir: Optional[PathLike],
    missing_ok: bool,
) -> PrepReport:
    download = f"download it (python -m espnet2_tsdia.bin.prepare_corpus chime6 download --splits {split})"
    audio_dir = _find_dir(corpus_dir, AUDIO_DIRS, split, "audio folder", download)
    if json_dir is not None:
        tr_dir = Path(json_dir).absolute() / split
        if not tr_dir.is_dir():
            raise FileNotFoundError(f"{tr_dir}: no transcripts of {split} under --json_dir")
    else:
        tr_dir = _find_dir(corpus_dir, TRANSCRIPT_DIRS, split, "transcript folder", download)
    notes = PrepReport()
    transcripts: Dict[str, Transcript] = {}
    for s in sessions:
        path = tr_dir / f"{s}.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: transcript of session {s} ({split}) missing; {download} or pass --sessions without {s}"
            )
        transcripts[s] = read_transcript(path, s, redacted=redacted, notes=notes)
    stray = sorted(p.stem for p in tr_dir.glob("*.json") if p.stem not in SPLITS[split])
    if stray:
        notes.dropped.append(f"{tr_dir}: {' '.join(stray)} are not {split} sessions of the CHiME-6 split; ignored")
    turns_of: Dict[str, List[Turn]] = {s: list(tr.turns) for s, tr in transcripts.items()}
    if rttm_dir is not None:
        rttm = Path(rttm_dir) / f"{split}_rttm"
        if rttm.is_file():
            turns_of = read_improved_rttm(rttm, sessions, notes=notes)
            notes.changed.append(f"{split}: reference turns from the improved RTTM {rttm}, not the JSON transcripts")
        else:
            notes.changed.append(f"{split}: no improved reference {rttm}; reference turns from the JSON transcripts")
    wav_scp: Dict[str, str] = {}
    reco2dur: Dict[str, float] = {}
    turns: List[Turn] = []
    uem: Dict[str, List[UemSegment]] = {}
    for s in sessions:
        audio = _session_audio(
            audio_dir, transcripts[s], mic=mic, channel=channel, split=split, missing_ok=missing_ok, notes=notes
        )
        if audio is None:
            continue
        wav_scp[s], reco2dur[s] = audio
        turns += turns_of[s]
        uem[s] = [UemSegment(s, uem_start(uem_rule, s, turns_of[s]), reco2dur[s])]
    if not wav_scp:
        raise FileNotFoundError(f"{dest.name}: every session was left out ({'; '.join(notes.dropped)})")
    return write_split(
        dest, wav_scp=wav_scp, turns=turns, reco2dur=reco2dur, uem=clip_uem(uem, reco2dur, notes=notes), notes=notes
    )


# --------------------------------------------------------------------------- download
def download_chime6(
    corpus_dir: PathLike,
    *,
    splits: Sequence[str] = tuple(SPLITS),
    base_url: str = OPENSLR,
    verify_audio: bool = False,
    audio_md5_url: str = AUDIO_MD5_URL,
) -> None:
    """Download and extract the OpenSLR 150 tarballs of ``splits`` and the transcripts (resumable;
    archives whose extraction finished are skipped, an interrupted extraction is redone). Sizes:
    train about 97 GB, dev 11 GB, eval 12 GB (second-hand, unverified).

    Each archive is checked against :data:`MD5`, else OpenSLR's list ``resources/150/checksum.md5``
    where the server has one, else the md5 recorded in ``<corpus_dir>/checksums.md5`` at its first
    download (trust on first use), and recorded there.

    Args:
        corpus_dir: where the archives (``downloads/``) and the extracted corpus go.
        splits: any of train, dev, eval.
        base_url: the OpenSLR resource folder or a mirror of it.
        verify_audio: check every extracted wav of ``splits`` against the md5 list of the
            CHiME-6 synchronisation repository (reads all the audio: slow).
        audio_md5_url: that list.

    Raises:
        ChecksumError: an archive differs from its checksum, or (``verify_audio``) wavs differ
            from the list (all of them named).
    """
    for s in splits:
        known_split(s, list(SPLITS))
    corpus_dir = Path(corpus_dir)
    manifest = corpus_manifest(corpus_dir)
    downloads = corpus_dir / "downloads"
    for name in [TRANSCRIPT_ARCHIVE] + [ARCHIVES[s] for s in splits]:
        archive = downloads / name
        if was_extracted(archive, corpus_dir):
            logger.info("%s: already extracted into %s", archive, corpus_dir)
            continue
        fetch(f"{base_url.rstrip('/')}/{name}", archive, md5=MD5.get(name), manifest=manifest)
        unpack(archive, corpus_dir)
    if verify_audio:
        md5_list = downloads / "audio_md5sums.txt"
        md5_list.unlink(missing_ok=True)  # small: always the list of audio_md5_url, never a stale copy
        fetch(audio_md5_url, md5_list)
        verify_audio_md5(corpus_dir, md5_list, splits=splits, source_url=audio_md5_url)


def verify_audio_md5(
    corpus_dir: PathLike, md5_list: PathLike, *, splits: Sequence[str] = tuple(SPLITS), source_url: str = AUDIO_MD5_URL
) -> int:
    """Check the wavs of ``splits`` against ``md5_list`` (``<md5> <file>`` lines); returns how
    many were checked (wavs the list does not name are counted in the log).

    Raises:
        ChecksumError: naming the first wav whose md5 differs and how many do.
        ValueError: a line of the list that is not ``<md5> <file>``.
        FileNotFoundError: no audio folder of a split.
    """
    from espnet2_tsdia.utils.download import ChecksumError, md5sum

    expected = parse_md5_list(Path(md5_list).read_text(encoding="utf-8"), source=str(md5_list))
    corpus_dir = Path(corpus_dir)
    bad: List[Tuple[Path, str]] = []
    checked, unlisted = 0, []
    for split in splits:
        audio_dir = _find_dir(corpus_dir, AUDIO_DIRS, split, "audio folder", "download it first")
        for wav in sorted(audio_dir.glob("*.wav")):
            if wav.name not in expected:
                unlisted.append(wav.name)
                continue
            checked += 1
            got = md5sum(wav)
            if got != expected[wav.name]:
                bad.append((wav, got))
    if unlisted:
        logger.warning("%d wavs are not in %s and were not checked: %s", len(unlisted), md5_list, _few(unlisted))
    if bad:
        wav, got = bad[0]
        raise ChecksumError(
            wav,
            "md5",
            expected[wav.name],
            got,
            f"listed in {md5_list}",
            source_url,
            f"{len(bad)} CHiME-6 wavs differ from the list ({_few([w.name for w, _ in bad])}); "
            "delete the archives of their splits and the extracted audio, and download again",
        )
    logger.info("%d CHiME-6 wavs match %s", checked, md5_list)
    return checked


def sessions_of(splits: Sequence[str], sessions: Optional[Sequence[str]] = None) -> Mapping[str, List[str]]:
    """Split -> the sessions ``prepare_chime6`` reads for it (``sessions`` filters)."""
    return {sp: [s for s in SPLITS[sp] if sessions is None or s in set(sessions)] for sp in splits}


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mic", default=DEFAULT_ARRAY, choices=list(MICS), help="an array, ref (reference array) or worn")
    p.add_argument("--channel", type=int, default=1, help="array channel 1..4")
    p.add_argument("--splits", type=str_list, default=list(SPLITS), help="e.g. 'dev eval'")
    p.add_argument("--sessions", type=str_list, default=None, help="only these sessions, e.g. 'S02 S09' (default all)")
    p.add_argument(
        "--uem", default="track2", choices=list(UEM_RULES), help="track2, first_utterance (CHiME-7) or whole"
    )
    p.add_argument("--redacted", default="drop", choices=list(REDACTED), help="[redacted] utterances: drop or keep")
    p.add_argument("--json_dir", default=None, help="transcripts <split>/<S>.json (default: found under corpus_dir)")
    p.add_argument("--rttm_dir", default=None, help="improved references <split>_rttm (nateanl/chime6_rttm)")
    p.add_argument("--missing_ok", type=str2bool, default=False, help="leave out sessions without audio (reported)")
    p.add_argument("--mirror", default=OPENSLR, help="download: the OpenSLR resource 150 folder or a mirror")
    p.add_argument("--verify_audio", type=str2bool, default=False, help="download: check every wav's md5 (slow)")


def _data_dirs(a: argparse.Namespace) -> List[str]:
    wanted = sessions_of(a.splits, a.sessions or None)
    return [split_dir_name(dir_prefix(a.mic, a.channel), s) for s in a.splits if wanted[s]]


CLI = CorpusCli(
    summary="CHiME-6: JSON transcripts to RTTM, one array channel, the reference array or the worn mics",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_chime6(
            a.corpus_dir,
            a.out_dir,
            mic=a.mic,
            channel=a.channel,
            splits=a.splits,
            sessions=a.sessions or None,
            uem=a.uem,
            redacted=a.redacted,
            json_dir=path_or_none(a.json_dir),
            rttm_dir=path_or_none(a.rttm_dir),
            missing_ok=a.missing_ok,
        )
    ),
    data_dirs=_data_dirs,
    download=lambda a: download_chime6(a.corpus_dir, splits=a.splits, base_url=a.mirror, verify_audio=a.verify_audio),
    validation=lambda a: {"expected_fs": 16000, "global_speakers": True},
)
