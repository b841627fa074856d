"""Generate a simulated set: mixture specs, RTTM, a Kaldi dir and statistics, in ``nj`` jobs.

Conversation ``i`` of a set draws everything from ``SeedSequence([seed, i])``, so its content
depends only on the config, the source tables and ``i``: any ``nj`` gives the same files. Jobs
take contiguous index ranges and write shards; the merge concatenates them in index order
(recording ids ``<name>-<i:07d>`` sort the same way) and k-way merges the utterance-keyed files.

Every check that can fail runs before any job starts: the config (on construction), the source
dir (every audio file's header), enough source speakers for the largest speaker count, the noise
and RIR sets, and a dry run of the first conversations. After the merge, :func:`check_targets`
recomputes every conversation's statistics from the written turns; a miss writes
``stats.json`` with ``"passed": false`` and raises :class:`SimulationError`.

Output dir (``out_dir``, written as ``out_dir.tmp`` and renamed at the end)::

    specs.jsonl mixture.scp sources.tsv [noises.tsv] [rirs.tsv]    the specs (spec.py)
    wav.scp segments utt2spk spk2utt reco2dur reco2num_spk rttm    the Kaldi dir
    mixture_stats.tsv stats.json config.yaml                       statistics and the config
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import multiprocessing as mp
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from espnet2_tsdia.data.stats import RecordingStats, SetStats, recording_stats, set_stats
from espnet2_tsdia.formats.kaldi import utt_id
from espnet2_tsdia.formats.rttm import Turn, format_turn, iter_rttm
from espnet2_tsdia.simulate.config import SimulationConfig
from espnet2_tsdia.simulate.sources import (
    AudioList,
    SourceTable,
    load_audio_list,
    load_source_dir,
    read_audio_list,
    read_source_table,
)
from espnet2_tsdia.simulate.spec import encode_record, header
from espnet2_tsdia.simulate.turns import layout_conversation

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: tolerance of the target check: ratios are computed from millisecond turns in float seconds
RATIO_TOLERANCE = 1e-9
_PILOT = 20
#: conversations per shard (bounds a job's memory: its utterance lines are sorted in memory)
CHUNK = 4000
_STATS_HEADER = "#reco\tduration\tspeech\toverlap\tsilence\tnum_speakers\tnum_turns\toverlap_ratio\tsilence_ratio"


class SimulationError(RuntimeError):
    """A set could not be generated as configured, or missed its targets."""


@dataclass(frozen=True)
class Tables:
    """What a job needs besides the config: the source table and the optional noise/RIR lists."""

    sources: SourceTable
    noises: Optional[AudioList]
    rirs: Optional[AudioList]

    def speaker_pools(self) -> List[np.ndarray]:
        return self.sources.utts_of_speakers()


def reco_id(name: str, index: int) -> str:
    return f"{name}-{index:07d}"


# --------------------------------------------------------------------------- one conversation
def generate_conversation(
    cfg: SimulationConfig, tables: Tables, index: int, pools: Optional[List[np.ndarray]] = None
) -> Dict[str, Any]:
    """The spec record of conversation ``index`` (see :mod:`espnet2_tsdia.simulate.spec`).

    Raises:
        SimulationError: no layout reached the overlap range in ``cfg.max_attempts`` draws.
    """
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, index]))
    src = tables.sources
    pools = pools if pools is not None else tables.speaker_pools()
    counts, probs = cfg.speaker_probabilities
    n = int(rng.choice(counts, p=probs))
    spks = np.sort(rng.choice(len(src.speakers), size=n, replace=False))
    for _attempt in range(cfg.max_attempts):
        picks = []
        for s in spks:
            perm = rng.permutation(pools[s])
            k = int(rng.integers(cfg.min_utts, cfg.max_utts + 1))
            picks.append(perm[np.arange(k) % perm.size])
        lay = layout_conversation(
            cfg.turn_model,
            [src.length_ms[p] for p in picks],
            cfg.overlap_range,
            rng,
            max_silence_ratio=cfg.max_silence_ratio,
            overlap_target=cfg.overlap_target,
        )
        if lay is not None:
            break
    else:
        raise SimulationError(
            f"set {cfg.name!r}, conversation {index}: no layout of {n} speakers with the {type(cfg.turn_model).__name__} "
            f"reached overlap_range {list(cfg.overlap_range)} (with silence ratio <= {cfg.max_silence_ratio}) in "
            f"{cfg.max_attempts} attempts; widen the range, change the turn model or raise max_attempts"
        )
    source_idx = np.concatenate(picks)[lay.slot]
    lo, hi = cfg.gain_db
    gains = (
        np.rint(rng.uniform(lo, hi, size=source_idx.size) * 100).astype(np.int64)
        if hi > lo
        else np.full(source_idx.size, int(round(lo * 100)))
    )
    noise = None
    if cfg.noise_snrs and rng.random() < cfg.noise_probability:
        snr = int(round(float(rng.choice(cfg.noise_snrs)) * 100))
        if tables.noises is None:
            noise = [-1, 0, snr]
        else:
            j = int(rng.integers(len(tables.noises)))
            noise = [j, int(rng.integers(max(tables.noises.frames[j], 1))), snr]
    rir = None
    if tables.rirs is not None:
        draws = rng.random(n)
        idx = rng.integers(len(tables.rirs), size=n)
        rir = [int(i) if d < cfg.rir_probability else -1 for d, i in zip(draws, idx, strict=True)]
    return {
        "id": reco_id(cfg.name, index),
        "dur": lay.duration_ms,
        "seed": int(rng.integers(2**31 - 1)),
        "spk": [src.speakers[s] for s in spks],
        "u": [
            [int(a), int(b), int(c), int(d)]
            for a, b, c, d in zip(lay.speaker, source_idx, lay.onset_ms, gains, strict=True)
        ],
        "noise": noise,
        "rir": rir,
    }


def record_turns(rec: Dict[str, Any], length_ms: np.ndarray) -> List[Turn]:
    """The reference turns of a spec record (seconds, exact milliseconds)."""
    spk = rec["spk"]
    return [
        Turn(reco=rec["id"], onset=on / 1000, duration=int(length_ms[src]) / 1000, speaker=spk[s])
        for s, src, on, _ in rec["u"]
    ]


# --------------------------------------------------------------------------- jobs
def _job(args: Tuple[Dict[str, Any], str, int, int, str]) -> List[int]:
    """Generate conversations ``[start, stop)`` into shard files; returns their durations (ms)."""
    cfg_dict, work, start, stop, pipe = args
    cfg = SimulationConfig.from_dict(cfg_dict)
    work_dir = Path(work)
    if work not in _TABLE_CACHE:  # one load per process, shared by its chunks
        _TABLE_CACHE.clear()
        t = _read_tables(work_dir)
        _TABLE_CACHE[work] = (t, t.speaker_pools())
    tables, pools = _TABLE_CACHE[work]
    shard = work_dir / f"shard-{start:09d}"
    shard.mkdir(parents=True, exist_ok=True)
    length_ms = tables.sources.length_ms
    durations: List[int] = []
    utt_lines: List[str] = []
    with (
        open(shard / "specs", "w", encoding="utf-8") as f_spec,
        open(shard / "rttm", "w", encoding="utf-8") as f_rttm,
        open(shard / "reco", "w", encoding="utf-8") as f_reco,
        open(shard / "stats", "w", encoding="utf-8") as f_stats,
    ):
        lengths_out: List[float] = []
        for i in range(start, stop):
            rec = generate_conversation(cfg, tables, i, pools)
            turns = record_turns(rec, length_ms)
            dur_s = rec["dur"] / 1000
            reco = rec["id"]
            f_spec.write(encode_record(rec) + "\n")
            f_rttm.write("".join(format_turn(t) + "\n" for t in turns))
            f_reco.write(f"{reco}\t{pipe}{shlex.quote(reco)} |\t{_fmt_dur(dur_s)}\t{len(rec['spk'])}\n")
            seen = set()
            for t in turns:
                u = utt_id(t.speaker, reco, t.onset, t.end)
                k = 0
                while u in seen:
                    k += 1
                    u = f"{utt_id(t.speaker, reco, t.onset, t.end)}-{k}"
                seen.add(u)
                utt_lines.append(f"{u} {reco} {t.onset:.3f} {t.end:.3f} {t.speaker}\n")
            st = recording_stats(turns, dur_s, reco=reco)
            f_stats.write(_stats_line(st))
            lengths_out.extend(st.turn_lengths)
            durations.append(rec["dur"])
    utt_lines.sort(key=lambda s: s.encode("utf-8"))
    (shard / "utts").write_text("".join(utt_lines), encoding="utf-8")
    np.save(shard / "turn_lengths.npy", np.asarray(lengths_out, dtype=np.float64))
    return durations


def _fmt_dur(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _stats_line(st: RecordingStats) -> str:
    return (
        f"{st.reco}\t{st.duration:.3f}\t{st.speech:.3f}\t{st.overlap:.3f}\t{st.silence:.3f}\t{st.num_speakers}\t{st.num_turns}"
        f"\t{st.overlap_ratio:.6f}\t{st.silence_ratio:.6f}\n"
    )


def _read_tables(work: Path) -> Tables:
    return Tables(
        sources=read_source_table(work / "sources.tsv"),
        noises=read_audio_list(work / "noises.tsv") if (work / "noises.tsv").is_file() else None,
        rirs=read_audio_list(work / "rirs.tsv") if (work / "rirs.tsv").is_file() else None,
    )


_TABLE_CACHE: Dict[str, Tuple[Tables, List[np.ndarray]]] = {}


def _run_jobs(
    cfg: SimulationConfig, work: Path, start: int, stop: int, nj: int, pipe: str
) -> List[Tuple[int, List[int]]]:
    """Conversations ``[start, stop)`` in chunks of at most ``CHUNK`` (each chunk one shard, so a
    job's memory stays bounded), spread over ``nj`` processes; results in index order."""
    n_chunks = max(nj, math.ceil((stop - start) / CHUNK))
    n_chunks = max(1, min(n_chunks, stop - start))
    bounds = np.linspace(start, stop, n_chunks + 1).round().astype(int)
    args = [(cfg.to_dict(), str(work), int(a), int(b), pipe) for a, b in itertools.pairwise(bounds) if b > a]
    if nj == 1 or len(args) == 1:
        results = [_job(a) for a in args]
    else:
        with mp.get_context("spawn").Pool(min(nj, len(args))) as pool:
            results = pool.map(_job, args, chunksize=1)
    return [(a[2], r) for a, r in zip(args, results, strict=True)]


# --------------------------------------------------------------------------- the set
def preflight(cfg: SimulationConfig, source_dir: PathLike) -> Tables:
    """Every check that needs the source/noise/RIR files; raises before any output is written.

    Raises:
        FileNotFoundError, DataFormatError: missing dirs, missing or unreadable audio.
        ValueError: fewer source speakers than the largest configured speaker count.
        SimulationError: the first conversations cannot reach the overlap range.
    """
    sources = load_source_dir(source_dir)
    if len(sources.speakers) < cfg.max_speakers:
        raise ValueError(
            f"set {cfg.name!r}: source dir {source_dir} has {len(sources.speakers)} speakers "
            f"({', '.join(sources.speakers[:10])}), but speaker_counts allows up to {cfg.max_speakers} "
            f"speakers per conversation; use a larger source or lower speaker_counts"
        )
    tables = Tables(
        sources=sources,
        noises=load_audio_list(cfg.noise_dir) if cfg.noise_dir is not None else None,
        rirs=load_audio_list(cfg.rir_dir) if cfg.rir_dir is not None else None,
    )
    pools = tables.speaker_pools()
    n_dry = min(3, cfg.num_conversations or 3)
    for i in range(n_dry):
        generate_conversation(cfg, tables, i, pools)
    return tables


def generate_set(
    cfg: SimulationConfig,
    source_dir: PathLike,
    out_dir: PathLike,
    *,
    nj: int = 1,
    python: str = "python",
) -> SetStats:
    """Generate the set ``cfg`` from ``source_dir`` into ``out_dir`` (see the module doc).

    Args:
        cfg: the set.
        source_dir: Kaldi source dir (wav.scp + utt2spk [+ segments]).
        out_dir: the output data dir; replaced if it holds a previous simulated set, refused if
            it holds anything else.
        nj: parallel jobs (processes); the output does not depend on it.
        python: the interpreter named in wav.scp's render pipes.

    Returns:
        The set's statistics (also in ``stats.json``).

    Raises:
        see :func:`preflight`; SimulationError when a conversation or the set misses its targets.
    """
    if nj < 1:
        raise ValueError(f"nj must be >= 1, got {nj}")
    t0 = time.perf_counter()
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "specs.jsonl").is_file():
        raise FileExistsError(f"{out_dir} exists and is not a simulated set (no specs.jsonl); refusing to overwrite it")
    tables = preflight(cfg, source_dir)
    work = out_dir.with_name(out_dir.name + ".tmp")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        stats, failures = _generate(cfg, tables, source_dir, work, out_dir, nj, python, t0)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    work.rename(out_dir)
    if failures:
        raise SimulationError(
            f"set {cfg.name!r} missed its targets (see {out_dir / 'stats.json'}):\n  " + "\n  ".join(failures[:10])
        )
    logger.info(
        "%s: %d conversations, %.2f h, overlap %.3f (per conversation %.3f-%.3f) in %.1f s",
        cfg.name, stats.recordings, stats.hours, stats.overlap_ratio, stats.overlap_ratio_min, stats.overlap_ratio_max,
        time.perf_counter() - t0,
    )  # fmt: skip
    return stats


def _generate(
    cfg: SimulationConfig,
    tables: Tables,
    source_dir: PathLike,
    work: Path,
    out_dir: Path,
    nj: int,
    python: str,
    t0: float,
) -> Tuple[SetStats, List[str]]:
    tables.sources.write(work / "sources.tsv")
    if tables.noises is not None:
        tables.noises.write(work / "noises.tsv")
    if tables.rirs is not None:
        tables.rirs.write(work / "rirs.tsv")
    spec_final = out_dir / "specs.jsonl"
    pipe = f"{python} -m espnet2_tsdia.bin.render_mixture {shlex.quote(str(spec_final))} "  # + "<reco> |" per line

    # how many conversations
    if cfg.num_conversations is not None:
        results = _run_jobs(cfg, work, 0, cfg.num_conversations, nj, pipe)
        cut = cfg.num_conversations
    else:
        target_ms = cfg.total_hours * 3_600_000
        pools = tables.speaker_pools()
        pilot = [generate_conversation(cfg, tables, i, pools)["dur"] for i in range(_PILOT)]
        mean = float(np.mean(pilot))
        n = int(math.ceil(target_ms / mean * 1.03)) + 1
        results = _run_jobs(cfg, work, 0, n, nj, pipe)
        while True:
            durs = np.concatenate([np.asarray(r, dtype=np.int64) for _, r in results])
            cum = np.cumsum(durs)
            if cum[-1] >= target_ms:
                cut = int(np.searchsorted(cum, target_ms)) + 1
                break
            extra = int(math.ceil((target_ms - cum[-1]) / mean * 1.1)) + 1
            results += _run_jobs(cfg, work, n, n + extra, nj, pipe)
            n += extra
    logger.info("%s: %d conversations generated in %.1f s; merging", cfg.name, cut, time.perf_counter() - t0)
    shards = [work / f"shard-{start:09d}" for start, _ in sorted(results)]
    _merge(cfg, work, shards, cut, spec_final)
    for s in shards:
        shutil.rmtree(s)
    (work / "config.yaml").write_text(_yaml(cfg, source_dir), encoding="utf-8")
    stats, failures = _stats_and_check(cfg, work, cut)
    _write_stats_json(work / "stats.json", cfg, stats, failures)
    return stats, failures


def _keep(reco: str, cut: int) -> bool:
    return int(reco.rsplit("-", 1)[1]) < cut


def _merge(cfg: SimulationConfig, work: Path, shards: Sequence[Path], cut: int, spec_final: Path) -> None:
    head = header(
        fs=cfg.fs,
        name=cfg.name,
        sources="sources.tsv",
        noises="noises.tsv" if (work / "noises.tsv").is_file() else None,
        rirs="rirs.tsv" if (work / "rirs.tsv").is_file() else None,
    )
    with open(work / "specs.jsonl", "wb") as f_spec, open(work / "mixture.scp", "w", encoding="utf-8") as f_scp:
        line = (json.dumps(head, separators=(",", ":")) + "\n").encode("utf-8")
        f_spec.write(line)
        offset = len(line)
        for s in shards:
            with open(s / "specs", "rb") as f:
                for line in f:
                    reco = line[7 : line.index(b'"', 7)].decode("utf-8")
                    if not _keep(reco, cut):
                        break
                    f_scp.write(f"{reco} {spec_final}:{offset}\n")
                    f_spec.write(line)
                    offset += len(line)
    with (
        open(work / "wav.scp", "w", encoding="utf-8") as f_wav,
        open(work / "reco2dur", "w", encoding="utf-8") as f_dur,
        open(work / "reco2num_spk", "w", encoding="utf-8") as f_ns,
    ):
        for s in shards:
            for line in open(s / "reco", encoding="utf-8"):
                reco, cmd, dur, ns = line.rstrip("\n").split("\t")
                if not _keep(reco, cut):
                    break
                f_wav.write(f"{reco} {cmd}\n")
                f_dur.write(f"{reco} {dur}\n")
                f_ns.write(f"{reco} {ns}\n")
    for name, out in (("rttm", "rttm"), ("stats", "mixture_stats.tsv")):
        with open(work / out, "w", encoding="utf-8") as fo:
            if name == "stats":
                fo.write(_STATS_HEADER + "\n")
            for s in shards:
                for line in open(s / name, encoding="utf-8"):
                    reco = line.split(None, 2)[1] if name == "rttm" else line.split("\t", 1)[0]
                    if not _keep(reco, cut):
                        break
                    fo.write(line)
    # turn lengths of kept conversations, for the set statistics
    lengths = []
    for s in shards:
        lengths.append(np.load(s / "turn_lengths.npy"))
    np.save(work / "turn_lengths.npy", np.concatenate(lengths) if lengths else np.zeros(0))
    _merge_utts(work, shards, cut)


def _merge_utts(work: Path, shards: Sequence[Path], cut: int) -> None:
    """k-way merge of the shards' sorted ``utt reco start end spk`` lines into segments,
    utt2spk and spk2utt (streaming: memory does not grow with the set)."""
    files = [open(s / "utts", "rb") for s in shards]
    try:
        merged = heapq.merge(*files)
        with (
            open(work / "segments", "wb") as f_seg,
            open(work / "utt2spk", "wb") as f_u2s,
            open(work / "spk2utt", "wb") as f_s2u,
        ):
            cur: Optional[bytes] = None
            done_spk = set()
            for line in merged:
                utt, reco, start, end, spk = line.split()
                if not _keep(reco.decode("utf-8"), cut):
                    continue
                f_seg.write(b"%s %s %s %s\n" % (utt, reco, start, end))
                f_u2s.write(b"%s %s\n" % (utt, spk))
                if spk != cur:
                    if spk in done_spk or (cur is not None and spk < cur):
                        raise SimulationError(
                            f"speaker id {spk.decode()!r} breaks Kaldi's sort order (utt ids sorted must also sort by speaker); "
                            f"speaker ids must not contain characters below '-' (space !\"#$%&'()*+,)"
                        )
                    if cur is not None:
                        f_s2u.write(b"\n")
                        done_spk.add(cur)
                    f_s2u.write(spk)
                    cur = spk
                f_s2u.write(b" " + utt)
            if cur is not None:
                f_s2u.write(b"\n")
    finally:
        for f in files:
            f.close()


def _yaml(cfg: SimulationConfig, source_dir: PathLike) -> str:
    import yaml

    d = cfg.to_dict()
    d["source_dir"] = str(Path(source_dir).absolute())
    return yaml.safe_dump(d, sort_keys=False)


# --------------------------------------------------------------------------- statistics and checks
def read_mixture_stats(path: PathLike, turn_lengths: Optional[np.ndarray] = None) -> Iterator[RecordingStats]:
    """Stream the :class:`RecordingStats` of ``mixture_stats.tsv`` (with their turn lengths from
    the concatenated ``turn_lengths`` when given, else empty)."""
    pos = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            r, dur, sp, ov, sil, ns, nt, _, _ = line.rstrip("\n").split("\t")
            nt_i = int(nt)
            tl: Tuple[float, ...] = ()
            if turn_lengths is not None:
                tl = tuple(turn_lengths[pos : pos + nt_i].tolist())
                pos += nt_i
            yield RecordingStats(
                reco=r,
                duration=float(dur),
                speech=float(sp),
                overlap=float(ov),
                silence=float(sil),
                num_speakers=int(ns),
                num_turns=nt_i,
                turn_lengths=tl,
            )


def _recording_failures(cfg: SimulationConfig, r: RecordingStats) -> List[str]:
    lo, hi = cfg.overlap_range
    out = []
    if not lo - RATIO_TOLERANCE <= r.overlap_ratio <= hi + RATIO_TOLERANCE:
        out.append(f"{r.reco}: overlap ratio {r.overlap_ratio:.6f} outside [{lo}, {hi}]")
    if r.silence_ratio > cfg.max_silence_ratio + RATIO_TOLERANCE:
        out.append(f"{r.reco}: silence ratio {r.silence_ratio:.6f} above max_silence_ratio {cfg.max_silence_ratio}")
    if r.num_speakers not in {n for n, _ in cfg.speaker_counts}:
        out.append(f"{r.reco}: {r.num_speakers} speakers, speaker_counts allows {[n for n, _ in cfg.speaker_counts]}")
    return out


def check_targets(cfg: SimulationConfig, per_reco: Iterable[RecordingStats], stats: SetStats) -> List[str]:
    """Failures of a set against its config: a conversation's overlap ratio outside the range
    (or too much silence), a speaker count the config cannot give, or the wrong size. Empty when
    it passed."""
    failures = [f for r in per_reco for f in _recording_failures(cfg, r)]
    if cfg.num_conversations is not None and stats.recordings != cfg.num_conversations:
        failures.append(f"{stats.recordings} conversations, expected {cfg.num_conversations}")
    if cfg.total_hours is not None and stats.hours + 1e-9 < cfg.total_hours:
        failures.append(f"{stats.hours:.3f} h, expected at least {cfg.total_hours} h")
    return failures


def _stats_and_check(cfg: SimulationConfig, work: Path, cut: int) -> Tuple[SetStats, List[str]]:
    tl = np.load(work / "turn_lengths.npy")
    stats = set_stats(read_mixture_stats(work / "mixture_stats.tsv", tl))
    (work / "turn_lengths.npy").unlink()
    failures = check_targets(cfg, read_mixture_stats(work / "mixture_stats.tsv"), stats)
    return stats, failures


def _write_stats_json(path: Path, cfg: SimulationConfig, stats: SetStats, failures: List[str]) -> None:
    doc = {
        "set": cfg.name,
        "passed": not failures,
        "targets": {
            "overlap_range": list(cfg.overlap_range),
            "speaker_counts": {str(n): p for n, p in cfg.speaker_counts},
            "num_conversations": cfg.num_conversations,
            "total_hours": cfg.total_hours,
        },
        "failures": failures[:100],
        "num_failures": len(failures),
        "stats": stats.to_dict(),
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _stream_rttm_stats(rttm: Path, reco2dur: Dict[str, float]) -> Iterator[RecordingStats]:
    """Per-recording statistics from a reco-sorted RTTM, one recording in memory at a time."""
    cur: Optional[str] = None
    turns: List[Turn] = []
    seen = set()

    def flush() -> RecordingStats:
        seen.add(cur)
        if cur not in reco2dur:
            raise SimulationError(f"{rttm}: recording {cur!r} is not in reco2dur")
        return recording_stats(turns, reco2dur[cur], reco=cur)

    for n, turn in iter_rttm(rttm):
        if turn.reco != cur:
            if cur is not None:
                yield flush()
            if turn.reco in seen:
                raise SimulationError(
                    f"{rttm}:{n}: turns of {turn.reco!r} are not contiguous (the file must be sorted by recording)"
                )
            cur, turns = turn.reco, []
        turns.append(turn)
    if cur is not None:
        yield flush()
    for reco in reco2dur:
        if reco not in seen:
            yield recording_stats([], reco2dur[reco], reco=reco)


def verify_set_dir(path: PathLike, cfg: Optional[SimulationConfig] = None) -> SetStats:
    """Recompute a simulated set's statistics from its ``rttm`` and ``reco2dur`` (independently of
    the generator's own figures; streaming, so a 20k-hour set fits in memory) and check them
    against ``cfg`` (default: the set's ``config.yaml``).

    Raises:
        SimulationError: the set misses its targets (the message lists the first failures).
    """
    from espnet2_tsdia.formats.kaldi import read_reco2dur

    path = Path(path)
    if cfg is None:
        import yaml

        d = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
        d.pop("source_dir", None)
        cfg = SimulationConfig.from_dict(d, where=str(path / "config.yaml"))
    reco2dur = read_reco2dur(path / "reco2dur")
    failures: List[str] = []

    def checked() -> Iterator[RecordingStats]:
        for r in _stream_rttm_stats(path / "rttm", reco2dur):
            failures.extend(_recording_failures(cfg, r))
            yield r

    stats = set_stats(checked())
    failures += check_targets(cfg, (), stats)
    if failures:
        raise SimulationError(f"{path}: set {cfg.name!r} misses its targets:\n  " + "\n  ".join(failures[:10]))
    return stats
