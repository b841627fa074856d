#!/usr/bin/env python3
"""Training throughput: batch size and DataLoader settings, with ESPnet's stock diarization
transformer of the same size on the same data as the peer.

Usage:
    tools/venv/bin/python bench/train_throughput.py             # the sweep; writes bench/RESULTS.md
    tools/venv/bin/python bench/train_throughput.py --quick     # two settings, prints only

Data: simulated 2-3 speaker conversations of the offline speech corpus, as TS-DIA example dirs
with stored 345-dim features (tsdia.sh's path), chunks of 500 frames (50 s). Every setting
trains through the real code path (TSDiarizationTask's iterator with the setting's
num_workers / pin_memory / prefetch_factor / persistent_workers, then forward, backward and an
Adam step) for 2 data epochs of ``--steps / 2`` batches each, after a warm-up step, in a forked
process of its own (a fresh interpreter: forking after torch has run threads can hang), whose
peak RSS growth over its state after the imports is reported (DataLoader workers are separate
processes, not counted).
frames/s counts mixture frames (B x T); our model also encodes the enrollment (up to 50
frames here) in the same pass, the peer has no enrollment.

Ours: TS-DIA ``encoder`` model type, 4 blocks, d_model 256, 4 heads, FFN 1024, softmax
attention. Peer: ESPnet's ``DiarizationTask`` transformer (docs/design.md, reference measurements: ``--frontend
none --input_size 345``, ``--encoder_conf input_layer=linear num_blocks=4``, label aggregator
with window and hop 1), 2 speakers (target / others from our powerset labels).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._results import machine_line, write_section  # noqa: E402

logger = logging.getLogger(__name__)

SPEAKERS = ["en_allison", "fr_armelle", "it_carlo", "flite_slt", "ru_ivrvoice", "flite_awb"]
CHUNK = 500


def build_data(root: Path, n_conv: int) -> Path:
    from espnet2_tsdia.corpora.offline_speech import available_sources, prepare_offline_speech
    from espnet2_tsdia.examples.example_dir import ExampleDirOptions, make_example_dir
    from espnet2_tsdia.examples.features import extract_example_dir
    from espnet2_tsdia.simulate.config import SimulationConfig
    from espnet2_tsdia.simulate.generate import generate_set

    speakers = [s for s in SPEAKERS if s in available_sources()]
    if len(speakers) < 3:
        raise SystemExit(f"needs >= 3 offline speech sources, found {speakers} (tools/install.sh)")
    report = prepare_offline_speech(root / "db", sources=speakers, max_seconds_per_speaker=90)
    cfg = SimulationConfig(
        name="bench",
        num_conversations=n_conv,
        speaker_counts=((2, 0.5), (3, 0.5)),
        min_utts=6,
        max_utts=10,
        overlap_range=(0.0, 0.4),
        seed=7,
    )
    data_dir = root / "bench"
    generate_set(cfg, report.data_dir, data_dir, python=sys.executable)
    ex = data_dir / "tsdia"
    from espnet2_tsdia.examples.enrollment import EnrollOptions  # noqa: F401  (defaults)

    make_example_dir(
        data_dir,
        ex,
        ExampleDirOptions(chunk_frames=CHUNK, chunk_hop=CHUNK // 2, min_target_frames=1),
        mixture_scp=data_dir / "mixture.scp",
    )
    extract_example_dir(ex)
    return ex


def task_args(
    ex: Path, *, batch_size: int, num_workers: int, pin_memory: bool, prefetch_factor: Optional[int], persistent: bool
):
    import yaml

    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    cfg = {
        "frontend": None,
        "input_size": 345,
        "model_type": "encoder",
        "label_scheme": "powerset",
        "encoder_conf": {
            "d_model": 256,
            "num_layers": 4,
            "num_heads": 4,
            "d_ff": 4.0,
            "dropout": 0.1,
            "attention_type": "softmax",
        },
        "batch_type": "unsorted",
        "batch_size": batch_size,
        "num_workers": num_workers,
        "pin_memory": pin_memory,
        "prefetch_factor": prefetch_factor,
        "persistent_workers": persistent,
        "seed": 0,
        "optim": "adam",
    }
    tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    with tmp:
        yaml.safe_dump(cfg, tmp)
    data = []
    for kind, typ in (("speech", "tsdia_feats"), ("enroll", "tsdia_enroll_feats"), ("labels", "tsdia_labels")):
        data += ["--train_data_path_and_name_and_type", f"{ex}/chunks,{kind},{typ}"]
        data += ["--valid_data_path_and_name_and_type", f"{ex}/chunks,{kind},{typ}"]
    data += ["--train_shape_file", f"{ex}/chunks.shape", "--valid_shape_file", f"{ex}/chunks.shape"]
    return TSDiarizationTask.get_parser().parse_args(["--config", tmp.name, "--output_dir", tmp.name + ".exp", *data])


def peer_model():
    from espnet2.tasks.diar import DiarizationTask

    args = DiarizationTask.get_parser().parse_args(
        [
            "--output_dir",
            "unused",
            "--frontend",
            "none",
            "--input_size",
            "345",
            "--num_spk",
            "2",
            "--encoder",
            "transformer",
            "--encoder_conf",
            "input_layer=linear",
            "--encoder_conf",
            "num_blocks=4",
            "--encoder_conf",
            "output_size=256",
            "--encoder_conf",
            "attention_heads=4",
            "--encoder_conf",
            "linear_units=1024",
            "--label_aggregator_conf",
            "win_length=1",
            "--label_aggregator_conf",
            "hop_length=1",
        ]
    )
    return DiarizationTask.build_model(args)


def run_setting(ex: Path, setting: Dict, steps: int) -> Dict:
    """Train ``steps`` batches (2 epochs of steps // 2) after a warm-up batch; frames/s."""
    import torch
    from espnet2.train.distributed_utils import DistributedOption

    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    torch.set_num_threads(2)
    torch.manual_seed(0)
    args = task_args(
        ex,
        batch_size=setting["batch_size"],
        num_workers=setting["num_workers"],
        pin_memory=setting["pin_memory"],
        prefetch_factor=setting.get("prefetch_factor"),
        persistent=setting.get("persistent_workers", False),
    )
    factory = TSDiarizationTask.build_iter_factory(
        args=args, distributed_option=DistributedOption(distributed=False), mode="train"
    )
    if setting["model"] == "espnet_peer":
        model = peer_model()
    else:
        model = TSDiarizationTask.build_model(args)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step(batch):
        if setting["model"] == "espnet_peer":
            y = batch["labels"].clamp_min(0)
            spk = torch.stack([(y == 1) | (y == 3), (y == 2) | (y == 3)], dim=-1).float()
            loss, _, _ = model(
                speech=batch["speech"],
                speech_lengths=batch["speech_lengths"],
                spk_labels=spk,
                spk_labels_lengths=batch["labels_lengths"],
            )
        else:
            loss, _, _ = model(**batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return int(batch["speech_lengths"].sum())

    per_epoch = steps // 2
    if factory.num_batches(1) < per_epoch + 1:
        raise SystemExit(f"only {factory.num_batches(1)} batches of {setting['batch_size']}: make more data")
    for _, batch in factory.build_iter(0):
        step(batch)  # warm-up (allocator, kernels)
        break
    frames, t0 = 0, time.perf_counter()
    for epoch in (1, 2):
        for i, (_, batch) in enumerate(factory.build_iter(epoch)):
            if i == per_epoch:
                break
            frames += step(batch)
    elapsed = time.perf_counter() - t0
    return {"frames": frames, "seconds": elapsed, "fps": frames / elapsed}


SWEEP = [
    # (model, batch_size, num_workers, pin_memory, prefetch_factor, persistent_workers); ours and
    # the peer alternate so that both see the same load on a shared machine.
    ("ours", 4, 0, False, None, False),
    ("espnet_peer", 4, 0, False, None, False),
    ("ours", 8, 0, False, None, False),
    ("espnet_peer", 8, 0, False, None, False),
    ("ours", 16, 0, False, None, False),
    ("espnet_peer", 16, 0, False, None, False),
    ("ours", 8, 1, False, None, False),
    ("ours", 8, 2, True, None, False),
    ("ours", 8, 2, True, 4, True),
]
QUICK = [("ours", 4, 0, False, None, False), ("espnet_peer", 4, 0, False, None, False)]


def measure_in_subprocess(ex: Path, setting: Dict, steps: int) -> Dict:
    import json
    import subprocess

    cmd = [sys.executable, __file__, "--one", json.dumps(setting), "--example_dir", str(ex), "--steps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if out.returncode != 0:
        raise SystemExit(f"setting {setting} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def one(setting_json: str, ex: Path, steps: int) -> int:
    import json
    import resource

    from bench._results import _current_rss

    setting = json.loads(setting_json)
    import torch  # noqa: F401  (imports count in the baseline, not in the peak growth)

    import espnet2_tsdia.tasks.tsdia  # noqa: F401

    if setting["model"] == "espnet_peer":
        import espnet2.tasks.diar  # noqa: F401
    base = _current_rss()
    res = run_setting(ex, setting, steps)
    res["peak_rss_growth"] = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base)
    print(json.dumps(res))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--example_dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="two settings, no RESULTS.md")
    p.add_argument("--steps", type=int, default=6, help="measured batches per setting (2 epochs)")
    p.add_argument("--conversations", type=int, default=40)
    p.add_argument("--repeats", type=int, default=2, help="runs per setting; the fastest is kept (best of N)")
    p.add_argument("--work_dir", default=None, help="keep the data here (default: a temp dir)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.one:
        return one(args.one, Path(args.example_dir), args.steps)
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="tsdia_bench_"))
    ex = work / "bench" / "tsdia"
    if not (ex / "feats.scp").exists():
        ex = build_data(work, args.conversations)
    rows = []
    load_before = os.getloadavg()
    for model, bs, nw, pin, pf, pers in QUICK if args.quick else SWEEP:
        setting = dict(
            model=model, batch_size=bs, num_workers=nw, pin_memory=pin, prefetch_factor=pf, persistent_workers=pers
        )
        runs = [measure_in_subprocess(ex, setting, args.steps) for _ in range(args.repeats)]
        res = max(runs, key=lambda r: r["fps"])
        peak = max(r["peak_rss_growth"] for r in runs)
        rows.append((setting, res, peak))
        print(
            f"{model:12s} bs={bs:<3d} workers={nw} pin={pin!s:5s} prefetch={pf!s:4s} persistent={pers!s:5s} "
            f"{res['fps']:8.0f} frames/s  peak RSS {peak / 2**20:7.0f} MiB",
            flush=True,
        )
    load_after = os.getloadavg()
    ours = [r for r in rows if r[0]["model"] == "ours"]
    best = max(ours, key=lambda r: r[1]["fps"])
    lines = [
        "## Training throughput (bench/train_throughput.py)",
        "",
        machine_line(),
        "",
        f"Data: {args.conversations} simulated 2-3 speaker conversations (offline speech corpus), stored 345-dim features, "
        f"chunks of {CHUNK} frames; {args.steps} measured batches per setting over 2 data epochs after 1 warm-up batch. "
        "Ours: TS-DIA encoder, 4 blocks, d_model 256, 4 heads, FFN 1024, softmax (it also encodes the enrollment). "
        "Peer: ESPnet DiarizationTask transformer of the same size (frontend none, input_size 345, linear input layer, "
        "label aggregator window/hop 1), same batches. Peak RSS: growth of the training process over its state after the "
        "imports (DataLoader workers not counted). "
        f"Best of {args.repeats} runs per setting; the machine is shared (1-min load average {load_before[0]:.1f} at the "
        f"start, {load_after[0]:.1f} at the end on 2 cores), so differences under ~20 % are noise.",
        "",
        "| model | batch | num_workers | pin_memory | prefetch_factor | persistent_workers | frames/s | peak RSS growth (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s, r, peak in rows:
        lines.append(
            f"| {'TS-DIA (ours)' if s['model'] == 'ours' else 'ESPnet diar transformer (peer)'} | {s['batch_size']} | {s['num_workers']} | "
            f"{s['pin_memory']} | {s['prefetch_factor'] if s['prefetch_factor'] else 'default'} | {s['persistent_workers']} | "
            f"{r['fps']:.0f} | {peak / 2**20:.0f} |"
        )
    bs = best[0]
    peer_same = [r for r in rows if r[0]["model"] == "espnet_peer" and r[0]["batch_size"] == bs["batch_size"]]
    lines += [
        "",
        f"Best setting for ours: batch {bs['batch_size']}, num_workers {bs['num_workers']}, pin_memory {bs['pin_memory']}, "
        f"prefetch_factor {bs['prefetch_factor'] or 'default'}, persistent_workers {bs['persistent_workers']}: "
        f"{best[1]['fps']:.0f} frames/s"
        + (
            f" (peer at the same batch size: {peer_same[0][1]['fps']:.0f} frames/s, ratio {best[1]['fps'] / peer_same[0][1]['fps']:.2f})."
            if peer_same
            else "."
        ),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section("train_throughput", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
