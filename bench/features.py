#!/usr/bin/env python3
"""Benchmark: the standard 345-dim features of one hour of 8 kHz audio, next to peers.

Usage:
    tools/venv/bin/python bench/features.py            # 1 hour, 2 threads, writes bench/RESULTS.md
    tools/venv/bin/python bench/features.py --hours 0.1 --no_write   # quick look

Measures, in one run and on the same signal, wall time (median of ``--repeats`` after one
warm-up) and peak memory (growth of the peak RSS of a fresh process over its RSS after the
warm-up, i.e. above the signal, the extractor and the libraries) of:

- ``TSDiaFbankFrontend`` (log-mel 23 + mean normalisation + splice +-7 + subsample 10: the
  whole standard feature, (36000, 345) for an hour);
- torchaudio's Kaldi-compatible fbank (23 bins, 25/10 ms, no dither): log-mel only;
- torchaudio's MelSpectrogram and librosa's mel spectrogram with the same sizes (n_fft 256,
  window 200, hop 80, 23 bands): power mel only.

It also makes an example dir for a 1-hour recording with 4 speakers and measures what loading
every example's labels and a fixed enrollment costs, against the size of the per-sample label
array ESPnet's stock ``rttm`` type would build (samples x speakers float64).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import machine_line, median_time, peak_rss_of, write_section  # noqa: E402

FS = 8000


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise with a syllable-rate envelope (the features' cost does not depend on content)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n, dtype=np.float32) / FS
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t) ** 2
    return (0.1 * rng.standard_normal(n).astype(np.float32) * env).astype(np.float32)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _build(name: str, seconds: float):
    """The step function of extractor ``name`` on its own copy of the signal (built in the child)."""
    x = torch.from_numpy(speechlike(seconds))
    x1 = x[None]
    if name == "ours":
        from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

        ours = TSDiaFbankFrontend()

        def step():
            with torch.no_grad():
                return tuple(ours(x1)[0].shape)

    elif name == "kaldi":
        import torchaudio.compliance.kaldi as kaldi

        def step():
            with torch.no_grad():
                return tuple(
                    kaldi.fbank(
                        x1, num_mel_bins=23, sample_frequency=FS, frame_length=25.0, frame_shift=10.0, dither=0.0
                    ).shape
                )

    elif name == "melspec":
        import torchaudio

        mel = torchaudio.transforms.MelSpectrogram(sample_rate=FS, n_fft=256, win_length=200, hop_length=80, n_mels=23)

        def step():
            with torch.no_grad():
                return tuple(mel(x1).shape)

    else:
        import librosa

        xn = x.numpy()

        def step():
            return librosa.feature.melspectrogram(
                y=xn, sr=FS, n_fft=256, hop_length=80, win_length=200, window="hann", n_mels=23, power=2.0
            ).shape

    return step


EXTRACTORS = [
    ("ours", "TSDiaFbankFrontend (standard 345-dim: log-mel, mean norm, splice, subsample)"),
    ("kaldi", "torchaudio compliance.kaldi.fbank (23 bins, log-mel only)"),
    ("melspec", "torchaudio MelSpectrogram (23 bands, power only)"),
    ("librosa", "librosa feature.melspectrogram (23 bands, power only)"),
]


def _measure_child(name: str, seconds: float, threads: int, repeats: int, q) -> None:
    import resource

    torch.set_num_threads(threads)
    step = _build(name, seconds)
    shape = step()  # warm-up (and lazy allocations)
    base = _rss()  # the signal, the extractor and the libraries are in; one output was freed
    t = median_time(step, repeats=repeats, warmup=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    q.put((shape, t, max(0, peak - base)))


def measure(name: str, seconds: float, threads: int, repeats: int):
    """(output shape, median seconds, peak bytes above the loaded signal and extractor) of
    extractor ``name``, in a fresh spawned process: libgomp is not fork-safe, and a forked
    child of a process that imported torch ran these several times slower here."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_measure_child, args=(name, seconds, threads, repeats, q))
    p.start()
    out = q.get()
    p.join()
    return out


def label_memory(hours: float, workdir: Path):
    """Make an example dir for one recording of ``hours`` with 4 speakers; measure loading."""
    import soundfile as sf

    from espnet2_tsdia.examples.datatypes import EnrollLoader, LabelsLoader
    from espnet2_tsdia.examples.example_dir import make_example_dir

    seconds = hours * 3600
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    sf.write(workdir / "long.wav", speechlike(seconds, seed=1), FS, subtype="PCM_16")
    (data / "wav.scp").write_text(f"long {workdir / 'long.wav'}\n")
    rng = np.random.default_rng(0)
    lines, t = [], 0.0
    while t < seconds - 10:
        dur = float(rng.uniform(1.0, 8.0))
        spk = f"S{rng.integers(4)}"
        lines.append(f"SPEAKER long 1 {t:.3f} {dur:.3f} <NA> <NA> {spk} <NA> <NA>\n")
        t += dur * float(rng.uniform(0.6, 1.3))
    (data / "rttm").write_text("".join(lines))
    make_example_dir(data, data / "tsdia")
    lst = str(data / "tsdia" / "examples")
    n_samples = int(seconds * FS)

    def load_labels_and_enrollment():
        labels = LabelsLoader(lst)
        enroll = EnrollLoader(lst, fixed=True)
        total = 0
        for key in labels:
            total += labels[key].nbytes + enroll[key].nbytes
        return total, len(labels)

    def load_waveform():
        from espnet2_tsdia.audio.reader import WavScpReader

        return WavScpReader(data / "wav.scp")["long"].nbytes

    import kaldiio  # noqa: F401  (imported here so the child's figure holds no import)

    (nbytes, n_ex), peak = peak_rss_of(load_labels_and_enrollment)
    wav_bytes, wav_peak = peak_rss_of(load_waveform)
    stock = n_samples * 4 * 8  # np.zeros((samples, speakers)) float64, as espnet2.fileio.rttm builds
    return dict(
        examples=n_ex, frames=int(seconds * 10), arrays=nbytes, peak=peak, wav=wav_bytes, wav_peak=wav_peak, stock=stock
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per process")
    parser.add_argument(
        "--rounds", type=int, default=2, help="processes per extractor, interleaved (the machine is shared)"
    )
    parser.add_argument("--no_write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    seconds = args.hours * 3600
    load_at_start = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    runs: dict = {key: [] for key, _ in EXTRACTORS}
    for r in range(args.rounds):  # interleaved, so that load from other users hits all alike
        for key, name in EXTRACTORS:
            shape, t, peak = measure(key, seconds, args.threads, args.repeats)
            runs[key].append((shape, t, peak))
            print(
                f"round {r}: {name}: {t:.3f} s, {seconds / t:.0f}x real time, peak +{peak / 2**20:.0f} MiB, output {shape}",
                flush=True,
            )
    rows = []
    for key, name in EXTRACTORS:
        got = runs[key]
        rows.append((name, got[0][0], statistics.median(t for _, t, _ in got), max(p for _, _, p in got)))

    with tempfile.TemporaryDirectory() as tmp:
        mem = label_memory(args.hours, Path(tmp))
    print(mem, flush=True)

    ours_t = rows[0][2]
    kaldi_t = rows[1][2]
    lines = [
        "## Features (`bench/features.py`)",
        "",
        machine_line(),
        "",
        f"{args.hours:g} h of 8 kHz audio ({int(seconds * FS):,} samples) in one call, {args.threads} threads; "
        f"time = median over {args.rounds} interleaved processes of the median of {args.repeats} calls after a warm-up "
        f"(load average at the start: {load_at_start}); peak = growth of the peak RSS of a fresh process over its RSS after the warm-up (signal, extractor, libraries loaded).",
        "",
        "| extractor | output | time (s) | x real time | peak memory (MiB) |",
        "|---|---|---|---|---|",
    ]
    for name, shape, t, peak in rows:
        lines.append(f"| {name} | {tuple(shape)} | {t:.3f} | {seconds / t:,.0f} | {peak / 2**20:.0f} |")
    lines += [
        "",
        f"Ours vs the Kaldi-compatible fbank alone: {kaldi_t / ours_t:.2f}x as fast "
        f"(targets: >= 1000x real time on 2 cores: {'met' if seconds / ours_t >= 1000 else 'NOT met'}; "
        f"no slower than the fbank: {'met' if ours_t <= kaldi_t else 'NOT met'}).",
        "",
        f"### Loading labels and enrollment of a {args.hours:g} h recording",
        "",
        f"{mem['examples']} examples (4 speakers), {mem['frames']:,} frames each; every example's stored labels plus one "
        "fixed enrollment waveform, loaded through the `tsdia_labels` / `tsdia_enroll_fixed` loaders in a fresh child:",
        "",
        "| what | bytes of the arrays | peak RSS growth |",
        "|---|---|---|",
        f"| labels (int64 per frame after loading) + enrollment, all {mem['examples']} examples | "
        f"{mem['arrays'] / 2**20:.2f} MiB | {mem['peak'] / 2**20:.1f} MiB |",
        f"| for contrast: the whole waveform (float32 per sample) | {mem['wav'] / 2**20:.0f} MiB | {mem['wav_peak'] / 2**20:.0f} MiB |",
        f"| ESPnet stock `rttm` type: samples x speakers float64 (computed, not run) | {mem['stock'] / 2**20:,.0f} MiB | - |",
    ]
    body = "\n".join(lines)
    if not args.no_write:
        print(f"wrote {write_section('features', body)}")
    else:
        print(body)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
