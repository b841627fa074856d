"""MSDWild (github.com/X-LANCE/MSDWILD): few.train / few.val / many.val.

Layout under ``corpus_dir`` (the recipe's ``$MSDWILD``)::

    wav/<5-digit id>.wav     audio from the Google Drive zip (the zip's inner folder name is not
                             documented; ``wav/`` and ``raw_wav/`` are looked for, or pass wav_dir)
    rttms/few.train.rttm     references, one file per split (from the repo)
    rttms/few.val.rttm
    rttms/many.val.rttm
    rttms/all.rttm           all 3143 recordings (used for few.train when few.train.rttm is absent)

Pitfalls handled: the RTTM channel field is ``0`` on every line and is rewritten to ``1`` (the
count is reported); ids are zero-padded numeric strings and stay strings; speaker labels are
per-file integers plus off-screen ``h0``-``h3`` and become ``<id>_<label>``; a bare off-screen
``h`` (01935 has one) becomes ``<id>_h``, a speaker of its own, with a prep-report line per
recording (:func:`bare_off_screen_notes`); a Git LFS pointer instead of an RTTM is detected and
named. few.train, if only ``all.rttm`` is present,
is every recording of ``all.rttm`` that is in neither val set. UEM: the whole file. Data dirs:
``msdwild_few_train``, ``msdwild_few_val``, ``msdwild_many_val``.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, split_dirs, summarize
from espnet2_tsdia.corpora.common import (
    audio_header,
    channel_pipe,
    check_manual_download,
    fetch_repo,
    is_lfs_pointer,
    known_split,
    prefix_speakers,
    require_audio,
    split_dir_name,
    wav_entry,
    whole_file_uem,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.rttm import Turn, read_rttm
from espnet2_tsdia.utils.cli import str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SPLITS = ("few.train", "few.val", "many.val")
WAV_DIR_CANDIDATES = ("wav", "raw_wav", "wavs")
WAV_ZIP = "msdwild_wav.zip"
WAV_ZIP_MD5 = "0057f82daaddf2ce993d1bf0679929c4"
WAV_ZIP_SOURCE = (
    "https://drive.google.com/file/d/1I5qfuPPGBM9keJKz0VN-OYEeRMJ7dgpl (or Baidu/Quark, see the MSDWILD README)"
)
REPO_URL = "https://github.com/X-LANCE/MSDWILD/archive/HEAD.zip"


def _usable_rttm(path: Path) -> bool:
    return path.is_file() and not is_lfs_pointer(path)


def _find_wav_dir(corpus_dir: Path) -> Path:
    for name in WAV_DIR_CANDIDATES:
        d = corpus_dir / name
        if d.is_dir() and any(d.glob("*.wav")):
            return d
    if any(corpus_dir.glob("*.wav")):
        return corpus_dir
    raise FileNotFoundError(
        f"{corpus_dir}: no MSDWild audio found in {', '.join(WAV_DIR_CANDIDATES)} or the root; "
        f"unzip {WAV_ZIP} there (prepare_corpus msdwild download) or pass --wav_dir"
    )


def read_split_turns(rttm_dir: Path, split: str, *, notes: PrepReport) -> List[Turn]:
    """The turns of one split, channel rewritten to 1 (and counted in ``notes``)."""
    path = rttm_dir / f"{split}.rttm"
    if path.is_file() and is_lfs_pointer(path) and split != "few.train":
        raise ValueError(
            f"{path}: a Git LFS pointer, not the RTTM; fetch the real file (git lfs pull in a clone of X-LANCE/MSDWILD)"
        )
    if not _usable_rttm(path):
        if split != "few.train":
            raise FileNotFoundError(
                f"{path}: MSDWild reference missing; download the repo's rttms/ (prepare_corpus msdwild download)"
            )
        all_rttm = rttm_dir / "all.rttm"
        if not _usable_rttm(all_rttm):
            raise FileNotFoundError(
                f"{path}: missing or a Git LFS pointer, and so is {all_rttm}; fetch the real few.train.rttm or all.rttm "
                "(git lfs pull in a clone of X-LANCE/MSDWILD) into that folder"
            )
        val = set()
        for other in ("few.val", "many.val"):
            val |= {t.reco for t in read_rttm(rttm_dir / f"{other}.rttm")}
        raw = [t for t in read_rttm(all_rttm, keep_channel=True) if t.reco not in val]
        notes.changed.append(
            f"few.train built from {all_rttm} minus the few.val and many.val recordings ({path} unusable)"
        )
        source = all_rttm
    else:
        raw = read_rttm(path, keep_channel=True)
        source = path
    channels = Counter(t.channel for t in raw if t.channel != "1")
    if channels:
        notes.changed.append(
            f"{source}: RTTM channel field rewritten to 1 on {sum(channels.values())} lines (was "
            + ", ".join(f"{c!r} x{n}" for c, n in sorted(channels.items()))
            + "; md-eval keys on file and channel)"
        )
    return [replace(t, channel="1") for t in raw]


#: MSDWild's label of an off-screen speaker that carries no number (elsewhere: h0, h1, ...).
BARE_OFF_SCREEN = "h"


def bare_off_screen_notes(turns: Sequence[Turn]) -> List[str]:
    """One prep-report line per recording that uses the bare off-screen label ``h``: what it
    becomes and why."""
    counts = Counter(t.reco for t in turns if t.speaker == BARE_OFF_SCREEN)
    notes = []
    for reco, n in sorted(counts.items()):
        labels = sorted({t.speaker for t in turns if t.reco == reco and t.speaker != BARE_OFF_SCREEN})
        notes.append(
            f"{reco}: speaker label {BARE_OFF_SCREEN!r} ({n} turn{'s' * (n != 1)}) kept as speaker '{reco}_{BARE_OFF_SCREEN}', a speaker "
            f"of its own: MSDWild numbers off-screen speakers (h0, h1, ...), this one has no number, and nothing "
            f"ties it to the recording's other labels ({', '.join(labels)})"
        )
    return notes


def prepare_msdwild(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    splits: Sequence[str] = SPLITS,
    wav_dir: Optional[PathLike] = None,
    rttm_dir: Optional[PathLike] = None,
    exclude: Sequence[str] = (),
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/msdwild_{few_train,few_val,many_val}``.

    Args:
        corpus_dir: the MSDWild root (layout in the module docstring).
        out_dir: where the data dirs go.
        splits: any of few.train, few.val, many.val.
        wav_dir: folder of ``<id>.wav`` (default: found under ``corpus_dir``).
        rttm_dir: folder of the split RTTMs (default ``<corpus_dir>/rttms``).
        exclude: recording ids to leave out (reported).

    Raises:
        MissingAudioError: a recording of a split RTTM has no audio.
    """
    for s in splits:
        known_split(s, SPLITS)
    corpus_dir = Path(corpus_dir).absolute()
    wavs = Path(wav_dir).absolute() if wav_dir is not None else _find_wav_dir(corpus_dir)
    refs = Path(rttm_dir).absolute() if rttm_dir is not None else corpus_dir / "rttms"
    excluded = set(exclude)
    out: Dict[str, PrepReport] = {}
    for split in splits:
        notes = PrepReport()
        split_turns = read_split_turns(refs, split, notes=notes)
        recos = sorted({t.reco for t in split_turns})
        wav_scp: Dict[str, str] = {}
        reco2dur: Dict[str, float] = {}
        rate_of: Dict[str, int] = {}
        for reco in recos:
            if reco in excluded:
                notes.dropped.append(f"{reco}: excluded by the caller")
                continue
            path = require_audio(
                wavs / f"{reco}.wav",
                reco=reco,
                listed_in=str(refs / f"{split}.rttm"),
                todo=f"unzip the complete {WAV_ZIP} (md5 {WAV_ZIP_MD5}) into {wavs.parent} or pass --exclude {reco}",
            )
            header = audio_header(path)
            wav_scp[reco] = wav_entry(path) if header.channels == 1 else channel_pipe(path, 1)
            reco2dur[reco] = header.duration
            rate_of[reco] = header.samplerate
        rates = Counter(rate_of.values())
        if rates:
            logger.info("%s: sample rates %s", split, ", ".join(f"{r} Hz x{n}" for r, n in sorted(rates.items())))
        kept = [t for t in split_turns if t.reco in wav_scp]
        notes.changed += bare_off_screen_notes(kept)
        turns = prefix_speakers(kept)
        name = split_dir_name("msdwild", split)
        out[name] = write_split(
            Path(out_dir) / name,
            wav_scp=wav_scp,
            turns=turns,
            reco2dur=reco2dur,
            uem=whole_file_uem(reco2dur),
            notes=notes,
        )
    return out


def download_msdwild(corpus_dir: PathLike) -> None:
    """Fetch the references from the repo; check and extract the hand-downloaded wav zip.

    The wav zip is on Google Drive/Baidu (no direct URL): it must be saved by hand as
    ``<corpus_dir>/msdwild_wav.zip``; its md5 is checked before extraction.
    """
    corpus_dir = Path(corpus_dir)
    repo = fetch_repo(REPO_URL, corpus_dir / "MSDWILD", archive=corpus_dir / "downloads" / "MSDWILD.zip")
    rttms = corpus_dir / "rttms"
    if not rttms.is_dir():
        rttms.mkdir(parents=True)
        for f in sorted((repo / "rttms").glob("*.rttm")):
            (rttms / f.name).write_bytes(f.read_bytes())
    for f in sorted(rttms.glob("*.rttm")):
        if is_lfs_pointer(f):
            logger.warning(
                "%s is a Git LFS pointer; fetch the real file with git lfs (few.train falls back to all.rttm)", f
            )
    if any(((corpus_dir / d).is_dir() and any((corpus_dir / d).glob("*.wav"))) for d in WAV_DIR_CANDIDATES):
        logger.info("%s: audio already extracted", corpus_dir)
        return
    archive = check_manual_download(
        corpus_dir / WAV_ZIP, what="the MSDWild wav zip (7.56 GB)", where_from=WAV_ZIP_SOURCE, md5=WAV_ZIP_MD5
    )
    from espnet2_tsdia.utils.download import extract

    logger.info("extracting %s -> %s", archive, corpus_dir)
    extract(archive, corpus_dir)


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--splits", type=str_list, default=list(SPLITS), help="e.g. 'few.val many.val'")
    p.add_argument("--wav_dir", default=None, help="folder of <id>.wav (default: found under <corpus_dir>)")
    p.add_argument("--rttm_dir", default=None, help="folder of the split RTTMs (default <corpus_dir>/rttms)")
    p.add_argument("--exclude", type=str_list, default=[], help="recording ids to leave out (reported)")


CLI = CorpusCli(
    summary="MSDWild: few.train, few.val, many.val",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_msdwild(
            a.corpus_dir,
            a.out_dir,
            splits=a.splits,
            wav_dir=path_or_none(a.wav_dir),
            rttm_dir=path_or_none(a.rttm_dir),
            exclude=a.exclude,
        )
    ),
    data_dirs=split_dirs("msdwild"),
    download=lambda a: download_msdwild(a.corpus_dir),
    # the MSDWild README does not state the sample rate (16 kHz presumed): not enforced
    validation=lambda a: {},
)
