#!/usr/bin/env python3
"""Plot the learning rate a training config gives at every optimizer step (PNG).

Usage:
    python -m espnet2_tsdia.bin.plot_lr conf/train_encoder_decoder_softmax.yaml -o lr.png
    python -m espnet2_tsdia.bin.plot_lr plan.yaml --steps 20000 --csv lr.tsv -o lr.png

The curve comes from the real optimizer and scheduler classes the trainer builds (the same
registry), stepped as the trainer steps them: once per optimizer step, and for ``plateau``
also once per validation (every ``valid_interval_steps``, default 1000 steps) with a flat
metric, so its reductions show. ``--steps`` defaults to max_steps, else 2 x the decay length,
else 10000. Accepts either layout (the plan's nested one is converted first). Imports only
torch, yaml and matplotlib (no ESPnet task).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

import yaml

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="plot_lr")
    parser.add_argument("config", help="training config (ESPnet or plan layout)")
    parser.add_argument("-o", "--output", default="lr.png", help="PNG to write")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps to plot")
    parser.add_argument("--valid_interval", type=int, default=None, help="validation interval for plateau (steps)")
    parser.add_argument("--csv", default=None, help="also write 'step<TAB>lr' lines here")
    cli.add_log_level(parser)
    return parser


def default_steps(cfg: dict) -> int:
    if cfg.get("max_steps"):
        return int(cfg["max_steps"])
    conf = cfg.get("scheduler_conf") or {}
    decay = conf.get("decay_steps")
    if decay:
        return 2 * int(decay) + int(conf.get("warmup_steps") or 0)
    return 10000


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    from espnet2_tsdia.config.layout import is_plan_layout, plan_to_espnet

    try:
        with open(args.config, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        return cli.fail(parser.prog, f"{args.config}: {e}")
    if not isinstance(cfg, dict):
        return cli.fail(parser.prog, f"{args.config}: expected a yaml mapping")
    if is_plan_layout(cfg):
        cfg = plan_to_espnet(cfg, strict=False)[0]
    from espnet2_tsdia.train.schedulers import lr_curve

    steps = args.steps or default_steps(cfg)
    if steps < 1:
        parser.error(f"--steps must be >= 1, got {steps}")
    interval = args.valid_interval or cfg.get("valid_interval_steps") or 1000
    xs, ys = lr_curve(
        cfg.get("optim", "adadelta"),
        dict(cfg.get("optim_conf") or {}),
        cfg.get("scheduler"),
        dict(cfg.get("scheduler_conf") or {}),
        num_steps=steps,
        valid_interval=interval,
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(xs, ys)
    sched = cfg.get("scheduler")
    kind = (cfg.get("scheduler_conf") or {}).get("type", sched) if sched else "none"
    ax.set_title(f"{args.config}: optim {cfg.get('optim', 'adadelta')}, schedule {kind}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    plt.close(fig)
    if args.csv:
        with open(args.csv, "w", encoding="utf-8") as f:
            f.writelines(f"{x}\t{y:.10g}\n" for x, y in zip(xs, ys, strict=True))
    logger.info("wrote %s (%d steps, lr %.3g .. %.3g)", args.output, steps, min(ys), max(ys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
