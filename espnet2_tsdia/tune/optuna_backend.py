"""The Optuna backend: a study in an RDB storage, trials run by :class:`~.trial.TrialRunner`.

Storage. By default ``sqlite:///<output_dir>/study.db`` (embedded, one machine); any
SQLAlchemy URL (``postgresql://user@host/db``, ``mysql+pymysql://...``) makes one study shared
by every machine that runs ``bin.tune`` with the same URL and study name: each worker runs trials
until the study holds ``n_trials`` finished ones.

Resuming. Finished trials stay in the storage, so a study that was stopped (killed, node lost)
continues where it was when ``bin.tune`` runs again. A trial that was running when its worker
died is failed and queued again with the same parameters and the same experiment dir, so its
training resumes from its checkpoint: at start for trials of this host whose worker process is
gone, and through Optuna's heartbeat (``heartbeat_interval``; stale after twice that) for trials
of other machines. Such retried trials do not count towards ``n_trials``; trials whose training
failed do (a region of the space that always fails cannot loop forever).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from espnet2_tsdia.config.tuning import Param, SearchSpace, format_point
from espnet2_tsdia.tune.records import RUNNING, TrialRecord
from espnet2_tsdia.tune.trial import COMPLETE, FAILED, PRUNED, TrialRunner, best_round

logger = logging.getLogger(__name__)

WORKER_ATTR = "worker"
EXP_DIR_ATTR = "exp_dir"
RETRY_ATTR = "retry_of"


class TrialFailed(Exception):
    """A trial's training failed (its message says why); the study goes on."""


def default_storage(output_dir: Path) -> str:
    return f"sqlite:///{Path(output_dir).absolute() / 'study.db'}"


def distributions(space: SearchSpace) -> Dict[str, Any]:
    """Optuna distributions of the search space (also used to rebuild studies for reports)."""
    import optuna

    return {p.name: _distribution(p, optuna) for p in space.params}


def _distribution(p: Param, optuna):
    if p.kind == "choice":
        return optuna.distributions.CategoricalDistribution(list(p.choices))
    if p.kind == "int":
        return optuna.distributions.IntDistribution(p.low, p.high, log=p.log, step=p.step or 1)
    return optuna.distributions.FloatDistribution(float(p.low), float(p.high), log=p.log, step=p.step)


def suggest(trial, space: SearchSpace) -> Dict[str, Any]:
    """The trial's point: one value per parameter (enqueued values are taken as they are)."""
    point = {}
    for p in space.params:
        if p.kind == "choice":
            point[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            point[p.name] = trial.suggest_int(p.name, p.low, p.high, step=p.step or 1, log=p.log)
        else:
            point[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high), step=p.step, log=p.log)
    return point


def build_pruner(name: str, conf: Dict[str, Any]):
    import optuna

    pruners = {
        "median": optuna.pruners.MedianPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "none": optuna.pruners.NopPruner,
    }
    return pruners[name](**conf)


def build_sampler(name: str, seed: Optional[int]):
    import optuna

    return {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}[name](seed=seed)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def retry_trial(study, trial) -> None:
    """Queue a failed-while-running trial again: same parameters, same experiment dir."""
    attrs = {RETRY_ATTR: trial.number}
    if trial.user_attrs.get(EXP_DIR_ATTR):
        attrs[EXP_DIR_ATTR] = trial.user_attrs[EXP_DIR_ATTR]
    study.enqueue_trial(dict(trial.params), user_attrs=attrs)
    logger.warning(
        "trial %d was interrupted (worker %s gone): queued again, resuming %s",
        trial.number,
        trial.user_attrs.get(WORKER_ATTR, "?"),
        attrs.get(EXP_DIR_ATTR, "a new dir"),
    )


def recover_local_stale_trials(study, storage) -> List[int]:
    """Fail and requeue the RUNNING trials whose worker was a process of this host that is gone."""
    import optuna

    host = socket.gethostname()
    recovered = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = t.user_attrs.get(WORKER_ATTR, "")
        whost, _, pid = worker.rpartition(":")
        if whost != host or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        retry_trial(study, t)
        recovered.append(t.number)
    return recovered


def _retried(trials) -> set:
    """Numbers of the trials that were queued again (their retry stands for them)."""
    return {t.user_attrs[RETRY_ATTR] for t in trials if RETRY_ATTR in t.user_attrs}


def finished_count(study) -> int:
    """Trials that count towards n_trials: complete, pruned, and failed ones not retried."""
    import optuna

    S = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    return sum(t.state in (S.COMPLETE, S.PRUNED) or (t.state == S.FAIL and t.number not in retried) for t in trials)


def open_study(settings, output_dir: Path):
    """Create or load the study (load_if_exists: a second run resumes it)."""
    import optuna

    url = settings.storage or default_storage(output_dir)
    name = settings.study_name or Path(output_dir).absolute().name
    kwargs = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        rdb = optuna.storages.RDBStorage(
            url,
            heartbeat_interval=settings.heartbeat_interval,
            grace_period=2 * settings.heartbeat_interval if settings.heartbeat_interval else None,
            heartbeat_stale_trial_callback=retry_trial if settings.heartbeat_interval else None,
            **kwargs,
        )
    direction = "minimize" if settings.minimize else "maximize"
    try:
        existing = optuna.load_study(study_name=name, storage=rdb)
    except KeyError:
        existing = None
    if existing is not None and existing.direction.name.lower() != direction:
        raise ValueError(
            f"study {name!r} in {url} was created to {existing.direction.name.lower()}, the config asks to {direction}"
        )
    n_before = len(existing.trials) if existing is not None else 0
    # A resumed study gets a fresh, still reproducible sampler stream (seed + trials so far):
    # the same seed again would propose the first points again.
    seed = None if settings.seed is None else settings.seed + n_before
    study = optuna.create_study(
        study_name=name,
        storage=rdb,
        load_if_exists=True,
        direction=direction,
        sampler=build_sampler(settings.sampler, seed),
        pruner=build_pruner(settings.pruner, settings.pruner_conf),
    )
    return study, rdb, url, name


def run_study(
    settings,
    runner: TrialRunner,
    output_dir: Path,
    *,
    gpus: Sequence[str] = (),
) -> tuple:
    """Run trials until the study holds ``n_trials`` finished ones; (records, storage, name)."""
    import optuna

    output_dir = Path(output_dir).absolute()
    study, rdb, url, name = open_study(settings, output_dir)
    recovered = recover_local_stale_trials(study, rdb)
    if recovered:
        logger.info("requeued interrupted trials %s", recovered)
    n_jobs = len(gpus) if gpus else settings.n_jobs
    slots: "queue.Queue[Optional[str]]" = queue.Queue()
    for i in range(n_jobs):
        slots.put(gpus[i] if gpus else None)

    def objective(trial):
        point = suggest(trial, settings.space)
        exp_dir = Path(trial.user_attrs.get(EXP_DIR_ATTR) or output_dir / "trials" / f"trial_{trial.number:03d}")
        trial.set_user_attr(EXP_DIR_ATTR, str(exp_dir))
        trial.set_user_attr(WORKER_ATTR, worker_id())
        logger.info("trial %d: %s -> %s", trial.number, format_point(point, settings.space.names), exp_dir)
        gpu = slots.get()
        try:
            env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {}

            def on_round(r: int, value: float) -> bool:
                trial.report(value, r)
                return not trial.should_prune()

            outcome = runner.run(exp_dir, point, on_round, env=env)
        finally:
            slots.put(gpu)
        trial.set_user_attr("best_round", outcome.best_round)
        trial.set_user_attr("message", outcome.message)
        logger.info("trial %d: %s %s %s", trial.number, outcome.state, outcome.value, outcome.message)
        if outcome.state == PRUNED:
            raise optuna.TrialPruned(outcome.message)
        if outcome.state == FAILED:
            raise TrialFailed(outcome.message)
        return outcome.value

    def enough(study, _trial):
        if finished_count(study) >= settings.n_trials:
            study.stop()

    remaining = settings.n_trials - finished_count(study)
    if remaining > 0:
        logger.info("study %s (%s): %d of %d trials to run", name, url, remaining, settings.n_trials)
        study.optimize(objective, n_trials=remaining, n_jobs=n_jobs, catch=(TrialFailed,), callbacks=[enough])
    else:
        logger.info("study %s (%s) already has %d finished trials", name, url, settings.n_trials)
    return records_of(study, settings.space), url, name


def records_of(study, space: SearchSpace) -> List[TrialRecord]:
    """The study's trials as report records (retried trials left out: their retry stands)."""
    import optuna

    S = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    states = {S.COMPLETE: COMPLETE, S.PRUNED: PRUNED, S.FAIL: FAILED, S.RUNNING: RUNNING}
    out = []
    for t in trials:
        if t.number in retried or t.state not in states:
            continue
        rounds = {int(k): float(v) for k, v in t.intermediate_values.items()}
        value = t.value
        best = t.user_attrs.get("best_round")
        if value is None and rounds:  # pruned or failed: the best value it reached
            best = best_round(rounds, study.direction == optuna.study.StudyDirection.MINIMIZE)
            value = rounds[best]
        exp_dir = t.user_attrs.get(EXP_DIR_ATTR, "")
        message = t.user_attrs.get("message", "")
        out.append(
            TrialRecord(
                number=t.number, state=states[t.state], params=dict(t.params), value=value,
                best_round=best, rounds=rounds, exp_dir=exp_dir, message=message,
            )
        )  # fmt: skip
    return out
