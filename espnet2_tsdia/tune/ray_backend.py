"""The Ray Tune backend: the same search space and trial runner on a Ray cluster.

``ray_address`` null starts a Ray instance on this machine (what tests use; Ray 2.60 no longer
has ``local_mode``); ``auto`` or ``host:port`` joins a running cluster (``ray start --head`` on
one node, ``ray start --address ...`` on the others). Every trial runs in a Ray worker with
``resources_per_trial`` (Ray sets ``CUDA_VISIBLE_DEVICES`` for GPU trials) and starts the same
training subprocess as the Optuna backend, reporting the objective after each validation round.

Sampling is Ray's random search (``BasicVariantGenerator`` seeded with ``seed``); pruning maps to
Ray's schedulers: ``median`` -> MedianStoppingRule, ``successive_halving`` -> ASHA, ``hyperband``
-> HyperBand, ``none`` -> FIFO. The experiment is kept in ``<output_dir>/ray/<study_name>``; a
second run restores it (finished trials kept, unfinished ones resumed from their checkpoints).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List

from espnet2_tsdia.config.tuning import Param, SearchSpace
from espnet2_tsdia.tune.records import RUNNING, TrialRecord
from espnet2_tsdia.tune.trial import FAILED, PRUNED, TrialRunner, best_round, read_outcome

logger = logging.getLogger(__name__)

#: Name of the reported per-round objective and of the round counter in Ray's results.
OBJECTIVE, ROUND = "objective", "round"
#: Ray schedulers want a horizon; rounds past it are never cut by the scheduler.
MAX_ROUNDS = 10_000


def ray_param(p: Param):
    from ray import tune

    if p.kind == "choice":
        return tune.choice(list(p.choices))
    if p.kind == "int":
        if p.log:
            return tune.lograndint(p.low, p.high + 1)
        return tune.qrandint(p.low, p.high, p.step or 1)
    if p.log:
        return tune.loguniform(p.low, p.high)
    if p.step is not None:
        return tune.quniform(p.low, p.high, p.step)
    return tune.uniform(p.low, p.high)


def param_space(space: SearchSpace) -> Dict[str, Any]:
    return {p.name: ray_param(p) for p in space.params}


def build_scheduler(name: str, conf: Dict[str, Any]):
    from ray.tune import schedulers

    if name == "median":
        return schedulers.MedianStoppingRule(
            time_attr=ROUND,
            grace_period=conf.get("n_warmup_steps", 0) + 1,
            min_samples_required=conf.get("n_startup_trials", 5),
        )
    if name == "successive_halving":
        return schedulers.ASHAScheduler(
            time_attr=ROUND, max_t=MAX_ROUNDS, grace_period=max(1, int(conf.get("min_resource", 1))),
            reduction_factor=conf.get("reduction_factor", 4),
        )  # fmt: skip
    if name == "hyperband":
        return schedulers.HyperBandScheduler(
            time_attr=ROUND, max_t=int(conf.get("max_resource", 81)), reduction_factor=conf.get("reduction_factor", 3)
        )
    return schedulers.FIFOScheduler()


def run_study(settings, runner: TrialRunner, output_dir: Path, *, fit: bool = True) -> tuple:
    """Run (or restore and finish) the Ray Tune experiment; (records, storage, name). With
    ``fit`` false, only the results of the experiment as it stands."""
    import ray
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    output_dir = Path(output_dir).absolute()
    name = settings.study_name or output_dir.name
    storage = output_dir / "ray"
    storage.mkdir(parents=True, exist_ok=True)
    trials_dir = output_dir / "trials"
    names = settings.space.names

    def trainable(config):
        from ray import tune as rtune

        trial_id = rtune.get_context().get_trial_id()
        point = {n: config[n] for n in names}

        def on_round(r: int, value: float) -> bool:
            rtune.report({OBJECTIVE: value, ROUND: r})
            return True  # Ray's scheduler ends a trial itself (the training dies with it)

        outcome = runner.run(trials_dir / f"trial_{trial_id}", point, on_round)
        if outcome.state == FAILED:
            raise RuntimeError(outcome.message)

    resources = {k: v for k, v in settings.resources_per_trial.items() if v}
    trainable_r = tune.with_resources(trainable, resources or {"cpu": 1})
    if not ray.is_initialized():
        ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=False)
    path = storage / name
    mode = "min" if settings.minimize else "max"
    if not fit:
        if not tune.Tuner.can_restore(str(path)):
            raise FileNotFoundError(f"no Ray Tune experiment at {path}")
        results = tune.Tuner.restore(str(path), trainable=trainable_r).get_results()
        return records_of(results, names, trials_dir, minimize=settings.minimize), str(path), name
    if tune.Tuner.can_restore(str(path)):
        logger.info("restoring the Ray Tune experiment %s", path)
        tuner = tune.Tuner.restore(str(path), trainable=trainable_r, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable_r,
            param_space=param_space(settings.space),
            tune_config=tune.TuneConfig(
                metric=OBJECTIVE,
                mode=mode,
                num_samples=settings.n_trials,
                max_concurrent_trials=settings.n_jobs,
                scheduler=build_scheduler(settings.pruner, settings.pruner_conf),
                search_alg=BasicVariantGenerator(random_state=settings.seed),
            ),
            run_config=tune.RunConfig(storage_path=str(storage), name=name, verbose=0),
        )
    results = tuner.fit()
    records = records_of(results, names, trials_dir, minimize=settings.minimize)
    return records, str(path), name


def records_of(results, names: List[str], trials_dir: Path, *, minimize: bool) -> List[TrialRecord]:
    """Ray's results as report records: a trial whose runner wrote no outcome was ended by the
    scheduler (pruned); an errored one failed."""
    out = []
    for number, result in enumerate(sorted(results, key=lambda r: r.path)):
        trial_id = result.metrics.get("trial_id") if result.metrics else None
        if trial_id is None:  # no result reported: the id from the trial's dir name (trainable_<id>_<n>_...)
            trial_id = "_".join(Path(result.path).name.split("_")[1:3]) if result.path else str(number)
        exp_dir = trials_dir / f"trial_{trial_id}"
        outcome = read_outcome(exp_dir)
        rounds = {}
        df = result.metrics_dataframe
        if df is not None and ROUND in df and OBJECTIVE in df:
            rounds = {int(r): float(v) for r, v in zip(df[ROUND], df[OBJECTIVE], strict=True)}
        if result.error is not None:
            state, message = FAILED, str(result.error).strip().splitlines()[-1]
        elif outcome is None:
            state, message = (PRUNED, "ended by the Ray Tune scheduler") if rounds else (RUNNING, "")
        else:
            state, message = outcome.state, outcome.message
        best = best_round(rounds, minimize)
        value = rounds[best] if best is not None else None
        out.append(
            TrialRecord(
                number=number, state=state, params={n: result.config[n] for n in names}, value=value,
                best_round=best, rounds=rounds, exp_dir=str(exp_dir), message=message,
            )
        )  # fmt: skip
    return out
