"""Ego4D audio-visual diarization benchmark (AV): egocentric 5-minute clips, voice activity per person.

Access needs the Ego4D licence agreement (https://ego4d-data.org) and AWS credentials for the
``ego4d`` download CLI (``pip install ego4d``; ``aws configure``). Layout under ``corpus_dir``
(the recipe's ``$EGO4D``, the CLI's ``--output_directory``), as the CLI writes it::

    <version>/annotations/av_train.json, av_val.json      AV benchmark annotations (version v1 or v2)
    <version>/annotations/av_test_unannotated.json        test clips, no labels
    <version>/clips/<clip_uid>.mp4                        the benchmark clips (never modified)
    <version>/audio/<clip_uid>.wav                        derived here: 16 kHz mono (``audio_dir``)

Where each field comes from (the AV schema in EGO4D/docs ``benchmarks/av-diarization.md``, the
reference RTTMs of EGO4D/audio-visual ``diarization/audio-only/data_preparation/
generate_voice_rttms.py``, and a public AV preprocessing script that reads ``persons[].camera_wearer``
per frame):
``videos[].clips[].clip_uid`` names the clip file; ``clips[].persons[]`` holds every annotated
person, the camera wearer included (``camera_wearer: true``; the clip-level ``camera_wearer``
object is not read, as the official RTTMs do not read it); ``persons[].voice_segments[]`` are the
person's speech with ``start_time``/``end_time`` in seconds of clip time and ``person``, the
speaker label the official RTTMs use (``":-1"`` marks noise sources: left out, as there). So a
turn is ``(clip_uid, start_time, end_time, person)``; labels are local to a clip and become
``<clip_uid>_<person>``; a segment without a label takes its person's ``person_id``. The audio is
the clip's soundtrack decoded with ffmpeg (``-ac 1 -ar 16000``, as the baseline's
``video2audio.py``), so clip time is file time. Splits: the benchmark's train and val; the test
labels are not public (``av_test_unannotated.json``), so there is no test dir. Zero-length
segments, labels of noise sources and segments without times are left out and reported (the
official RTTM script drops them silently). UEM: the whole file. Data dirs ``ego4d_{train,val}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, split_dirs, summarize
from espnet2_tsdia.corpora.common import (
    MissingAudioError,
    audio_header,
    convert_to_wav,
    known_split,
    split_dir_name,
    wav_entry,
    whole_file_uem,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.utils.cli import str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SPLITS = ("train", "val")
VERSIONS = ("v1", "v2")
NOISE_LABEL = ":-1"
LICENCE = "https://ego4d-data.org/docs/start-here/"


@dataclass(frozen=True)
class Clip:
    """One annotated clip: its id and its speaker turns (clip time, labels not yet prefixed)."""

    uid: str
    turns: List[Turn]


def version_root(corpus_dir: PathLike, version: str) -> Path:
    """``corpus_dir/<version>``, or ``corpus_dir`` itself when it holds ``annotations/``."""
    known_split(version, VERSIONS, what="Ego4D version")
    corpus_dir = Path(corpus_dir)
    if not (corpus_dir / version).is_dir() and (corpus_dir / "annotations").is_dir():
        return corpus_dir
    return corpus_dir / version


def annotation_file(root: Path, split: str) -> Path:
    if split == "test":
        raise ValueError(
            "the Ego4D AV test labels are not public (av_test_unannotated.json has none); use train and val"
        )
    known_split(split, SPLITS)
    return root / "annotations" / f"av_{split}.json"


def read_av_json(path: PathLike, notes: PrepReport) -> List[Clip]:
    """The clips of an ``av_<split>.json`` with their turns (rules in the module docstring).

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: not JSON, or a clip, person or voice segment of the wrong shape (the
            message names the clip and the person), or a clip listed twice.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, f"not valid JSON: {e.msg}") from None
    videos = _field(data, "videos", list, path, "the top level")
    clips: List[Clip] = []
    seen = set()
    for v in videos:
        for c in _field(v, "clips", list, path, f"video {v.get('video_uid')!r}" if isinstance(v, dict) else "a video"):
            uid = _field(c, "clip_uid", str, path, f"a clip of video {v.get('video_uid')!r}")
            if uid in seen:
                raise DataFormatError(path, None, f"clip {uid!r} is listed twice")
            seen.add(uid)
            turns = []
            for person in _field(c, "persons", list, path, f"clip {uid}"):
                pid = str(_field(person, "person_id", (str, int), path, f"a person of clip {uid}"))
                for k, seg in enumerate(_field(person, "voice_segments", list, path, f"clip {uid} person {pid}")):
                    turn = _turn(seg, uid, pid, k, path, notes)
                    if turn is not None:
                        turns.append(turn)
            clips.append(Clip(uid, turns))
    return clips


def _field(obj: Any, key: str, kind: Any, path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataFormatError(path, None, f"{where}: expected an object with {key!r}")
    if not isinstance(obj[key], kind):
        raise DataFormatError(path, None, f"{where}: {key!r} has the wrong type ({type(obj[key]).__name__})")
    return obj[key]


def _turn(seg: Any, uid: str, pid: str, k: int, path: Path, notes: PrepReport) -> Optional[Turn]:
    where = f"clip {uid} person {pid} voice segment {k}"
    if not isinstance(seg, dict):
        raise DataFormatError(path, None, f"{where}: expected an object")
    label = str(seg.get("person", pid))
    if label == NOISE_LABEL:
        notes.dropped.append(f"{uid} {where}: labelled {NOISE_LABEL!r} (a noise source, not a speaker)")
        return None
    if seg.get("start_time") is None or seg.get("end_time") is None:
        notes.dropped.append(f"{uid} {where}: no start_time/end_time")
        return None
    try:
        start, end = float(seg["start_time"]), float(seg["end_time"])
    except (TypeError, ValueError):
        raise DataFormatError(
            path, None, f"{where}: times must be numbers, got {seg['start_time']!r}, {seg['end_time']!r}"
        ) from None
    if start < 0 or end < start:
        raise DataFormatError(path, None, f"{where}: expected 0 <= start_time <= end_time, got {start}, {end}")
    return Turn(reco=uid, onset=start, duration=end - start, speaker=f"{uid}_{label}")


def prepare_ego4d(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    splits: Sequence[str] = SPLITS,
    version: str = "v2",
    audio_dir: Optional[PathLike] = None,
    sample_rate: int = 16000,
    nj: int = 1,
    exclude: Sequence[str] = (),
) -> Dict[str, PrepReport]:
    """Derive the clip audio (resumable) and write ``<out_dir>/ego4d_{train,val}``.

    Args:
        corpus_dir: the Ego4D root (the CLI's output directory) or its version folder.
        out_dir: where the data dirs go.
        splits: train and/or val.
        version: the Ego4D release folder (``v2`` default, ``v1``).
        audio_dir: where the clip wavs go (default ``<version>/audio``).
        sample_rate: of the derived wavs.
        nj: ffmpeg processes at once.
        exclude: clip uids to leave out (reported).

    Raises:
        FileNotFoundError: an annotation file is missing.
        MissingAudioError: a clip has neither its wav nor its mp4.
        DataFormatError: a malformed annotation.
    """
    if sample_rate <= 0 or nj < 1:
        raise ValueError(f"sample_rate must be > 0 and nj >= 1, got {sample_rate}, {nj}")
    root = version_root(Path(corpus_dir).absolute(), version)
    waves = Path(audio_dir).absolute() if audio_dir is not None else root / "audio"
    excluded = set(exclude)
    plans = {}
    jobs = []
    for split in splits:
        ann = annotation_file(root, split)
        if not ann.is_file():
            raise FileNotFoundError(
                f"{ann}: Ego4D AV annotations missing; download them (prepare_corpus ego4d download, which runs the ego4d CLI) "
                f"or point $EGO4D at the folder holding {version}/annotations"
            )
        notes = PrepReport()
        clips = []
        for clip in read_av_json(ann, notes):
            if clip.uid in excluded:
                notes.dropped.append(f"{clip.uid}: excluded by the caller")
                continue
            wav = waves / f"{clip.uid}.wav"
            if not wav.is_file():
                mp4 = root / "clips" / f"{clip.uid}.mp4"
                if not mp4.is_file():
                    raise MissingAudioError(
                        f"{mp4}: clip {clip.uid!r} (listed in {ann}) does not exist and {wav} was not derived yet; "
                        f"download the clips (prepare_corpus ego4d download) or pass --exclude {clip.uid}"
                    )
                jobs.append((mp4, wav))
            clips.append(clip)
        plans[split] = (notes, clips)
    if jobs:
        logger.info("decoding %d clips with ffmpeg (%d at once) into %s", len(jobs), nj, waves)
        with ThreadPoolExecutor(max_workers=nj) as pool:
            for f in [pool.submit(convert_to_wav, src, dest, sample_rate=sample_rate) for src, dest in jobs]:
                f.result()
    out: Dict[str, PrepReport] = {}
    for split, (notes, clips) in plans.items():
        wav_scp: Dict[str, str] = {}
        reco2dur: Dict[str, float] = {}
        turns: List[Turn] = []
        for clip in clips:
            path = waves / f"{clip.uid}.wav"
            wav_scp[clip.uid] = wav_entry(path)
            reco2dur[clip.uid] = audio_header(path).duration
            turns += clip.turns
        name = split_dir_name("ego4d", split)
        out[name] = write_split(
            Path(out_dir) / name,
            wav_scp=wav_scp,
            turns=turns,
            reco2dur=reco2dur,
            uem=whole_file_uem(reco2dur),
            notes=notes,
        )
    return out


# --------------------------------------------------------------------------- download / local copy
def clip_uids(root: Path, splits: Sequence[str]) -> List[str]:
    """The clip uids of the splits' annotation files, in file order."""
    uids: List[str] = []
    for split in splits:
        uids += [c.uid for c in read_av_json(annotation_file(root, split), PrepReport())]
    return uids


def download_ego4d(
    corpus_dir: PathLike, *, splits: Sequence[str] = SPLITS, version: str = "v2", ego4d_cli: str = "ego4d"
) -> None:
    """Check the local copy; fetch what is missing with the ``ego4d`` CLI when it is installed.

    First the annotations (``--datasets annotations``), then exactly the clips they list
    (``--datasets clips --video_uid_file``). Clips whose wav is already derived count as present.

    Raises:
        FileNotFoundError: something is missing and the CLI is not installed (the message says
            how to get access and the exact commands), or the CLI did not produce it.
        RuntimeError: the CLI failed (its exit status and last message).
    """
    corpus_dir = Path(corpus_dir)
    root = version_root(corpus_dir, version)
    cli = shutil.which(ego4d_cli)
    base = [cli or ego4d_cli, "--output_directory", str(corpus_dir.absolute()), "--version", version, "-y"]
    anns = [annotation_file(root, s) for s in splits]
    if not all(a.is_file() for a in anns):
        _run_cli(cli, base + ["--datasets", "annotations"], missing=[a for a in anns if not a.is_file()])
        gone = [a for a in anns if not a.is_file()]
        if gone:
            raise FileNotFoundError(
                f"{gone[0]}: the ego4d CLI finished but did not write it; check --version ({version})"
            )
    uids = clip_uids(root, splits)

    def missing_clips() -> List[str]:
        return [
            u
            for u in uids
            if not (root / "clips" / f"{u}.mp4").is_file() and not (root / "audio" / f"{u}.wav").is_file()
        ]

    todo = missing_clips()
    if todo:
        uid_file = corpus_dir / "downloads" / f"ego4d_{version}_av_{'_'.join(splits)}_clips.txt"
        uid_file.parent.mkdir(parents=True, exist_ok=True)
        uid_file.write_text("".join(f"{u}\n" for u in todo), encoding="utf-8")
        _run_cli(cli, base + ["--datasets", "clips", "--video_uid_file", str(uid_file.absolute())], missing=todo)
        todo = missing_clips()
        if todo:
            raise FileNotFoundError(
                f"{root / 'clips'}: {len(todo)} AV clips still missing after the ego4d CLI ran (e.g. {todo[0]}.mp4); "
                "rerun it, or exclude them (--exclude)"
            )
    logger.info("%s: annotations of %s and all %d clips present", root, " ".join(splits), len(uids))


def _run_cli(cli: Optional[str], cmd: List[str], *, missing: Sequence[object]) -> None:
    if cli is None:
        shown = ", ".join(str(m) for m in list(missing)[:3]) + (" ..." if len(missing) > 3 else "")
        raise FileNotFoundError(
            f"Ego4D files missing ({len(missing)}: {shown}) and the ego4d CLI is not installed. Ego4D needs its licence "
            f"agreement ({LICENCE}) and the AWS credentials it grants: pip install ego4d, aws configure, then run "
            f"{' '.join(cmd)} (or run this download action again)"
        )
    logger.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or [""]
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {last[0]}")


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--splits", type=str_list, default=list(SPLITS), help="train and/or val (test labels are not public)"
    )
    p.add_argument("--version", default="v2", choices=list(VERSIONS), help="the Ego4D release folder")
    p.add_argument("--audio_dir", default=None, help="where the clip wavs go (default <corpus_dir>/<version>/audio)")
    p.add_argument("--sample_rate", type=int, default=16000, help="of the derived clip wavs")
    p.add_argument("--nj", type=int, default=4, help="ffmpeg processes at once")
    p.add_argument("--exclude", type=str_list, default=[], help="clip uids to leave out (reported)")


CLI = CorpusCli(
    summary="Ego4D AV diarization: clip audio with ffmpeg, voice segments per person (train, val)",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_ego4d(
            a.corpus_dir,
            a.out_dir,
            splits=a.splits,
            version=a.version,
            audio_dir=path_or_none(a.audio_dir),
            sample_rate=a.sample_rate,
            nj=a.nj,
            exclude=a.exclude,
        )
    ),
    data_dirs=split_dirs("ego4d"),
    download=lambda a: download_ego4d(a.corpus_dir, splits=a.splits, version=a.version),
    validation=lambda a: {"expected_fs": a.sample_rate},
)
