#!/usr/bin/env python3
"""Hyper-parameter tuning driven by the training config's ``tuning`` section.

Usage:
    # a study on this machine (Optuna, SQLite in the output dir); after "--": the tsdia_train
    # options every trial shares (data, shape files, normalisation)
    python -m espnet2_tsdia.bin.tune --config conf/tune_demo_tiny.yaml --output_dir exp/tune_demo \\
        -- --train_data_path_and_name_and_type dump/train/tsdia/chunks,speech,tsdia_feats ...
    # the same study again: finished trials are kept, an interrupted one resumes
    python -m espnet2_tsdia.bin.tune --config conf/tune_demo_tiny.yaml --output_dir exp/tune_demo -- ...
    # one study shared by several machines (run this on each of them)
    python -m espnet2_tsdia.bin.tune --config conf/train.yaml --output_dir exp/tune \\
        --storage postgresql://user@dbhost/optuna --study_name tsdia_lr -- ...
    # four trials at once on a 4-GPU node, or each trial as a Slurm job
    python -m espnet2_tsdia.bin.tune ... --gpus 0,1,2,3 -- ...
    python -m espnet2_tsdia.bin.tune ... --cmd "utils/run_slurm.sh --config conf/slurm.conf --gpu 1" -- ...
    # Ray Tune (a local Ray instance, or --ray_address auto for a running cluster)
    python -m espnet2_tsdia.bin.tune ... --library raytune -- ...
    # check the search space (and the configs at its corners) without training; tables and
    # plots of a study as it stands
    python -m espnet2_tsdia.bin.tune --config conf/train.yaml --output_dir exp/tune --check_only
    python -m espnet2_tsdia.bin.tune --config conf/train.yaml --output_dir exp/tune --report_only

Every trial is an ordinary training run in ``<output_dir>/trials/trial_<n>`` (trial.yaml,
train.sh to resume it, train.log, metrics.json, snapshots). The outputs (results.md,
trials.json, best.yaml, plots/) are described in :mod:`espnet2_tsdia.tune.report`; the section's
keys in :mod:`espnet2_tsdia.config.tuning_section`. Command-line values override the section's.

Exit status: 0 when the study has a complete trial, 1 when none completed, 2 for a bad config or
search space (every problem is printed, naming its key, before any trial starts).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import yaml

from espnet2_tsdia.utils import cli

logger = logging.getLogger("espnet2_tsdia.bin.tune")

#: tsdia_train options the tuner sets for every trial itself.
OWN_OPTIONS = ("--config", "--output_dir", "--resume")


def get_parser() -> argparse.ArgumentParser:
    p = cli.get_parser(__doc__, prog="tune")
    p.add_argument("--config", required=True, help="training yaml (either layout) with a tuning section")
    p.add_argument("--output_dir", required=True, help="study dir: trials/, results.md, best.yaml, plots/")
    p.add_argument("--library", choices=("optuna", "raytune"), default=None, help="override tuning.library")
    p.add_argument("--n_trials", type=int, default=None, help="override tuning.n_trials")
    p.add_argument("--n_jobs", type=int, default=None, help="override tuning.n_jobs (trials at once here)")
    p.add_argument("--storage", default=None, help="override tuning.storage (SQLAlchemy URL; Optuna)")
    p.add_argument("--study_name", default=None, help="override tuning.study_name")
    p.add_argument("--ray_address", default=None, help="override tuning.ray_address (Ray Tune)")
    p.add_argument("--gpus", default="", help="comma-separated GPU ids: one trial at a time on each (Optuna)")
    p.add_argument(
        "--cmd", default="", help="job backend prefix for each trial: CMD LOG COMMAND (e.g. utils/run_slurm.sh --gpu 1)"
    )
    p.add_argument("--python", default=sys.executable, help="the Python of the trials")
    p.add_argument(
        "--train_module", default="espnet2_tsdia.bin.tsdia_train", help="the training tool the trials run (python -m)"
    )
    p.add_argument("--poll_seconds", type=float, default=1.0, help="how often a running trial's metrics are read")
    p.add_argument("--no_check", action="store_true", help="skip config check of the search space's corner configs")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check_only", action="store_true", help="validate and stop (no trial)")
    g.add_argument("--report_only", action="store_true", help="write the outputs of the study as it stands (no trial)")
    cli.add_log_level(p)
    return p


def split_argv(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(tuner options, tsdia_train options after ``--``)."""
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def conflicts(train_args: Sequence[str], space, config: Mapping[str, Any]) -> List[str]:
    """Training options that would override what the tuner sets (a searched option or its own)."""
    issues = []
    given = {a.split("=", 1)[0] for a in train_args if a.startswith("--")}
    for opt in OWN_OPTIONS:
        if opt in given:
            issues.append(f"training options: {opt} is set by the tuner for every trial; leave it out")
    for option, name in space.espnet_options(config).items():
        if f"--{option}" in given:
            issues.append(
                f"training options: --{option} would override tuning.search_space.{name} in every trial; leave it out"
            )
    return issues


def corner_issues(config: Mapping[str, Any], space) -> List[str]:
    """``config check`` of the configs at the search space's two corners: the problems the
    searched values add to those of the base config."""
    from espnet2_tsdia.config.check import check_config
    from espnet2_tsdia.config.tuning import format_point

    base = set(check_config(dict(config)).issues)
    issues = [f"the training config: {i}" for i in sorted(base)]
    for point in space.corner_points():
        for issue in check_config(space.apply(config, point)).issues:
            if issue not in base:
                issues.append(f"tuning.search_space at {format_point(point, space.names)}: {issue}")
    return issues


def main(argv: Optional[Sequence[str]] = None) -> int:
    own, train_args = split_argv(sys.argv[1:] if argv is None else argv)
    parser = get_parser()
    args = parser.parse_args(own)
    cli.setup_logging(args.log_level)
    from espnet2_tsdia.config.checklist import ConfigError
    from espnet2_tsdia.config.tuning import TuningSettings, comparability_warnings

    try:
        with open(args.config, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        return cli.fail(parser.prog, f"--config {args.config}: {e}")
    if not isinstance(config, dict):
        return cli.fail(parser.prog, f"--config {args.config}: expected a yaml mapping")
    try:
        settings = TuningSettings.from_config(
            config, library=args.library, n_trials=args.n_trials, n_jobs=args.n_jobs, storage=args.storage,
            study_name=args.study_name, ray_address=args.ray_address,
        )  # fmt: skip
        issues = conflicts(train_args, settings.space, config)
        if not (args.no_check or args.report_only):
            issues += corner_issues(config, settings.space)
        if issues:
            raise ConfigError(issues)
    except ConfigError as e:
        issues = "; ".join(f"{args.config}: {issue}" for issue in e.issues)
        return cli.fail(parser.prog, f"{issues} ({len(e.issues)} problem(s); no trial was started)")
    gpus = [g for g in args.gpus.split(",") if g]
    if gpus and settings.library != "optuna":
        parser.error("--gpus is for the Optuna backend; Ray Tune assigns GPUs with tuning.resources_per_trial")
    logger.info("search space: %s", "; ".join(f"{p.name} {p.describe()}" for p in settings.space.params))
    for warning in comparability_warnings(settings):
        logger.warning(warning)
    if args.check_only:
        print(
            f"OK: {args.config}: {len(settings.space.params)} searched keys, {settings.n_trials} trials with {settings.library}"
        )
        return 0

    from espnet2_tsdia.tune.trial import TrialRunner, end_all_trials

    out = Path(args.output_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    runner = TrialRunner(
        base_config=config, space=settings.space, phase_key=settings.phase_key, minimize=settings.minimize,
        train_args=train_args, cmd=shlex.split(args.cmd), python=args.python, train_module=args.train_module,
        poll_seconds=args.poll_seconds,
    )  # fmt: skip

    def stop(signum, _frame):
        # The running trials stay RUNNING in the study: the next run requeues and resumes them.
        logger.warning("signal %d: ending the running trials; run the same command again to resume", signum)
        end_all_trials()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if settings.library == "optuna":
        from espnet2_tsdia.tune import optuna_backend

        if args.report_only:
            study, _, storage, name = optuna_backend.open_study(settings, out)
            records = optuna_backend.records_of(study, settings.space)
        else:
            records, storage, name = optuna_backend.run_study(settings, runner, out, gpus=gpus)
    else:
        from espnet2_tsdia.tune import ray_backend

        records, storage, name = ray_backend.run_study(settings, runner, out, fit=not args.report_only)
    from espnet2_tsdia.tune.records import best_record
    from espnet2_tsdia.tune.report import write_outputs

    written = write_outputs(out, records, settings=settings, base_config=config, study=name, storage=storage)
    for what, path in written.items():
        logger.info("%s: %s", what, path)
    best = best_record(records, settings.minimize)
    if best is None:
        logger.error("no trial completed; see %s", written["results"])
        return 1
    logger.info(
        "best trial %d: %s = %.6g (%s); train with %s",
        best.number,
        settings.metric,
        best.value,
        best.exp_dir,
        written["best"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
