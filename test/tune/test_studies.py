"""Trials and studies with a stand-in trainer (test/tune/fake_train.py: the trainer's metrics.json
contract, no model): following and pruning a running trial, failures, an Optuna study that is
killed with SIGKILL and resumed, and its outputs. The real trainer is tuned in
test_demo_tuning.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from espnet2_tsdia.config.tuning import SearchSpace
from espnet2_tsdia.tune.trial import COMPLETE, FAILED, PRUNED, TrialRunner, read_outcome

REPO = Path(__file__).resolve().parents[2]
BASE = {"model_type": "encoder", "frontend": None, "input_size": 345, "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2},
        "optim": "adam", "optim_conf": {"lr": 0.001}, "max_epoch": 4}  # fmt: skip
SPACE = SearchSpace.parse({"lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True}})


@pytest.fixture(autouse=True)
def fake_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("FAKE_ROUND_SECONDS", "0.3")
    monkeypatch.setenv("FAKE_STARTS", str(tmp_path / "starts.txt"))


def runner(**kw) -> TrialRunner:
    return TrialRunner(base_config=BASE, space=SPACE, phase_key=("valid", "loss"), minimize=True,
                       train_module="test.tune.fake_train", poll_seconds=0.05, kill_grace=5, **kw)  # fmt: skip


def fake_value(lr: float, r: int) -> float:
    import math

    return abs(math.log10(lr) + 3) + 1.0 / r


def test_a_trial_reports_each_round_and_keeps_an_ordinary_exp_dir(tmp_path):
    seen = []
    out = runner().run(tmp_path / "t0", {"lr": 1e-2}, lambda r, v: seen.append((r, v)) or True)
    assert out.state == COMPLETE and [r for r, _ in seen] == [1, 2, 3, 4]
    assert out.value == pytest.approx(fake_value(1e-2, 4)) and out.best_round == 4
    assert [v for _, v in seen] == pytest.approx([fake_value(1e-2, r) for r in (1, 2, 3, 4)])
    exp = tmp_path / "t0"
    assert yaml.safe_load((exp / "trial.yaml").read_text())["optim_conf"]["lr"] == 1e-2
    assert read_outcome(exp) == out
    # train.sh reruns the trial (a resumed run continues after the rounds it has)
    script = (exp / "train.sh").read_text()
    assert "-m test.tune.fake_train" in script and "--resume true" in script
    # the same dir cannot be reused for another point
    with pytest.raises(RuntimeError, match="holds another trial's config"):
        runner().run(exp, {"lr": 1e-3}, lambda r, v: True)


def test_pruning_ends_the_training_process(tmp_path):
    out = runner().run(tmp_path / "t1", {"lr": 1e-2}, lambda r, v: r < 2)
    assert out.state == PRUNED and sorted(out.rounds) == [1, 2] and "pruned after round 2" in out.message
    # the training was ended: no round after the pruned one appears later
    time.sleep(1.0)
    rounds = json.loads((tmp_path / "t1" / "metrics.json").read_text())["rounds"]
    assert len(rounds) == 2


def test_failures_are_outcomes_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL_ABOVE_LR", "0.05")
    out = runner().run(tmp_path / "t2", {"lr": 0.08}, lambda r, v: True)
    assert (
        out.state == FAILED
        and "exited with status 3" in out.message
        and str(tmp_path / "t2" / "train.log") in out.message
    )
    assert "fake failure: lr too high" in (tmp_path / "t2" / "train.log").read_text()
    r = TrialRunner(base_config=BASE, space=SPACE, phase_key=("valid", "der"), minimize=True,
                    train_module="test.tune.fake_train", poll_seconds=0.05)  # fmt: skip
    out = r.run(tmp_path / "t3", {"lr": 1e-3}, lambda r, v: True)
    assert out.state == FAILED and out.message == "metric valid.der is not reported; reported: train.loss, valid.loss"


def tune_cmd(conf: Path, out: Path, *extra: str):
    return [sys.executable, "-m", "espnet2_tsdia.bin.tune", "--config", str(conf), "--output_dir", str(out),
            "--train_module", "test.tune.fake_train", "--poll_seconds", "0.05", "--no_check", *extra]  # fmt: skip


def starts(tmp_path: Path):
    p = tmp_path / "starts.txt"
    return p.read_text().split() if p.exists() else []


@pytest.mark.slow  # about 35 s: two trainings, one killed
def test_optuna_study_survives_sigkill_and_resumes(tmp_path):
    conf = tmp_path / "tune.yaml"
    tuning = {"library": "optuna", "n_trials": 4, "search_space": {"lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True}},
              "pruner": "none", "sampler": "random", "seed": 3}  # fmt: skip
    conf.write_text(yaml.safe_dump({**BASE, "tuning": tuning}))
    out = tmp_path / "study"
    proc = subprocess.Popen(
        tune_cmd(conf, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    second = out / "trials" / "trial_001" / "metrics.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if second.exists() and len(json.loads(second.read_text())["rounds"]) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the study ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the interrupted trial's training died with its tuner (no round is added any more)
    n = len(json.loads(second.read_text())["rounds"])
    time.sleep(1.5)
    assert len(json.loads(second.read_text())["rounds"]) == n < 4
    assert starts(tmp_path) == ["trial_000", "trial_001"]

    done = subprocess.run(tune_cmd(conf, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trial 1 was interrupted" in done.stderr
    # the finished trial was not run again; the interrupted one (1) resumed in its own dir as
    # trial 2, then trials 3 and 4 made the 4 finished trials
    assert starts(tmp_path) == ["trial_000", "trial_001", "trial_001", "trial_003", "trial_004"]
    rounds = json.loads(second.read_text())["rounds"]
    assert [r["round"] for r in rounds] == [1, 2, 3, 4]
    records = json.loads((out / "trials.json").read_text())
    assert [(r["number"], r["state"]) for r in records] == [(0, COMPLETE), (2, COMPLETE), (3, COMPLETE), (4, COMPLETE)]
    retried = next(r for r in records if r["number"] == 2)
    assert retried["exp_dir"].endswith("trial_001") and sorted(map(int, retried["rounds"])) == [1, 2, 3, 4]
    for r in records:
        assert r["value"] == pytest.approx(fake_value(r["params"]["lr"], 4))
    best = min(records, key=lambda r: r["value"])
    best_yaml = yaml.safe_load((out / "best.yaml").read_text())
    assert best_yaml["optim_conf"]["lr"] == best["params"]["lr"] and best_yaml["tuning"] == tuning
    text = (out / "results.md").read_text()
    assert f"- best: trial {best['number']}, val_loss = " in text and "4 complete" in text
    for png in ("objective", "intermediate", "importances"):
        assert (out / "plots" / f"{png}.png").stat().st_size > 1000
    # a third run finds the study complete and runs nothing
    again = subprocess.run(tune_cmd(conf, out), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "already has 4 finished trials" in again.stderr
    assert len(starts(tmp_path)) == 5


def test_median_pruner_cuts_the_bad_trials(tmp_path):
    conf = tmp_path / "tune.yaml"
    # lr choices: two good ones first, then bad ones: the median pruner must cut the bad ones
    tuning = {"n_trials": 4, "search_space": {"lr": {"choices": [1.0e-3, 2.0e-3, 1.0e-1, 5.0e-2]}},
              "pruner": "median", "pruner_conf": {"n_startup_trials": 2}}  # fmt: skip
    conf.write_text(yaml.safe_dump({**BASE, "tuning": tuning}))
    out = tmp_path / "study"
    out.mkdir()
    import optuna

    # the points are queued in this order in the study that bin.tune then opens
    study = optuna.create_study(study_name="study", storage=f"sqlite:///{out / 'study.db'}")
    for lr in (1.0e-3, 2.0e-3, 1.0e-1, 5.0e-2):
        study.enqueue_trial({"lr": lr})
    done = subprocess.run(tune_cmd(conf, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    records = {r["params"]["lr"]: r for r in json.loads((out / "trials.json").read_text())}
    assert records[1.0e-3]["state"] == COMPLETE and records[2.0e-3]["state"] == COMPLETE
    for lr in (1.0e-1, 5.0e-2):
        assert records[lr]["state"] == PRUNED and len(records[lr]["rounds"]) == 1


@pytest.mark.slow  # about 30 s: a local Ray instance
def test_ray_tune_scheduler_prunes_and_the_training_dies_with_the_trial(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ROUND_SECONDS", "0.5")
    conf = tmp_path / "tune.yaml"
    # ASHA, one trial at a time, 8 rounds each: bad points after good ones are stopped early
    tuning = {"library": "raytune", "n_trials": 4, "search_space": {"lr": {"choices": [1.0e-3, 1.0e-1]}},
              "pruner": "successive_halving", "pruner_conf": {"min_resource": 1, "reduction_factor": 2}, "seed": 1}  # fmt: skip
    conf.write_text(yaml.safe_dump({**BASE, "max_epoch": 8, "tuning": tuning}))
    out = tmp_path / "study"
    done = subprocess.run(tune_cmd(conf, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    records = json.loads((out / "trials.json").read_text())
    assert len(records) == 4 and {r["state"] for r in records} <= {COMPLETE, PRUNED}
    pruned = [r for r in records if r["state"] == PRUNED]
    # Ray's decision arrives while a trial goes on (a report does not wait for it), so not every
    # bad trial is cut at its first rung; with seed 1 two of them are
    assert pruned and all(r["params"]["lr"] == 1.0e-1 for r in pruned), [(r["params"], r["state"]) for r in records]
    for r in pruned:
        assert 1 <= len(r["rounds"]) < 8
        # its training was ended with the trial: it never wrote its last rounds
        assert len(json.loads((Path(r["exp_dir"]) / "metrics.json").read_text())["rounds"]) < 8
    for r in records:
        if r["state"] == COMPLETE:
            assert len(r["rounds"]) == 8 and r["value"] == pytest.approx(fake_value(r["params"]["lr"], 8))
    left = subprocess.run(["pgrep", "-f", f"fake_train .*{out}"], capture_output=True, text=True).stdout.split()
    assert left == []
