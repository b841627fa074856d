"""ICSI Meeting Corpus: RTTM derived from the MRT transcripts; the Kaldi/lhotse 70/2/3 split.

Layout under ``corpus_dir`` (the recipe's ``$ICSI``), mirroring the Edinburgh server::

    transcripts/<MTG>.mrt                   ICSI_original_transcripts.zip (MRT XML)
    ICSIsignals/NXT/<MTG>.interaction.wav   headset mix (default condition, ``mic="ihm-mix"``)
    ICSIsignals/SPH/<MTG>/<chan>.sph        per-channel SPHERE (``mic="chanF"`` = desktop D2,
                                            Kaldi's sdm4; ``chan6`` = D3, lhotse's sdm)

Split (Renals & Swietojanski 2014, as in Kaldi egs/icsi and lhotse): dev = Bmr021 Bns001,
test = Bmr013 Bmr018 Bro021, train = the other 70 meetings found in ``transcripts/``. Data dirs
``icsi_{train,dev,test}`` (``icsi_<mic>_<split>`` for a single channel).

Turns, from ``<Segment StartTime= EndTime= Participant=>`` of the ``<Transcript>``:

- a segment without ``Participant`` is not a speaker turn (digits-task marks, comments): skipped,
  counted per meeting in ``prep_report.txt``;
- a segment with words (any letter or digit in its text, markup such as ``<Emphasis>`` or
  ``<Uncertain>`` included) is a turn;
- a segment whose only content is ``<VocalSound>`` (laughs, breaths, coughs) is skipped by
  default, in the spirit of AMI ``only_words``; ``vocal_sounds=True`` keeps it as a turn;
- a segment with only ``<NonVocalSound>``, ``<Comment>``, ``<Pause>`` or nothing is never a turn.

Speaker ids are the corpus's global ones (``me011``). Turns are clipped to the ``<Transcript>``
StartTime-EndTime, which is also the UEM (clipped to the audio).
"""

from __future__ import annotations

import argparse
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, summarize
from espnet2_tsdia.corpora.common import (
    audio_header,
    channel_pipe,
    clip_to_windows,
    clip_uem,
    corpus_fetch,
    known_split,
    require_audio,
    sph_pipe,
    split_dir_name,
    unpack,
    wav_entry,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.formats.uem import UemSegment
from espnet2_tsdia.utils.cli import str2bool, str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
DEV = ("Bmr021", "Bns001")
TEST = ("Bmr013", "Bmr018", "Bro021")
MICS = ("ihm-mix",) + tuple(f"chan{c}" for c in "0123456789ABCDEF")
BASE = "http://groups.inf.ed.ac.uk/ami"
TRANSCRIPTS_URL = f"{BASE}/ICSICorpusAnnotations/ICSI_original_transcripts.zip"
MIX_URL = f"{BASE}/ICSIsignals/NXT/{{mtg}}.interaction.wav"
SPH_URL = f"{BASE}/ICSIsignals/SPH/{{mtg}}/{{chan}}.sph"
#: archive file name -> published md5. The mirror publishes none, so every file is checked
#: against the md5 recorded at its first download instead (``<corpus_dir>/checksums.md5``).
MD5: Dict[str, str] = {}
_WORD = re.compile(r"[^\W_]")
_NOT_WORDS = ("VocalSound", "NonVocalSound", "Comment", "Pause")


def audio_path(corpus_dir: PathLike, meeting: str, mic: str) -> Path:
    root = Path(corpus_dir) / "ICSIsignals"
    if mic == "ihm-mix":
        return root / "NXT" / f"{meeting}.interaction.wav"
    return root / "SPH" / meeting / f"{mic}.sph"


def dir_prefix(mic: str) -> str:
    """Data dirs are ``icsi_<split>`` for the headset mix, ``icsi_<mic>_<split>`` for a channel."""
    return "icsi" if mic == "ihm-mix" else f"icsi_{mic}"


def split_of(meeting: str) -> str:
    return "dev" if meeting in DEV else "test" if meeting in TEST else "train"


def _words(seg: ET.Element) -> bool:
    text = [seg.text or ""]
    for child in seg.iter():
        if child is not seg:
            if child.tag not in _NOT_WORDS:
                text.append(child.text or "")
            text.append(child.tail or "")
    return bool(_WORD.search("".join(text)))


def _time(seg: ET.Element, key: str, path: PathLike, line: int) -> float:
    raw = seg.get(key)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(path, line, f"<{seg.tag}> {key}={raw!r} is not a number") from None
    if value < 0:
        raise DataFormatError(path, line, f"<{seg.tag}> {key}={raw!r} is negative")
    return value


def read_mrt(
    path: PathLike, *, vocal_sounds: bool = False, notes: PrepReport
) -> Tuple[str, Tuple[float, float], List[Turn]]:
    """Turns of one MRT transcript (rules in the module docstring).

    Returns:
        ``(session, (transcript_start, transcript_end), turns)``.

    Raises:
        DataFormatError: not MRT XML, a ``Meeting Session`` other than the file name, a
            ``<Transcript>`` missing, bad times.
    """
    path = Path(path)
    lines: Dict[int, int] = {}
    parser = ET.XMLPullParser(events=("start",))
    try:
        with open(path, "rb") as f:
            data = f.read()
        # Line numbers for messages: expat reports them through the parser position.
        root = None
        for n, chunk in enumerate(data.splitlines(keepends=True), start=1):
            parser.feed(chunk)
            for _, elem in parser.read_events():
                lines.setdefault(id(elem), n)
                if root is None:
                    root = elem
        parser.close()
    except ET.ParseError as e:
        raise DataFormatError(path, e.position[0] if e.position else None, f"not well-formed XML: {e}") from None
    if root is None or root.tag != "Meeting":
        raise DataFormatError(path, 1, f"expected a <Meeting> root element, got {None if root is None else root.tag!r}")
    session = root.get("Session")
    if session != path.stem:
        raise DataFormatError(
            path,
            lines.get(id(root)),
            f"<Meeting Session={session!r}> names another meeting than the file name {path.stem!r}; fix or remove the file",
        )
    transcript = root.find("Transcript")
    if transcript is None:
        raise DataFormatError(path, None, "no <Transcript> element")
    t_line = lines.get(id(transcript), 0)
    window = (_time(transcript, "StartTime", path, t_line), _time(transcript, "EndTime", path, t_line))
    turns: List[Turn] = []
    no_participant = vocal_only = other = 0
    for seg in transcript.iter("Segment"):
        line = lines.get(id(seg), 0)
        start, end = _time(seg, "StartTime", path, line), _time(seg, "EndTime", path, line)
        speaker = seg.get("Participant")
        if not speaker:
            no_participant += 1
            continue
        if re.search(r"\s", speaker):
            raise DataFormatError(path, line, f"Participant {speaker!r} contains whitespace")
        if not _words(seg):
            if seg.find(".//VocalSound") is not None:
                vocal_only += 1
                if not vocal_sounds:
                    continue
            else:
                other += 1
                continue
        if end <= start:
            notes.dropped.append(f"{session} {speaker} [{start:.3f}, {end:.3f}]: empty segment ({path}:{line})")
            continue
        turns.append(Turn(reco=session, onset=start, duration=end - start, speaker=speaker))
    if no_participant:
        notes.dropped.append(f"{session}: {no_participant} segments without Participant are not speaker turns")
    if vocal_only and vocal_sounds:
        notes.changed.append(f"{session}: {vocal_only} segments holding only <VocalSound> kept as turns (vocal_sounds)")
    elif vocal_only:
        notes.dropped.append(
            f"{session}: {vocal_only} segments holding only <VocalSound> skipped (only words count as speech)"
        )
    if other:
        notes.dropped.append(
            f"{session}: {other} segments without words or vocal sounds (non-vocal sounds, comments) skipped"
        )
    return str(session), window, turns


def meetings(corpus_dir: PathLike) -> List[str]:
    """Meeting ids with a transcript (``preambles.mrt`` is not a meeting)."""
    tdir = Path(corpus_dir) / "transcripts"
    if not tdir.is_dir():
        raise FileNotFoundError(f"{tdir}: ICSI transcripts missing; download them (prepare_corpus icsi download)")
    return sorted(p.stem for p in tdir.glob("*.mrt") if p.stem.lower() != "preambles")


def prepare_icsi(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    mic: str = "ihm-mix",
    splits: Sequence[str] = SPLITS,
    vocal_sounds: bool = False,
    exclude: Sequence[str] = (),
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/icsi_{train,dev,test}`` (``icsi_<mic>_<split>`` for a single channel).

    Args:
        corpus_dir: the ICSI root (layout in the module docstring).
        out_dir: where the data dirs go.
        mic: ``ihm-mix`` (headset mix) or one SPHERE channel ``chan0``..``chanF``.
        splits: any of train, dev, test.
        vocal_sounds: also count segments holding only ``<VocalSound>`` as speech.
        exclude: meeting ids to leave out (reported).

    Raises:
        MissingAudioError: a meeting with a transcript has no audio.
        DataFormatError: a transcript is malformed or names another meeting.
    """
    known_split(mic, MICS, what="ICSI mic")
    for s in splits:
        known_split(s, SPLITS)
    corpus_dir = Path(corpus_dir).absolute()
    all_meetings = meetings(corpus_dir)
    named = {m.lower(): m for m in DEV + TEST}
    for mtg in all_meetings:
        if mtg.lower() in named and mtg not in named.values():
            raise ValueError(
                f"{corpus_dir / 'transcripts' / (mtg + '.mrt')}: meeting {mtg!r} is {named[mtg.lower()]!r} of the "
                f"{split_of(named[mtg.lower()])} set spelled with another case (the LDC release's naming); meeting "
                "names are case-sensitive: use the Edinburgh release or rename the transcript and audio"
            )
    missing_split = sorted(set(DEV + TEST) - set(all_meetings))
    if missing_split:
        logger.warning("ICSI dev/test meetings without transcript: %s", " ".join(missing_split))
    excluded = set(exclude)
    prefix = dir_prefix(mic)
    out: Dict[str, PrepReport] = {}
    for split in splits:
        notes = PrepReport()
        wav_scp: Dict[str, str] = {}
        reco2dur: Dict[str, float] = {}
        turns: List[Turn] = []
        windows: Dict[str, Tuple[float, float]] = {}
        for mtg in all_meetings:
            if split_of(mtg) != split:
                continue
            if mtg in excluded:
                notes.dropped.append(f"{mtg}: excluded by the caller")
                continue
            mrt = corpus_dir / "transcripts" / f"{mtg}.mrt"
            path = require_audio(
                audio_path(corpus_dir, mtg, mic),
                reco=mtg,
                listed_in=str(mrt),
                todo=f"download it (prepare_corpus icsi download --mic {mic}) or pass --exclude {mtg}",
            )
            _, windows[mtg], mtg_turns = read_mrt(mrt, vocal_sounds=vocal_sounds, notes=notes)
            header = audio_header(path)
            if mic == "ihm-mix":
                wav_scp[mtg] = wav_entry(path) if header.channels == 1 else channel_pipe(path, 1)
            else:
                wav_scp[mtg] = sph_pipe(path)
            reco2dur[mtg] = header.duration
            turns += mtg_turns
        turns = clip_to_windows(turns, windows, what="transcript span", notes=notes)
        uem = clip_uem({r: [UemSegment(r, lo, hi)] for r, (lo, hi) in windows.items()}, reco2dur, notes=notes)
        name = split_dir_name(prefix, split)
        out[name] = write_split(
            Path(out_dir) / name, wav_scp=wav_scp, turns=turns, reco2dur=reco2dur, uem=uem, notes=notes
        )
    return out


def download_icsi(corpus_dir: PathLike, *, mic: str = "ihm-mix") -> None:
    """Download the MRT transcripts and every meeting's audio for ``mic`` (resumable; finished
    files are checked, not fetched again).

    The Edinburgh mirror publishes no checksums: the md5 of every file is recorded in
    ``<corpus_dir>/checksums.md5`` when its download completes (trust on first use), and every
    later run checks the files against it (``ChecksumError`` on a mismatch). The transcripts are
    extracted once; an interrupted extraction is redone on the next run.
    """
    known_split(mic, MICS, what="ICSI mic")
    corpus_dir = Path(corpus_dir)
    fetch = corpus_fetch(corpus_dir)
    archive = fetch(
        TRANSCRIPTS_URL,
        corpus_dir / "downloads" / "ICSI_original_transcripts.zip",
        md5=MD5.get("ICSI_original_transcripts.zip"),
    )
    unpack(archive, corpus_dir, done=corpus_dir / "transcripts")
    for mtg in meetings(corpus_dir):
        url = MIX_URL.format(mtg=mtg) if mic == "ihm-mix" else SPH_URL.format(mtg=mtg, chan=mic)
        fetch(url, audio_path(corpus_dir, mtg, mic))


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mic", default="ihm-mix", choices=MICS, help="ihm-mix (headset mix) or a SPHERE channel (chanF = D2)"
    )
    p.add_argument("--splits", type=str_list, default=list(SPLITS), help="e.g. 'dev test'")
    p.add_argument("--vocal_sounds", type=str2bool, default=False, help="<VocalSound>-only segments count as speech")
    p.add_argument("--exclude", type=str_list, default=[], help="meeting ids to leave out (reported)")


CLI = CorpusCli(
    summary="ICSI: RTTM from the MRT transcripts, 70/2/3 split",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_icsi(
            a.corpus_dir, a.out_dir, mic=a.mic, splits=a.splits, vocal_sounds=a.vocal_sounds, exclude=a.exclude
        )
    ),
    data_dirs=lambda a: [split_dir_name(dir_prefix(a.mic), s) for s in a.splits],
    download=lambda a: download_icsi(a.corpus_dir, mic=a.mic),
    validation=lambda a: {"expected_fs": 16000, "global_speakers": True},
)
