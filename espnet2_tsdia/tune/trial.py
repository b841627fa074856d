"""One trial: an ordinary training run in its own experiment dir, followed from outside.

A trial writes ``<exp_dir>/trial.yaml`` (the base training config with the trial's point
applied) and ``<exp_dir>/train.sh`` (the exact training command: run it again to resume an
interrupted trial), then runs ``python -m espnet2_tsdia.bin.tsdia_train --config trial.yaml
--output_dir <exp_dir> --resume true <training options>``, directly or through a job backend
of the recipes (``utils/run_slurm.sh ...``: ``CMD LOG COMMAND``). The trainer writes
``metrics.json`` at every validation round (:data:`espnet2_tsdia.train.trainer.METRICS_FILE`);
the runner reads it while training runs, hands each round's value of the objective metric to
``on_round`` and, when that asks to prune, ends the training's process group. The experiment
dir stays an ordinary one: inspect it, resume it with ``train.sh``, pack it with ``pack_model``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import logging
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from espnet2_tsdia.train.round_metrics import METRICS_FILE, metric_series, read_round_metrics
from espnet2_tsdia.utils.atomic import atomic_write_json, atomic_write_text

logger = logging.getLogger(__name__)

TRIAL_CONFIG = "trial.yaml"
TRIAL_SCRIPT = "train.sh"
TRIAL_LOG = "train.log"
OUTCOME_FILE = "outcome.json"

COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"

#: Live trial processes of this tuner (process group ids), ended on SIGTERM/SIGINT.
_LIVE: Dict[int, subprocess.Popen] = {}
_LIVE_LOCK = threading.Lock()

try:  # prctl(PR_SET_PDEATHSIG): a trial dies with the thread that started it (tuner killed)
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover - not glibc Linux
    _LIBC = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)


@dataclass
class TrialOutcome:
    """What a trial ended with.

    Args:
        state: complete, pruned or failed.
        value: the best value of the objective over the rounds (None when there is none).
        best_round: the round that gave it.
        rounds: the objective's value per validation round, as reported.
        message: why it was pruned or failed.
    """

    state: str
    value: Optional[float] = None
    best_round: Optional[int] = None
    rounds: Dict[int, float] = field(default_factory=dict)
    message: str = ""


class TrialRunner:
    """Runs trials of one study (thread-safe: one instance serves parallel trials).

    Args:
        base_config: the training config (either layout) the points are applied to.
        space: the search space (applies a point to the config).
        phase_key: the objective metric as the reporter names it, e.g. ("valid", "loss").
        minimize: direction of the objective.
        train_args: options given to every trial's tsdia_train (data, shape files, ...).
        cmd: a job backend prefix (``utils/run_slurm.sh --gpu 1``); empty: run directly.
        python: the Python of the trials.
        train_module: the training tool (``python -m`` module) the trials run.
        poll_seconds: how often a running trial's metrics are read.
        kill_grace: seconds between SIGTERM and SIGKILL when a trial is ended.
        cwd: where the trainings run (relative data paths are read from there); default: the
            working dir of the tuner when the runner is made (Ray Tune moves its workers into
            trial dirs of its own).
    """

    def __init__(
        self,
        *,
        base_config: Mapping,
        space,
        phase_key: Tuple[str, str],
        minimize: bool,
        train_args: Sequence[str] = (),
        cmd: Sequence[str] = (),
        python: str = sys.executable,
        train_module: str = "espnet2_tsdia.bin.tsdia_train",
        poll_seconds: float = 1.0,
        kill_grace: float = 10.0,
        cwd: Optional[str] = None,
    ):
        self.base_config = dict(base_config)
        self.space = space
        self.phase, self.key = phase_key
        self.minimize = minimize
        self.train_args = list(train_args)
        self.cmd = list(cmd)
        self.python = python
        self.train_module = train_module
        self.poll_seconds = poll_seconds
        self.kill_grace = kill_grace
        self.cwd = cwd or os.getcwd()

    # ------------------------------------------------------------------ files
    def command(self, exp_dir: Path) -> List[str]:
        """The training command of a trial (without the job backend prefix)."""
        return [
            self.python, "-m", self.train_module, *self.train_args,
            "--config", str(exp_dir / TRIAL_CONFIG), "--output_dir", str(exp_dir), "--resume", "true",
        ]  # fmt: skip

    def prepare(self, exp_dir: Path, point: Mapping) -> List[str]:
        """Write trial.yaml and train.sh into ``exp_dir``; the full command to run.

        A dir that already holds a trial.yaml (a retried or resumed trial) must hold the same
        point: its checkpoint continues that training."""
        exp_dir = Path(exp_dir)
        exp_dir.mkdir(parents=True, exist_ok=True)
        config = self.space.apply(self.base_config, point)
        path = exp_dir / TRIAL_CONFIG
        if path.exists():
            with open(path, encoding="utf-8") as f:
                old = yaml.safe_load(f)
            if old != config:
                raise RuntimeError(
                    f"{path}: holds another trial's config; refusing to resume it with the point {dict(point)}"
                )
        else:
            atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))
        command = self.command(exp_dir)
        full = [*self.cmd, str(exp_dir / TRIAL_LOG), *command] if self.cmd else command
        script = exp_dir / TRIAL_SCRIPT
        script.write_text(
            "#!/usr/bin/env bash\n"
            "# One trial of a tuning study: rerun to resume it (training resumes from checkpoint.pth).\n"
            f"cd {shlex.quote(self.cwd)}\n"
            + (
                shlex.join(full)
                if self.cmd
                else f"{shlex.join(command)} >> {shlex.quote(str(exp_dir / TRIAL_LOG))} 2>&1"
            )
            + "\n"
        )
        script.chmod(0o755)
        return full

    # ------------------------------------------------------------------ running
    def run(
        self,
        exp_dir: Path,
        point: Mapping,
        on_round: Callable[[int, float], bool],
        env: Optional[Mapping[str, str]] = None,
    ) -> TrialOutcome:
        """Run one trial to its end. ``on_round(round, value)`` is called once per validation
        round, in order; returning False prunes the trial (its training is ended)."""
        exp_dir = Path(exp_dir).absolute()
        full = self.prepare(exp_dir, point)
        logger.info("trial %s: %s", exp_dir.name, shlex.join(full))
        log = None if self.cmd else open(exp_dir / TRIAL_LOG, "ab")
        try:
            proc = subprocess.Popen(
                full,
                stdout=log if log else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if log:
                log.close()
        with _LIVE_LOCK:
            _LIVE[proc.pid] = proc
        try:
            outcome = self._follow(exp_dir, proc, on_round)
            write_outcome(exp_dir, outcome)
            return outcome
        finally:
            _end(proc, self.kill_grace)
            with _LIVE_LOCK:
                _LIVE.pop(proc.pid, None)

    def _follow(self, exp_dir: Path, proc: subprocess.Popen, on_round) -> TrialOutcome:
        seen: Dict[int, float] = {}
        mtime = None
        while True:
            done = proc.poll() is not None
            path = exp_dir / METRICS_FILE
            m = path.stat().st_mtime_ns if path.exists() else None
            if m != mtime or done:
                mtime = m
                series, reported = metric_series(read_round_metrics(exp_dir), self.phase, self.key)
                if reported and not series:
                    _end(proc, self.kill_grace)
                    return TrialOutcome(
                        FAILED,
                        message=f"metric {self.phase}.{self.key} is not reported; reported: {', '.join(reported)}",
                    )
                for r in sorted(series):
                    value = series[r]
                    if r in seen or value is None or not math.isfinite(value):
                        continue
                    seen[r] = value
                    if not on_round(r, value) and not done:
                        _end(proc, self.kill_grace)
                        return self._outcome(
                            PRUNED, seen, f"pruned after round {r} ({self.phase}.{self.key}={value:.6g})"
                        )
            if done:
                break
            time.sleep(self.poll_seconds)
        if proc.returncode != 0:
            return self._outcome(
                FAILED, seen, f"training exited with status {proc.returncode}; see {exp_dir / TRIAL_LOG}"
            )
        if not seen:
            return TrialOutcome(FAILED, message=f"training finished without a finite {self.phase}.{self.key}")
        return self._outcome(COMPLETE, seen, "")

    def _outcome(self, state: str, rounds: Dict[int, float], message: str) -> TrialOutcome:
        best = best_round(rounds, self.minimize)
        if best is None:
            return TrialOutcome(state, message=message)
        return TrialOutcome(state, value=rounds[best], best_round=best, rounds=dict(rounds), message=message)


def best_round(rounds: Mapping[int, float], minimize: bool) -> Optional[int]:
    """The round with the best value (the first of equals), or None without rounds."""
    if not rounds:
        return None
    return min(rounds, key=rounds.get) if minimize else max(rounds, key=rounds.get)


def write_outcome(exp_dir: Path, outcome: TrialOutcome) -> None:
    """``<exp_dir>/outcome.json``: how the trial ended (absent while it runs or when its tuner
    was stopped from outside, e.g. a Ray Tune scheduler ending it)."""
    atomic_write_json(dataclasses.asdict(outcome), Path(exp_dir) / OUTCOME_FILE)


def read_outcome(exp_dir: Path) -> Optional[TrialOutcome]:
    try:
        with open(Path(exp_dir) / OUTCOME_FILE, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError:
        return None
    d["rounds"] = {int(k): v for k, v in d.get("rounds", {}).items()}
    return TrialOutcome(**d)


def _end(proc: subprocess.Popen, grace: float) -> None:
    """End a trial's process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def end_all_trials(grace: float = 10.0) -> None:
    """End every trial this process started (signal handlers of the tuner call this)."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        _end(proc, grace)
