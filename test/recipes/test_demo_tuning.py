"""Hyper-parameter tuning on the offline demo corpus at its CI size, through the recipe
(``./run.sh --demo_size tiny --tune ...``, stage 5): a 6-trial Optuna study of the tiny model (one
epoch per trial, three validation rounds for the pruner) killed with SIGKILL in its second trial
and resumed without losing the finished trial, then training with the study's best.yaml; the same
search space on Ray Tune (a local Ray instance) for 2 trials; a bad search space stopped before
any trial. Marked ``demo`` (about 6 minutes on 2 cores); skipped without the Debian speech
packages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from test.recipes.helpers import check, need_install, run, scratch_recipe

pytestmark = [pytest.mark.demo, pytest.mark.slow]
TUNE = [
    "./run.sh",
    "--demo_size",
    "tiny",
    "--stage",
    "5",
    "--stop_stage",
    "5",
    "--train_config",
    "conf/tune_demo_tiny.yaml",
]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """The tiny demo through stage 4 (data, examples, features, statistics)."""
    need_install()
    from espnet2_tsdia.corpora.offline_speech import missing_sources

    missing = missing_sources()
    if missing:
        pytest.skip("Debian speech packages missing (tools/install.sh installs them): " + "; ".join(missing.values()))
    rec = scratch_recipe(tmp_path_factory.mktemp("tune"), "offline_demo")
    check(run(["./run.sh", "--demo_size", "tiny", "--stop_stage", "4"], rec, timeout=900))
    return rec


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if k not in ("cmd_backend", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    return e


def rounds(exp: Path) -> int:
    try:
        return len(json.loads((exp / "metrics.json").read_text())["rounds"])
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def trainings_of(exp: Path) -> list:
    """Processes training into ``exp`` ("--": the pattern starts with dashes, not an option of pgrep)."""
    out = subprocess.run(["pgrep", "-f", "--", f"--output_dir {exp}( |$)"], capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr  # 1: none
    return out.stdout.split()


def process_groups(pids) -> set:
    """The process groups of ``pids`` that still exist (a trial's training runs in its own session)."""
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(int(pid)))
        except ProcessLookupError:
            pass
    return groups


def signal_groups(groups, sig) -> None:
    for group in groups:
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            pass


def test_optuna_study_killed_resumed_then_best_config_trained(recipe):
    study = recipe / "exp" / "tune_tuned"
    first, second = study / "trials" / "trial_000", study / "trials" / "trial_001"
    cmd = TUNE + ["--tune", "true", "--tag", "tuned"]
    proc = subprocess.Popen(
        cmd, cwd=recipe, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    # The second trial's training (its own session: one process group) is frozen with SIGSTOP as
    # soon as its first validation round and that round's checkpoint are written, so the kill
    # lands inside the trial however slow this machine is; the group is found once it runs, then
    # its files are polled every 20 ms.
    deadline = time.time() + 600
    groups: set = set()
    while time.time() < deadline and proc.poll() is None:
        if (first / "outcome.json").exists():
            groups = groups or process_groups(trainings_of(second))
            # the round's checkpoint is written just after its metrics (what a resume needs)
            if groups and rounds(second) >= 1 and (second / "checkpoint.pth").exists():
                signal_groups(groups, signal.SIGSTOP)
                break
        time.sleep(0.02 if groups else 0.2)
    assert proc.poll() is None, (
        f"the study ended before it could be killed:\n{(study / 'tune.log').read_text()[-3000:]}"
    )
    killed_at = rounds(second)  # the training cannot write another round now
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    signal_groups(groups, signal.SIGCONT)  # it gets its SIGTERM (its parent died) and ends
    time.sleep(3)
    assert trainings_of(second) == [], "the interrupted trial's training outlived its tuner"
    assert 1 <= rounds(second) == killed_at < 3
    first_done = (first / "metrics.json").stat().st_mtime_ns

    check(run(cmd, recipe, env={"OMP_NUM_THREADS": "2"}, timeout=1500))
    # the finished trial was kept as it was; the interrupted one resumed from its checkpoint
    assert (first / "metrics.json").stat().st_mtime_ns == first_done
    assert "resumed from" in (second / "train.log").read_text()
    records = json.loads((study / "trials.json").read_text())
    assert len(records) == 6 and {r["state"] for r in records} <= {"complete", "pruned"}
    retry = next(r for r in records if r["exp_dir"] == str(second))
    assert retry["number"] == 2 and sorted(map(int, retry["rounds"]))[0] == 1
    space = yaml.safe_load((recipe / "conf" / "tune_demo_tiny.yaml").read_text())["tuning"]["search_space"]
    for r in records:
        assert set(r["params"]) == set(space)
        assert space["lr"]["low"] <= r["params"]["lr"] <= space["lr"]["high"] and r["params"]["batch_size"] in (4, 8)
        assert Path(r["exp_dir"], "trial.yaml").is_file() and Path(r["exp_dir"], "train.sh").is_file()
    complete = [r for r in records if r["state"] == "complete"]
    best = min(complete, key=lambda r: r["value"])
    text = (study / "results.md").read_text()
    assert (
        f"- best: trial {best['number']}, val_target_error = " in text
        and "| trial | state | val_target_error |" in text
    )
    for png in ("objective", "intermediate", "importances"):
        assert (study / "plots" / f"{png}.png").stat().st_size > 1000
    # stage 5 trained the final model with the best trial's values
    best_yaml = yaml.safe_load((study / "best.yaml").read_text())
    assert (
        best_yaml["optim_conf"]["lr"] == best["params"]["lr"]
        and best_yaml["batch_size"] == best["params"]["batch_size"]
    )
    trained = yaml.safe_load((recipe / "exp" / "tsdia_tuned" / "config.yaml").read_text())
    assert trained["optim_conf"]["lr"] == best["params"]["lr"] and trained["batch_size"] == best["params"]["batch_size"]
    assert trained["loss_conf"]["label_smoothing"] == best["params"]["label_smoothing"]
    assert (recipe / "exp" / "tsdia_tuned" / ".train.done").is_file()


def test_ray_tune_runs_the_same_space(recipe):
    cmd = TUNE + ["--tune", "only", "--tag", "ray", "--tune_args", "--library raytune --n_trials 2"]
    check(run(cmd, recipe, env={"OMP_NUM_THREADS": "2"}, timeout=1200))
    assert not (recipe / "exp" / "tsdia_ray").exists()  # --tune only: the study, no training
    study = recipe / "exp" / "tune_ray"
    records = json.loads((study / "trials.json").read_text())
    assert len(records) == 2 and all(r["state"] in ("complete", "pruned") and r["rounds"] for r in records)
    space = yaml.safe_load((recipe / "conf" / "tune_demo_tiny.yaml").read_text())["tuning"]["search_space"]
    for r in records:
        assert set(r["params"]) == set(space) and r["params"]["batch_size"] in (4, 8)
        assert space["weight_decay"]["low"] <= r["params"]["weight_decay"] <= space["weight_decay"]["high"]
        assert (Path(r["exp_dir"]) / "metrics.json").is_file()
    assert "- library: raytune" in (study / "results.md").read_text()
    assert (study / "best.yaml").is_file() and (study / "plots" / "objective.png").is_file()
    assert not (recipe / "exp" / "tsdia_ray").exists()


def test_a_bad_search_space_stops_before_any_trial(recipe):
    cfg = yaml.safe_load((recipe / "conf" / "tune_demo_tiny.yaml").read_text())
    cfg["tuning"]["search_space"]["lr"] = {"low": 0.0, "high": 1.0e-2, "log": True}
    cfg["tuning"]["search_space"]["dropuot"] = {"low": 0.0, "high": 0.1}
    (recipe / "conf" / "tune_bad.yaml").write_text(yaml.safe_dump(cfg))
    cmd = TUNE[:-1] + ["conf/tune_bad.yaml", "--tune", "only", "--tag", "bad"]
    proc = run(cmd, recipe, timeout=300)
    assert proc.returncode != 0
    assert "tuning.search_space.lr: a log range needs low > 0, got 0.0" in proc.stderr
    assert "tuning.search_space.dropuot: not a training key of the checklist (did you mean 'dropout'?)" in proc.stderr
    assert not (recipe / "exp" / "tune_bad" / "trials").exists()
