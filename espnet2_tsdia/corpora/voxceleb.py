"""VoxCeleb1 and VoxCeleb2 (CC BY 4.0): speaker-source dirs for simulation and speaker models.

VoxCeleb is a speaker source, not a diarization set: every utterance is one speaker (celebrity
interviews cut into clips of at least 3 s). The dirs written here are ESPnet's ``spk`` task
format and what ``python -m espnet2_tsdia.bin.simulate --source_dir`` reads: ``wav.scp`` (one
file per utterance), ``utt2spk``, ``spk2utt``, ``utt2dur``, plus ``prep_report.txt``; the
VoxCeleb1 test dir also gets ESPnet's trial files (``trial.scp``, ``trial2.scp``,
``trial_label``, keys ``<utt1>*<utt2>``) when a trial list (default the cleaned VoxCeleb1-O list
``veri_test2.txt``) is present. Utterance ids are ``<speaker>-<video>-<nnnnn>`` (lhotse's
VoxCeleb recipe uses the same), speaker ids the global VoxCeleb ids.

Layout under ``corpus_dir`` (the recipe's ``$VOXCELEB``), as the archives extract (VoxCeleb2 as
Kaldi's ``make_voxceleb2.pl`` reads it: ``<part>/aac/<speaker>/...``, or ``<part>/<speaker>/...``)::

    voxceleb1/wav/<id1xxxx>/<video>/<nnnnn>.wav          vox1_dev_wav.zip + vox1_test_wav.zip (16 kHz mono)
    voxceleb1/veri_test2.txt                             trial list: "<0|1> <spk>/<video>/<n>.wav <spk>/<video>/<n>.wav"
    voxceleb2/dev/aac/<id0xxxx>/<video>/<nnnnn>.m4a      vox2_dev_aac.zip (AAC)
    voxceleb2/test/aac/<id0xxxx>/<video>/<nnnnn>.m4a     vox2_test_aac.zip
    voxceleb2/wav/{dev,test}/<speaker>/<video>/<n>.wav   derived here (``audio_dir``)
    downloads/                                           the archives (parts as published)

VoxCeleb1's dev and test speakers share ``wav/``: the test set is the 40 speakers
id10270-id10309 (the verification split: the speakers of ``vox1_test_wav.zip`` and of the
trial lists). VoxCeleb2 is AAC, which neither libsndfile nor the simulator reads: by
default every m4a is decoded once with ffmpeg into a 16 kHz mono wav under ``audio_dir``
(resumable, the m4a is never modified); ``vox2_audio="pipe"`` writes ffmpeg pipes into wav.scp
instead (fine for ESPnet's spk task; the simulator refuses pipes). A file ffmpeg cannot decode is
left out and reported. The download needs a request at the VGG site: the archives then come from
the address the request gives (``base_url``) or are put in ``downloads/`` by hand; either way
their published md5s are checked before anything is extracted.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

from espnet2_tsdia.audio.info import audio_info
from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, summarize
from espnet2_tsdia.corpora.common import (
    convert_to_wav,
    corpus_fetch,
    corpus_manifest,
    ffmpeg_pipe,
    ffprobe_duration,
    known_split,
    unpack,
    was_extracted,
    wav_entry,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines, utt2spk_to_spk2utt, write_scp, write_spk2utt, write_utt2spk
from espnet2_tsdia.utils.atomic import atomic_write_text
from espnet2_tsdia.utils.checksums import Manifest, md5sum
from espnet2_tsdia.utils.cli import str_list
from espnet2_tsdia.utils.download import ChecksumError

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SUBSETS = ("voxceleb1_dev", "voxceleb1_test", "voxceleb2_dev", "voxceleb2_test")
VOX2_AUDIO = ("convert", "pipe")
#: VoxCeleb1's verification test speakers: id10270 ... id10309
VOX1_TEST_SPEAKERS = frozenset(f"id{n}" for n in range(10270, 10310))
TRIALS_URL = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/veri_test2.txt"
TRIALS_MD5 = "b73110731c9223c1461fe49cb48dddfc"
_SPEAKER = re.compile(r"^id\d{5}$")


@dataclass(frozen=True)
class Archives:
    """The published archives of one VoxCeleb version (names and md5s as the VGG site lists them).

    Attributes:
        parts: ``(name, md5)`` of the dev set's parts, concatenated in this order into ``combined``.
        combined: ``(name, md5)`` of the concatenated dev zip.
        test: ``(name, md5)`` of the test zip.
        dev_into: where the dev zip is extracted, relative to the version folder.
        test_into: where the test zip is extracted.
    """

    parts: Tuple[Tuple[str, str], ...]
    combined: Tuple[str, str]
    test: Tuple[str, str]
    dev_into: str
    test_into: str


ARCHIVES: Dict[str, Archives] = {
    "voxceleb1": Archives(
        parts=(
            ("vox1_dev_wav_partaa", "e395d020928bc15670b570a21695ed96"),
            ("vox1_dev_wav_partab", "bbfaaccefab65d82b21903e81a8a8020"),
            ("vox1_dev_wav_partac", "017d579a2a96a077f40042ec33e51512"),
            ("vox1_dev_wav_partad", "7bb1e9f70fddc7a678fa998ea8b3ba19"),
        ),
        combined=("vox1_dev_wav.zip", "ae63e55b951748cc486645f532ba230b"),
        test=("vox1_test_wav.zip", "185fdc63c3c739954633d50379a3d102"),
        dev_into=".",  # -> wav/<speaker>/...
        test_into=".",  # -> wav/<speaker>/...
    ),
    "voxceleb2": Archives(
        parts=(
            ("vox2_dev_aac_partaa", "da070494c573e5c0564b1d11c3b20577"),
            ("vox2_dev_aac_partab", "17fe6dab2b32b48abaf1676429cdd06f"),
            ("vox2_dev_aac_partac", "1de58e086c5edf63625af1cb6d831528"),
            ("vox2_dev_aac_partad", "5a043eb03e15c5a918ee6a52aad477f9"),
            ("vox2_dev_aac_partae", "cea401b624983e2d0b2a87fb5d59aa60"),
            ("vox2_dev_aac_partaf", "fc886d9ba90ab88e7880ee98effd6ae9"),
            ("vox2_dev_aac_partag", "d160ecc3f6ee3eed54d55349531cb42e"),
            ("vox2_dev_aac_partah", "6b84a81b9af72a9d9eecbb3b1f602e65"),
        ),
        combined=("vox2_dev_aac.zip", "bbc063c46078a602ca71605645c2a402"),
        test=("vox2_test_aac.zip", "0d2b3ea430a821c33263b5ea37ede312"),
        dev_into=".",  # -> dev/aac/<speaker>/...
        test_into="test",  # -> test/aac/<speaker>/...
    ),
}
REQUEST_PAGE = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/"


def version_of(subset: str) -> str:
    return subset.split("_", 1)[0]


def utt_id(path: Path) -> str:
    """``id10270-x6uYqmx31kE-00001`` for ``.../id10270/x6uYqmx31kE/00001.wav``."""
    return f"{path.parent.parent.name}-{path.parent.name}-{path.stem}"


def find_utterances(root: Path, pattern: str, notes: PrepReport) -> Dict[str, Path]:
    """``utt -> file`` for the ``<speaker>/<video>/<n>.<ext>`` files under ``root``; files under
    a folder that is not a VoxCeleb speaker id are reported and left out."""
    found: Dict[str, Path] = {}
    stray: Dict[str, int] = {}
    for p in sorted(root.glob(pattern)):
        spk = p.parent.parent.name
        if not _SPEAKER.match(spk):
            stray[spk] = stray.get(spk, 0) + 1
            continue
        found[utt_id(p)] = p
    for folder, count in sorted(stray.items()):
        notes.dropped.append(
            f"{root / folder}: {count} files under a folder that is not a VoxCeleb speaker id (idNNNNN)"
        )
    return found


def vox2_root(version_dir: Path, part: str) -> Path:
    """``voxceleb2/<part>/aac`` when it exists, else ``voxceleb2/<part>`` (both occur; Kaldi reads both)."""
    aac = version_dir / part / "aac"
    return aac if aac.is_dir() else version_dir / part


def prepare_voxceleb(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    subsets: Sequence[str] = SUBSETS,
    vox2_audio: str = "convert",
    audio_dir: Optional[PathLike] = None,
    sample_rate: int = 16000,
    nj: int = 1,
    trials: Optional[str] = "veri_test2.txt",
) -> Dict[str, PrepReport]:
    """Write ``<out_dir>/<subset>`` for each subset (layout and rules in the module docstring).

    Args:
        corpus_dir: the VoxCeleb root.
        out_dir: where the dirs go.
        subsets: any of voxceleb1_dev, voxceleb1_test, voxceleb2_dev, voxceleb2_test.
        vox2_audio: ``convert`` (wav files under ``audio_dir``) or ``pipe`` (ffmpeg in wav.scp).
        audio_dir: where the converted VoxCeleb2 wavs go (default ``<corpus_dir>/voxceleb2/wav``).
        sample_rate: of the converted (or piped) VoxCeleb2 audio; VoxCeleb1 is used as it is.
        nj: ffmpeg processes at once.
        trials: file name (in ``voxceleb1/``) of the trial list for voxceleb1_test; None: no trials.

    Returns:
        ``{dir name: report}``.

    Raises:
        FileNotFoundError: a subset has no audio at all.
        DataFormatError: a malformed trial line, or a trial naming an utterance the test set lacks.
    """
    for s in subsets:
        known_split(s, SUBSETS, what="VoxCeleb subset")
    known_split(vox2_audio, VOX2_AUDIO, what="vox2_audio")
    if sample_rate <= 0 or nj < 1:
        raise ValueError(f"sample_rate must be > 0 and nj >= 1, got {sample_rate}, {nj}")
    corpus_dir = Path(corpus_dir).absolute()
    derived = Path(audio_dir).absolute() if audio_dir is not None else corpus_dir / "voxceleb2" / "wav"
    out: Dict[str, PrepReport] = {}
    for subset in subsets:
        notes = PrepReport()
        version, part = subset.split("_", 1)
        if version == "voxceleb1":
            base = corpus_dir / "voxceleb1" / "wav"
            utts = find_utterances(base, "*/*/*.wav", notes)
            utts = {u: p for u, p in utts.items() if (p.parent.parent.name in VOX1_TEST_SPEAKERS) == (part == "test")}
        else:
            base = vox2_root(corpus_dir / "voxceleb2", part)
            utts = find_utterances(base, "*/*/*.m4a", notes)
        if not utts:
            raise FileNotFoundError(
                f"{base}: no {subset} audio found (expected <speaker>/<video>/<n>.{'wav' if version == 'voxceleb1' else 'm4a'}); "
                "download the corpus (prepare_corpus voxceleb download) or fix $VOXCELEB"
            )
        if version == "voxceleb1":
            wav, utt2dur = _headers(utts, notes)
        elif vox2_audio == "convert":
            wav, utt2dur = _convert(utts, derived / part, sample_rate, nj, notes)
        else:
            wav, utt2dur = _pipes(utts, sample_rate, nj, notes)
        path = Path(out_dir) / subset
        write_source_dir(path, wav=wav, utt2dur=utt2dur, notes=notes)
        if subset == "voxceleb1_test" and trials:
            trial_file = corpus_dir / "voxceleb1" / trials
            if trial_file.is_file():
                write_trials(path, trial_file, wav)
            else:
                logger.warning("%s: no trial list; %s gets no trial files", trial_file, path)
        out[subset] = notes
    return out


def _headers(utts: Dict[str, Path], notes: PrepReport) -> Tuple[Dict[str, str], Dict[str, float]]:
    wav: Dict[str, str] = {}
    dur: Dict[str, float] = {}
    for u, p in utts.items():
        try:
            dur[u] = audio_info(str(p)).duration
        except ValueError as e:
            notes.dropped.append(f"{u}: {p} cannot be read ({e}); left out")
            continue
        wav[u] = wav_entry(p)
    return wav, dur


def _convert(
    utts: Dict[str, Path], dest_root: Path, sample_rate: int, nj: int, notes: PrepReport
) -> Tuple[Dict[str, str], Dict[str, float]]:
    """Decode every m4a once (skipping finished wavs); failures are reported, not fatal."""
    dests = {u: dest_root / p.parent.parent.name / p.parent.name / f"{p.stem}.wav" for u, p in utts.items()}
    todo = [u for u in utts if not dests[u].is_file()]
    if todo:
        logger.info("decoding %d of %d m4a files with ffmpeg (%d at once) into %s", len(todo), len(utts), nj, dest_root)

    def one(u: str) -> Optional[str]:
        try:
            convert_to_wav(utts[u], dests[u], sample_rate=sample_rate)
        except RuntimeError as e:
            return str(e)
        return None

    with ThreadPoolExecutor(max_workers=nj) as pool:
        errors = dict(zip(todo, pool.map(one, todo), strict=True))
    for u, err in sorted(errors.items()):
        if err is not None:
            notes.dropped.append(f"{u}: {err}; left out")
    return _headers({u: d for u, d in dests.items() if errors.get(u) is None}, notes)


def _pipes(
    utts: Dict[str, Path], sample_rate: int, nj: int, notes: PrepReport
) -> Tuple[Dict[str, str], Dict[str, float]]:
    def one(u: str) -> Union[float, str]:
        try:
            return ffprobe_duration(utts[u])
        except ValueError as e:
            return str(e)

    wav: Dict[str, str] = {}
    dur: Dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=nj) as pool:
        for u, d in zip(utts, pool.map(one, list(utts)), strict=True):
            if isinstance(d, str):
                notes.dropped.append(f"{u}: {d}; left out")
                continue
            wav[u], dur[u] = ffmpeg_pipe(utts[u], sample_rate=sample_rate), d
    return wav, dur


def write_source_dir(path: Path, *, wav: Dict[str, str], utt2dur: Dict[str, float], notes: PrepReport) -> None:
    """wav.scp, utt2spk, spk2utt, utt2dur and prep_report.txt of one subset (speaker = the id
    that starts the utterance id)."""
    path.mkdir(parents=True, exist_ok=True)
    utt2spk = {u: u.split("-", 1)[0] for u in wav}
    write_scp(path / "wav.scp", wav)
    write_utt2spk(path / "utt2spk", utt2spk)
    write_spk2utt(path / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    write_scp(path / "utt2dur", {u: f"{utt2dur[u]:.6f}".rstrip("0").rstrip(".") for u in wav})
    atomic_write_text(path / "prep_report.txt", notes.text())
    logger.info(
        "%s: %d utterances of %d speakers, %d left out", path, len(wav), len(set(utt2spk.values())), len(notes.dropped)
    )


def write_trials(path: Path, trial_file: Path, wav: Dict[str, str]) -> int:
    """ESPnet's trial files from a VoxCeleb trial list; returns the number of trials.

    Raises:
        DataFormatError: a line that is not ``<0|1> <file> <file>``, or a file the dir lacks.
    """
    first: Dict[str, str] = {}
    second: Dict[str, str] = {}
    label: Dict[str, str] = {}
    for n, line in iter_lines(trial_file):
        f = line.split()
        if len(f) != 3 or f[0] not in ("0", "1"):
            raise DataFormatError(
                trial_file, n, f"expected '<0|1> <spk>/<video>/<n>.wav <spk>/<video>/<n>.wav', got {line!r}"
            )
        utts = []
        for name in f[1:]:
            parts = Path(name).with_suffix("").parts
            if len(parts) != 3:
                raise DataFormatError(trial_file, n, f"expected <spk>/<video>/<n>.wav, got {name!r}")
            u = "-".join(parts)
            if u not in wav:
                raise DataFormatError(
                    trial_file,
                    n,
                    f"names {name}, which {path} does not hold (missing or undecodable audio); re-extract vox1_test_wav.zip",
                )
            utts.append(u)
        key = f"{utts[0]}*{utts[1]}"
        first[key], second[key], label[key] = wav[utts[0]], wav[utts[1]], f[0]
    write_scp(path / "trial.scp", first)
    write_scp(path / "trial2.scp", second)
    write_scp(path / "trial_label", label)
    return len(label)


# --------------------------------------------------------------------------- download / local copy
def download_voxceleb(
    corpus_dir: PathLike, *, versions: Sequence[str] = ("voxceleb1", "voxceleb2"), base_url: Optional[str] = None
) -> None:
    """Check (and with ``base_url``, fetch resumably) the published archives, join the dev parts,
    check every md5, extract, and fetch the public trial list. A version whose archives were
    already extracted is skipped. Every md5 checked goes into ``<corpus_dir>/checksums.md5``.

    Raises:
        FileNotFoundError: archives missing and no ``base_url`` (the message lists what to fetch,
            where from and where to put it).
        espnet2_tsdia.utils.download.ChecksumError: an archive with the wrong md5 (named).
    """
    corpus_dir = Path(corpus_dir)
    downloads = corpus_dir / "downloads"
    fetch = corpus_fetch(corpus_dir)
    manifest = corpus_manifest(corpus_dir)
    for version in versions:
        known_split(version, tuple(ARCHIVES), what="VoxCeleb version")
        arch = ARCHIVES[version]
        vdir = corpus_dir / version
        combined, test = downloads / arch.combined[0], downloads / arch.test[0]
        targets = ((combined, vdir / arch.dev_into), (test, vdir / arch.test_into))
        if all(was_extracted(archive, into) for archive, into in targets):
            logger.info("%s: archives already extracted", vdir)
            continue
        needed = [arch.test] + ([] if combined.is_file() else list(arch.parts))
        missing = [name for name, _ in needed if not (downloads / name).is_file()]
        if missing and base_url is None:
            raise FileNotFoundError(
                f"{downloads}: {version} archives missing: {' '.join(missing)}. VoxCeleb is downloaded after a request "
                f"at {REQUEST_PAGE}: put these files (as published, with these names) in {downloads}, or pass "
                "--base_url with the address the request gives, then run this again"
            )
        for name, md5 in needed:
            if (downloads / name).is_file():
                _check_md5(downloads / name, md5, manifest)
            else:
                fetch(f"{base_url.rstrip('/')}/{name}", downloads / name, md5=md5)
        if not combined.is_file():
            _join(downloads, [name for name, _ in arch.parts], combined)
        _check_md5(combined, arch.combined[1], manifest)
        for archive, into in targets:
            unpack(
                archive, into, done=vdir / ("wav" if version == "voxceleb1" else "test" if archive == test else "dev")
            )
        expected = vdir / "wav" if version == "voxceleb1" else vdir / "dev"
        if not expected.is_dir():
            raise FileNotFoundError(
                f"{expected}: not created by {combined}; found {sorted(p.name for p in vdir.iterdir())}: move the audio there"
            )
    if "voxceleb1" in versions:
        fetch(TRIALS_URL, corpus_dir / "voxceleb1" / "veri_test2.txt", md5=TRIALS_MD5)


def _check_md5(path: Path, md5: str, manifest: Manifest) -> None:
    """Check a file against its published md5 and record it (skipped when recorded so already)."""
    if manifest.get(path) == md5:
        return
    got = md5sum(path)
    if got != md5:
        raise ChecksumError(
            path, "md5", md5, got, "published by the VGG site", REQUEST_PAGE,
            "the file is incomplete or corrupt: delete it and fetch it again",
        )  # fmt: skip
    manifest.record(path, got)


def _join(folder: Path, names: Sequence[str], dest: Path) -> None:
    """Concatenate the parts into ``dest`` (written under a temporary name, then renamed)."""
    tmp = dest.with_name(dest.name + ".joining")
    with open(tmp, "wb") as out:
        for name in names:
            with open(folder / name, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    tmp.replace(dest)


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subsets", type=str_list, default=list(SUBSETS), help="e.g. 'voxceleb1_dev voxceleb2_dev'")
    p.add_argument(
        "--vox2_audio",
        default="convert",
        choices=list(VOX2_AUDIO),
        help="VoxCeleb2 m4a: decode to wav once, or ffmpeg pipes",
    )
    p.add_argument("--audio_dir", default=None, help="converted VoxCeleb2 wavs (default <corpus_dir>/voxceleb2/wav)")
    p.add_argument("--sample_rate", type=int, default=16000, help="of the converted VoxCeleb2 audio")
    p.add_argument("--nj", type=int, default=4, help="ffmpeg processes at once")
    p.add_argument("--trials", default="veri_test2.txt", help="trial list in <corpus_dir>/voxceleb1 for voxceleb1_test")
    p.add_argument("--base_url", default=None, help="download: the address the VGG request gives for the archives")


CLI = CorpusCli(
    summary="VoxCeleb1 & 2: speaker-source dirs (ESPnet spk format) for simulation and speaker models",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_voxceleb(
            a.corpus_dir,
            a.out_dir,
            subsets=a.subsets,
            vox2_audio=a.vox2_audio,
            audio_dir=path_or_none(a.audio_dir),
            sample_rate=a.sample_rate,
            nj=a.nj,
            trials=a.trials or None,
        )
    ),
    data_dirs=lambda a: list(a.subsets),
    download=lambda a: download_voxceleb(
        a.corpus_dir, versions=sorted({version_of(s) for s in a.subsets}), base_url=a.base_url
    ),
    validation=lambda a: {"global_speakers": True, "expected_fs": 16000 if a.sample_rate == 16000 else None},
)
