#!/usr/bin/env python3
"""Benchmark: inference on a one-hour, 4-speaker recording on CPU, linear in one pass vs softmax in windows.

Usage:
    tools/venv/bin/python bench/inference.py                       # 1 h, writes bench/RESULTS.md
    tools/venv/bin/python bench/inference.py --minutes 3 --no_write  # quick look

What is measured, once per configuration (the issue asks for one run; the machine is shared, so
the figures carry some noise), each in a forked child so that its peak memory is its own:

- the whole :class:`~espnet2_tsdia.inference.speech2tsdia.Speech2TSDiarization` call: features
  of the hour (TSDiaFbankFrontend, 345 dims, 10 frames/s), every target's pass(es), stitching,
  post-processing to turns;
- real-time factor = wall time / audio duration (all 4 targets together), and peak RSS growth.

Models: the same size for both, the encoder type (one stack over [enrollment ; mixture]),
d_model 256, 4 layers, 4 heads, FFN 4x, untrained (speed does not depend on the weights).
``linear`` (FAVOR+, default nb_features) runs the hour in one pass per target; ``softmax``
(torch SDPA) runs windows of ``--window`` frames overlapping by a quarter. For context, two more
rows: the linear model with all 4 targets in one batch, and softmax over the whole hour in one
pass (what the windows avoid; ``--skip_softmax_one_pass`` leaves it out). Enrollment: 5 s oracle
regions (rows of the recording's features). The recording is speech-shaped noise with 4
speakers taking turns (the cost does not depend on the content).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import machine_line, peak_rss_of, write_section  # noqa: E402

FS = 8000
SPEAKERS = 4


def make_recording(seconds: float, seed: int = 0):
    """Speech-shaped noise: 4 speakers in turns of 1-8 s (some overlap), and their turns."""
    from espnet2_tsdia.formats.rttm import Turn

    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = np.zeros(n, np.float32)
    turns = []
    t = 0.0
    while t < seconds - 1.0:
        spk = int(rng.integers(SPEAKERS))
        dur = float(min(rng.uniform(1.0, 8.0), seconds - t))
        a, b = int(t * FS), int((t + dur) * FS)
        burst = rng.standard_normal(b - a).astype(np.float32)
        burst = np.convolve(burst, np.ones(8, np.float32) / 8, mode="same") * (0.05 + 0.02 * spk)
        x[a:b] += burst
        turns.append(Turn("bench", round(t, 3), round(dur, 3), f"spk{spk}"))
        t += dur + float(rng.uniform(-0.5, 1.0))
        t = max(t, turns[-1].onset + 0.5)
    return x, turns


def build(attention: str, *, batch_size: int, window: Optional[int]):
    import torch

    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend
    from espnet2_tsdia.inference.speech2tsdia import EvalKnobs, Speech2TSDiarization
    from espnet2_tsdia.losses.tsdia_loss import build_loss
    from espnet2_tsdia.model import TSDiarizationModel
    from espnet2_tsdia.networks.registry import build_network

    torch.manual_seed(0)
    stack = dict(d_model=256, num_layers=4, num_heads=4, attention_type=attention, dropout=0.0)
    network = build_network("encoder", input_size=345, num_classes=4, encoder_conf=stack)
    model = TSDiarizationModel(frontend=TSDiaFbankFrontend(), normalize=None, network=network, loss=build_loss())
    knobs = EvalKnobs(batch_size=batch_size, sliding_window=window)
    return Speech2TSDiarization(model=model, knobs=knobs)


def measure(attention: str, *, batch_size: int, window: Optional[int], speech: np.ndarray, turns) -> dict:
    """Build, enroll and run one configuration in a forked child (torch must not have run an op
    in the parent before the fork: its thread pool does not survive it); returns timings and the
    child's peak RSS growth over the parent (modules imported, recording made)."""

    def run():
        from espnet2_tsdia.inference.enrollment_sources import OracleOptions, oracle_enrollments

        s2d = build(attention, batch_size=batch_size, window=window)
        frames = s2d.num_frames(len(speech))
        regions, missing = oracle_enrollments(turns, frames, OracleOptions(max_duration=5.0), grid=s2d.grid)
        if missing or len(regions) != SPEAKERS:
            raise RuntimeError(f"enrollment failed: {regions} {missing}")
        t0 = time.perf_counter()
        result = s2d(speech, reco="bench", enroll_regions=regions)
        wall = time.perf_counter() - t0
        return {"wall": wall, "turns": len(result.turns), "frames": frames, "passes": len(s2d.plan(frames))}

    out, peak = peak_rss_of(run)
    out["peak"] = peak
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--minutes", type=float, default=60.0, help="recording length")
    parser.add_argument("--window", type=int, default=500, help="softmax window in frames (overlap: a quarter)")
    parser.add_argument("--linear_batch", type=int, default=1, help="targets per pass of the linear model")
    parser.add_argument(
        "--softmax_batch", type=int, default=16, help="(target, window) items per pass of the softmax model"
    )
    parser.add_argument(
        "--skip_softmax_one_pass", action="store_true", help="leave out softmax over the whole recording"
    )
    parser.add_argument("--no_write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)

    # Imports (no torch op yet) and the recording belong to the parent: not counted in the peaks.
    import importlib

    for module in (
        "torch",
        "espnet2_tsdia.inference.speech2tsdia",
        "espnet2_tsdia.model",
        "espnet2_tsdia.networks.registry",
    ):
        importlib.import_module(module)

    seconds = args.minutes * 60
    speech, turns = make_recording(seconds)
    configs = [
        ("linear", "one pass", args.linear_batch, None),
        ("softmax", f"windows of {args.window} frames, overlap {args.window // 4}", args.softmax_batch, args.window),
    ]
    if args.linear_batch != SPEAKERS:
        configs.append(("linear", "one pass, all targets in one batch", SPEAKERS, None))
    if not args.skip_softmax_one_pass:
        configs.append(("softmax", "one pass (no windows)", 1, None))
    rows = []
    for attention, how, batch, window in configs:
        print(f"{attention}: {how}, batch {batch} ...", flush=True)
        r = measure(attention, batch_size=batch, window=window, speech=speech, turns=turns)
        rows.append((attention, how, r["passes"], batch, r))
        print(
            f"  {r['wall']:.1f} s, RTF {r['wall'] / seconds:.4f}, peak +{r['peak'] / 2**30:.2f} GiB, "
            f"{r['frames']} frames, {r['passes']} pass(es) per target",
            flush=True,
        )

    lin, soft = rows[0][4], rows[1][4]
    lines = [
        "## Inference: one hour, 4 target speakers, CPU (`bench/inference.py`)",
        "",
        machine_line(),
        "",
        f"Recording: {seconds / 60:g} min at 8 kHz ({rows[0][4]['frames']} frames), 4 speakers, 5 s oracle enrollment "
        "each. Model: encoder type, d_model 256, 4 layers, 4 heads, FFN 4x (same size for both), untrained. "
        "Whole `Speech2TSDiarization` call: features, every target's passes, stitching, post-processing. "
        "One run each (shared machine: expect some noise); peak = peak RSS growth of a forked child over the parent "
        "(modules imported, audio in memory): features, model, activations, posteriors.",
        "",
        "| attention | how | passes per target | batch | wall (s) | RTF | peak memory (GiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for attention, how, passes, batch, r in rows:
        lines.append(
            f"| {attention} | {how} | {passes} | {batch} | {r['wall']:.1f} | {r['wall'] / seconds:.4f} | {r['peak'] / 2**30:.2f} |"
        )
    lines += [
        "",
        f"Wall time softmax-in-windows / linear-in-one-pass (batch {rows[0][3]}): {soft['wall'] / lin['wall']:.2f}; "
        f"peak memory softmax / linear: {soft['peak'] / max(lin['peak'], 1):.2f}. Windows keep softmax's cost linear in "
        "the recording length, at the price of a context limited to the window; the linear model sees the whole "
        "recording in every pass.",
    ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", f"Load average at the end of the run (1/5/15 min): {load} on {os.cpu_count()} cores."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        print(f"wrote {write_section('inference', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
