"""lhotse manifests from any Kaldi-style data dir, and data dirs from lhotse manifests.

:func:`export_lhotse` writes ``recordings``, ``supervisions`` and ``cuts`` (``.jsonl.gz``) for a
data dir: plain ``wav.scp`` paths become ``file`` sources (rate and length from the header),
``cmd |`` entries ``command`` sources (lhotse runs them when it loads audio: simulated sets'
render pipes, channel pipes), supervisions come from ``segments`` + ``utt2spk`` (one per segment,
keeping the utterance id), or, in a dir without segments (a source corpus), one per utterance
covering its whole file with its ``text``. :func:`import_lhotse` goes back: a data dir through
:func:`espnet2_tsdia.data.datadir.write_data_dir` (same utterance ids, same checks), or a
segment-less dir when every supervision covers its whole recording under the recording's id.

A pipe's rate and length cannot be read without running it: simulated sets give them exactly
(``mixture.scp`` / the spec header and ``reco2dur``); other pipes need ``sampling_rate=`` and a
``reco2dur``, or ``run_pipes=True`` (runs every pipe once).
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path
from typing import Dict, List, Optional, Union

from espnet2_tsdia.audio.info import audio_info, is_pipe
from espnet2_tsdia.data.datadir import write_data_dir
from espnet2_tsdia.formats.errors import DataFormatError
from espnet2_tsdia.formats.kaldi import (
    read_reco2dur,
    read_scp,
    read_segments,
    read_utt2spk,
    utt2spk_to_spk2utt,
    write_scp,
    write_spk2utt,
    write_utt2spk,
)
from espnet2_tsdia.formats.rttm import Turn

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

MANIFESTS = ("recordings", "supervisions", "cuts")


def _manifest_path(out_dir: Path, prefix: str, kind: str) -> Path:
    return out_dir / f"{prefix}{kind}.jsonl.gz"


def _simulated_fs(data_dir: Path) -> Optional[int]:
    """The design rate of a simulated set (spec header), or None."""
    spec = data_dir / "specs.jsonl"
    if not spec.is_file():
        return None
    import json

    with open(spec, encoding="utf-8") as f:
        return int(json.loads(f.readline())["fs"])


def export_lhotse(
    data_dir: PathLike,
    out_dir: Optional[PathLike] = None,
    *,
    prefix: str = "",
    sampling_rate: Optional[int] = None,
    run_pipes: bool = False,
):
    """lhotse ``(RecordingSet, SupervisionSet, CutSet)`` of a data dir, written to ``out_dir``.

    Args:
        data_dir: a Kaldi-style dir (wav.scp; segments + utt2spk, or utt2spk alone).
        out_dir: where ``<prefix>recordings.jsonl.gz``, ``...supervisions...``, ``...cuts...``
            go (None: not written).
        prefix: file name prefix, e.g. ``"ami_train_"`` (lhotse's recipes use ``<corpus>_<kind>_<split>``).
        sampling_rate: rate of pipe entries (simulated sets know theirs).
        run_pipes: run pipes to read their rate and length instead.

    Raises:
        DataFormatError: an ark/offset entry, a pipe whose rate or length is unknown, a segment
            of a recording not in wav.scp, an utterance without speaker.
    """
    from lhotse import AudioSource, CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    data_dir = Path(data_dir)
    wav = read_scp(data_dir / "wav.scp")
    reco2dur = read_reco2dur(data_dir / "reco2dur") if (data_dir / "reco2dur").is_file() else {}
    pipe_fs = sampling_rate or _simulated_fs(data_dir)
    recordings = []
    for reco, spec in wav.items():
        if is_pipe(spec):
            cmd = spec.rstrip()[:-1].rstrip()
            if run_pipes:
                info = audio_info(spec, run_pipes=True)
                fs, n = info.samplerate, info.frames
            else:
                if pipe_fs is None or reco not in reco2dur:
                    raise DataFormatError(
                        data_dir / "wav.scp", None,
                        f"{reco!r} is a pipe: its rate and length are unknown; pass sampling_rate= (with a reco2dur) or run_pipes=True",
                    )  # fmt: skip
                fs, n = pipe_fs, int(round(reco2dur[reco] * pipe_fs))
            recordings.append(
                Recording(
                    id=reco,
                    sources=[AudioSource(type="command", channels=[0], source=cmd)],
                    sampling_rate=fs,
                    num_samples=n,
                    duration=n / fs,
                )
            )
        elif ":" in spec and spec.rsplit(":", 1)[1].isdigit():
            raise DataFormatError(
                data_dir / "wav.scp", None, f"{reco!r} is an ark offset ({spec!r}); lhotse export needs files or pipes"
            )
        else:
            info = audio_info(spec)
            recordings.append(
                Recording(
                    id=reco,
                    sources=[
                        AudioSource(type="file", channels=list(range(info.channels)), source=str(Path(spec).absolute()))
                    ],
                    sampling_rate=info.samplerate,
                    num_samples=info.frames,
                    duration=info.frames / info.samplerate,
                )
            )
    rec_set = RecordingSet.from_recordings(recordings)
    utt2spk = read_utt2spk(data_dir / "utt2spk") if (data_dir / "utt2spk").is_file() else {}
    text = read_scp(data_dir / "text") if (data_dir / "text").is_file() else {}
    sups = []
    if (data_dir / "segments").is_file():
        for utt, seg in read_segments(data_dir / "segments").items():
            if seg.reco not in wav:
                raise DataFormatError(
                    data_dir / "segments",
                    None,
                    f"segment {utt!r} names recording {seg.reco!r}, which is not in wav.scp",
                )
            if utt not in utt2spk:
                raise DataFormatError(data_dir / "utt2spk", None, f"segment {utt!r} has no speaker")
            sups.append(
                SupervisionSegment(
                    id=utt,
                    recording_id=seg.reco,
                    start=seg.start,
                    duration=round(seg.end - seg.start, 6),
                    channel=0,
                    speaker=utt2spk[utt],
                    text=text.get(utt),
                )
            )
    else:
        for r in rec_set:
            if r.id in utt2spk:
                sups.append(
                    SupervisionSegment(
                        id=r.id,
                        recording_id=r.id,
                        start=0.0,
                        duration=r.duration,
                        channel=0,
                        speaker=utt2spk[r.id],
                        text=text.get(r.id),
                    )
                )
    sup_set = SupervisionSet.from_segments(sups)
    cuts = CutSet.from_manifests(recordings=rec_set, supervisions=sup_set)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        rec_set.to_file(_manifest_path(out, prefix, "recordings"))
        sup_set.to_file(_manifest_path(out, prefix, "supervisions"))
        cuts.to_file(_manifest_path(out, prefix, "cuts"))
    return rec_set, sup_set, cuts


def _load(x, kind: str):
    from lhotse import load_manifest

    if x is None or not isinstance(x, (str, Path)):
        return x
    return load_manifest(x)


def _wav_entry(rec) -> str:
    """wav.scp value for a lhotse Recording (channel 0 of its first source holding it)."""
    src = next((s for s in rec.sources if 0 in s.channels), rec.sources[0])
    if src.type == "file":
        if len(src.channels) > 1:
            return f"sox {shlex.quote(str(src.source))} -t wav - remix 1 |"
        return str(src.source)
    if src.type == "command":
        return f"{src.source} |"
    raise ValueError(
        f"recording {rec.id!r}: lhotse source type {src.type!r} cannot be written to wav.scp (only file and command)"
    )


def import_lhotse(
    out_dir: PathLike,
    *,
    recordings=None,
    supervisions=None,
    cuts=None,
):
    """Write a data dir from lhotse manifests (objects or paths): ``recordings`` + ``supervisions``,
    or ``cuts`` (their recordings and supervisions, supervision times made absolute).

    Returns:
        The :class:`~espnet2_tsdia.data.datadir.PrepReport` of :func:`write_data_dir`, or None for
        a segment-less (source corpus) dir.

    Raises:
        ValueError: neither input, a supervision without speaker, unsupported audio sources.
    """
    from lhotse import RecordingSet, SupervisionSet

    recs = _load(recordings, "recordings")
    sups = _load(supervisions, "supervisions")
    cut_set = _load(cuts, "cuts")
    if cut_set is not None:
        seen: Dict[str, object] = {}
        sup_list = []
        for c in cut_set:
            if c.has_recording and c.recording_id not in seen:
                seen[c.recording_id] = c.recording
            for s in c.supervisions:
                sup_list.append(s.with_offset(c.start))
        recs = recs or RecordingSet.from_recordings(seen.values())
        sups = sups or SupervisionSet.from_segments({s.id: s for s in sup_list}.values())
    if recs is None or sups is None:
        raise ValueError("import_lhotse needs recordings and supervisions, or cuts")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wav = {r.id: _wav_entry(r) for r in recs}
    dur = {r.id: r.duration for r in recs}
    sup_list = list(sups)
    for s in sup_list:
        if s.speaker is None:
            raise ValueError(
                f"supervision {s.id!r} of {s.recording_id!r} has no speaker; a data dir needs one per segment"
            )
    whole = sup_list and all(
        s.id == s.recording_id and abs(s.start) < 1e-6 and abs(s.duration - dur.get(s.recording_id, -1)) < 1e-3
        for s in sup_list
    )
    if whole:  # a source corpus: one utterance per file, no segments
        keep = {s.recording_id for s in sup_list}
        write_scp(out / "wav.scp", {r: w for r, w in wav.items() if r in keep})
        u2s = {s.id: s.speaker for s in sup_list}
        write_utt2spk(out / "utt2spk", u2s)
        write_spk2utt(out / "spk2utt", utt2spk_to_spk2utt(u2s))
        write_scp(out / "utt2dur", {r: f"{dur[r]:.6f}".rstrip("0").rstrip(".") for r in keep})
        if all(s.text is not None for s in sup_list):
            write_scp(out / "text", {s.id: s.text for s in sup_list})
        return None
    turns = [Turn(reco=s.recording_id, onset=s.start, duration=s.duration, speaker=s.speaker) for s in sup_list]
    return write_data_dir(out, wav_scp=wav, turns=turns, reco2dur=dur)


def main(argv: Optional[List[str]] = None) -> int:
    """Usage:
    python -m espnet2_tsdia.data.lhotse_io export data/dev manifests/ --prefix dev_
    python -m espnet2_tsdia.data.lhotse_io import manifests/dev_cuts.jsonl.gz data/dev_from_lhotse
    python -m espnet2_tsdia.data.lhotse_io import --recordings r.jsonl.gz --supervisions s.jsonl.gz data/x
    """
    import argparse
    import sys

    p = argparse.ArgumentParser(description=main.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="data dir -> lhotse manifests")
    e.add_argument("data_dir")
    e.add_argument("out_dir")
    e.add_argument("--prefix", default="")
    e.add_argument("--sampling_rate", type=int, default=None)
    e.add_argument("--run_pipes", action="store_true")
    i = sub.add_parser("import", help="lhotse manifests -> data dir")
    i.add_argument("cuts", nargs="?", default=None, help="a CutSet manifest")
    i.add_argument("out_dir", nargs="?", default=None)
    i.add_argument("--recordings", default=None)
    i.add_argument("--supervisions", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.cmd == "export":
            export_lhotse(
                args.data_dir,
                args.out_dir,
                prefix=args.prefix,
                sampling_rate=args.sampling_rate,
                run_pipes=args.run_pipes,
            )
        else:
            out = args.out_dir
            cuts = args.cuts
            if out is None:  # only one positional: it is the output dir
                cuts, out = None, args.cuts
            if out is None:
                p.error("import needs an output dir")
            import_lhotse(out, recordings=args.recordings, supervisions=args.supervisions, cuts=cuts)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
