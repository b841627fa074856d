"""LibriCSS (github.com/chenzhuo1011/libri_css): 10 sessions x 6 overlap conditions, replayed and recorded.

Layout under ``corpus_dir`` (the recipe's ``$LIBRICSS``), as ``for_release.zip`` extracts::

    for_release/<cond>/overlap_ratio_<r>_sil<a>_<b>_session<k>_actual<x>/
        record/raw_recording.wav        7-channel 16 kHz recording of the loudspeaker playback
        clean/mix.wav                   the digital mixture that was played
        clean/each_spk.wav
        transcription/meeting_info.txt  header, then one tab-separated line per played utterance:
                                        start_time end_time speaker utterance_id transcription

``<cond>`` is one of :data:`CONDITIONS`: ``0L`` and ``0S`` (no overlap, long 2.9-3.0 s or short
0.1-0.5 s pauses) and ``OV10``..``OV40`` (10-40 % overlap); ``<x>`` is the overlap the session
actually has. ``corpus_dir`` may also be the ``for_release`` folder itself.

Decisions (documented here and in ``conf/corpus.yaml``):

- **Recordings**: one per session and condition, id ``<cond>_session<k>`` (``OV10_session3``, as
  lhotse names them), so the condition stays visible in every file, RTTM and table.
- **Audio**: ``audio="record"`` (default) takes channel ``channel`` (0-based as LibriCSS and
  lhotse count, default 0) of ``raw_recording.wav`` through ``sox ... remix <channel+1>``;
  ``audio="mix"`` takes the clean ``mix.wav`` instead. Nothing is rewritten.
- **References**: the playback times of ``meeting_info.txt`` (exact by construction; they include
  the LibriSpeech utterances' own leading and trailing silence). Speakers are the global
  LibriSpeech reader ids (``1089``), the same reader appearing in several sessions.
- **Splits**: session 0 is the dev set and sessions 1-9 the evaluation set (the Kaldi libri_css
  recipe's split; ``dev_sessions`` changes it). Data dirs ``libricss_dev`` and ``libricss_eval``
  hold all conditions; with ``by_condition`` (default) ``libricss_<split>_<cond>`` hold one
  condition each, since results are reported per overlap condition. Other channels or the clean
  mixture get ``libricss_ch<c>_...`` / ``libricss_mix_...``.
- **UEM**: the whole file (collar 0, overlap scored).

A session folder missing from a condition stops the preparation (``sessions`` selects fewer);
folders in a condition that are not session folders are listed in ``prep_report.txt``.
"""

from __future__ import annotations

import argparse
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, summarize
from espnet2_tsdia.corpora.common import (
    audio_header,
    channel_pipe,
    check_manual_download,
    known_split,
    require_audio,
    split_dir_name,
    unpack,
    was_extracted,
    wav_entry,
    whole_file_uem,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.utils.cli import str2bool, str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

CONDITIONS = ("0L", "0S", "OV10", "OV20", "OV30", "OV40")
#: condition -> (target overlap ratio %, pause range) as the session folder names spell them
CONDITION_NAMES: Dict[str, Tuple[str, str]] = {
    "0L": ("0.0", "2.9_3.0"),
    "0S": ("0.0", "0.1_0.5"),
    "OV10": ("10.0", "0.1_1.0"),
    "OV20": ("20.0", "0.1_1.0"),
    "OV30": ("30.0", "0.1_1.0"),
    "OV40": ("40.0", "0.1_1.0"),
}
SESSIONS = tuple(range(10))
DEV_SESSIONS = (0,)
AUDIO = ("record", "mix")
NUM_CHANNELS = 7
RELEASE = "for_release"
ZIP = "for_release.zip"
ZIP_SOURCE = (
    "https://drive.google.com/file/d/1Piioxd5G_85K9Bhcr8ebdhXx0CnaHy7l (linked from github.com/chenzhuo1011/libri_css)"
)
#: No checksum of for_release.zip is published; the hand-downloaded file is checked for a complete
#: zip directory and the LibriCSS layout instead. Fill in an md5 to have it verified too.
ZIP_MD5: Optional[str] = None
HEADER = ("start_time", "end_time", "speaker", "utterance_id", "transcription")

_SESSION_DIR = re.compile(
    r"^overlap_ratio_(?P<ratio>\d+(?:\.\d+)?)_sil(?P<pause>\d+(?:\.\d+)?_\d+(?:\.\d+)?)"
    r"_session(?P<session>\d+)_actual(?P<actual>\d+(?:\.\d+)?)$"
)


@dataclass(frozen=True)
class Session:
    """One recorded meeting: ``condition``, session index, folder and actual overlap (%)."""

    condition: str
    index: int
    path: Path
    actual_overlap: float

    @property
    def reco(self) -> str:
        return f"{self.condition}_session{self.index}"


# --------------------------------------------------------------------------- names
def dir_prefix(audio: str, channel: int) -> str:
    """``libricss`` (recording, channel 0), ``libricss_ch<c>`` or ``libricss_mix``."""
    if audio == "mix":
        return "libricss_mix"
    return "libricss" if channel == 0 else f"libricss_ch{channel}"


def split_sessions(sessions: Sequence[int], dev_sessions: Sequence[int]) -> Dict[str, List[int]]:
    """``{"dev": [...], "eval": [...]}`` without empty splits."""
    dev = [s for s in sessions if s in set(dev_sessions)]
    ev = [s for s in sessions if s not in set(dev_sessions)]
    return {k: v for k, v in (("dev", dev), ("eval", ev)) if v}


def data_dir_names(
    *,
    audio: str = "record",
    channel: int = 0,
    conditions: Sequence[str] = CONDITIONS,
    sessions: Sequence[int] = SESSIONS,
    dev_sessions: Sequence[int] = DEV_SESSIONS,
    by_condition: bool = True,
) -> List[str]:
    """The data dirs :func:`prepare_libricss` writes with these options, in writing order."""
    prefix = dir_prefix(audio, channel)
    names = []
    for split in split_sessions(sessions, dev_sessions):
        names.append(split_dir_name(prefix, split))
        if by_condition:
            names += [split_dir_name(prefix, f"{split}_{c}") for c in conditions]
    return names


def _check_options(audio: str, channel: int, conditions: Sequence[str], sessions: Sequence[int]) -> None:
    known_split(audio, AUDIO, what="LibriCSS audio")
    if not 0 <= channel < NUM_CHANNELS:
        raise ValueError(f"LibriCSS channel must be 0..{NUM_CHANNELS - 1} (0-based), got {channel}")
    if audio == "mix" and channel != 0:
        raise ValueError(f"channel {channel} applies to the recording only; leave it at 0 with audio='mix'")
    for c in conditions:
        known_split(c, CONDITIONS, what="LibriCSS condition")
    for s in sessions:
        if s not in SESSIONS:
            raise ValueError(f"LibriCSS sessions are 0..9, got {s}")


# --------------------------------------------------------------------------- layout
def release_dir(corpus_dir: PathLike) -> Path:
    """``<corpus_dir>/for_release``, or ``corpus_dir`` itself when it holds the condition folders."""
    corpus_dir = Path(corpus_dir).absolute()
    if not (corpus_dir / RELEASE).is_dir() and any((corpus_dir / c).is_dir() for c in CONDITIONS):
        return corpus_dir
    return corpus_dir / RELEASE


def find_sessions(release: Path, condition: str, *, notes: PrepReport) -> Dict[int, Session]:
    """The session folders of one condition, by index.

    Raises:
        FileNotFoundError: no folder for the condition.
        DataFormatError: a session folder whose name says another condition, or two folders
            with one session index.
    """
    cdir = release / condition
    if not cdir.is_dir():
        raise FileNotFoundError(
            f"{cdir}: LibriCSS condition {condition} not found; extract the complete {ZIP} "
            f"(prepare_corpus libricss download) or leave {condition} out of --conditions"
        )
    ratio, pause = CONDITION_NAMES[condition]
    found: Dict[int, Session] = {}
    other = []
    for d in sorted(p for p in cdir.iterdir() if not p.name.startswith(".")):
        m = _SESSION_DIR.match(d.name)
        if not d.is_dir() or m is None:
            other.append(d.name)
            continue
        if (m.group("ratio"), m.group("pause")) != (ratio, pause):
            raise DataFormatError(
                d,
                None,
                f"the folder name says overlap ratio {m.group('ratio')} with pauses {m.group('pause')}, "
                f"but condition {condition} has ratio {ratio} with pauses {pause}; the folder is misplaced",
            )
        k = int(m.group("session"))
        if k in found:
            raise DataFormatError(
                d, None, f"a second folder of session {k} in {cdir} (the first is {found[k].path.name})"
            )
        found[k] = Session(condition, k, d, float(m.group("actual")))
    if other:
        notes.dropped.append(f"{cdir}: {', '.join(other)} are not session folders; ignored")
    return found


def read_meeting_info(path: PathLike, reco: str, *, notes: PrepReport) -> List[Turn]:
    """The played utterances of ``transcription/meeting_info.txt`` as turns of ``reco``.

    Raises:
        DataFormatError: no header line, fewer than 4 fields, a time that is not a number or
            is negative (file and line named).
    """
    turns: List[Turn] = []
    empty = []
    lines = iter(iter_lines(path))
    first = next(lines, None)
    if first is None or first[1].split()[:2] != list(HEADER[:2]):
        raise DataFormatError(
            path,
            first[0] if first else None,
            f"expected the header line {' '.join(HEADER)!r}, got {first[1] if first else 'an empty file'!r}",
        )
    for n, line in lines:
        f = line.rstrip("\r").split("\t") if "\t" in line else line.split(None, 4)
        if len(f) < 4:
            raise DataFormatError(
                path, n, f"expected {len(HEADER)} tab-separated fields ({' '.join(HEADER)}), got {len(f)}: {line!r}"
            )
        try:
            start, end = float(f[0]), float(f[1])
        except ValueError:
            raise DataFormatError(path, n, f"start_time/end_time must be numbers, got {f[0]!r} {f[1]!r}") from None
        if start < 0:
            raise DataFormatError(path, n, f"start_time must be >= 0, got {f[0]!r}")
        speaker = f[2].strip()
        if end <= start:
            empty.append(f"line {n} ({speaker} {start:.2f}-{end:.2f})")
            continue
        turns.append(Turn(reco=reco, onset=start, duration=end - start, speaker=speaker))
    if empty:
        notes.dropped.append(f"{reco}: {len(empty)} utterances with end <= start left out ({path}: {', '.join(empty)})")
    return turns


# --------------------------------------------------------------------------- preparation
def prepare_libricss(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    audio: str = "record",
    channel: int = 0,
    conditions: Sequence[str] = CONDITIONS,
    sessions: Sequence[int] = SESSIONS,
    dev_sessions: Sequence[int] = DEV_SESSIONS,
    by_condition: bool = True,
) -> Dict[str, PrepReport]:
    """Write ``libricss_{dev,eval}`` and (``by_condition``) ``libricss_{dev,eval}_<cond>``.

    Args:
        corpus_dir: the LibriCSS root holding ``for_release/`` (layout in the module docstring).
        out_dir: where the data dirs go.
        audio: ``record`` (the room recording) or ``mix`` (the clean digital mixture).
        channel: 0-based channel of the 7-channel recording.
        conditions: which overlap conditions.
        sessions: which session indices (0-9); each must exist in every condition.
        dev_sessions: sessions of the dev set (the rest are eval).
        by_condition: also write one data dir per split and condition.

    Returns:
        Data dir name -> what was changed or dropped.

    Raises:
        FileNotFoundError: a condition, a session or a transcript is missing.
        MissingAudioError: a session's audio file is missing.
        DataFormatError: a malformed ``meeting_info.txt`` or a misplaced session folder.
    """
    _check_options(audio, channel, conditions, sessions)
    release = release_dir(corpus_dir)
    folder_notes = PrepReport()  # about the release's folders: goes to the all-condition dirs
    chosen: Dict[str, Dict[int, Session]] = {}
    for cond in conditions:
        found = find_sessions(release, cond, notes=folder_notes)
        missing = [k for k in sessions if k not in found]
        if missing:
            raise FileNotFoundError(
                f"{release / cond}: sessions {missing} of condition {cond} not found (found {sorted(found)}); "
                f"extract the complete {ZIP} or pass --sessions with the ones you have"
            )
        chosen[cond] = {k: found[k] for k in sessions}
    wav_scp: Dict[str, str] = {}
    reco2dur: Dict[str, float] = {}
    turns: Dict[str, List[Turn]] = {}
    reco_notes: Dict[str, PrepReport] = {}  # about one recording: goes to every dir holding it
    for cond in conditions:
        for sess in chosen[cond].values():
            info = sess.path / "transcription" / "meeting_info.txt"
            if not info.is_file():
                raise FileNotFoundError(f"{info}: transcript of {sess.reco} missing; extract the complete {ZIP} again")
            reco_notes[sess.reco] = PrepReport()
            turns[sess.reco] = read_meeting_info(info, sess.reco, notes=reco_notes[sess.reco])
            wav_scp[sess.reco], reco2dur[sess.reco] = _audio(sess, audio, channel, reco_notes[sess.reco])
    out: Dict[str, PrepReport] = {}
    prefix = dir_prefix(audio, channel)
    for split, ks in split_sessions(sessions, dev_sessions).items():
        groups = [(split, list(conditions))]
        if by_condition:
            groups += [(f"{split}_{c}", [c]) for c in conditions]
        for name, conds in groups:
            recos = [chosen[c][k].reco for c in conds for k in ks]
            notes = PrepReport()
            if name == split:
                notes.extend(folder_notes)
            for r in recos:
                notes.extend(reco_notes[r])
            dur = {r: reco2dur[r] for r in recos}
            dest = split_dir_name(prefix, name)
            out[dest] = write_split(
                Path(out_dir) / dest,
                wav_scp={r: wav_scp[r] for r in recos},
                turns=[t for r in recos for t in turns[r]],
                reco2dur=dur,
                uem=whole_file_uem(dur),
                notes=notes,
            )
    return out


def _audio(sess: Session, audio: str, channel: int, notes: PrepReport) -> Tuple[str, float]:
    if audio == "mix":
        path = require_audio(
            sess.path / "clean" / "mix.wav",
            reco=sess.reco,
            listed_in=str(sess.path),
            todo=f"extract the complete {ZIP} again",
        )
        header = audio_header(path)
        if header.channels == 1:
            return wav_entry(path), header.duration
        notes.changed.append(f"{sess.reco}: {path} has {header.channels} channels; channel 0 used")
        return channel_pipe(path, 1), header.duration
    path = require_audio(
        sess.path / "record" / "raw_recording.wav",
        reco=sess.reco,
        listed_in=str(sess.path),
        todo=f"extract the complete {ZIP} again",
    )
    header = audio_header(path)
    if channel >= header.channels:
        raise ValueError(f"{path}: has {header.channels} channels, cannot select channel {channel} (0-based)")
    return channel_pipe(path, channel + 1), header.duration


# --------------------------------------------------------------------------- download
def check_release_zip(path: PathLike, *, sessions: Sequence[int] = SESSIONS) -> Dict[str, int]:
    """Check a hand-downloaded ``for_release.zip``: a complete zip (its directory at the end is
    readable) holding ``meeting_info.txt`` of every ``session`` in each condition.

    Returns:
        Condition -> number of sessions found.

    Raises:
        ValueError: not a complete zip, or sessions missing (the message names them).
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a complete zip file (an interrupted download, or a Google Drive warning page saved "
            f"instead of the file); delete it and fetch it again from {ZIP_SOURCE}"
        )
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    counts: Dict[str, set] = {c: set() for c in CONDITIONS}
    for name in names:
        parts = name.split("/")
        if len(parts) >= 5 and parts[-2:] == ["transcription", "meeting_info.txt"] and parts[-4] in counts:
            m = _SESSION_DIR.match(parts[-3])
            if m:
                counts[parts[-4]].add(int(m.group("session")))
    missing = {c: sorted(set(sessions) - got) for c, got in counts.items() if set(sessions) - got}
    if missing:
        raise ValueError(
            f"{path}: not the complete LibriCSS release: sessions missing per condition "
            f"{', '.join(f'{c}: {v}' for c, v in missing.items())}; fetch it again from {ZIP_SOURCE}"
        )
    return {c: len(v) for c, v in counts.items()}


def download_libricss(
    corpus_dir: PathLike, *, zip_path: Optional[PathLike] = None, sessions: Sequence[int] = SESSIONS
) -> Path:
    """Check the hand-downloaded ``for_release.zip`` and extract it into ``corpus_dir``.

    Google Drive serves the file to browsers only: fetch it by hand and save it as
    ``<corpus_dir>/for_release.zip`` (or pass ``zip_path``). A finished extraction is skipped.

    Returns:
        The ``for_release`` folder.

    Raises:
        FileNotFoundError: the zip is not there (the message says what to fetch and where to put it).
        ValueError: the zip is incomplete or not LibriCSS.
    """
    corpus_dir = Path(corpus_dir)
    archive = Path(zip_path) if zip_path is not None else corpus_dir / ZIP
    check_manual_download(archive, what="the LibriCSS release", where_from=ZIP_SOURCE, md5=ZIP_MD5)
    if was_extracted(archive, corpus_dir):
        logger.info("%s: already extracted into %s", archive, corpus_dir)
    else:
        counts = check_release_zip(archive, sessions=sessions)
        logger.info("%s: sessions per condition %s", archive, counts)
        unpack(archive, corpus_dir, done=corpus_dir / RELEASE)
    return corpus_dir / RELEASE


# --------------------------------------------------------------------------- command line
def int_list(text: str) -> List[int]:
    """Whole numbers given as one word: ``'0 1 2'`` or ``0,1,2``."""
    try:
        return [int(t) for t in str_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by spaces or commas, got {text!r}"
        ) from None


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio", default="record", choices=list(AUDIO), help="the room recording or the clean mixture")
    p.add_argument("--channel", type=int, default=0, help="0-based channel of the 7-channel recording")
    p.add_argument("--conditions", type=str_list, default=list(CONDITIONS), help="e.g. 'OV10 OV40'")
    p.add_argument("--sessions", type=int_list, default=list(SESSIONS), help="session indices 0-9")
    p.add_argument("--dev_sessions", type=int_list, default=list(DEV_SESSIONS), help="sessions of the dev set")
    p.add_argument("--by_condition", type=str2bool, default=True, help="also one data dir per split and condition")
    p.add_argument("--zip", default=None, help="download: the hand-downloaded for_release.zip (default in corpus_dir)")


CLI = CorpusCli(
    summary="LibriCSS: 10 sessions x 6 overlap conditions, session 0 as dev, one dir per condition",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_libricss(
            a.corpus_dir,
            a.out_dir,
            audio=a.audio,
            channel=a.channel,
            conditions=a.conditions,
            sessions=a.sessions,
            dev_sessions=a.dev_sessions,
            by_condition=a.by_condition,
        )
    ),
    data_dirs=lambda a: data_dir_names(
        audio=a.audio,
        channel=a.channel,
        conditions=a.conditions,
        sessions=a.sessions,
        dev_sessions=a.dev_sessions,
        by_condition=a.by_condition,
    ),
    download=lambda a: download_libricss(a.corpus_dir, zip_path=path_or_none(a.zip), sessions=a.sessions),
    validation=lambda a: {"expected_fs": 16000, "global_speakers": True},
)
