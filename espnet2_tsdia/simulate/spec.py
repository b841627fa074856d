"""Mixture specs: the compact on-disk form of a simulated set, and its resolved in-memory form.

On disk a set has ``specs.jsonl``: a header line, then one JSON object per mixture::

    {"format": "tsdia-mixture-spec", "version": 1, "fs": 8000, "sources": "sources.tsv",
     "noises": null, "rirs": null, "name": "train_ns2"}
    {"id": "train_ns2-0000000", "dur": 61234, "seed": 123, "spk": ["19", "26"],
     "u": [[0, 17, 0, -150], [1, 230, 11020, 80], ...], "noise": [-1, 0, 1500], "rir": [3, -1]}

``dur`` is the mixture length in ms; each ``u`` entry is ``[speaker index into spk, source index
into sources.tsv, onset ms, gain in centi-dB]`` (the length comes from the source table);
``noise`` is ``[noise index into noises.tsv or -1 for white noise, offset in the noise file's
samples, SNR in centi-dB]`` or null; ``rir`` gives one RIR index per speaker (-1: dry) or is
null; ``seed`` drives everything random at render time (white noise). Paths in the header are
relative to the spec file. Source references are indices, so a line costs about 20 bytes per
utterance whatever the path lengths.

``mixture.scp`` (``<reco> <specs.jsonl path>:<byte offset>``) indexes the lines so that a reader
never scans the spec file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.simulate.sources import AudioList, SourceTable, read_audio_list, read_source_table

PathLike = Union[str, Path]
FORMAT = "tsdia-mixture-spec"
VERSION = 1


@dataclass(frozen=True)
class AudioRegion:
    """Samples ``[start, stop)`` of channel 0 of ``path``, whose rate is ``fs``."""

    path: str
    start: int
    stop: int
    fs: int


@dataclass(frozen=True)
class Placement:
    """One source utterance placed in a mixture: ``length_ms`` of ``audio`` from ``onset_ms``."""

    speaker: str
    utt: str
    audio: AudioRegion
    onset_ms: int
    length_ms: int
    gain_db: float


@dataclass(frozen=True)
class NoiseSpec:
    """Additive noise: ``audio`` (a whole file, tiled from ``offset`` of its samples) or white
    Gaussian noise (``audio`` None) drawn from the mixture's seed, at ``snr_db`` over the mixture."""

    audio: Optional[AudioRegion]
    offset: int
    snr_db: float


@dataclass(frozen=True)
class MixtureSpec:
    """A fully resolved mixture: everything :func:`render_mixture` needs.

    ``rirs`` has one entry per speaker (None: dry). Times are integer milliseconds, so the
    mixture renders at any rate that is a multiple of 1000 Hz.
    """

    reco: str
    duration_ms: int
    seed: int
    speakers: Tuple[str, ...]
    placements: Tuple[Placement, ...]
    noise: Optional[NoiseSpec] = None
    rirs: Tuple[Optional[AudioRegion], ...] = ()

    def turns(self) -> List[Turn]:
        """The reference turns (one per placed utterance), in seconds."""
        return [
            Turn(reco=self.reco, onset=p.onset_ms / 1000, duration=p.length_ms / 1000, speaker=p.speaker)
            for p in self.placements
        ]


def header(*, fs: int, name: str, sources: str, noises: Optional[str], rirs: Optional[str]) -> Dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "fs": fs,
        "name": name,
        "sources": sources,
        "noises": noises,
        "rirs": rirs,
    }


def encode_record(record: Mapping[str, Any]) -> str:
    """One compact JSON line (no spaces; ``id`` first so readers can index without parsing)."""
    rec = {"id": record["id"], **{k: v for k, v in record.items() if k != "id"}}
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False)


class SpecTables:
    """The header and tables of one spec file, loaded once (lazily) and shared by its records."""

    def __init__(self, spec_path: PathLike):
        self.path = Path(spec_path)
        with open(self.path, "r", encoding="utf-8") as f:
            first = f.readline()
        try:
            head = json.loads(first)
        except json.JSONDecodeError:
            head = None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise DataFormatError(self.path, 1, f"expected a {FORMAT} header line, got {first[:80]!r}")
        if head.get("version") != VERSION:
            raise DataFormatError(self.path, 1, f"expected spec version {VERSION}, got {head.get('version')!r}")
        self.header = head
        self.fs = int(head["fs"])
        base = self.path.parent
        self.sources: SourceTable = read_source_table(base / head["sources"])
        self.noises: Optional[AudioList] = read_audio_list(base / head["noises"]) if head.get("noises") else None
        self.rirs: Optional[AudioList] = read_audio_list(base / head["rirs"]) if head.get("rirs") else None

    def _region(self, i: int) -> AudioRegion:
        s = self.sources
        return AudioRegion(
            path=s.paths[s.path_idx[i]], start=int(s.start[i]), stop=int(s.stop[i]), fs=int(s.file_fs[i])
        )

    @staticmethod
    def _whole(lst: AudioList, i: int) -> AudioRegion:
        return AudioRegion(path=lst.paths[i], start=0, stop=lst.frames[i], fs=lst.fs[i])

    def resolve(self, rec: Mapping[str, Any]) -> MixtureSpec:
        """Turn a decoded spec line into a :class:`MixtureSpec`."""
        try:
            spk = tuple(rec["spk"])
            pl = []
            for s, src, onset, gain in rec["u"]:
                pl.append(
                    Placement(
                        speaker=spk[s],
                        utt=self.sources.utts[src],
                        audio=self._region(src),
                        onset_ms=int(onset),
                        length_ms=int(self.sources.length_ms[src]),
                        gain_db=gain / 100,
                    )
                )
            noise = None
            if rec.get("noise") is not None:
                idx, offset, snr = rec["noise"]
                audio = None
                if idx >= 0:
                    if self.noises is None:
                        raise KeyError("noise index given but the header has no noise table")
                    audio = self._whole(self.noises, idx)
                noise = NoiseSpec(audio=audio, offset=int(offset), snr_db=snr / 100)
            rirs: Tuple[Optional[AudioRegion], ...] = ()
            if rec.get("rir") is not None:
                if self.rirs is None:
                    raise KeyError("rir indices given but the header has no RIR table")
                rirs = tuple(None if i < 0 else self._whole(self.rirs, i) for i in rec["rir"])
            return MixtureSpec(
                reco=rec["id"],
                duration_ms=int(rec["dur"]),
                seed=int(rec["seed"]),
                speakers=spk,
                placements=tuple(pl),
                noise=noise,
                rirs=rirs,
            )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise DataFormatError(
                self.path, None, f"bad spec record {rec.get('id', '?')!r}: {type(e).__name__}: {e}"
            ) from None


def index_spec_file(path: PathLike) -> Dict[str, int]:
    """``reco -> byte offset`` of every record line of a spec file (reads ids without parsing JSON)."""
    out: Dict[str, int] = {}
    prefix = b'{"id":"'
    with open(path, "rb") as f:
        offset = len(f.readline())
        for n, line in enumerate(f, start=2):
            if line.strip():
                if not line.startswith(prefix):
                    raise DataFormatError(
                        path, n, f"expected a record starting with {prefix.decode()!r}, got {line[:40]!r}"
                    )
                end = line.index(b'"', len(prefix))
                out[line[len(prefix) : end].decode("utf-8")] = offset
            offset += len(line)
    return out


def read_record(path: PathLike, offset: int) -> Dict[str, Any]:
    """Decode the record line at ``offset`` of a spec file."""
    with open(path, "rb") as f:
        f.seek(offset)
        line = f.readline()
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise DataFormatError(path, None, f"no valid spec record at byte {offset}: {e}") from None


def iter_records(path: PathLike):
    """Yield every decoded record of a spec file in file order."""
    with open(path, "r", encoding="utf-8") as f:
        f.readline()
        for line in f:
            if line.strip():
                yield json.loads(line)
