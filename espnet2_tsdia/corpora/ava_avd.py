"""AVA-AVD (github.com/zcxu-eric/AVA-AVD): clip audio derived from the AVA movies.

Layout under ``corpus_dir`` (the recipe's ``$AVA_AVD``), as in the repo's ``dataset/``::

    split/{train,val,test}.list   clip ids, no final newline (243 / 54 / 54)
    split/offsets.txt             <clip> <offset>: where the official cropped clip audio starts
                                  (optional: the published file has 3 lines, for 0f39OWEqJ24)
    split/video.list              movie file names (download only)
    rttms/<clip>.rttm             references, times in MOVIE time (900-1800 s)
    videos/<video>.{mkv,mp4,webm} the AVA movies (never modified)
    waves/<clip>.wav              derived here: 16 kHz mono clip audio (``audio_dir``)

A clip ``<video>_c_0k`` covers movie time ``[900 + 300 (k-1), 900 + 300 k]``. Its recording
starts at its offset and ends at the last reference end, but never after the clip's nominal end.
The official preprocessing sets the offset to the clip's first reference onset, and the published
``offsets.txt`` lists only 3 of the 351 clips, so the offset is computed from the annotation
(:func:`clip_offset`); where ``offsets.txt`` has a line, the two are compared (they agree within
:data:`~espnet2_tsdia.formats.times.TIME_EPS` for every published line) and the published value
is used, since official clip audio derived elsewhere starts there. Every
clip's offset, where it came from and the comparison go into ``prep_report.txt``. Turns are
clipped to that window (a turn entirely outside it, such as Ma2hgTmveKQ_c_02 spk02 at 1555.5 s,
is dropped; both are reported) and shifted by ``-offset``, so the RTTM matches the derived wav.
The audio is cut from the movie with ffmpeg (``-ss offset -t length -vn -ac 1 -ar 16000``),
written to a temporary name and renamed, so an interrupted run leaves no half file and a rerun
skips finished clips. Speakers become ``<clip>_<spkNN>`` (labels are per clip). UEM: the whole
derived file. Data dirs ``ava_avd_{train,val,test}``.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import subprocess
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet2_tsdia.corpora.cli import CorpusCli, path_or_none, split_dirs, summarize
from espnet2_tsdia.corpora.common import (
    MissingAudioError,
    audio_header,
    channel_pipe,
    check_manual_download,
    check_rttm_recordings,
    clip_to_windows,
    fetch,
    fetch_repo,
    known_split,
    prefix_speakers,
    split_dir_name,
    unpack,
    wav_entry,
    whole_file_uem,
    write_split,
)
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import keyed_line, read_list
from espnet2_tsdia.formats.rttm import Turn, read_rttm
from espnet2_tsdia.formats.text import number, read_entries
from espnet2_tsdia.formats.times import TIME_EPS
from espnet2_tsdia.utils.atomic import atomic_path, stale_temporaries
from espnet2_tsdia.utils.cli import str_list

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
VIDEO_EXTS = (".mkv", ".mp4", ".webm")
FIRST_CLIP_START = 900.0
CLIP_SECONDS = 300.0
#: A cut clip may be this much shorter than its window (seconds) before the movie counts as truncated.
MAX_SHORTFALL = 1.0
REPO_URL = "https://github.com/zcxu-eric/AVA-AVD/archive/HEAD.zip"
VIDEO_URL = "https://s3.amazonaws.com/ava-dataset/trainval/{video}"
ANNOTATIONS = "annotations.tar.gz"
ANNOTATIONS_SOURCE = "Google Drive: gdown --id 18kjJJbebBg7e8umI6HoGE4_tI3OWufzA (https://drive.google.com/uc?id=18kjJJbebBg7e8umI6HoGE4_tI3OWufzA)"
_CLIP = re.compile(r"^(?P<video>.+)_c_(?P<k>\d+)$")


def read_offsets(path: PathLike) -> Dict[str, float]:
    """``<clip> <offset>`` lines (no final newline needed).

    Raises:
        DataFormatError: not 2 fields, a duplicate clip, an offset that is not a number >= 0.
    """
    out: Dict[str, float] = {}
    for e in read_entries(path, partial(keyed_line, min_fields=2, max_fields=2), what="clip"):
        value = number(e.value[0])
        if value is None or value < 0:
            raise DataFormatError(path, e.line.number, f"offset must be a number >= 0 (seconds), got {e.value[0]!r}")
        out[e.key] = value
    return out


def clip_offset(turns: Sequence[Turn]) -> float:
    """Where a clip's recording starts in movie time: its earliest reference onset (how the
    official preprocessing placed the clips). The RTTM lines are not in time order, so this is not
    the first line's onset: Ma2hgTmveKQ_c_02's earliest turn is its last line."""
    if not turns:
        raise ValueError("a clip without reference turns has no offset")
    return min(t.onset for t in turns)


def offset_note(clip: str, computed: float, published: Optional[float], source: PathLike) -> str:
    """The prep-report line of a clip's offset: computed from ``source``, compared with the
    published value (None: ``offsets.txt`` has no line for the clip)."""
    head = f"{clip}: offset {computed:.3f}s = the first reference onset in {source}"
    if published is None:
        return f"{head}; offsets.txt has no line for it"
    if abs(published - computed) <= TIME_EPS:
        return f"{head}; offsets.txt agrees ({published:.3f}s)"
    return (
        f"{head}; offsets.txt says {published:.3f}s ({published - computed:+.3f}s): the published offset is used "
        "(official clip audio derived elsewhere starts there)"
    )


def video_id(clip: str) -> str:
    """``-FaXLcSFjUI`` for ``-FaXLcSFjUI_c_01``."""
    m = _CLIP.match(clip)
    if m is None:
        raise ValueError(f"clip id {clip!r} does not look like <video>_c_<k>")
    return m.group("video")


def clip_window(clip: str, offset: float, turns: Sequence[Turn]) -> Tuple[float, float]:
    """Movie-time window ``[offset, end]`` of a clip's recording (rule in the module docstring)."""
    k = int(_CLIP.match(clip).group("k"))  # type: ignore[union-attr]
    nominal_end = FIRST_CLIP_START + CLIP_SECONDS * k
    last = max((t.end for t in turns), default=nominal_end)
    end = min(last, nominal_end)
    if end <= offset:
        end = nominal_end
    return offset, end


def shift(turns: Sequence[Turn], offset: float) -> List[Turn]:
    """Turns moved by ``-offset`` seconds (times rounded to 1 microsecond against float noise)."""
    return [replace(t, onset=round(t.onset - offset, 6), duration=round(t.duration, 6)) for t in turns]


def find_video(videos_dir: Path, video: str) -> Optional[Path]:
    for ext in VIDEO_EXTS:
        p = videos_dir / f"{video}{ext}"
        if p.is_file():
            return p
    return None


def extract_clip_audio(
    video: PathLike, dest: PathLike, *, start: float, duration: float, sample_rate: int = 16000
) -> Path:
    """Cut ``[start, start + duration]`` of a movie's audio into a mono wav at ``sample_rate``.

    ``start`` counts from the beginning of the movie's decoded soundtrack (ffmpeg's input
    ``-ss``), the time base of the official RTTMs, whose preprocessing decodes the whole movie
    and indexes its samples.

    Skipped when ``dest`` exists (it is only ever created by a rename of a finished file, see
    :func:`espnet2_tsdia.utils.atomic.atomic_path`); temporaries a killed run left are removed.

    Raises:
        RuntimeError: ffmpeg failed (its message is included).
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FileNotFoundError("ffmpeg not found in PATH; install it (sudo apt-get install -y ffmpeg)")
    for stale in stale_temporaries(dest):  # left by a killed run
        stale.unlink(missing_ok=True)
    with atomic_path(dest) as tmp:
        cmd = [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(Path(video).absolute()),
            "-vn", "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav", str(tmp.absolute()),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg failed on {video} (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
        got = audio_header(tmp).duration
        if got < duration - MAX_SHORTFALL:
            raise RuntimeError(
                f"{video}: the soundtrack ends {duration - got:.1f}s before the end of clip {dest.stem} "
                f"(got {got:.3f}s of {duration:.3f}s from {start:.3f}s); the movie is probably truncated: delete it and download it again"
            )
    return dest


def prepare_ava_avd(
    corpus_dir: PathLike,
    out_dir: PathLike,
    *,
    splits: Sequence[str] = SPLITS,
    audio_dir: Optional[PathLike] = None,
    rttm_dir: Optional[PathLike] = None,
    sample_rate: int = 16000,
    nj: int = 1,
) -> Dict[str, PrepReport]:
    """Derive the clip audio (resumable) and write ``<out_dir>/ava_avd_{train,val,test}``.

    Args:
        corpus_dir: the AVA-AVD root (layout in the module docstring).
        out_dir: where the data dirs go.
        splits: any of train, val, test.
        audio_dir: where the derived clip wavs go (default ``<corpus_dir>/waves``).
        rttm_dir: the references (default ``<corpus_dir>/rttms``).
        sample_rate: of the derived wavs (the official preprocessing uses 16000).
        nj: ffmpeg processes run at once.

    Raises:
        MissingAudioError: a listed clip has neither derived audio nor its movie.
        DataFormatError: an RTTM names another clip; a malformed list, RTTM or ``offsets.txt``.
    """
    for s in splits:
        known_split(s, SPLITS)
    if sample_rate <= 0 or nj < 1:
        raise ValueError(f"sample_rate must be > 0 and nj >= 1, got {sample_rate}, {nj}")
    corpus_dir = Path(corpus_dir).absolute()
    waves = Path(audio_dir).absolute() if audio_dir is not None else corpus_dir / "waves"
    refs = Path(rttm_dir).absolute() if rttm_dir is not None else corpus_dir / "rttms"
    offsets_path = corpus_dir / "split" / "offsets.txt"
    published = read_offsets(offsets_path) if offsets_path.is_file() else {}
    plans: Dict[str, Tuple[PrepReport, List[Tuple[str, Tuple[float, float], List[Turn]]]]] = {}
    jobs: List[Tuple[Path, Path, float, float]] = []
    for split in splits:
        list_path = corpus_dir / "split" / f"{split}.list"
        if not list_path.is_file():
            raise FileNotFoundError(
                f"{list_path}: AVA-AVD split list missing; download the repo's dataset/split (prepare_corpus ava_avd download)"
            )
        notes = PrepReport()
        if not offsets_path.is_file():
            notes.changed.append(f"{offsets_path}: not there; every clip offset is computed from its annotation")
        plans[split] = (notes, [])
        for clip in read_list(list_path):
            video_id(clip)
            rttm = refs / f"{clip}.rttm"
            if not rttm.is_file():
                raise FileNotFoundError(
                    f"{rttm}: reference of clip {clip!r} (listed in {list_path}) missing; extract {ANNOTATIONS} into {corpus_dir} or remove the clip from the list"
                )
            turns = read_rttm(rttm)
            check_rttm_recordings(
                turns, allowed=[clip], source=rttm, todo="each AVA-AVD RTTM describes only its own clip"
            )
            if not turns:
                notes.dropped.append(
                    f"{clip}: {rttm} has no SPEAKER line, so nothing to score and no offset; clip left out"
                )
                continue
            computed = clip_offset(turns)
            notes.changed.append(offset_note(clip, computed, published.get(clip), rttm))
            offset = published.get(clip, computed)  # the published value where there is one
            if abs(offset - computed) > TIME_EPS:
                logger.warning("%s", notes.changed[-1])
            window = clip_window(clip, offset, turns)
            turns = clip_to_windows(turns, {clip: window}, what="clip window", notes=notes)
            plans[split][1].append((clip, window, shift(turns, window[0])))
            dest = waves / f"{clip}.wav"
            if not dest.is_file():
                video = find_video(corpus_dir / "videos", video_id(clip))
                if video is None:
                    raise MissingAudioError(
                        f"{corpus_dir / 'videos' / video_id(clip)}.{{mkv,mp4,webm}}: movie of clip {clip!r} (listed in {list_path}) does not exist "
                        f"and {dest} was not derived yet; download it (prepare_corpus ava_avd download) or remove the clip from {list_path}"
                    )
                jobs.append((video, dest, window[0], window[1] - window[0]))
    if jobs:
        logger.info("extracting %d clips from the movies with ffmpeg (%d at once)", len(jobs), nj)
        with ThreadPoolExecutor(max_workers=nj) as pool:
            for f in [
                pool.submit(extract_clip_audio, v, d, start=s, duration=n, sample_rate=sample_rate)
                for v, d, s, n in jobs
            ]:
                f.result()
    out: Dict[str, PrepReport] = {}
    for split, (notes, items) in plans.items():
        wav_scp: Dict[str, str] = {}
        reco2dur: Dict[str, float] = {}
        turns: List[Turn] = []
        for clip, (start, end), clip_turns in items:
            path = waves / f"{clip}.wav"
            header = audio_header(path)
            if abs(header.duration - (end - start)) > 0.05:
                notes.changed.append(
                    f"{clip}: derived audio {path} lasts {header.duration:.3f}s, the clip window [{start:.3f}, {end:.3f}] {end - start:.3f}s "
                    "(movie shorter, or a wav derived elsewhere); turns are clipped to the audio"
                )
            wav_scp[clip] = wav_entry(path) if header.channels == 1 else channel_pipe(path, 1)
            reco2dur[clip] = header.duration
            notes.changed.append(
                f"{clip}: times shifted by -{start:.3f}s from movie time (offset {start:.3f}, window end {end:.3f})"
            )
            turns += prefix_speakers(clip_turns)
        name = split_dir_name("ava_avd", split)
        out[name] = write_split(
            Path(out_dir) / name,
            wav_scp=wav_scp,
            turns=turns,
            reco2dur=reco2dur,
            uem=whole_file_uem(reco2dur),
            notes=notes,
        )
    return out


def download_ava_avd(corpus_dir: PathLike) -> None:
    """Fetch the repo's split files, check and extract the hand-downloaded annotations, then
    download every movie of ``split/video.list`` (resumable; finished files skipped)."""
    corpus_dir = Path(corpus_dir)
    downloads = corpus_dir / "downloads"
    split = corpus_dir / "split"
    if not split.is_dir():
        repo = fetch_repo(REPO_URL, corpus_dir / "AVA-AVD", archive=downloads / "AVA-AVD.zip")
        shutil.copytree(repo / "dataset" / "split", split)
    if not (corpus_dir / "rttms").is_dir():
        archive = check_manual_download(
            corpus_dir / ANNOTATIONS,
            what="the AVA-AVD annotations (rttms/, labs/, tracks/)",
            where_from=ANNOTATIONS_SOURCE,
        )
        unpack(archive, corpus_dir, done=corpus_dir / "rttms")
        if not (corpus_dir / "rttms").is_dir():
            found = sorted(str(p) for p in corpus_dir.glob("*/rttms"))
            raise FileNotFoundError(
                f"{corpus_dir / 'rttms'}: not created by {archive}; found {found}: move it there or pass --rttm_dir"
            )
    gone = []
    for video in read_list(split / "video.list"):
        try:
            fetch(VIDEO_URL.format(video=video), corpus_dir / "videos" / video)
        except urllib.error.HTTPError as e:  # some AVA movies have left S3; fetch the others first
            logger.error("%s: HTTP %d", VIDEO_URL.format(video=video), e.code)
            gone.append(video)
    if gone:
        raise FileNotFoundError(
            f"{len(gone)} movies of {split / 'video.list'} could not be downloaded: {' '.join(gone)}; "
            "get them from another AVA mirror into videos/, or remove their clips from the split lists"
        )


# --------------------------------------------------------------------------- command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--splits", type=str_list, default=list(SPLITS), help="e.g. 'train val'")
    p.add_argument("--audio_dir", default=None, help="where the derived clip wavs go (default <corpus_dir>/waves)")
    p.add_argument("--rttm_dir", default=None, help="the references (default <corpus_dir>/rttms)")
    p.add_argument("--sample_rate", type=int, default=16000, help="of the derived clip wavs")
    p.add_argument("--nj", type=int, default=4, help="ffmpeg processes at once")


CLI = CorpusCli(
    summary="AVA-AVD: clip audio cut from the movies with ffmpeg, offsets applied",
    add_arguments=_add_arguments,
    prepare=lambda a: summarize(
        prepare_ava_avd(
            a.corpus_dir,
            a.out_dir,
            splits=a.splits,
            audio_dir=path_or_none(a.audio_dir),
            rttm_dir=path_or_none(a.rttm_dir),
            sample_rate=a.sample_rate,
            nj=a.nj,
        )
    ),
    data_dirs=split_dirs("ava_avd"),
    download=lambda a: download_ava_avd(a.corpus_dir),
    validation=lambda a: {"expected_fs": a.sample_rate},
)
