"""TED-LIUM release 2 (OpenSLR 19) and release 3 (OpenSLR 51): TED talks with STM transcripts.

Almost every talk has one speaker, so TED-LIUM is single-speaker source material (for
``python -m espnet2_tsdia.bin.simulate --source_dir`` and for speaker models), not a diarization
test set. The data dirs written here are still complete and valid: one recording per talk, one
segment per STM utterance (utterances that merely touch stay apart, so the dir is also a
simulation source dir), a reference RTTM and a whole-file UEM.

Layout under ``corpus_dir`` (the recipe's ``$TEDLIUM``; the release folder itself also works),
as the archives extract and as Kaldi's ``egs/tedlium/s5_r2`` / ``s5_r3`` ``local/prepare_data.sh``
and lhotse's ``tedlium``/``tedlium2`` recipes read it::

    TEDLIUM_release2/{train,dev,test}/sph/<talk>.sph              release 2 (1495 + 8 + 11 talks)
    TEDLIUM_release2/{train,dev,test}/stm/<talk>.stm
    TEDLIUM_release-3/legacy/{train,dev,test}/{sph,stm}/<talk>.*   release 3, TED-LIUM 2's dev/test
    TEDLIUM_release-3/speaker-adaptation/{train,dev,test}/{sph,stm}/<talk>.*
    TEDLIUM_release-3/data/{sph,stm}/<talk>.*                     all 2351 talks (not a split)

Audio: NIST SPHERE, 16 kHz, 16-bit PCM, mono (the release READMEs); libsndfile reads it, so
``wav.scp`` holds the plain path (a SPHERE file libsndfile cannot read gets an ``sph2pipe``/sox
pipe). STM (NIST sclite format), one utterance per line::

    <talk> <channel> <speaker> <start> <end> <label> <words ...>      e.g. label <o,f0,male>

``;;`` lines are comments. Lines whose words are ``ignore_time_segment_in_scoring`` (in the
test STMs their speaker is ``inter_segment_gap``) mark regions without transcribed speech of the
talk's speaker; they are left out, one ``DROPPED`` line each in ``prep_report.txt``. The speaker
of every utterance is the talk (Kaldi's and lhotse's convention; TED-LIUM has no speaker ids
across talks, so one person giving two talks is two speakers); an STM speaker field that names
someone else is reported. Data dirs ``tedlium<release>[_sa]_<split>`` (``_sa``: the
speaker-adaptation distribution of release 3).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

from espnet2_tsdia.audio.info import audio_info
from espnet2_tsdia.corpora.cli import CorpusCli, summarize
from espnet2_tsdia.corpora.common import (
    audio_header,
    corpus_fetch,
    known_split,
    require_audio,
    sph_pipe,
    unpack,
    wav_entry,
    whole_file_uem,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.utils.atomic import atomic_write_text
from espnet2_tsdia.utils.cli import str_list
from espnet2_tsdia.utils.download import ChecksumError

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

RELEASES = ("2", "3")
DISTRIBUTIONS = ("legacy", "speaker-adaptation")
SPLITS = ("train", "dev", "test")
IGNORE = "ignore_time_segment_in_scoring"
GAP_SPEAKER = "inter_segment_gap"


@dataclass(frozen=True)
class Release:
    """Download facts of one release: the archive, its SHA-256 (recorded by torchaudio's
    ``TEDLIUM`` dataset; OpenSLR publishes none), the folder it extracts to and how many SPHERE
    files a complete copy holds (Kaldi's ``local/download_data.sh`` checks the same counts)."""

    url: str
    sha256: str
    folder: str
    sph_count: int
    count_under: str  # where the SPHERE files are counted, relative to the release folder


DOWNLOADS: Dict[str, Release] = {
    "2": Release(
        url="http://www.openslr.org/resources/19/TEDLIUM_release2.tar.gz",
        sha256="93281b5fcaaae5c88671c9d000b443cb3c7ea3499ad12010b3934ca41a7b9c58",
        folder="TEDLIUM_release2",
        sph_count=1514,
        count_under=".",
    ),
    "3": Release(
        url="http://www.openslr.org/resources/51/TEDLIUM_release-3.tgz",
        sha256="ad1e454d14d1ad550bc2564c462d87c7a7ec83d4dc2b9210f22ab4973b9eccdb",
        folder="TEDLIUM_release-3",
        sph_count=2351,
        count_under="data",
    ),
}


@dataclass(frozen=True)
class StmLine:
    """One STM utterance (times in seconds)."""

    talk: str
    speaker: str
    start: float
    end: float
    words: str
    line: int


def release_root(corpus_dir: PathLike, release: str) -> Path:
    """``corpus_dir/<release folder>``, or ``corpus_dir`` itself when it is that folder."""
    known_split(release, RELEASES, what="TED-LIUM release")
    corpus_dir = Path(corpus_dir)
    folder = corpus_dir / DOWNLOADS[release].folder
    return folder if folder.is_dir() else corpus_dir


def split_dir(root: Path, release: str, distribution: str, split: str) -> Path:
    """The folder holding ``sph/`` and ``stm/`` of one split."""
    if release == "2":
        return root / split
    return root / distribution / split


def dir_name(release: str, distribution: str, split: str) -> str:
    """``tedlium3_train``, ``tedlium3_sa_dev``, ``tedlium2_test``."""
    sa = "_sa" if release == "3" and distribution == "speaker-adaptation" else ""
    return f"tedlium{release}{sa}_{split}"


def read_stm(path: PathLike) -> List[StmLine]:
    """The utterances of an STM file (``;;`` comment lines skipped).

    Raises:
        DataFormatError: fewer than 6 fields, times that are not numbers, a negative start.
    """
    out = []
    for n, line in iter_lines(path):
        if not line.strip() or line.lstrip().startswith(";;"):
            continue
        f = line.split()
        if len(f) < 6:
            raise DataFormatError(
                path, n, f"expected '<talk> <channel> <speaker> <start> <end> <label> <words>', got {line!r}"
            )
        try:
            start, end = float(f[3]), float(f[4])
        except ValueError:
            raise DataFormatError(path, n, f"start and end must be numbers (seconds), got {f[3]!r} {f[4]!r}") from None
        if start < 0:
            raise DataFormatError(path, n, f"start must be >= 0, got {start}")
        out.append(StmLine(talk=f[0], speaker=f[2], start=start, end=end, words=" ".join(f[6:]), line=n))
    return out


def stm_turns(path: Path, talk: str, notes: PrepReport) -> List[Turn]:
    """The talk's speaker turns from its STM: ignore regions left out, every line naming another
    speaker reported (all are labelled as the talk's speaker).

    Raises:
        DataFormatError: a line names another talk than the file's.
    """
    turns = []
    others: Dict[str, int] = {}
    for u in read_stm(path):
        if u.talk != talk:
            raise DataFormatError(
                path, u.line, f"names talk {u.talk!r}; the STM file of talk {talk!r} may only describe that talk"
            )
        if u.words == IGNORE or u.speaker == GAP_SPEAKER:
            notes.dropped.append(
                f"{talk} [{u.start:.3f}, {u.end:.3f}]: STM line {u.line} is an excluded region "
                f"(speaker {u.speaker}, words {u.words!r}), not speech of the talk's speaker"
            )
            continue
        if u.speaker != talk:
            others[u.speaker] = others.get(u.speaker, 0) + 1
        turns.append(Turn(reco=talk, onset=u.start, duration=u.end - u.start, speaker=talk))
    for spk, count in sorted(others.items()):
        notes.changed.append(f"{talk}: {count} STM lines name speaker {spk!r}; labelled as the talk's speaker {talk}")
    return turns


def prepare_tedlium(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    release: str = "3",
    distribution: str = "legacy",
    splits: Sequence[str] = SPLITS,
    exclude: Sequence[str] = (),
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/tedlium<release>[_sa]_<split>`` (layout and rules in the module docstring).

    Args:
        corpus_dir: the TED-LIUM root (holding the release folder) or the release folder.
        out_dir: where the data dirs go.
        release: ``"2"`` or ``"3"``.
        distribution: release 3 only: ``legacy`` (TED-LIUM 2's dev and test; Kaldi s5_r3) or
            ``speaker-adaptation``.
        splits: any of train, dev, test.
        exclude: talk ids to leave out (reported).

    Raises:
        FileNotFoundError: a split folder is missing.
        MissingAudioError: an STM file has no SPHERE file.
        DataFormatError: a malformed STM line, or one naming another talk.
    """
    known_split(distribution, DISTRIBUTIONS, what="TED-LIUM 3 distribution")
    for s in splits:
        known_split(s, SPLITS)
    root = release_root(Path(corpus_dir).absolute(), release)
    excluded = set(exclude)
    out: Dict[str, PrepReport] = {}
    for split in splits:
        base = split_dir(root, release, distribution, split)
        if not (base / "stm").is_dir():
            raise FileNotFoundError(
                f"{base / 'stm'}: TED-LIUM {release} {split} transcripts missing; download and extract the release "
                "(prepare_corpus tedlium download) or point $TEDLIUM at the folder holding "
                f"{DOWNLOADS[release].folder}"
            )
        notes = PrepReport()
        wav_scp: Dict[str, str] = {}
        reco2dur: Dict[str, float] = {}
        turns: List[Turn] = []
        stms = sorted(base.glob("stm/*.stm"))
        if not stms:
            raise FileNotFoundError(f"{base / 'stm'}: no .stm files")
        for stm in stms:
            talk = stm.stem
            if talk in excluded:
                notes.dropped.append(f"{talk}: excluded by the caller")
                continue
            sph = require_audio(
                base / "sph" / f"{talk}.sph",
                reco=talk,
                listed_in=str(stm),
                todo=f"re-extract the release archive or pass --exclude {talk}",
            )
            talk_turns = stm_turns(stm, talk, notes)
            wav_scp[talk], reco2dur[talk] = _sph_entry(sph)
            turns += talk_turns
        if not wav_scp:
            raise ValueError(f"{base}: every talk of the {split} split is excluded; leave the split out instead")
        known = {p.stem for p in stms}
        extra = sorted(p.stem for p in base.glob("sph/*.sph") if p.stem not in known)
        if extra:
            notes.dropped.append(
                f"{len(extra)} SPHERE files in {base / 'sph'} have no STM and are left out: {' '.join(extra)}"
            )
        name = dir_name(release, distribution, split)
        out[name] = write_split(
            Path(out_dir) / name,
            wav_scp=wav_scp,
            turns=turns,
            reco2dur=reco2dur,
            uem=whole_file_uem(reco2dur),
            notes=notes,
        )
    return out


def _sph_entry(path: Path) -> Tuple[str, float]:
    """wav.scp value and duration of a SPHERE file (a plain path when libsndfile reads it)."""
    try:
        info = audio_info(str(path))
        return wav_entry(path), info.duration
    except ValueError:  # e.g. shorten-compressed: sox (through audio_header) or sph2pipe decode it
        return sph_pipe(path), audio_header(path).duration


# --------------------------------------------------------------------------- download
def sha256sum(path: PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download_tedlium(corpus_dir: PathLike, *, release: str = "3") -> Path:
    """Download (resumable) the release archive into ``corpus_dir/downloads``, check it, extract it
    into ``corpus_dir`` and count its SPHERE files. Skipped when the release folder is complete.

    The archive's md5 is checked like every download (OpenSLR's checksum list when it has one,
    else recorded in ``<corpus_dir>/checksums.md5`` at the first download and checked on later
    runs), and its SHA-256 once against the value torchaudio records.

    Raises:
        espnet2_tsdia.utils.download.ChecksumError: the archive is corrupt (delete it and rerun).
        RuntimeError: the extracted release lacks SPHERE files.
    """
    known_split(release, RELEASES, what="TED-LIUM release")
    facts = DOWNLOADS[release]
    corpus_dir = Path(corpus_dir)
    root = corpus_dir / facts.folder
    if _sph_count(root, facts) == facts.sph_count:
        logger.info("%s: complete (%d SPHERE files)", root, facts.sph_count)
        return root
    archive = corpus_dir / "downloads" / facts.url.rsplit("/", 1)[1]
    checked = archive.with_name(archive.name + ".sha256-ok")
    corpus_fetch(corpus_dir)(facts.url, archive)
    if not checked.is_file():
        got = sha256sum(archive)
        if got != facts.sha256:
            raise ChecksumError(
                archive, "sha256", facts.sha256, got, "recorded by torchaudio's TEDLIUM dataset", facts.url,
                f"delete {archive} and rerun",
            )  # fmt: skip
        atomic_write_text(checked, f"{facts.sha256}  {archive.name}\n")
    unpack(archive, corpus_dir, done=root)
    found = _sph_count(root, facts)
    if found != facts.sph_count:
        raise RuntimeError(
            f"{root / facts.count_under}: {found} SPHERE files, a complete TED-LIUM {release} has {facts.sph_count}; "
            f"delete {root} and rerun to extract {archive} again"
        )
    return root


def _sph_count(root: Path, facts: Release) -> int:
    base = root / facts.count_under
    return sum(1 for _ in base.rglob("*.sph")) if base.is_dir() else 0


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--release", default="3", choices=list(RELEASES), help="TED-LIUM release")
    p.add_argument(
        "--distribution", default="legacy", choices=list(DISTRIBUTIONS), help="release 3: legacy or speaker-adaptation"
    )
    p.add_argument("--splits", type=str_list, default=list(SPLITS), help="e.g. 'dev test'")
    p.add_argument("--exclude", type=str_list, default=[], help="talk ids to leave out (reported)")


CLI = CorpusCli(
    summary="TED-LIUM 2/3: single-speaker talks from the STMs (a simulation source, not a diarization test set)",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_tedlium(
            a.corpus_dir, a.out_dir, release=a.release, distribution=a.distribution, splits=a.splits, exclude=a.exclude
        )
    ),
    data_dirs=lambda a: [dir_name(a.release, a.distribution, s) for s in a.splits],
    download=lambda a: download_tedlium(a.corpus_dir, release=a.release),
    validation=lambda a: {"expected_fs": 16000},
)
