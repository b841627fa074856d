"""A stand-in for tsdia_train in the tuner's tests: no model, only the trainer's file contract.

``python -m test.tune.fake_train --config trial.yaml --output_dir DIR --resume true [...]``
reads ``optim_conf.lr`` (and ``max_epoch``) of the trial config and writes DIR/metrics.json after
each "round" like TSDiaTrainer does, with valid.loss = |log10(lr) + 3| + 1 / round (best at
lr = 1e-3, falling with the rounds). A resumed run continues after the rounds already in
metrics.json. Environment: FAKE_ROUND_SECONDS (sleep per round, default 0.2), FAKE_FAIL_ABOVE_LR
(exit 3 when lr is above it), FAKE_STARTS (a file that gets one line per start).
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

import yaml

from espnet2_tsdia.train.round_metrics import read_round_metrics
from espnet2_tsdia.utils.atomic import atomic_write_json


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--resume", default="false")
    args, _ = p.parse_known_args()
    cfg = yaml.safe_load(open(args.config))
    lr = float(cfg["optim_conf"]["lr"])
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if os.environ.get("FAKE_STARTS"):
        with open(os.environ["FAKE_STARTS"], "a") as f:
            f.write(f"{out.name}\n")
    if os.environ.get("FAKE_FAIL_ABOVE_LR") and lr > float(os.environ["FAKE_FAIL_ABOVE_LR"]):
        print("fake failure: lr too high", file=sys.stderr)
        return 3
    rounds = (read_round_metrics(out) or {}).get("rounds", []) if args.resume == "true" else []
    for r in range(len(rounds) + 1, int(cfg.get("max_epoch", 3)) + 1):
        time.sleep(float(os.environ.get("FAKE_ROUND_SECONDS", "0.2")))
        rounds.append({"round": r, "train": {"loss": 1.0}, "valid": {"loss": abs(math.log10(lr) + 3) + 1.0 / r}})
        atomic_write_json({"rounds": rounds, "step": r, "data_epoch": r}, out / "metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
