"""Source utterances, noises and RIRs as compact tables that mixture specs refer to by index.

A source dir is a Kaldi dir: ``wav.scp`` (plain file paths; the audio is only ever read),
``utt2spk`` and optionally ``segments`` (then each segment is one source utterance, read as a
region of its file). Speakers are whatever ``utt2spk`` says: for LibriSpeech
:func:`espnet2_tsdia.corpora.librispeech.prepare_librispeech` writes reader-level speakers.

Every file's header is read once (:func:`soundfile.info`), which also proves the file exists and
is readable; lengths are kept in the file's own samples and, for the simulator, in whole
milliseconds (``length_ms = floor(samples * 1000 / fs)``), so every boundary of a simulated
conversation lies on a millisecond at any output rate that is a multiple of 1000 Hz.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import c_sort_key, iter_lines, read_scp, read_segments, read_utt2spk

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")
_SOURCE_HEADER = "#utt\tspeaker\tpath\tstart\tstop\tfs\tlength_ms"
_AUDIO_HEADER = "#id\tpath\tframes\tfs"


@dataclass(frozen=True)
class SourceTable:
    """Source utterances, sorted by utterance id (C locale).

    Attributes (one entry per utterance unless said otherwise):
        utts: utterance ids.
        speakers: the distinct speaker ids, sorted (``spk`` indexes into it).
        spk: (U,) int32 speaker index.
        paths: the distinct audio files (``path_idx`` indexes into it).
        path_idx: (U,) int32.
        start, stop: (U,) int64 region in the file's own samples.
        file_fs: (U,) int32 the file's sampling rate.
        length_ms: (U,) int64 ``floor((stop - start) * 1000 / file_fs)``.
    """

    utts: Tuple[str, ...]
    speakers: Tuple[str, ...]
    spk: np.ndarray
    paths: Tuple[str, ...]
    path_idx: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    file_fs: np.ndarray
    length_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.utts)

    def utts_of_speakers(self) -> List[np.ndarray]:
        """For each speaker index, the indices of its utterances (ascending)."""
        order = np.argsort(self.spk, kind="stable")
        bounds = np.searchsorted(self.spk[order], np.arange(len(self.speakers) + 1))
        return [order[bounds[i] : bounds[i + 1]] for i in range(len(self.speakers))]

    def write(self, path: PathLike) -> None:
        """Write ``sources.tsv`` (tab-separated, one header line)."""
        lines = [_SOURCE_HEADER]
        for i, u in enumerate(self.utts):
            lines.append(
                f"{u}\t{self.speakers[self.spk[i]]}\t{self.paths[self.path_idx[i]]}\t{self.start[i]}\t{self.stop[i]}\t{self.file_fs[i]}\t{self.length_ms[i]}"
            )
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _build(rows: Sequence[Tuple[str, str, str, int, int, int]]) -> SourceTable:
    rows = sorted(rows, key=lambda r: c_sort_key(r[0]))
    speakers = tuple(sorted({r[1] for r in rows}, key=c_sort_key))
    spk_index = {s: i for i, s in enumerate(speakers)}
    paths: Dict[str, int] = {}
    for r in rows:
        paths.setdefault(r[2], len(paths))
    start = np.array([r[3] for r in rows], dtype=np.int64)
    stop = np.array([r[4] for r in rows], dtype=np.int64)
    fs = np.array([r[5] for r in rows], dtype=np.int64)
    return SourceTable(
        utts=tuple(r[0] for r in rows),
        speakers=speakers,
        spk=np.array([spk_index[r[1]] for r in rows], dtype=np.int32),
        paths=tuple(paths),
        path_idx=np.array([paths[r[2]] for r in rows], dtype=np.int32),
        start=start,
        stop=stop,
        file_fs=fs.astype(np.int32),
        length_ms=(stop - start) * 1000 // np.maximum(fs, 1),
    )


def _plain_path(wav_scp: Path, key: str, value: str) -> str:
    if value.rstrip().endswith("|") or value.lstrip().startswith("-"):
        raise DataFormatError(
            wav_scp,
            None,
            f"entry {key!r} is a pipe ({value!r}); the simulator reads source regions directly and needs plain wav/flac paths",
        )
    if "\t" in value or "\n" in value:
        raise DataFormatError(wav_scp, None, f"entry {key!r}: paths with tabs are not supported, got {value!r}")
    return str(Path(value).absolute())


def _headers(paths: Sequence[str], listed_in: Path) -> Dict[str, Tuple[int, int]]:
    """``path -> (frames, samplerate)``; every missing or unreadable file is reported at once."""
    import soundfile as sf

    out: Dict[str, Tuple[int, int]] = {}
    missing: List[str] = []
    for p in paths:
        try:
            info = sf.info(p)
        except (RuntimeError, OSError) as e:  # soundfile raises LibsndfileError (a RuntimeError)
            missing.append(f"{p} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
            continue
        out[p] = (int(info.frames), int(info.samplerate))
    if missing:
        shown = "\n  ".join(missing[:10])
        more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise DataFormatError(
            listed_in, None, f"{len(missing)} of {len(paths)} audio files are missing or unreadable:\n  {shown}{more}"
        )
    return out


def load_source_dir(path: PathLike) -> SourceTable:
    """Read a source Kaldi dir into a :class:`SourceTable`, checking every audio file.

    Raises:
        FileNotFoundError: no wav.scp or utt2spk.
        DataFormatError: pipes in wav.scp, utterances without audio or speaker, missing or
            unreadable audio files (all listed), segments past the end of their file, or no
            utterance of at least 1 ms.
    """
    path = Path(path)
    for name in ("wav.scp", "utt2spk"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path}: not a source data dir (no {name})")
    wav_scp = read_scp(path / "wav.scp")
    utt2spk = read_utt2spk(path / "utt2spk")
    files = {k: _plain_path(path / "wav.scp", k, v) for k, v in wav_scp.items()}
    headers = _headers(sorted(set(files.values())), path / "wav.scp")
    rows = []
    if (path / "segments").is_file():
        segs = read_segments(path / "segments")
        for utt, seg in segs.items():
            if seg.reco not in files:
                raise DataFormatError(
                    path / "segments",
                    None,
                    f"segment {utt!r} refers to recording {seg.reco!r}, which is not in wav.scp",
                )
            if utt not in utt2spk:
                raise DataFormatError(path / "utt2spk", None, f"segment {utt!r} has no speaker in utt2spk")
            frames, fs = headers[files[seg.reco]]
            a, b = int(round(seg.start * fs)), int(round(seg.end * fs))
            if b > frames + fs // 2:
                raise DataFormatError(
                    path / "segments",
                    None,
                    f"segment {utt!r} ends at {seg.end}s, past the end of {files[seg.reco]} ({frames / fs:.3f}s)",
                )
            rows.append((utt, utt2spk[utt], files[seg.reco], a, min(b, frames), fs))
    else:
        no_spk = sorted(set(files) - set(utt2spk), key=c_sort_key)
        if no_spk:
            raise DataFormatError(
                path / "utt2spk", None, f"{len(no_spk)} utterances of wav.scp have no speaker, e.g. {no_spk[:5]}"
            )
        for utt, p in files.items():
            frames, fs = headers[p]
            rows.append((utt, utt2spk[utt], p, 0, frames, fs))
    table = _build([r for r in rows if (r[4] - r[3]) * 1000 >= r[5]])
    if len(table) == 0:
        raise DataFormatError(path, None, "no source utterance of at least 1 ms")
    if len(table) < len(rows):
        logger.warning("%s: %d utterances shorter than 1 ms left out", path, len(rows) - len(table))
    return table


def read_source_table(path: PathLike) -> SourceTable:
    """Read ``sources.tsv`` written by :meth:`SourceTable.write`."""
    rows = []
    for n, line in iter_lines(path):
        if line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 7:
            raise DataFormatError(path, n, f"expected 7 tab-separated fields ({_SOURCE_HEADER[1:]}), got {len(f)}")
        try:
            rows.append((f[0], f[1], f[2], int(f[3]), int(f[4]), int(f[5])))
        except ValueError:
            raise DataFormatError(path, n, f"start/stop/fs must be integers, got {f[3:6]}") from None
    return _build(rows)


# --------------------------------------------------------------------------- noises and RIRs
@dataclass(frozen=True)
class AudioList:
    """Whole audio files (noises or RIRs), sorted by id."""

    ids: Tuple[str, ...]
    paths: Tuple[str, ...]
    frames: Tuple[int, ...]
    fs: Tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def write(self, path: PathLike) -> None:
        lines = [_AUDIO_HEADER] + [
            f"{i}\t{p}\t{n}\t{r}" for i, p, n, r in zip(self.ids, self.paths, self.frames, self.fs, strict=True)
        ]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_audio_list(path: PathLike) -> AudioList:
    """Noise or RIR files from a Kaldi dir (its ``wav.scp``) or a folder (every wav/flac below it).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataFormatError: no audio found, pipes in wav.scp, unreadable files.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: noise/RIR location does not exist")
    if (path / "wav.scp").is_file():
        listed = path / "wav.scp"
        items = {k: _plain_path(listed, k, v) for k, v in read_scp(listed).items()}
    else:
        listed = path
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        items = {str(p.relative_to(path).with_suffix("")).replace("/", "_"): str(p.absolute()) for p in files}
    if not items:
        raise DataFormatError(
            listed, None, f"no audio found (expected a wav.scp or {'/'.join(AUDIO_SUFFIXES)} files below it)"
        )
    headers = _headers(sorted(set(items.values())), listed)
    ids = sorted(items, key=c_sort_key)
    return AudioList(
        ids=tuple(ids),
        paths=tuple(items[i] for i in ids),
        frames=tuple(headers[items[i]][0] for i in ids),
        fs=tuple(headers[items[i]][1] for i in ids),
    )


def read_audio_list(path: PathLike) -> AudioList:
    """Read ``noises.tsv``/``rirs.tsv`` written by :meth:`AudioList.write`."""
    rows = []
    for n, line in iter_lines(path):
        if line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 4:
            raise DataFormatError(path, n, f"expected 4 tab-separated fields ({_AUDIO_HEADER[1:]}), got {len(f)}")
        rows.append((f[0], f[1], int(f[2]), int(f[3])))
    return AudioList(
        ids=tuple(r[0] for r in rows),
        paths=tuple(r[1] for r in rows),
        frames=tuple(r[2] for r in rows),
        fs=tuple(r[3] for r in rows),
    )


def optional_audio_list(path: Optional[PathLike]) -> Optional[AudioList]:
    return None if path is None else load_audio_list(path)
