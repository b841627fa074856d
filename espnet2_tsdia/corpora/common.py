"""Pieces shared by the ``prepare_<corpus>()`` functions.

Every corpus module reads its native layout, builds ``wav.scp`` entries, speaker turns,
recording durations (from audio headers, never by decoding) and a UEM, then hands them to
:func:`write_split`, which calls :func:`espnet2_tsdia.data.datadir.write_data_dir` and adds the
corpus-level notes (recordings left out, turns clipped to a UEM or clip window, channel fields
rewritten) to the same ``prep_report.txt``. Problems that make a corpus unusable raise:
:class:`MissingAudioError` for a listed recording without audio, and
:class:`~espnet2_tsdia.formats.errors.DataFormatError` for an annotation that is malformed or names a
recording the corpus does not list. Both messages name the file and say what to do.
"""

from __future__ import annotations

import functools
import http.client
import logging
import re
import shlex
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from espnet2_tsdia.audio.info import AudioInfo, audio_info
from espnet2_tsdia.data.datadir import PrepReport, write_data_dir
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import iter_lines
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.formats.times import FLOAT_EPS, floor_ms
from espnet2_tsdia.formats.uem import UemSegment
from espnet2_tsdia.utils.atomic import atomic_path, atomic_write_text
from espnet2_tsdia.utils.checksums import MANIFEST_NAME, Manifest, md5sum

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s")


class MissingAudioError(FileNotFoundError):
    """A recording that the corpus lists has no audio file (the message says which and what to do)."""


# --------------------------------------------------------------------------- audio headers
def audio_header(path: PathLike) -> AudioInfo:
    """Sample rate, channels and length of an audio file, from its header only.

    :func:`espnet2_tsdia.audio.info.audio_info` (libsndfile) reads wav, flac and
    uncompressed NIST SPHERE; for anything else (e.g. shorten-compressed SPHERE) ``sox --i`` is
    asked.

    Raises:
        FileNotFoundError: no such file.
        ValueError: neither reader understands the header.
    """
    try:
        return audio_info(str(path))
    except ValueError as e:
        first_error = e
    sox = shutil.which("sox")
    if sox is not None:
        proc = subprocess.run([sox, "--i", str(path)], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            fields = dict(
                (k.strip().lower(), v.strip())
                for k, v in (line.split(":", 1) for line in proc.stdout.splitlines() if ":" in line)
            )
            m = re.search(r"=\s*(\d+)\s+samples", fields.get("duration", ""))
            try:
                if m is not None:
                    return AudioInfo(
                        samplerate=int(float(fields["sample rate"])),
                        channels=int(fields["channels"]),
                        frames=int(m.group(1)),
                    )
            except (KeyError, ValueError):
                pass
    raise ValueError(str(first_error))


def require_audio(path: PathLike, *, reco: str, listed_in: str, todo: str) -> Path:
    """Return ``path`` if it is a file, else raise :class:`MissingAudioError`.

    Args:
        path: the expected audio file.
        reco: the recording id.
        listed_in: where the recording is listed (a file name, or a description).
        todo: what the user should do (download it, or remove the recording from the list).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingAudioError(f"{path}: audio of recording {reco!r} (listed in {listed_in}) does not exist; {todo}")
    return path


# --------------------------------------------------------------------------- wav.scp entries
def _check_path(path: Path) -> str:
    text = str(path)
    if _WHITESPACE.search(text):
        raise ValueError(
            f"audio path {text!r} contains whitespace, which wav.scp cannot hold; move the corpus to a path without spaces"
        )
    return text


def wav_entry(path: PathLike) -> str:
    """A plain wav.scp value: the absolute path."""
    return _check_path(Path(path).absolute())


def channel_pipe(path: PathLike, channel: int) -> str:
    """A wav.scp pipe that selects one channel (1-based) with sox; the file is left untouched."""
    if channel < 1:
        raise ValueError(f"channel is 1-based, got {channel}")
    return f"sox {shlex.quote(_check_path(Path(path).absolute()))} -t wav - remix {channel} |"


def downmix_pipe(path: PathLike) -> str:
    """A wav.scp pipe that mixes all channels to mono with sox (``-c 1``: the channel average)."""
    return f"sox {shlex.quote(_check_path(Path(path).absolute()))} -t wav -c 1 - |"


def sph_pipe(path: PathLike) -> str:
    """A wav.scp pipe decoding NIST SPHERE: ``sph2pipe`` when installed (it handles shorten
    compression), else sox."""
    p = shlex.quote(_check_path(Path(path).absolute()))
    if shutil.which("sph2pipe"):
        return f"sph2pipe -f wav -p {p} |"
    return f"sox -t sph {p} -t wav - |"


def convert_to_wav(src: PathLike, dest: PathLike, *, sample_rate: int = 16000) -> Path:
    """Decode the audio of ``src`` (any file ffmpeg reads: m4a, mp4, ...) into a 16-bit mono wav.

    The source is only read. ``dest`` is written through :func:`espnet2_tsdia.utils.atomic.atomic_path`
    (a temporary name in its folder, renamed when ffmpeg succeeded), so an interrupted run leaves
    no half file and a rerun skips ``dest`` when it exists.

    Raises:
        FileNotFoundError: ffmpeg is not installed.
        RuntimeError: ffmpeg failed (its last message is included).
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FileNotFoundError("ffmpeg not found in PATH; install it (sudo apt-get install -y ffmpeg)")
    with atomic_path(dest) as tmp:
        cmd = [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(Path(src).absolute()), "-vn", "-ac", "1",
               "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            msg = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit status {proc.returncode}"
            raise RuntimeError(f"{src}: ffmpeg could not decode it ({msg})")
    return dest


def ffmpeg_pipe(path: PathLike, *, sample_rate: int = 16000) -> str:
    """A wav.scp pipe decoding any file ffmpeg reads to 16-bit mono wav at ``sample_rate``."""
    p = shlex.quote(_check_path(Path(path).absolute()))
    return f"ffmpeg -nostdin -v error -i {p} -vn -ac 1 -ar {sample_rate} -c:a pcm_s16le -f wav - |"


def ffprobe_duration(path: PathLike) -> float:
    """Duration in seconds of a file ffmpeg reads (its container header), via ffprobe.

    Raises:
        FileNotFoundError: ffprobe is not installed.
        ValueError: ffprobe cannot read a duration.
    """
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise FileNotFoundError("ffprobe not found in PATH; install ffmpeg (sudo apt-get install -y ffmpeg)")
    proc = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return float(proc.stdout.strip())
    except ValueError:
        raise ValueError(
            f"{path}: ffprobe found no duration ({proc.stderr.strip()[-300:] or proc.stdout.strip()!r})"
        ) from None


# --------------------------------------------------------------------------- lists and annotations
def first_line_naming(path: PathLike, reco: str, *, field: int = 1) -> Optional[int]:
    """1-based number of the first line whose whitespace field ``field`` (0-based) is ``reco``."""
    for n, line in iter_lines(path):
        f = line.split()
        if len(f) > field and f[field] == reco:
            return n
    return None


def check_rttm_recordings(turns: Sequence[Turn], *, allowed: Iterable[str], source: PathLike, todo: str) -> None:
    """Raise DataFormatError if an RTTM names a recording outside ``allowed``.

    Args:
        turns: the turns read from ``source``.
        allowed: recording ids this annotation file may name.
        source: the RTTM file (named in the error with the first offending line).
        todo: what the user should do.
    """
    allowed = set(allowed)
    for t in turns:
        if t.reco not in allowed:
            line = first_line_naming(source, t.reco)
            raise DataFormatError(
                source,
                line,
                f"names recording {t.reco!r}, which is not one of the recordings this file may describe "
                f"({', '.join(sorted(allowed)[:5])}{', ...' if len(allowed) > 5 else ''}); {todo}",
            )


def is_lfs_pointer(path: PathLike) -> bool:
    """True if ``path`` is a Git LFS pointer file instead of the content."""
    with open(path, "rb") as f:
        return f.read(40).startswith(b"version https://git-lfs")


def prefix_speakers(turns: Iterable[Turn]) -> List[Turn]:
    """Rename speaker ``s`` of recording ``r`` to ``r_s`` (corpora whose labels are local)."""
    return [replace(t, speaker=f"{t.reco}_{t.speaker}") for t in turns]


def clip_to_windows(
    turns: Iterable[Turn], windows: Mapping[str, Tuple[float, float]], *, what: str, notes: PrepReport
) -> List[Turn]:
    """Keep the part of every turn inside its recording's window ``[start, end]``.

    Turns entirely outside are dropped, turns partly outside are clipped; each case goes into
    ``notes`` with the original times. Recordings without a window keep all their turns.

    Args:
        turns: speaker turns.
        windows: recording -> (start, end) in seconds.
        what: the window's name for the report (e.g. ``"UEM"``, ``"clip window"``).
        notes: receives one line per dropped or clipped turn.
    """
    out = []
    for t in turns:
        if t.reco not in windows:
            out.append(t)
            continue
        lo, hi = windows[t.reco]
        if t.end <= lo or t.onset >= hi:
            notes.dropped.append(
                f"{t.reco} {t.speaker} [{t.onset:.3f}, {t.end:.3f}]: outside the {what} [{lo:.3f}, {hi:.3f}]"
            )
            continue
        onset, end = max(t.onset, lo), min(t.end, hi)
        if (onset, end) != (t.onset, t.end):
            if onset - t.onset > FLOAT_EPS or t.end - end > FLOAT_EPS:  # not for float noise
                notes.changed.append(
                    f"{t.reco} {t.speaker} [{t.onset:.3f}, {t.end:.3f}]: clipped to the {what} [{lo:.3f}, {hi:.3f}] -> [{onset:.3f}, {end:.3f}]"
                )
            t = replace(t, onset=onset, duration=end - onset)
        out.append(t)
    return out


def clip_uem(
    uem: Mapping[str, Sequence[UemSegment]], reco2dur: Mapping[str, float], *, notes: PrepReport
) -> Dict[str, List[UemSegment]]:
    """UEM regions clipped to ``[0, duration]`` (floored to 1 ms); clipping is noted."""
    out: Dict[str, List[UemSegment]] = {}
    for reco, regions in uem.items():
        if reco not in reco2dur:
            continue
        exact = reco2dur[reco]
        dur = floor_ms(exact)  # the 3-decimal files must not pass the audio end
        kept = []
        for u in regions:
            if u.onset >= dur:
                notes.dropped.append(
                    f"{reco}: UEM region [{u.onset:.3f}, {u.end:.3f}] starts after the audio end {exact:.3f}"
                )
                continue
            if u.end > exact + FLOAT_EPS:
                notes.changed.append(
                    f"{reco}: UEM region [{u.onset:.3f}, {u.end:.3f}] clipped to the audio end {exact:.3f}"
                )
            if u.end > dur:
                u = replace(u, end=dur)
            kept.append(u)
        if kept:
            out[reco] = kept
    return out


def whole_file_uem(reco2dur: Mapping[str, float]) -> Dict[str, List[UemSegment]]:
    """A ``[0, duration]`` UEM per recording (durations floored to 1 ms to stay inside the audio)."""
    return {r: [UemSegment(r, 0.0, floor_ms(d))] for r, d in reco2dur.items()}


# --------------------------------------------------------------------------- writing
def split_dir_name(corpus: str, split: str) -> str:
    """``<corpus>_<split>`` with dots turned into underscores (``msdwild_few_val``)."""
    return f"{corpus}_{split}".replace(".", "_")


def write_split(
    path: PathLike,
    *,
    wav_scp: Mapping[str, str],
    turns: Iterable[Turn],
    reco2dur: Mapping[str, float],
    uem: Optional[Mapping[str, Sequence[UemSegment]]] = None,
    notes: Optional[PrepReport] = None,
) -> PrepReport:
    """Write one data dir through :func:`write_data_dir` and prepend the corpus-level ``notes``
    to its report (returned and written to ``prep_report.txt``)."""
    path = Path(path)
    report = write_data_dir(
        path,
        wav_scp=wav_scp,
        turns=turns,
        reco2dur=reco2dur,
        uem=None if uem is None else {k: list(v) for k, v in uem.items()},
    )
    full = PrepReport()
    if notes is not None:
        full.extend(notes)
    full.extend(report)
    atomic_write_text(path / "prep_report.txt", full.text())
    logger.info(
        "%s: %d recordings, %d turns changed, %d items dropped",
        path,
        len(set(wav_scp)),
        len(full.changed),
        len(full.dropped),
    )
    return full


def check_manual_download(path: PathLike, *, what: str, where_from: str, md5: Optional[str] = None) -> Path:
    """Check a file the user had to fetch by hand (Google Drive, Baidu, ...).

    Raises:
        FileNotFoundError: the file is not there; the message says what to fetch and where to put it.
        ValueError: its md5 differs from ``md5``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: {what} is not there. It cannot be downloaded automatically: fetch it from {where_from} "
            f"in a browser and save it as {path}{f' (md5 {md5})' if md5 else ''}, then run this again"
        )
    if md5 is not None:
        got = md5sum(path)
        if got != md5:
            raise ValueError(
                f"{path}: md5 {got} differs from the published {md5}; the file is incomplete or corrupt. "
                f"Delete it and fetch it again from {where_from}"
            )
    return path


def known_split(name: str, valid: Sequence[str], *, what: str = "split") -> str:
    """``name`` if it is in ``valid``, else ValueError listing the valid names."""
    if name not in valid:
        raise ValueError(f"unknown {what} {name!r}; expected one of {', '.join(valid)}")
    return name


# --------------------------------------------------------------------------- downloads
#: what a download that the server could not deliver raises (URLError and HTTPError are OSErrors);
#: a ChecksumError is not one of them: a wrong file is never skipped
DOWNLOAD_ERRORS = (OSError, http.client.HTTPException)


def corpus_manifest(corpus_dir: PathLike) -> Manifest:
    """``<corpus_dir>/checksums.md5``: the md5 of every file a corpus download wrote there (see
    :class:`espnet2_tsdia.utils.checksums.Manifest`; ``md5sum -c`` reads it)."""
    return Manifest(Path(corpus_dir) / MANIFEST_NAME)


def fetch(
    url: str,
    dest: PathLike,
    *,
    md5: Optional[str] = None,
    size: Optional[int] = None,
    manifest: Optional[Manifest] = None,
) -> Path:
    """Download ``url`` to ``dest`` with :func:`espnet2_tsdia.utils.download.download`: resumed
    from a partial file, skipped when ``dest`` is complete, checked against ``md5``/``size`` when
    known, else against a published or recorded checksum, and recorded in ``manifest`` (a
    mismatch raises ``ChecksumError`` naming the file, both checksums and what to do)."""
    from espnet2_tsdia.utils.download import download  # deferred: only download actions need it

    logger.info("fetching %s -> %s", url, dest)
    return download(url, dest, md5=md5, size=size, manifest=manifest)


def corpus_fetch(corpus_dir: PathLike) -> Callable[..., Path]:
    """:func:`fetch` that checks against and records into ``<corpus_dir>/checksums.md5``."""
    return functools.partial(fetch, manifest=corpus_manifest(corpus_dir))


def unpack(archive: PathLike, dest: PathLike, *, done: Optional[PathLike] = None) -> None:
    """Extract ``archive`` into ``dest`` unless an earlier extraction finished (its marker, see
    :func:`espnet2_tsdia.utils.download.extraction_marker`). ``done`` (a file or dir the archive
    creates) only explains in the log why a tree that is there is extracted again: without the
    marker it may be the remains of an interrupted extraction."""
    from espnet2_tsdia.utils.download import extract, extraction_marker

    if extraction_marker(archive, dest).exists():
        logger.info("%s: already extracted into %s", archive, dest)
        return
    if done is not None and Path(done).exists():
        logger.info("%s exists but %s was not fully extracted by an earlier run; extracting it again", done, archive)
    logger.info("extracting %s -> %s", archive, dest)
    extract(archive, dest)


def was_extracted(archive: PathLike, dest: PathLike) -> bool:
    """True once :func:`unpack` (or ``extract``) finished extracting ``archive`` into ``dest``."""
    from espnet2_tsdia.utils.download import extraction_marker

    return extraction_marker(archive, dest).exists()


def fetch_repo(url: str, dest: PathLike, *, archive: PathLike, manifest: Optional[Manifest] = None) -> Path:
    """Download a GitHub archive zip and put its single top-level folder at ``dest``.

    Skipped when ``dest`` exists (delete it to refresh). The zip is checked and recorded like any
    download (``manifest``); it is unpacked next to ``dest`` and renamed into place, so an
    interrupted run never leaves a partial ``dest``.
    """
    dest = Path(dest)
    if dest.is_dir():
        logger.info("%s: already there", dest)
        return dest
    fetch(url, archive, manifest=manifest)
    tmp = dest.with_name(dest.name + ".extract")
    if tmp.exists():
        shutil.rmtree(tmp)
    from espnet2_tsdia.utils.download import extract

    extract(archive, tmp)
    tops = [p for p in tmp.iterdir() if not p.name.startswith(".")]  # the extractor's marker is hidden
    if len(tops) != 1 or not tops[0].is_dir():
        raise ValueError(f"{archive}: expected one top-level folder in the archive, found {[p.name for p in tops]}")
    tops[0].replace(dest)
    shutil.rmtree(tmp)
    return dest
