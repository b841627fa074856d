"""VoxConverse with the v0.3 references (github.com/joonson/voxconverse, branch master).

Layout under ``corpus_dir`` (the recipe's ``$VOXCONVERSE``)::

    audio/<id>.wav                    dev audio (voxconverse_dev_wav.zip), 16 kHz mono
    voxconverse_test_wav/<id>.wav     test audio (voxconverse_test_wav.zip)
    voxconverse/{dev,test}/<id>.rttm  v0.3 references, one file per recording

The recordings of a split are the RTTM files, not the audio: the test zip holds 312 wavs but
only 232 have references (joonson/voxconverse#7), so the other 80 are left out and counted in
``prep_report.txt``. A reference without audio stops the preparation. Speaker labels ``spkNN``
are local to a file and become ``<id>_spkNN``. Same-speaker overlapping turns (test ``utial``
spk00, ``optsn`` spk01) are merged and reported. UEM: the whole file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, split_dirs, summarize
from espnet2_tsdia.corpora.common import (
    audio_header,
    channel_pipe,
    check_rttm_recordings,
    fetch,
    fetch_repo,
    known_split,
    prefix_speakers,
    require_audio,
    split_dir_name,
    unpack,
    wav_entry,
    whole_file_uem,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.rttm import Turn, read_rttm
from espnet2_tsdia.utils.cli import str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SPLITS = ("dev", "test")
#: split -> audio folder inside corpus_dir (the two zips extract to different names)
AUDIO_DIRS = {"dev": "audio", "test": "voxconverse_test_wav"}
AUDIO_URLS = {
    "dev": "https://www.robots.ox.ac.uk/~vgg/data/voxconverse/data/voxconverse_dev_wav.zip",
    "test": "https://www.robots.ox.ac.uk/~vgg/data/voxconverse/data/voxconverse_test_wav.zip",
}
#: v0.3 is the master branch; v0.2 lives on branch ver0.2.
RTTM_URL = "https://github.com/joonson/voxconverse/archive/refs/heads/master.zip"
RTTM_DIR = "voxconverse"
#: archive file name -> md5. The corpus pages we know of publish none; fill them in to have every
#: download verified (a mismatch stops the download stage, naming the file).
MD5: Dict[str, str] = {}


def prepare_voxconverse(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    splits: Sequence[str] = SPLITS,
    rttm_dir: Optional[PathLike] = None,
    exclude: Sequence[str] = (),
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/voxconverse_{dev,test}``.

    Args:
        corpus_dir: the VoxConverse root (layout in the module docstring).
        out_dir: where the data dirs go.
        splits: any of dev, test.
        rttm_dir: the reference checkout with ``dev/`` and ``test/`` (default
            ``<corpus_dir>/voxconverse``, v0.3).
        exclude: recording ids to leave out (reported).

    Raises:
        MissingAudioError: a reference has no audio.
        DataFormatError: an RTTM names a recording other than its own file name.
    """
    for s in splits:
        known_split(s, SPLITS)
    corpus_dir = Path(corpus_dir).absolute()
    refs = Path(rttm_dir).absolute() if rttm_dir is not None else corpus_dir / RTTM_DIR
    excluded = set(exclude)
    out: Dict[str, PrepReport] = {}
    for split in splits:
        ref_dir = refs / split
        if not ref_dir.is_dir():
            raise FileNotFoundError(
                f"{ref_dir}: VoxConverse references missing; download them (prepare_corpus voxconverse download) or pass --rttm_dir"
            )
        audio_dir = corpus_dir / AUDIO_DIRS[split]
        notes = PrepReport()
        wav_scp: Dict[str, str] = {}
        reco2dur: Dict[str, float] = {}
        turns: List[Turn] = []
        for rttm in sorted(ref_dir.glob("*.rttm")):
            reco = rttm.stem
            if reco in excluded:
                notes.dropped.append(f"{reco}: excluded by the caller")
                continue
            reco_turns = read_rttm(rttm)
            check_rttm_recordings(
                reco_turns, allowed=[reco], source=rttm, todo="each VoxConverse RTTM describes only its own file"
            )
            path = require_audio(
                audio_dir / f"{reco}.wav",
                reco=reco,
                listed_in=str(rttm),
                todo=f"download the {split} audio (prepare_corpus voxconverse download) or pass --exclude {reco}",
            )
            header = audio_header(path)
            wav_scp[reco] = wav_entry(path) if header.channels == 1 else channel_pipe(path, 1)
            reco2dur[reco] = header.duration
            turns += prefix_speakers(reco_turns)
        if not wav_scp:
            raise FileNotFoundError(f"{ref_dir}: no .rttm references found")
        if audio_dir.is_dir():
            extra = sorted(p.stem for p in audio_dir.glob("*.wav") if p.stem not in wav_scp and p.stem not in excluded)
            if extra:
                notes.dropped.append(
                    f"{len(extra)} audio files in {audio_dir} have no {split} reference and are left out: {' '.join(extra)}"
                )
        name = split_dir_name("voxconverse", split)
        out[name] = write_split(
            Path(out_dir) / name,
            wav_scp=wav_scp,
            turns=turns,
            reco2dur=reco2dur,
            uem=whole_file_uem(reco2dur),
            notes=notes,
        )
    return out


def download_voxconverse(corpus_dir: PathLike, *, splits: Sequence[str] = SPLITS) -> None:
    """Download the v0.3 references and the audio zips (resumable), and extract them."""
    for s in splits:
        known_split(s, SPLITS)
    corpus_dir = Path(corpus_dir)
    downloads = corpus_dir / "downloads"
    fetch_repo(RTTM_URL, corpus_dir / RTTM_DIR, archive=downloads / "voxconverse-master.zip")
    for split in splits:
        name = AUDIO_URLS[split].rsplit("/", 1)[1]
        archive = fetch(AUDIO_URLS[split], downloads / name, md5=MD5.get(name))
        unpack(archive, corpus_dir, done=corpus_dir / AUDIO_DIRS[split])


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--splits", type=str_list, default=list(SPLITS), help="e.g. 'test'")
    p.add_argument(
        "--rttm_dir", default=None, help="reference checkout with dev/ and test/ (default <corpus_dir>/voxconverse)"
    )
    p.add_argument("--exclude", type=str_list, default=[], help="recording ids to leave out (reported)")


CLI = CorpusCli(
    summary="VoxConverse v0.3: dev and test (test from the reference list)",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_voxconverse(
            a.corpus_dir, a.out_dir, splits=a.splits, rttm_dir=path_or_none(a.rttm_dir), exclude=a.exclude
        )
    ),
    data_dirs=split_dirs("voxconverse"),
    download=lambda a: download_voxconverse(a.corpus_dir, splits=a.splits),
    validation=lambda a: {"expected_fs": 16000},
)
