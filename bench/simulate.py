#!/usr/bin/env python3
"""Benchmark: simulated-conversation specs at 20k-hour scale, and on-the-fly rendering vs sox.

Usage:
    tools/venv/bin/python bench/simulate.py                      # 20,000 h, nj 2, writes bench/RESULTS.md
    tools/venv/bin/python bench/simulate.py --hours 200 --no_write   # quick look

In one run:

1. a LibriSpeech-like source corpus (29 readers x 20 utterances of 4-20 s, 16 kHz FLAC, like
   mini_librispeech's train-clean-5 in readers and utterance lengths; the audio is speech-shaped
   noise, since the cost of reading and resampling does not depend on the content);
2. spec generation of the recipe's ``train`` set (``conf/simu/mini_librispeech.yaml``: histogram
   turn model, 1-5 speakers, overlap 0-30 % per conversation, white noise) at ``--hours`` with
   ``--nj`` processes: wall time, CPU time, peak memory, and bytes per simulated hour of the specs
   (``specs.jsonl`` + ``sources.tsv``) and of the whole set dir (Kaldi files, RTTM, statistics);
3. rendering ``--render`` of those mixtures on the fly (``MixtureReader``: spec lookup, region
   reads, polyphase resampling to 8 kHz, sum, noise) and materialising the same mixtures with sox
   (one ``sox -m`` per mixture, one ``sox trim rate pad`` pipe per utterance): hours of audio per
   CPU-second for both (noise left out of both, sox cannot add it at a mixture-level SNR);
4. the renderer against what training consumes: docs/design.md (reference measurements) gives ESPnet's stock diar
   model training at about 3.7k frames/s on 2 cores; at 10 frames/s that is 370 s of audio per
   second, the consumption rate used here.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import machine_line, write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
YAML = REPO / "egs2" / "mini_librispeech" / "diar1" / "conf" / "simu" / "mini_librispeech.yaml"
CONSUMPTION = 370.0  # s of audio per s: 3.7k frames/s at 10 frames/s (docs/design.md, reference measurements)


def make_sources(root: Path, *, readers: int = 29, utts: int = 20, fs: int = 16000, seed: int = 0) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    audio, src = root / "audio", root / "src"
    audio.mkdir(parents=True, exist_ok=True)
    src.mkdir(parents=True, exist_ok=True)
    wav, u2s = [], []
    for r in range(readers):
        reader = str(1000 + r)
        for j in range(utts):
            utt = f"{reader}-1-{j:04d}"
            n = int(rng.uniform(4, 20) * fs)
            t = np.arange(n) / fs
            x = 0.1 * rng.standard_normal(n) * (0.3 + 0.7 * np.sin(2 * np.pi * 3.0 * t) ** 2)
            p = audio / f"{utt}.flac"
            sf.write(p, x, fs, format="FLAC", subtype="PCM_16")
            wav.append(f"{utt} {p}\n")
            u2s.append(f"{utt} {reader}\n")
    (src / "wav.scp").write_text("".join(wav))
    (src / "utt2spk").write_text("".join(u2s))
    return src


def dir_bytes(path: Path, names=None) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file() and (names is None or p.name in names))


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sox_materialise(spec, out: Path, fs: int) -> None:
    """One ``sox -m`` per mixture; every utterance through its own ``sox trim rate pad`` pipe."""
    cmd = ["sox", "-m"]
    for p in spec.placements:
        a = p.audio
        n = p.length_ms * a.fs // 1000
        vol = 10 ** (p.gain_db / 20)
        cmd += [
            "-v",
            f"{vol:.6f}",
            f"|sox {a.path} -t wav - trim {a.start}s {n}s rate {fs} pad {p.onset_ms / 1000:.3f}",
        ]
    if len(spec.placements) == 1:  # sox -m needs two inputs
        cmd += ["-n"]
    cmd += ["-b", "16", "-r", str(fs), str(out), "trim", "0", f"{spec.duration_ms / 1000:.3f}"]
    subprocess.run(cmd, check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=20000.0)
    ap.add_argument("--nj", type=int, default=2)
    ap.add_argument("--render", type=int, default=12, help="mixtures rendered / materialised")
    ap.add_argument("--workdir", default=None, help="default: a temporary folder (removed)")
    ap.add_argument("--no_write", action="store_true")
    args = ap.parse_args()

    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from espnet2_tsdia.simulate.config import load_set_configs
    from espnet2_tsdia.simulate.generate import generate_set
    from espnet2_tsdia.simulate.render import MixtureReader, render_mixture

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    try:
        t0 = time.perf_counter()
        src = make_sources(work / "corpus")
        print(f"sources: {time.perf_counter() - t0:.1f} s")
        cfg = next(c for c in load_set_configs(YAML) if c.name == "train").with_overrides(total_hours=args.hours)

        # ---------------------------------------------------------------- spec generation
        out = work / "train"
        c0, k0, t0 = time.process_time(), cpu_children(), time.perf_counter()
        stats = generate_set(cfg, src, out, nj=args.nj)
        gen_wall = time.perf_counter() - t0
        gen_cpu = time.process_time() - c0 + cpu_children() - k0
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        spec_bytes = dir_bytes(out, {"specs.jsonl", "sources.tsv", "noises.tsv", "rirs.tsv"})
        all_bytes = dir_bytes(out)
        index_bytes = dir_bytes(out, {"mixture.scp"})
        hours = stats.hours
        print(f"generated {stats.recordings} conversations, {hours:.1f} h in {gen_wall:.1f} s")

        # ---------------------------------------------------------------- rendering vs sox
        reader = MixtureReader(str(out / "mixture.scp"))
        recos = [r for i, r in enumerate(reader) if i < args.render]
        specs = [replace(reader.spec(r), noise=None) for r in recos]
        audio_s = sum(s.duration_ms for s in specs) / 1000
        n_utts = sum(len(s.placements) for s in specs)
        render_mixture(specs[0], fs=cfg.fs)  # warm-up (imports, page cache)
        c0, t0 = time.process_time(), time.perf_counter()
        for r, s in zip(recos, specs, strict=True):
            reader.spec(r)  # the lookup the data type does
            render_mixture(s, fs=cfg.fs)
        render_cpu, render_wall = time.process_time() - c0, time.perf_counter() - t0
        # the same through the full reader (noise included) for the record
        c0 = time.process_time()
        for r in recos:
            reader[r]
        reader_cpu = time.process_time() - c0
        sox_dir = work / "sox"
        sox_dir.mkdir()
        k0, c0, t0 = cpu_children(), time.process_time(), time.perf_counter()
        for r, s in zip(recos, specs, strict=True):
            sox_materialise(s, sox_dir / f"{r}.wav", cfg.fs)
        sox_cpu = cpu_children() - k0 + time.process_time() - c0
        sox_wall = time.perf_counter() - t0
        render_rate = audio_s / render_cpu
        sox_rate = audio_s / sox_cpu
        share = CONSUMPTION / render_rate  # CPU-seconds of rendering per second of training
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    body = f"""## Simulation: specs at scale, on-the-fly rendering vs sox (`bench/simulate.py`)

{machine_line()}; shared machine (other jobs ran at the same time: CPU times are the robust figures).
Source: LibriSpeech-like stand-in for train-clean-5 (29 readers x 20 utterances of 4-20 s, 16 kHz FLAC,
speech-shaped noise). Set: the recipe's `train` (histogram turn model, 1-5 speakers, overlap 0-30 % per
conversation, white noise 5-20 dB), `total_hours={args.hours:g}`, nj={args.nj}.

| spec generation | value |
|---|---|
| conversations / simulated hours | {stats.recordings:,} / {hours:,.1f} h |
| wall time (generate, merge, check; nj={args.nj}) | {gen_wall:.1f} s ({gen_wall / 60:.1f} min) |
| CPU time (all processes) | {gen_cpu:.1f} s ({gen_cpu / hours * 1000:.1f} ms per simulated hour) |
| peak RSS (main / largest job) | {peak_self:.0f} MiB / {peak_child:.0f} MiB |
| specs (specs.jsonl + sources.tsv) | {spec_bytes / 1e6:.1f} MB = **{spec_bytes / hours / 1e3:.1f} kB per simulated hour** |
| mixture.scp index | {index_bytes / 1e6:.1f} MB ({index_bytes / hours / 1e3:.1f} kB/h) |
| whole set dir (Kaldi files, RTTM, stats) | {all_bytes / 1e6:.1f} MB ({all_bytes / hours / 1e3:.1f} kB/h) |
| the same audio as 8 kHz 16-bit wav | {hours * 3600 * 16000 / 1e9:,.1f} GB (57,600 kB/h) |
| set statistics | overlap {stats.overlap_ratio:.3f} (per conversation {stats.overlap_ratio_min:.3f}-{stats.overlap_ratio_max:.3f}), silence {stats.silence_ratio:.3f}, {stats.num_turns:,} turns |

| rendering {len(recos)} mixtures ({audio_s / 3600:.2f} h, {n_utts} utterances, no noise) | CPU s | wall s | audio per CPU-second |
|---|---|---|---|
| on the fly (`render_mixture`: region reads + polyphase 16->8 kHz + sum) | {render_cpu:.2f} | {render_wall:.2f} | **{render_rate:,.0f} s** ({render_rate / 3600:.3f} h) |
| materialised with sox (`sox -m`, one `trim rate pad` pipe per utterance) | {sox_cpu:.2f} | {sox_wall:.2f} | {sox_rate:,.0f} s ({sox_rate / 3600:.3f} h) |
| `MixtureReader[reco]` with noise (spec lookup + render) | {reader_cpu:.2f} | - | {audio_s / reader_cpu:,.0f} s |

Against training: docs/design.md (reference measurements) gives ESPnet's stock diar model at about 3.7k frames/s on 2 cores;
at 10 frames/s that is **{CONSUMPTION:.0f} s of audio per second**, the consumption rate used here. Rendering
that much costs {share:.2f} CPU-seconds per second ({share / 2 * 100:.0f} % of the 2 cores), so the renderer is
{"not the bottleneck" if share < 1 else "a bottleneck: cache rendered sources or add DataLoader workers"}; it is
{render_rate / sox_rate:.1f}x sox's throughput. A target-speaker set renders a recording once per target speaker
(one example per (recording, speaker)) unless the data type caches it: with 3 speakers on average that is
{3 * share:.2f} CPU-seconds per second.
"""
    print(body)
    if not args.no_write:
        write_section("simulate", body)


if __name__ == "__main__":
    main()
