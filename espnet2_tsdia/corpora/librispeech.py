"""LibriSpeech (and mini_librispeech) as reader-level source dirs for the simulator.

Native layout (``corpora.md`` section 7)::

    LibriSpeech/<part>/<reader>/<chapter>/<reader>-<chapter>-<nnnn>.flac
    LibriSpeech/<part>/<reader>/<chapter>/<reader>-<chapter>.trans.txt   ("<utt> WORDS ...")
    LibriSpeech/SPEAKERS.TXT                                             ("id | sex | subset | minutes | name")

:func:`prepare_librispeech` writes one Kaldi dir per part (``train-clean-5`` -> ``train_clean_5``)
with ``wav.scp`` (absolute paths of the flac files, which are never modified), ``utt2spk`` and
``spk2utt`` at **reader** level (the first field of the utterance id; Kaldi's and EEND's
``data_prep.sh`` use reader-chapter, which lets a simulator put one reader into a mixture twice),
``utt2dur`` (from the flac headers), ``text`` and, when SPEAKERS.TXT lists the readers,
``spk2gender``. Utterance ids start with the reader id, so files sorted by utterance are also
sorted by speaker.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

from espnet2_tsdia.audio.info import audio_info
from espnet2_tsdia.corpora.cli import CorpusCli
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines, utt2spk_to_spk2utt, write_scp, write_spk2utt, write_utt2spk
from espnet2_tsdia.utils.cli import str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: parts of mini_librispeech (OpenSLR 31); any LibriSpeech part name works the same way
MINI_PARTS = ("train-clean-5", "dev-clean-2")
#: download facts (docs/corpora.md section 7): part -> (url, md5, size in bytes)
MINI_DOWNLOADS: Dict[str, Tuple[str, str, int]] = {
    "train-clean-5": (
        "http://www.openslr.org/resources/31/train-clean-5.tar.gz",
        "5df7d4e78065366204ca6845bb08f490",
        332954390,
    ),
    "dev-clean-2": (
        "http://www.openslr.org/resources/31/dev-clean-2.tar.gz",
        "6d7ab67ac6a1d2c993d050e16d61080d",
        126046265,
    ),
}

_UTT = re.compile(r"^(\d+)-(\d+)-(\d+)$")


def librispeech_root(corpus_dir: PathLike) -> Path:
    """The ``LibriSpeech`` folder: ``corpus_dir/LibriSpeech`` or ``corpus_dir`` itself."""
    corpus_dir = Path(corpus_dir)
    if (corpus_dir / "LibriSpeech").is_dir():
        return corpus_dir / "LibriSpeech"
    return corpus_dir


def part_dir_name(part: str) -> str:
    """Kaldi dir name of a part: ``train-clean-5`` -> ``train_clean_5``."""
    return part.replace("-", "_")


def _read_speakers_txt(path: Path) -> Dict[str, str]:
    """reader -> gender ('m'/'f') from SPEAKERS.TXT (comment lines start with ';')."""
    out: Dict[str, str] = {}
    for n, line in iter_lines(path):
        if line.lstrip().startswith(";"):
            continue
        f = [x.strip() for x in line.split("|")]
        if len(f) < 3:
            raise DataFormatError(path, n, f"expected 'ID | SEX | SUBSET | MINUTES | NAME', got {line!r}")
        sex = f[1].lower()
        if sex not in ("m", "f"):
            raise DataFormatError(path, n, f"SEX must be M or F, got {f[1]!r}")
        out[f[0]] = sex
    return out


def prepare_part(root: Path, part: str, out_dir: Path, genders: Dict[str, str]) -> Path:
    """One part (see :func:`prepare_librispeech`); returns its data dir."""
    part_dir = root / part
    if not part_dir.is_dir():
        have = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise FileNotFoundError(
            f"{part_dir}: LibriSpeech part {part!r} not found (parts present in {root}: {have or 'none'}); download and extract it first"
        )
    wav: Dict[str, str] = {}
    text: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    utt2dur: Dict[str, str] = {}
    missing: List[str] = []
    for trans in sorted(part_dir.glob("*/*/*.trans.txt")):
        reader, chapter = trans.parent.parent.name, trans.parent.name
        if trans.name != f"{reader}-{chapter}.trans.txt":
            raise DataFormatError(trans, None, f"expected the name {reader}-{chapter}.trans.txt in {reader}/{chapter}/")
        for n, line in iter_lines(trans):
            fields = line.split(maxsplit=1)
            utt = fields[0]
            m = _UTT.match(utt)
            if m is None or m.group(1) != reader or m.group(2) != chapter:
                raise DataFormatError(trans, n, f"expected an utterance id {reader}-{chapter}-NNNN, got {utt!r}")
            if utt in wav:
                raise DataFormatError(trans, n, f"duplicate utterance id {utt!r}")
            flac = trans.parent / f"{utt}.flac"
            if not flac.is_file():
                missing.append(str(flac))
                continue
            info = audio_info(str(flac))
            if " " in str(flac.absolute()):
                raise ValueError(
                    f"audio path {flac.absolute()} contains a space, which wav.scp cannot hold; move the corpus"
                )
            wav[utt] = str(flac.absolute())
            text[utt] = fields[1] if len(fields) > 1 else ""
            utt2spk[utt] = reader  # reader level, never reader-chapter
            utt2dur[utt] = f"{info.frames / info.samplerate:.6f}".rstrip("0").rstrip(".")
    if missing:
        shown = "\n  ".join(missing[:10])
        raise FileNotFoundError(
            f"{part_dir}: {len(missing)} utterances listed in .trans.txt files have no flac file:\n  {shown}\nre-extract the archive of {part}"
        )
    listed = {str(Path(p).resolve()) for p in wav.values()}
    unlisted = sorted(str(p) for p in part_dir.glob("*/*/*.flac") if str(p.resolve()) not in listed)
    if unlisted:
        logger.warning(
            "%s: %d flac files have no transcript line and are left out (e.g. %s)", part_dir, len(unlisted), unlisted[0]
        )
    if not wav:
        raise DataFormatError(
            part_dir, None, "no utterances found (expected <reader>/<chapter>/<reader>-<chapter>.trans.txt files)"
        )
    out = out_dir / part_dir_name(part)
    out.mkdir(parents=True, exist_ok=True)
    write_scp(out / "wav.scp", wav)
    write_scp(out / "text", text)
    write_utt2spk(out / "utt2spk", utt2spk)
    write_spk2utt(out / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    write_scp(out / "utt2dur", utt2dur)
    readers = set(utt2spk.values())
    if genders and readers <= set(genders):
        write_scp(out / "spk2gender", {r: genders[r] for r in readers})
    logger.info("%s: %d utterances of %d readers -> %s", part, len(wav), len(readers), out)
    return out


def download_librispeech(
    corpus_dir: PathLike,
    *,
    parts: Sequence[str] = MINI_PARTS,
    downloads: Dict[str, Tuple[str, str, int]] = MINI_DOWNLOADS,
) -> Path:
    """Download (resumably, md5- and size-checked) and extract parts into ``corpus_dir``.

    A part whose extraction finished is skipped; an interrupted extraction is redone. A part
    folder ``corpus_dir/LibriSpeech/<part>`` that is there without a finished extraction and
    without its archive (extracted by hand) is used as it is, with a warning. The md5 of every
    archive is recorded in ``corpus_dir/checksums.md5``.

    Raises:
        ValueError: a part with no known URL in ``downloads``.
        espnet2_tsdia.utils.download.ChecksumError: a corrupt download (delete it and rerun).
    """
    from espnet2_tsdia.utils.checksums import MANIFEST_NAME, Manifest
    from espnet2_tsdia.utils.download import download, extract, extraction_marker

    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(corpus_dir / MANIFEST_NAME)
    for part in parts:
        if part not in downloads:
            raise ValueError(f"no download known for LibriSpeech part {part!r}; known: {sorted(downloads)}")
        url, md5, size = downloads[part]
        archive = corpus_dir / url.rsplit("/", 1)[-1]
        if extraction_marker(archive, corpus_dir).exists():
            logger.info("%s: already extracted", corpus_dir / "LibriSpeech" / part)
            continue
        started = archive.exists() or archive.with_name(archive.name + ".part").exists()
        if (corpus_dir / "LibriSpeech" / part).is_dir() and not started:
            logger.warning(
                "%s: found, but not extracted from a verified %s: used as it is; delete it to download the part",
                corpus_dir / "LibriSpeech" / part,
                archive.name,
            )
            continue
        download(
            url,
            archive,
            md5=md5,
            size=size,
            source="md5 of the LibriSpeech downloads table (OpenSLR's published values)",
            manifest=manifest,
        )
        extract(archive, corpus_dir)
    return corpus_dir


def prepare_librispeech(
    corpus_dir: PathLike, out_dir: PathLike, *, parts: Sequence[str] = MINI_PARTS
) -> Dict[str, Path]:
    """Reader-level source dirs for the parts of a LibriSpeech tree (see the module doc).

    Args:
        corpus_dir: the folder holding ``LibriSpeech/`` (or the ``LibriSpeech`` folder itself).
        out_dir: where ``<part_with_underscores>/`` dirs are written.
        parts: LibriSpeech part names.

    Returns:
        ``part -> data dir``.

    Raises:
        FileNotFoundError: a part is missing, or utterances listed in a transcript have no flac.
        DataFormatError: malformed transcript lines, ids that do not match their folders,
            duplicate ids, a bad SPEAKERS.TXT.
    """
    if not parts:
        raise ValueError("parts is empty; name at least one LibriSpeech part, e.g. train-clean-5")
    root = librispeech_root(corpus_dir)
    genders = _read_speakers_txt(root / "SPEAKERS.TXT") if (root / "SPEAKERS.TXT").is_file() else {}
    return {part: prepare_part(root, part, Path(out_dir), genders) for part in parts}


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--parts", type=str_list, default=list(MINI_PARTS), help="LibriSpeech parts (default: mini_librispeech's)"
    )


def _prepare(a: argparse.Namespace) -> Dict[str, str]:
    dirs = prepare_librispeech(a.corpus_dir, a.out_dir, parts=a.parts)
    return {d.name: f"reader-level source dir of {part}" for part, d in dirs.items()}


CLI = CorpusCli(
    summary="LibriSpeech / mini_librispeech: reader-level source dirs for simulation",
    add_arguments=_add_arguments,
    prepare=_prepare,
    data_dirs=lambda a: [part_dir_name(p) for p in a.parts],
    download=lambda a: download_librispeech(a.corpus_dir, parts=a.parts),
    validation=lambda a: {"global_speakers": True},
)
