"""AMI Meeting Corpus: BUT "Full-corpus-ASR" split with the BUT only_words references and UEMs.

Layout under ``corpus_dir`` (the recipe's ``$AMI``)::

    amicorpus/<MTG>/audio/<MTG>.<stream>.wav      16 kHz audio, as on the Edinburgh mirror
    AMI-diarization-setup/                         github.com/BUTSpeechFIT/AMI-diarization-setup
        lists/{train,dev,test}.meetings.txt        136 / 18 / 16 meetings
        only_words/rttms/<split>/<MTG>.rttm        references (also word_and_vocalsounds/)
        uems/<split>/<MTG>.uem                     whole-file scoring regions

Conditions: ``stream="Mix-Headset"`` (default; pyannote's "AMI IHM", data dirs ``ami_<split>``)
or ``stream="Array1-01"`` (the standard SDM; data dirs ``ami_sdm_<split>``). Array1-01 does not
exist for IS1003b and IS1007d (HTTP 404 on the mirror): those two are skipped by the download
and left out of the SDM lists, with a line in ``prep_report.txt``; any other missing file stops
the preparation unless ``missing_ok=True``.

Speaker ids are the corpus's global ones (``FEE041``, role-suffixed ``MTD025PM``), unchanged.
Turns are clipped to the UEM (TS3007c has turns up to 2430.16 s against a UEM end of 2420.0 s:
one is clipped, three are dropped, all reported), then to the audio length.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, summarize
from espnet2_tsdia.corpora.common import (
    DOWNLOAD_ERRORS,
    MissingAudioError,
    audio_header,
    channel_pipe,
    check_rttm_recordings,
    clip_to_windows,
    clip_uem,
    corpus_manifest,
    fetch,
    fetch_repo,
    known_split,
    split_dir_name,
    wav_entry,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import read_list
from espnet2_tsdia.formats.rttm import Turn, read_rttm
from espnet2_tsdia.formats.uem import UemSegment, read_uem
from espnet2_tsdia.utils.cli import str2bool, str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
#: stream -> data dir prefix
STREAMS = {"Mix-Headset": "ami", "Array1-01": "ami_sdm"}
REFERENCES = ("only_words", "word_and_vocalsounds")
#: Files the mirror does not have (HTTP 404; lhotse issue #1282).
KNOWN_MISSING = {"Array1-01": ("IS1003b", "IS1007d")}
SETUP_DIR = "AMI-diarization-setup"
AUDIO_URL = "http://groups.inf.ed.ac.uk/ami/AMICorpusMirror/amicorpus/{mtg}/audio/{mtg}.{stream}.wav"
SETUP_URL = "https://github.com/BUTSpeechFIT/AMI-diarization-setup/archive/HEAD.zip"


def audio_path(corpus_dir: PathLike, meeting: str, stream: str) -> Path:
    return Path(corpus_dir) / "amicorpus" / meeting / "audio" / f"{meeting}.{stream}.wav"


def _check_options(stream: str, reference: str, splits: Sequence[str]) -> None:
    known_split(stream, list(STREAMS), what="AMI stream")
    known_split(reference, REFERENCES, what="AMI reference flavour")
    for s in splits:
        known_split(s, SPLITS)


def prepare_ami(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    stream: str = "Mix-Headset",
    reference: str = "only_words",
    splits: Sequence[str] = SPLITS,
    setup_dir: Optional[PathLike] = None,
    missing_ok: bool = False,
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/ami_<split>`` (``ami_sdm_<split>`` for Array1-01) data dirs.

    Args:
        corpus_dir: the AMI root (see the module docstring for the layout).
        out_dir: where the data dirs go (e.g. ``data``).
        stream: ``Mix-Headset`` or ``Array1-01``.
        reference: BUT reference flavour, ``only_words`` (standard) or ``word_and_vocalsounds``.
        splits: any of train, dev, test.
        setup_dir: the BUT setup checkout (default ``<corpus_dir>/AMI-diarization-setup``).
        missing_ok: leave out (and report) any meeting whose audio is missing, instead of
            stopping; the two known-missing Array1-01 files are always left out.

    Returns:
        Data dir name -> what was changed or dropped.

    Raises:
        MissingAudioError: a listed meeting has no audio (and ``missing_ok`` is False).
        FileNotFoundError: a list, RTTM or UEM of the setup is missing.
        DataFormatError: an RTTM/UEM names a meeting other than its own, or an RTTM in the setup
            describes a meeting that is not in the split's list.
    """
    _check_options(stream, reference, splits)
    corpus_dir = Path(corpus_dir).absolute()
    setup = Path(setup_dir).absolute() if setup_dir is not None else corpus_dir / SETUP_DIR
    out: Dict[str, PrepReport] = {}
    for split in splits:
        name = split_dir_name(STREAMS[stream], split)
        out[name] = _prepare_split(corpus_dir, setup, Path(out_dir) / name, split, stream, reference, missing_ok)
    return out


def _prepare_split(
    corpus_dir: Path, setup: Path, dest: Path, split: str, stream: str, reference: str, missing_ok: bool
) -> PrepReport:
    list_path = setup / "lists" / f"{split}.meetings.txt"
    if not list_path.is_file():
        raise FileNotFoundError(
            f"{list_path}: AMI split list missing; download the BUT setup (prepare_corpus ami download) or pass --setup_dir"
        )
    meetings = read_list(list_path)
    rttm_dir = setup / reference / "rttms" / split
    uem_dir = setup / "uems" / split
    if not rttm_dir.is_dir():
        raise FileNotFoundError(f"{rttm_dir}: AMI reference folder missing; download the BUT setup again")
    listed = set(meetings)
    for rttm in sorted(rttm_dir.glob("*.rttm")):
        if rttm.stem not in listed:
            raise DataFormatError(
                rttm,
                None,
                f"describes meeting {rttm.stem!r}, which is not in {list_path}; the setup is inconsistent: download it again or remove the file",
            )
    notes = PrepReport()
    wav_scp: Dict[str, str] = {}
    reco2dur: Dict[str, float] = {}
    turns: List[Turn] = []
    uem: Dict[str, List[UemSegment]] = {}
    for mtg in meetings:
        path = audio_path(corpus_dir, mtg, stream)
        if not path.is_file():
            if mtg in KNOWN_MISSING.get(stream, ()):
                notes.dropped.append(
                    f"{mtg}: no {stream} audio exists for this meeting (HTTP 404 on the AMI mirror); left out of {split}"
                )
                continue
            if missing_ok:
                notes.dropped.append(f"{mtg}: audio {path} missing; left out (missing_ok)")
                continue
            raise MissingAudioError(
                f"{path}: audio of meeting {mtg!r} (listed in {list_path}) does not exist; download it "
                f"(python -m espnet2_tsdia.bin.prepare_corpus ami download --corpus_dir {corpus_dir} --stream {stream}), "
                f"remove {mtg} from that list, or pass --missing_ok true to leave missing meetings out"
            )
        rttm = rttm_dir / f"{mtg}.rttm"
        if not rttm.is_file():
            raise FileNotFoundError(
                f"{rttm}: reference of meeting {mtg!r} (listed in {list_path}) missing; download the BUT setup again"
            )
        mtg_turns = read_rttm(rttm)
        check_rttm_recordings(
            mtg_turns, allowed=[mtg], source=rttm, todo="each BUT RTTM describes only its own meeting"
        )
        uem_path = uem_dir / f"{mtg}.uem"
        if not uem_path.is_file():
            raise FileNotFoundError(f"{uem_path}: UEM of meeting {mtg!r} missing; download the BUT setup again")
        mtg_uem = read_uem(uem_path)
        for reco in mtg_uem:
            if reco != mtg:
                raise DataFormatError(uem_path, None, f"names recording {reco!r}, expected only {mtg!r}")
        header = audio_header(path)
        wav_scp[mtg] = wav_entry(path) if header.channels == 1 else channel_pipe(path, 1)
        reco2dur[mtg] = header.duration
        regions = mtg_uem.get(mtg, [])
        if regions:
            window: Dict[str, Tuple[float, float]] = {mtg: (regions[0].onset, max(u.end for u in regions))}
            mtg_turns = clip_to_windows(mtg_turns, window, what="UEM", notes=notes)
            uem[mtg] = regions
        turns += mtg_turns
    uem = clip_uem(uem, reco2dur, notes=notes)
    return write_split(dest, wav_scp=wav_scp, turns=turns, reco2dur=reco2dur, uem=uem, notes=notes)


def download_ami(
    corpus_dir: PathLike,
    *,
    stream: str = "Mix-Headset",
    splits: Sequence[str] = SPLITS,
    missing_ok: bool = False,
) -> None:
    """Download the BUT setup and the audio of every listed meeting (resumable; finished files
    are checked, not fetched again). The Array1-01 files known to be absent are not requested;
    with ``missing_ok`` any other file the server cannot deliver is logged and skipped.

    Nothing of AMI has a published checksum: the md5 of every file is recorded in
    ``<corpus_dir>/checksums.md5`` when its download completes (trust on first use), and every
    later run checks the files against it. A mismatch raises ``ChecksumError``, also with
    ``missing_ok``.
    """
    _check_options(stream, "only_words", splits)
    corpus_dir = Path(corpus_dir)
    manifest = corpus_manifest(corpus_dir)
    setup = fetch_repo(
        SETUP_URL,
        corpus_dir / SETUP_DIR,
        archive=corpus_dir / "downloads" / "AMI-diarization-setup.zip",
        manifest=manifest,
    )
    for split in splits:
        for mtg in read_list(setup / "lists" / f"{split}.meetings.txt"):
            if mtg in KNOWN_MISSING.get(stream, ()):
                logger.info("%s: no %s audio exists on the mirror; skipped", mtg, stream)
                continue
            url = AUDIO_URL.format(mtg=mtg, stream=stream)
            try:
                fetch(url, audio_path(corpus_dir, mtg, stream), manifest=manifest)
            except DOWNLOAD_ERRORS as e:  # not delivered; a bad checksum is never skipped
                if not missing_ok:
                    raise
                logger.warning("%s: download failed (%s); skipped (missing_ok)", url, e)


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stream", default="Mix-Headset", choices=list(STREAMS), help="Array1-01: the SDM (dirs ami_sdm_*)")
    p.add_argument("--reference", default="only_words", choices=REFERENCES, help="BUT reference flavour")
    p.add_argument("--splits", type=str_list, default=list(SPLITS), help="e.g. 'dev test'")
    p.add_argument("--setup_dir", default=None, help="BUT setup checkout (default <corpus_dir>/AMI-diarization-setup)")
    p.add_argument("--missing_ok", type=str2bool, default=False, help="leave out meetings without audio (reported)")


CLI = CorpusCli(
    summary="AMI: BUT Full-corpus-ASR split, only_words references",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_ami(
            a.corpus_dir,
            a.out_dir,
            stream=a.stream,
            reference=a.reference,
            splits=a.splits,
            setup_dir=path_or_none(a.setup_dir),
            missing_ok=a.missing_ok,
        )
    ),
    data_dirs=lambda a: [split_dir_name(STREAMS[a.stream], s) for s in a.splits],
    download=lambda a: download_ami(a.corpus_dir, stream=a.stream, splits=a.splits, missing_ok=a.missing_ok),
    validation=lambda a: {"expected_fs": 16000, "global_speakers": True},
)
